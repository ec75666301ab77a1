// The proxy's login to a backend, on a connected stream: read the greeting,
// start TLS if configured, log in with the client's credentials, and report
// what the backend answered. The backend decides; the proxy only relays.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <string>

#include "proxy/proxy_config.h"
#include "proxy/sasl.h"
#include "proxy/stream.h"

namespace anvil {

struct BackendLogin {
  enum class Outcome { logged_in, refused, unavailable };
  Outcome outcome = Outcome::unavailable;
  // logged_in, refused: the backend's answer without tag and line end, e.g.
  // "OK [CAPABILITY ...] Logged in" or "-ERR [AUTH] Authentication failed."
  std::string reply;
  std::string leftover;  // bytes the backend sent after that answer
  std::string problem;   // unavailable: why, for the log
};

struct BackendTlsSettings {
  BackendTls mode = BackendTls::none;
  asio::ssl::context* context = nullptr;  // for starttls and tls
  std::string host;                       // checked against the certificate
  bool verify = true;
};

// Who the client really is, for a backend that trusts the proxy to say so:
// IMAP ID fields x-originating-ip/-port, x-connected-ip/-port and
// x-session-id (RFC 2971; what Dovecot reads from its
// login_trusted_networks), or POP3 XCLIENT when the backend's greeting
// offers it.
struct ClientOrigin {
  std::string ip;
  std::uint16_t port = 0;
  std::string local_ip;
  std::uint16_t local_port = 0;
  std::string session_id;
};

// `origin` null: say nothing about the client.
asio::awaitable<BackendLogin> log_in_to_backend(ProxyStream& backend, MailProtocol protocol,
                                                const Credentials& credentials,
                                                const BackendTlsSettings& tls,
                                                const ClientOrigin* origin);

}  // namespace anvil
