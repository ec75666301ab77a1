// anvil-httpd: anvil's HTTP face. It talks to anvild's admin socket as
// anvilctl does and serves a doveadm-compatible API, a JSON API, Prometheus
// metrics and a live web view. anvild itself never parses HTTP.
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/command_line.h"
#include "common/log.h"
#include "common/service_manager.h"
#include "http/api.h"
#include "http/server.h"

namespace {

constexpr const char* kUsage =
    "usage: anvil-httpd [-c FILE] [-o key=value]... [-D]\n"
    "       anvil-httpd [-c FILE] [-o key=value]... --new-key NAME read|kick\n"
    "\n"
    "Serves anvil's HTTP API and web view in the foreground, logging to\n"
    "stderr. It prints \"listening http(s) <address>\" on stdout for every\n"
    "listener. --new-key adds a key to keys_file and prints it.\n"
    "\n"
    "  -c FILE        read settings from FILE (key = value lines)\n"
    "  -o key=value   override one setting (after -c; may repeat)\n"
    "  -D             debug logging\n"
    "  --help         this text\n"
    "  --version      print the version\n"
    "\n"
    "Settings: listen, tls_listen, tls_cert, tls_key, admin_socket, keys_file,\n"
    "doveadm_dialect, max_clients, max_header_size, max_body_size,\n"
    "max_page_size, request_timeout, anvild_timeout, anvild_workers.\n"
    "See anvil-httpd(8). Signals: TERM/INT stop; HUP re-reads keys_file.\n";

const anvil::ProgramInfo kProgram{"anvil-httpd", ANVIL_VERSION, kUsage};

int usage_error(const std::string& message) {
  return anvil::usage_error(kProgram, message);
}

// Adds a key to the keys file (made 0640 if new) and prints the key.
int new_key(const std::string& path, const std::string& name, const std::string& role_name) {
  anvil::Principal principal{name, anvil::HttpRole::read};
  if (!anvil::Credentials::valid_name(name)) {
    return usage_error("a key name is 1 to 64 of A-Z a-z 0-9 . _ @ -");
  }
  if (role_name == "kick") {
    principal.role = anvil::HttpRole::kick;
  } else if (role_name != "read") {
    return usage_error("the role is read or kick");
  }
  anvil::Credentials existing;
  if (access(path.c_str(), F_OK) == 0) {
    if (std::string error = existing.load(path); !error.empty()) {
      anvil::log_error("{}", error);
      return 78;
    }
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(name + " ", 0) == 0) {
        anvil::log_error("{} already has a key named {}", path, name);
        return 73;
      }
    }
  }
  std::string key = anvil::Credentials::new_key();
  mode_t old_mask = umask(027);
  std::ofstream out(path, std::ios::app);
  umask(old_mask);
  out << anvil::Credentials::key_line(principal, key) << "\n";
  out.close();
  if (!out) {
    anvil::log_error("cannot write {}: {}", path, std::strerror(errno));
    return 73;
  }
  std::printf("%s\n", key.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  anvil::set_log_program("anvil-httpd");
  anvil::CommonOptions options;
  std::vector<std::string> key_request;
  if (auto exit_code = anvil::parse_command_line(
          kProgram, argc, argv, &options, [&](int* i) -> std::optional<int> {
            std::string arg = argv[*i];
            if (arg != "--new-key") return usage_error("unknown argument: " + arg);
            if (*i + 2 >= argc) return usage_error("--new-key needs a name and a role");
            key_request = {argv[*i + 1], argv[*i + 2]};
            *i += 2;
            return std::nullopt;
          })) {
    return *exit_code;
  }
  if (sodium_init() < 0) {
    anvil::log_error("libsodium failed to start");
    return 70;
  }
  anvil::HttpConfig config;
  std::string error = config.load(options.config_file, options.overrides);
  if (error.empty()) error = config.validate();
  if (!error.empty()) {
    anvil::log_error("{}", error);
    return 78;
  }
  if (!key_request.empty()) return new_key(config.keys_file, key_request[0], key_request[1]);

  anvil::Credentials credentials;
  auto load_keys = [&] {
    if (access(config.keys_file.c_str(), F_OK) != 0) {
      anvil::log_warning(
          "no keys file {}: every API request will be refused (make one with "
          "anvil-httpd --new-key NAME ROLE)",
          config.keys_file);
      credentials = {};
      return std::string();
    }
    anvil::Credentials loaded;
    std::string problem = loaded.load(config.keys_file);
    if (problem.empty()) credentials = std::move(loaded);
    return problem;
  };
  if (error = load_keys(); !error.empty()) {
    anvil::log_error("{}", error);
    return 78;
  }

  ::signal(SIGPIPE, SIG_IGN);
  auto timeout = config.anvild_timeout;
  const std::string socket_path = config.admin_socket;
  anvil::Api api(config, [socket_path, timeout]() {
    anvil::UniqueFd fd = anvil::connect_admin_socket(socket_path);
    timeval limit{static_cast<time_t>(timeout.count() / 1000),
                  static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    return std::make_unique<anvil::AdminConnection>(std::move(fd), socket_path, false);
  });
  boost::asio::io_context io(1);
  anvil::HttpServer server(io, config, credentials, api);
  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    anvil::notify_stopping();
    server.stop();
    io.stop();
  });
  boost::asio::signal_set reload(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_reload =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        anvil::notify_reloading();
        if (std::string problem = load_keys(); !problem.empty()) {
          anvil::log_error("{}; keeping the keys loaded before", problem);
        } else {
          anvil::log_info("keys reloaded from {}: {}", config.keys_file, credentials.size());
        }
        anvil::notify_ready();
        reload.async_wait(on_reload);
      };
  reload.async_wait(on_reload);
  if (error = server.start(); !error.empty()) {
    anvil::log_error("{}", error);
    return 71;
  }
  anvil::notify_ready();
  io.run();
  // A worker may still wait on anvild (at most anvild_timeout); there is
  // nothing left to answer, so do not wait for it.
  if (server.busy() > 0) std::_Exit(0);
  return 0;
}
