#include "common/ip_address.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace anvil {
namespace {

TEST(IpAddress, ParsesV4AndV6AndRejectsLooseForms) {
  EXPECT_EQ(IpAddress::parse("127.0.0.1")->to_string(), "127.0.0.1");
  EXPECT_EQ(IpAddress::parse("::1")->to_string(), "::1");
  EXPECT_EQ(IpAddress::parse("2001:DB8::1")->to_string(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("999.1.1.1"));
  EXPECT_FALSE(IpAddress::parse("10.1"));
  EXPECT_FALSE(IpAddress::parse(""));
  EXPECT_FALSE(IpAddress::parse("jane"));
  EXPECT_FALSE(IpAddress::parse("1.2.3.4 "));
}

TEST(IpAddress, FoldsV4MappedV6ToV4) {
  auto ip = IpAddress::parse("::ffff:192.0.2.7");
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->family(), IpAddress::Family::v4);
  EXPECT_EQ(*ip, *IpAddress::parse("192.0.2.7"));
}

TEST(Cidr, ContainsWhatThePrefixSays) {
  auto net = Cidr::parse("192.0.2.0/24");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(*IpAddress::parse("192.0.2.53")));
  EXPECT_TRUE(net->contains(*IpAddress::parse("::ffff:192.0.2.111")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("192.0.3.1")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("fd95:4eed:38ba::25")));
  EXPECT_EQ(net->first().to_string(), "192.0.2.0");
  EXPECT_EQ(net->last().to_string(), "192.0.2.255");
}

TEST(Cidr, ZeroPrefixIsTheWholeFamilyOnly) {
  auto all_v4 = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all_v4);
  EXPECT_TRUE(all_v4->contains(*IpAddress::parse("203.0.113.9")));
  EXPECT_FALSE(all_v4->contains(*IpAddress::parse("::1")));
}

TEST(Cidr, HostBitsAreClearedAndBareAddressIsFullLength) {
  EXPECT_EQ(Cidr::parse("10.1.2.3/8")->to_string(), "10.0.0.0/8");
  auto host = Cidr::parse("::1");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->bits(), 128);
  EXPECT_TRUE(host->contains(*IpAddress::parse("::1")));
  EXPECT_FALSE(host->contains(*IpAddress::parse("::2")));
  EXPECT_TRUE(Cidr::parse("fd00::/8")->contains(*IpAddress::parse("fd95:4eed:38ba::25")));
}

TEST(IpAddress, AnEmbeddedNulIsNoAddress) {
  using namespace std::string_literals;
  EXPECT_FALSE(IpAddress::parse("1.2.3.4\0garbage"s));
  EXPECT_FALSE(IpAddress::parse("::1\0"s));
  EXPECT_FALSE(Cidr::parse("10.0.0.0\0junk/8"s));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/8\0"s));
}

TEST(Cidr, MappedNetworksCountTheirPrefixFromBit96) {
  auto net = Cidr::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(net);
  EXPECT_EQ(net->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(net->contains(*IpAddress::parse("10.200.0.1")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("11.0.0.1")));
  EXPECT_EQ(Cidr::parse("::ffff:0.0.0.0/96")->to_string(), "0.0.0.0/0");
  EXPECT_EQ(Cidr::parse("::ffff:192.0.2.7")->to_string(), "192.0.2.7/32");
  EXPECT_FALSE(Cidr::parse("::ffff:10.0.0.0/95"));
  EXPECT_FALSE(Cidr::parse("::ffff:10.0.0.0/129"));
}

TEST(Cidr, RejectsBadPrefixes) {
  EXPECT_FALSE(Cidr::parse("127.0.0.0/33"));
  EXPECT_FALSE(Cidr::parse("::/129"));
  EXPECT_FALSE(Cidr::parse("127.0.0.2/"));
  EXPECT_FALSE(Cidr::parse("127.0.0.2/8x"));
  EXPECT_FALSE(Cidr::parse("127.0.0.2/-1"));
  EXPECT_FALSE(Cidr::parse("/8"));
}

TEST(LooksLikeNetwork, SeparatesAddressesFromUserNames) {
  EXPECT_TRUE(looks_like_network("127.0.0.1"));
  EXPECT_TRUE(looks_like_network("999.1.1.1"));
  EXPECT_TRUE(looks_like_network("127.0.0.0/33"));
  EXPECT_TRUE(looks_like_network("::1"));
  EXPECT_TRUE(looks_like_network("fd95::/16"));
  EXPECT_TRUE(looks_like_network("12/8"));
  EXPECT_FALSE(looks_like_network("12345"));
  EXPECT_FALSE(looks_like_network("jane"));
  EXPECT_FALSE(looks_like_network("john@example.com"));
  EXPECT_FALSE(looks_like_network("ja*"));
  EXPECT_FALSE(looks_like_network("user.name"));
}

}  // namespace
}  // namespace anvil

namespace anvil {
namespace {

// IPv4 text is read without inet_pton; it must accept exactly what
// inet_pton accepts, with the same bytes.
TEST(IpAddress, ReadsIpv4ExactlyAsInetPton) {
  std::vector<std::string> texts = {
      "0.0.0.0",  "255.255.255.255", "256.1.1.1", "1.2.3",    "1.2.3.4.",   ".1.2.3.4", "01.2.3.4",
      "1.2.3.04", "1..2.3",          "1.2.3.4 ",  "1.2.3.-4", "1234.1.1.1", "10.0.0.1", ""};
  std::mt19937 random(7);
  const std::string alphabet = "0123456789.";
  for (int i = 0; i < 200000; i++) {
    std::string text;
    std::size_t length = 1 + random() % 16;
    for (std::size_t j = 0; j < length; j++) text += alphabet[random() % alphabet.size()];
    texts.push_back(text);
  }
  for (int i = 0; i < 20000; i++) {  // mostly valid, some parts out of range
    texts.push_back(std::to_string(random() % 300) + "." + std::to_string(random() % 300) + "." +
                    std::to_string(random() % 300) + "." + std::to_string(random() % 300));
  }
  for (const std::string& text : texts) {
    unsigned char expected[4];
    bool valid = inet_pton(AF_INET, text.c_str(), expected) == 1;
    auto parsed = IpAddress::parse(text);
    ASSERT_EQ(parsed.has_value(), valid) << "\"" << text << "\"";
    if (valid) {
      ASSERT_EQ(parsed->family(), IpAddress::Family::v4);
      ASSERT_EQ(std::memcmp(parsed->bytes().data(), expected, 4), 0) << text;
    }
  }
}

}  // namespace
}  // namespace anvil
