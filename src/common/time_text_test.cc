#include "common/time_text.h"

#include <stdlib.h>
#include <time.h>

#include <gtest/gtest.h>

namespace anvil {
namespace {

// Runs the test in a fixed time zone, then restores the one before.
class InZone {
 public:
  explicit InZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~InZone() {
    if (old_.empty()) {
      unsetenv("TZ");
    } else {
      setenv("TZ", old_.c_str(), 1);
    }
    tzset();
  }

 private:
  std::string old_;
};

constexpr std::int64_t k20261130T104200Z = 1796035320;

TEST(TimeText, DurationsSumTheirParts) {
  EXPECT_EQ(parse_duration("90"), 90);
  EXPECT_EQ(parse_duration("90s"), 90);
  EXPECT_EQ(parse_duration("15m"), 900);
  EXPECT_EQ(parse_duration("1h30m"), 5400);
  EXPECT_EQ(parse_duration("2d"), 172800);
  EXPECT_EQ(parse_duration("1w"), 604800);
  EXPECT_EQ(parse_duration("0"), 0);
  for (const char* bad :
       {"", "h", "1x", "-5m", "1h30", "1.5h", " 5m", "5m ", "99999999999", "3661d", "522w6d1s"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
}

TEST(TimeText, TimesInEveryFormAdminsType) {
  InZone zone("EST5");  // UTC-5, no daylight saving
  std::int64_t now = k20261130T104200Z + 3600;
  EXPECT_EQ(parse_time("1796035320", now), k20261130T104200Z);
  EXPECT_EQ(parse_time("2026-11-30T10:42:00Z", now), k20261130T104200Z);
  EXPECT_EQ(parse_time("2026-11-30T10:42Z", now), k20261130T104200Z);
  EXPECT_EQ(parse_time("2026-11-30 11:42+01:00", now), k20261130T104200Z);
  EXPECT_EQ(parse_time("2026-11-30T05:42:00-0500", now), k20261130T104200Z);
  // Without a zone: local time (here UTC-5).
  EXPECT_EQ(parse_time("2026-11-30T05:42", now), k20261130T104200Z);
  EXPECT_EQ(parse_time("2026-11-30 05:42:30", now), k20261130T104200Z + 30);
  // A time of day: today, local time.
  EXPECT_EQ(parse_time("05:42", now), k20261130T104200Z);
  EXPECT_EQ(parse_time("05:42:07", now), k20261130T104200Z + 7);
  for (const char* bad :
       {"", "10:42pm", "25:00", "10:60", "2026-13-01T00:00", "2026-02-29T00:00", "2026-11-30",
        "2026-11-30T10:42:00+25:00", "2026-11-30T10:42Zjunk", "yesterday", "-5"}) {
    EXPECT_EQ(parse_time(bad, now), std::nullopt) << bad;
  }
  EXPECT_NE(parse_time("2028-02-29T00:00Z", now), std::nullopt);  // a leap day
}

TEST(TimeText, FormatsUtc) {
  EXPECT_EQ(format_utc(k20261130T104200Z + 7), "2026-11-30T10:42:07Z");
  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace anvil
