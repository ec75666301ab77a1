#include "daemon/line_channel.h"

#include <array>

namespace anvil {

LineChannel::LineChannel(UnixSocket socket, std::size_t max_line_length, std::size_t max_output)
    : socket_(std::move(socket)),
      buffer_(max_line_length),
      max_output_(max_output),
      wakeup_(socket_.get_executor()),
      drained_(socket_.get_executor()) {}

void LineChannel::start_writer() {
  asio::co_spawn(socket_.get_executor(), write_loop(shared_from_this()), asio::detached);
}

void LineChannel::send(std::string line) {
  if (closing()) return;
  if (queued_bytes_ + line.size() > max_output_) {
    output_overrun_ = true;
    close();
    return;
  }
  queued_bytes_ += line.size();
  outbox_.push_back(std::move(line));
  wakeup_.cancel();
}

void LineChannel::send_and_close(std::string line) {
  send(std::move(line));
  close_after_flush_ = true;
  wakeup_.cancel();
}

void LineChannel::close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ignored;
  socket_.shutdown(UnixSocket::shutdown_both, ignored);
  socket_.close(ignored);
  wakeup_.cancel();
  drained_.cancel();
}

asio::awaitable<void> LineChannel::drain_to(std::size_t bytes, std::chrono::milliseconds stall) {
  auto self = shared_from_this();
  while (!closed_ && queued_bytes_ > bytes) {
    asio::error_code ec;
    drained_.expires_after(stall);
    co_await drained_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {  // expired: the writer took nothing all that time
      output_stalled_ = true;
      close();
    }
  }
}

asio::awaitable<LineChannel::ReadStatus> LineChannel::read_line(
    std::string* line, std::chrono::milliseconds deadline) {
  // The deadline closes nothing by itself: it cancels the read, and the
  // caller decides what a silent peer deserves. It is armed only when the
  // buffer holds no whole line: a peer that pipelines costs no timer.
  std::optional<asio::steady_timer> timer;
  std::shared_ptr<bool> timed_out;  // outlives this frame in the timer's handler
  ReadStatus status = ReadStatus::closed;
  while (!closed_) {
    if (buffer_.next_line(line)) {
      status = ReadStatus::line;
      break;
    }
    if (buffer_.overflowed()) {
      *line = buffer_.peek(80);
      buffer_.skip_overlong_line();
      status = ReadStatus::overlong;
      break;
    }
    if (deadline.count() > 0 && !timer) {
      timed_out = std::make_shared<bool>(false);
      timer.emplace(socket_.get_executor(), deadline);
      timer->async_wait([self = shared_from_this(), timed_out](const asio::error_code& ec) {
        if (ec) return;
        *timed_out = true;
        asio::error_code ignored;
        self->socket_.cancel(ignored);
      });
    }
    // Wait until readable, then read at once into one buffer that every
    // channel shares (anvild has one thread): no channel holds a read
    // buffer while it waits.
    asio::error_code ec;
    co_await socket_.async_wait(UnixSocket::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (timed_out && *timed_out) {
      status = ReadStatus::timed_out;
      break;
    }
    if (ec || closed_) break;
    static std::array<char, 64 * 1024> chunk;
    socket_.non_blocking(true, ec);
    std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) break;
    buffer_.append(chunk.data(), n);
  }
  co_return status;
}

// `self` keeps the channel alive for as long as the loop runs.
asio::awaitable<void> LineChannel::write_loop(std::shared_ptr<LineChannel> /*self*/) {
  while (!closed_) {
    if (outbox_.empty()) {
      if (close_after_flush_) {
        close();
        break;
      }
      asio::error_code ec;
      wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    std::string data;
    while (!outbox_.empty()) {
      data += outbox_.front();
      outbox_.pop_front();
    }
    asio::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
    queued_bytes_ -= data.size();
    drained_.cancel();
    if (ec) close();
  }
}

}  // namespace anvil
