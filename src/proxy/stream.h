// One TCP connection of the proxy, to a client or to a backend, that may
// switch to TLS (STARTTLS / STLS) or start in it. All members are used from
// the io_context's one thread.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
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
  bool tls() const { return tls_ != nullptr; }
  bool is_open() const { return socket_.is_open(); }

  // Starts TLS as the server, with the proxy's certificate.
  asio::awaitable<void> handshake_as_server(asio::ssl::context& context, asio::error_code& ec);
  // Starts TLS as the client; with `verify`, the peer's certificate must be
  // valid for `host` (a name or an address).
  asio::awaitable<void> handshake_as_client(asio::ssl::context& context, const std::string& host,
                                            bool verify, asio::error_code& ec);

  asio::awaitable<std::size_t> read_some(std::span<char> into, asio::error_code& ec);
  // Plain connections only: waits until read_now() has something to return,
  // without a buffer held while the connection is idle.
  asio::awaitable<void> wait_readable(asio::error_code& ec);
  // Plain connections only: reads what has arrived; would_block if nothing.
  std::size_t read_now(std::span<char> into, asio::error_code& ec);
  // Writes all of `data`. `data` need only stay valid until the first
  // suspension: what cannot be written at once is copied first.
  asio::awaitable<void> write(std::string_view data, asio::error_code& ec);

  // Aborts pending operations on the connection; it stays open.
  void cancel();
  void close();

 private:
  Socket socket_;
  std::unique_ptr<asio::ssl::stream<Socket&>> tls_;
  std::string pending_;  // what a write could not send at once
};

}  // namespace anvil
