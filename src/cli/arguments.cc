#include "cli/arguments.h"

#include "cluster/cluster_wire.h"
#include "common/numbers.h"
#include "common/time_text.h"
#include "registry/ban_table.h"

#include <algorithm>

namespace anvil {

const char* const kUsageText =
    "usage: anvilctl [-Dv] [--cluster | --node NAME] [-o setting=value] [-f formatter]\n"
    "                who [-1] [-a socket]\n"
    "                [-f passdb_field] [--service NAME] [--id CONN_ID]\n"
    "                [--started-before TIME] [--older-than DURATION]\n"
    "                [user_mask ...] [ip[/bits] ...]\n"
    "       anvilctl [-Dv] [-o setting=value] [-f formatter] kick [-a socket]\n"
    "                [-f passdb_field] [-h dest_host] [--dry-run] [--force] [--reason TEXT]\n"
    "                [--service NAME] [--id CONN_ID]\n"
    "                [--started-before TIME] [--older-than DURATION]\n"
    "                [user_mask ...] [ip[/bits] ...]\n"
    "       anvilctl [-Dv] [-o setting=value] [-f formatter] audit [-a socket] [-n N]\n"
    "       anvilctl [-Dv] [-o setting=value] [-f formatter] ban add [-a socket]\n"
    "                [-f passdb_field] [--duration DURATION] [--reason TEXT] [--force]\n"
    "                [user_mask ...] [ip[/bits] ...]\n"
    "       anvilctl [-Dv] [-o setting=value] [-f formatter] ban list [-a socket]\n"
    "       anvilctl [-Dv] [-o setting=value] ban rm [-a socket] BAN_ID|ip[/bits]|user_mask ...\n"
    "kick also takes --ban DURATION (or --ban forever): kick and ban in one step\n"
    "--cluster: who, kick and ban list on every node of anvild's cluster; --node NAME: on one\n"
    "formatters: table, flow, tab, pager, json\n"
    "settings (-o): run_dir=DIR, admin_socket=PATH\n";

namespace {

bool all_digits(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr const char* kFormatters[] = {"table", "flow", "tab", "pager", "json"};

// Walks the arguments one by one.
class ArgCursor {
 public:
  explicit ArgCursor(const std::vector<std::string>& args) : args_(args) {}
  bool done() const { return index_ >= args_.size(); }
  std::string next() { return args_[index_++]; }
  // The next argument as an option's value, if there is one.
  std::optional<std::string> value() {
    if (done()) return std::nullopt;
    return next();
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t index_ = 0;
};

std::optional<ArgumentError> error(std::string message) {
  return ArgumentError{std::move(message)};
}

std::optional<ArgumentError> add_target(const std::string& arg, Invocation* out) {
  if (!all_digits(arg) && looks_like_network(arg)) {
    auto net = Cidr::parse(arg);
    if (!net) return error("invalid IP address or network: " + arg);
    out->filter.networks.push_back(*net);
  } else {
    out->filter.users.emplace_back(arg);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ArgumentError> parse_arguments(const std::vector<std::string>& args,
                                             const HostResolver& resolve, Invocation* out,
                                             std::int64_t now) {
  ArgCursor cursor(args);
  std::string run_dir = ANVIL_DEFAULT_RUN_DIR;
  std::string admin_socket;

  // Global options, up to the command word.
  while (!cursor.done()) {
    std::string arg = cursor.next();
    if (arg == "--help") {
      out->command = Command::help;
      return std::nullopt;
    }
    if (arg == "--version") {
      out->command = Command::version;
      return std::nullopt;
    }
    if (arg == "who" || arg == "kick" || arg == "audit" || arg == "ban") {
      out->command = arg == "who"    ? Command::who
                     : arg == "kick" ? Command::kick
                     : arg == "ban"  ? Command::ban
                                     : Command::audit;
      break;
    }
    if (arg == "--cluster") {
      out->cluster = true;
      continue;
    }
    if (arg == "--node" || arg.starts_with("--node=")) {
      std::optional<std::string> value =
          arg == "--node" ? cursor.value() : std::optional<std::string>(arg.substr(7));
      if (!value || !cluster::valid_node_name(*value)) {
        return error("--node needs a node name (1 to 64 of A-Z a-z 0-9 - _)");
      }
      out->cluster = true;
      out->node = *value;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg[1] == '-') {
      return error(arg.starts_with("-") ? "unknown option: " + arg : "unknown command: " + arg);
    }
    for (std::size_t i = 1; i < arg.size(); i++) {
      char flag = arg[i];
      if (flag == 'D') {
        out->debug = true;
      } else if (flag == 'v') {
        out->verbose = true;
      } else if (flag == 'o' || flag == 'f') {
        std::optional<std::string> value;
        if (i + 1 < arg.size()) {
          value = arg.substr(i + 1);
        } else {
          value = cursor.value();
        }
        if (!value) return error(std::string("-") + flag + " needs a value");
        if (flag == 'f') {
          if (std::find(std::begin(kFormatters), std::end(kFormatters), *value) ==
              std::end(kFormatters)) {
            return error("unknown formatter: " + *value);
          }
          out->formatter = *value;
        } else {
          std::size_t eq = value->find('=');
          std::string key = value->substr(0, eq);
          if (eq == std::string::npos) return error("-o needs setting=value, got " + *value);
          std::string setting = value->substr(eq + 1);
          if (key == "run_dir" && !setting.empty()) {
            run_dir = setting;
          } else if (key == "admin_socket" && !setting.empty()) {
            admin_socket = setting;
          } else {
            return error("unknown or empty setting: " + *value);
          }
        }
        break;  // the value used up the rest of this cluster
      } else {
        return error(std::string("unknown option: -") + flag);
      }
    }
  }
  if (out->command == Command::none) return error("no command given (who, kick, ban or audit)");
  if (out->cluster && out->command == Command::audit) {
    return error("audit reads one node's trail; run it without --cluster on that node");
  }
  if (out->command == Command::ban) {
    std::string action;  // "-a socket" may come first
    while (!cursor.done() && action.empty()) {
      std::string arg = cursor.next();
      if (arg != "-a") {
        action = arg;
      } else if (auto value = cursor.value(); value && !value->empty()) {
        admin_socket = *value;
      } else {
        return error("-a needs a socket path");
      }
    }
    out->ban_action = action == "add"    ? BanAction::add
                      : action == "list" ? BanAction::list
                      : action == "rm"   ? BanAction::remove
                                         : BanAction::none;
    if (out->ban_action == BanAction::none) {
      return error(action.empty() ? "ban needs add, list or rm" : "unknown ban action: " + action);
    }
  }
  bool kick = out->command == Command::kick;
  bool ban_add = out->ban_action == BanAction::add;
  if (out->command == Command::audit) {
    while (!cursor.done()) {
      std::string arg = cursor.next();
      if (arg == "-a" || arg == "-n") {
        auto value = cursor.value();
        if (!value || value->empty()) return error(arg + " needs a value");
        if (arg == "-a") {
          admin_socket = *value;
        } else if (!parse_integer(*value, 1, 1000, &out->audit_count)) {
          return error("-n needs a number from 1 to 1000, got " + *value);
        }
      } else {
        return error("unknown argument for audit: " + arg);
      }
    }
    out->socket = admin_socket.empty() ? run_dir + "/anvil" : admin_socket;
    return std::nullopt;
  }

  if (out->ban_action == BanAction::list || out->ban_action == BanAction::remove) {
    bool list = out->ban_action == BanAction::list;

    while (!cursor.done()) {
      std::string arg = cursor.next();
      if (arg == "-a") {
        auto value = cursor.value();
        if (!value || value->empty()) return error("-a needs a socket path");
        admin_socket = *value;
        continue;
      }
      long long id = 0;
      if (list) return error("unknown argument for ban list: " + arg);
      if (all_digits(arg)) {  // an id from ban list
        if (!parse_integer(arg, 1, INT64_MAX, &id)) return error("invalid ban id: " + arg);
        out->ban_ids.push_back(static_cast<std::uint64_t>(id));
      } else if (arg.empty() || arg[0] == '-') {
        return error("unknown argument for ban rm: " + arg);
      } else if (looks_like_network(arg) && !Cidr::parse(arg)) {
        return error("invalid IP address or network: " + arg);
      } else {
        out->ban_targets.push_back(arg);
      }
    }
    if (!list && out->ban_ids.empty() && out->ban_targets.empty()) {
      return error("ban rm needs a ban's id (ban list), or the address, network or user it names");
    }
    out->socket = admin_socket.empty() ? run_dir + "/anvil" : admin_socket;
    return std::nullopt;
  }

  std::vector<std::string> hosts;
  bool options_done = false;
  while (!cursor.done()) {
    std::string arg = cursor.next();
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      if (auto problem = add_target(arg, out)) return problem;
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    // Long options, with "--name value" or "--name=value".
    std::string name = arg, inline_value;
    bool has_inline = false;
    if (arg.starts_with("--")) {
      if (std::size_t eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
        has_inline = true;
      }
    }
    // "-f value", "-fvalue", "--name value" or "--name=value".
    auto take_value = [&]() -> std::optional<std::string> {
      if (has_inline) return inline_value;
      if (arg.size() > 2 && !arg.starts_with("--")) return arg.substr(2);
      return cursor.value();
    };
    std::string short_name = arg.starts_with("--") ? name : arg.substr(0, 2);
    if (short_name == "-1" && arg == "-1" && out->command == Command::who) {
      out->one_per_connection = true;
    } else if (short_name == "-v" && arg == "-v") {
      out->verbose = true;
    } else if (name == "--started-before" || name == "--older-than") {
      auto value = take_value();
      if (!value) return error(name + " needs a value");
      std::optional<std::int64_t> before;
      if (name == "--started-before") {
        before = parse_time(*value, now);
        if (!before) {
          return error(
              "--started-before needs a time (unix seconds, 2026-11-30T10:42[:07][Z], "
              "or 10:42 for today), got " +
              *value);
        }
      } else {
        auto age = parse_duration(*value);
        if (!age) {
          return error(
              "--older-than needs a duration (90s, 15m, 2h, 1d, 1w, 1h30m; at most "
              "ten years), got " +
              *value);
        }
        before = now - *age;
      }
      // Both given: the earlier time says more.
      if (!out->filter.started_before || *before < *out->filter.started_before) {
        out->filter.started_before = before;
      }
    } else if ((kick && name == "--ban") || (ban_add && name == "--duration")) {
      auto value = take_value();
      if (!value) return error(name + " needs a value");
      std::optional<std::int64_t> seconds =
          *value == "forever" ? std::optional<std::int64_t>(0) : parse_duration(*value);
      if (!seconds || (*value != "forever" && *seconds == 0)) {
        return error(name +
                     " needs a duration (15m, 2h, 1d, 1w; at most ten years) or "
                     "forever, got " +
                     *value);
      }
      out->ban_duration = seconds;
    } else if (ban_add && (name == "--started-before" || name == "--older-than" ||
                           short_name == "-h" || name == "--service" || name == "--id")) {
      return error("a ban names user masks and networks only, not " + name);
    } else if (short_name == "-a" || short_name == "-f" || (kick && short_name == "-h") ||
               name == "--service" || name == "--id" || ((kick || ban_add) && name == "--reason")) {
      auto value = take_value();
      if (!value) return error(short_name + " needs a value");
      if (short_name == "-a") {
        if (value->empty()) return error("-a needs a socket path");
        admin_socket = *value;
      } else if (short_name == "-f") {
        if (value->empty()) return error("-f needs a passdb field name");
        out->filter.alt_field = *value;
      } else if (short_name == "-h") {
        hosts.push_back(*value);
      } else if (name == "--service") {
        if (value->empty()) return error("--service needs a name");
        out->filter.services.push_back(*value);
      } else if (name == "--id") {
        auto id = ConnectionId::parse(*value);
        if (!id) return error("invalid connection id (want 32 hex digits): " + *value);
        out->filter.ids.push_back(*id);
      } else {
        out->reason = *value;
        if (out->reason.empty()) return error("--reason needs a text");
      }
    } else if (kick && name == "--dry-run" && !has_inline) {
      out->dry_run = true;
    } else if ((kick || ban_add) && name == "--force" && !has_inline) {
      out->force = true;
    } else {
      return error("unknown option for " +
                   std::string(kick      ? "kick"
                               : ban_add ? "ban add"
                                         : "who") +
                   ": " + arg);
    }
  }

  for (const std::string& host : hosts) {
    if (auto ip = IpAddress::parse(host)) {
      out->filter.destinations.push_back(*ip);
      continue;
    }
    std::vector<IpAddress> addresses;
    std::string problem = resolve ? resolve(host, &addresses) : "cannot resolve host names";
    if (!problem.empty()) return error("-h " + host + ": " + problem);
    for (const IpAddress& ip : addresses) {
      if (std::find(out->filter.destinations.begin(), out->filter.destinations.end(), ip) ==
          out->filter.destinations.end()) {
        out->filter.destinations.push_back(ip);
      }
    }
  }

  if (!out->filter.alt_field.empty() && out->filter.users.empty()) {
    return error("-f " + out->filter.alt_field + " needs a user mask to match against it");
  }
  if (ban_add && out->filter.users.empty() && out->filter.networks.empty()) {
    return error("ban add needs a user mask or an ip[/bits]");
  }
  if (ban_add && !out->ban_duration) out->ban_duration = 0;  // no end unless --duration
  if (ban_add && out->reason == kDefaultKickReason) out->reason = kDefaultBanReason;
  if (kick && out->ban_duration &&
      (!out->filter.destinations.empty() || !out->filter.services.empty() ||
       !out->filter.ids.empty() || out->filter.started_before)) {
    return error(
        "--ban bans user masks and networks only: not with -h, --service, --id or a "
        "start time");
  }
  if (kick && out->filter.empty()) {
    return error(
        "kick needs a user mask, an ip[/bits], -h dest_host, --service, --id or "
        "--started-before/--older-than");
  }
  out->socket = admin_socket.empty() ? run_dir + "/anvil" : admin_socket;
  return std::nullopt;
}

}  // namespace anvil
