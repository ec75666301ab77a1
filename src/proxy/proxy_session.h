// One client connection through the proxy, from accept to close: the
// dialogue before login (through a FrontEnd), the backend login, then the
// byte relay. Registered with anvild for its whole life.
//
// A ProxySession keeps itself alive through the coroutines it runs (each holds a
// shared_ptr); the Proxy holds only weak references, for kicks.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>

#include "anvil/client.h"
#include "proxy/front_end.h"
#include "proxy/stream.h"

namespace anvil {

class Proxy;

class ProxySession : public std::enable_shared_from_this<ProxySession> {
 public:
  ProxySession(Proxy& proxy, MailProtocol protocol, bool implicit_tls,
               asio::ip::tcp::socket socket);
  ~ProxySession();
  ProxySession(const ProxySession&) = delete;
  ProxySession& operator=(const ProxySession&) = delete;

  // Registers the session and starts its dialogue; call once, on a
  // session owned by a shared_ptr.
  void start();
  // Ends the session with the protocol's goodbye carrying `reason`. False
  // when the session was already ending.
  bool kick(const std::string& reason);
  // Ends the session with "Server shutting down.".
  void shut_down();

 private:
  // Registers with anvild under the client's address, and becomes kickable.
  void register_session();
  // From a trusted load balancer: reads its PROXY header and takes the
  // client's addresses from it. False when the connection is to end.
  asio::awaitable<bool> read_proxy_header();
  asio::awaitable<void> run(std::shared_ptr<ProxySession> self, bool from_balancer);
  asio::awaitable<bool> send_to_client(std::string_view text);
  asio::awaitable<std::string> read_from_client(asio::error_code& ec);
  // Connects and logs in to the backend; true when the relay may start.
  asio::awaitable<bool> log_in(const Credentials& credentials, std::string* reply);
  void start_relay(const std::shared_ptr<ProxySession>& self);
  asio::awaitable<void> pump(std::shared_ptr<ProxySession> self, bool to_client);
  asio::awaitable<void> watchdog(std::shared_ptr<ProxySession> self);
  asio::awaitable<void> say_goodbye();
  // What anvild counts for this client's address and `user`; nullopt when
  // it cannot say (then no limit is applied, as Dovecot does).
  asio::awaitable<std::optional<Client::Counts>> counts(const std::string& user);
  // The limits anvild counts over every proxy process, at connect: false
  // when the connection is to end (its goodbye is sent).
  asio::awaitable<bool> within_address_limits();
  // At login: "" to go on, or the refusal to answer the login with. Waits
  // out the address's failed-login penalty first.
  asio::awaitable<std::string> login_refusal(const std::string& user);
  void stop_for_goodbye();
  void set_deadline(std::chrono::steady_clock::time_point when);
  void close_all();

  Proxy& proxy_;
  std::shared_ptr<const bool> proxy_alive_;
  MailProtocol protocol_;
  bool implicit_tls_;
  ProxyStream client_;
  std::unique_ptr<ProxyStream> backend_;
  std::unique_ptr<FrontEnd> front_end_;
  asio::steady_timer deadline_;
  asio::steady_timer penalty_wait_;  // cancelled by a kick
  SessionInfo info_;
  ConnectionId id_;
  std::string peer_;  // "ip:port", for the log
  std::string local_ip_;

  // Why the session ends early; `silent` when there is no one to tell
  // (a failed TLS handshake).
  enum class Ending { none, kicked, timed_out, shut_down, silent };
  Ending ending_ = Ending::none;
  std::string kick_reason_;
  std::chrono::steady_clock::time_point login_deadline_;
  bool watchdog_running_ = false;
  bool relaying_ = false;
  bool in_backend_login_ = false;
  bool backend_timed_out_ = false;
  std::string pending_to_backend_;  // sent after the login command
  char last_to_client_ = '\n';      // the last byte relayed to the client
};

}  // namespace anvil
