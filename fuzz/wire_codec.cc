// Sessions and filters as key=value fields (docs/protocol.md §1.1, §1.2).
#include "registry/wire_codec.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  bool full = input.byte() & 1;
  std::vector<std::string> fields = anvil::split_fields(input.rest());
  anvil::Session session;
  anvil::SessionFilter filter;
  bool filter_ok = true;
  for (const std::string& field : fields) {
    (void)anvil::apply_session_field(session, field,
                                     full ? anvil::FieldScope::full : anvil::FieldScope::info);
    filter_ok = anvil::apply_filter_field(filter, field).empty() && filter_ok;
  }
  // What anvil writes, anvil reads back the same.
  anvil::LineWriter line;
  anvil::add_session_fields(line, session);
  std::string written = line.finish();
  written.pop_back();  // the LF
  anvil::Session again;
  for (const std::string& field : anvil::split_fields(written)) {
    FUZZ_CHECK(anvil::apply_session_field(again, field, anvil::FieldScope::full).empty());
  }
  FUZZ_CHECK(again.user == session.user && again.client_ip == session.client_ip &&
             again.alt_names == session.alt_names && again.uid == session.uid);
  if (filter_ok) {
    anvil::LineWriter written;
    anvil::add_filter_fields(written, filter);
    std::string text = written.finish();
    anvil::SessionFilter reread;
    for (const std::string& field : anvil::split_fields(text.substr(0, text.size() - 1))) {
      FUZZ_CHECK(anvil::apply_filter_field(reread, field).empty());
    }
    FUZZ_CHECK(reread.matches(session) == filter.matches(session));
  }
  return 0;
}
