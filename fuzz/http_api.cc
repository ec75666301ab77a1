// anvil-httpd's request handling (src/http/api.*, credentials.*): the
// Authorization header, the query string and the JSON bodies of every
// route, as a client sends them. anvild is "down" (the connector throws), so
// everything a request can reach before anvild is asked is exercised, and
// each answer must be a well-formed one.
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "http/api.h"

namespace {

const anvil::Credentials& credentials() {
  static const anvil::Credentials keys = [] {
    if (sodium_init() < 0) __builtin_trap();
    anvil::Credentials c;
    c.add({"ops", anvil::HttpRole::kick}, "kick-key");
    c.add({"dash", anvil::HttpRole::read}, "read-key");
    return c;
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  static const char* const methods[] = {"GET", "POST", "DELETE", "PUT"};
  anvil::ApiRequest request;
  request.method = methods[input.byte() % 4];
  request.target = input.piece();
  std::string authorization(input.piece());
  request.body = input.rest();
  request.client = "192.0.2.1";

  auto principal = credentials().authenticate(authorization);
  if (principal) FUZZ_CHECK(principal->name == "ops" || principal->name == "dash");
  anvil::HttpConfig config;
  anvil::Api api(config, []() -> std::unique_ptr<anvil::AdminConnection> {
    throw anvil::CliError{anvil::kExitTempFail, "cannot reach anvild: fuzzing"};
  });
  anvil::ApiResponse response =
      api.handle(request, principal.value_or(anvil::Principal{"ops", anvil::HttpRole::kick}));
  FUZZ_CHECK(response.status >= 200 && response.status < 600);
  if (response.content_type == "application/json") {
    FUZZ_CHECK(!nlohmann::json::parse(response.body, nullptr, false).is_discarded());
  }
  return 0;
}
