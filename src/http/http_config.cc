#include "http/http_config.h"

#include "common/numbers.h"
#include "common/settings_file.h"

namespace anvil {

std::string HttpConfig::set(const std::string& key, const std::string& value) {
  auto bad = [&](const char* expected) {
    return "invalid value for " + key + ": '" + value + "' (expected " + expected + ")";
  };
  auto set_size = [&](long long min, long long max, std::size_t* out) {
    long long v = 0;
    if (!parse_integer(value, min, max, &v)) return false;
    *out = static_cast<std::size_t>(v);
    return true;
  };
  auto set_duration = [&](std::chrono::milliseconds* out) {
    return parse_duration(value, std::chrono::milliseconds(100),
                          std::chrono::milliseconds(3'600'000), out);
  };
  if (key == "listen" || key == "tls_listen") {
    std::vector<HostPort> list;
    for (const std::string& word : split_list(value)) {
      auto parsed = parse_host_port(word);
      if (!parsed) return bad("host:port, several separated by commas");
      list.push_back(*parsed);
    }
    (key == "listen" ? listen : tls_listen) = std::move(list);
  } else if (key == "tls_cert") {
    tls_cert = value;
  } else if (key == "tls_key") {
    tls_key = value;
  } else if (key == "admin_socket") {
    if (value.empty()) return bad("a path");
    admin_socket = value;
  } else if (key == "keys_file") {
    if (value.empty()) return bad("a path");
    keys_file = value;
  } else if (key == "doveadm_dialect") {
    if (value == "2.3") {
      doveadm_dialect = DoveadmDialect::v23;
    } else if (value == "2.4") {
      doveadm_dialect = DoveadmDialect::v24;
    } else {
      return bad("2.3 or 2.4");
    }
  } else if (key == "max_clients") {
    if (!set_size(1, 100'000, &max_clients)) return bad("1 to 100000");
  } else if (key == "max_header_size") {
    if (!set_size(1024, 1 << 20, &max_header_size)) return bad("1024 to 1048576 bytes");
  } else if (key == "max_body_size") {
    if (!set_size(1024, 64 << 20, &max_body_size)) return bad("1024 to 67108864 bytes");
  } else if (key == "max_page_size") {
    if (!set_size(1, 1'000'000, &max_page_size)) return bad("1 to 1000000");
  } else if (key == "request_timeout") {
    if (!set_duration(&request_timeout)) return bad("a duration from 100ms to 1h");
  } else if (key == "anvild_timeout") {
    if (!set_duration(&anvild_timeout)) return bad("a duration from 100ms to 1h");
  } else if (key == "anvild_workers") {
    if (!set_size(1, 64, &anvild_workers)) return bad("1 to 64");
  } else {
    return "unknown setting: " + key;
  }
  return "";
}

std::string HttpConfig::load(const std::string& file, const std::vector<std::string>& overrides) {
  return load_settings(file, overrides, [this](const std::string& key, const std::string& value) {
    return set(key, value);
  });
}

std::string HttpConfig::validate() const {
  if (listen.empty() && tls_listen.empty()) return "nothing to listen on (listen, tls_listen)";
  if (!tls_listen.empty() && (tls_cert.empty() || tls_key.empty())) {
    return "tls_listen needs tls_cert and tls_key";
  }
  return "";
}

}  // namespace anvil
