#include "registry/session_filter.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

Session jane() {
  Session s;
  s.id = ConnectionId::random();
  s.pid = 42;
  s.service = "imap";
  s.user = "jane";
  s.client_ip = IpAddress::parse("192.0.2.53");
  s.dest_ip = IpAddress::parse("10.0.0.5");
  return s;
}

TEST(SessionFilter, EmptyMatchesEverything) {
  EXPECT_TRUE(SessionFilter{}.matches(jane()));
}

TEST(SessionFilter, GroupsAreAndedAlternativesOred) {
  SessionFilter f;
  f.users = {UserMask("john"), UserMask("JANE")};
  f.networks = {*Cidr::parse("10.0.0.0/8"), *Cidr::parse("192.0.2.0/24")};
  EXPECT_TRUE(f.matches(jane()));
  f.services = {"pop3"};
  EXPECT_FALSE(f.matches(jane()));
  f.services = {"IMAP"};
  EXPECT_TRUE(f.matches(jane()));
  f.pids = {7};
  EXPECT_FALSE(f.matches(jane()));
}

TEST(SessionFilter, NetworkNeverMatchesASessionWithoutAddress) {
  Session s = jane();
  s.client_ip.reset();
  SessionFilter f;
  f.networks = {*Cidr::parse("0.0.0.0/0")};
  EXPECT_FALSE(f.matches(s));
  EXPECT_TRUE(f.matches(jane()));
}

TEST(SessionFilter, DestinationIsExact) {
  SessionFilter f;
  f.destinations = {*IpAddress::parse("10.0.0.5")};
  EXPECT_TRUE(f.matches(jane()));
  f.destinations = {*IpAddress::parse("10.0.0.6")};
  EXPECT_FALSE(f.matches(jane()));
}

TEST(SessionFilter, AltFieldReplacesTheUserName) {
  Session s = jane();
  s.alt_names = {{"user_email", "jane@example.com"}};
  SessionFilter f;
  f.alt_field = "user_email";
  f.users = {UserMask("jane")};
  EXPECT_FALSE(f.matches(s));
  f.users = {UserMask("jane@*")};
  EXPECT_TRUE(f.matches(s));
  f.alt_field = "user_other";
  EXPECT_FALSE(f.matches(s));
}

TEST(SessionFilter, ConnectionId) {
  Session s = jane();
  SessionFilter f;
  f.ids = {ConnectionId::random()};
  EXPECT_FALSE(f.matches(s));
  f.ids.push_back(s.id);
  EXPECT_TRUE(f.matches(s));
}

}  // namespace
}  // namespace anvil

namespace anvil {
namespace {

// After a password reset at T, the sessions opened before T: strictly
// before, so one opened in the second of the reset stays.
TEST(SessionFilter, StartedBeforeIsStrictAndAndsWithTheRest) {
  Session s;
  s.user = "jane";
  s.start_time = 1000;
  SessionFilter f;
  f.started_before = 1001;
  EXPECT_FALSE(f.empty());
  EXPECT_TRUE(f.matches(s));
  f.started_before = 1000;
  EXPECT_FALSE(f.matches(s));
  f.started_before = 2000;
  f.users = {UserMask("john")};
  EXPECT_FALSE(f.matches(s));
  f.users = {UserMask("ja*")};
  EXPECT_TRUE(f.matches(s));
}

}  // namespace
}  // namespace anvil
