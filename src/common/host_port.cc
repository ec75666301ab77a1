#include "common/host_port.h"

#include <charconv>

namespace anvil {

std::optional<HostPort> parse_host_port(std::string_view text, bool allow_no_port) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    std::size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return std::nullopt;  // a bare IPv6 address: its port would be ambiguous
    }
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  // Brackets belong only around an IPv6 address ("[[]" is no host), and a
  // host name has no blanks, slashes or control bytes.
  if (out.host.empty() || out.host.find_first_of(" \t/[]") != std::string::npos)
    return std::nullopt;
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  }
  if (port_text.empty()) {
    if (!allow_no_port) return std::nullopt;
  } else if (!parse_port(port_text, &out.port, 0)) {
    return std::nullopt;
  }
  return out;
}

std::string format_host_port(const HostPort& destination) {
  std::string host = destination.host.find(':') != std::string::npos ? "[" + destination.host + "]"
                                                                     : destination.host;
  return host + ":" + std::to_string(destination.port);
}

}  // namespace anvil
