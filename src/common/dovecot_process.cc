#include "common/dovecot_process.h"

#include "common/numbers.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace anvil {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::string process_name(pid_t pid) {
  std::string name = read_file("/proc/" + std::to_string(pid) + "/comm");
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

std::optional<ProcessFacts> read_process_facts(pid_t pid) {
  std::string base = "/proc/" + std::to_string(pid);
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // the fields after the last ')' are read.
  std::string stat = read_file(base + "/stat");
  std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  ProcessFacts facts;
  char state = 0;
  int parent = 0;
  if (std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &parent) != 2) return std::nullopt;
  facts.parent = parent;
  std::istringstream status(read_file(base + "/status"));
  std::string line;
  bool have_uid = false;
  while (std::getline(status, line)) {
    if (!line.starts_with("Uid:")) continue;
    unsigned real = 0, effective = 0;
    have_uid = std::sscanf(line.c_str() + 4, "%u %u", &real, &effective) == 2;
    facts.uid = effective;
    break;
  }
  if (!have_uid) return std::nullopt;
  return facts;
}

std::string dovecot_signal_refusal(pid_t pid, const std::vector<pid_t>& masters,
                                   const std::vector<uid_t>& uids) {
  auto facts = read_process_facts(pid);
  if (!facts) return "the process is gone";
  if (masters.empty()) return "no Dovecot master is known to check it against";
  if (std::find(masters.begin(), masters.end(), facts->parent) == masters.end()) {
    return "it is not a child of Dovecot's master (its parent is pid " +
           std::to_string(facts->parent) + ")";
  }
  if (uids.empty() ? facts->uid == 0
                   : std::find(uids.begin(), uids.end(), facts->uid) == uids.end()) {
    return "it runs as uid " + std::to_string(facts->uid) + ", not as a Dovecot service's uid";
  }
  return "";
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  std::string text = read_file(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  long long pid = 0;
  if (!parse_integer(text, 1, INT32_MAX, &pid)) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace anvil
