// The PROXY protocol header (versions 1 and 2) that a load balancer such as
// HAProxy sends first on a connection to say whom it is forwarding: the
// client's address and port, and the address and port the client reached.
//
// parse_proxy_header() works on what has been read so far and says how much
// more to read, so that a reader never consumes a byte past the header —
// the client's own protocol (or TLS handshake) follows it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace anvil {

struct ProxyHeader {
  // False for a LOCAL (v2) or UNKNOWN (v1) header, or an address family
  // other than TCP over IPv4/IPv6: the connection's own addresses stand.
  bool has_addresses = false;
  std::string source_ip, dest_ip;
  std::uint16_t source_port = 0, dest_port = 0;
};

struct ProxyHeaderParse {
  enum class Status {
    need_bytes,  // read exactly `count` more bytes
    need_line,   // read up to and including the next '\n' (at most `count` bytes)
    done,        // `header` holds it; everything given was the header
    invalid,     // `error` says why
  };
  Status status = Status::need_bytes;
  std::size_t count = 0;
  ProxyHeader header;
  std::string error;
};

// The longest version 1 header, CRLF included.
inline constexpr std::size_t kProxyV1MaxLength = 107;

ProxyHeaderParse parse_proxy_header(std::string_view data);

}  // namespace anvil
