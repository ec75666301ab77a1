// anvil-proxy's settings: `key = value` lines from a file (-c), then
// `-o key=value` overrides. docs/anvil-proxy.8.md describes every key.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/settings_file.h"
#include "proxy/user_map.h"

namespace anvil {

enum class BackendTls { none, starttls, tls };

struct ProxyConfig {
  // Where clients connect; each a list of host:port (empty: not served).
  std::vector<HostPort> imap_listen{{"127.0.0.1", 143}};
  std::vector<HostPort> imaps_listen;
  std::vector<HostPort> pop3_listen{{"127.0.0.1", 110}};
  std::vector<HostPort> pop3s_listen;

  HostPort backend_imap{"127.0.0.1", 10143};
  HostPort backend_pop3{"127.0.0.1", 10110};
  BackendTls backend_tls = BackendTls::none;
  bool backend_tls_verify = true;
  std::string backend_tls_ca;           // CA file; empty: the system's store
  std::string user_map;                 // file; empty: everyone goes to the default backend
  bool backend_forward_client = false;  // tell the backend the client's address

  std::string anvil_socket = ANVIL_DEFAULT_RUN_DIR "/anvil-service";
  std::string tls_cert;  // PEM; with tls_key, enables STARTTLS/STLS and imaps/pop3s
  std::string tls_key;
  bool require_tls_for_login = true;
  // Clients from these networks count as secure without TLS.
  std::vector<Cidr> secure_networks{*Cidr::parse("127.0.0.0/8"), *Cidr::parse("::1/128")};
  // Connections from these networks (load balancers) must start with a
  // PROXY protocol header, v1 or v2, naming the real client.
  std::vector<Cidr> haproxy_trusted_networks;

  std::chrono::milliseconds login_timeout{60'000};
  std::chrono::milliseconds backend_timeout{30'000};
  std::size_t max_command_size = 8192;  // a pre-login command, literals included
  int max_login_attempts = 3;
  int max_bad_commands = 10;
  std::size_t max_sessions = 50'000;
  // Limits counted by anvild, so that they hold over every proxy process
  // (0: no limit). A client address may hold max_connections_per_ip
  // connections, of which max_prelogin_per_ip not yet logged in; a user
  // max_connections_per_user.
  std::size_t max_connections_per_ip = 0;
  std::size_t max_prelogin_per_ip = 0;
  std::size_t max_connections_per_user = 0;
  // Failed logins from an address delay its next ones (Dovecot's auth
  // penalty: 2, 4, 8 seconds, then login_penalty_max), kept in anvild.
  bool login_penalty = true;
  std::chrono::milliseconds login_penalty_max{15'000};

  bool tls_configured() const { return !tls_cert.empty(); }

  std::string set(const std::string& key, const std::string& value);
  std::string load_file(const std::string& path);
  std::string apply_override(const std::string& assignment);
  // The file (if not empty), then the overrides; "" or an error for the log.
  std::string load(const std::string& file, const std::vector<std::string>& overrides);
  // Checks what single keys cannot: pairs that belong together.
  std::string validate() const;

 private:
  SettingSetter setter();
};

}  // namespace anvil
