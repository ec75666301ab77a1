// anvilctl: list (who) and disconnect (kick) the sessions anvild knows.
#include <netdb.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/admin_connection.h"
#include "cli/arguments.h"
#include "cli/reports.h"

namespace {

int terminal_width() {
  winsize size{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col < 30 ? 30 : size.ws_col;
  }
  return 80;
}

std::string resolve_host(const std::string& host, std::vector<anvil::IpAddress>* out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0)
    return gai_strerror(rc);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(result, freeaddrinfo);
  for (addrinfo* ai = result; ai; ai = ai->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    if (auto ip = anvil::IpAddress::parse(text)) out->push_back(*ip);
  }
  return out->empty() ? "no addresses" : "";
}

void print(const std::string& text, FILE* stream) {
  std::fputs(text.c_str(), stream);
}

int run(const anvil::Invocation& inv) {
  anvil::AdminConnection anvild(inv.socket, inv.debug);
  int width = terminal_width();
  if (inv.command == anvil::Command::who) {
    auto sessions = anvild.who(inv.filter);
    anvil::Table table = inv.one_per_connection
                             ? anvil::who_per_connection(sessions, inv.filter.alt_field)
                             : anvil::who_grouped(sessions);
    print(anvil::format(inv.formatter.empty() ? "table" : inv.formatter, table, width), stdout);
    return anvil::kExitOk;
  }
  auto results = anvild.kick(inv.filter, inv.reason, inv.dry_run, inv.force);
  anvil::Report report =
      anvil::kick_report(results, inv.formatter, inv.verbose, inv.dry_run, width);
  print(report.out, stdout);
  print(report.err, stderr);
  return report.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // anvild may close a refused connection while a request is still being
  // written; that must be an error message, not death by SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  anvil::Invocation inv;
  if (auto problem = anvil::parse_arguments(args, resolve_host, &inv)) {
    std::fprintf(stderr, "anvilctl: %s\n%s", problem->message.c_str(), anvil::kUsageText);
    return anvil::kExitUsage;
  }
  if (inv.command == anvil::Command::help) {
    print(anvil::kUsageText, stdout);
    return 0;
  }
  if (inv.command == anvil::Command::version) {
    std::printf("anvilctl %s\n", ANVIL_VERSION);
    return 0;
  }
  try {
    int code = run(inv);
    std::fflush(stdout);
    return code;
  } catch (const anvil::CliError& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "anvilctl: %s\n", error.message.c_str());
    return error.exit_code;
  }
}
