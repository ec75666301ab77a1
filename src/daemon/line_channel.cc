#include "daemon/line_channel.h"

namespace anvil {

LineChannel::LineChannel(UnixSocket socket, std::size_t max_line_length)
    : socket_(std::move(socket)), buffer_(max_line_length), wakeup_(socket_.get_executor()) {}

void LineChannel::start_writer() {
  asio::co_spawn(socket_.get_executor(), write_loop(shared_from_this()), asio::detached);
}

void LineChannel::send(std::string line) {
  if (closing()) return;
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
}

asio::awaitable<std::optional<std::string>> LineChannel::read_line() {
  char chunk[8192];
  while (!closed_) {
    if (auto line = buffer_.next_line()) co_return line;
    if (buffer_.overflowed()) co_return std::nullopt;
    asio::error_code ec;
    std::size_t n = co_await socket_.async_read_some(asio::buffer(chunk),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::nullopt;
    buffer_.append(chunk, n);
  }
  co_return std::nullopt;
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
    if (ec) close();
  }
}

}  // namespace anvil
