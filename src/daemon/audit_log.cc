#include "daemon/audit_log.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/dovecot_process.h"
#include "daemon/peer_access.h"
#include "daemon/running_kick.h"
#include "registry/kick.h"

namespace anvil {

namespace {

std::string iso8601(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char with_ms[48];
  std::snprintf(with_ms, sizeof with_ms, "%s.%03dZ", text, static_cast<int>(unix_ms % 1000));
  return with_ms;
}

nlohmann::json optional_text(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

}  // namespace

std::string AuditLog::open() {
  if (path_.empty()) return "";
  std::error_code ignored;
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir, ignored)) {
    std::filesystem::create_directories(dir, ignored);
    ::chmod(dir.c_str(), 0750);
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return "cannot open audit_log " + path_ + ": " + std::strerror(errno);
  fd_.reset(fd);
  return "";
}

std::string AuditLog::format(const KickAudit& kick, const std::vector<KickOutcome>& outcomes,
                             std::int64_t unix_ms) {
  std::string out;
  format_into(kick, outcomes, unix_ms, out, [](std::string&) {});
  return out;
}

void AuditLog::format_into(const KickAudit& kick, const std::vector<KickOutcome>& outcomes,
                           std::int64_t unix_ms, std::string& out,
                           const std::function<void(std::string&)>& emit) {
  constexpr std::size_t kPart = 1 << 20;
  nlohmann::json filter = nlohmann::json::object();
  for (const std::string& field : kick.filter) {
    std::size_t eq = field.find('=');
    filter[field.substr(0, eq)].push_back(eq == std::string::npos ? "" : field.substr(eq + 1));
  }
  std::size_t kicked = 0;
  for (const KickOutcome& outcome : outcomes) kicked += outcome.status == KickStatus::kicked;
  nlohmann::json record = {
      {"time", iso8601(unix_ms)},
      {"unix_ms", unix_ms},
      {"action", kick.dry_run ? "dry-run" : "kick"},
      {"peer",
       {{"uid", kick.peer.uid},
        {"user", optional_text(user_name(kick.peer.uid))},
        {"pid", kick.peer.pid},
        {"program", optional_text(process_name(kick.peer.pid))}}},
      {"on_behalf", optional_text(kick.on_behalf)},
      {"filter", filter},
      {"reason", kick.reason},
      {"force", kick.force},
      {"connections", "(connections)"},  // the array's text goes here
      {"matched", outcomes.size()},
      {"kicked", kicked},
  };
  std::string head = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Only the key itself can be followed by this text unescaped: inside a
  // string value the quotes would be escaped.
  const std::string placeholder = "\"connections\":\"(connections)\"";
  std::size_t at = head.find(placeholder);
  out.append(head, 0, at);
  out += "\"connections\":[";

  // A kick may select a million connections: each is written as text
  // straight away (keys in the order nlohmann writes them) instead of
  // becoming a JSON tree first.
  auto text = [&out](const std::string& value) {
    // Plain printable ASCII is its own JSON text; anything else goes
    // through nlohmann, which escapes it and, as peers choose user names
    // and reasons, replaces invalid UTF-8 rather than failing the record.
    bool plain = std::all_of(value.begin(), value.end(),
                             [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain) {
      out += '"';
      out += value;
      out += '"';
    } else {
      out += nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  };
  auto address = [&out](const std::optional<IpAddress>& ip) {
    if (ip) {
      out += '"';
      out += ip->to_string();
      out += '"';
    } else {
      out += "null";
    }
  };
  auto number = [&out](long long value) {
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  };
  bool first = true;
  for (const KickOutcome& outcome : outcomes) {
    const Session& s = outcome.session;
    if (!first) out += ',';
    first = false;
    char hex[32];
    s.id.write_hex(hex);
    out += "{\"dest_ip\":";
    address(s.dest_ip);
    out += ",\"dest_port\":";
    number(s.dest_port);
    out += ",\"id\":\"";
    out.append(hex, sizeof hex);
    out += "\",\"ip\":";
    address(s.client_ip);
    out += ",\"outcome\":\"";
    out += kick_status_name(outcome.status);
    out += "\",\"pid\":";
    number(s.pid);
    out += ",\"port\":";
    number(s.client_port);
    out += ",\"service\":";
    text(s.service);
    out += ",\"uid\":";
    if (s.uid == kNoUid) {
      out += "null";
    } else {
      number(s.uid);
    }
    out += ",\"user\":";
    text(s.user);
    if (!outcome.why.empty()) {
      out += ",\"why\":";
      text(outcome.why);
    }
    out += '}';
    if (out.size() >= kPart) emit(out);
  }
  out += ']';
  out.append(head, at + placeholder.size());
}

std::string AuditLog::record(const KickAudit& kick, const std::vector<KickOutcome>& outcomes) {
  if (path_.empty()) return "";
  if (!fd_) {
    if (std::string error = open(); !error.empty()) return error;
  }
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  // Written in parts from one reused buffer: the record of a large kick
  // is never held whole, nor its memory touched fresh for every kick.
  bool written = true;
  auto write_part = [&](std::string& part) {
    written = written && write_all(fd_.get(), part);
    part.clear();
  };
  buffer_.clear();
  format_into(kick, outcomes, now.count(), buffer_, write_part);
  buffer_ += '\n';
  write_part(buffer_);
  if (buffer_.capacity() > (4u << 20)) buffer_ = {};
  if (!written) return "writing audit_log " + path_ + ": " + std::strerror(errno);
  if (::fdatasync(fd_.get()) != 0) {
    return "syncing audit_log " + path_ + ": " + std::strerror(errno);
  }
  return "";
}

std::vector<std::string> AuditLog::tail(std::size_t count) const {
  if (path_.empty() || count == 0) return {};
  // Read backwards from the end, so that a long trail costs what the
  // answer needs, not the whole file.
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  std::streamoff end = in.tellg();
  std::string text;
  constexpr std::streamoff kBlock = 64 * 1024;
  for (std::streamoff start = end; start > 0;) {
    std::streamoff from = std::max<std::streamoff>(0, start - kBlock);
    std::string block(static_cast<std::size_t>(start - from), '\0');
    in.seekg(from);
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    text.insert(0, block);
    start = from;
    if (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) > count) break;
  }
  std::vector<std::string> lines;
  std::size_t pos = text.size();
  while (pos > 0 && lines.size() < count) {
    std::size_t lf = text.rfind('\n', pos - 1);
    std::size_t begin = lf == std::string::npos ? 0 : lf + 1;
    if (pos > begin) lines.push_back(text.substr(begin, pos - begin));
    if (lf == std::string::npos) break;
    pos = lf;
  }
  return {lines.rbegin(), lines.rend()};
}

}  // namespace anvil
