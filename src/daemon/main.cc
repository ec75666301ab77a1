// anvild: the connection registry daemon.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/command_line.h"
#include "common/log.h"
#include "daemon/daemon.h"

namespace {

constexpr const char* kUsage =
    "usage: anvild [--run-dir DIR] [-c FILE] [-o key=value]... [-D]\n"
    "\n"
    "Runs the anvil connection registry in the foreground, logging to stderr.\n"
    "\n"
    "  --run-dir DIR   directory of the sockets (default " ANVIL_DEFAULT_RUN_DIR
    ")\n"
    "                  DIR/anvil is the admin socket, DIR/anvil-service the\n"
    "                  socket services register on\n"
    "  -c FILE         read settings from FILE (key = value lines)\n"
    "  -o key=value    override one setting (after -c; may repeat)\n"
    "  -D              debug logging\n"
    "  --dovecot-service\n"
    "                  run as Dovecot 2.3's anvil service, started by Dovecot's\n"
    "                  master (service anvil { executable = ... }); see\n"
    "                  docs/dovecot.md\n"
    "  --help          this text\n"
    "  --version       print the version\n"
    "\n"
    "Settings: run_dir, admin_socket, service_socket, admin_socket_mode,\n"
    "service_socket_mode, service_socket_group, service_allow_uids,\n"
    "service_allow_groups, admin_allow_uids, admin_allow_groups,\n"
    "max_line_length, max_sessions_per_process, max_sessions_per_uid,\n"
    "max_sessions, max_service_clients, max_channels_per_uid,\n"
    "max_admin_clients, max_dovecot_processes, max_output_bytes,\n"
    "handshake_timeout_ms, admin_idle_timeout_ms, kick_timeout_ms, audit_log, ban_file,\n"
    "max_bans, "
    "dovecot_master_pid_files, dovecot_service_uids. See anvild(8).\n"
    "SIGHUP reopens the audit trail.\n";

const anvil::ProgramInfo kProgram{"anvild", ANVIL_VERSION, kUsage};

int usage_error(const std::string& message) {
  return anvil::usage_error(kProgram, message);
}

}  // namespace

int main(int argc, char** argv) {
  anvil::set_log_program("anvild");
  anvil::CommonOptions options;
  std::string run_dir;
  bool dovecot_service = false;
  if (auto exit_code = anvil::parse_command_line(
          kProgram, argc, argv, &options, [&](int* i) -> std::optional<int> {
            std::string arg = argv[*i];
            if (arg == "--dovecot-service") {
              dovecot_service = true;
            } else if (arg == "--run-dir") {
              if (*i + 1 >= argc) return usage_error("--run-dir needs a directory");
              run_dir = argv[++*i];
            } else if (arg.starts_with("--run-dir=")) {
              run_dir = arg.substr(10);
            } else {
              return usage_error("unknown argument: " + arg);
            }
            return std::nullopt;
          })) {
    return *exit_code;
  }

  anvil::DaemonConfig config;
  if (std::string error = config.load(options.config_file, options.overrides); !error.empty()) {
    anvil::log_error("{}", error);
    return 78;  // EX_CONFIG
  }
  if (!run_dir.empty()) config.run_dir = run_dir;
  config.dovecot_service = dovecot_service;
  // Under Dovecot's master, stderr is a pipe to Dovecot's log process, which
  // reads its own line format: choose it before the first line is logged.
  if (dovecot_service && std::getenv("LOG_SERVICE")) anvil::set_dovecot_log_format(true);

  ::signal(SIGPIPE, SIG_IGN);
  return anvil::run_daemon(config);
}
