#include "anvil/client.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "client/session_store.h"
#include "common/line_codec.h"
#include "common/unix_socket.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxLineLength = 1 << 20;
// The longest line anvild takes by default (max_line_length): a session
// whose line is longer could never be registered, so it is refused here.
constexpr std::size_t kMaxSessionLine = 16384;
// Past this much unsent output anvild is not keeping up: reconnect and replay.
constexpr std::size_t kMaxPendingOutput = 64 << 20;

// What follows the id in a session's CONNECT or UPDATE line ("\tuser=…"),
// into *fields (its capacity reused), built with `line`: "" or why the
// session cannot be registered (invalid, or too long for one line anvild
// accepts). Addresses go as given once they parse; anvild reads them again.
std::string encode_session(const SessionInfo& info, LineWriter& line, std::string* fields) {
  if (!info.client_ip.empty() && !IpAddress::parse(info.client_ip)) {
    return "invalid client address: " + info.client_ip;
  }
  if (!info.dest_ip.empty() && !IpAddress::parse(info.dest_ip)) {
    return "invalid destination address: " + info.dest_ip;
  }
  for (const auto& [field, value] : info.alt_names) {
    if (!field.starts_with("user_") || field.find('=') != std::string::npos) {
      return "alternative name fields must be named user_*: " + field;
    }
  }
  line.add("");
  if (!info.user.empty()) line.add("user", info.user);
  if (!info.client_ip.empty()) line.add("ip", info.client_ip);
  if (info.client_port) line.add("port", info.client_port);
  if (info.local_port) line.add("local_port", info.local_port);
  if (!info.dest_ip.empty()) line.add("dest_ip", info.dest_ip);
  if (info.dest_port) line.add("dest_port", info.dest_port);
  for (const auto& [field, value] : info.alt_names) line.add(field, value);
  fields->clear();
  line.finish_into(*fields);
  fields->pop_back();                                                             // the LF
  std::size_t size = std::string_view("CONNECT\t").size() + 32 + fields->size();  // without LF
  if (size <= kMaxSessionLine) return "";
  return "session too large to register: " + std::to_string(size) + " bytes on the wire, at most " +
         std::to_string(kMaxSessionLine);
}

void append_session_line(std::string& out, std::string_view command, const ConnectionId& id,
                         std::string_view fields) {
  char hex[32];
  id.write_hex(hex);
  out += command;
  out += '\t';
  out.append(hex, sizeof hex);
  out += fields;
  out += '\n';
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)), backoff_(options_.initial_backoff) {
    if (options_.socket_path.empty()) options_.socket_path = ANVIL_DEFAULT_RUN_DIR "/anvil-service";
    next_attempt_ = Clock::now();
  }

  Options options_;
  SessionStore sessions_;  // with their fields
  LineWriter encoder_;     // reused for each session's fields
  std::string fields_;
  UniqueFd fd_;
  LineBuffer input_{kMaxLineLength};
  std::string output_;
  std::size_t output_sent_ = 0;  // bytes at the front of output_ already sent
  std::chrono::milliseconds backoff_;
  Clock::time_point next_attempt_;
  KickHandler kick_handler_;
  BanHandler ban_handler_;
  struct PendingQuery {
    Clock::time_point deadline;
    CountsHandler handler;
  };
  std::map<std::uint64_t, PendingQuery> queries_;
  std::uint64_t next_query_ = 1;
  ErrorHandler error_handler_;
  std::function<void()> wakeup_;

  void report(const std::string& message) {
    if (error_handler_) error_handler_(message);
  }

  void queue(const std::string& line) {
    if (!fd_) return;  // replayed on reconnect
    bool was_idle = output_.empty();
    output_ += line;
    if (was_idle && wakeup_) wakeup_();
  }

  void queue_session(std::string_view command, const ConnectionId& id, std::string_view fields) {
    if (!fd_) return;  // replayed on reconnect
    bool was_idle = output_.empty();
    append_session_line(output_, command, id, fields);
    if (was_idle && wakeup_) wakeup_();
  }

  // Queries of a connection that is gone cannot be answered: they end at
  // the next process().
  void fail_queries() {
    for (auto& [request, query] : queries_) query.deadline = Clock::now();
  }

  void expire_queries() {
    auto now = Clock::now();
    for (auto it = queries_.begin(); it != queries_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      CountsHandler handler = std::move(it->second.handler);
      it = queries_.erase(it);
      if (handler) handler(std::nullopt);
    }
  }

  void handle_counts(const std::vector<std::string>& fields) {
    long long request = 0;
    if (fields.size() < 2 || !parse_integer(fields[1], 1, INT64_MAX, &request)) return;
    auto it = queries_.find(static_cast<std::uint64_t>(request));
    if (it == queries_.end()) return;  // timed out already
    auto number = [&](std::string_view key) {
      long long value = 0;
      parse_integer(field_value(fields, 2, key), 0, INT64_MAX, &value);
      return static_cast<std::size_t>(value);
    };
    Counts counts;
    counts.ip_sessions = number("ip_sessions");
    counts.ip_prelogin = number("ip_prelogin");
    counts.user_sessions = number("user_sessions");
    counts.penalty = static_cast<unsigned>(number("penalty"));
    counts.banned = field_value(fields, 2, "banned");
    counts.cluster_user_sessions = number("cluster_user_sessions");
    counts.over_limit = field_value(fields, 2, "over_limit");
    CountsHandler handler = std::move(it->second.handler);
    queries_.erase(it);
    if (handler) handler(counts);
  }

  void disconnect(const std::string& why) {
    if (!fd_) return;
    fail_queries();
    report(why);
    fd_.reset();
    output_.clear();
    output_sent_ = 0;
    input_ = LineBuffer(kMaxLineLength);
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  }

  void try_connect() {
    std::string error;
    UniqueFd fd = connect_unix(options_.socket_path, true, &error);
    if (!fd) {
      next_attempt_ = Clock::now() + backoff_;
      backoff_ = std::min(backoff_ * 2, options_.max_backoff);
      return;
    }
    fd_ = std::move(fd);
    output_ = LineWriter().add("VERSION").add("anvil-service").add("1").add("0").finish();
    output_ += LineWriter()
                   .add("HELLO")
                   .add(options_.service)
                   .add(static_cast<long long>(::getpid()))
                   .finish();
    output_sent_ = 0;
    sessions_.for_each([this](const ConnectionId& id, std::string_view fields) {
      append_session_line(output_, "CONNECT", id, fields);
    });
  }

  void handle_line(const std::string& line) {
    auto fields = split_fields(line);
    if (fields.empty()) return;
    if (fields[0] == "VERSION") {
      if (fields.size() < 3 || fields[1] != "anvil-service" || fields[2] != "1") {
        disconnect("anvild speaks an incompatible protocol: " + line);
        return;
      }
      backoff_ = options_.initial_backoff;
    } else if (fields[0] == "COUNTS") {
      handle_counts(fields);
    } else if (fields[0] == "ERROR") {
      std::string message = fields.size() >= 4 ? fields[3] : line;
      report("anvild: " + message);
    } else if (fields[0] == "BANNED" && fields.size() >= 2) {
      // BANNED⇥<id>⇥reason=<text>⇥ban=<n>: not registered (any more).
      auto id = ConnectionId::parse(fields[1]);
      if (!id || !sessions_.erase(*id)) return;
      std::string reason(field_value(fields, 2, "reason"));
      if (ban_handler_) {
        ban_handler_(*id, reason);
      } else {
        report("anvild refused session " + fields[1] + ": banned: " + reason);
      }
    } else if (fields[0] == "KICK" && fields.size() >= 3) {
      std::vector<ConnectionId> ids;
      bool expired = false;
      for (std::size_t i = 3; i < fields.size(); i++) {
        if (fields[i].starts_with("deadline=")) {
          // anvild has given up on this kick (and told the admin so) once
          // its deadline has passed: dropping now would make that a lie.
          long long deadline = 0;
          if (parse_integer(std::string_view(fields[i]).substr(9), 0, INT64_MAX, &deadline)) {
            auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                Clock::now().time_since_epoch());
            expired = now.count() > deadline;
          }
          continue;
        }
        auto id = ConnectionId::parse(fields[i]);
        if (id && sessions_.contains(*id)) ids.push_back(*id);
      }
      if (expired) {
        report("kick request " + fields[1] + " arrived after its deadline; ignored");
        ids.clear();
      }
      std::vector<ConnectionId> dropped;
      if (kick_handler_ && !ids.empty()) dropped = kick_handler_(ids, fields[2]);
      LineWriter reply;
      reply.add("KICKED").add(fields[1]);
      for (const ConnectionId& id : dropped) {
        sessions_.erase(id);
        reply.add(id.to_hex());
      }
      queue(reply.finish());
    } else {
      report("unexpected line from anvild: " + line);
    }
  }

  void read_input() {
    char buf[16384];
    while (fd_) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        input_.append(buf, static_cast<std::size_t>(n));
        while (fd_) {
          auto line = input_.next_line();
          if (!line) break;
          handle_line(*line);
        }
        if (input_.overflowed()) disconnect("anvild sent an over-long line");
        continue;
      }
      if (n == 0) {
        disconnect("anvild closed the connection; reconnecting");
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        disconnect(std::string("reading from anvild failed: ") + std::strerror(errno));
      }
      return;
    }
  }

  void write_output() {
    while (fd_ && !output_.empty()) {
      ssize_t n = ::send(fd_.get(), output_.data() + output_sent_, output_.size() - output_sent_,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        // Sent bytes are dropped from the front only once they are most of
        // the buffer: each byte is moved at most once on average.
        output_sent_ += static_cast<std::size_t>(n);
        if (output_sent_ == output_.size()) {
          output_.clear();
          output_sent_ = 0;
        } else if (output_sent_ > output_.size() / 2) {
          output_.erase(0, output_sent_);
          output_sent_ = 0;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      disconnect(std::string("writing to anvild failed: ") + std::strerror(errno));
    }
    if (output_.size() - output_sent_ > kMaxPendingOutput)
      disconnect("anvild is not reading; reconnecting");
  }
};

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

ConnectionId Client::register_session(const SessionInfo& info, std::string* error) {
  Impl& impl = *impl_;
  if (std::string problem = encode_session(info, impl.encoder_, &impl.fields_); !problem.empty()) {
    if (error) *error = problem;
    return {};
  }
  ConnectionId id = ConnectionId::random();
  if (!impl.sessions_.insert(id, impl.fields_)) {
    if (error) *error = "libanvil holds too much session data (4 GiB) in this process";
    return {};
  }
  impl.queue_session("CONNECT", id, impl.fields_);
  return id;
}

bool Client::update_session(const ConnectionId& id, const SessionInfo& info, std::string* error) {
  Impl& impl = *impl_;
  if (!impl.sessions_.contains(id)) {
    if (error) *error = "unknown connection id " + id.to_hex();
    return false;
  }
  if (std::string problem = encode_session(info, impl.encoder_, &impl.fields_); !problem.empty()) {
    if (error) *error = problem;
    return false;
  }
  if (!impl.sessions_.replace(id, impl.fields_)) {
    if (error) *error = "libanvil holds too much session data (4 GiB) in this process";
    return false;
  }
  impl.queue_session("UPDATE", id, impl.fields_);
  return true;
}

void Client::unregister_session(const ConnectionId& id) {
  if (!impl_->sessions_.erase(id)) return;
  impl_->queue_session("DISCONNECT", id, "");
}

void Client::set_kick_handler(KickHandler handler) {
  impl_->kick_handler_ = std::move(handler);
}
void Client::set_ban_handler(BanHandler handler) {
  impl_->ban_handler_ = std::move(handler);
}
void Client::set_error_handler(ErrorHandler handler) {
  impl_->error_handler_ = std::move(handler);
}
void Client::set_wakeup(std::function<void()> wakeup) {
  impl_->wakeup_ = std::move(wakeup);
}

int Client::fd() const {
  return impl_->fd_.get();
}
bool Client::wants_write() const {
  return impl_->fd_ && !impl_->output_.empty();
}
bool Client::connected() const {
  return static_cast<bool>(impl_->fd_);
}
std::size_t Client::session_count() const {
  return impl_->sessions_.size();
}

int Client::timeout_ms() const {
  std::optional<Clock::time_point> next;
  if (!impl_->fd_) next = impl_->next_attempt_;
  for (const auto& [request, query] : impl_->queries_) {
    if (!next || query.deadline < *next) next = query.deadline;
  }
  if (!next) return -1;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now());
  return wait.count() < 0 ? 0 : static_cast<int>(wait.count()) + 1;
}

void Client::process() {
  if (!impl_->fd_ && Clock::now() >= impl_->next_attempt_) impl_->try_connect();
  impl_->read_input();
  impl_->write_output();
  impl_->expire_queries();
}

void Client::query_counts(const std::string& ip, const std::string& user, CountsHandler handler,
                          std::chrono::milliseconds timeout) {
  std::uint64_t request = impl_->next_query_++;
  // Not connected: the handler hears so from the next process(), never
  // from inside this call.
  auto deadline = impl_->fd_ ? Clock::now() + timeout : Clock::now();
  impl_->queries_.emplace(request, Impl::PendingQuery{deadline, std::move(handler)});
  impl_->queue(LineWriter()
                   .add("COUNT")
                   .add(static_cast<long long>(request))
                   .add("ip=" + ip)
                   .add("user=" + user)
                   .finish());
  if (!impl_->fd_ && impl_->wakeup_) impl_->wakeup_();
}

void Client::report_login(const std::string& ip, bool failed, std::uint32_t checksum) {
  LineWriter line;
  line.add("LOGIN").add(failed ? "failed" : "ok").add("ip=" + ip);
  if (failed) line.add("checksum=" + std::to_string(checksum));
  impl_->queue(line.finish());
}

}  // namespace anvil
