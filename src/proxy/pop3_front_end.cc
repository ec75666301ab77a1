// POP3 before login (RFC 1939; CAPA RFC 2449; STLS RFC 2595; AUTH RFC 5034;
// response codes RFC 3206).
#include <optional>
#include <utility>

#include "common/line_codec.h"
#include "common/user_mask.h"
#include "proxy/front_end.h"

namespace anvil {

namespace {

using Action = FrontEndStep::Action;

class Pop3FrontEnd final : public FrontEnd {
 public:
  explicit Pop3FrontEnd(const FrontEndOptions& options)
      : FrontEnd(options), input_(options.max_command_size) {}

  std::string greeting() const override { return "+OK anvil-proxy ready.\r\n"; }

  void feed(std::string_view data) override { input_.append(data.data(), data.size()); }

  FrontEndStep next() override {
    std::optional<std::string> line = input_.next_line();
    while (line && line->empty()) line = input_.next_line();  // blank lines are ignored
    if (!line && input_.overflowed()) {
      // Dropped up to its end, however far that is, and answered once.
      input_.skip_overlong_line();
      in_auth_ = false;
      return error("Line too long");
    }
    if (!line) return {};
    if (in_auth_) {
      in_auth_ = false;
      if (*line == "*") return {Action::reply, "-ERR Authentication aborted.\r\n"};
      return plain_response(*line);
    }
    std::size_t space = line->find(' ');
    std::string name = ascii_upper(line->substr(0, space));
    std::string arg = space == std::string::npos ? "" : line->substr(space + 1);
    return execute(name, arg);
  }

  void tls_started() override {
    input_.take_buffered();
    mark_tls_started();
  }

  std::string login_succeeded(std::string_view backend_reply) override {
    return single_line(backend_reply) + "\r\n";
  }

  FrontEndStep login_failed(std::string_view backend_reply) override {
    std::string reply = backend_reply.empty()
                            ? "-ERR [SYS/TEMP] Server is temporarily unavailable.\r\n"
                            : single_line(backend_reply) + "\r\n";
    if (!reply.starts_with("-ERR")) reply = "-ERR " + reply;
    user_.clear();
    if (login_limit_reached()) {
      return {Action::close, reply};
    }
    return {Action::reply, reply};
  }

  std::string take_buffered() override { return input_.take_buffered(); }

  std::string kicked_reply(std::string_view reason) const override {
    return "-ERR [SYS/TEMP] " + single_line(reason) + "\r\n";
  }

  // Permanent: a client that retries at once is refused again.
  std::string banned_reply(std::string_view reason) const override {
    return "-ERR [SYS/PERM] " + single_line(reason) + "\r\n";
  }

  std::string banned_login_reply(std::string_view reason) const override {
    return "-ERR [SYS/PERM] " + single_line(reason);
  }

  std::string timeout_reply() const override {
    return "-ERR Disconnected for inactivity during login.\r\n";
  }

 private:
  FrontEndStep error(const std::string& text) {
    std::string reply = "-ERR " + text + ".\r\n";
    if (bad_command_limit_reached()) {
      return {Action::close, reply + "-ERR Too many invalid commands, disconnecting.\r\n"};
    }
    return {Action::reply, reply};
  }

  FrontEndStep execute(const std::string& name, const std::string& arg) {
    if (name == "CAPA") {
      std::string caps = "+OK Capability list follows\r\n";
      if (login_allowed()) caps += "USER\r\nSASL PLAIN\r\n";
      if (options_.tls_offered) caps += "STLS\r\n";
      caps += "RESP-CODES\r\nAUTH-RESP-CODE\r\nIMPLEMENTATION anvil-proxy\r\n.\r\n";
      return {Action::reply, caps};
    }
    if (name == "NOOP") return {Action::reply, "+OK\r\n"};
    if (name == "QUIT") return {Action::close, "+OK Logging out.\r\n"};
    if (name == "STLS") {
      if (!options_.tls_offered) {
        return error(options_.secure ? "TLS is already active" : "STLS is not available");
      }
      return {Action::start_tls, "+OK Begin TLS negotiation now.\r\n"};
    }
    if (name == "USER") {
      if (arg.empty()) return error("USER needs a user name");
      if (!login_allowed()) return refused();
      user_ = arg;
      return {Action::reply, "+OK\r\n"};
    }
    if (name == "PASS") {
      if (user_.empty()) return error("USER first");
      if (arg.empty()) return error("PASS needs a password");
      return login({"", std::exchange(user_, ""), arg});
    }
    if (name == "AUTH") {
      std::size_t space = arg.find(' ');
      std::string mechanism = ascii_upper(arg.substr(0, space));
      if (mechanism.empty()) return error("AUTH needs a mechanism");
      if (mechanism != "PLAIN")
        return {Action::reply, "-ERR Unsupported authentication mechanism.\r\n"};
      if (!login_allowed()) return refused();
      if (space == std::string::npos) {
        in_auth_ = true;
        return {Action::reply, "+ \r\n"};
      }
      std::string initial = arg.substr(space + 1);
      return plain_response(initial == "=" ? "" : initial);
    }
    return error("Unknown command or not valid before login");
  }

  FrontEndStep refused() {
    return {Action::reply, "-ERR [AUTH] Plaintext authentication is not allowed without TLS.\r\n"};
  }

  FrontEndStep login(Credentials credentials) {
    if (!login_allowed()) return refused();
    return {Action::login, "", std::move(credentials)};
  }

  FrontEndStep plain_response(const std::string& encoded) {
    auto decoded = base64_decode(encoded);
    if (!decoded) return error("Invalid base64 in authentication response");
    auto credentials = parse_sasl_plain(*decoded);
    if (!credentials) return error("Invalid PLAIN authentication response");
    return login(std::move(*credentials));
  }

  LineBuffer input_;
  bool in_auth_ = false;
  std::string user_;  // from USER, waiting for PASS
};

}  // namespace

std::unique_ptr<FrontEnd> make_pop3_front_end(const FrontEndOptions& options) {
  return std::make_unique<Pop3FrontEnd>(options);
}

}  // namespace anvil
