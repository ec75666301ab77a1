// The audit record's text: whatever names peers chose, it is one valid JSON
// line that says what they were.
#include "daemon/audit_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "common/test_temp_file.h"
#include "daemon/running_kick.h"

namespace anvil {
namespace {

TEST(AuditLog, EveryUserNameIsWrittenAsValidJson) {
  const std::vector<std::string> users = {
      "jane",
      "quote\"and\\backslash",
      "tab\tnewline\nnul" + std::string(1, '\0'),
      "\xc3\xbc"
      "ber",  // valid UTF-8, not ASCII
      "bad\xff"
      "utf8",  // invalid UTF-8: replaced
      "",
  };
  std::vector<KickOutcome> outcomes;
  for (const std::string& user : users) {
    KickOutcome outcome;
    outcome.session.id = ConnectionId::random();
    outcome.session.user = user;
    outcome.session.service = "imap";
    outcome.session.pid = 42;
    outcome.session.client_ip = IpAddress::parse("192.0.2.1");
    outcome.status = KickStatus::kicked;
    outcome.why = user == "jane" ? "" : "why: " + user;
    outcomes.push_back(outcome);
  }
  KickAudit kick;
  kick.filter = {"user=*"};
  kick.reason = "reason \"quoted\"";
  std::string text = AuditLog::format(kick, outcomes, 1'700'000'000'000);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto record = nlohmann::json::parse(text);
  ASSERT_EQ(record["connections"].size(), users.size());
  for (std::size_t i = 0; i < users.size(); i++) {
    const auto& connection = record["connections"][i];
    std::string expected = users[i] ==
                                   "bad\xff"
                                   "utf8"
                               ? "bad\xef\xbf\xbd"
                                 "utf8"
                               : users[i];
    EXPECT_EQ(connection["user"], expected) << i;
    EXPECT_EQ(connection["id"], outcomes[i].session.id.to_hex());
    EXPECT_EQ(connection["ip"], "192.0.2.1");
    EXPECT_EQ(connection["dest_ip"], nullptr);
    EXPECT_EQ(connection["uid"], nullptr);
    EXPECT_EQ(connection["outcome"], "kicked");
    EXPECT_EQ(connection.contains("why"), users[i] != "jane");
  }
  EXPECT_EQ(record["reason"], "reason \"quoted\"");
  EXPECT_EQ(record["kicked"], users.size());
}

// A record of many connections is written in parts; the file still holds
// each record as one whole JSON line, in order, with every connection.
TEST(AuditLog, ALargeRecordIsOneLineWrittenInParts) {
  TestTempFile file("anvil-audit");
  AuditLog log(file.path());
  ASSERT_EQ(log.open(), "");
  std::vector<KickOutcome> outcomes(30000);
  for (std::size_t i = 0; i < outcomes.size(); i++) {
    outcomes[i].session.id = ConnectionId::random();
    outcomes[i].session.user = "user" + std::to_string(i) + "@example.com";
    outcomes[i].session.service = "imap";
    outcomes[i].status = i % 3 ? KickStatus::kicked : KickStatus::timeout;
  }
  KickAudit kick;
  kick.filter = {"net=10.0.0.0/8"};
  ASSERT_EQ(log.record(kick, outcomes), "");
  std::vector<KickOutcome> small(outcomes.begin(), outcomes.begin() + 1);
  ASSERT_EQ(log.record(kick, small), "");

  std::ifstream in(file.path());
  std::string first, second, none;
  ASSERT_TRUE(std::getline(in, first));
  ASSERT_TRUE(std::getline(in, second));
  EXPECT_FALSE(std::getline(in, none));
  EXPECT_GT(first.size(), 2u << 20);  // more than one part
  auto record = nlohmann::json::parse(first);
  ASSERT_EQ(record["connections"].size(), outcomes.size());
  EXPECT_EQ(record["matched"], outcomes.size());
  EXPECT_EQ(record["kicked"], 20000);
  for (std::size_t i = 0; i < outcomes.size(); i += 997) {
    EXPECT_EQ(record["connections"][i]["id"], outcomes[i].session.id.to_hex());
    EXPECT_EQ(record["connections"][i]["user"], outcomes[i].session.user);
  }
  EXPECT_EQ(nlohmann::json::parse(second)["connections"].size(), 1u);
  EXPECT_EQ(AuditLog::format(kick, outcomes, 1).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace anvil
