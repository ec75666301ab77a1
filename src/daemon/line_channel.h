// A UNIX stream connection that speaks lines: a bounded line reader with an
// optional deadline, and a bounded write queue drained by its own coroutine,
// so that any coroutine may send() without interleaving writes. A peer that
// lets more than max_output bytes pile up unread is dropped (as Redis drops
// a client past its output buffer limit): anvild's memory never depends on
// whether a peer reads.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/line_codec.h"

namespace anvil {

using UnixSocket = asio::local::stream_protocol::socket;

class LineChannel : public std::enable_shared_from_this<LineChannel> {
 public:
  LineChannel(UnixSocket socket, std::size_t max_line_length, std::size_t max_output);
  virtual ~LineChannel() = default;
  LineChannel(const LineChannel&) = delete;
  LineChannel& operator=(const LineChannel&) = delete;

  // Starts the writer; call once, after the object is owned by a shared_ptr.
  void start_writer();
  // Queues one complete line (with its LF). Ignored once closing. Past the
  // output limit the channel closes (output_overrun() is then true).
  void send(std::string line);
  // Queues a last line and closes the connection once it has been written.
  void send_and_close(std::string line);
  void close();
  bool closing() const { return closed_ || close_after_flush_; }
  bool output_overrun() const { return output_overrun_; }
  bool output_stalled() const { return output_stalled_; }
  // Waits until at most `bytes` are queued (or the channel closes): a long
  // reply is sent in parts, each only once the peer has taken the last. A
  // peer that takes nothing for `stall` is dropped (output_stalled()).
  asio::awaitable<void> drain_to(std::size_t bytes, std::chrono::milliseconds stall);

 protected:
  enum class ReadStatus { line, overlong, timed_out, closed };
  // The next line without its LF. overlong: the peer sent a line over the
  // limit, which was dropped (and *line holds its first bytes, to name it);
  // reading may go on. timed_out: no whole line came within `deadline`
  // (zero: no deadline). closed: EOF, an error, or close().
  asio::awaitable<ReadStatus> read_line(std::string* line, std::chrono::milliseconds deadline = {});
  std::size_t max_line_length() const { return buffer_.max_line_length(); }

  UnixSocket socket_;

 private:
  asio::awaitable<void> write_loop(std::shared_ptr<LineChannel> self);

  LineBuffer buffer_;
  std::deque<std::string> outbox_;
  std::size_t queued_bytes_ = 0;
  std::size_t max_output_;
  asio::steady_timer wakeup_;
  asio::steady_timer drained_;  // cancelled whenever the writer takes the outbox
  bool close_after_flush_ = false;
  bool closed_ = false;
  bool output_overrun_ = false;
  bool output_stalled_ = false;
};

}  // namespace anvil
