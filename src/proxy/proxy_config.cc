#include "proxy/proxy_config.h"

#include "registry/wire_codec.h"

namespace anvil {

namespace {

// Addresses separated by blanks or commas; "" is an empty list.
bool parse_listen_list(const std::string& value, std::vector<HostPort>* out) {
  std::vector<HostPort> list;
  for (const std::string& word : split_list(value)) {
    auto parsed = parse_host_port(word);
    if (!parsed) return false;
    list.push_back(*parsed);
  }
  *out = std::move(list);
  return true;
}

// Networks separated by blanks or commas; "" is an empty list.
bool parse_network_list(const std::string& value, std::vector<Cidr>* out) {
  std::vector<Cidr> list;
  for (const std::string& word : split_list(value)) {
    auto network = Cidr::parse(word);
    if (!network) return false;
    list.push_back(*network);
  }
  *out = std::move(list);
  return true;
}

}  // namespace

std::string ProxyConfig::set(const std::string& key, const std::string& value) {
  auto bad = [&](const char* expected) {
    return "invalid value for " + key + ": '" + value + "' (expected " + expected + ")";
  };
  const std::chrono::milliseconds min_timeout{100}, max_timeout{86'400'000};
  auto set_size = [&](long long min, long long max, auto* out) -> bool {
    long long v = 0;
    if (!parse_integer(value, min, max, &v)) return false;
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
    return true;
  };
  if (key == "imap_listen" || key == "imaps_listen" || key == "pop3_listen" ||
      key == "pop3s_listen") {
    auto* list = key == "imap_listen"    ? &imap_listen
                 : key == "imaps_listen" ? &imaps_listen
                 : key == "pop3_listen"  ? &pop3_listen
                                         : &pop3s_listen;
    if (!parse_listen_list(value, list)) return bad("host:port, several separated by commas");
  } else if (key == "backend_imap" || key == "backend_pop3") {
    auto parsed = parse_host_port(value);
    if (!parsed || parsed->port == 0) return bad("host:port");
    (key == "backend_imap" ? backend_imap : backend_pop3) = *parsed;
  } else if (key == "backend_tls") {
    if (value == "none" || value == "no") {
      backend_tls = BackendTls::none;
    } else if (value == "starttls") {
      backend_tls = BackendTls::starttls;
    } else if (value == "tls" || value == "yes") {
      backend_tls = BackendTls::tls;
    } else {
      return bad("none, starttls or tls");
    }
  } else if (key == "backend_tls_verify") {
    if (!parse_bool(value, &backend_tls_verify)) return bad("yes or no");
  } else if (key == "backend_tls_ca") {
    backend_tls_ca = value;
  } else if (key == "backend_forward_client") {
    if (!parse_bool(value, &backend_forward_client)) return bad("yes or no");
  } else if (key == "user_map") {
    user_map = value;
  } else if (key == "anvil_socket") {
    if (value.empty()) return bad("a path");
    anvil_socket = value;
  } else if (key == "tls_cert") {
    tls_cert = value;
  } else if (key == "tls_key") {
    tls_key = value;
  } else if (key == "require_tls_for_login") {
    if (!parse_bool(value, &require_tls_for_login)) return bad("yes or no");
  } else if (key == "secure_networks" || key == "haproxy_trusted_networks") {
    auto* list = key == "secure_networks" ? &secure_networks : &haproxy_trusted_networks;
    if (!parse_network_list(value, list))
      return bad("networks like 10.0.0.0/8, separated by commas");
  } else if (key == "login_timeout" || key == "backend_timeout") {
    if (!parse_duration(value, min_timeout, max_timeout,
                        key == "login_timeout" ? &login_timeout : &backend_timeout)) {
      return bad("a duration like 30s or 500ms, at least 100ms");
    }
  } else if (key == "max_command_size") {
    if (!set_size(1024, 1 << 20, &max_command_size)) return bad("1024 to 1048576 bytes");
  } else if (key == "max_login_attempts") {
    if (!set_size(1, 100, &max_login_attempts)) return bad("1 to 100");
  } else if (key == "max_bad_commands") {
    if (!set_size(1, 1000, &max_bad_commands)) return bad("1 to 1000");
  } else if (key == "max_connections_per_ip" || key == "max_prelogin_per_ip" ||
             key == "max_connections_per_user") {
    std::size_t* target = key == "max_connections_per_ip" ? &max_connections_per_ip
                          : key == "max_prelogin_per_ip"  ? &max_prelogin_per_ip
                                                          : &max_connections_per_user;
    if (!set_size(0, 10'000'000, target)) return bad("0 (no limit) to 10000000");
  } else if (key == "login_penalty") {
    if (!parse_bool(value, &login_penalty)) return bad("yes or no");
  } else if (key == "login_penalty_max") {
    if (!parse_duration(value, std::chrono::milliseconds(0), std::chrono::minutes(10),
                        &login_penalty_max)) {
      return bad("a duration up to 10min");
    }
  } else if (key == "max_sessions") {
    if (!set_size(1, 10'000'000, &max_sessions)) return bad("1 to 10000000");
  } else {
    return "unknown setting: " + key;
  }
  return "";
}

SettingSetter ProxyConfig::setter() {
  return [this](const std::string& key, const std::string& value) { return set(key, value); };
}

std::string ProxyConfig::load_file(const std::string& path) {
  return load_settings_file(path, setter());
}

std::string ProxyConfig::load(const std::string& file, const std::vector<std::string>& overrides) {
  return load_settings(file, overrides, setter());
}

std::string ProxyConfig::apply_override(const std::string& assignment) {
  return apply_setting_override(assignment, setter());
}

std::string ProxyConfig::validate() const {
  if (tls_cert.empty() != tls_key.empty()) return "tls_cert and tls_key go together";
  if (!tls_configured() && (!imaps_listen.empty() || !pop3s_listen.empty())) {
    return "imaps_listen and pop3s_listen need tls_cert and tls_key";
  }
  if (imap_listen.empty() && imaps_listen.empty() && pop3_listen.empty() && pop3s_listen.empty()) {
    return "nothing to listen on: set imap_listen, imaps_listen, pop3_listen or pop3s_listen";
  }
  return "";
}

}  // namespace anvil
