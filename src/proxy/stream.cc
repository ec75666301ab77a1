#include "proxy/stream.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <asio/ssl/error.hpp>

#include <cerrno>

namespace anvil {

namespace {

auto with(asio::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

bool would_block(const asio::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// What an OpenSSL call that returned `result` means, as an error code:
// would_block when it must be retried once the socket is ready, and then
// *wants_write says whether it waits to write (else to read).
asio::error_code tls_error(SSL* ssl, int result, bool* wants_write) {
  int saved_errno = errno;
  int error = SSL_get_error(ssl, result);
  *wants_write = error == SSL_ERROR_WANT_WRITE;
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN: return asio::error::eof;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        return saved_errno == 0 ? asio::error_code(asio::error::eof)
                                : asio::error_code(saved_errno, asio::system_category());
      }
      break;
    default: break;
  }
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return asio::error::connection_aborted;
  return {static_cast<int>(code), asio::error::get_ssl_category()};
}

}  // namespace

bool ProxyStream::start_tls(asio::ssl::context& context, asio::error_code& ec) {
  socket_.non_blocking(true, ec);
  if (ec) return false;
  ERR_clear_error();
  ssl_.reset(SSL_new(context.native_handle()));
  if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
    ec = {static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()};
    ERR_clear_error();
    ssl_.reset();
    return false;
  }
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No renegotiation, so a write never waits for the peer to send.
  SSL_set_options(ssl_.get(), SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // A mail client that just closes its socket has ended, not failed.
  SSL_set_options(ssl_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  return true;
}

asio::awaitable<void> ProxyStream::handshake(asio::error_code& ec) {
  for (;;) {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl_.get());
    if (result == 1) co_return;
    bool writable = false;
    ec = tls_error(ssl_.get(), result, &writable);
    if (!would_block(ec)) co_return;
    co_await wait_for(writable, ec);
    if (ec) co_return;
  }
}

asio::awaitable<void> ProxyStream::handshake_as_server(asio::ssl::context& context,
                                                       asio::error_code& ec) {
  if (!start_tls(context, ec)) co_return;
  SSL_set_accept_state(ssl_.get());
  co_await handshake(ec);
}

asio::awaitable<void> ProxyStream::handshake_as_client(asio::ssl::context& context,
                                                       const std::string& host, bool verify,
                                                       asio::error_code& ec) {
  if (!start_tls(context, ec)) co_return;
  SSL_set_connect_state(ssl_.get());
  asio::error_code parse_error;
  asio::ip::make_address(host, parse_error);
  bool is_address = !parse_error;
  // A name, not an address: tell the server which certificate we want.
  if (!is_address) SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
  if (verify) {
    SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
    int set = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) {
      ec = asio::error::invalid_argument;
      co_return;
    }
  } else {
    SSL_set_verify(ssl_.get(), SSL_VERIFY_NONE, nullptr);
  }
  co_await handshake(ec);
}

asio::awaitable<std::size_t> ProxyStream::read_some(std::span<char> into, asio::error_code& ec) {
  for (;;) {
    std::size_t n = read_now(into, ec);
    if (!would_block(ec)) co_return n;
    co_await wait_readable(ec);
    if (ec) co_return 0;
  }
}

asio::awaitable<void> ProxyStream::wait_readable(asio::error_code& ec) {
  ec.clear();
  // Decrypted bytes already inside OpenSSL need no wait.
  if (ssl_ && SSL_pending(ssl_.get()) > 0) co_return;
  co_await wait_for(ssl_ && read_wants_write_, ec);
}

std::size_t ProxyStream::read_now(std::span<char> into, asio::error_code& ec) {
  if (!ssl_) {
    socket_.non_blocking(true, ec);
    if (ec) return 0;
    return socket_.read_some(asio::buffer(into.data(), into.size()), ec);
  }
  ec.clear();
  ERR_clear_error();
  std::size_t n = 0;
  int result = SSL_read_ex(ssl_.get(), into.data(), into.size(), &n);
  if (result == 1) {
    read_wants_write_ = false;
    return n;
  }
  ec = tls_error(ssl_.get(), result, &read_wants_write_);
  return 0;
}

std::size_t ProxyStream::peek_now(std::span<char> into, asio::error_code& ec) {
  socket_.non_blocking(true, ec);
  if (ec) return 0;
  std::size_t n = socket_.receive(asio::buffer(into.data(), into.size()), Socket::message_peek, ec);
  if (!ec && n == 0 && !into.empty()) ec = asio::error::eof;
  return n;
}

std::size_t ProxyStream::write_now(std::string_view data, asio::error_code& ec) {
  if (!ssl_) {
    socket_.non_blocking(true, ec);
    if (ec) return 0;
    return socket_.write_some(asio::buffer(data.data(), data.size()), ec);
  }
  ec.clear();
  std::size_t sent = 0;
  while (sent < data.size()) {
    ERR_clear_error();
    std::size_t n = 0;
    int result = SSL_write_ex(ssl_.get(), data.data() + sent, data.size() - sent, &n);
    if (result != 1) {
      bool wants_write = false;
      ec = tls_error(ssl_.get(), result, &wants_write);
      write_wants_read_ = !wants_write;
      break;
    }
    sent += n;
  }
  return sent;
}

asio::awaitable<void> ProxyStream::write(std::string_view data, asio::error_code& ec) {
  // Most writes go out at once; only the rest is copied and waited for.
  std::size_t sent = write_now(data, ec);
  if (ec && !would_block(ec)) co_return;
  ec.clear();
  data.remove_prefix(sent);
  if (data.empty()) co_return;
  pending_.assign(data);
  std::size_t done = 0;
  while (done < pending_.size()) {
    co_await wait_for(ssl_ ? !write_wants_read_ : true, ec);
    if (ec) break;
    done += write_now(std::string_view(pending_).substr(done), ec);
    if (ec && !would_block(ec)) break;
    ec.clear();
  }
  pending_.clear();
  pending_.shrink_to_fit();
}

asio::awaitable<void> ProxyStream::wait_for(bool writable, asio::error_code& ec) {
  co_await socket_.async_wait(writable ? Socket::wait_write : Socket::wait_read, with(ec));
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
