// IMAP before login (RFC 3501, RFC 9051 for the parts clients use before
// login; SASL-IR RFC 4959; LITERAL+ RFC 7888; ID RFC 2971).
#include <utility>

#include "common/line_codec.h"
#include "common/user_mask.h"
#include "proxy/front_end.h"
#include "proxy/imap_command.h"

namespace anvil {

namespace {

using Action = FrontEndStep::Action;

class ImapFrontEnd final : public FrontEnd {
 public:
  explicit ImapFrontEnd(const FrontEndOptions& options)
      : FrontEnd(options), reader_(options.max_command_size) {}

  std::string greeting() const override {
    return "* OK [CAPABILITY " + capabilities() + "] anvil-proxy ready.\r\n";
  }

  void feed(std::string_view data) override { reader_.append(data); }

  FrontEndStep next() override {
    using Kind = ImapCommandReader::Step::Kind;
    ImapCommandReader::Step step = reader_.next();
    switch (step.kind) {
      case Kind::need_more: return {};
      case Kind::continuation: return {Action::reply, "+ Ready for literal data\r\n"};
      case Kind::too_long:
        return bad(auth_tag_.empty() ? step.text : std::exchange(auth_tag_, ""),
                   "Command line too long");
      case Kind::literal_too_large:
        if (!step.synchronizing) {
          return {Action::close, "* BYE Literal too large, disconnecting.\r\n"};
        }
        return bad(step.text, "Literal too large");
      case Kind::command: break;
    }
    if (!auth_tag_.empty()) return authenticate_response(step.text);
    std::string tag, error;
    auto command = parse_imap_command(step.text, &tag, &error);
    if (!command) return bad(tag, error);
    return execute(*command);
  }

  void tls_started() override {
    reader_.discard_buffered();
    mark_tls_started();
  }

  std::string login_succeeded(std::string_view backend_reply) override {
    return login_tag_ + " " + single_line(backend_reply) + "\r\n";
  }

  FrontEndStep login_failed(std::string_view backend_reply) override {
    std::string reply;
    if (backend_reply.empty()) {
      reply = login_tag_ + " NO [UNAVAILABLE] Server is temporarily unavailable.\r\n";
    } else {
      // The backend's words, as a NO even when it said BAD to our command.
      std::string_view text = backend_reply;
      std::size_t space = text.find(' ');
      text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
      reply = login_tag_ + " NO " + (text.empty() ? "Login failed." : single_line(text)) + "\r\n";
    }
    if (login_limit_reached()) {
      return {Action::close, reply + "* BYE Too many failed login attempts.\r\n"};
    }
    return {Action::reply, reply};
  }

  std::string take_buffered() override { return reader_.take_buffered(); }

  std::string kicked_reply(std::string_view reason) const override {
    return "* BYE [UNAVAILABLE] " + single_line(reason) + "\r\n";
  }

  std::string banned_reply(std::string_view reason) const override { return kicked_reply(reason); }

  std::string banned_login_reply(std::string_view reason) const override {
    return "NO [UNAVAILABLE] " + single_line(reason);
  }

  std::string timeout_reply() const override {
    return "* BYE Disconnected for inactivity during login.\r\n";
  }

 private:
  std::string capabilities() const {
    std::string caps = "IMAP4rev1 SASL-IR LITERAL+ ID";
    if (options_.tls_offered) caps += " STARTTLS";
    caps += login_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
    return caps;
  }

  FrontEndStep bad(const std::string& tag, const std::string& text) {
    std::string reply = (tag.empty() ? "*" : tag) + " BAD " + text + ".\r\n";
    if (bad_command_limit_reached()) {
      return {Action::close, reply + "* BYE Too many invalid commands.\r\n"};
    }
    return {Action::reply, reply};
  }

  FrontEndStep ok(const ImapCommand& command, const std::string& untagged = "") {
    return {Action::reply, untagged + command.tag + " OK " + command.name + " completed.\r\n"};
  }

  FrontEndStep execute(const ImapCommand& command) {
    const std::string& name = command.name;
    const auto& args = command.args;
    if (name == "CAPABILITY") {
      if (!args.empty()) return bad(command.tag, "CAPABILITY takes no arguments");
      return ok(command, "* CAPABILITY " + capabilities() + "\r\n");
    }
    if (name == "NOOP") {
      if (!args.empty()) return bad(command.tag, "NOOP takes no arguments");
      return ok(command);
    }
    if (name == "LOGOUT") {
      return {Action::close, "* BYE Logging out.\r\n" + command.tag + " OK Logout completed.\r\n"};
    }
    if (name == "ID") {
      bool valid = args.size() == 1 && (args[0].kind == ImapArg::Kind::list ||
                                        (args[0].kind == ImapArg::Kind::atom &&
                                         (args[0].text == "NIL" || args[0].text == "nil")));
      if (!valid) return bad(command.tag, "ID takes a parenthesized list or NIL");
      return ok(command, "* ID (\"name\" \"anvil-proxy\")\r\n");
    }
    if (name == "STARTTLS") {
      if (!options_.tls_offered) {
        return bad(command.tag,
                   options_.secure ? "TLS is already active" : "STARTTLS is not available");
      }
      return {Action::start_tls, command.tag + " OK Begin TLS negotiation now.\r\n"};
    }
    if (name == "LOGIN") {
      if (args.size() != 2 || args[0].kind == ImapArg::Kind::list ||
          args[1].kind == ImapArg::Kind::list) {
        return bad(command.tag, "LOGIN takes a user name and a password");
      }
      return login(command.tag, {"", args[0].text, args[1].text});
    }
    if (name == "AUTHENTICATE") {
      if (args.empty() || args.size() > 2 || args[0].kind != ImapArg::Kind::atom) {
        return bad(command.tag, "AUTHENTICATE takes a mechanism and an optional initial response");
      }
      std::string mechanism = ascii_upper(args[0].text);
      if (mechanism != "PLAIN") {
        return {Action::reply,
                command.tag + " NO [CANNOT] Unsupported authentication mechanism.\r\n"};
      }
      if (!login_allowed()) return login_refused(command.tag);
      if (args.size() == 1) {
        auth_tag_ = command.tag;
        return {Action::reply, "+ \r\n"};
      }
      // "=" is an empty initial response (RFC 4959).
      return plain_response(command.tag, args[1].text == "=" ? "" : args[1].text);
    }
    return bad(command.tag, "Unknown command or not valid before login");
  }

  FrontEndStep login_refused(const std::string& tag) {
    return {Action::reply,
            tag + " NO [PRIVACYREQUIRED] Plaintext authentication is not allowed without TLS.\r\n"};
  }

  FrontEndStep login(const std::string& tag, Credentials credentials) {
    if (!login_allowed()) return login_refused(tag);
    login_tag_ = tag;
    return {Action::login, "", std::move(credentials)};
  }

  FrontEndStep authenticate_response(const std::string& line) {
    std::string tag = std::exchange(auth_tag_, "");
    if (line == "*") return {Action::reply, tag + " BAD Authentication aborted.\r\n"};
    return plain_response(tag, line);
  }

  FrontEndStep plain_response(const std::string& tag, const std::string& encoded) {
    auto decoded = base64_decode(encoded);
    if (!decoded) return bad(tag, "Invalid base64 in authentication response");
    auto credentials = parse_sasl_plain(*decoded);
    if (!credentials) return bad(tag, "Invalid PLAIN authentication response");
    return login(tag, std::move(*credentials));
  }

  ImapCommandReader reader_;
  std::string auth_tag_;   // AUTHENTICATE waiting for the client's response
  std::string login_tag_;  // the login being tried
};

}  // namespace

std::unique_ptr<FrontEnd> make_imap_front_end(const FrontEndOptions& options) {
  return std::make_unique<ImapFrontEnd>(options);
}

}  // namespace anvil
