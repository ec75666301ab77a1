#include "proxy/proxy_header.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <vector>

#include "common/ip_address.h"
#include "common/numbers.h"

namespace anvil {

namespace {

using Status = ProxyHeaderParse::Status;

constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::string_view kV1Prefix = "PROXY ";
// Both versions are at least this long ("PROXY UNKNOWN\r\n"; v2 is 16), so
// reading this much first never reads past a header.
constexpr std::size_t kShortestHeader = 15;
constexpr std::size_t kV2FixedPart = 16;

ProxyHeaderParse need(Status status, std::size_t count) {
  ProxyHeaderParse result;
  result.status = status;
  result.count = count;
  return result;
}

ProxyHeaderParse invalid(std::string error) {
  ProxyHeaderParse result;
  result.status = Status::invalid;
  result.error = std::move(error);
  return result;
}

ProxyHeaderParse done(ProxyHeader header) {
  ProxyHeaderParse result;
  result.status = Status::done;
  result.header = std::move(header);
  return result;
}

// The PROXY protocol writes ports without leading zeros.
bool parse_header_port(std::string_view text, std::uint16_t* port) {
  if (text.size() > 1 && text[0] == '0') return false;
  return parse_port(text, port, 0);
}

// "PROXY TCP4 192.0.2.1 198.51.100.1 56324 143\r\n"
ProxyHeaderParse parse_v1(std::string_view data) {
  std::size_t end = data.find("\r\n");
  if (end == std::string_view::npos) {
    if (data.size() >= kProxyV1MaxLength) return invalid("PROXY v1 header longer than 107 bytes");
    if (!data.empty() && data.back() == '\n') return invalid("PROXY v1 header ends without CR");
    return need(Status::need_line, kProxyV1MaxLength - data.size());
  }
  if (end + 2 != data.size()) return invalid("bytes after the PROXY v1 header");
  std::vector<std::string_view> words;
  std::string_view rest = data.substr(0, end);
  while (!rest.empty()) {
    std::size_t space = rest.find(' ');
    words.push_back(rest.substr(0, space));
    rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
  }
  if (words.size() >= 2 && words[1] == "UNKNOWN") return done({});
  if (words.size() != 6) return invalid("PROXY v1 header needs protocol, 2 addresses, 2 ports");
  if (words[1] != "TCP4" && words[1] != "TCP6") {
    return invalid("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN");
  }
  auto family = words[1] == "TCP4" ? IpAddress::Family::v4 : IpAddress::Family::v6;
  ProxyHeader header;
  header.has_addresses = true;
  for (int i = 0; i < 2; i++) {
    // A dual-stack peer may write ::ffff:a.b.c.d; parse() folds it to IPv4.
    auto ip = IpAddress::parse(words[2 + i]);
    bool mapped = ip && family == IpAddress::Family::v6 && ip->family() == IpAddress::Family::v4 &&
                  words[2 + i].find(':') != std::string_view::npos;
    if (!ip || (ip->family() != family && !mapped)) {
      return invalid("invalid " + std::string(words[1]) + " address in PROXY v1 header");
    }
    (i == 0 ? header.source_ip : header.dest_ip) = ip->to_string();
  }
  if (!parse_header_port(words[4], &header.source_port) ||
      !parse_header_port(words[5], &header.dest_port)) {
    return invalid("invalid port in PROXY v1 header");
  }
  return done(std::move(header));
}

std::string address_text(int family, const unsigned char* bytes) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  inet_ntop(family, bytes, text.data(), text.size());
  auto ip = IpAddress::parse(text.data());  // folds ::ffff:a.b.c.d
  return ip ? ip->to_string() : std::string(text.data());
}

std::uint16_t big_endian16(const unsigned char* bytes) {
  return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
}

// 12-byte signature, version and command, family and transport, length,
// then the addresses (and TLVs, which are skipped).
ProxyHeaderParse parse_v2(std::string_view data) {
  if (data.size() < kV2FixedPart) return need(Status::need_bytes, kV2FixedPart - data.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if ((bytes[12] >> 4) != 2) return invalid("PROXY v2 header with an unknown version");
  int command = bytes[12] & 0x0f;
  if (command > 1) return invalid("PROXY v2 header with an unknown command");
  std::size_t total = kV2FixedPart + big_endian16(bytes + 14);
  if (data.size() < total) return need(Status::need_bytes, total - data.size());
  if (data.size() > total) return invalid("bytes after the PROXY v2 header");
  ProxyHeader header;
  if (command == 0) return done(header);  // LOCAL: the balancer's own check
  // TCP over IPv4 (0x11) or IPv6 (0x21); unspecified, UDP or UNIX leave
  // nothing we can use.
  if (bytes[13] != 0x11 && bytes[13] != 0x21) return done(header);
  int family = bytes[13] == 0x11 ? AF_INET : AF_INET6;
  std::size_t address_size = family == AF_INET ? 4 : 16;
  // Source address, destination address, source port, destination port.
  const unsigned char* block = bytes + kV2FixedPart;
  if (total - kV2FixedPart < 2 * address_size + 4) {
    return invalid("PROXY v2 header too short for its addresses");
  }
  header.source_ip = address_text(family, block);
  header.dest_ip = address_text(family, block + address_size);
  header.source_port = big_endian16(block + 2 * address_size);
  header.dest_port = big_endian16(block + 2 * address_size + 2);
  header.has_addresses = true;
  return done(std::move(header));
}

}  // namespace

ProxyHeaderParse parse_proxy_header(std::string_view data) {
  if (data.size() < kShortestHeader) return need(Status::need_bytes, kShortestHeader - data.size());
  if (data.substr(0, kV2Signature.size()) == kV2Signature) return parse_v2(data);
  if (data.substr(0, kV1Prefix.size()) == kV1Prefix) return parse_v1(data);
  return invalid("no PROXY protocol header");
}

}  // namespace anvil
