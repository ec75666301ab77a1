#include "registry/wire_codec.h"

#include <charconv>

namespace anvil {

namespace {

bool split_key_value(std::string_view field, std::string_view* key, std::string_view* value) {
  std::size_t eq = field.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  *key = field.substr(0, eq);
  *value = field.substr(eq + 1);
  return true;
}

std::string parse_optional_ip(std::string_view key, std::string_view value,
                              std::optional<IpAddress>* out) {
  if (value.empty()) {
    out->reset();
    return "";
  }
  *out = IpAddress::parse(value);
  if (!*out) return "invalid " + std::string(key) + ": " + std::string(value);
  return "";
}

}  // namespace

void add_session_info_fields(LineWriter& line, const Session& s) {
  if (!s.user.empty()) line.add("user", s.user);
  if (s.client_ip) line.add("ip", s.client_ip->to_string());
  if (s.client_port) line.add("port", s.client_port);
  if (s.local_port) line.add("local_port", s.local_port);
  if (s.dest_ip) line.add("dest_ip", s.dest_ip->to_string());
  if (s.dest_port) line.add("dest_port", s.dest_port);
  for (const AltName& alt : s.alt_names) line.add(alt.field, alt.value);
}

void add_session_fields(LineWriter& line, const Session& s) {
  char hex[32];
  s.id.write_hex(hex);
  line.add("id", std::string_view(hex, sizeof hex));
  line.add("service", s.service);
  line.add("pid", s.pid);
  if (s.uid != kNoUid) line.add("uid", s.uid);
  line.add("start", s.start_time);
  add_session_info_fields(line, s);
}

std::string apply_session_field(Session& s, std::string_view field, FieldScope scope) {
  std::string_view key, value;
  if (!split_key_value(field, &key, &value))
    return "field without key=value: " + std::string(field);
  if (key == "user") {
    s.user = value;
  } else if (key == "ip") {
    return parse_optional_ip(key, value, &s.client_ip);
  } else if (key == "dest_ip") {
    return parse_optional_ip(key, value, &s.dest_ip);
  } else if (key == "port" || key == "local_port" || key == "dest_port") {
    std::uint16_t* port = key == "port"         ? &s.client_port
                          : key == "local_port" ? &s.local_port
                                                : &s.dest_port;
    if (!parse_port(value, port, 0))
      return "invalid " + std::string(key) + ": " + std::string(value);
  } else if (key.starts_with("user_")) {
    if (value.empty()) return "";
    for (AltName& alt : s.alt_names) {
      if (alt.field == key) {
        alt.value = value;
        return "";
      }
    }
    s.alt_names.push_back({std::string(key), std::string(value)});
  } else if (scope == FieldScope::full && key == "id") {
    auto id = ConnectionId::parse(value);
    if (!id) return "invalid id: " + std::string(value);
    s.id = *id;
  } else if (scope == FieldScope::full && key == "service") {
    s.service = value;
  } else if (scope == FieldScope::full && key == "pid") {
    long long pid = 0;
    if (!parse_integer(value, 0, INT32_MAX, &pid)) return "invalid pid: " + std::string(value);
    s.pid = static_cast<std::int32_t>(pid);
  } else if (scope == FieldScope::full && key == "uid") {
    long long uid = 0;
    if (!parse_integer(value, 0, kNoUid - 1, &uid)) return "invalid uid: " + std::string(value);
    s.uid = static_cast<std::uint32_t>(uid);
  } else if (scope == FieldScope::full && key == "start") {
    long long start = 0;
    if (!parse_integer(value, 0, INT64_MAX, &start)) return "invalid start: " + std::string(value);
    s.start_time = start;
  }
  return "";
}

void add_filter_fields(LineWriter& line, const SessionFilter& f) {
  for (const UserMask& mask : f.users) line.add("user", mask.pattern());
  if (!f.alt_field.empty()) line.add("alt_field", f.alt_field);
  for (const Cidr& net : f.networks) line.add("net", net.to_string());
  for (const IpAddress& ip : f.destinations) line.add("dest", ip.to_string());
  for (const std::string& service : f.services) line.add("service", service);
  for (std::int32_t pid : f.pids) line.add("pid", pid);
  for (const ConnectionId& id : f.ids) line.add("id", id.to_hex());
  if (f.started_before) line.add("started_before", *f.started_before);
}

std::string apply_filter_field(SessionFilter& f, std::string_view field) {
  std::string_view key, value;
  if (!split_key_value(field, &key, &value))
    return "filter field without key=value: " + std::string(field);
  auto invalid = [&] { return "invalid filter " + std::string(key) + ": " + std::string(value); };
  if (key == "user") {
    f.users.emplace_back(std::string(value));
  } else if (key == "alt_field") {
    if (value.empty()) return invalid();
    f.alt_field = value;
  } else if (key == "net") {
    auto net = Cidr::parse(value);
    if (!net) return invalid();
    f.networks.push_back(*net);
  } else if (key == "dest") {
    auto ip = IpAddress::parse(value);
    if (!ip) return invalid();
    f.destinations.push_back(*ip);
  } else if (key == "service") {
    if (value.empty()) return invalid();
    f.services.emplace_back(value);
  } else if (key == "pid") {
    long long pid = 0;
    if (!parse_integer(value, 1, INT32_MAX, &pid)) return invalid();
    f.pids.push_back(static_cast<std::int32_t>(pid));
  } else if (key == "id") {
    auto id = ConnectionId::parse(value);
    if (!id) return invalid();
    f.ids.push_back(*id);
  } else if (key == "started_before") {
    long long seconds = 0;
    if (f.started_before || !parse_integer(value, 0, INT64_MAX, &seconds)) return invalid();
    f.started_before = seconds;
  } else {
    return "unknown filter field: " + std::string(key);
  }
  return "";
}

}  // namespace anvil
