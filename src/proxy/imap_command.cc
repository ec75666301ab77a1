#include "proxy/imap_command.h"

#include "common/user_mask.h"

#include <cctype>
#include <charconv>
#include <cstdint>

namespace anvil {

namespace {

constexpr int kMaxListDepth = 8;

bool is_atom_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7f) return false;
  return c != '(' && c != ')' && c != '{' && c != '"' && c != '\\' && c != '%' && c != '*';
}

bool is_tag_char(char c) {
  return is_atom_char(c) && c != '+' && c != ']';
}

// The tag of a raw command, or "" when it does not start with one.
std::string leading_tag(std::string_view raw) {
  std::size_t n = 0;
  while (n < raw.size() && is_tag_char(raw[n])) n++;
  if (n == 0 || n == raw.size() || raw[n] != ' ') return "";
  return std::string(raw.substr(0, n));
}

// Where a line ends in "{n}" or "{n+}": the literal's size and kind.
bool literal_marker(std::string_view line, std::size_t* size, bool* synchronizing) {
  if (line.empty() || line.back() != '}') return false;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return false;
  std::string_view inside = line.substr(open + 1, line.size() - open - 2);
  *synchronizing = true;
  if (!inside.empty() && inside.back() == '+') {
    *synchronizing = false;
    inside.remove_suffix(1);
  }
  if (inside.empty()) return false;
  for (char c : inside) {
    if (c < '0' || c > '9') return false;
  }
  // More digits than a size_t holds is simply too large.
  *size = SIZE_MAX;
  if (inside.size() <= 18) std::from_chars(inside.data(), inside.data() + inside.size(), *size);
  return true;
}

class Parser {
 public:
  explicit Parser(std::string_view raw) : raw_(raw) {}

  bool at_end() const { return pos_ >= raw_.size(); }
  char peek() const { return raw_[pos_]; }
  bool skip_space() {
    if (at_end() || raw_[pos_] != ' ') return false;
    pos_++;
    return true;
  }

  std::string word(bool (*allowed)(char)) {
    std::size_t start = pos_;
    while (!at_end() && allowed(raw_[pos_])) pos_++;
    return std::string(raw_.substr(start, pos_ - start));
  }

  bool value(ImapArg* out, int depth, std::string* error) {
    if (at_end()) return fail(error, "Missing argument");
    char c = peek();
    if (c == '"') return quoted(out, error);
    if (c == '{') return literal(out, error);
    if (c == '(') {
      if (depth >= kMaxListDepth) return fail(error, "Lists nested too deeply");
      pos_++;
      out->kind = ImapArg::Kind::list;
      while (!at_end() && peek() != ')') {
        if (!out->items.empty() && !skip_space()) return fail(error, "Expected space in list");
        ImapArg item;
        if (!value(&item, depth + 1, error)) return false;
        out->items.push_back(std::move(item));
      }
      if (at_end()) return fail(error, "Missing ')'");
      pos_++;
      return true;
    }
    out->kind = ImapArg::Kind::atom;
    out->text = word([](char ch) { return is_atom_char(ch) || ch == '%' || ch == '*'; });
    if (out->text.empty()) return fail(error, std::string("Unexpected character '") + c + "'");
    return true;
  }

 private:
  static bool fail(std::string* error, std::string text) {
    *error = std::move(text);
    return false;
  }

  bool quoted(ImapArg* out, std::string* error) {
    pos_++;
    out->kind = ImapArg::Kind::string;
    while (!at_end()) {
      char c = raw_[pos_++];
      if (c == '"') return true;
      if (c == '\r' || c == '\n' || c == '\0') return fail(error, "Line break in quoted string");
      if (c == '\\') {
        if (at_end() || (raw_[pos_] != '"' && raw_[pos_] != '\\')) {
          return fail(error, "Invalid escape in quoted string");
        }
        c = raw_[pos_++];
      }
      out->text += c;
    }
    return fail(error, "Unterminated quoted string");
  }

  bool literal(ImapArg* out, std::string* error) {
    std::size_t close = raw_.find('}', pos_);
    std::size_t size = 0;
    bool synchronizing = false;
    if (close == std::string_view::npos ||
        !literal_marker(raw_.substr(pos_, close + 1 - pos_), &size, &synchronizing) ||
        raw_.substr(close + 1, 2) != "\r\n" || raw_.size() - (close + 3) < size) {
      return fail(error, "Invalid literal");
    }
    pos_ = close + 3;
    out->kind = ImapArg::Kind::string;
    out->text = std::string(raw_.substr(pos_, size));
    pos_ += size;
    return true;
  }

  std::string_view raw_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<ImapCommand> parse_imap_command(std::string_view raw, std::string* tag,
                                              std::string* error) {
  Parser parser(raw);
  ImapCommand command;
  command.tag = parser.word(is_tag_char);
  if (command.tag.empty() || !parser.skip_space()) {
    *error = "Invalid tag";
    return std::nullopt;
  }
  *tag = command.tag;
  command.name =
      parser.word([](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
  if (command.name.empty()) {
    *error = "Missing command name";
    return std::nullopt;
  }
  command.name = ascii_upper(command.name);
  while (!parser.at_end()) {
    if (!parser.skip_space()) {
      *error = "Expected a space between arguments";
      return std::nullopt;
    }
    ImapArg arg;
    if (!parser.value(&arg, 0, error)) return std::nullopt;
    command.args.push_back(std::move(arg));
  }
  return command;
}

void ImapCommandReader::append(std::string_view data) {
  buffer_.append(data);
}

void ImapCommandReader::compact() {
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buffer_.size()) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

void ImapCommandReader::discard_buffered() {
  buffer_.clear();
  pos_ = 0;
}

std::string ImapCommandReader::take_buffered() {
  std::string rest = buffer_.substr(pos_);
  discard_buffered();
  return rest;
}

ImapCommandReader::Step ImapCommandReader::next() {
  using Kind = Step::Kind;
  for (;;) {
    compact();
    if (skipping_line_) {
      std::size_t lf = buffer_.find('\n', pos_);
      if (lf == std::string::npos) {
        pos_ = buffer_.size();
        compact();
        return {};
      }
      pos_ = lf + 1;
      skipping_line_ = false;
      continue;
    }
    if (literal_left_ > 0) {
      std::size_t n = std::min(literal_left_, available());
      command_.append(buffer_, pos_, n);
      pos_ += n;
      literal_left_ -= n;
      if (literal_left_ > 0) return {};
      continue;
    }
    std::size_t lf = buffer_.find('\n', pos_);
    std::size_t line_end = lf == std::string::npos ? buffer_.size() : lf;
    if (command_.size() + (line_end - pos_) > max_) {
      std::string tag = leading_tag(command_.empty() ? std::string_view(buffer_).substr(pos_)
                                                     : std::string_view(command_));
      command_.clear();
      if (lf == std::string::npos) {
        skipping_line_ = true;
        pos_ = buffer_.size();
      } else {
        pos_ = lf + 1;
      }
      return {Kind::too_long, tag};
    }
    if (lf == std::string::npos) return {};
    std::string_view line = std::string_view(buffer_).substr(pos_, lf - pos_);
    pos_ = lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (command_.empty() && line.empty()) continue;  // stray empty line
    command_.append(line);
    std::size_t size = 0;
    bool synchronizing = false;
    if (!literal_marker(line, &size, &synchronizing)) {
      Step step{Kind::command, std::move(command_)};
      command_.clear();
      return step;
    }
    if (size > max_ || command_.size() + 2 + size > max_) {
      std::string tag = leading_tag(command_);
      command_.clear();
      return {Kind::literal_too_large, tag, synchronizing};
    }
    command_.append("\r\n");
    literal_left_ = size;
    if (synchronizing) return {Kind::continuation, ""};
  }
}

}  // namespace anvil
