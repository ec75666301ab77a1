// What one anvild node accepts from the others over NATS (docs/cluster.md):
// requests, reply chunks, presence beats and ban events, and the ban line
// a ban event carries.
#include "cluster/cluster_wire.h"
#include "fuzz_input.h"
#include "registry/ban_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::uint8_t kind = input.byte();
  std::string payload(input.rest());
  switch (kind % 4) {
    case 0: {
      anvil::cluster::Request request;
      if (anvil::cluster::decode_request(payload, 1 << 16, &request).empty()) {
        // What was accepted reads back the same.
        anvil::cluster::Request again;
        FUZZ_CHECK(
            anvil::cluster::decode_request(anvil::cluster::encode_request(request), 1 << 20, &again)
                .empty());
        FUZZ_CHECK(again.id == request.id && again.origin == request.origin &&
                   again.on_behalf == request.on_behalf && again.command == request.command);
        FUZZ_CHECK(anvil::cluster::relayable_command(
            std::string_view(request.command).substr(0, request.command.find('\t'))));
      }
      break;
    }
    case 1: {
      anvil::cluster::ReplyHeader header;
      std::string_view body;
      if (anvil::cluster::decode_reply(payload, &header, &body).empty()) {
        FUZZ_CHECK(anvil::cluster::valid_node_name(header.node));
        FUZZ_CHECK(body.empty() || body.back() == '\n');
        // Each line tagged keeps its LF and gains the node.
        std::size_t start = 0;
        while (start < body.size()) {
          std::size_t end = body.find('\n', start);
          std::string tagged =
              anvil::cluster::tag_line(body.substr(start, end + 1 - start), header.node);
          FUZZ_CHECK(tagged.back() == '\n' &&
                     tagged.find("node=" + header.node) != std::string::npos);
          start = end + 1;
        }
      }
      break;
    }
    case 2: {
      anvil::cluster::Presence presence;
      if (anvil::cluster::decode_presence(payload, &presence).empty()) {
        anvil::cluster::Presence again;
        FUZZ_CHECK(
            anvil::cluster::decode_presence(anvil::cluster::encode_presence(presence), &again)
                .empty());
        FUZZ_CHECK(again.node == presence.node && again.sessions == presence.sessions &&
                   again.leaving == presence.leaving);
      }
      break;
    }
    default: {
      anvil::cluster::BanEvent event;
      if (anvil::cluster::decode_ban_event(payload, 1 << 16, &event).empty() && event.added) {
        std::string problem;
        auto ban = anvil::parse_ban_line(
            std::string_view(event.ban).substr(0, event.ban.size() - 1), &problem);
        if (ban) FUZZ_CHECK(ban->id != 0 && (ban->user || ban->network));
      }
      break;
    }
  }
  return 0;
}
