// The line codec of every anvil protocol: splitting, escaping, and the
// bounded line buffer fed in arbitrary chunks.
#include "common/line_codec.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::size_t limit = input.byte() % 200 + 1;
  bool skip = input.byte() & 1;
  std::string_view whole = input.rest();
  // Escaping and splitting round-trip: fields written are fields read.
  std::vector<std::string> fields = anvil::split_fields(whole);
  anvil::LineWriter writer;
  for (const std::string& field : fields) writer.add(field);
  std::string line = writer.finish();
  if (!fields.empty()) {
    FUZZ_CHECK(anvil::split_fields(std::string_view(line).substr(0, line.size() - 1)) == fields);
  }
  FUZZ_CHECK(anvil::unescape_field(anvil::escape_field(whole)) == whole);
  FUZZ_CHECK(anvil::single_line(whole).find('\n') == std::string::npos);
  // The buffer never hands out a line over its limit, whatever the chunks.
  anvil::fuzz::Input chunks(reinterpret_cast<const std::uint8_t*>(whole.data()), whole.size());
  anvil::LineBuffer buffer(limit);
  for (std::string_view chunk : chunks.chunks()) {
    buffer.append(chunk.data(), chunk.size());
    while (auto next = buffer.next_line()) {
      FUZZ_CHECK(next->size() <= limit);
      FUZZ_CHECK(next->find('\n') == std::string::npos);
    }
    if (buffer.overflowed() && skip) buffer.skip_overlong_line();
  }
  return 0;
}
