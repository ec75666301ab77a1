// The registry against a plain model: every operation the daemon performs,
// in an order the input chooses; after each, what select() finds must be
// exactly what a scan of the model finds, and the counts must agree.
#include <algorithm>
#include <map>

#include "fuzz_input.h"
#include "registry/session_table.h"

namespace {

anvil::Session make_session(anvil::fuzz::Input& input) {
  static const char* const kUsers[] = {"", "jane", "JANE", "jano", "bob", "b?b", "x*"};
  anvil::Session s;
  s.id = {input.byte() % 4u, input.byte() % 32u + 1};
  s.owner = input.byte() % 4;
  s.pid = static_cast<std::int32_t>(s.owner * 10 + 7);  // one process per channel
  s.uid = input.byte() % 3;
  s.service = input.byte() & 1 ? "imap" : "pop3";
  s.user = kUsers[input.byte() % 7];
  std::uint8_t ip = input.byte();
  if (ip % 4 != 0) {
    s.client_ip = anvil::IpAddress::parse(ip % 4 == 1 ? "10.0.0." + std::to_string(ip % 8)
                                                      : "2001:db8::" + std::to_string(ip % 8));
  }
  if (input.byte() & 1) s.dest_ip = anvil::IpAddress::parse("192.0.2." + std::to_string(ip % 3));
  if (input.byte() & 1) s.alt_names.push_back({"user_email", s.user + "@example.com"});
  return s;
}

anvil::SessionFilter make_filter(anvil::fuzz::Input& input) {
  static const char* const kMasks[] = {"jane", "ja*", "*", "?ob", "b?b", "J*E", ""};
  static const char* const kNets[] = {"10.0.0.0/30", "10.0.0.4",       "0.0.0.0/0",
                                      "::/0",        "2001:db8::/125", "10.0.0.0/8"};
  anvil::SessionFilter f;
  std::uint8_t which = input.byte();
  if (which & 1) f.users.emplace_back(kMasks[input.byte() % 7]);
  if (which & 2) f.users.emplace_back(kMasks[input.byte() % 7]);
  if (which & 4) f.networks.push_back(*anvil::Cidr::parse(kNets[input.byte() % 6]));
  if (which & 8) f.services.emplace_back(input.byte() & 1 ? "IMAP" : "pop3");
  if (which & 16) f.pids.push_back(input.byte() % 40);
  if (which & 32) f.ids.push_back({input.byte() % 4u, input.byte() % 32u + 1});
  if (which & 64) f.destinations.push_back(*anvil::IpAddress::parse("192.0.2.1"));
  if ((which & 128) && !f.users.empty()) f.alt_field = "user_email";
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  anvil::SessionTable table;
  std::map<anvil::ConnectionId, anvil::Session> model;
  while (!input.empty()) {
    switch (input.byte() % 5) {
      case 0: {
        anvil::Session s = make_session(input);
        bool fresh = !model.contains(s.id);
        FUZZ_CHECK(table.add(s) == fresh);
        if (fresh) model[s.id] = s;
        break;
      }
      case 1: {
        anvil::Session s = make_session(input);
        bool known = model.contains(s.id);
        FUZZ_CHECK(table.update(s) == known);
        if (known) {
          anvil::Session& m = model[s.id];
          m.user = s.user;
          m.client_ip = s.client_ip;
          m.dest_ip = s.dest_ip;
          m.alt_names = s.alt_names;
        }
        break;
      }
      case 2: {
        anvil::ConnectionId id{input.byte() % 4u, input.byte() % 32u + 1};
        FUZZ_CHECK(table.remove(id) == (model.erase(id) == 1));
        break;
      }
      case 3: {
        anvil::OwnerId owner = input.byte() % 4;
        std::size_t removed =
            std::erase_if(model, [&](const auto& e) { return e.second.owner == owner; });
        FUZZ_CHECK(table.remove_owner(owner) == removed);
        break;
      }
      case 4: {
        anvil::SessionFilter filter = make_filter(input);
        std::vector<anvil::ConnectionId> expected, got;
        for (const auto& [id, s] : model) {
          if (filter.matches(s)) expected.push_back(id);
        }
        for (anvil::SessionRef ref : table.select(filter)) got.push_back(table.id_of(ref));
        std::sort(got.begin(), got.end());
        FUZZ_CHECK(got == expected);
        break;
      }
    }
    FUZZ_CHECK(table.size() == model.size());
    for (std::uint32_t uid = 0; uid < 3; uid++) {
      std::size_t count = 0;
      for (const auto& [id, s] : model) count += s.uid == uid;
      FUZZ_CHECK(table.uid_size(uid) == count);
    }
  }
  return 0;
}
