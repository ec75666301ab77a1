// One TCP connection of the proxy, to a client or to a backend, that may
// switch to TLS (STARTTLS / STLS) or start in it. All members are used from
// the io_context's one thread.
//
// TLS runs OpenSSL straight on the non-blocking socket rather than through
// asio::ssl::stream, whose engine holds about 68 KiB of buffers per
// connection for its whole life. Here an idle TLS connection holds only
// OpenSSL's session state: record buffers are released while empty, and
// reads wait for the socket before any buffer is taken, as plain ones do.
#pragma once

#include <openssl/ssl.h>

#include <asio.hpp>
#include <asio/ssl/context.hpp>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace anvil {

class ProxyStream {
 public:
  using Socket = asio::ip::tcp::socket;

  explicit ProxyStream(Socket socket) : socket_(std::move(socket)) {}
  ProxyStream(const ProxyStream&) = delete;
  ProxyStream& operator=(const ProxyStream&) = delete;

  Socket& socket() { return socket_; }
  bool tls() const { return ssl_ != nullptr; }
  bool is_open() const { return socket_.is_open(); }

  // Starts TLS as the server, with the proxy's certificate.
  asio::awaitable<void> handshake_as_server(asio::ssl::context& context, asio::error_code& ec);
  // Starts TLS as the client; with `verify`, the peer's certificate must be
  // valid for `host` (a name or an address).
  asio::awaitable<void> handshake_as_client(asio::ssl::context& context, const std::string& host,
                                            bool verify, asio::error_code& ec);

  // Reads at least one byte, waiting for it; eof when the peer has ended.
  asio::awaitable<std::size_t> read_some(std::span<char> into, asio::error_code& ec);
  // Waits until read_now() may have something to return, without holding a
  // buffer while the connection is idle.
  asio::awaitable<void> wait_readable(asio::error_code& ec);
  // Reads what has arrived; would_block if nothing has.
  std::size_t read_now(std::span<char> into, asio::error_code& ec);
  // Plain connections only: like read_now, but what it returns stays to be
  // read again.
  std::size_t peek_now(std::span<char> into, asio::error_code& ec);
  // Writes all of `data`. `data` need only stay valid until the first
  // suspension: what cannot be written at once is copied first.
  asio::awaitable<void> write(std::string_view data, asio::error_code& ec);

  // Aborts pending operations on the connection; it stays open.
  void cancel();
  void close();

 private:
  struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  // Puts the connection in TLS; the handshake is still to be done.
  bool start_tls(asio::ssl::context& context, asio::error_code& ec);
  asio::awaitable<void> handshake(asio::error_code& ec);
  // Waits for what OpenSSL asked for: the socket to become readable or
  // writable.
  asio::awaitable<void> wait_for(bool writable, asio::error_code& ec);
  // Sends as much of `data` as goes without waiting; returns how much.
  std::size_t write_now(std::string_view data, asio::error_code& ec);

  Socket socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool read_wants_write_ = false;  // OpenSSL's last read needs the socket writable
  bool write_wants_read_ = false;  // and its last write, readable
  std::string pending_;            // what a write could not send at once
};

}  // namespace anvil
