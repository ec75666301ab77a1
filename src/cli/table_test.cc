#include "cli/table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace anvil {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t lf = text.find('\n', at);
    lines.push_back(text.substr(at, lf - at));
    at = lf + 1;
  }
  return lines;
}

Table sample() {
  Table t;
  t.columns = {{"username", "username", false, true},
               {"connections", "#", true, false},
               {"pids", "(pids)"},
               {"dest", "dest"}};
  t.rows.push_back({Cell::of_text("jane"), Cell::of_number(3), Cell::of_list({"10", "11"}, true),
                    Cell::of_text("")});
  t.rows.push_back({Cell::of_text("john@example.com"), Cell::of_number(12),
                    Cell::of_list({"7"}, true), Cell::of_text("10.0.0.5")});
  return t;
}

TEST(Table, WidthsComeFromTheRowsAndNumbersAlignRight) {
  std::string out = format_table(sample(), 0);
  EXPECT_EQ(out,
            "username          # (pids)  dest\n"
            "jane              3 (10 11) -\n"
            "john@example.com 12 (7)     10.0.0.5\n");
}

TEST(Table, ExpandColumnTakesHalfTheSpareWidth) {
  std::string out = format_table(sample(), 80);
  // 16+1+2+1+7+1+8 = 36 used; (80-36)/2 = 22 extra for username.
  // The right-aligned "#" column is two wide ("12"), hence two spaces before it.
  EXPECT_EQ(out.substr(0, out.find('\n')), "username" + std::string(30, ' ') + "  # (pids)  dest");
}

// Columns are as wide as the text shows, not as its bytes: a UTF-8 name
// of 18 characters in 21 bytes lines up with ASCII ones, in the first rows
// and in the rows printed after the widths are set.
TEST(Table, WidthsCountCharactersNotBytes) {
  Table t;
  t.columns = {{"username", "username"}, {"service", "service"}};
  const std::string utf8 =
      "m\xc3\xbcller-l\xc3\xbc"
      "densch\xc3\xa9id";  // müller-lüdenschéid: 18 characters, 21 bytes
  auto row = [&](const std::string& user) {
    t.rows.push_back({Cell::of_text(user), Cell::of_text("imap")});
  };
  row(utf8);
  row("jane");
  for (std::size_t i = 0; i < RowWriter::kWidthRows; i++) row("x");
  row(utf8);                  // after the widths are fixed
  row("abcdefghijklmnopqr");  // 18 ASCII characters
  std::string out = format_table(t, 0);
  std::vector<std::string> lines = lines_of(out);
  ASSERT_EQ(lines.size(), 5 + RowWriter::kWidthRows);
  EXPECT_EQ(lines[0], "username           service");
  EXPECT_EQ(lines[1], utf8 + " imap");
  EXPECT_EQ(lines[2], "jane               imap");
  EXPECT_EQ(lines[3 + RowWriter::kWidthRows], utf8 + " imap");
  EXPECT_EQ(lines[4 + RowWriter::kWidthRows], "abcdefghijklmnopqr imap");
}

TEST(Table, NeverTruncates) {
  Table t;
  t.columns = {{"username", "username", false, true}};
  t.rows.push_back({Cell::of_text(std::string(100, 'x'))});
  EXPECT_NE(format_table(t, 30).find(std::string(100, 'x')), std::string::npos);
}

// As doveadm's: the first 100 rows size the columns, and later rows go out
// at once at those widths; a wider later text is printed whole.
TEST(Table, TheFirstHundredRowsSetTheWidths) {
  Table t;
  t.columns = {{"user", "user"}, {"n", "n", true}};
  for (int i = 0; i < 150; i++) {
    std::string user =
        i == 120 ? "a-much-longer-name" : std::string("u").append(std::to_string(i % 10));
    t.rows.push_back({Cell::of_text(user), Cell::of_number(i)});
  }
  std::string out = format_table(t, 0);
  std::vector<std::string> lines = lines_of(out);
  ASSERT_EQ(lines.size(), 151u);
  EXPECT_EQ(lines[0], "user  n");
  EXPECT_EQ(lines[1], "u0    0");
  EXPECT_EQ(lines[100], "u9   99");
  EXPECT_EQ(lines[101], "u0   100");
  EXPECT_EQ(lines[121], "a-much-longer-name 120");
  EXPECT_EQ(lines[150], "u9   149");
}

TEST(Table, Tab) {
  EXPECT_EQ(format_tab(sample()),
            "username\t#\t(pids)\tdest\n"
            "jane\t3\t(10 11)\t\n"
            "john@example.com\t12\t(7)\t10.0.0.5\n");
}

TEST(Table, Flow) {
  EXPECT_EQ(format_flow(sample()),
            "username=jane #=3 (pids)=(10 11) dest=\n"
            "username=john@example.com #=12 (pids)=(7) dest=10.0.0.5\n");
}

TEST(Table, Pager) {
  EXPECT_EQ(format_pager(sample()),
            "username: jane\n#: 3\n(pids): (10 11)\ndest: \n\f\n"
            "username: john@example.com\n#: 12\n(pids): (7)\ndest: 10.0.0.5\n");
}

TEST(Table, JsonIsOneValidTypedArray) {
  auto parsed = nlohmann::json::parse(format_json(sample()));
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["username"], "jane");
  EXPECT_TRUE(parsed[0]["connections"].is_number_integer());
  EXPECT_EQ(parsed[0]["connections"], 3);
  EXPECT_EQ(parsed[0]["pids"], nlohmann::json::array({10, 11}));
  EXPECT_TRUE(parsed[0]["dest"].is_null());
  EXPECT_EQ(parsed[1]["dest"], "10.0.0.5");
}

TEST(Table, EmptyJsonIsAnEmptyArray) {
  Table t = sample();
  t.rows.clear();
  EXPECT_EQ(format_json(t), "[]\n");
  EXPECT_EQ(format_table(t, 0), "username # (pids) dest\n");
}

TEST(Table, JsonSurvivesInvalidUtf8) {
  Table t;
  t.columns = {{"username", "username"}};
  t.rows.push_back({Cell::of_text("bad\xff")});
  nlohmann::json parsed;
  EXPECT_NO_THROW(parsed = nlohmann::json::parse(format_json(t)));
  EXPECT_EQ(parsed.size(), 1u);
}

}  // namespace
}  // namespace anvil
