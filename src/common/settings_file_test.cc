#include "common/settings_file.h"

#include <gtest/gtest.h>

#include <map>

#include "common/test_temp_file.h"

namespace anvil {
namespace {

using std::chrono::milliseconds;

TEST(SettingsFile, OverridesTrimAndReportErrors) {
  std::map<std::string, std::string> seen;
  SettingSetter set = [&](const std::string& key, const std::string& value) -> std::string {
    if (key == "bad") return "invalid value for bad";
    seen[key] = value;
    return "";
  };
  EXPECT_EQ(apply_setting_override(" a = b c ", set), "");
  EXPECT_EQ(seen["a"], "b c");
  EXPECT_EQ(apply_setting_override("empty=", set), "");
  EXPECT_EQ(seen["empty"], "");
  EXPECT_NE(apply_setting_override("novalue", set), "");
  EXPECT_EQ(apply_setting_override("bad=1", set), "invalid value for bad");
}

TEST(SettingsFile, FileErrorsNameTheLine) {
  TestTempFile file("anvil-settings");
  const std::string& path = file.path();
  file.write("# comment\n\nx = 1 # trailing\nnot an assignment\n");
  std::map<std::string, std::string> seen;
  SettingSetter set = [&](const std::string& key, const std::string& value) -> std::string {
    seen[key] = value;
    return "";
  };
  EXPECT_EQ(load_settings_file(path, set), path + ":4: expected key = value");
  EXPECT_EQ(seen["x"], "1");
  file.remove();
  EXPECT_NE(load_settings_file(path, set), "");
}

TEST(SettingsFile, Durations) {
  milliseconds out{};
  const milliseconds lo{1}, hi{86'400'000};
  EXPECT_TRUE(parse_duration("30", lo, hi, &out));
  EXPECT_EQ(out, milliseconds(30'000));
  EXPECT_TRUE(parse_duration("250ms", lo, hi, &out));
  EXPECT_EQ(out, milliseconds(250));
  EXPECT_TRUE(parse_duration("2 min", lo, hi, &out));
  EXPECT_EQ(out, milliseconds(120'000));
  EXPECT_TRUE(parse_duration("1h", lo, hi, &out));
  EXPECT_FALSE(parse_duration("0", lo, hi, &out));
  EXPECT_FALSE(parse_duration("-5", lo, hi, &out));
  EXPECT_FALSE(parse_duration("5 fortnights", lo, hi, &out));
  EXPECT_FALSE(parse_duration("", lo, hi, &out));
  EXPECT_FALSE(parse_duration("99999999999999999h", lo, hi, &out));
  // A maximum of milliseconds::max() must not let number * factor overflow.
  EXPECT_FALSE(parse_duration("9223372036854775h", lo, milliseconds::max(), &out));
  EXPECT_FALSE(parse_duration("9223372036854776s", lo, milliseconds::max(), &out));
  EXPECT_TRUE(parse_duration("9223372036854775s", lo, milliseconds::max(), &out));
  EXPECT_EQ(out, milliseconds(9'223'372'036'854'775'000));
  bool flag = false;
  EXPECT_TRUE(parse_bool("yes", &flag));
  EXPECT_TRUE(flag);
  EXPECT_TRUE(parse_bool("no", &flag));
  EXPECT_FALSE(flag);
  EXPECT_FALSE(parse_bool("maybe", &flag));
}

}  // namespace
}  // namespace anvil

namespace anvil {
namespace {

TEST(SettingsFile, ListsAndWholeLoads) {
  EXPECT_EQ(split_list(" a, b  c,,d "), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(split_list("").empty());
  std::map<std::string, std::string> seen;
  SettingSetter set = [&](const std::string& key, const std::string& value) -> std::string {
    if (key == "bad") return "invalid value for bad";
    seen[key] = value;
    return "";
  };
  EXPECT_EQ(load_settings("", {"a=1", "b=2"}, set), "");
  EXPECT_EQ(seen["b"], "2");
  EXPECT_EQ(load_settings("", {"a=3", "bad=1", "c=4"}, set), "-o bad=1: invalid value for bad");
  EXPECT_EQ(seen.count("c"), 0u);
  EXPECT_NE(load_settings("/nonexistent/anvil.conf", {}, set), "");
}

}  // namespace
}  // namespace anvil
