// anvil-proxy: an IMAP and POP3 login proxy that registers every client
// connection with anvild, so `anvilctl who` and `kick` work for any mail
// server behind it.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/command_line.h"
#include "common/log.h"
#include "common/service_manager.h"
#include "proxy/proxy.h"

namespace {

constexpr const char* kUsage =
    "usage: anvil-proxy [-c FILE] [-o key=value]... [-D]\n"
    "\n"
    "Runs the IMAP/POP3 login proxy in the foreground, logging to stderr. It\n"
    "prints \"listening <protocol> <address>\" on stdout for every listener.\n"
    "\n"
    "  -c FILE        read settings from FILE (key = value lines)\n"
    "  -o key=value   override one setting (after -c; may repeat)\n"
    "  -D             debug logging\n"
    "  --help         this text\n"
    "  --version      print the version\n"
    "\n"
    "Settings: imap_listen, imaps_listen, pop3_listen, pop3s_listen,\n"
    "backend_imap, backend_pop3, backend_tls, backend_tls_verify,\n"
    "backend_tls_ca, backend_forward_client, user_map, anvil_socket, tls_cert,\n"
    "tls_key, require_tls_for_login, secure_networks, haproxy_trusted_networks,\n"
    "login_timeout, backend_timeout,\n"
    "max_command_size, max_login_attempts, max_bad_commands, max_sessions.\n"
    "See anvil-proxy(8). Signals: TERM/INT say goodbye to every client and\n"
    "exit; HUP re-reads the user map.\n";

const anvil::ProgramInfo kProgram{"anvil-proxy", ANVIL_VERSION, kUsage};

// Every session holds two descriptors once logged in. Raise the limit to
// what max_sessions needs: the hard limit too when privileged, else the
// soft limit as far as the hard limit allows.
void raise_fd_limit(std::size_t max_sessions) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlim_t wanted = static_cast<rlim_t>(max_sessions) * 2 + 256;
  if (limit.rlim_cur < wanted) {
    rlimit both{wanted, std::max(wanted, limit.rlim_max)};
    if (limit.rlim_max != RLIM_INFINITY && setrlimit(RLIMIT_NOFILE, &both) == 0) {
      limit = both;
    } else {
      limit.rlim_cur = std::min(wanted, limit.rlim_max);
      setrlimit(RLIMIT_NOFILE, &limit);
      getrlimit(RLIMIT_NOFILE, &limit);
    }
  }
  if (limit.rlim_cur < wanted) {
    anvil::log_warning("open file limit {} allows about {} sessions, fewer than max_sessions {}",
                       limit.rlim_cur, (limit.rlim_cur - 256) / 2, max_sessions);
  }
}

}  // namespace

int main(int argc, char** argv) {
  anvil::set_log_program("anvil-proxy");
  anvil::CommonOptions options;
  if (auto exit_code = anvil::parse_command_line(
          kProgram, argc, argv, &options, [&](int* i) -> std::optional<int> {
            return anvil::usage_error(kProgram, std::string("unknown argument: ") + argv[*i]);
          })) {
    return *exit_code;
  }

  anvil::ProxyConfig config;
  std::string error = config.load(options.config_file, options.overrides);
  if (error.empty()) error = config.validate();
  if (!error.empty()) {
    anvil::log_error("{}", error);
    return 78;
  }

  ::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit(config.max_sessions);
  asio::io_context io(1);
  anvil::Proxy proxy(io, config);
  asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](const asio::error_code& ec, int) {
    if (ec) return;
    anvil::notify_stopping();
    proxy.shut_down();
  });
  asio::signal_set reload(io, SIGHUP);
  std::function<void(const asio::error_code&, int)> on_reload = [&](const asio::error_code& ec,
                                                                    int) {
    if (ec) return;
    anvil::notify_reloading();
    proxy.reload_user_map();
    anvil::notify_ready();
    reload.async_wait(on_reload);
  };
  reload.async_wait(on_reload);
  // After the signal handlers: whoever sees the "listening" lines may signal.
  if (error = proxy.start(); !error.empty()) {
    anvil::log_error("{}", error);
    return 71;  // EX_OSERR: a port taken, a certificate missing, ...
  }
  anvil::notify_ready();
  io.run();
  anvil::log_info("stopped");
  return 0;
}
