// anvilctl: list (who) and disconnect (kick) the sessions anvild knows.
#include <netdb.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cli/admin_connection.h"
#include "cli/arguments.h"
#include "cli/dovecot_anvil.h"
#include "cli/reports.h"
#include "common/dovecot_process.h"

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

enum class Dialect { anvild, dovecot23, unknown };

// The process that created a UNIX socket's listener is its SO_PEERCRED
// peer: anvild itself, or Dovecot's master for Dovecot's own anvil. That
// tells the dialect without sending Dovecot a line it would log as an error.
// A master that daemonized made its sockets before it forked: that pid is
// gone, and the master is the one its master.pid, beside the socket in
// base_dir, names. *master_pid: Dovecot's master, when found.
Dialect socket_dialect(int fd, const std::string& socket_path, pid_t* master_pid) {
  auto cred = anvil::peer_credentials(fd);
  if (!cred || cred->pid <= 0) return Dialect::unknown;
  std::string name = anvil::process_name(cred->pid);
  if (name == "anvild") return Dialect::anvild;
  if (name == "dovecot") {
    *master_pid = cred->pid;
    return Dialect::dovecot23;
  }
  std::string base_dir = socket_path.substr(0, socket_path.rfind('/') + 1);
  if (auto master = anvil::read_pid_file(base_dir + "master.pid");
      master && anvil::process_name(*master) == "dovecot") {
    auto facts = anvil::read_process_facts(*master);
    if (facts && facts->uid == cred->uid) {  // the same owner as the socket's maker
      *master_pid = *master;
      return Dialect::dovecot23;
    }
  }
  return Dialect::unknown;
}

// Rows are printed as the sessions come, from anvild or from a list.
int print_who(const anvil::Invocation& inv,
              const std::function<void(const std::function<void(const anvil::Session&)>&)>& each) {
  anvil::TextSink out(stdout);
  anvil::WhoPrinter printer(inv.one_per_connection, inv.filter.alt_field,
                            inv.formatter.empty() ? "table" : inv.formatter, terminal_width(), out);
  each([&](const anvil::Session& s) { printer.add(s); });
  printer.finish();
  return anvil::kExitOk;
}

// Results are printed as they come, from anvild or from a list.
int print_kick(
    const anvil::Invocation& inv,
    const std::function<void(const std::function<void(const anvil::KickResult&)>&)>& each) {
  anvil::Report report;
  {
    anvil::TextSink out(stdout);
    anvil::KickReporter reporter(inv.formatter, inv.verbose, inv.dry_run, terminal_width(), out);
    each([&](const anvil::KickResult& result) { reporter.add(result); });
    report = reporter.finish();
  }
  print(report.err, stderr);
  return report.exit_code;
}

int run_ban(anvil::AdminConnection& anvild, const anvil::Invocation& inv) {
  switch (inv.ban_action) {
    case anvil::BanAction::add: {
      auto bans = anvild.ban_add(inv.filter, *inv.ban_duration, inv.reason, inv.force);
      if (inv.formatter.empty()) {
        std::string summary;
        for (const anvil::Ban& ban : bans) summary += anvil::ban_summary(ban);
        print(summary, stdout);
      } else {
        print(anvil::ban_report(bans, inv.formatter, terminal_width()), stdout);
      }
      return anvil::kExitOk;
    }
    case anvil::BanAction::list:
      print(anvil::ban_report(anvild.ban_list(), inv.formatter, terminal_width()), stdout);
      return anvil::kExitOk;
    default: {
      std::vector<std::uint64_t> ids = inv.ban_ids;
      if (!inv.ban_targets.empty()) {
        // By what the bans name: an address or network alone (fail2ban's
        // unban gives the address), or a user mask alone.
        std::vector<anvil::Ban> bans = anvild.ban_list();
        for (const std::string& target : inv.ban_targets) {
          std::size_t before = ids.size();
          auto network =
              anvil::looks_like_network(target) ? anvil::Cidr::parse(target) : std::nullopt;
          for (const anvil::Ban& ban : bans) {
            bool same = network ? !ban.user && ban.network &&
                                      ban.network->to_string() == network->to_string()
                                : ban.user && !ban.network && ban.alt_field.empty() &&
                                      ban.user->pattern() == target;
            if (same) ids.push_back(ban.id);
          }
          if (ids.size() == before) {
            throw anvil::CliError{anvil::kExitNotFound, "no ban of " + target + " alone"};
          }
        }
      }
      anvild.ban_remove(ids);
      return anvil::kExitOk;
    }
  }
}

int run_dovecot(anvil::DovecotAnvil& dovecot, const anvil::Invocation& inv) {
  if (inv.command == anvil::Command::audit) {
    throw anvil::CliError{anvil::kExitUsage, "Dovecot's anvil keeps no audit trail"};
  }
  if (inv.command == anvil::Command::ban || inv.ban_duration) {
    throw anvil::CliError{anvil::kExitUsage, "Dovecot 2.3's own anvil has no bans"};
  }
  if (!inv.filter.ids.empty()) {
    throw anvil::CliError{anvil::kExitUsage, "Dovecot 2.3's anvil has no connection ids (--id)"};
  }
  if (inv.filter.started_before) {
    throw anvil::CliError{anvil::kExitUsage,
                          "Dovecot 2.3's anvil keeps no start times (--started-before, "
                          "--older-than)"};
  }
  if (!inv.filter.destinations.empty() || !inv.filter.alt_field.empty()) {
    std::fputs(
        "anvilctl: warning: Dovecot 2.3's anvil knows no proxy destinations or "
        "alternative names; nothing matches -h or -f\n",
        stderr);
  }
  if (inv.command == anvil::Command::kick) {
    anvil::KickResults results = dovecot.kick(inv.filter, inv.dry_run, inv.force);
    return print_kick(inv, [&](const auto& row) {
      for (const anvil::KickResult& result : results) row(result);
    });
  }
  anvil::Sessions sessions;
  for (anvil::Session& s : dovecot.sessions()) {
    if (inv.filter.matches(s)) sessions.push_back(std::move(s));
  }
  std::stable_sort(sessions.begin(), sessions.end(), [](const auto& a, const auto& b) {
    return std::tie(a.user, a.service, a.pid) < std::tie(b.user, b.service, b.pid);
  });
  return print_who(inv, [&](const auto& row) {
    for (const anvil::Session& s : sessions) row(s);
  });
}

// After a cluster request: each node's part on stderr when one is missing
// (or with -v), and whether the answer is whole.
int report_nodes(const anvil::Invocation& inv, const anvil::AdminConnection& anvild, int code) {
  bool complete = anvild.cluster_complete();
  std::size_t missing = 0;
  for (const auto& node : anvild.node_statuses()) {
    missing += node.status != "answered";
    if (complete && !inv.verbose) continue;
    std::string line = "node " + node.node + ": " + node.status;
    if (!node.error.empty()) line += " (" + node.error + ")";
    line += " after " + std::to_string(node.ms) + " ms\n";
    print(line, stderr);
  }
  if (complete) return code;
  print("anvilctl: the answer is incomplete: " + std::to_string(missing) + " of " +
            std::to_string(anvild.node_statuses().size()) + " node(s) did not answer\n",
        stderr);
  return anvil::kExitTempFail;
}

int run_cluster(const anvil::Invocation& inv) {
  anvil::AdminConnection anvild(inv.socket, inv.debug);
  // A ban set or lifted on any node holds on all: no need to ask them.
  if (inv.command == anvil::Command::ban && inv.ban_action != anvil::BanAction::list) {
    return run_ban(anvild, inv);
  }
  anvild.set_cluster(inv.node);
  if (inv.command == anvil::Command::who) {
    // Each node's rows come sorted; together they are sorted again (by
    // pointer: a row is not moved once read).
    struct Row {
      anvil::Session session;
      std::string node;
    };
    std::deque<Row> rows;
    anvild.who_each(inv.filter, [&](const anvil::Session& s) {
      rows.push_back(Row{s, anvild.row_node()});
    });
    std::vector<const Row*> order;
    order.reserve(rows.size());
    for (const Row& row : rows) order.push_back(&row);
    std::stable_sort(order.begin(), order.end(), [](const Row* a, const Row* b) {
      return std::tie(a->session.user, a->session.service, a->node, a->session.pid,
                      a->session.start_time) < std::tie(b->session.user, b->session.service,
                                                        b->node, b->session.pid,
                                                        b->session.start_time);
    });
    anvil::TextSink out(stdout);
    anvil::WhoPrinter printer(inv.one_per_connection, inv.filter.alt_field,
                              inv.formatter.empty() ? "table" : inv.formatter, terminal_width(),
                              out, true);
    for (const Row* row : order) printer.add(row->session, row->node);
    printer.finish();
    out.flush();
    return report_nodes(inv, anvild, anvil::kExitOk);
  }
  if (inv.command == anvil::Command::ban) {
    std::vector<anvil::Ban> bans = anvild.ban_list();
    print(anvil::ban_report(bans, inv.formatter, terminal_width()), stdout);
    return report_nodes(inv, anvild, anvil::kExitOk);
  }
  anvil::Report report;
  std::vector<anvil::Ban> bans;
  {
    anvil::TextSink out(stdout);
    anvil::KickReporter reporter(inv.formatter, inv.verbose, inv.dry_run, terminal_width(), out,
                                 true);
    anvild.kick_each(
        inv.filter, inv.reason, inv.dry_run, inv.force,
        [&](const anvil::KickResult& r) { reporter.add(r, anvild.row_node()); }, inv.ban_duration,
        &bans);
    report = reporter.finish();
  }
  std::string summary;
  for (const anvil::Ban& ban : bans) summary += anvil::ban_summary(ban);
  print(summary, stdout);
  print(report.err, stderr);
  std::fflush(stdout);
  return report_nodes(inv, anvild, report.exit_code);
}

int run(const anvil::Invocation& inv) {
  if (inv.cluster) return run_cluster(inv);
  anvil::UniqueFd fd = anvil::connect_admin_socket(inv.socket);
  pid_t master_pid = 0;
  if (socket_dialect(fd.get(), inv.socket, &master_pid) != Dialect::dovecot23) {
    try {
      anvil::AdminConnection anvild(std::move(fd), inv.socket, inv.debug);
      if (inv.command == anvil::Command::who) {
        return print_who(inv, [&](const auto& row) { anvild.who_each(inv.filter, row); });
      }
      if (inv.command == anvil::Command::audit) {
        anvil::Report report = anvil::audit_report(anvild.audit(inv.audit_count), inv.formatter);
        print(report.out, stdout);
        print(report.err, stderr);
        return anvil::kExitOk;
      }
      if (inv.command == anvil::Command::ban) return run_ban(anvild, inv);
      std::vector<anvil::Ban> bans;
      int code = print_kick(inv, [&](const auto& row) {
        anvild.kick_each(inv.filter, inv.reason, inv.dry_run, inv.force, row, inv.ban_duration,
                         &bans);
      });
      std::string summary;
      for (const anvil::Ban& ban : bans) summary += anvil::ban_summary(ban);
      print(summary, stdout);
      return code;
    } catch (const anvil::NotAnvild&) {
      fd = anvil::connect_admin_socket(inv.socket);  // try Dovecot's dialect
    }
  }
  anvil::DovecotAnvil dovecot(std::move(fd), inv.socket, master_pid, inv.debug);
  return run_dovecot(dovecot, inv);
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
