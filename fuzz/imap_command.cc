// The proxy's IMAP command reader (literals included) and parser.
#include "proxy/imap_command.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::size_t limit = input.byte() * 16 + 16;
  anvil::ImapCommandReader reader(limit);
  for (std::string_view chunk : input.chunks()) {
    reader.append(chunk);
    for (int steps = 0; steps < 100; steps++) {
      auto step = reader.next();
      if (step.kind == anvil::ImapCommandReader::Step::Kind::need_more) break;
      if (step.kind == anvil::ImapCommandReader::Step::Kind::command) {
        FUZZ_CHECK(step.text.size() <= limit + 64);
        std::string tag, error;
        auto command = anvil::parse_imap_command(step.text, &tag, &error);
        FUZZ_CHECK(command || !error.empty());
      }
    }
  }
  return 0;
}
