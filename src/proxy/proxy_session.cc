#include "proxy/proxy_session.h"

#include "common/line_codec.h"

#include "common/ip_address.h"
#include "common/log.h"
#include "proxy/backend_login.h"
#include "proxy/proxy.h"
#include "proxy/proxy_header.h"
#include "registry/kick.h"

namespace anvil {

namespace {

using Clock = std::chrono::steady_clock;
using Action = FrontEndStep::Action;

// How long a kicked or timed-out client may take to accept its goodbye.
constexpr std::chrono::seconds kGoodbyeGrace{5};

auto with(asio::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

const char* protocol_name(MailProtocol protocol) {
  return protocol == MailProtocol::imap ? "imap" : "pop3";
}

// Names the credentials a failed login tried, so that anvild can tell a
// client repeating one stale password from one trying many (FNV-1a).
std::uint32_t credentials_checksum(const Credentials& credentials) {
  std::uint32_t hash = 2166136261u;
  auto mix = [&](std::string_view text) {
    for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  };
  mix(credentials.user);
  mix(std::string_view("\0", 1));
  mix(credentials.password);
  return hash;
}

// IPv4-mapped IPv6 addresses folded to IPv4, as anvild and anvilctl show them.
std::string address_text(const asio::ip::address& address) {
  auto parsed = IpAddress::parse(address.to_string());
  return parsed ? parsed->to_string() : address.to_string();
}

}  // namespace

ProxySession::ProxySession(Proxy& proxy, MailProtocol protocol, bool implicit_tls,
                           asio::ip::tcp::socket socket)
    : proxy_(proxy),
      proxy_alive_(proxy.liveness()),
      protocol_(protocol),
      implicit_tls_(implicit_tls),
      client_(std::move(socket)),
      deadline_(client_.socket().get_executor()),
      penalty_wait_(client_.socket().get_executor()) {}

ProxySession::~ProxySession() {
  if (!id_.is_zero() && *proxy_alive_) proxy_.remove(id_);
}

void ProxySession::start() {
  asio::error_code remote_error, local_error;
  auto remote = client_.socket().remote_endpoint(remote_error);
  auto local = client_.socket().local_endpoint(local_error);
  if (remote_error || local_error) {
    client_.close();  // the client left before we looked
    return;
  }
  info_.client_ip = address_text(remote.address());
  info_.client_port = remote.port();
  info_.local_port = local.port();
  local_ip_ = address_text(local.address());
  peer_ = info_.client_ip + ":" + std::to_string(info_.client_port);
  bool from_balancer = false;
  if (auto ip = IpAddress::parse(info_.client_ip)) {
    for (const Cidr& network : proxy_.config().haproxy_trusted_networks) {
      from_balancer |= network.contains(*ip);
    }
  }
  // A balancer's connection is registered once its header names the client.
  if (!from_balancer) register_session();
  login_deadline_ = Clock::now() + proxy_.config().login_timeout;
  set_deadline(login_deadline_);
  asio::co_spawn(deadline_.get_executor(), run(shared_from_this(), from_balancer), asio::detached);
}

void ProxySession::register_session() {
  std::string error;
  id_ = proxy_.registry(protocol_).register_session(info_, &error);
  if (id_.is_zero()) {
    log_warning("{}: cannot register {}: {}", protocol_name(protocol_), peer_, error);
  } else {
    proxy_.add(id_, shared_from_this());
  }
}

asio::awaitable<bool> ProxySession::read_proxy_header() {
  using Status = ProxyHeaderParse::Status;
  std::string header;
  for (;;) {
    ProxyHeaderParse parsed = parse_proxy_header(header);
    if (parsed.status == Status::invalid) {
      log_warning("{}: invalid PROXY header from {}: {}", protocol_name(protocol_), peer_,
                  parsed.error);
      co_return false;
    }
    if (parsed.status == Status::done) {
      if (parsed.header.has_addresses) {
        std::string balancer = peer_;
        info_.client_ip = parsed.header.source_ip;
        info_.client_port = parsed.header.source_port;
        local_ip_ = parsed.header.dest_ip;
        info_.local_port = parsed.header.dest_port;
        peer_ = info_.client_ip + ":" + std::to_string(info_.client_port) + " via " + balancer;
      }
      co_return true;
    }
    asio::error_code ec;
    co_await client_.wait_readable(ec);
    if (ec || ending_ != Ending::none) co_return false;
    // Never a byte past the header: what follows is the client's.
    std::span<char> into = proxy_.relay_buffer().first(parsed.count);
    if (parsed.status == Status::need_line) {
      std::size_t seen = client_.peek_now(into, ec);
      std::string_view peeked(into.data(), ec ? 0 : seen);
      // Up to the line's end, or all that was seen: more may arrive between
      // the peek and the read.
      std::size_t newline = peeked.find('\n');
      into = into.first(newline == std::string_view::npos ? peeked.size() : newline + 1);
    }
    std::size_t n = ec ? 0 : client_.read_now(into, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) co_return false;
    header.append(into.data(), n);
  }
}

bool ProxySession::kick(const std::string& reason) {
  if (ending_ != Ending::none || !client_.is_open()) return false;
  ending_ = Ending::kicked;
  kick_reason_ = reason.empty() ? std::string(kDefaultKickReason) : reason;
  log_info("{}: kicked user={} from {}: {}", protocol_name(protocol_), info_.user, peer_,
           kick_reason_);
  stop_for_goodbye();
  return true;
}

void ProxySession::shut_down() {
  if (ending_ != Ending::none || !client_.is_open()) return;
  ending_ = Ending::shut_down;
  stop_for_goodbye();
}

// Interrupts whatever the session waits for, so that the one coroutine that
// writes to the client (run() before login, the backend-to-client pump
// after) ends with the goodbye.
void ProxySession::stop_for_goodbye() {
  penalty_wait_.cancel();
  if (backend_) backend_->close();
  if (!relaying_) client_.cancel();
  set_deadline(Clock::now() + kGoodbyeGrace);
}

void ProxySession::set_deadline(Clock::time_point when) {
  deadline_.expires_at(when);  // wakes a running watchdog, which waits again
  if (!watchdog_running_) {
    watchdog_running_ = true;
    asio::co_spawn(deadline_.get_executor(), watchdog(shared_from_this()), asio::detached);
  }
}

asio::awaitable<void> ProxySession::watchdog(std::shared_ptr<ProxySession> /*self*/) {
  while (client_.is_open() && !(relaying_ && ending_ == Ending::none)) {
    asio::error_code ec;
    co_await deadline_.async_wait(with(ec));
    if (!client_.is_open() || (relaying_ && ending_ == Ending::none)) break;
    if (deadline_.expiry() > Clock::now()) continue;  // moved while we slept
    if (ending_ != Ending::none) {
      close_all();  // the goodbye took too long
    } else if (in_backend_login_ && Clock::now() < login_deadline_) {
      backend_timed_out_ = true;
      backend_->close();
      deadline_.expires_at(login_deadline_);
    } else {
      ending_ = Ending::timed_out;
      stop_for_goodbye();
    }
  }
  watchdog_running_ = false;
}

void ProxySession::close_all() {
  if (backend_) backend_->close();
  client_.close();
  deadline_.cancel();
}

asio::awaitable<std::optional<Client::Counts>> ProxySession::counts(const std::string& user) {
  auto executor = deadline_.get_executor();
  auto answered = std::make_shared<asio::steady_timer>(executor, Clock::time_point::max());
  auto result = std::make_shared<std::optional<Client::Counts>>();
  proxy_.registry(protocol_).query_counts(info_.client_ip, user,
                                          [answered, result](std::optional<Client::Counts> c) {
                                            *result = c;
                                            answered->cancel();
                                          });
  asio::error_code ec;
  co_await answered->async_wait(with(ec));  // the query ends within its own timeout
  co_return *result;
}

asio::awaitable<bool> ProxySession::within_address_limits() {
  const ProxyConfig& config = proxy_.config();
  // Asked even without limits: anvild also says whether the address is banned.
  auto counted = co_await counts("");
  if (!counted || ending_ != Ending::none) co_return ending_ == Ending::none;
  if (!counted->banned.empty()) {
    log_info("{}: refused {}: banned ({})", protocol_name(protocol_), peer_,
             single_line(counted->banned));
    co_await send_to_client(front_end_->banned_reply(counted->banned));
    co_return false;
  }
  // anvild counted this connection too: it registered first.
  std::string why;
  if (config.max_connections_per_ip > 0 && counted->ip_sessions > config.max_connections_per_ip) {
    why = "max_connections_per_ip=" + std::to_string(config.max_connections_per_ip);
  } else if (config.max_prelogin_per_ip > 0 && counted->ip_prelogin > config.max_prelogin_per_ip) {
    why = "max_prelogin_per_ip=" + std::to_string(config.max_prelogin_per_ip);
  }
  if (why.empty()) co_return true;
  log_info("{}: refused {}: too many connections from the address ({})", protocol_name(protocol_),
           peer_, why);
  co_await send_to_client(front_end_->kicked_reply("Too many connections from your address"));
  co_return false;
}

asio::awaitable<std::string> ProxySession::login_refusal(const std::string& user) {
  const ProxyConfig& config = proxy_.config();
  // Asked even without limits: a ban on the user, or the user from this
  // address, refuses the login before the backend hears of it.
  auto counted = co_await counts(user);
  if (!counted || ending_ != Ending::none) co_return "";
  if (!counted->banned.empty()) {
    log_info("{}: login of user={} from {} refused: banned ({})", protocol_name(protocol_), user,
             peer_, single_line(counted->banned));
    co_return front_end_->banned_login_reply(counted->banned);
  }
  if (config.login_penalty && counted->penalty > 0) {
    // Dovecot's auth penalty: 2 s after one failure, doubling, capped.
    auto delay = std::min<std::chrono::milliseconds>(std::chrono::seconds(1u << counted->penalty),
                                                     config.login_penalty_max);
    log_info("{}: login from {} delayed {} ms (failed-login penalty {})", protocol_name(protocol_),
             peer_, delay.count(), counted->penalty);
    penalty_wait_.expires_after(delay);
    asio::error_code ec;
    co_await penalty_wait_.async_wait(with(ec));
    if (ending_ != Ending::none) co_return "";
  }
  if (!counted->over_limit.empty()) {
    log_info("{}: login of user={} from {} refused: {}", protocol_name(protocol_), user, peer_,
             counted->over_limit);
    co_return protocol_ == MailProtocol::imap
        ? "NO [LIMIT] Maximum number of connections for this user exceeded."
        : "-ERR [IN-USE] Maximum number of connections for this user exceeded.";
  }
  if (config.max_connections_per_user > 0 &&
      counted->user_sessions >= config.max_connections_per_user) {
    log_info("{}: login of user={} from {} refused: max_connections_per_user={} reached",
             protocol_name(protocol_), user, peer_, config.max_connections_per_user);
    co_return protocol_ == MailProtocol::imap
        ? "NO [LIMIT] Maximum number of connections for this user exceeded."
        : "-ERR [IN-USE] Maximum number of connections for this user exceeded.";
  }
  co_return "";
}

asio::awaitable<bool> ProxySession::send_to_client(std::string_view text) {
  if (text.empty()) co_return true;
  asio::error_code ec;
  co_await client_.write(text, ec);
  co_return !ec && ending_ == Ending::none;
}

asio::awaitable<std::string> ProxySession::read_from_client(asio::error_code& ec) {
  // No buffer of our own while the client is silent.
  for (;;) {
    co_await client_.wait_readable(ec);
    if (ec) co_return "";
    std::span<char> shared = proxy_.relay_buffer();
    std::size_t n = client_.read_now(shared.first(8192), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) co_return "";
    co_return std::string(shared.data(), n);
  }
}

asio::awaitable<void> ProxySession::run(std::shared_ptr<ProxySession> self,  // alive while running
                                        bool from_balancer) {
  const ProxyConfig& config = proxy_.config();
  if (from_balancer) {
    if (!co_await read_proxy_header()) {
      ending_ = Ending::silent;  // a balancer, not a mail client, is there
      close_all();
      co_return;
    }
    register_session();
  }
  FrontEndOptions options;
  options.tls_offered = !implicit_tls_ && proxy_.server_tls() != nullptr;
  options.secure = implicit_tls_;
  if (auto ip = IpAddress::parse(info_.client_ip)) {
    for (const Cidr& network : config.secure_networks) options.secure |= network.contains(*ip);
  }
  options.require_tls = config.require_tls_for_login;
  options.max_command_size = config.max_command_size;
  options.max_login_attempts = config.max_login_attempts;
  options.max_bad_commands = config.max_bad_commands;
  front_end_ = make_front_end(protocol_, options);

  bool open = true;
  if (implicit_tls_) {
    asio::error_code ec;
    co_await client_.handshake_as_server(*proxy_.server_tls(), ec);
    if (ec) {
      log_debug("{}: TLS handshake with {} failed: {}", protocol_name(protocol_), peer_,
                ec.message());
      open = false;
      ending_ = ending_ == Ending::none ? Ending::silent : ending_;
    }
  }
  if (open) open = co_await within_address_limits();
  if (open) open = co_await send_to_client(front_end_->greeting());
  while (open) {
    FrontEndStep step = front_end_->next();
    switch (step.action) {
      case Action::need_input: {
        asio::error_code ec;
        std::string data = co_await read_from_client(ec);
        if (ec || ending_ != Ending::none) {
          open = false;
        } else {
          front_end_->feed(data);
        }
        break;
      }
      case Action::reply: open = co_await send_to_client(step.reply); break;
      case Action::close:
        co_await send_to_client(step.reply);
        open = false;
        break;
      case Action::start_tls: {
        open = co_await send_to_client(step.reply);
        if (!open) break;
        asio::error_code ec;
        co_await client_.handshake_as_server(*proxy_.server_tls(), ec);
        if (ec) {
          log_debug("{}: STARTTLS with {} failed: {}", protocol_name(protocol_), peer_,
                    ec.message());
          ending_ = ending_ == Ending::none ? Ending::silent : ending_;
          open = false;
        } else {
          front_end_->tls_started();
        }
        break;
      }
      case Action::login: {
        open = co_await send_to_client(step.reply);
        if (!open) break;
        const Credentials& credentials = step.credentials;
        std::string user = credentials.authzid.empty() ? credentials.user : credentials.authzid;
        if (std::string refusal = co_await login_refusal(user); !refusal.empty()) {
          FrontEndStep refused = front_end_->login_failed(refusal);
          open = co_await send_to_client(refused.reply) && refused.action != Action::close;
          break;
        }
        if (ending_ != Ending::none) {
          open = false;
          break;
        }
        std::string reply;
        bool logged_in = co_await log_in(credentials, &reply);
        if (proxy_.config().login_penalty && ending_ == Ending::none) {
          // Only the backend's refusal counts: an unreachable backend says
          // nothing about the password.
          if (!logged_in && !reply.empty()) {
            proxy_.registry(protocol_).report_login(info_.client_ip, true,
                                                    credentials_checksum(credentials));
          } else if (logged_in) {
            proxy_.registry(protocol_).report_login(info_.client_ip, false);
          }
        }
        if (ending_ != Ending::none) {
          open = false;
        } else if (logged_in) {
          if (co_await send_to_client(reply)) {
            start_relay(self);
            co_return;
          }
          open = false;
        } else {
          FrontEndStep failed = front_end_->login_failed(reply);
          open = co_await send_to_client(failed.reply) && failed.action != Action::close;
        }
        break;
      }
    }
  }
  if (ending_ != Ending::none && ending_ != Ending::silent) co_await say_goodbye();
  close_all();
}

asio::awaitable<bool> ProxySession::log_in(const Credentials& credentials, std::string* reply) {
  const ProxyConfig& config = proxy_.config();
  const std::string& user = credentials.authzid.empty() ? credentials.user : credentials.authzid;
  const HostPort& default_backend =
      protocol_ == MailProtocol::imap ? config.backend_imap : config.backend_pop3;
  Route route = proxy_.user_map().route(user, protocol_, default_backend);
  std::string destination = format_host_port(route.backend);

  in_backend_login_ = true;
  backend_timed_out_ = false;
  deadline_.expires_at(std::min(login_deadline_, Clock::now() + config.backend_timeout));
  auto executor = deadline_.get_executor();
  backend_ = std::make_unique<ProxyStream>(asio::ip::tcp::socket(executor));
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(route.backend.host,
                                                   std::to_string(route.backend.port), with(ec));
  if (!ec && ending_ == Ending::none && !backend_timed_out_) {
    co_await asio::async_connect(backend_->socket(), endpoints, with(ec));
  }
  BackendLogin result;
  if (ec) {
    result.problem = "cannot connect: " + ec.message();
  } else if (ending_ == Ending::none && !backend_timed_out_) {
    BackendTlsSettings tls{config.backend_tls, proxy_.backend_tls(), route.backend.host,
                           config.backend_tls_verify};
    ClientOrigin origin{info_.client_ip, info_.client_port, local_ip_, info_.local_port,
                        id_.to_hex()};
    result = co_await log_in_to_backend(*backend_, protocol_, credentials, tls,
                                        config.backend_forward_client ? &origin : nullptr);
  }
  in_backend_login_ = false;
  deadline_.expires_at(login_deadline_);
  if (ending_ != Ending::none) co_return false;
  if (backend_timed_out_) result = {BackendLogin::Outcome::unavailable, "", "", "timed out"};

  if (result.outcome != BackendLogin::Outcome::logged_in) {
    backend_->close();
    if (result.outcome == BackendLogin::Outcome::unavailable) {
      log_warning("{}: backend {} unavailable for user={} from {}: {}", protocol_name(protocol_),
                  destination, user, peer_, result.problem);
      reply->clear();
    } else {
      log_info("{}: login refused by {} for user={} from {}", protocol_name(protocol_), destination,
               user, peer_);
      *reply = result.reply;
    }
    co_return false;
  }

  auto remote = backend_->socket().remote_endpoint(ec);
  info_.user = user;
  info_.alt_names = route.alt_names;
  if (!ec) {
    info_.dest_ip = address_text(remote.address());
    info_.dest_port = remote.port();
  }
  std::string error;
  if (!id_.is_zero() && !proxy_.registry(protocol_).update_session(id_, info_, &error)) {
    log_warning("{}: cannot update session of {}: {}", protocol_name(protocol_), peer_, error);
  }
  log_info("{}: login user={} from {} to {}", protocol_name(protocol_), user, peer_, destination);
  *reply = front_end_->login_succeeded(result.reply) + result.leftover;
  co_return true;
}

void ProxySession::start_relay(const std::shared_ptr<ProxySession>& self) {
  relaying_ = true;
  deadline_.cancel();  // no deadline while relaying: the watchdog ends
  pending_to_backend_ = front_end_->take_buffered();
  auto executor = deadline_.get_executor();
  asio::co_spawn(executor, pump(self, true), asio::detached);
  asio::co_spawn(executor, pump(self, false), asio::detached);
}

// Moves bytes one way until either side ends. Plain connections read into
// the proxy's shared buffer only when data has arrived, so an idle session
// holds no buffer; TLS connections need their own while a read is pending.
asio::awaitable<void> ProxySession::pump(std::shared_ptr<ProxySession> /*self*/, bool to_client) {
  ProxyStream& from = to_client ? *backend_ : client_;
  ProxyStream& to = to_client ? client_ : *backend_;
  asio::error_code ec;
  if (!to_client && !pending_to_backend_.empty()) {
    co_await to.write(std::exchange(pending_to_backend_, ""), ec);
  }
  while (!ec) {
    // Read first and wait only when nothing is there: a busy connection
    // then costs one read and one write per chunk, not a poll as well.
    std::span<char> shared = proxy_.relay_buffer();
    std::size_t n = from.read_now(shared, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      co_await from.wait_readable(ec);
      continue;
    }
    std::string_view data(shared.data(), n);
    if (ec || data.empty()) break;
    if (to_client) last_to_client_ = data.back();
    co_await to.write(data, ec);
  }
  if (to_client) {
    // This direction owns the client's output: it says the goodbye.
    if (ending_ != Ending::none && ending_ != Ending::silent) co_await say_goodbye();
    close_all();
  } else if (ending_ == Ending::none) {
    backend_->close();  // the backend-to-client pump then closes the client
  }
}

asio::awaitable<void> ProxySession::say_goodbye() {
  std::string text;
  // After a partial line from the backend, the goodbye starts a line of its own.
  if (relaying_ && last_to_client_ != '\n') text = "\r\n";
  text += ending_ == Ending::timed_out   ? front_end_->timeout_reply()
          : ending_ == Ending::shut_down ? front_end_->kicked_reply("Server shutting down.")
                                         : front_end_->kicked_reply(kick_reason_);
  asio::error_code ec;
  co_await client_.write(text, ec);
}

}  // namespace anvil
