// anvil-echod: a small TCP line service on libanvil, for trying anvil out
// and for end-to-end tests. One process serves many clients with poll().
//
// Protocol: the server greets with "OK ready". "LOGIN <user> [key=value...]"
// registers the connection's user with anvild and answers "OK" (keys:
// user_* alternative names, dest_ip, dest_port), or "NO banned: <reason>"
// and closes when a ban in anvild matches the user or the address ("NO
// limit: <why>" past the cluster's cluster_max_user_connections); "QUIT"
// answers "OK bye" and closes; any other line is echoed back. When anvild
// kicks a connection, it gets "BYE <reason>" and is closed; the others stay.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "anvil/client.h"
#include "common/host_port.h"
#include "common/line_codec.h"
#include "common/log.h"
#include "common/unix_socket.h"

namespace {

constexpr std::size_t kMaxLine = 8192;

struct Connection {
  anvil::UniqueFd fd;
  anvil::LineBuffer input{kMaxLine};
  std::string output;
  anvil::SessionInfo info;
  anvil::ConnectionId id;        // zero until LOGIN
  bool closing = false;          // close once output is written
  std::uint64_t serial = 0;      // tells a connection from a later one on its fd
  bool login_pending = false;    // asking anvild whether the login is banned
  std::deque<std::string> held;  // lines that came meanwhile, in order
};

std::string address_text(const sockaddr_storage& addr, std::uint16_t* port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    *port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    *port = ntohs(in6->sin6_port);
  }
  return buf;
}

// "127.0.0.1:7000", "[::1]:7000".
anvil::UniqueFd listen_tcp(const std::string& spec, std::string* bound, std::string* error) {
  auto address = anvil::parse_host_port(spec);
  if (!address) {
    *error = "expected HOST:PORT, got " + spec;
    return {};
  }
  const std::string& host = address->host;
  std::string port = std::to_string(address->port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result); rc != 0) {
    *error = "invalid listen address " + spec + ": " + gai_strerror(rc);
    return {};
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(result, freeaddrinfo);
  anvil::UniqueFd fd(::socket(result->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!fd || ::bind(fd.get(), result->ai_addr, result->ai_addrlen) != 0 ||
      ::listen(fd.get(), 512) != 0) {
    *error = "cannot listen on " + spec + ": " + std::strerror(errno);
    return {};
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  std::uint16_t actual_port = 0;
  std::string text = address_text(addr, &actual_port);
  *bound =
      (addr.ss_family == AF_INET6 ? "[" + text + "]" : text) + ":" + std::to_string(actual_port);
  return fd;
}

// "<user> [user_*=value] [dest_ip=ip] [dest_port=n] ...": the user and what
// a proxy would also know, so that -f and -h can be tried with echod.
std::string parse_login(const std::string& args, anvil::SessionInfo* info) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < args.size()) {
    std::size_t space = args.find(' ', start);
    if (space == std::string::npos) space = args.size();
    if (space > start) words.push_back(args.substr(start, space - start));
    start = space + 1;
  }
  if (words.empty()) return "LOGIN needs a user name";
  info->user = words[0];
  info->alt_names.clear();
  for (std::size_t i = 1; i < words.size(); i++) {
    std::size_t eq = words[i].find('=');
    if (eq == std::string::npos) return "expected key=value: " + words[i];
    std::string key = words[i].substr(0, eq), value = words[i].substr(eq + 1);
    if (key == "dest_ip") {
      info->dest_ip = value;
    } else if (key == "dest_port") {
      if (!anvil::parse_port(value, &info->dest_port)) return "invalid dest_port: " + value;
    } else if (key.starts_with("user_")) {
      info->alt_names.emplace_back(key, value);
    } else {
      return "unknown login attribute: " + key;
    }
  }
  return "";
}

class EchoServer {
 public:
  EchoServer(anvil::UniqueFd listener, anvil::Client& anvil)
      : listener_(std::move(listener)), anvil_(anvil) {
    anvil_.set_kick_handler([this](const std::vector<anvil::ConnectionId>& ids,
                                   const std::string& reason) { return kick(ids, reason); });
    anvil_.set_error_handler([](const std::string& message) { anvil::log_warning("{}", message); });
    // A ban set between our question and the registration: refuse then.
    anvil_.set_ban_handler([this](const anvil::ConnectionId& id, const std::string& reason) {
      for (auto& [fd, conn] : connections_) {
        if (conn->id != id) continue;
        conn->id = {};
        refuse(*conn, "banned: " + reason);
        break;
      }
    });
  }

  void run() {
    while (!stop_requested) {
      std::vector<pollfd> fds;
      fds.push_back({listener_.get(), POLLIN, 0});
      int anvil_fd = anvil_.fd();
      if (anvil_fd >= 0) {
        fds.push_back(
            {anvil_fd, static_cast<short>(POLLIN | (anvil_.wants_write() ? POLLOUT : 0)), 0});
      }
      std::vector<int> order;
      for (auto& [fd, conn] : connections_) {
        short events = POLLIN;
        if (!conn->output.empty()) events |= POLLOUT;
        fds.push_back({fd, events, 0});
        order.push_back(fd);
      }
      int rc = ::poll(fds.data(), fds.size(), anvil_.timeout_ms());
      if (rc < 0 && errno != EINTR) {
        anvil::log_error("poll failed: {}", std::strerror(errno));
        return;
      }
      if (rc <= 0) {
        anvil_.process();
        continue;
      }
      std::size_t base = anvil_fd >= 0 ? 2 : 1;
      for (std::size_t i = 0; i < order.size(); i++) {
        short revents = fds[base + i].revents;
        if (revents) service(order[i], revents);
      }
      if (fds[0].revents & POLLIN) accept_all();
      anvil_.process();
    }
  }

  static volatile sig_atomic_t stop_requested;

 private:
  void accept_all() {
    while (true) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int raw = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (raw < 0) return;
      auto conn = std::make_unique<Connection>();
      conn->fd.reset(raw);
      conn->info.client_ip = address_text(peer, &conn->info.client_port);
      sockaddr_storage local{};
      len = sizeof local;
      getsockname(raw, reinterpret_cast<sockaddr*>(&local), &len);
      address_text(local, &conn->info.local_port);
      conn->output = "OK ready\n";
      conn->serial = ++serial_;
      connections_.emplace(raw, std::move(conn));
    }
  }

  void service(int fd, short revents) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    Connection& conn = *it->second;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        drop(fd);
        return;
      }
      if (!conn.closing) {
        conn.input.append(buf, static_cast<std::size_t>(n));
        while (auto line = conn.input.next_line()) handle(conn, *line);
        if (conn.input.overflowed()) {
          conn.output += "ERR line too long\n";
          conn.closing = true;
        }
      }
    }
    if (!conn.output.empty()) {
      ssize_t n = ::send(fd, conn.output.data(), conn.output.size(), MSG_NOSIGNAL);
      if (n > 0) conn.output.erase(0, static_cast<std::size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        drop(fd);
        return;
      }
    }
    if (conn.closing && conn.output.empty()) drop(fd);
  }

  void handle(Connection& conn, const std::string& line) {
    if (conn.closing) return;
    if (conn.login_pending) {
      conn.held.push_back(line);
      return;
    }
    if (line.starts_with("LOGIN ") && line.size() > 6) {
      anvil::SessionInfo info = conn.info;
      if (std::string error = parse_login(line.substr(6), &info); !error.empty()) {
        conn.output += "ERR " + error + "\n";
        return;
      }
      // Ask anvild first whether a ban keeps this user or address out; the
      // answer comes from process(). Without anvild, the login goes ahead.
      conn.login_pending = true;
      int fd = conn.fd.get();
      std::uint64_t serial = conn.serial;
      anvil_.query_counts(info.client_ip, info.user,
                          [this, fd, serial, info](std::optional<anvil::Client::Counts> counts) {
                            auto it = connections_.find(fd);
                            if (it == connections_.end() || it->second->serial != serial) return;
                            finish_login(*it->second, info, counts ? counts->banned : "",
                                         counts ? counts->over_limit : "");
                          });
    } else if (line == "QUIT") {
      conn.output += "OK bye\n";
      conn.closing = true;
    } else {
      conn.output += line + "\n";
    }
  }

  void finish_login(Connection& conn, const anvil::SessionInfo& info, const std::string& banned,
                    const std::string& over_limit) {
    conn.login_pending = false;
    if (!banned.empty()) {
      refuse(conn, "banned: " + banned);
      return;
    }
    if (!over_limit.empty()) {
      refuse(conn, "limit: " + over_limit);
      return;
    }
    conn.info = info;
    std::string error;
    if (conn.id.is_zero()) {
      conn.id = anvil_.register_session(conn.info, &error);
    } else {
      anvil_.update_session(conn.id, conn.info, &error);
    }
    conn.output += error.empty() ? "OK\n" : "ERR " + error + "\n";
    while (!conn.held.empty() && !conn.login_pending && !conn.closing) {
      std::string line = std::move(conn.held.front());
      conn.held.pop_front();
      handle(conn, line);
    }
  }

  // "NO banned: <reason>" or "NO limit: <why>", and the connection ends.
  void refuse(Connection& conn, const std::string& why) {
    if (!conn.id.is_zero()) {
      anvil_.unregister_session(conn.id);
      conn.id = {};
    }
    conn.output += "NO " + anvil::single_line(why) + "\n";
    conn.closing = true;
    conn.held.clear();
  }

  void drop(int fd) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    if (!it->second->id.is_zero()) anvil_.unregister_session(it->second->id);
    connections_.erase(it);
  }

  std::vector<anvil::ConnectionId> kick(const std::vector<anvil::ConnectionId>& ids,
                                        const std::string& reason) {
    std::vector<anvil::ConnectionId> dropped;
    for (const anvil::ConnectionId& id : ids) {
      for (auto& [fd, conn] : connections_) {
        if (conn->id != id) continue;
        // Best effort goodbye: the socket is non-blocking and the line short.
        std::string bye = conn->output + "BYE " + anvil::single_line(reason) + "\n";
        ssize_t ignored = ::send(fd, bye.data(), bye.size(), MSG_NOSIGNAL);
        (void)ignored;
        conn->id = {};  // the Client forgets it once we report it dropped
        dropped.push_back(id);
        connections_.erase(fd);
        break;
      }
    }
    return dropped;
  }

  anvil::UniqueFd listener_;
  anvil::Client& anvil_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  std::uint64_t serial_ = 0;
};

volatile sig_atomic_t EchoServer::stop_requested = 0;

constexpr const char* kUsage =
    "usage: anvil-echod --listen HOST:PORT --anvil SOCKET [--service NAME]\n"
    "\n"
    "A TCP line service that registers its clients with anvild.\n"
    "  --listen HOST:PORT  address to serve ([::1]:7000 for IPv6; port 0 picks one)\n"
    "  --anvil SOCKET      anvild's service socket (default " ANVIL_DEFAULT_RUN_DIR
    "/anvil-service)\n"
    "  --service NAME      service name shown by anvilctl who (default echo)\n"
    "Prints \"listening on HOST:PORT\" on stdout once it accepts connections.\n";

}  // namespace

int main(int argc, char** argv) {
  anvil::set_log_program("anvil-echod");
  std::string listen_spec, anvil_socket = ANVIL_DEFAULT_RUN_DIR "/anvil-service", service = "echo";
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if ((arg == "--listen" || arg == "--anvil" || arg == "--service") && i + 1 < argc) {
      std::string value = argv[++i];
      (arg == "--listen" ? listen_spec : arg == "--anvil" ? anvil_socket : service) = value;
    } else {
      std::fprintf(stderr, "anvil-echod: unknown or incomplete argument: %s\n%s", arg.c_str(),
                   kUsage);
      return 64;
    }
  }
  if (listen_spec.empty()) {
    std::fprintf(stderr, "anvil-echod: --listen is required\n%s", kUsage);
    return 64;
  }
  std::string bound, error;
  anvil::UniqueFd listener = listen_tcp(listen_spec, &bound, &error);
  if (!listener) {
    anvil::log_error("{}", error);
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop {};
  stop.sa_handler = [](int) { EchoServer::stop_requested = 1; };
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);

  anvil::Client client({.socket_path = anvil_socket, .service = service});
  client.process();  // connect now, if anvild is there
  EchoServer server(std::move(listener), client);
  std::printf("listening on %s\n", bound.c_str());
  std::fflush(stdout);
  server.run();
  return 0;
}
