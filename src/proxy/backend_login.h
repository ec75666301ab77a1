// The proxy's login to a backend, on a connected stream: read the greeting,
// start TLS if configured, log in with the client's credentials, and report
// what the backend answered. The backend decides; the proxy only relays.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
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

asio::awaitable<BackendLogin> log_in_to_backend(ProxyStream& backend, MailProtocol protocol,
                                                const Credentials& credentials,
                                                const BackendTlsSettings& tls);

}  // namespace anvil
