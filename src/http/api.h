// What anvil-httpd answers, apart from HTTP itself (http/server.h): the
// doveadm-compatible endpoint, the native JSON API and /metrics. Each
// request that needs anvild runs on a worker thread and may block there on
// anvild's admin socket (through anvilctl's AdminConnection); nothing here
// touches a socket to a client.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/admin_connection.h"
#include "http/credentials.h"
#include "http/http_config.h"

namespace anvil {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  std::string client;  // the client's address, for the audit trail
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

// Opens a connection to anvild (throws CliError when it cannot).
using AdminConnector = std::function<std::unique_ptr<AdminConnection>()>;

class Api {
 public:
  Api(const HttpConfig& config, AdminConnector connect);
  // Whether the target is one of the API's (else the server answers 404).
  static bool handles(std::string_view path);
  // May block on anvild.
  ApiResponse handle(const ApiRequest& request, const Principal& principal);

 private:
  ApiResponse doveadm(const ApiRequest& request, const Principal& principal);
  ApiResponse sessions(const ApiRequest& request);
  ApiResponse kick(const ApiRequest& request, const Principal& principal);
  ApiResponse bans(const ApiRequest& request, const Principal& principal, std::string_view path);
  ApiResponse audit(const ApiRequest& request);
  ApiResponse metrics();
  std::unique_ptr<AdminConnection> connect_for(const Principal& principal,
                                               const ApiRequest& request);

  const HttpConfig& config_;
  AdminConnector connect_;
};

// A query string's name=value pairs, %-decoded ('+' is a blank).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);
// Splits a who-style filter text on blanks ("jane 10.0.0.0/8 --service imap").
std::vector<std::string> split_words(std::string_view text);

}  // namespace anvil
