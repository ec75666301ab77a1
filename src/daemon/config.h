// anvild's settings: `key = value` lines from a file (-c), then `-o key=value`
// overrides, then --run-dir. See docs/anvild.8.md for every key.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/settings_file.h"
#include "daemon/peer_access.h"

namespace anvil {

struct DaemonConfig {
  std::string run_dir = ANVIL_DEFAULT_RUN_DIR;
  std::string admin_socket = "anvil";  // relative paths live in run_dir
  std::string service_socket = "anvil-service";
  mode_t admin_socket_mode = 0600;
  mode_t service_socket_mode = 0660;
  // The service socket's group; its members may register. Empty: anvild's.
  std::string service_socket_group = "anvil";
  // Besides root and anvild's own uid: who may use the admin socket, with
  // which role (admin_allow_uids, admin_allow_groups), and who may register
  // on the service socket besides the socket group's members.
  AccessList admin_access;
  AccessList service_access;
  std::size_t max_line_length = 16384;
  std::size_t max_sessions_per_process = 100000;  // per process, over all its channels
  std::size_t max_sessions_per_uid = 1'000'000;
  std::size_t max_sessions = 4'000'000;
  std::size_t max_service_clients = 4096;
  std::size_t max_channels_per_uid = 1024;
  std::size_t max_bans = 1'000'000;          // bans an admin may set, in all
  std::size_t max_admin_clients = 64;        // root and anvild's uid are never refused
  std::size_t max_dovecot_processes = 8192;  // pidfds of 2.3-dialect processes
  // Unsent output one connection may hold before anvild drops it.
  std::size_t max_output_bytes = 16 << 20;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds admin_idle_timeout{300'000};
  std::chrono::milliseconds kick_timeout{5000};
  // Dovecot masters whose children anvild may signal, besides the master
  // that runs anvild (--dovecot-service): their master.pid files.
  std::vector<std::string> dovecot_master_pid_files;
  // The uids Dovecot's mail processes run as; empty: any uid but root.
  std::vector<uid_t> dovecot_service_uids;
  // One JSON line per kick and dry run; "" turns the trail off.
  std::string audit_log = "/var/log/anvil/audit.log";
  // Where bans are kept across restarts; empty: in memory only.
  std::string ban_file = "/var/lib/anvil/bans";
  bool dovecot_service = false;  // run as Dovecot 2.3's anvil service (--dovecot-service)

  // The cluster (docs/cluster.md); off while cluster_nats_urls is empty.
  struct Cluster {
    std::vector<std::string> nats_urls;
    std::string node_name;       // default: the host's short name
    std::string name = "anvil";  // subjects anvil.<name>.…, buckets anvil-<name>-…
    std::string user, password;  // cluster_user, cluster_password_file
    std::string token;           // cluster_token_file
    std::string creds_file;
    std::string tls_ca, tls_cert, tls_key;
    // How long an asking node waits for the others; 0: kick_timeout_ms
    // plus two seconds, so a node's slow kick still reports.
    std::chrono::milliseconds timeout{0};
    std::chrono::milliseconds presence_interval{2000};
    std::chrono::milliseconds presence_ttl{6000};
    std::chrono::seconds forget_after{86400};  // a silent node's record, in the store
    int replicas = 1;                          // of the key-value buckets
    std::size_t max_reply_bytes = 256u << 20;  // all nodes' answers to one request
    // A user's sessions over every node (0: no limit), and how long a login
    // waits for the other nodes' counts.
    std::size_t max_user_connections = 0;
    std::chrono::milliseconds count_timeout{500};
    bool enabled() const { return !nats_urls.empty(); }
    std::chrono::milliseconds request_timeout(std::chrono::milliseconds kick) const {
      return timeout.count() > 0 ? timeout : kick + std::chrono::milliseconds(2000);
    }
  } cluster;

  std::string admin_socket_path() const { return resolve(admin_socket); }
  std::string service_socket_path() const { return resolve(service_socket); }

  // Sets one key; returns an error sentence, or "" on success.
  std::string set(const std::string& key, const std::string& value);
  // Reads `key = value` lines ('#' starts a comment). Returns "" or an error
  // naming the file and line.
  std::string load_file(const std::string& path);
  // Applies "key=value".
  std::string apply_override(const std::string& assignment);
  // The file (if not empty), then the overrides; "" or an error for the log.
  std::string load(const std::string& file, const std::vector<std::string>& overrides);

 private:
  std::string set_cluster(const std::string& key, const std::string& value);
  // What no single setting shows: "" or the problem.
  std::string check() const;
  SettingSetter setter();
  std::string resolve(const std::string& path) const;
};

}  // namespace anvil
