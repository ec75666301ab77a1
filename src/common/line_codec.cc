#include "common/line_codec.h"

#include <charconv>
#include <cstring>
#include <utility>

namespace anvil {

namespace {
constexpr char kEscape = '\001';
}

namespace {

bool needs_escape(char c) {
  return c == kEscape || c == '\t' || c == '\r' || c == '\n' || c == '\0';
}

// Appends raw to out with its special bytes escaped; runs without any are
// copied whole.
void append_escaped(std::string& out, std::string_view raw) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < raw.size(); i++) {
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

std::string unescape_field(std::string_view escaped) {
  std::size_t first = escaped.find(kEscape);
  if (first == std::string_view::npos) return std::string(escaped);
  std::string out(escaped.substr(0, first));
  out.reserve(escaped.size());
  for (std::size_t i = first; i < escaped.size(); i++) {
    char c = escaped[i];
    if (c != kEscape || i + 1 == escaped.size()) {
      out += c;
      continue;
    }
    char code = escaped[++i];
    switch (code) {
      case '1': out += kEscape; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case '0': out += '\0'; break;
      default: out += code;  // an unknown escape stands for the byte itself
    }
  }
  return out;
}

std::vector<std::string> split_fields(std::string_view line) {
  std::vector<std::string> fields;
  if (line.empty()) return fields;
  std::size_t start = 0;
  while (true) {
    std::size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      fields.push_back(unescape_field(line.substr(start)));
      break;
    }
    fields.push_back(unescape_field(line.substr(start, tab - start)));
    start = tab + 1;
  }
  return fields;
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

LineWriter& LineWriter::add(long long number) {
  if (!first_) line_ += '\t';
  first_ = false;
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, number);
  line_.append(digits, end);
  return *this;
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
  std::size_t from = consumed_ + scanned_;
  std::size_t lf = buffer_.find('\n', from);
  if (lf == std::string::npos) {
    scanned_ = buffer_.size() - consumed_;
    return std::nullopt;
  }
  std::size_t end = lf;
  if (end > consumed_ && buffer_[end - 1] == '\r') end--;
  if (end - consumed_ > max_) {
    overflowed_ = true;
    return std::nullopt;
  }
  std::string line = buffer_.substr(consumed_, end - consumed_);
  consumed_ = lf + 1;
  scanned_ = 0;
  return line;
}

}  // namespace anvil
