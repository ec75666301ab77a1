// The proxy process: listeners for each configured protocol and port, the
// sessions they accept, and the libanvil clients that register those
// sessions with anvild and deliver its kicks. One thread, one io_context.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "anvil/asio_client.h"
#include "anvil/client.h"
#include "proxy/proxy_config.h"
#include "proxy/user_map.h"

namespace anvil {

class ProxySession;

class Proxy {
 public:
  Proxy(asio::io_context& io, ProxyConfig config);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Loads TLS material and the user map, opens the listeners and prints
  // "listening <protocol> <address>" for each on stdout. "" or an error.
  std::string start();
  // Re-reads the user map (SIGHUP); the old map stays on error.
  void reload_user_map();
  // Says goodbye to every client and stops accepting; io.run() returns once
  // the sessions are gone or after a grace period.
  void shut_down();

  // --- for sessions -----------------------------------------------------
  const ProxyConfig& config() const { return config_; }
  const UserMap& user_map() const { return user_map_; }
  asio::ssl::context* server_tls() { return server_tls_ ? &*server_tls_ : nullptr; }
  asio::ssl::context* backend_tls() { return backend_tls_ ? &*backend_tls_ : nullptr; }
  Client& registry(MailProtocol protocol);
  // A session is known from accept to close; kicks reach it by id.
  void add(const ConnectionId& id, const std::shared_ptr<ProxySession>& session);
  void remove(const ConnectionId& id);
  // False once the Proxy is gone: sessions still in the io_context when it
  // is destroyed must not call back.
  std::shared_ptr<const bool> liveness() const { return alive_; }
  // Shared relay buffer for plain connections (see ProxySession::pump).
  std::span<char> relay_buffer() { return relay_buffer_; }

 private:
  struct Listener {
    MailProtocol protocol;
    bool implicit_tls;
    asio::ip::tcp::acceptor acceptor;
  };

  std::string open_listener(const HostPort& address, MailProtocol protocol, bool implicit_tls);
  asio::awaitable<void> accept_loop(Listener& listener);
  std::vector<ConnectionId> kick(const std::vector<ConnectionId>& ids, const std::string& reason);
  void refuse(asio::ip::tcp::socket& socket, MailProtocol protocol, bool implicit_tls);

  asio::io_context& io_;
  ProxyConfig config_;
  UserMap user_map_;
  std::optional<asio::ssl::context> server_tls_;
  std::optional<asio::ssl::context> backend_tls_;
  std::unique_ptr<Client> imap_registry_, pop3_registry_;
  std::unique_ptr<AsioClient> imap_driver_, pop3_driver_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<ConnectionId, std::weak_ptr<ProxySession>, ConnectionIdHash> sessions_;
  std::vector<char> relay_buffer_ = std::vector<char>(std::size_t{256} * 1024);
  bool shutting_down_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace anvil
