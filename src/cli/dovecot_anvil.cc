#include "cli/dovecot_anvil.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "common/dovecot_process.h"
#include "common/pidfd.h"
#include "registry/dovecot_ident.h"
#include "registry/wire_codec.h"

namespace anvil {

DovecotAnvil::DovecotAnvil(UniqueFd fd, std::string path, pid_t master_pid, bool debug)
    : fd_(std::move(fd)),
      path_(std::move(path)),
      master_pid_(master_pid),
      debug_(debug),
      input_(1 << 20) {
  if (debug_)
    std::fprintf(stderr, "anvilctl: debug: %s speaks Dovecot 2.3's protocol\n", path_.c_str());
  if (!write_all(fd_.get(), "VERSION\tanvil\t1\t0\n")) {
    throw CliError{kExitTempFail, "writing to " + path_ + " failed: " + std::strerror(errno)};
  }
}

std::vector<std::string> DovecotAnvil::read_fields() {
  std::string line;
  switch (anvil::read_line(fd_.get(), input_, &line)) {
    case ReadResult::line: break;
    case ReadResult::too_long:
      throw CliError{kExitSoftware, "Dovecot's anvil sent an over-long line"};
    case ReadResult::timed_out:
      throw CliError{kExitTempFail, "Dovecot's anvil did not answer in time on " + path_};
    case ReadResult::closed:
    case ReadResult::failed:
      throw CliError{kExitTempFail, "Dovecot's anvil closed the connection on " + path_};
  }
  if (debug_) std::fprintf(stderr, "anvilctl: debug: < %s\n", line.c_str());
  // An empty line ends a dump: return one empty field for it.
  return line.empty() ? std::vector<std::string>{""} : split_fields(line);
}

std::vector<Session> DovecotAnvil::sessions() {
  if (!write_all(fd_.get(), "CONNECT-DUMP\n")) {
    throw CliError{kExitTempFail, "writing to " + path_ + " failed: " + std::strerror(errno)};
  }
  std::vector<Session> out;
  while (true) {
    auto fields = read_fields();
    if (fields.size() == 1 && fields[0].empty()) return out;
    long long pid = 0, count = 0;
    auto ident = fields.size() >= 3 ? parse_dovecot_ident(fields[0]) : std::nullopt;
    if (!ident || !parse_integer(fields[1], 1, INT32_MAX, &pid) ||
        !parse_integer(fields[2], 1, 1'000'000, &count)) {
      std::fprintf(stderr, "anvilctl: warning: skipping a line Dovecot's anvil sent: %s\n",
                   fields.empty() ? "" : fields[0].c_str());
      continue;
    }
    Session session;
    session.service = ident->service;
    session.user = ident->user;
    session.client_ip = ident->ip;
    session.pid = static_cast<std::int32_t>(pid);
    for (long long i = 0; i < count; i++) out.push_back(session);  // one per connection
  }
}

KickResults DovecotAnvil::kick(const SessionFilter& filter, bool dry_run, bool force) {
  struct Process {
    std::vector<Session> hit;
    std::set<std::string> others;  // users of its connections that do not match
    std::vector<Session> all;
  };
  std::map<pid_t, Process> processes;
  std::vector<Session> selected;
  for (Session& s : sessions()) {
    Process& p = processes[s.pid];
    if (filter.matches(s)) {
      p.hit.push_back(s);
      selected.push_back(s);
    } else {
      p.others.insert(s.user);
    }
    p.all.push_back(std::move(s));
  }
  // Every Dovecot process ends only by a signal, whole.
  std::vector<KickGroup> plan = plan_kick(
      selected.size(), [&](std::size_t i) { return static_cast<std::uint64_t>(selected[i].pid); },
      [](std::uint64_t) { return true; },
      [&](std::uint64_t pid) { return processes[static_cast<pid_t>(pid)].all.size(); }, force);

  KickResults results;
  auto report = [&](const std::vector<Session>& sessions, KickStatus status,
                    const std::set<std::string>& others) {
    for (const Session& s : sessions) {
      results.push_back({s, status, std::vector<std::string>(others.begin(), others.end())});
    }
  };
  std::map<pid_t, UniqueFd> targets;
  for (const KickGroup& group : plan) {
    auto pid = static_cast<pid_t>(group.owner);
    Process& p = processes[pid];
    if (group.spared) {
      report(p.hit, KickStatus::shared, p.others);
    } else if (dry_run) {
      report(p.all, KickStatus::would_kick, {});
    } else {
      std::string error;
      UniqueFd pidfd = open_pidfd(pid, &error);
      if (pidfd) {
        targets.emplace(pid, std::move(pidfd));
      } else {
        report(p.hit, KickStatus::vanished, {});
      }
    }
  }
  if (targets.empty()) return results;

  // The pidfds pin the processes. A process still registered after they
  // were opened, and a child of Dovecot's master, is the one registered.
  std::set<pid_t> still_registered;
  for (const Session& s : sessions()) still_registered.insert(s.pid);
  for (auto& [pid, pidfd] : targets) {
    const Process& p = processes[pid];
    if (!still_registered.contains(pid)) {
      report(p.hit, KickStatus::vanished, {});
      continue;
    }
    // The rule anvild applies to the sessions it signals (one copy of it).
    std::vector<pid_t> masters;
    if (master_pid_ > 0) masters.push_back(master_pid_);
    if (std::string why = dovecot_signal_refusal(pid, masters, {}); !why.empty()) {
      for (const Session& s : p.hit) results.push_back({s, KickStatus::not_signalled, {}, why});
      continue;
    }
    std::string error = signal_pidfd(pidfd.get(), pid, SIGTERM);
    if (!error.empty()) std::fprintf(stderr, "anvilctl: %s\n", error.c_str());
    report(p.all, error.empty() ? KickStatus::kicked : KickStatus::not_dropped, {});
  }
  return results;
}

}  // namespace anvil
