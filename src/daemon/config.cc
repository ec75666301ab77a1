#include "daemon/config.h"

#include "cluster/cluster_wire.h"
#include "common/log.h"
#include "common/settings_file.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {

bool parse_size(const std::string& value, long long min, long long max, std::size_t* out) {
  long long v = 0;
  if (!parse_integer(value, min, max, &v)) return false;
  *out = static_cast<std::size_t>(v);
  return true;
}

bool parse_mode(const std::string& value, mode_t* out) {
  if (value.empty() || value.size() > 4) return false;
  mode_t mode = 0;
  for (char c : value) {
    if (c < '0' || c > '7') return false;
    mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
  }
  *out = mode;
  return true;
}

}  // namespace

std::string DaemonConfig::resolve(const std::string& path) const {
  if (!path.empty() && path[0] == '/') return path;
  return run_dir + "/" + path;
}

std::string DaemonConfig::set(const std::string& key, const std::string& value) {
  auto bad = [&] { return "invalid value for " + key + ": '" + value + "'"; };
  if (key == "run_dir") {
    if (value.empty()) return bad();
    run_dir = value;
  } else if (key == "admin_socket") {
    if (value.empty()) return bad();
    admin_socket = value;
  } else if (key == "service_socket") {
    if (value.empty()) return bad();
    service_socket = value;
  } else if (key == "admin_socket_mode") {
    if (!parse_mode(value, &admin_socket_mode)) return bad();
  } else if (key == "service_socket_mode") {
    if (!parse_mode(value, &service_socket_mode)) return bad();
  } else if (key == "audit_log") {
    audit_log = value;
  } else if (key == "ban_file") {
    ban_file = value;
  } else if (key == "service_socket_group") {
    service_socket_group = value;
  } else if (key == "admin_allow_uids" || key == "admin_allow_groups") {
    std::string error = admin_access.parse(value, key == "admin_allow_groups", true, Role::kick);
    if (!error.empty()) return "invalid value for " + key + ": " + error;
  } else if (key == "service_allow_uids" || key == "service_allow_groups") {
    std::string error =
        service_access.parse(value, key == "service_allow_groups", false, Role::kick);
    if (!error.empty()) return "invalid value for " + key + ": " + error;
  } else if (key == "dovecot_master_pid_files") {
    dovecot_master_pid_files = split_list(value);
  } else if (key == "dovecot_service_uids") {
    std::vector<uid_t> uids;
    for (const std::string& item : split_list(value)) {
      uid_t uid = 0;
      if (!resolve_user(item, &uid)) return "invalid value for " + key + ": no such user: " + item;
      uids.push_back(uid);
    }
    dovecot_service_uids = std::move(uids);
  } else if (key == "max_line_length") {
    if (!parse_size(value, 256, 16LL * 1024 * 1024, &max_line_length)) return bad();
  } else if (key == "max_sessions_per_process") {
    if (!parse_size(value, 1, 100'000'000, &max_sessions_per_process)) return bad();
  } else if (key == "max_sessions_per_uid") {
    if (!parse_size(value, 1, 100'000'000, &max_sessions_per_uid)) return bad();
  } else if (key == "max_sessions") {
    if (!parse_size(value, 1, 100'000'000, &max_sessions)) return bad();
  } else if (key == "max_service_clients") {
    if (!parse_size(value, 1, 1'000'000, &max_service_clients)) return bad();
  } else if (key == "max_channels_per_uid") {
    if (!parse_size(value, 1, 1'000'000, &max_channels_per_uid)) return bad();
  } else if (key == "max_dovecot_processes") {
    if (!parse_size(value, 1, 1'000'000, &max_dovecot_processes)) return bad();
  } else if (key == "max_output_bytes") {
    // At least two parts of a streamed answer and one longest line.
    if (!parse_size(value, 256 * 1024, 1LL << 32, &max_output_bytes)) return bad();
  } else if (key == "handshake_timeout_ms") {
    std::size_t ms = 0;
    if (!parse_size(value, 1, 600'000, &ms)) return bad();
    handshake_timeout = std::chrono::milliseconds(ms);
  } else if (key == "admin_idle_timeout_ms") {
    std::size_t ms = 0;
    if (!parse_size(value, 1, 86'400'000, &ms)) return bad();
    admin_idle_timeout = std::chrono::milliseconds(ms);
  } else if (key == "max_bans") {
    if (!parse_size(value, 1, 100'000'000, &max_bans)) return bad();
  } else if (key == "max_admin_clients") {
    if (!parse_size(value, 1, 1'000'000, &max_admin_clients)) return bad();
  } else if (key == "kick_timeout_ms") {
    std::size_t ms = 0;
    if (!parse_size(value, 1, 600'000, &ms)) return bad();
    kick_timeout = std::chrono::milliseconds(ms);
  } else if (key.starts_with("cluster_") || key == "node_name") {
    return set_cluster(key, value);
  } else {
    return "unknown setting: " + key;
  }
  return "";
}

std::string DaemonConfig::set_cluster(const std::string& key, const std::string& value) {
  auto bad = [&] { return "invalid value for " + key + ": '" + clip(value) + "'"; };
  auto milliseconds = [&](std::chrono::milliseconds* out, long long min) {
    std::size_t ms = 0;
    if (!parse_size(value, min, 3'600'000, &ms)) return bad();
    *out = std::chrono::milliseconds(ms);
    return std::string();
  };
  // A secret is read from a file (so it is not in a world-readable setting
  // or on a command line); its trailing newline is not part of it.
  auto secret = [&](std::string* out) {
    std::string text, error;
    if (!read_small_file(value, 4096, &text, &error)) return key + ": " + error;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) return key + ": " + value + " is empty";
    *out = std::move(text);
    return std::string();
  };
  if (key == "cluster_nats_urls") {
    cluster.nats_urls = split_list(value);
    for (const std::string& url : cluster.nats_urls) {
      if (!url.starts_with("nats://") && !url.starts_with("tls://")) {
        return "invalid value for " + key + ": " + url +
               " (want nats://host:port or tls://host:port)";
      }
    }
  } else if (key == "node_name") {
    if (!cluster::valid_node_name(value)) {
      return "invalid value for node_name: '" + clip(value) + "' (1 to 64 of A-Z a-z 0-9 - _)";
    }
    cluster.node_name = value;
  } else if (key == "cluster_name") {
    if (!cluster::valid_node_name(value)) return bad();
    cluster.name = value;
  } else if (key == "cluster_user") {
    cluster.user = value;
  } else if (key == "cluster_password_file") {
    return secret(&cluster.password);
  } else if (key == "cluster_token_file") {
    return secret(&cluster.token);
  } else if (key == "cluster_creds_file") {
    cluster.creds_file = value;
  } else if (key == "cluster_tls_ca") {
    cluster.tls_ca = value;
  } else if (key == "cluster_tls_cert") {
    cluster.tls_cert = value;
  } else if (key == "cluster_tls_key") {
    cluster.tls_key = value;
  } else if (key == "cluster_timeout_ms") {
    return milliseconds(&cluster.timeout, 100);
  } else if (key == "cluster_presence_interval_ms") {
    return milliseconds(&cluster.presence_interval, 100);
  } else if (key == "cluster_presence_ttl_ms") {
    return milliseconds(&cluster.presence_ttl, 300);
  } else if (key == "cluster_forget_after_s") {
    std::size_t seconds = 0;
    if (!parse_size(value, 60, 3660LL * 86400, &seconds)) return bad();
    cluster.forget_after = std::chrono::seconds(seconds);
  } else if (key == "cluster_replicas") {
    std::size_t replicas = 0;
    if (!parse_size(value, 1, 5, &replicas)) return bad();
    cluster.replicas = static_cast<int>(replicas);
  } else if (key == "cluster_max_user_connections") {
    if (!parse_size(value, 0, 100'000'000, &cluster.max_user_connections)) return bad();
  } else if (key == "cluster_count_timeout_ms") {
    return milliseconds(&cluster.count_timeout, 10);
  } else if (key == "cluster_max_reply_bytes") {
    if (!parse_size(value, 1 << 20, 1LL << 34, &cluster.max_reply_bytes)) return bad();
  } else {
    return "unknown setting: " + key;
  }
  return "";
}

std::string DaemonConfig::check() const {
  if (cluster.presence_ttl <= cluster.presence_interval) {
    return "cluster_presence_ttl_ms must be longer than cluster_presence_interval_ms";
  }
  if ((cluster.tls_cert.empty()) != (cluster.tls_key.empty())) {
    return "cluster_tls_cert and cluster_tls_key go together";
  }
  return "";
}

std::string DaemonConfig::apply_override(const std::string& assignment) {
  return apply_setting_override(assignment, setter());
}

std::string DaemonConfig::load_file(const std::string& path) {
  return load_settings_file(path, setter());
}

std::string DaemonConfig::load(const std::string& file, const std::vector<std::string>& overrides) {
  std::string error = load_settings(file, overrides, setter());
  return error.empty() ? check() : error;
}

SettingSetter DaemonConfig::setter() {
  return [this](const std::string& key, const std::string& value) { return set(key, value); };
}

}  // namespace anvil
