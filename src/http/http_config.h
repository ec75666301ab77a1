// anvil-httpd's settings: `key = value` lines from a file (-c), then
// `-o key=value` overrides. docs/anvil-httpd.8.md describes every key.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/host_port.h"

namespace anvil {

enum class DoveadmDialect { v23, v24 };

struct HttpConfig {
  std::vector<HostPort> listen{{"127.0.0.1", 8080}};  // plain HTTP
  std::vector<HostPort> tls_listen;                   // HTTPS, with tls_cert and tls_key
  std::string tls_cert;                               // PEM
  std::string tls_key;

  std::string admin_socket = ANVIL_DEFAULT_RUN_DIR "/anvil";
  std::string keys_file = "/etc/anvil/http-keys";
  // The shape of kick's answer on /doveadm/v1: Dovecot 2.3's (the users
  // kicked) or 2.4's (a count).
  DoveadmDialect doveadm_dialect = DoveadmDialect::v23;

  std::size_t max_clients = 256;        // connections at once
  std::size_t max_header_size = 8192;   // a request's start line and headers
  std::size_t max_body_size = 1 << 20;  // a request's body
  std::size_t max_page_size = 10'000;   // sessions per /api/v1/sessions page
  // A request must arrive whole within this; an idle kept-alive connection
  // is closed after it too.
  std::chrono::milliseconds request_timeout{10'000};
  // How long a question to anvild may take (a kick waits for the services'
  // answers: keep it above anvild's kick_timeout_ms).
  std::chrono::milliseconds anvild_timeout{20'000};
  // Threads that talk to anvild; requests beyond 8 per thread waiting for
  // one get 503 at once.
  std::size_t anvild_workers = 4;

  std::string set(const std::string& key, const std::string& value);
  std::string load(const std::string& file, const std::vector<std::string>& overrides);
  std::string validate() const;
};

}  // namespace anvil
