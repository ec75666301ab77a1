// The line codec every anvil protocol uses: a line is fields joined by TAB and
// ended by LF; inside a field the bytes 0x01, TAB, CR, LF and NUL are escaped
// as 0x01 followed by '1', 't', 'r', 'n' or '0' (the scheme Dovecot uses, so
// one codec serves the native and the Dovecot dialects).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anvil {

std::string escape_field(std::string_view raw);

// Text for one line of a peer's protocol (a goodbye carrying an admin's
// reason, a reply quoting a backend): control characters (CR, LF, NUL,
// ...) become spaces, so the text can never end the line or start another.
std::string single_line(std::string_view text);
std::string unescape_field(std::string_view escaped);

// Splits one line (without its LF) into unescaped fields. An empty line has
// no fields.
std::vector<std::string> split_fields(std::string_view line);
// The same, without a copy: each field is unescaped where it lies (a field
// only shrinks), and *fields gets views into `line`, valid while it is.
// *fields keeps its capacity from line to line.
void split_fields_in_place(std::string& line, std::vector<std::string_view>* fields);
// After a line is handled: gives back the storage of a line and its fields
// that a long line grew, so that a connection that once sent one (say, a
// line of 16,000 tabs) does not hold it for as long as it stays. Small
// storage is kept for the next line.
void release_large(std::string& line, std::vector<std::string_view>& fields);

// Builds one line field by field; finish() appends the LF.
class LineWriter {
 public:
  LineWriter& add(std::string_view raw_field);
  LineWriter& add(long long number);
  // One `key=value` field.
  LineWriter& add(std::string_view key, std::string_view value);
  LineWriter& add(std::string_view key, long long number);
  // Returns the line with its LF; the writer is empty afterwards.
  std::string finish();
  // Appends the line with its LF to `out`; the writer is empty afterwards
  // and keeps its capacity for the next line.
  void finish_into(std::string& out);

 private:
  std::string line_;
  bool first_ = true;
};

// Collects bytes from a stream and hands out complete lines. A line longer
// than max_line_length (without its LF) is an error: the buffer then refuses
// further input, because most streams cannot be trusted to resynchronise.
// Where a protocol can (a client's command lines), skip_overlong_line()
// drops that line up to its LF, however far away, and reading goes on.
class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line_length) : max_(max_line_length) {}

  // Returns false once a line has grown past the limit.
  bool append(const char* data, std::size_t size);
  // The next complete line without its LF (a trailing CR is dropped too).
  std::optional<std::string> next_line();
  // The same into *line, whose capacity is reused: false if no whole line.
  bool next_line(std::string* line);
  bool overflowed() const { return overflowed_; }
  // After an overflow: drops the overlong line, including what of it is
  // still to come, without keeping it.
  void skip_overlong_line();
  // Bytes received but not handed out; the buffer is empty afterwards.
  std::string take_buffered();
  std::size_t max_line_length() const { return max_; }
  std::size_t buffered() const { return buffer_.size() - consumed_; }
  // The first bytes not yet handed out (after an overflow: the start of the
  // overlong line, enough to say which command it was).
  std::string peek(std::size_t size) const { return buffer_.substr(consumed_, size); }

 private:
  std::size_t max_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already handed out
  std::size_t scanned_ = 0;   // bytes past consumed_ known to hold no LF
  bool overflowed_ = false;
  bool skipping_ = false;  // dropping input up to the next LF
};

}  // namespace anvil
