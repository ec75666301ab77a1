// The IMAP and POP3 dialogues before login, driven as a session drives
// them, with the backend's answers chosen by the input.
#include "proxy/front_end.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::uint8_t setup = input.byte();
  anvil::FrontEndOptions options;
  options.tls_offered = setup & 1;
  options.secure = setup & 2;
  options.require_tls = setup & 4;
  options.max_command_size = 256;
  auto front = anvil::make_front_end(
      setup & 8 ? anvil::MailProtocol::pop3 : anvil::MailProtocol::imap, options);
  (void)front->greeting();
  std::uint8_t answers = input.byte();
  bool closed = false;
  for (std::string_view chunk : input.chunks()) {
    if (closed) break;
    front->feed(chunk);
    for (int steps = 0; steps < 100 && !closed; steps++) {
      anvil::FrontEndStep step = front->next();
      using Action = anvil::FrontEndStep::Action;
      if (step.action == Action::need_input) break;
      if (step.action == Action::close) closed = true;
      if (step.action == Action::start_tls) front->tls_started();
      if (step.action == Action::login) {
        FUZZ_CHECK(!step.credentials.user.empty());
        answers = static_cast<std::uint8_t>(answers >> 1 | answers << 7);
        if (answers & 1) {
          (void)front->login_succeeded("OK Logged in");
          (void)front->take_buffered();
          closed = true;
        } else if (front->login_failed(answers & 2 ? "" : "NO nope").action == Action::close) {
          closed = true;
        }
      }
    }
  }
  FUZZ_CHECK(front->kicked_reply("a\r\nb").find("a  b") != std::string::npos);
  return 0;
}
