#include "http/api.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "cli/arguments.h"
#include "cluster/cluster_wire.h"
#include "common/log.h"
#include "common/numbers.h"
#include "common/time_text.h"

namespace anvil {

namespace {

using nlohmann::json;

ApiResponse json_response(int status, const json& body) {
  return {status, "application/json",
          body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

ApiResponse error_response(int status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

// What an anvilctl exit code becomes over HTTP.
ApiResponse cli_error_response(const CliError& error) {
  switch (error.exit_code) {
    case kExitUsage: return error_response(400, error.message);
    case kExitNotFound: return error_response(404, error.message);
    case kExitNoPerm: return error_response(403, error.message);
    case kExitTempFail: {
      ApiResponse response = error_response(503, error.message);
      response.headers.emplace_back("Retry-After", "5");
      return response;
    }
    default: return error_response(502, error.message);
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); i++) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

json optional_ip(const std::optional<IpAddress>& ip) {
  return ip ? json(ip->to_string()) : json(nullptr);
}

json optional_port(std::uint16_t port) {
  return port ? json(port) : json(nullptr);
}

json time_value(std::int64_t unix_seconds) {
  return unix_seconds > 0 ? json(format_utc(unix_seconds)) : json(nullptr);
}

json session_json(const Session& s) {
  json alt = json::object();
  for (const AltName& name : s.alt_names) alt[name.field] = name.value;
  return {
      {"id", s.id.is_zero() ? json(nullptr) : json(s.id.to_hex())},
      {"user", s.user},
      {"service", s.service},
      {"pid", s.pid},
      {"uid", s.uid == kNoUid ? json(nullptr) : json(s.uid)},
      {"ip", optional_ip(s.client_ip)},
      {"port", optional_port(s.client_port)},
      {"local_port", optional_port(s.local_port)},
      {"dest_ip", optional_ip(s.dest_ip)},
      {"dest_port", optional_port(s.dest_port)},
      {"alt", alt},
      {"start", s.start_time > 0 ? json(s.start_time) : json(nullptr)},
      {"start_time", time_value(s.start_time)},
  };
}

json ban_json(const Ban& ban) {
  return {
      {"id", ban.id},
      {"user", ban.user ? json(ban.user->pattern()) : json(nullptr)},
      {"alt_field", ban.alt_field.empty() ? json(nullptr) : json(ban.alt_field)},
      {"net", ban.network ? json(ban.network->to_string()) : json(nullptr)},
      {"created", ban.created},
      {"created_time", time_value(ban.created)},
      {"expires", ban.expires ? json(ban.expires) : json(nullptr)},
      {"expires_time", time_value(ban.expires)},
      {"reason", ban.reason},
      {"by", ban.set_by},
  };
}

// anvil-httpd resolves no host names: a client's request must not make it
// wait on DNS. -h takes an address.
std::string resolve_address_only(const std::string& host, std::vector<IpAddress>* out) {
  if (auto ip = IpAddress::parse(host)) {
    out->push_back(*ip);
    return "";
  }
  return "anvil-httpd does not resolve host names; give an address";
}

// Parses a filter given as anvilctl's words for `command` (who, kick, ban
// add), so that it means what it means on the command line and fails with
// the same message. Returns "" or the message.
std::string parse_filter(const std::string& command, const std::vector<std::string>& words,
                         Invocation* out) {
  std::vector<std::string> args;
  if (command == "ban")
    args.emplace_back("ban"), args.emplace_back("add");
  else
    args.push_back(command);
  args.insert(args.end(), words.begin(), words.end());
  if (auto problem = parse_arguments(args, resolve_address_only, out)) return problem->message;
  return "";
}

// A user mask or network from a structured request: never an option.
std::string positional(const std::string& value, std::vector<std::string>* words) {
  if (value.empty() || value.front() == '-') return "invalid user mask or network: '" + value + "'";
  words->push_back(value);
  return "";
}

// The words for a filter given as JSON (kick's and ban's "filter" object,
// or doveadm's parameters). Strings or arrays of strings.
std::string words_from_json(const json& filter, bool allow_dest, std::vector<std::string>* words) {
  if (!filter.is_object()) return "filter must be an object";
  auto each = [&](const char* key, const std::function<std::string(const std::string&)>& take) {
    auto it = filter.find(key);
    if (it == filter.end() || it->is_null()) return std::string();
    std::vector<json> values =
        it->is_array() ? it->get<std::vector<json>>() : std::vector<json>{*it};
    for (const json& value : values) {
      if (!value.is_string()) return std::string(key) + " must be a string or a list of strings";
      if (std::string problem = take(value.get<std::string>()); !problem.empty()) return problem;
    }
    return std::string();
  };
  auto option = [&](const char* name) {
    return [words, name](const std::string& value) {
      words->push_back(name);
      words->push_back(value);
      return std::string();
    };
  };
  static const std::set<std::string> known = {"user", "net",  "field",          "service",
                                              "id",   "dest", "started_before", "older_than"};
  for (const auto& item : filter.items()) {
    if (!known.contains(item.key())) return "unknown filter key: " + item.key();
    if (item.key() == "dest" && !allow_dest) return "dest cannot be used here";
  }
  std::string problem;
  if (problem = each("user", [&](const std::string& v) { return positional(v, words); });
      !problem.empty())
    return problem;
  if (problem = each("net", [&](const std::string& v) { return positional(v, words); });
      !problem.empty())
    return problem;
  if (problem = each("field", option("-f")); !problem.empty()) return problem;
  if (problem = each("service", option("--service")); !problem.empty()) return problem;
  if (problem = each("id", option("--id")); !problem.empty()) return problem;
  if (problem = each("dest", option("-h")); !problem.empty()) return problem;
  if (problem = each("started_before", option("--started-before")); !problem.empty())
    return problem;
  return each("older_than", option("--older-than"));
}

// doveadm's HTTP API sends booleans as JSON booleans; some clients send
// strings.
// Each node's part in a cluster answer.
json nodes_json(const AdminConnection& connection) {
  json nodes = json::array();
  for (const AdminConnection::NodeStatus& status : connection.node_statuses()) {
    json node = {{"node", status.node}, {"status", status.status}, {"ms", status.ms}};
    if (!status.error.empty()) node["error"] = status.error;
    nodes.push_back(std::move(node));
  }
  return nodes;
}

bool truthy(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_string()) return value == "true" || value == "1" || value == "yes";
  if (value.is_number_integer()) return value.get<long long>() != 0;
  return false;
}

json doveadm_error(const std::string& type, const json& tag, int exit_code = 0) {
  json detail = {{"type", type}};
  if (type == "exitCode") detail["exitCode"] = exit_code;
  return json::array({"error", detail, tag});
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    pairs.emplace_back(percent_decode(pair.substr(0, eq)),
                       eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1)));
  }
  return pairs;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) i++;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') i++;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

Api::Api(const HttpConfig& config, AdminConnector connect)
    : config_(config), connect_(std::move(connect)) {}

bool Api::handles(std::string_view path) {
  return path == "/doveadm/v1" || path == "/metrics" || path.starts_with("/api/v1/");
}

std::unique_ptr<AdminConnection> Api::connect_for(const Principal& principal,
                                                  const ApiRequest& request) {
  std::unique_ptr<AdminConnection> connection = connect_();
  connection->set_on_behalf("anvil-httpd key " + principal.name + " from " + request.client);
  return connection;
}

ApiResponse Api::handle(const ApiRequest& request, const Principal& principal) {
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  try {
    if (path == "/doveadm/v1") {
      if (request.method == "GET") {
        json commands = json::array({
            {{"command", "who"},
             {"parameters", json::array({{{"name", "mask"}, {"type", "array"}},
                                         {{"name", "separateConnections"}, {"type", "boolean"}},
                                         {{"name", "passdbField"}, {"type", "string"}}})}},
            {{"command", "kick"},
             {"parameters", json::array({{{"name", "mask"}, {"type", "array"}},
                                         {{"name", "passdbField"}, {"type", "string"}},
                                         {{"name", "destHost"}, {"type", "string"}},
                                         {{"name", "force"}, {"type", "boolean"}},
                                         {{"name", "reason"}, {"type", "string"}}})}},
        });
        return json_response(200, commands);
      }
      if (request.method != "POST") return error_response(405, "use GET or POST");
      return doveadm(request, principal);
    }
    if (path == "/metrics") {
      if (request.method != "GET") return error_response(405, "use GET");
      return metrics();
    }
    if (path == "/api/v1/whoami") {
      return json_response(200,
                           {{"name", principal.name}, {"role", http_role_name(principal.role)}});
    }
    if (path == "/api/v1/sessions") {
      if (request.method != "GET") return error_response(405, "use GET");
      return sessions(request);
    }
    if (path == "/api/v1/kick") {
      if (request.method != "POST") return error_response(405, "use POST");
      if (principal.role != HttpRole::kick) {
        return error_response(403, "key " + principal.name + " may only read (role read)");
      }
      return kick(request, principal);
    }
    if (path == "/api/v1/bans" || path.starts_with("/api/v1/bans/")) {
      return bans(request, principal, path);
    }
    if (path == "/api/v1/audit") {
      if (request.method != "GET") return error_response(405, "use GET");
      return audit(request);
    }
    return error_response(404, "no such resource: " + std::string(path));
  } catch (const CliError& error) {
    return cli_error_response(error);
  } catch (const NotAnvild&) {
    return error_response(502, config_.admin_socket + " is not anvild's admin socket");
  }
}

ApiResponse Api::sessions(const ApiRequest& request) {
  std::string_view target = request.target;
  std::size_t question = target.find('?');
  auto query = parse_query(question == std::string_view::npos ? "" : target.substr(question + 1));
  std::vector<std::string> words, destinations;
  bool ask_cluster = false;  // ?cluster=1: every node of anvild's cluster; ?node=NAME: that one
  std::string node;
  long long limit = static_cast<long long>(std::min<std::size_t>(1000, config_.max_page_size));
  long long offset = 0;
  for (const auto& [key, value] : query) {
    std::string problem;
    if (key == "q") {
      for (std::string& word : split_words(value)) words.push_back(std::move(word));
    } else if (key == "user" || key == "net") {
      problem = positional(value, &words);
    } else if (key == "field") {
      words.insert(words.end(), {"-f", value});
    } else if (key == "service") {
      words.insert(words.end(), {"--service", value});
    } else if (key == "id") {
      words.insert(words.end(), {"--id", value});
    } else if (key == "started_before") {
      words.insert(words.end(), {"--started-before", value});
    } else if (key == "older_than") {
      words.insert(words.end(), {"--older-than", value});
    } else if (key == "dest") {
      destinations.push_back(value);
    } else if (key == "cluster") {
      if (value != "1" && value != "0" && value != "true" && value != "false") {
        problem = "cluster must be 1 or 0";
      }
      ask_cluster = ask_cluster || value == "1" || value == "true";
    } else if (key == "node") {
      if (!cluster::valid_node_name(value)) problem = "invalid node name: " + value;
      node = value;
      ask_cluster = true;
    } else if (key == "limit") {
      if (!parse_integer(value, 1, static_cast<long long>(config_.max_page_size), &limit)) {
        problem = "limit must be 1 to " + std::to_string(config_.max_page_size);
      }
    } else if (key == "offset") {
      if (!parse_integer(value, 0, INT64_MAX, &offset)) problem = "offset must be 0 or more";
    } else {
      problem = "unknown parameter: " + key;
    }
    if (!problem.empty()) return error_response(400, problem);
  }
  Invocation invocation;
  if (std::string problem = parse_filter("who", words, &invocation); !problem.empty()) {
    return error_response(400, problem);
  }
  for (const std::string& dest : destinations) {
    auto ip = IpAddress::parse(dest);
    if (!ip) return error_response(400, "invalid destination address: " + dest);
    invocation.filter.destinations.push_back(*ip);
  }
  auto connection = connect_();
  json rows = json::array();
  long long total = 0;
  if (!ask_cluster) {
    connection->who_each(invocation.filter, [&](const Session& session) {
      if (total >= offset && total < offset + limit) rows.push_back(session_json(session));
      total++;
    });
    return json_response(200, {{"total", total},
                               {"offset", offset},
                               {"limit", limit},
                               {"now", unix_seconds()},
                               {"sessions", std::move(rows)}});
  }
  // Each node's rows come sorted; merged, they are sorted again, then paged.
  connection->set_cluster(node);
  std::vector<std::pair<Session, std::string>> all;
  connection->who_each(invocation.filter, [&](const Session& session) {
    all.emplace_back(session, connection->row_node());
  });
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.user, a.first.service, a.second, a.first.pid, a.first.start_time) <
           std::tie(b.first.user, b.first.service, b.second, b.first.pid, b.first.start_time);
  });
  total = static_cast<long long>(all.size());
  for (long long i = offset; i < total && i < offset + limit; i++) {
    json row = session_json(all[static_cast<std::size_t>(i)].first);
    row["node"] = all[static_cast<std::size_t>(i)].second;
    rows.push_back(std::move(row));
  }
  return json_response(200, {{"total", total},
                             {"offset", offset},
                             {"limit", limit},
                             {"now", unix_seconds()},
                             {"complete", connection->cluster_complete()},
                             {"nodes", nodes_json(*connection)},
                             {"sessions", std::move(rows)}});
}

ApiResponse Api::kick(const ApiRequest& request, const Principal& principal) {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return error_response(400, "the body must be a JSON object");
  }
  static const std::set<std::string> known = {"filter", "q",   "reason",  "dry_run",
                                              "force",  "ban", "cluster", "node"};
  for (const auto& item : body.items()) {
    if (!known.contains(item.key())) return error_response(400, "unknown field: " + item.key());
  }
  std::vector<std::string> words;
  if (auto q = body.find("q"); q != body.end()) {
    if (!q->is_string()) return error_response(400, "q must be a string");
    words = split_words(q->get<std::string>());
  }
  if (auto filter = body.find("filter"); filter != body.end()) {
    if (std::string problem = words_from_json(*filter, true, &words); !problem.empty()) {
      return error_response(400, problem);
    }
  }
  Invocation invocation;
  if (std::string problem = parse_filter("kick", words, &invocation); !problem.empty()) {
    return error_response(400, problem);
  }
  std::string reason(kDefaultKickReason);
  if (auto it = body.find("reason"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return error_response(400, "reason must be a string");
    if (!it->get<std::string>().empty()) reason = it->get<std::string>();
  }
  auto flag = [&](const char* key, bool* out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return true;
    if (!it->is_boolean()) return false;
    *out = it->get<bool>();
    return true;
  };
  bool dry_run = false, force = false;
  if (!flag("dry_run", &dry_run)) return error_response(400, "dry_run must be true or false");
  if (!flag("force", &force)) return error_response(400, "force must be true or false");
  std::optional<std::int64_t> ban;
  if (auto it = body.find("ban"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<long long>() < 0) {
      return error_response(400, "ban must be a number of seconds (0: no end)");
    }
    ban = it->get<long long>();
  }
  bool ask_cluster = false;
  if (!flag("cluster", &ask_cluster)) return error_response(400, "cluster must be true or false");
  std::string node;
  if (auto it = body.find("node"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || !cluster::valid_node_name(it->get<std::string>())) {
      return error_response(400, "node must be a node name");
    }
    node = it->get<std::string>();
    ask_cluster = true;
  }
  auto connection = connect_for(principal, request);
  if (ask_cluster) connection->set_cluster(node);
  json results = json::array();
  long long kicked = 0;
  std::vector<Ban> bans;
  connection->kick_each(
      invocation.filter, reason, dry_run, force,
      [&](const KickResult& result) {
        json row = {{"status", kick_status_name(result.status)},
                    {"session", session_json(result.session)}};
        if (!result.why.empty()) row["why"] = result.why;
        if (ask_cluster) row["node"] = connection->row_node();
        results.push_back(std::move(row));
        kicked += result.status == KickStatus::kicked;
      },
      ban, &bans);
  json bans_json = json::array();
  for (const Ban& b : bans) bans_json.push_back(ban_json(b));
  if (!dry_run) {
    log_info("kick by key {} from {}: {} matched, {} kicked", principal.name, request.client,
             results.size(), kicked);
  }
  json answer = {{"dry_run", dry_run},
                 {"matched", results.size()},
                 {"kicked", kicked},
                 {"results", std::move(results)},
                 {"bans", std::move(bans_json)}};
  if (ask_cluster) {
    answer["complete"] = connection->cluster_complete();
    answer["nodes"] = nodes_json(*connection);
  }
  return json_response(200, answer);
}

ApiResponse Api::bans(const ApiRequest& request, const Principal& principal,
                      std::string_view path) {
  if (path == "/api/v1/bans" && request.method == "GET") {
    json list = json::array();
    for (const Ban& ban : connect_()->ban_list()) list.push_back(ban_json(ban));
    return json_response(200, {{"bans", std::move(list)}, {"now", unix_seconds()}});
  }
  if (principal.role != HttpRole::kick) {
    return error_response(403, "key " + principal.name + " may only read (role read)");
  }
  if (path == "/api/v1/bans" && request.method == "POST") {
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return error_response(400, "the body must be a JSON object");
    }
    json filter = json::object();
    for (const auto& [key, value] : body.items()) {
      if (key == "user" || key == "net" || key == "field") {
        filter[key] = value;
      } else if (key != "duration" && key != "reason" && key != "force") {
        return error_response(400, "unknown field: " + key);
      }
    }
    std::vector<std::string> words;
    if (std::string problem = words_from_json(filter, false, &words); !problem.empty()) {
      return error_response(400, problem);
    }
    Invocation invocation;
    if (std::string problem = parse_filter("ban", words, &invocation); !problem.empty()) {
      return error_response(400, problem);
    }
    std::int64_t duration = 0;
    if (auto it = body.find("duration"); it != body.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<long long>() < 0) {
        return error_response(400, "duration must be a number of seconds (0: no end)");
      }
      duration = it->get<long long>();
    }
    std::string reason(kDefaultBanReason);
    if (auto it = body.find("reason"); it != body.end() && !it->is_null()) {
      if (!it->is_string()) return error_response(400, "reason must be a string");
      if (!it->get<std::string>().empty()) reason = it->get<std::string>();
    }
    bool force = false;
    if (auto it = body.find("force"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) return error_response(400, "force must be true or false");
      force = it->get<bool>();
    }
    json list = json::array();
    for (const Ban& ban :
         connect_for(principal, request)->ban_add(invocation.filter, duration, reason, force)) {
      list.push_back(ban_json(ban));
    }
    return json_response(201, {{"bans", std::move(list)}});
  }
  if (path.starts_with("/api/v1/bans/") && request.method == "DELETE") {
    long long id = 0;
    if (!parse_integer(path.substr(13), 1, INT64_MAX, &id)) {
      return error_response(400, "a ban id is a positive number");
    }
    connect_for(principal, request)->ban_remove({static_cast<std::uint64_t>(id)});
    return json_response(200, {{"removed", id}});
  }
  return error_response(405, "GET or POST /api/v1/bans, DELETE /api/v1/bans/<id>");
}

ApiResponse Api::audit(const ApiRequest& request) {
  std::string_view target = request.target;
  std::size_t question = target.find('?');
  long long count = 50;
  for (const auto& [key, value] :
       parse_query(question == std::string_view::npos ? "" : target.substr(question + 1))) {
    if (key != "count" || !parse_integer(value, 1, 1000, &count)) {
      return error_response(400, "audit takes count=1..1000");
    }
  }
  json records = json::array();
  for (const std::string& text : connect_()->audit(count)) {
    json record = json::parse(text, nullptr, false);
    if (!record.is_discarded()) records.push_back(std::move(record));
  }
  return json_response(200, {{"records", std::move(records)}});
}

ApiResponse Api::metrics() {
  struct Family {
    const char* type;
    const char* help;
  };
  static const std::map<std::string, Family> families = {
      {"sessions", {"gauge", "Sessions registered, by service and state."}},
      {"sessions_total", {"gauge", "Sessions registered."}},
      {"registrations_total", {"counter", "Sessions registered since anvild started."}},
      {"removals_total", {"counter", "Sessions removed since anvild started."}},
      {"bans", {"gauge", "Bans in force."}},
      {"service_processes", {"gauge", "Service processes connected to anvild."}},
      {"kicks_total", {"counter", "Kick requests run, dry runs included."}},
      {"kick_outcomes_total", {"counter", "What became of each connection a kick selected."}},
      {"admin_requests_total", {"counter", "Admin requests anvild answered, by command."}},
  };
  std::vector<AdminConnection::Stat> stats = connect_()->stats();
  // One family's samples together, each family once.
  std::stable_sort(stats.begin(), stats.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  auto escape = [](const std::string& value) {
    std::string out;
    for (char c : value) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out;
  };
  auto metric_name = [](const std::string& name) {
    // "sessions_total" is a gauge: Prometheus reserves _total for counters.
    return name == "sessions_total" ? std::string("anvil_sessions_all") : "anvil_" + name;
  };
  std::string out;
  std::string current;
  for (const AdminConnection::Stat& stat : stats) {
    auto family = families.find(stat.name);
    if (family == families.end()) continue;  // a newer anvild's: not described here
    std::string name = metric_name(stat.name);
    if (stat.name != current) {
      current = stat.name;
      out += "# HELP " + name + " " + family->second.help + "\n";
      out += "# TYPE " + name + " " + family->second.type + "\n";
    }
    out += name;
    if (!stat.labels.empty()) {
      out += '{';
      for (std::size_t i = 0; i < stat.labels.size(); i++) {
        if (i) out += ',';
        out += stat.labels[i].first + "=\"" + escape(stat.labels[i].second) + "\"";
      }
      out += '}';
    }
    out += " " + std::to_string(stat.value) + "\n";
  }
  out += "# HELP anvil_up Whether anvild answered.\n# TYPE anvil_up gauge\nanvil_up 1\n";
  return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(out)};
}

ApiResponse Api::doveadm(const ApiRequest& request, const Principal& principal) {
  json body = json::parse(request.body, nullptr, false);
  auto invalid = [] { return ApiResponse{400, "text/plain", "Invalid request\n"}; };
  if (body.is_discarded() || !body.is_array()) return invalid();
  for (const json& command : body) {
    if (!command.is_array() || command.size() != 3 || !command[0].is_string() ||
        !command[1].is_object() || !command[2].is_string()) {
      return invalid();
    }
  }
  json answers = json::array();
  for (const json& command : body) {
    const std::string name = command[0].get<std::string>();
    const json& params = command[1];
    const json& tag = command[2];
    if (name != "who" && name != "kick") {
      answers.push_back(doveadm_error("unknownMethod", tag));
      continue;
    }
    if (name == "kick" && principal.role != HttpRole::kick) {
      answers.push_back(doveadm_error("unAuthorized", tag));
      continue;
    }
    std::vector<std::string> words;
    std::string problem;
    bool separate = false, force = false;
    std::string reason(kDefaultKickReason), alt_field;
    for (const auto& [key, value] : params.items()) {
      if (key == "mask") {
        std::vector<json> masks =
            value.is_array() ? value.get<std::vector<json>>() : std::vector<json>{value};
        for (const json& mask : masks) {
          if (!mask.is_string()) {
            problem = "mask must be strings";
          } else {
            problem = positional(mask.get<std::string>(), &words);
          }
          if (!problem.empty()) break;
        }
      } else if (key == "separateConnections" && name == "who") {
        separate = truthy(value);
      } else if (key == "passdbField" && value.is_string()) {
        alt_field = value.get<std::string>();
        words.insert(words.end(), {"-f", alt_field});
      } else if (key == "destHost" && name == "kick" && value.is_string()) {
        words.insert(words.end(), {"-h", value.get<std::string>()});
      } else if (key == "force" && name == "kick") {
        force = truthy(value);
      } else if (key == "reason" && name == "kick" && value.is_string()) {
        reason = value.get<std::string>();
      } else {
        problem = "unknown parameter " + key;
      }
      if (!problem.empty()) break;
    }
    Invocation invocation;
    if (problem.empty()) problem = parse_filter(name, words, &invocation);
    if (!problem.empty()) {
      log_info("doveadm {} from key {}: {}", name, principal.name, problem);
      answers.push_back(doveadm_error("exitCode", tag, kExitUsage));
      continue;
    }
    try {
      if (name == "who") {
        json rows = json::array();
        // Grouped as doveadm groups: by user and service, in anvild's order.
        struct Group {
          std::string user, service;
          std::size_t count = 0;
          std::set<std::int32_t> pids;
          std::set<IpAddress> ips;
        };
        std::optional<Group> group;
        auto flush = [&] {
          if (!group) return;
          // "(1 2)", "(192.0.2.7 ::1)", as doveadm writes them.
          std::string pids = "(", ips = "(";
          for (std::int32_t pid : group->pids) {
            if (pids.size() > 1) pids += ' ';
            pids += std::to_string(pid);
          }
          for (const IpAddress& ip : group->ips) {
            if (ips.size() > 1) ips += ' ';
            ips += ip.to_string();
          }
          rows.push_back({{"username", group->user},
                          {"connections", std::to_string(group->count)},
                          {"service", group->service},
                          {"pids", pids + ")"},
                          {"ips", ips + ")"}});
          group.reset();
        };
        connect_()->who_each(invocation.filter, [&](const Session& s) {
          if (separate) {
            json row = {{"username", s.user},
                        {"service", s.service},
                        {"pid", std::to_string(s.pid)},
                        {"ip", s.client_ip ? s.client_ip->to_string() : ""},
                        {"dest_ip", s.dest_ip ? s.dest_ip->to_string() : ""}};
            if (!alt_field.empty()) {
              std::string value;
              for (const AltName& alt : s.alt_names) {
                if (ascii_fold(alt.field) == ascii_fold(alt_field)) value = alt.value;
              }
              row[alt_field] = value;
            }
            rows.push_back(std::move(row));
            return;
          }
          if (group && (group->user != s.user || group->service != s.service)) flush();
          if (!group) group = Group{s.user, s.service, 0, {}, {}};
          group->count++;
          group->pids.insert(s.pid);
          if (s.client_ip) group->ips.insert(*s.client_ip);
        });
        flush();
        answers.push_back(json::array({"doveadmResponse", std::move(rows), tag}));
        continue;
      }
      auto connection = connect_for(principal, request);
      std::set<std::string> users;
      std::size_t matched = 0, kicked = 0;
      connection->kick_each(invocation.filter, reason, false, force, [&](const KickResult& r) {
        matched++;
        if (r.status == KickStatus::kicked) {
          kicked++;
          users.insert(r.session.user);
        }
      });
      log_info("doveadm kick by key {} from {}: {} matched, {} kicked", principal.name,
               request.client, matched, kicked);
      if (config_.doveadm_dialect == DoveadmDialect::v24) {
        answers.push_back(json::array(
            {"doveadmResponse", json::array({{{"count", std::to_string(kicked)}}}), tag}));
      } else if (matched == 0) {
        answers.push_back(doveadm_error("exitCode", tag, kExitNotFound));
      } else {
        json rows = json::array();
        for (const std::string& user : users) rows.push_back({{"result", user}});
        answers.push_back(json::array({"doveadmResponse", std::move(rows), tag}));
      }
    } catch (const CliError& error) {
      log_warning("doveadm {} from key {}: {}", name, principal.name, error.message);
      if (error.exit_code == kExitTempFail) throw;  // anvild down: 503 for the whole request
      answers.push_back(doveadm_error("exitCode", tag, error.exit_code));
    }
  }
  return json_response(200, answers);
}

}  // namespace anvil
