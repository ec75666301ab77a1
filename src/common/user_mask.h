// User-name masks: '*' matches any run of characters (also none), '?' exactly
// one; the whole name must match; letters compare ASCII case-insensitively.
// A name without wildcards is a mask that matches only itself (in any case):
// plain names and masks follow one rule.
#pragma once

#include <string>
#include <string_view>

namespace anvil {

// ASCII lower-casing; other bytes (UTF-8 included) are left alone.
std::string ascii_fold(std::string_view text);
// Equal when ASCII-folded (without building the folded copies).
bool ascii_equal_folded(std::string_view a, std::string_view b);
// ASCII upper-casing, for protocol keywords.
std::string ascii_upper(std::string_view text);

class UserMask {
 public:
  explicit UserMask(std::string pattern);

  bool matches(std::string_view name) const;
  bool has_wildcards() const { return has_wildcards_; }
  // The pattern as given, and ASCII-folded (the key for exact lookups).
  const std::string& pattern() const { return pattern_; }
  const std::string& folded() const { return folded_; }

 private:
  std::string pattern_;
  std::string folded_;
  bool has_wildcards_ = false;
};

}  // namespace anvil
