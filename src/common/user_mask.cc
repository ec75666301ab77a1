#include "common/user_mask.h"

namespace anvil {

namespace {
char fold(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

std::string ascii_fold(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = fold(c);
  return out;
}

bool ascii_equal_folded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); i++) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

UserMask::UserMask(std::string pattern)
    : pattern_(std::move(pattern)),
      folded_(ascii_fold(pattern_)),
      has_wildcards_(pattern_.find_first_of("*?") != std::string::npos) {}

bool UserMask::matches(std::string_view name) const {
  const std::string& mask = folded_;
  if (!has_wildcards_) {
    if (name.size() != mask.size()) return false;
    for (std::size_t i = 0; i < name.size(); i++) {
      if (fold(name[i]) != mask[i]) return false;
    }
    return true;
  }
  // Greedy matching that backtracks only to the most recent '*': linear in
  // practice and never exponential.
  std::size_t n = 0, m = 0;
  std::size_t star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (m < mask.size() && (mask[m] == '?' || mask[m] == fold(name[n])) && mask[m] != '*') {
      n++;
      m++;
    } else if (m < mask.size() && mask[m] == '*') {
      star = m++;
      star_n = n;
    } else if (star != std::string::npos) {
      m = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (m < mask.size() && mask[m] == '*') m++;
  return m == mask.size();
}

}  // namespace anvil
