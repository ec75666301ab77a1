#include "common/line_codec.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

namespace anvil {

namespace {
constexpr char kEscape = '\001';
}

namespace {

constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (char c : {kEscape, '\t', '\r', '\n', '\0'}) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool needs_escape(char c) {
  return kNeedsEscape[static_cast<unsigned char>(c)];
}

// True if no byte of the 8 in `word` is below 0x0e, where every special
// byte lies (the classic test for a byte below n, eight bytes at a time).
bool no_byte_below_14(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  return ((word - kOnes * 14) & ~word & kHighs) == 0;
}

// Appends raw to out with its special bytes escaped; runs without any are
// copied whole.
void append_escaped(std::string& out, std::string_view raw) {
  std::size_t clean = 0;  // bytes known to need no escape
  while (clean + 8 <= raw.size()) {
    std::uint64_t word;
    std::memcpy(&word, raw.data() + clean, sizeof word);
    if (!no_byte_below_14(word)) break;
    clean += 8;
  }
  std::size_t run = 0;
  for (std::size_t i = clean; i < raw.size(); i++) {
    char c = raw[i];
    if (!needs_escape(c)) continue;
    out.append(raw.data() + run, i - run);
    run = i + 1;
    out += kEscape;
    out += c == kEscape ? '1' : c == '\t' ? 't' : c == '\r' ? 'r' : c == '\n' ? 'n' : '0';
  }
  out.append(raw.data() + run, raw.size() - run);
}

}  // namespace

std::string escape_field(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  append_escaped(out, raw);
  return out;
}

namespace {

// Unescapes field[0, size) onto itself; returns the new size.
std::size_t unescape_in_place(char* field, std::size_t size) {
  char* end = field + size;
  char* in = static_cast<char*>(std::memchr(field, kEscape, size));
  if (in == nullptr) return size;
  char* out = in;
  while (in < end) {
    char c = *in++;
    if (c != kEscape || in == end) {
      *out++ = c;
      continue;
    }
    char code = *in++;
    switch (code) {
      case '1': *out++ = kEscape; break;
      case 't': *out++ = '\t'; break;
      case 'r': *out++ = '\r'; break;
      case 'n': *out++ = '\n'; break;
      case '0': *out++ = '\0'; break;
      default: *out++ = code;  // as unescape_field
    }
  }
  return static_cast<std::size_t>(out - field);
}

}  // namespace

void split_fields_in_place(std::string& line, std::vector<std::string_view>* fields) {
  fields->clear();
  if (line.empty()) return;
  // One pass finds both the tabs and whether a field has escapes: fields
  // are short, and a library scan per field and per byte sought costs more
  // than the bytes.
  char* start = line.data();
  char* end = start + line.size();
  bool escaped = false;
  for (char* at = start;; at++) {
    if (at == end || *at == '\t') {
      std::size_t size = static_cast<std::size_t>(at - start);
      if (escaped) size = unescape_in_place(start, size);
      fields->emplace_back(start, size);
      if (at == end) break;
      start = at + 1;
      escaped = false;
    } else if (*at == kEscape) {
      escaped = true;
    }
  }
}

void release_large(std::string& line, std::vector<std::string_view>& fields) {
  constexpr std::size_t kKeptBytes = 1024;
  constexpr std::size_t kKeptFields = 64;
  if (line.capacity() > kKeptBytes) std::string().swap(line);
  if (fields.capacity() > kKeptFields) std::vector<std::string_view>().swap(fields);
}

std::string unescape_field(std::string_view escaped) {
  std::string out(escaped);
  out.resize(unescape_in_place(out.data(), out.size()));
  return out;
}

std::vector<std::string> split_fields(std::string_view line) {
  std::string copy(line);
  std::vector<std::string_view> views;
  split_fields_in_place(copy, &views);
  return {views.begin(), views.end()};
}

std::string single_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

LineWriter& LineWriter::add(std::string_view raw_field) {
  if (!first_) line_ += '\t';
  first_ = false;
  append_escaped(line_, raw_field);
  return *this;
}

LineWriter& LineWriter::add(std::string_view key, std::string_view value) {
  if (!first_) line_ += '\t';
  first_ = false;
  append_escaped(line_, key);
  line_ += '=';
  append_escaped(line_, value);
  return *this;
}

LineWriter& LineWriter::add(std::string_view key, long long number) {
  if (!first_) line_ += '\t';
  first_ = false;
  append_escaped(line_, key);
  line_ += '=';
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, number);
  line_.append(digits, end);
  return *this;
}

LineWriter& LineWriter::add(long long number) {
  if (!first_) line_ += '\t';
  first_ = false;
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, number);
  line_.append(digits, end);
  return *this;
}

void LineWriter::finish_into(std::string& out) {
  out += line_;
  out += '\n';
  line_.clear();
  first_ = true;
}

std::string LineWriter::finish() {
  line_ += '\n';
  first_ = true;
  return std::exchange(line_, {});
}

bool LineBuffer::append(const char* data, std::size_t size) {
  if (overflowed_) return false;
  if (skipping_) {
    const char* lf = static_cast<const char*>(std::memchr(data, '\n', size));
    if (lf == nullptr) return true;
    skipping_ = false;
    size -= static_cast<std::size_t>(lf + 1 - data);
    data = lf + 1;
  }
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(data, size);
  // Only the unterminated tail can be too long; complete lines were checked
  // as they were handed out.
  std::size_t last_lf = buffer_.rfind('\n');
  std::size_t tail_start = last_lf == std::string::npos ? consumed_ : last_lf + 1;
  if (tail_start < consumed_) tail_start = consumed_;
  if (buffer_.size() - tail_start > max_ + 1) overflowed_ = true;  // +1: a CR may precede LF
  return !overflowed_;
}

void LineBuffer::skip_overlong_line() {
  if (!overflowed_) return;
  overflowed_ = false;
  scanned_ = 0;
  std::size_t lf = buffer_.find('\n', consumed_);
  if (lf == std::string::npos) {
    buffer_.clear();
    consumed_ = 0;
    skipping_ = true;
  } else {
    consumed_ = lf + 1;
  }
}

std::string LineBuffer::take_buffered() {
  std::string rest = buffer_.substr(consumed_);
  buffer_.clear();
  consumed_ = scanned_ = 0;
  return rest;
}

std::optional<std::string> LineBuffer::next_line() {
  std::string line;
  if (!next_line(&line)) return std::nullopt;
  return line;
}

bool LineBuffer::next_line(std::string* line) {
  std::size_t from = consumed_ + scanned_;
  std::size_t lf = buffer_.find('\n', from);
  if (lf == std::string::npos) {
    scanned_ = buffer_.size() - consumed_;
    return false;
  }
  std::size_t end = lf;
  if (end > consumed_ && buffer_[end - 1] == '\r') end--;
  if (end - consumed_ > max_) {
    overflowed_ = true;
    return false;
  }
  line->assign(buffer_, consumed_, end - consumed_);
  consumed_ = lf + 1;
  scanned_ = 0;
  return true;
}

}  // namespace anvil
