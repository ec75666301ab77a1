#include "proxy/backend_login.h"

#include <array>

#include "common/line_codec.h"

namespace anvil {

namespace {

constexpr std::size_t kMaxBackendLine = 65536;

using Outcome = BackendLogin::Outcome;

// Reads the backend's lines; what follows the last line read stays buffered.
class BackendLines {
 public:
  explicit BackendLines(ProxyStream& stream) : stream_(stream) {}

  // The next line without CRLF; nullopt with *problem set on a failure.
  asio::awaitable<std::optional<std::string>> next(std::string* problem) {
    for (;;) {
      if (auto line = buffer_.next_line()) co_return line;
      if (buffer_.overflowed()) {
        *problem = "backend sent a line over 64 KiB";
        co_return std::nullopt;
      }
      std::array<char, 4096> chunk;
      asio::error_code ec;
      std::size_t n = co_await stream_.read_some(chunk, ec);
      if (ec) {
        *problem = ec == asio::error::eof ? "backend closed the connection"
                                          : "reading from backend: " + ec.message();
        co_return std::nullopt;
      }
      buffer_.append(chunk.data(), n);
    }
  }

  asio::awaitable<bool> send(std::string_view text, std::string* problem) {
    asio::error_code ec;
    co_await stream_.write(text, ec);
    if (ec) *problem = "writing to backend: " + ec.message();
    co_return !ec;
  }

  std::string take_buffered() { return buffer_.take_buffered(); }
  void discard_buffered() { buffer_.take_buffered(); }

 private:
  ProxyStream& stream_;
  LineBuffer buffer_{kMaxBackendLine};
};

BackendLogin unavailable(std::string problem) {
  return {Outcome::unavailable, "", "", std::move(problem)};
}

bool needs_literal(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) return true;
  }
  return text.size() > 1024;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

asio::awaitable<bool> start_tls(ProxyStream& backend, BackendLines& lines,
                                const BackendTlsSettings& tls, std::string* problem) {
  asio::error_code ec;
  co_await backend.handshake_as_client(*tls.context, tls.host, tls.verify, ec);
  if (ec) *problem = "TLS handshake with backend failed: " + ec.message();
  lines.discard_buffered();
  co_return !ec;
}

// Reads up to the line tagged `tag`; untagged lines are skipped.
asio::awaitable<std::optional<std::string>> tagged_reply(BackendLines& lines,
                                                         const std::string& tag,
                                                         std::string* problem) {
  for (;;) {
    auto line = co_await lines.next(problem);
    if (!line) co_return std::nullopt;
    if (line->starts_with(tag + " ")) co_return line->substr(tag.size() + 1);
    if (line->starts_with("* BYE")) {
      *problem = "backend said " + *line;
      co_return std::nullopt;
    }
  }
}

asio::awaitable<bool> continuation(BackendLines& lines, std::string* problem) {
  for (;;) {
    auto line = co_await lines.next(problem);
    if (!line) co_return false;
    if (line->starts_with("+")) co_return true;
    if (line->starts_with("L ")) {
      *problem = "backend refused a literal: " + *line;
      co_return false;
    }
  }
}

// Tells the backend who the client is. Its answer does not matter: a
// backend that does not trust us, or knows no ID, goes on all the same.
asio::awaitable<bool> imap_send_origin(BackendLines& lines, const ClientOrigin& origin,
                                       std::string* problem) {
  std::string command = "I ID (\"x-originating-ip\" " + quoted(origin.ip) +
                        " \"x-originating-port\" \"" + std::to_string(origin.port) +
                        "\" \"x-connected-ip\" " + quoted(origin.local_ip) +
                        " \"x-connected-port\" \"" + std::to_string(origin.local_port) +
                        "\" \"x-session-id\" " + quoted(origin.session_id) + ")\r\n";
  if (!co_await lines.send(command, problem)) co_return false;
  co_return (co_await tagged_reply(lines, "I", problem)).has_value();
}

asio::awaitable<BackendLogin> imap_login(ProxyStream& backend, const Credentials& credentials,
                                         const BackendTlsSettings& tls,
                                         const ClientOrigin* origin) {
  BackendLines lines(backend);
  std::string problem;
  auto greeting = co_await lines.next(&problem);
  if (!greeting) co_return unavailable(problem);
  if (!greeting->starts_with("* OK")) co_return unavailable("backend greeted with " + *greeting);
  if (tls.mode == BackendTls::starttls) {
    if (!co_await lines.send("S STARTTLS\r\n", &problem)) co_return unavailable(problem);
    auto reply = co_await tagged_reply(lines, "S", &problem);
    if (!reply) co_return unavailable(problem);
    if (!reply->starts_with("OK")) co_return unavailable("backend refused STARTTLS: " + *reply);
    if (!co_await start_tls(backend, lines, tls, &problem)) co_return unavailable(problem);
  }
  if (origin && !co_await imap_send_origin(lines, *origin, &problem)) {
    co_return unavailable(problem);
  }
  if (!credentials.authzid.empty()) {
    if (!co_await lines.send("L AUTHENTICATE PLAIN\r\n", &problem) ||
        !co_await continuation(lines, &problem) ||
        !co_await lines.send(base64_encode(sasl_plain_message(credentials)) + "\r\n", &problem)) {
      co_return unavailable(problem);
    }
  } else {
    // Quoted strings where possible; literals, each waiting for the
    // backend's "+", for what a quoted string cannot carry.
    std::string command = "L LOGIN";
    for (const std::string* value : {&credentials.user, &credentials.password}) {
      if (!needs_literal(*value)) {
        command += " " + quoted(*value);
        continue;
      }
      command += " {" + std::to_string(value->size()) + "}\r\n";
      if (!co_await lines.send(command, &problem) || !co_await continuation(lines, &problem)) {
        co_return unavailable(problem);
      }
      command = *value;
    }
    if (!co_await lines.send(command + "\r\n", &problem)) co_return unavailable(problem);
  }
  auto reply = co_await tagged_reply(lines, "L", &problem);
  if (!reply) co_return unavailable(problem);
  Outcome outcome = reply->starts_with("OK") ? Outcome::logged_in : Outcome::refused;
  co_return BackendLogin{outcome, *reply, lines.take_buffered(), ""};
}

asio::awaitable<BackendLogin> pop3_login(ProxyStream& backend, const Credentials& credentials,
                                         const BackendTlsSettings& tls,
                                         const ClientOrigin* origin) {
  BackendLines lines(backend);
  std::string problem;
  auto exchange = [&](std::string command) -> asio::awaitable<std::optional<std::string>> {
    if (!co_await lines.send(command + "\r\n", &problem)) co_return std::nullopt;
    co_return co_await lines.next(&problem);
  };
  auto greeting = co_await lines.next(&problem);
  if (!greeting) co_return unavailable(problem);
  if (!greeting->starts_with("+OK")) co_return unavailable("backend greeted with " + *greeting);
  if (tls.mode == BackendTls::starttls) {
    auto reply = co_await exchange("STLS");
    if (!reply) co_return unavailable(problem);
    if (!reply->starts_with("+OK")) co_return unavailable("backend refused STLS: " + *reply);
    if (!co_await start_tls(backend, lines, tls, &problem)) co_return unavailable(problem);
  }
  // XCLIENT only where the greeting offers it, as Dovecot does to the
  // networks it trusts ("+OK [XCLIENT] ...").
  if (origin && greeting->find("[XCLIENT]") != std::string::npos) {
    auto reply =
        co_await exchange("XCLIENT ADDR=" + origin->ip + " PORT=" + std::to_string(origin->port) +
                          " SESSION=" + origin->session_id);
    if (!reply) co_return unavailable(problem);
  }
  auto refused = [&](std::string reply) {
    return BackendLogin{Outcome::refused, std::move(reply), "", ""};
  };
  std::optional<std::string> reply;
  if (!credentials.authzid.empty() || needs_literal(credentials.user) ||
      needs_literal(credentials.password) || credentials.user.find(' ') != std::string::npos) {
    reply = co_await exchange("AUTH PLAIN " + base64_encode(sasl_plain_message(credentials)));
  } else {
    reply = co_await exchange("USER " + credentials.user);
    if (reply && !reply->starts_with("+OK")) co_return refused(*reply);
    if (reply) reply = co_await exchange("PASS " + credentials.password);
  }
  if (!reply) co_return unavailable(problem);
  if (!reply->starts_with("+OK")) co_return refused(*reply);
  co_return BackendLogin{Outcome::logged_in, *reply, lines.take_buffered(), ""};
}

}  // namespace

asio::awaitable<BackendLogin> log_in_to_backend(ProxyStream& backend, MailProtocol protocol,
                                                const Credentials& credentials,
                                                const BackendTlsSettings& tls,
                                                const ClientOrigin* origin) {
  if (tls.mode == BackendTls::tls) {
    asio::error_code ec;
    co_await backend.handshake_as_client(*tls.context, tls.host, tls.verify, ec);
    if (ec) co_return unavailable("TLS handshake with backend failed: " + ec.message());
  }
  if (protocol == MailProtocol::imap) {
    co_return co_await imap_login(backend, credentials, tls, origin);
  }
  co_return co_await pop3_login(backend, credentials, tls, origin);
}

}  // namespace anvil
