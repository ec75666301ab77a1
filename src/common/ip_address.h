// IPv4 and IPv6 addresses and networks. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is folded to plain IPv4 when parsed, so a client that
// arrives over a dual-stack socket matches IPv4 filters.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anvil {

class IpAddress {
 public:
  enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

  // Accepts the textual forms of inet_pton (dotted quad, RFC 4291), nothing
  // looser: "10.1" and "0x7f.1" are not addresses.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  int bit_length() const { return family_ == Family::v4 ? 32 : 128; }
  std::string to_string() const;

  // The address bytes in network order (IPv4: the first four, then zeros),
  // and the address they make: for compact storage.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  static IpAddress from_bytes(Family family, const std::array<std::uint8_t, 16>& bytes) {
    IpAddress ip;
    ip.family_ = family;
    ip.bytes_ = bytes;
    return ip;
  }
  // An IPv4 address as a host-order number, and back.
  std::uint32_t v4_number() const {
    return std::uint32_t{bytes_[0]} << 24 | std::uint32_t{bytes_[1]} << 16 |
           std::uint32_t{bytes_[2]} << 8 | bytes_[3];
  }
  static IpAddress from_v4_number(std::uint32_t number) {
    IpAddress ip;
    ip.bytes_ = {static_cast<std::uint8_t>(number >> 24), static_cast<std::uint8_t>(number >> 16),
                 static_cast<std::uint8_t>(number >> 8), static_cast<std::uint8_t>(number)};
    return ip;
  }

  // The address with every bit after the first `bits` set to `value`.
  IpAddress with_host_bits(int bits, bool value) const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::v4;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first four
};

// A network: an address and a prefix length. "ip" alone is a full-length
// prefix. The prefix means exactly what it says: 0.0.0.0/0 is every IPv4
// address and nothing else.
class Cidr {
 public:
  static std::optional<Cidr> parse(std::string_view text);

  bool contains(const IpAddress& ip) const;
  IpAddress first() const { return network_; }
  IpAddress last() const { return network_.with_host_bits(bits_, true); }
  int bits() const { return bits_; }
  std::string to_string() const;

 private:
  IpAddress network_;
  int bits_ = 0;
};

// True when text has the shape of an address or network (digits and dots
// with a dot, or hex digits and colons with a colon, optionally followed by
// "/something"), whether or not it is a valid one. Command lines use this to
// refuse "999.1.1.1" or "10.0.0.0/33" instead of taking them for user names.
bool looks_like_network(std::string_view text);

}  // namespace anvil
