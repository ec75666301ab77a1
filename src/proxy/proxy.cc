#include "proxy/proxy.h"

#include <cstdio>

#include "common/log.h"
#include "proxy/proxy_session.h"

namespace anvil {

namespace {

auto with(asio::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

const char* protocol_name(MailProtocol protocol, bool implicit_tls) {
  if (protocol == MailProtocol::imap) return implicit_tls ? "imaps" : "imap";
  return implicit_tls ? "pop3s" : "pop3";
}

}  // namespace

Proxy::Proxy(asio::io_context& io, ProxyConfig config) : io_(io), config_(std::move(config)) {}

Proxy::~Proxy() {
  *alive_ = false;
  // Drivers first: they use the clients.
  imap_driver_.reset();
  pop3_driver_.reset();
}

Client& Proxy::registry(MailProtocol protocol) {
  return protocol == MailProtocol::imap ? *imap_registry_ : *pop3_registry_;
}

void Proxy::add(const ConnectionId& id, const std::shared_ptr<ProxySession>& session) {
  sessions_[id] = session;
}

void Proxy::remove(const ConnectionId& id) {
  sessions_.erase(id);
  if (imap_registry_) imap_registry_->unregister_session(id);
  if (pop3_registry_) pop3_registry_->unregister_session(id);
}

std::string Proxy::start() {
  if (config_.tls_configured()) {
    server_tls_.emplace(asio::ssl::context::tls_server);
    server_tls_->set_options(asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    asio::error_code ec;
    server_tls_->use_certificate_chain_file(config_.tls_cert, ec);
    if (ec) return "cannot load tls_cert " + config_.tls_cert + ": " + ec.message();
    server_tls_->use_private_key_file(config_.tls_key, asio::ssl::context::pem, ec);
    if (ec) return "cannot load tls_key " + config_.tls_key + ": " + ec.message();
  }
  if (config_.backend_tls != BackendTls::none) {
    backend_tls_.emplace(asio::ssl::context::tls_client);
    asio::error_code ec;
    if (!config_.backend_tls_ca.empty()) {
      backend_tls_->load_verify_file(config_.backend_tls_ca, ec);
      if (ec) return "cannot load backend_tls_ca " + config_.backend_tls_ca + ": " + ec.message();
    } else {
      backend_tls_->set_default_verify_paths(ec);
      if (ec) return "cannot load the system's CA certificates: " + ec.message();
    }
  }
  if (!config_.user_map.empty()) {
    if (std::string error = user_map_.load(config_.user_map); !error.empty()) return error;
  }

  auto make_registry = [&](const char* service, std::unique_ptr<Client>* client,
                           std::unique_ptr<AsioClient>* driver) {
    *client = std::make_unique<Client>(
        Client::Options{.socket_path = config_.anvil_socket, .service = service});
    (*client)->set_kick_handler([this](const std::vector<ConnectionId>& ids,
                                       const std::string& reason) { return kick(ids, reason); });
    (*client)->set_error_handler(
        [service](const std::string& text) { log_warning("{} registry: {}", service, text); });
    *driver = std::make_unique<AsioClient>(io_.get_executor(), **client);
    (*driver)->start();
  };
  make_registry("imap", &imap_registry_, &imap_driver_);
  make_registry("pop3", &pop3_registry_, &pop3_driver_);

  struct Spec {
    const std::vector<HostPort>* addresses;
    MailProtocol protocol;
    bool implicit_tls;
  };
  for (const Spec& spec : {Spec{&config_.imap_listen, MailProtocol::imap, false},
                           Spec{&config_.imaps_listen, MailProtocol::imap, true},
                           Spec{&config_.pop3_listen, MailProtocol::pop3, false},
                           Spec{&config_.pop3s_listen, MailProtocol::pop3, true}}) {
    for (const HostPort& address : *spec.addresses) {
      std::string error = open_listener(address, spec.protocol, spec.implicit_tls);
      if (!error.empty()) return error;
    }
  }
  std::fflush(stdout);
  for (auto& listener : listeners_) {
    asio::co_spawn(io_, accept_loop(*listener), asio::detached);
  }
  return "";
}

std::string Proxy::open_listener(const HostPort& address, MailProtocol protocol,
                                 bool implicit_tls) {
  const char* name = protocol_name(protocol, implicit_tls);
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto results = resolver.resolve(address.host, std::to_string(address.port),
                                  asio::ip::tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return std::string("cannot resolve ") + name + " address " + format_host_port(address) + ": " +
           ec.message();
  }
  auto endpoint = results.begin()->endpoint();
  auto listener =
      std::make_unique<Listener>(Listener{protocol, implicit_tls, asio::ip::tcp::acceptor(io_)});
  auto& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(1024, ec);
  if (ec) {
    return std::string("cannot listen for ") + name + " on " + format_host_port(address) + ": " +
           ec.message();
  }
  auto bound = acceptor.local_endpoint(ec);
  std::string text = bound.address().to_string();
  if (bound.address().is_v6()) text = "[" + text + "]";
  std::printf("listening %s %s:%u\n", name, text.c_str(), static_cast<unsigned>(bound.port()));
  log_info("listening for {} on {}:{}", name, text, bound.port());
  listeners_.push_back(std::move(listener));
  return "";
}

asio::awaitable<void> Proxy::accept_loop(Listener& listener) {
  asio::steady_timer pause(io_);
  for (;;) {
    asio::error_code ec;
    asio::ip::tcp::socket socket = co_await listener.acceptor.async_accept(with(ec));
    if (ec == asio::error::operation_aborted || !listener.acceptor.is_open()) co_return;
    if (ec) {
      // Out of fds, most likely: wait for sessions to end instead of spinning.
      log_warning("accept failed: {}", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(with(ec));
      continue;
    }
    if (sessions_.size() >= config_.max_sessions) {
      refuse(socket, listener.protocol, listener.implicit_tls);
      continue;
    }
    std::make_shared<ProxySession>(*this, listener.protocol, listener.implicit_tls,
                                   std::move(socket))
        ->start();
  }
}

void Proxy::refuse(asio::ip::tcp::socket& socket, MailProtocol protocol, bool implicit_tls) {
  static bool warned = false;
  if (!warned) {
    log_warning("max_sessions ({}) reached: refusing new connections", config_.max_sessions);
    warned = true;
  }
  if (!implicit_tls) {
    std::string_view text = protocol == MailProtocol::imap
                                ? "* BYE [UNAVAILABLE] Too many connections, try later.\r\n"
                                : "-ERR [SYS/TEMP] Too many connections, try later.\r\n";
    asio::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(text.data(), text.size()), ec);
  }
  asio::error_code ignored;
  socket.close(ignored);
}

std::vector<ConnectionId> Proxy::kick(const std::vector<ConnectionId>& ids,
                                      const std::string& reason) {
  std::vector<ConnectionId> dropped;
  for (const ConnectionId& id : ids) {
    auto found = sessions_.find(id);
    if (found == sessions_.end()) continue;
    if (auto session = found->second.lock(); session && session->kick(reason)) {
      dropped.push_back(id);
    }
  }
  return dropped;
}

void Proxy::reload_user_map() {
  if (config_.user_map.empty()) return;
  UserMap fresh;
  if (std::string error = fresh.load(config_.user_map); !error.empty()) {
    log_error("user map not reloaded: {}", error);
    return;
  }
  user_map_ = std::move(fresh);
  log_info("user map reloaded: {} entries", user_map_.size());
}

void Proxy::shut_down() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto& listener : listeners_) {
    asio::error_code ignored;
    listener->acceptor.close(ignored);
  }
  std::vector<std::shared_ptr<ProxySession>> alive;
  for (auto& [id, weak] : sessions_) {
    if (auto session = weak.lock()) alive.push_back(std::move(session));
  }
  for (auto& session : alive) session->shut_down();
  alive.clear();
  // Give the goodbyes a moment, then stop whatever is left.
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        asio::steady_timer timer(io_);
        for (int i = 0; i < 40 && !sessions_.empty(); i++) {
          timer.expires_after(std::chrono::milliseconds(50));
          asio::error_code ec;
          co_await timer.async_wait(with(ec));
        }
        io_.stop();
      },
      asio::detached);
}

}  // namespace anvil
