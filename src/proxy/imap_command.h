// IMAP commands as the proxy reads them before login (RFC 3501 syntax, with
// LITERAL+ from RFC 7888): a reader that cuts the client's byte stream into
// whole commands, literals included, without ever holding more than a
// bounded amount; and a parser for one such command.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anvil {

struct ImapArg {
  enum class Kind { atom, string, list };  // string: quoted or literal
  Kind kind = Kind::atom;
  std::string text;            // atom or string contents
  std::vector<ImapArg> items;  // list elements
};

struct ImapCommand {
  std::string tag;
  std::string name;  // upper case
  std::vector<ImapArg> args;
};

// Parses one whole command as the reader hands it out: lines joined by CRLF,
// each literal's bytes after the CRLF that follows its {n} or {n+}. On a
// syntax error returns nullopt with *error set to a sentence for the client;
// *tag is set whenever the command began with a valid tag.
std::optional<ImapCommand> parse_imap_command(std::string_view raw, std::string* tag,
                                              std::string* error);

class ImapCommandReader {
 public:
  // max_command bounds a command's lines and literals together.
  explicit ImapCommandReader(std::size_t max_command) : max_(max_command) {}

  struct Step {
    enum class Kind {
      need_more,          // feed more bytes
      command,            // text is a whole command
      continuation,       // the client waits for "+" before sending a literal
      too_long,           // the command was dropped; text is its tag if known
      literal_too_large,  // a literal over the limit; text is the tag if known
    };
    Kind kind = Kind::need_more;
    std::string text;
    bool synchronizing = false;  // literal_too_large: the client waits for "+"
  };

  void append(std::string_view data);
  Step next();
  // Drops every byte received but not handed out (after STARTTLS, where
  // bytes sent before the handshake must not be taken as commands).
  void discard_buffered();
  // Bytes received but not handed out.
  std::string take_buffered();

 private:
  std::size_t available() const { return buffer_.size() - pos_; }
  void compact();

  std::size_t max_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::string command_;  // the command read so far
  std::size_t literal_left_ = 0;
  bool skipping_line_ = false;  // dropping the rest of a too long line
};

}  // namespace anvil
