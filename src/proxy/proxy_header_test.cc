#include "proxy/proxy_header.h"

#include <gtest/gtest.h>

#include <string>

namespace anvil {
namespace {

using Status = ProxyHeaderParse::Status;

// Feeds `wire` the way the proxy reads it: only as much as the parser asks
// for, so a test also shows that nothing past the header is consumed.
ProxyHeaderParse read_like_the_proxy(const std::string& wire, std::size_t* consumed) {
  std::string have;
  for (;;) {
    ProxyHeaderParse result = parse_proxy_header(have);
    if (result.status == Status::done || result.status == Status::invalid) {
      *consumed = have.size();
      return result;
    }
    std::string_view rest = std::string_view(wire).substr(have.size());
    if (rest.empty()) {
      *consumed = have.size();
      return result;  // the wire ran out
    }
    std::size_t take = std::min(result.count, rest.size());
    if (result.status == Status::need_line) {
      std::size_t newline = rest.substr(0, take).find('\n');
      if (newline != std::string_view::npos) take = newline + 1;
    }
    have.append(rest.substr(0, take));
  }
}

std::string v2(unsigned char command, unsigned char family, const std::string& block) {
  std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
  header.push_back(static_cast<char>(0x20 | command));
  header.push_back(static_cast<char>(family));
  header.push_back(static_cast<char>(block.size() >> 8));
  header.push_back(static_cast<char>(block.size() & 0xff));
  return header + block;
}

TEST(ProxyHeader, Version1Tcp4AndTcp6StopAtTheHeader) {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 993\r\n";
  std::size_t consumed = 0;
  ProxyHeaderParse result = read_like_the_proxy(line + "\x16\x03\x01 TLS follows", &consumed);
  ASSERT_EQ(result.status, Status::done) << result.error;
  EXPECT_EQ(consumed, line.size());
  EXPECT_TRUE(result.header.has_addresses);
  EXPECT_EQ(result.header.source_ip, "192.0.2.1");
  EXPECT_EQ(result.header.dest_ip, "198.51.100.7");
  EXPECT_EQ(result.header.source_port, 56324);
  EXPECT_EQ(result.header.dest_port, 993);

  result =
      read_like_the_proxy("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\na LOGIN", &consumed);
  ASSERT_EQ(result.status, Status::done) << result.error;
  EXPECT_EQ(result.header.source_ip, "2001:db8::1");
  EXPECT_EQ(result.header.dest_ip, "10.0.0.1");
  EXPECT_EQ(result.header.dest_port, 65535);

  result = read_like_the_proxy("PROXY UNKNOWN\r\n* OK", &consumed);
  ASSERT_EQ(result.status, Status::done);
  EXPECT_EQ(consumed, 15u);
  EXPECT_FALSE(result.header.has_addresses);
}

TEST(ProxyHeader, Version1Errors) {
  std::size_t consumed = 0;
  for (const char* wire : {
           "PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n",    // a port missing
           "PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n",    // v6 address in TCP4
           "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",       // v4 address in TCP6
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 65536\r\n",  // port out of range
           "PROXY TCP4 192.0.2.1 198.51.100.7 01 2\r\n",     // leading zero
           "PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n",      // not TCP
           "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n",        // no CR
           "a LOGIN jane secret\r\n",                        // no header at all
       }) {
    ProxyHeaderParse result = read_like_the_proxy(wire, &consumed);
    EXPECT_EQ(result.status, Status::invalid) << wire;
    EXPECT_FALSE(result.error.empty()) << wire;
  }
  // Never more than 107 bytes without a line end.
  ProxyHeaderParse result = read_like_the_proxy("PROXY TCP4 " + std::string(200, '1'), &consumed);
  EXPECT_EQ(result.status, Status::invalid);
  EXPECT_EQ(consumed, kProxyV1MaxLength);
}

TEST(ProxyHeader, Version2ProxyAndLocal) {
  std::string v4_block = {'\xc0', '\x00', '\x02', '\x01', '\x0a', '\x00',
                          '\x00', '\x05', '\xdb', '\xf4', '\x00', '\x8f'};
  v4_block += std::string("\x04\x00\x01X", 4);  // a TLV, skipped
  std::string header = v2(1, 0x11, v4_block);
  std::size_t consumed = 0;
  ProxyHeaderParse result = read_like_the_proxy(header + "* after", &consumed);
  ASSERT_EQ(result.status, Status::done) << result.error;
  EXPECT_EQ(consumed, header.size());
  EXPECT_EQ(result.header.source_ip, "192.0.2.1");
  EXPECT_EQ(result.header.dest_ip, "10.0.0.5");
  EXPECT_EQ(result.header.source_port, 56308);
  EXPECT_EQ(result.header.dest_port, 143);

  std::string v6_block(36, '\0');
  v6_block[0] = '\x20';
  v6_block[1] = '\x01';
  v6_block[15] = '\x09';  // 2001::9
  v6_block[31] = '\x01';  // ::1
  v6_block[33] = '\x07';
  v6_block[35] = '\x6e';
  result = read_like_the_proxy(v2(1, 0x21, v6_block), &consumed);
  ASSERT_EQ(result.status, Status::done) << result.error;
  EXPECT_EQ(result.header.source_ip, "2001::9");
  EXPECT_EQ(result.header.dest_ip, "::1");
  EXPECT_EQ(result.header.source_port, 7);
  EXPECT_EQ(result.header.dest_port, 110);

  // LOCAL (a health check) and families we cannot use keep the
  // connection's own addresses.
  for (const std::string& other :
       {v2(0, 0x00, ""), v2(1, 0x31, std::string(216, 'u')), v2(1, 0x12, std::string(12, 'x'))}) {
    result = read_like_the_proxy(other, &consumed);
    ASSERT_EQ(result.status, Status::done) << result.error;
    EXPECT_FALSE(result.header.has_addresses);
    EXPECT_EQ(consumed, other.size());
  }
}

TEST(ProxyHeader, Version2Errors) {
  std::size_t consumed = 0;
  std::string bad_version = v2(1, 0x11, std::string(12, 'x'));
  bad_version[12] = '\x31';
  std::string bad_command = v2(1, 0x11, std::string(12, 'x'));
  bad_command[12] = '\x22';
  for (const std::string& wire : {bad_version, bad_command, v2(1, 0x11, std::string(8, 'x')),
                                  v2(1, 0x21, std::string(20, 'x'))}) {
    EXPECT_EQ(read_like_the_proxy(wire, &consumed).status, Status::invalid);
  }
  // Cut short: the parser still waits for the rest.
  std::string whole = v2(1, 0x11, std::string(12, 'x'));
  EXPECT_EQ(read_like_the_proxy(whole.substr(0, 20), &consumed).status, Status::need_bytes);
}

}  // namespace
}  // namespace anvil
