#include "cluster/cluster_wire.h"

#include <unistd.h>

#include <climits>

#include "common/line_codec.h"
#include "common/log.h"
#include "common/numbers.h"

namespace anvil::cluster {

namespace {

constexpr std::string_view kMagic = "ANVIL-CLUSTER";
constexpr std::size_t kMaxIdLength = 32;
constexpr std::size_t kMaxInstanceLength = 32;
constexpr std::size_t kMaxOnBehalfLength = 128;

bool node_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool token(std::string_view text, std::size_t max) {
  if (text.empty() || text.size() > max) return false;
  for (char c : text) {
    if (!node_char(c)) return false;
  }
  return true;
}

// The header's fields after the kind, as key=value; each key once.
struct Header {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> values;

  const std::string* find(std::string_view key) const {
    for (const auto& [k, v] : values) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

// Reads the first line of a message. *rest: what follows its LF.
std::string read_header(std::string_view payload, Header* out, std::string_view* rest) {
  std::size_t end = payload.find('\n');
  if (end == std::string_view::npos) return "no header line";
  std::vector<std::string> fields = split_fields(payload.substr(0, end));
  *rest = payload.substr(end + 1);
  if (fields.size() < 4 || fields[0] != kMagic) return "not an anvil cluster message";
  long long major = 0, minor = 0;
  if (!parse_integer(fields[1], 0, INT_MAX, &major) ||
      !parse_integer(fields[2], 0, INT_MAX, &minor)) {
    return "malformed version";
  }
  if (major != kMajor) {
    return "cluster protocol " + std::to_string(major) + "." + std::to_string(minor) + ", not " +
           std::to_string(kMajor) + ".x";
  }
  out->kind = fields[3];
  for (std::size_t i = 4; i < fields.size(); i++) {
    std::size_t eq = fields[i].find('=');
    if (eq == std::string::npos) return "malformed header field";
    std::string key = fields[i].substr(0, eq);
    if (out->find(key)) return "header field " + key + " twice";
    out->values.emplace_back(std::move(key), fields[i].substr(eq + 1));
  }
  return "";
}

LineWriter header_writer(std::string_view kind) {
  LineWriter line;
  line.add(kMagic).add(kMajor).add(kMinor).add(kind);
  return line;
}

bool parse_u32(const std::string* text, std::uint32_t* out) {
  long long value = 0;
  if (!text || !parse_integer(*text, 0, UINT32_MAX, &value)) return false;
  *out = static_cast<std::uint32_t>(value);
  return true;
}

}  // namespace

bool valid_node_name(std::string_view name) {
  return token(name, 64);
}

std::string default_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "anvil";
  std::string name(host);
  name = name.substr(0, name.find('.'));
  for (char& c : name) {
    if (!node_char(c)) c = '-';
  }
  if (name.size() > 64) name.resize(64);
  return name.empty() ? "anvil" : name;
}

bool relayable_command(std::string_view command) {
  return command == "WHO" || command == "KICK" || command == "BAN-LIST" || command == "USER-COUNT";
}

std::string encode_request(const Request& request) {
  LineWriter line = header_writer("request");
  line.add("id", request.id).add("origin", request.origin).add("on_behalf", request.on_behalf);
  return line.finish() + request.command + "\n";
}

std::string decode_request(std::string_view payload, std::size_t max_bytes, Request* out) {
  if (payload.size() > max_bytes) return "request of " + std::to_string(payload.size()) + " bytes";
  Header header;
  std::string_view rest;
  if (std::string problem = read_header(payload, &header, &rest); !problem.empty()) return problem;
  if (header.kind != "request") return "not a request";
  const std::string* id = header.find("id");
  const std::string* origin = header.find("origin");
  const std::string* on_behalf = header.find("on_behalf");
  if (!id || !token(*id, kMaxIdLength)) return "malformed request id";
  if (!origin || !valid_node_name(*origin)) return "malformed origin";
  if (!on_behalf || on_behalf->empty() || on_behalf->size() > kMaxOnBehalfLength) {
    return "malformed on_behalf";
  }
  for (unsigned char c : *on_behalf) {
    if (c < 0x20 || c == 0x7f) return "malformed on_behalf";
  }
  // Exactly one command line, ended by its LF.
  std::size_t end = rest.find('\n');
  if (end == std::string_view::npos || end + 1 != rest.size()) return "want one command line";
  std::string_view command = rest.substr(0, end);
  std::string_view name = command.substr(0, command.find('\t'));
  if (!relayable_command(name)) return "command not run for the cluster: " + clip(name, 32);
  out->id = *id;
  out->origin = *origin;
  out->on_behalf = *on_behalf;
  out->command = command;
  return "";
}

std::string decode_reply(std::string_view payload, ReplyHeader* header, std::string_view* body) {
  Header fields;
  if (std::string problem = read_header(payload, &fields, body); !problem.empty()) return problem;
  if (fields.kind != "reply") return "not a reply";
  const std::string* id = fields.find("id");
  const std::string* node = fields.find("node");
  const std::string* instance = fields.find("instance");
  const std::string* last = fields.find("last");
  if (!id || !token(*id, kMaxIdLength)) return "malformed request id";
  if (!node || !valid_node_name(*node)) return "malformed node name";
  if (!instance || !token(*instance, kMaxInstanceLength)) return "malformed instance";
  if (!parse_u32(fields.find("seq"), &header->seq)) return "malformed seq";
  if (!last || (*last != "0" && *last != "1")) return "malformed last";
  if (!body->empty() && body->back() != '\n') return "last line without LF";
  header->id = *id;
  header->node = *node;
  header->instance = *instance;
  header->last = *last == "1";
  return "";
}

ReplyChunker::ReplyChunker(std::string id, std::string node, std::string instance,
                           std::size_t max_bytes)
    : id_(std::move(id)),
      node_(std::move(node)),
      instance_(std::move(instance)),
      max_bytes_(max_bytes),
      header_size_(header(false).size()) {}

std::string ReplyChunker::header(bool last) const {
  LineWriter line = header_writer("reply");
  line.add("id", id_).add("node", node_).add("instance", instance_);
  line.add("seq", static_cast<long long>(seq_)).add("last", last ? "1" : "0");
  return line.finish();
}

std::string ReplyChunker::add(std::string_view line) {
  std::string full;
  // The header is at most ~200 bytes; a line never exceeds what a node
  // may send, which is far below NATS' smallest max_payload.
  if (!body_.empty() && header_size_ + body_.size() + line.size() > max_bytes_) {
    full = header(false) + body_;
    body_.clear();
    seq_++;
    header_size_ = header(false).size();
  }
  body_ += line;
  return full;
}

std::string ReplyChunker::finish() {
  std::string message = header(true) + body_;
  body_.clear();
  seq_++;
  return message;
}

std::string encode_ack(const Ack& ack) {
  LineWriter line = header_writer("ack");
  line.add("id", ack.id).add("origin", ack.origin).add("seq", static_cast<long long>(ack.seq));
  return line.finish();
}

std::string decode_ack(std::string_view payload, Ack* out) {
  if (payload.size() > 512) return "ack of " + std::to_string(payload.size()) + " bytes";
  Header fields;
  std::string_view rest;
  if (std::string problem = read_header(payload, &fields, &rest); !problem.empty()) return problem;
  if (fields.kind != "ack" || !rest.empty()) return "not an ack";
  const std::string* id = fields.find("id");
  const std::string* origin = fields.find("origin");
  if (!id || !token(*id, kMaxIdLength)) return "malformed request id";
  if (!origin || !valid_node_name(*origin)) return "malformed origin";
  if (!parse_u32(fields.find("seq"), &out->seq)) return "malformed seq";
  out->id = *id;
  out->origin = *origin;
  return "";
}

std::string encode_presence(const Presence& presence) {
  LineWriter line = header_writer("presence");
  line.add("node", presence.node).add("instance", presence.instance);
  line.add("interval", static_cast<long long>(presence.interval_ms));
  line.add("sessions", static_cast<long long>(presence.sessions));
  line.add("state", presence.leaving ? "leaving" : "up");
  return line.finish();
}

std::string decode_presence(std::string_view payload, Presence* out) {
  if (payload.size() > 1024) return "presence of " + std::to_string(payload.size()) + " bytes";
  Header fields;
  std::string_view rest;
  if (std::string problem = read_header(payload, &fields, &rest); !problem.empty()) return problem;
  if (fields.kind != "presence" || !rest.empty()) return "not a presence";
  const std::string* node = fields.find("node");
  const std::string* instance = fields.find("instance");
  const std::string* state = fields.find("state");
  const std::string* sessions = fields.find("sessions");
  long long count = 0;
  if (!node || !valid_node_name(*node)) return "malformed node name";
  if (!instance || !token(*instance, kMaxInstanceLength)) return "malformed instance";
  if (!parse_u32(fields.find("interval"), &out->interval_ms) || out->interval_ms == 0) {
    return "malformed interval";
  }
  if (!sessions || !parse_integer(*sessions, 0, LLONG_MAX, &count)) return "malformed sessions";
  if (!state || (*state != "up" && *state != "leaving")) return "malformed state";
  out->node = *node;
  out->instance = *instance;
  out->sessions = static_cast<std::uint64_t>(count);
  out->leaving = *state == "leaving";
  return "";
}

std::string encode_ban_event(const BanEvent& event) {
  LineWriter line = header_writer("ban");
  line.add("instance", event.instance).add("op", event.added ? "put" : "del");
  line.add("id", static_cast<long long>(event.id));
  return line.finish() + (event.added ? event.ban : "");
}

std::string decode_ban_event(std::string_view payload, std::size_t max_bytes, BanEvent* out) {
  if (payload.size() > max_bytes)
    return "ban event of " + std::to_string(payload.size()) + " bytes";
  Header fields;
  std::string_view rest;
  if (std::string problem = read_header(payload, &fields, &rest); !problem.empty()) return problem;
  if (fields.kind != "ban") return "not a ban event";
  const std::string* instance = fields.find("instance");
  const std::string* op = fields.find("op");
  const std::string* id = fields.find("id");
  long long number = 0;
  if (!instance || !token(*instance, kMaxInstanceLength)) return "malformed instance";
  if (!op || (*op != "put" && *op != "del")) return "malformed op";
  if (!id || !parse_integer(*id, 1, INT64_MAX, &number)) return "malformed id";
  bool added = *op == "put";
  if (added != !rest.empty()) return added ? "a put without its ban" : "a del with a ban";
  if (added && (rest.back() != '\n' || rest.find('\n') + 1 != rest.size())) {
    return "want one ban line";
  }
  out->instance = *instance;
  out->added = added;
  out->id = static_cast<std::uint64_t>(number);
  out->ban = rest;
  return "";
}

void append_tagged_line(std::string& out, std::string_view line, std::string_view node) {
  if (line.empty()) return;
  std::size_t tab = line.find('\t');
  std::size_t cut = tab == std::string_view::npos ? line.size() - 1 : tab;  // before LF
  out.append(line.substr(0, cut)).append("\tnode=").append(node).append(line.substr(cut));
}

std::string tag_line(std::string_view line, std::string_view node) {
  std::string out;
  out.reserve(line.size() + node.size() + 6);
  append_tagged_line(out, line, node);
  return out;
}

}  // namespace anvil::cluster
