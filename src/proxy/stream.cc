#include "proxy/stream.h"

#include <openssl/ssl.h>

namespace anvil {

namespace {

auto with(asio::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

}  // namespace

asio::awaitable<void> ProxyStream::handshake_as_server(asio::ssl::context& context,
                                                       asio::error_code& ec) {
  tls_ = std::make_unique<asio::ssl::stream<Socket&>>(socket_, context);
  co_await tls_->async_handshake(asio::ssl::stream_base::server, with(ec));
}

asio::awaitable<void> ProxyStream::handshake_as_client(asio::ssl::context& context,
                                                       const std::string& host, bool verify,
                                                       asio::error_code& ec) {
  tls_ = std::make_unique<asio::ssl::stream<Socket&>>(socket_, context);
  asio::error_code parse_error;
  asio::ip::make_address(host, parse_error);
  if (parse_error) {
    // A name, not an address: tell the server which certificate we want.
    SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
  }
  if (verify) {
    tls_->set_verify_mode(asio::ssl::verify_peer);
    tls_->set_verify_callback(asio::ssl::host_name_verification(host));
  } else {
    tls_->set_verify_mode(asio::ssl::verify_none);
  }
  co_await tls_->async_handshake(asio::ssl::stream_base::client, with(ec));
}

asio::awaitable<std::size_t> ProxyStream::read_some(std::span<char> into, asio::error_code& ec) {
  auto buffer = asio::buffer(into.data(), into.size());
  if (tls_) co_return co_await tls_->async_read_some(buffer, with(ec));
  co_return co_await socket_.async_read_some(buffer, with(ec));
}

asio::awaitable<void> ProxyStream::wait_readable(asio::error_code& ec) {
  co_await socket_.async_wait(Socket::wait_read, with(ec));
}

std::size_t ProxyStream::read_now(std::span<char> into, asio::error_code& ec) {
  socket_.non_blocking(true, ec);
  if (ec) return 0;
  return socket_.read_some(asio::buffer(into.data(), into.size()), ec);
}

asio::awaitable<void> ProxyStream::write(std::string_view data, asio::error_code& ec) {
  if (!tls_) {
    // Most writes go out at once; only the rest is copied and waited for.
    socket_.non_blocking(true, ec);
    if (ec) co_return;
    std::size_t sent = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      sent = 0;
    }
    if (ec) co_return;
    data.remove_prefix(sent);
    if (data.empty()) co_return;
  }
  pending_.assign(data);
  if (tls_) {
    co_await asio::async_write(*tls_, asio::buffer(pending_), with(ec));
  } else {
    co_await asio::async_write(socket_, asio::buffer(pending_), with(ec));
  }
  pending_.clear();
  pending_.shrink_to_fit();
}

void ProxyStream::cancel() {
  asio::error_code ignored;
  socket_.cancel(ignored);
}

void ProxyStream::close() {
  asio::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace anvil
