#include "common/ip_address.h"

#include "common/numbers.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace anvil {

namespace {

// Dotted-quad IPv4 as inet_pton takes it: four decimal parts of 1-3
// digits, each at most 255, no leading zero. Without a copy or a system
// call: registrations and listings read millions of addresses.
bool parse_v4(std::string_view text, std::array<std::uint8_t, 16>* bytes) {
  std::size_t at = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (at >= text.size() || text[at] != '.') return false;
      at++;
    }
    std::size_t start = at;
    unsigned value = 0;
    while (at < text.size() && at - start < 3 && text[at] >= '0' && text[at] <= '9') {
      value = value * 10 + static_cast<unsigned>(text[at] - '0');
      at++;
    }
    std::size_t digits = at - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
    (*bytes)[static_cast<std::size_t>(part)] = static_cast<std::uint8_t>(value);
  }
  return at == text.size();
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  if (text.find(':') == std::string_view::npos) {
    IpAddress ip;
    if (!parse_v4(text, &ip.bytes_)) return std::nullopt;
    ip.family_ = Family::v4;
    return ip;
  }
  // inet_pton reads a C string: "1.2.3.4\0junk" must not pass as 1.2.3.4.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string buf(text);
  IpAddress ip;
  if (inet_pton(AF_INET6, buf.c_str(), ip.bytes_.data()) != 1) return std::nullopt;
  ip.family_ = Family::v6;
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(ip.bytes_.data(), kMappedPrefix, 12) == 0) {
    std::memmove(ip.bytes_.data(), ip.bytes_.data() + 12, 4);
    std::fill(ip.bytes_.begin() + 4, ip.bytes_.end(), 0);
    ip.family_ = Family::v4;
  }
  return ip;
}

std::string IpAddress::to_string() const {
  if (family_ == Family::v4) {  // without inet_ntop's printf: listings print millions
    char text[15];
    char* at = text;
    for (int i = 0; i < 4; i++) {
      if (i) *at++ = '.';
      unsigned byte = bytes_[i];
      if (byte >= 100) *at++ = static_cast<char>('0' + byte / 100);
      if (byte >= 10) *at++ = static_cast<char>('0' + byte / 10 % 10);
      *at++ = static_cast<char>('0' + byte % 10);
    }
    return std::string(text, at);
  }
  char buf[INET6_ADDRSTRLEN];
  int af = family_ == Family::v4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

IpAddress IpAddress::with_host_bits(int bits, bool value) const {
  IpAddress out = *this;
  int total = bit_length();
  for (int bit = std::max(bits, 0); bit < total; bit++) {
    std::uint8_t mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    if (value) {
      out.bytes_[bit / 8] |= mask;
    } else {
      out.bytes_[bit / 8] &= static_cast<std::uint8_t>(~mask);
    }
  }
  return out;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  std::size_t slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  Cidr cidr;
  cidr.bits_ = ip->bit_length();
  // An IPv4-mapped network (::ffff:10.0.0.0/104) is folded to IPv4 like
  // its address: its prefix counts from bit 96. A shorter prefix would
  // reach past the mapped range and means no IPv4 network.
  bool mapped = ip->family() == IpAddress::Family::v4 &&
                text.substr(0, slash).find(':') != std::string_view::npos;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    long long bits = 0;
    if (digits.starts_with('-') || !parse_integer(digits, 0, 128, &bits)) return std::nullopt;
    if (mapped) {
      if (bits < 96 || bits > 128) return std::nullopt;
      bits -= 96;
    }
    if (bits > ip->bit_length()) return std::nullopt;
    cidr.bits_ = bits;
  }
  cidr.network_ = ip->with_host_bits(cidr.bits_, false);
  return cidr;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.family() != network_.family()) return false;
  return ip.with_host_bits(bits_, false) == network_;
}

std::string Cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(bits_);
}

bool looks_like_network(std::string_view text) {
  std::string_view address = text.substr(0, text.find('/'));
  if (address.empty()) return false;
  bool has_dot = address.find('.') != std::string_view::npos;
  bool has_colon = address.find(':') != std::string_view::npos;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  if (has_colon) {
    // IPv6, possibly with an embedded IPv4 tail.
    return std::all_of(address.begin(), address.end(),
                       [&](char c) { return is_hex(c) || c == ':' || c == '.'; });
  }
  if (has_dot) {
    return std::all_of(address.begin(), address.end(),
                       [&](char c) { return is_digit(c) || c == '.'; });
  }
  // Digits alone are a user name, but digits with a prefix length are not.
  return text.find('/') != std::string_view::npos &&
         std::all_of(address.begin(), address.end(), is_digit);
}

}  // namespace anvil
