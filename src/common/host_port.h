// "host:port" as every anvil program writes it in settings and on command
// lines: a name or an address, IPv6 in brackets ("[::1]:143").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/numbers.h"  // parse_port

namespace anvil {

struct HostPort {
  std::string host;  // a name or an address; IPv6 written without brackets
  std::uint16_t port = 0;
};

// "host:port", "[v6]:port" (port 0 to 65535); with allow_no_port also
// "host" and "[v6]" (port 0). nullopt on anything else.
std::optional<HostPort> parse_host_port(std::string_view text, bool allow_no_port = false);
std::string format_host_port(const HostPort& destination);

}  // namespace anvil
