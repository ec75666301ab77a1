#include "http/credentials.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>

#include "common/test_temp_file.h"

namespace anvil {
namespace {

std::string base64(std::string_view text) {
  std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                    text.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    credentials.add({"ops", HttpRole::kick}, "kick-secret");
    credentials.add({"grafana", HttpRole::read}, "read-secret");
  }
  Credentials credentials;
};

TEST_F(CredentialsTest, EveryDoveadmAndBearerFormNamesTheKeysOwner) {
  auto bearer = credentials.authenticate("Bearer kick-secret");
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->name, "ops");
  EXPECT_EQ(bearer->role, HttpRole::kick);
  auto dovecot = credentials.authenticate("X-Dovecot-API " + base64("read-secret"));
  ASSERT_TRUE(dovecot);
  EXPECT_EQ(dovecot->name, "grafana");
  EXPECT_EQ(dovecot->role, HttpRole::read);
  // Basic with doveadm's fixed user name, or the key's own name.
  EXPECT_EQ(credentials.authenticate("Basic " + base64("doveadm:kick-secret"))->name, "ops");
  EXPECT_EQ(credentials.authenticate("basic " + base64("grafana:read-secret"))->name, "grafana");
}

TEST_F(CredentialsTest, WrongMissingOrMalformedCredentialsNameNobody) {
  EXPECT_FALSE(credentials.authenticate(""));
  EXPECT_FALSE(credentials.authenticate("Bearer"));
  EXPECT_FALSE(credentials.authenticate("Bearer wrong"));
  EXPECT_FALSE(credentials.authenticate("Bearer kick-secretx"));
  EXPECT_FALSE(credentials.authenticate("X-Dovecot-API kick-secret"));  // not base64 of it
  EXPECT_FALSE(credentials.authenticate("X-Dovecot-API !!!"));
  // Another key's name with this key: refused, so a name cannot be claimed.
  EXPECT_FALSE(credentials.authenticate("Basic " + base64("grafana:kick-secret")));
  EXPECT_FALSE(credentials.authenticate("Basic " + base64(":kick-secret")));
  EXPECT_FALSE(credentials.authenticate("Basic " + base64("kick-secret")));
  EXPECT_FALSE(credentials.authenticate("Digest kick-secret"));
  EXPECT_FALSE(credentials.authenticate("Bearer " + std::string(100'000, 'k')));
}

TEST_F(CredentialsTest, AKeysFileHoldsHashesNotKeys) {
  std::string key = Credentials::new_key();
  EXPECT_EQ(key.size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_NE(key, Credentials::new_key());
  std::string line = Credentials::key_line({"web", HttpRole::kick}, key);
  EXPECT_EQ(line.find(key), std::string::npos);
  TestTempFile file("keys");
  file.write("# anvil-httpd keys\n" + line + "  # the admins\n\n" +
             Credentials::key_line({"dash", HttpRole::read}, "other") + "\n");
  Credentials loaded;
  ASSERT_EQ(loaded.load(file.path()), "");
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded.authenticate("Bearer " + key)->name, "web");
  EXPECT_EQ(loaded.authenticate("Bearer other")->role, HttpRole::read);
}

TEST_F(CredentialsTest, AMalformedKeysFileIsRefusedNamingTheLine) {
  std::string hash(64, 'a');
  struct Case {
    std::string text, error;
  } cases[] = {
      {"ops kick\n", "line 1: want <name> <role> <sha256 of the key>"},
      {"ops admin " + hash + "\n", "line 1: role must be read or kick, not admin"},
      {"# c\nops kick " + hash.substr(1) + "\n", "line 2: the key's hash must be 64"},
      {"o/ps kick " + hash + "\n", "line 1: invalid key name o/ps"},
      {"ops kick " + hash + "\nops read " + std::string(64, 'b') + "\n",
       "line 2: key name ops used twice"},
  };
  for (const Case& c : cases) {
    TestTempFile file("keys");
    file.write(c.text);
    Credentials loaded;
    std::string error = loaded.load(file.path());
    EXPECT_NE(error.find(c.error), std::string::npos) << c.text << " gave " << error;
    EXPECT_EQ(loaded.size(), 0u);
  }
  Credentials missing;
  EXPECT_NE(missing.load("/nonexistent/keys").find("cannot read keys file"), std::string::npos);
}

}  // namespace
}  // namespace anvil
