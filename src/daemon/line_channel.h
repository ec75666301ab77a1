// A UNIX stream connection that speaks lines: a bounded line reader and a
// write queue drained by its own coroutine, so that any coroutine may send()
// without interleaving writes.
#pragma once

#include <asio.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/line_codec.h"

namespace anvil {

using UnixSocket = asio::local::stream_protocol::socket;

class LineChannel : public std::enable_shared_from_this<LineChannel> {
 public:
  LineChannel(UnixSocket socket, std::size_t max_line_length);
  virtual ~LineChannel() = default;
  LineChannel(const LineChannel&) = delete;
  LineChannel& operator=(const LineChannel&) = delete;

  // Starts the writer; call once, after the object is owned by a shared_ptr.
  void start_writer();
  // Queues one complete line (with its LF). Ignored once closing.
  void send(std::string line);
  // Queues a last line and closes the connection once it has been written.
  void send_and_close(std::string line);
  void close();
  bool closing() const { return closed_ || close_after_flush_; }

 protected:
  // The next line without its LF; nullopt at EOF, on error, when closed, or
  // when the peer sent a line over the limit (then overflowed() is true).
  asio::awaitable<std::optional<std::string>> read_line();
  bool overflowed() const { return buffer_.overflowed(); }
  std::size_t max_line_length() const { return buffer_.max_line_length(); }

  UnixSocket socket_;

 private:
  asio::awaitable<void> write_loop(std::shared_ptr<LineChannel> self);

  LineBuffer buffer_;
  std::deque<std::string> outbox_;
  asio::steady_timer wakeup_;
  bool close_after_flush_ = false;
  bool closed_ = false;
};

}  // namespace anvil
