#include "proxy/front_end.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

using Action = FrontEndStep::Action;

FrontEndOptions secure_options() {
  FrontEndOptions options;
  options.secure = true;
  options.tls_offered = true;
  return options;
}

// Feeds `input` and collects replies until the front end needs input or
// asks for more than a reply.
FrontEndStep run(FrontEnd& front, std::string_view input, std::string* replies) {
  front.feed(input);
  for (;;) {
    FrontEndStep step = front.next();
    *replies += step.reply;
    if (step.action != Action::reply) return step;
  }
}

TEST(ImapFrontEnd, PreLoginCommands) {
  auto front = make_front_end(MailProtocol::imap, secure_options());
  EXPECT_EQ(front->greeting(),
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID STARTTLS AUTH=PLAIN] anvil-proxy "
            "ready.\r\n");
  std::string out;
  EXPECT_EQ(run(*front, "a CAPABILITY\r\nb noop\r\nc ID NIL\r\nd SELECT INBOX\r\n", &out).action,
            Action::need_input);
  EXPECT_EQ(out,
            "* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID STARTTLS AUTH=PLAIN\r\n"
            "a OK CAPABILITY completed.\r\n"
            "b OK NOOP completed.\r\n"
            "* ID (\"name\" \"anvil-proxy\")\r\nc OK ID completed.\r\n"
            "d BAD Unknown command or not valid before login.\r\n");
  out.clear();
  EXPECT_EQ(run(*front, "e LOGOUT\r\n", &out).action, Action::close);
  EXPECT_EQ(out, "* BYE Logging out.\r\ne OK Logout completed.\r\n");
}

TEST(ImapFrontEnd, LoginFormsAndResults) {
  auto front = make_front_end(MailProtocol::imap, secure_options());
  std::string out;
  FrontEndStep step = run(*front, "a LOGIN {4}\r\n", &out);
  EXPECT_EQ(out, "+ Ready for literal data\r\n");
  step = run(*front, "jane \"se\\\"cret\"\r\nb NOOP\r\n", &out);
  ASSERT_EQ(step.action, Action::login);
  EXPECT_EQ(step.credentials.user, "jane");
  EXPECT_EQ(step.credentials.password, "se\"cret");
  EXPECT_EQ(front->login_succeeded("OK [CAPABILITY IMAP4rev1] Logged in"),
            "a OK [CAPABILITY IMAP4rev1] Logged in\r\n");
  EXPECT_EQ(front->take_buffered(), "b NOOP\r\n");  // belongs to the backend now

  auto second = make_front_end(MailProtocol::imap, secure_options());
  out.clear();
  step = run(*second, "x AUTHENTICATE PLAIN\r\n", &out);
  EXPECT_EQ(out, "+ \r\n");
  step = run(*second, base64_encode(std::string("\0bob\0pw", 7)) + "\r\n", &out);
  ASSERT_EQ(step.action, Action::login);
  EXPECT_EQ(step.credentials.user, "bob");
  FrontEndStep failed = second->login_failed("NO [AUTHENTICATIONFAILED] Authentication failed.");
  EXPECT_EQ(failed.reply, "x NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  out.clear();
  step = run(*second, "y AUTHENTICATE plain " + base64_encode(std::string("\0bob\0pw", 7)) + "\r\n",
             &out);
  ASSERT_EQ(step.action, Action::login);
  EXPECT_EQ(second->login_failed("").reply,
            "y NO [UNAVAILABLE] Server is temporarily unavailable.\r\n");
  step = run(*second, "z LOGIN bob pw\r\n", &out);
  ASSERT_EQ(step.action, Action::login);
  failed = second->login_failed("NO nope");
  EXPECT_EQ(failed.action, Action::close);  // the third failure
  EXPECT_EQ(failed.reply, "z NO nope\r\n* BYE Too many failed login attempts.\r\n");
}

TEST(ImapFrontEnd, PlaintextLoginNeedsTlsUnlessSecure) {
  FrontEndOptions options;
  options.tls_offered = true;
  auto front = make_front_end(MailProtocol::imap, options);
  EXPECT_NE(front->greeting().find("LOGINDISABLED"), std::string::npos);
  std::string out;
  EXPECT_EQ(run(*front, "a LOGIN jane secret\r\n", &out).action, Action::need_input);
  EXPECT_EQ(out, "a NO [PRIVACYREQUIRED] Plaintext authentication is not allowed without TLS.\r\n");
  FrontEndStep step = run(*front, "b STARTTLS\r\nc LOGIN injected before tls\r\n", &out);
  ASSERT_EQ(step.action, Action::start_tls);
  EXPECT_EQ(step.reply, "b OK Begin TLS negotiation now.\r\n");
  front->tls_started();
  out.clear();
  EXPECT_EQ(run(*front, "d CAPABILITY\r\n", &out).action, Action::need_input);
  EXPECT_EQ(
      out,
      "* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID AUTH=PLAIN\r\nd OK CAPABILITY completed.\r\n");
}

TEST(ImapFrontEnd, BadInputIsAnsweredAndBounded) {
  FrontEndOptions options = secure_options();
  options.max_bad_commands = 3;
  auto front = make_front_end(MailProtocol::imap, options);
  std::string out;
  EXPECT_EQ(run(*front, "\"junk\r\nt LOGIN \"unterminated\r\n", &out).action, Action::need_input);
  EXPECT_EQ(out, "* BAD Invalid tag.\r\nt BAD Unterminated quoted string.\r\n");
  out.clear();
  EXPECT_EQ(run(*front, std::string(10000, 'x') + "\r\n", &out).action, Action::close);
  EXPECT_EQ(out, "* BAD Command line too long.\r\n* BYE Too many invalid commands.\r\n");
  auto other = make_front_end(MailProtocol::imap, secure_options());
  out.clear();
  EXPECT_EQ(run(*other, "a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE CRAM-MD5\r\n", &out).action,
            Action::need_input);
  EXPECT_EQ(out,
            "+ \r\na BAD Authentication aborted.\r\n"
            "b NO [CANNOT] Unsupported authentication mechanism.\r\n");
  EXPECT_EQ(other->kicked_reply("Password\r\nchanged"),
            "* BYE [UNAVAILABLE] Password  changed\r\n");
}

TEST(Pop3FrontEnd, CommandsLoginsAndLimits) {
  FrontEndOptions options = secure_options();
  options.max_bad_commands = 2;
  auto front = make_front_end(MailProtocol::pop3, options);
  EXPECT_EQ(front->greeting(), "+OK anvil-proxy ready.\r\n");
  std::string out;
  EXPECT_EQ(run(*front, "CAPA\r\nnoop\r\nPASS x\r\n", &out).action, Action::need_input);
  EXPECT_EQ(out,
            "+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\nRESP-CODES\r\n"
            "AUTH-RESP-CODE\r\nIMPLEMENTATION anvil-proxy\r\n.\r\n+OK\r\n-ERR USER first.\r\n");
  out.clear();
  FrontEndStep step = run(*front, "USER jane\r\nPASS pass with spaces\r\n", &out);
  ASSERT_EQ(step.action, Action::login);
  EXPECT_EQ(step.credentials.user, "jane");
  EXPECT_EQ(step.credentials.password, "pass with spaces");
  EXPECT_EQ(front->login_failed("-ERR [AUTH] Authentication failed.").reply,
            "-ERR [AUTH] Authentication failed.\r\n");
  EXPECT_EQ(front->login_failed("").reply,
            "-ERR [SYS/TEMP] Server is temporarily unavailable.\r\n");
  out.clear();
  step = run(*front, "AUTH PLAIN\r\n", &out);
  EXPECT_EQ(out, "+ \r\n");
  step = run(*front, base64_encode(std::string("\0bob\0pw", 7)) + "\r\n", &out);
  ASSERT_EQ(step.action, Action::login);
  EXPECT_EQ(step.credentials.user, "bob");
  EXPECT_EQ(front->login_succeeded("+OK Logged in."), "+OK Logged in.\r\n");
  EXPECT_EQ(front->kicked_reply("Bye"), "-ERR [SYS/TEMP] Bye\r\n");

  auto noisy = make_front_end(MailProtocol::pop3, options);
  out.clear();
  EXPECT_EQ(run(*noisy, std::string(9000, 'x'), &out).action, Action::need_input);
  EXPECT_EQ(out, "-ERR Line too long.\r\n");
  EXPECT_EQ(run(*noisy, std::string(9000, 'x') + "\r\nFOO\r\n", &out).action, Action::close);
  EXPECT_EQ(out,
            "-ERR Line too long.\r\n-ERR Unknown command or not valid before login.\r\n"
            "-ERR Too many invalid commands, disconnecting.\r\n");
}

TEST(Pop3FrontEnd, StlsAndPlaintextRefusal) {
  FrontEndOptions options;
  options.tls_offered = true;
  auto front = make_front_end(MailProtocol::pop3, options);
  std::string out;
  run(*front, "USER jane\r\nCAPA\r\n", &out);
  EXPECT_EQ(out,
            "-ERR [AUTH] Plaintext authentication is not allowed without TLS.\r\n"
            "+OK Capability list follows\r\nSTLS\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
            "IMPLEMENTATION anvil-proxy\r\n.\r\n");
  FrontEndStep step = run(*front, "STLS\r\nUSER injected\r\n", &out);
  ASSERT_EQ(step.action, Action::start_tls);
  front->tls_started();
  out.clear();
  step = run(*front, "PASS x\r\n", &out);
  EXPECT_EQ(out, "-ERR USER first.\r\n");  // the injected USER was dropped
}

}  // namespace
}  // namespace anvil
