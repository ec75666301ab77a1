// The audit record's text: whatever names peers chose, it is one valid JSON
// line that says what they were.
#include "daemon/audit_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace anvil
