// The proxy's side of a client's dialogue before login, one per protocol.
// A FrontEnd does no I/O: the session feeds it the client's bytes and
// carries out the steps it returns (send, start TLS, log in, close), so the
// dialogue can be tested without sockets.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/sasl.h"
#include "proxy/user_map.h"

namespace anvil {

struct FrontEndOptions {
  bool tls_offered = false;  // STARTTLS / STLS may be started
  bool secure = false;       // TLS already, or a client from a secure network
  bool require_tls = true;   // refuse logins unless secure
  std::size_t max_command_size = 8192;
  int max_login_attempts = 3;
  int max_bad_commands = 10;
};

struct FrontEndStep {
  enum class Action {
    need_input,  // feed more bytes
    reply,       // send `reply`, then ask again
    start_tls,   // send `reply`, then do the server handshake, then tls_started()
    login,       // send `reply` (may be empty), then log in with `credentials`
    close,       // send `reply`, then close
  };
  Action action = Action::need_input;
  std::string reply{};
  Credentials credentials{};
};

class FrontEnd {
 public:
  virtual ~FrontEnd() = default;

  virtual std::string greeting() const = 0;
  virtual void feed(std::string_view data) = 0;
  virtual FrontEndStep next() = 0;
  // TLS is up: the bytes the client sent before the handshake are dropped,
  // so that nothing injected in plaintext passes for a command.
  virtual void tls_started() = 0;
  // The backend accepted the login; `backend_reply` is its answer without
  // tag or line end (e.g. "OK [CAPABILITY ...] Logged in"). Returns what the
  // client gets.
  virtual std::string login_succeeded(std::string_view backend_reply) = 0;
  // The backend refused (`backend_reply` as above), or was unreachable
  // (`backend_reply` empty). May close after too many attempts.
  virtual FrontEndStep login_failed(std::string_view backend_reply) = 0;
  // Bytes the client sent after its login command; they belong to the
  // backend once the login succeeded.
  virtual std::string take_buffered() = 0;
  // The goodbye for a kicked client and for a login that took too long.
  virtual std::string kicked_reply(std::string_view reason) const = 0;
  // To a client refused because a ban matches it: at connect (untagged,
  // the connection closes) and as a login's answer.
  virtual std::string banned_reply(std::string_view reason) const = 0;
  virtual std::string banned_login_reply(std::string_view reason) const = 0;
  virtual std::string timeout_reply() const = 0;

 protected:
  explicit FrontEnd(const FrontEndOptions& options) : options_(options) {}

  // The policy both protocols share.
  bool login_allowed() const { return options_.secure || !options_.require_tls; }
  // TLS is up: logins are secure, and TLS cannot be started again.
  void mark_tls_started() {
    options_.secure = true;
    options_.tls_offered = false;
  }
  // Each counts one more; true when the limit is reached and the
  // connection is to close.
  bool bad_command_limit_reached() { return ++bad_commands_ >= options_.max_bad_commands; }
  bool login_limit_reached() { return ++failed_logins_ >= options_.max_login_attempts; }

  FrontEndOptions options_;

 private:
  int bad_commands_ = 0;
  int failed_logins_ = 0;
};

std::unique_ptr<FrontEnd> make_front_end(MailProtocol protocol, const FrontEndOptions& options);

}  // namespace anvil
