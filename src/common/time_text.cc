#include "common/time_text.h"

#include <time.h>

#include <charconv>
#include <cstdio>

namespace anvil {

namespace {

constexpr std::int64_t kTenYears = 3660LL * 24 * 3600;  // 3660 days

// Reads exactly `digits` decimal digits at text[*at]; advances *at.
bool read_number(std::string_view text, std::size_t* at, std::size_t digits, int* value) {
  if (*at + digits > text.size()) return false;
  int result = 0;
  for (std::size_t i = 0; i < digits; i++) {
    char c = text[*at + i];
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *at += digits;
  *value = result;
  return true;
}

bool read_char(std::string_view text, std::size_t* at, char c) {
  if (*at >= text.size() || text[*at] != c) return false;
  (*at)++;
  return true;
}

// "HH:MM" or "HH:MM:SS" at text[*at].
bool read_clock(std::string_view text, std::size_t* at, tm* out) {
  if (!read_number(text, at, 2, &out->tm_hour) || !read_char(text, at, ':') ||
      !read_number(text, at, 2, &out->tm_min)) {
    return false;
  }
  out->tm_sec = 0;
  if (*at < text.size() && text[*at] == ':' && !(++*at, read_number(text, at, 2, &out->tm_sec))) {
    return false;
  }
  return out->tm_hour <= 23 && out->tm_min <= 59 && out->tm_sec <= 59;
}

bool valid_date(const tm& t) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.tm_mon < 0 || t.tm_mon > 11 || t.tm_mday < 1) return false;
  int year = t.tm_year + 1900;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = t.tm_mon == 1 && !leap ? 28 : kDays[t.tm_mon];
  return t.tm_mday <= days;
}

}  // namespace

std::optional<std::int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t at = 0;
  for (int parts = 0; at < text.size(); parts++) {
    std::int64_t number = 0;
    const char* begin = text.data() + at;
    auto [end, ec] = std::from_chars(begin, text.data() + text.size(), number);
    if (ec != std::errc() || end == begin || number < 0 || number > kTenYears) {
      return std::nullopt;
    }
    at += static_cast<std::size_t>(end - begin);
    std::int64_t unit = 1;
    if (at < text.size()) {
      switch (text[at]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return std::nullopt;
      }
      at++;
    } else if (parts > 0) {
      return std::nullopt;  // a bare number only on its own: "1h30" is a typo
    }
    total += number * unit;
    if (total > kTenYears) return std::nullopt;
  }
  return total;
}

std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return seconds;
  }
  tm t{};
  std::size_t at = 0;
  if (text.size() >= 5 && text[2] == ':') {  // a time of day, today
    time_t today = static_cast<time_t>(now);
    localtime_r(&today, &t);
    if (!read_clock(text, &at, &t) || at != text.size()) return std::nullopt;
    t.tm_isdst = -1;
    time_t result = mktime(&t);
    if (result == static_cast<time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(result);
  }
  int year = 0;
  if (!read_number(text, &at, 4, &year) || !read_char(text, &at, '-') ||
      !read_number(text, &at, 2, &t.tm_mon) || !read_char(text, &at, '-') ||
      !read_number(text, &at, 2, &t.tm_mday)) {
    return std::nullopt;
  }
  t.tm_year = year - 1900;
  t.tm_mon -= 1;
  if (!valid_date(t)) return std::nullopt;
  if (at == text.size() || (text[at] != 'T' && text[at] != ' ')) return std::nullopt;
  at++;
  if (!read_clock(text, &at, &t)) return std::nullopt;
  if (at == text.size()) {  // no zone: local time
    t.tm_isdst = -1;
    time_t result = mktime(&t);
    if (result == static_cast<time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(result);
  }
  std::int64_t offset = 0;  // seconds east of UTC
  if (text[at] == 'Z' && at + 1 == text.size()) {
    offset = 0;
  } else if (text[at] == '+' || text[at] == '-') {
    int sign = text[at] == '+' ? 1 : -1;
    at++;
    int hours = 0, minutes = 0;
    if (!read_number(text, &at, 2, &hours)) return std::nullopt;
    read_char(text, &at, ':');
    if (!read_number(text, &at, 2, &minutes) || at != text.size() || hours > 23 || minutes > 59) {
      return std::nullopt;
    }
    offset = sign * (hours * 3600 + minutes * 60);
  } else {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(timegm(&t)) - offset;
}

std::string format_utc(std::int64_t unix_seconds) {
  time_t seconds = static_cast<time_t>(unix_seconds);
  tm t{};
  gmtime_r(&seconds, &t);
  char text[64];  // ints of any size: the compiler checks it
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
  return text;
}

}  // namespace anvil
