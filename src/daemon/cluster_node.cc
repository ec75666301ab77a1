#include "daemon/cluster_node.h"

#include <nats/nats.h>
#include <unistd.h>

#include "anvil/connection_id.h"
#include "common/log.h"
#include "common/wall_clock.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {

using Clock = std::chrono::steady_clock;
using cluster::NatsMessage;

// How often a node rewrites its record in the node bucket and reads the
// others' (a beat tells who is alive sooner; the bucket tells whom to
// expect).
constexpr std::chrono::seconds kMemberRefresh{15};
// Requests a node answers at once; more are refused with "busy".
constexpr std::size_t kMaxServing = 16;
// The key-value calls' own deadline: a NATS in trouble costs the worker
// this long at most per call.
constexpr int64_t kStoreWaitMs = 2000;

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// A key-value bucket of the cluster, bound (or created if missing) for
// one call on the worker. Returns nullptr and logs when it cannot be had.
struct Bucket {
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  Bucket(natsConnection* nc, const std::string& name, int replicas, std::int64_t max_age_ns) {
    jsOptions options;
    jsOptions_Init(&options);
    options.Wait = kStoreWaitMs;
    if (natsConnection_JetStream(&js, nc, &options) != NATS_OK) return;
    if (js_KeyValue(&kv, js, name.c_str()) == NATS_OK) return;
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = name.c_str();
    config.History = 1;
    config.TTL = max_age_ns;
    config.Replicas = replicas;
    natsStatus s = js_CreateKeyValue(&kv, js, &config);
    if (s != NATS_OK) {
      kv = nullptr;
      log_debug("cluster: bucket {}: {}", name, natsStatus_GetText(s));
    }
  }
  ~Bucket() {
    if (kv) kvStore_Destroy(kv);
    if (js) jsCtx_Destroy(js);
  }
  Bucket(const Bucket&) = delete;
  Bucket& operator=(const Bucket&) = delete;
};

}  // namespace

// One CLUSTER request being gathered, on the loop.
struct ClusterNode::Pending {
  explicit Pending(asio::io_context& io) : timer(io) {}
  std::vector<NodeAnswer> answers;
  std::vector<std::string> instances;
  std::vector<std::uint32_t> next_seq;
  std::vector<bool> done;
  std::vector<bool> ended;  // the node's END came
  std::vector<bool> live_when_asked;
  std::size_t open = 0;
  std::size_t bytes = 0;
  Clock::time_point start = Clock::now();
  asio::steady_timer timer;

  void finish(std::size_t i, std::string status, std::string error = {}) {
    if (done[i]) return;
    done[i] = true;
    answers[i].status = std::move(status);
    answers[i].error = std::move(error);
    answers[i].ms = elapsed_ms(start);
    if (answers[i].status != "answered") {
      bytes -= std::min(bytes, answers[i].lines.size());
      answers[i].lines.clear();
    }
    if (--open == 0) timer.cancel();
  }
};

ClusterNode::ClusterNode(asio::io_context& io, const DaemonConfig& config, AdminContext& admin)
    : io_(io),
      config_(config),
      admin_(admin),
      name_(config.cluster.node_name.empty() ? cluster::default_node_name()
                                             : config.cluster.node_name),
      instance_(ConnectionId::random().to_hex().substr(0, 16)),
      alive_(std::make_shared<std::atomic<bool>>(true)),
      beat_timer_(io),
      member_timer_(io),
      ban_timer_(io),
      started_(Clock::now()) {
  inbox_ = "_INBOX.anvil." + instance_;
}

ClusterNode::~ClusterNode() {
  stop();
  link_.reset();
  nats_CloseAndWait(2000);  // the client library's threads
}

std::string ClusterNode::subject(const std::string& tail) const {
  return "anvil." + config_.cluster.name + "." + tail;
}

std::string ClusterNode::bucket(const std::string& what) const {
  return "anvil-" + config_.cluster.name + "-" + what;
}

std::string ClusterNode::start() {
  const auto& c = config_.cluster;
  cluster::NatsSettings settings{c.nats_urls,  "anvild " + name_, c.user,     c.password, c.token,
                                 c.creds_file, c.tls_ca,          c.tls_cert, c.tls_key};
  auto alive = alive_;
  link_ = std::make_unique<cluster::NatsLink>(std::move(settings), [this, alive](bool up) {
    if (!up || !*alive) return;
    // Back (or there for the first time): say so at once, and learn whom
    // to expect.
    asio::post(io_, [this, alive] {
      if (!*alive) return;
      beat(false);
      refresh_members();
      sync_bans();
    });
  });
  if (std::string problem = link_->start(); !problem.empty()) return problem;
  // Each handler runs on a NATS thread and only posts to the loop.
  auto post = [this, alive](void (ClusterNode::*handler)(NatsMessage)) {
    return [this, alive, handler](NatsMessage message) {
      if (!*alive) return;
      asio::post(io_, [this, alive, handler, message = std::move(message)]() mutable {
        if (*alive) (this->*handler)(std::move(message));
      });
    };
  };
  link_->subscribe(subject("node." + name_), post(&ClusterNode::on_request));
  link_->subscribe(inbox_ + ".>", post(&ClusterNode::on_reply));
  link_->subscribe(subject("presence"), [this, alive](NatsMessage message) {
    cluster::Presence presence;
    if (!*alive || !cluster::decode_presence(message.data, &presence).empty()) return;
    asio::post(io_, [this, alive, presence = std::move(presence)] {
      if (*alive) on_presence(presence);
    });
  });
  link_->subscribe(subject("bans"), post(&ClusterNode::on_ban_event));
  admin_.bans.share([this](const Ban& ban, bool added) { on_ban_changed(ban, added); });
  log_info("cluster {}: node {} (instance {})", c.name, name_, instance_);
  beat(false);
  refresh_members();
  sync_bans();
  return "";
}

void ClusterNode::stop() {
  if (!link_ || !*alive_) return;
  *alive_ = false;
  beat_timer_.cancel();
  member_timer_.cancel();
  ban_timer_.cancel();
  beat(true);
  std::string bucket = "anvil-" + config_.cluster.name + "-nodes";
  std::string name = name_;
  int replicas = config_.cluster.replicas;
  link_->run([bucket, name, replicas](natsConnection* nc) {
    if (natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) return;
    Bucket store(nc, bucket, replicas, 0);
    if (store.kv) kvStore_Delete(store.kv, name.c_str());
  });
  link_->stop();
}

void ClusterNode::beat(bool leaving) {
  cluster::Presence presence{name_, instance_,
                             static_cast<std::uint32_t>(config_.cluster.presence_interval.count()),
                             admin_.sessions.size(), leaving};
  link_->publish(subject("presence"), cluster::encode_presence(presence));
  if (leaving) return;
  beat_timer_.expires_after(config_.cluster.presence_interval);
  beat_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec && *alive_) beat(false);
  });
}

void ClusterNode::refresh_members() {
  member_timer_.cancel();
  std::string bucket = "anvil-" + config_.cluster.name + "-nodes";
  cluster::Presence presence{name_, instance_,
                             static_cast<std::uint32_t>(config_.cluster.presence_interval.count()),
                             admin_.sessions.size(), false};
  std::string record = cluster::encode_presence(presence);
  auto max_age = std::chrono::duration_cast<std::chrono::nanoseconds>(config_.cluster.forget_after);
  auto alive = alive_;
  link_->run([this, alive, bucket, record, name = name_, replicas = config_.cluster.replicas,
              max_age](natsConnection* nc) {
    std::optional<std::set<std::string>> members;
    if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED) {
      Bucket store(nc, bucket, replicas, max_age.count());
      uint64_t revision = 0;
      kvKeysList keys{};
      if (store.kv &&
          kvStore_Put(&revision, store.kv, name.c_str(), record.data(),
                      static_cast<int>(record.size())) == NATS_OK &&
          kvStore_Keys(&keys, store.kv, nullptr) == NATS_OK) {
        members.emplace();
        for (int i = 0; i < keys.Count; i++) {
          if (cluster::valid_node_name(keys.Keys[i])) members->insert(keys.Keys[i]);
        }
        kvKeysList_Destroy(&keys);
      }
    }
    asio::post(io_, [this, alive, members = std::move(members)]() mutable {
      if (!*alive) return;
      if (members) {
        members_ = std::move(*members);
        members_failing_ = false;
      } else if (!members_failing_ && link_->connected()) {
        members_failing_ = true;
        log_warning("cluster: the node bucket cannot be read or written yet; retrying");
      }
      // A store that is not ready yet (JetStream still electing) is asked
      // again soon.
      member_timer_.expires_after(members ? kMemberRefresh
                                          : std::chrono::duration_cast<std::chrono::seconds>(
                                                config_.cluster.presence_interval) +
                                                std::chrono::seconds(1));
      member_timer_.async_wait([this](const asio::error_code& ec) {
        if (!ec && *alive_) refresh_members();
      });
    });
  });
}

void ClusterNode::on_presence(const cluster::Presence& presence) {
  if (presence.leaving) {
    if (presence.node != name_) {
      peers_.erase(presence.node);
      members_.erase(presence.node);
    }
    return;
  }
  auto now = Clock::now();
  Peer& peer = peers_[presence.node];
  if (!peer.instance.empty() && peer.instance != presence.instance) {
    // A node that restarts comes back under a new instance once; two
    // anvild with one name take turns. Only the second is a duplicate.
    if (peer.other_instance == presence.instance) {
      peer.duplicate_until = now + config_.cluster.presence_ttl;
      if (warned_duplicates_.insert(presence.node).second) {
        log_error(
            "cluster: two anvild call themselves {} (instances {} and {}){}; node names must "
            "be unique (node_name)",
            presence.node, peer.instance, presence.instance,
            presence.node == name_ ? ", this one among them" : "");
      }
    }
    peer.other_instance = peer.instance;
  }
  peer.instance = presence.instance;
  peer.seen = now;
}

bool ClusterNode::live(const std::string& node) const {
  if (node == name_) return true;
  auto it = peers_.find(node);
  return it != peers_.end() && Clock::now() - it->second.seen < config_.cluster.presence_ttl;
}

bool ClusterNode::duplicated(const std::string& node) const {
  auto it = peers_.find(node);
  return it != peers_.end() && Clock::now() < it->second.duplicate_until;
}

// ---- bans -----------------------------------------------------------------

namespace {

constexpr std::chrono::seconds kBanSync{10};
constexpr std::size_t kMaxBanEvent = 64 * 1024;

}  // namespace

void ClusterNode::store_ban(const Ban& ban) {
  if (!storing_.insert(ban.id).second) return;  // on its way already
  Ban shared = ban;
  shared.shared = true;
  std::string line = format_ban_line(shared);
  auto alive = alive_;
  link_->run([this, alive, bucket = bucket("bans"), replicas = config_.cluster.replicas,
              id = ban.id, line](natsConnection* nc) {
    natsStatus status = NATS_CONNECTION_CLOSED;
    if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED) {
      Bucket store(nc, bucket, replicas, 0);
      uint64_t revision = 0;
      std::string key = std::to_string(id);
      if (store.kv) {
        status = kvStore_Create(&revision, store.kv, key.c_str(), line.data(),
                                static_cast<int>(line.size()));
      }
      kvEntry* entry = nullptr;
      if (status == NATS_ERR && kvStore_Get(&entry, store.kv, key.c_str()) == NATS_OK) {
        // Taken: by this very ban (stored before), or by another.
        std::string_view value(static_cast<const char*>(kvEntry_Value(entry)),
                               static_cast<std::size_t>(kvEntry_ValueLen(entry)));
        if (value == line) status = NATS_OK;
        kvEntry_Destroy(entry);
      }
    }
    asio::post(io_, [this, alive, id, status] {
      if (!*alive) return;
      storing_.erase(id);
      if (status == NATS_OK) {
        admin_.bans.mark_shared(id);
      } else if (status == NATS_ERR) {
        // The key is taken (Create refuses it) by another ban: this one
        // gets a new id and goes to the store at the next sync.
        admin_.bans.renumber(id);
      }  // otherwise: NATS is away; the next sync stores it
    });
  });
}

void ClusterNode::on_ban_changed(const Ban& ban, bool added) {
  cluster::BanEvent event{instance_, added, ban.id, ""};
  if (added) {
    Ban shared = ban;
    shared.shared = true;
    event.ban = format_ban_line(shared);
    store_ban(ban);
  } else if (ban.shared) {
    pending_lifts_.insert(ban.id);
    auto alive = alive_;
    link_->run([this, alive, bucket = bucket("bans"), replicas = config_.cluster.replicas,
                id = ban.id](natsConnection* nc) {
      if (natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) return;
      Bucket store(nc, bucket, replicas, 0);
      if (!store.kv || kvStore_Delete(store.kv, std::to_string(id).c_str()) != NATS_OK) return;
      asio::post(io_, [this, alive, id] {
        if (*alive) pending_lifts_.erase(id);
      });
    });
  } else {
    return;  // never stored: nobody else has it
  }
  link_->publish(subject("bans"), cluster::encode_ban_event(event));
}

void ClusterNode::on_ban_event(NatsMessage message) {
  cluster::BanEvent event;
  if (std::string problem = cluster::decode_ban_event(message.data, kMaxBanEvent, &event);
      !problem.empty()) {
    log_warning("cluster: ignored a ban event: {}", problem);
    return;
  }
  if (event.instance == instance_) return;  // our own
  if (!event.added) {
    admin_.bans.drop_shared(event.id);
    return;
  }
  std::string problem;
  auto ban = parse_ban_line(std::string_view(event.ban).substr(0, event.ban.size() - 1), &problem);
  if (!ban || ban->id != event.id) {
    log_warning("cluster: ignored a ban event: {}", ban ? "ids differ" : problem);
    return;
  }
  if (!pending_lifts_.contains(ban->id)) admin_.bans.apply_shared(std::move(*ban));
}

void ClusterNode::sync_bans() {
  ban_timer_.cancel();
  auto alive = alive_;
  link_->run([this, alive, bucket = bucket("bans"),
              replicas = config_.cluster.replicas](natsConnection* nc) {
    std::optional<std::map<std::uint64_t, std::string>> stored;
    if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED) {
      Bucket store(nc, bucket, replicas, 0);
      kvWatchOptions options;
      kvWatchOptions_Init(&options);
      options.IgnoreDeletes = true;
      kvWatcher* watcher = nullptr;
      if (store.kv && kvStore_WatchAll(&watcher, store.kv, &options) == NATS_OK) {
        // The store's current values, then an empty entry: read whole.
        std::map<std::uint64_t, std::string> entries;
        for (;;) {
          kvEntry* entry = nullptr;
          if (kvWatcher_Next(&entry, watcher, kStoreWaitMs) != NATS_OK) break;
          if (!entry) {
            stored = std::move(entries);
            break;
          }
          long long id = 0;
          if (parse_integer(kvEntry_Key(entry), 1, INT64_MAX, &id)) {
            entries[static_cast<std::uint64_t>(id)].assign(
                static_cast<const char*>(kvEntry_Value(entry)),
                static_cast<std::size_t>(kvEntry_ValueLen(entry)));
          }
          kvEntry_Destroy(entry);
        }
        kvWatcher_Destroy(watcher);
      }
    }
    asio::post(io_, [this, alive, stored = std::move(stored)] {
      if (!*alive) return;
      if (stored) {
        bans_failing_ = false;
        reconcile_bans(*stored);
      } else if (!bans_failing_ && link_->connected()) {
        bans_failing_ = true;
        log_warning("cluster: the ban store cannot be read yet; retrying");
      }
      ban_timer_.expires_after(stored ? kBanSync : std::chrono::seconds(1));
      ban_timer_.async_wait([this](const asio::error_code& ec) {
        if (!ec && *alive_) sync_bans();
      });
    });
  });
}

void ClusterNode::reconcile_bans(const std::map<std::uint64_t, std::string>& stored) {
  std::int64_t now = unix_seconds();
  std::vector<std::uint64_t> to_delete;
  for (const auto& [id, line] : stored) {
    std::string problem;
    auto ban = parse_ban_line(std::string_view(line).substr(0, line.find('\n')), &problem);
    if (!ban || ban->id != id) continue;  // not a ban this anvild can read
    if (ban->expired(now) || pending_lifts_.contains(id)) {
      to_delete.push_back(id);
    } else if (!admin_.bans.table().find(id)) {
      admin_.bans.apply_shared(std::move(*ban));
    }
  }
  std::vector<std::uint64_t> lifted, unstored;
  for (const Ban* ban : admin_.bans.table().all()) {
    if (stored.contains(ban->id)) continue;
    (ban->shared ? lifted : unstored).push_back(ban->id);
  }
  for (std::uint64_t id : lifted) admin_.bans.drop_shared(id);  // lifted elsewhere
  for (std::uint64_t id : unstored) {  // set here while NATS was away, or before joining
    if (const Ban* ban = admin_.bans.table().find(id)) store_ban(*ban);
  }
  std::erase_if(pending_lifts_, [&](std::uint64_t id) { return !stored.contains(id); });
  if (to_delete.empty()) return;
  link_->run([bucket = bucket("bans"), replicas = config_.cluster.replicas,
              to_delete](natsConnection* nc) {
    if (natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) return;
    Bucket store(nc, bucket, replicas, 0);
    if (!store.kv) return;
    for (std::uint64_t id : to_delete) kvStore_Delete(store.kv, std::to_string(id).c_str());
  });
}

// ---- answering ------------------------------------------------------------

void ClusterNode::on_request(NatsMessage message) {
  if (message.data.starts_with("ANVIL-CLUSTER\t1\t0\tack\t")) {
    cluster::Ack ack;
    if (!cluster::decode_ack(message.data, &ack).empty()) return;
    auto it = answering_.find(ack.origin + "/" + ack.id);
    if (it == answering_.end()) return;
    it->second->acked = std::max<std::int64_t>(it->second->acked, ack.seq);
    it->second->more.cancel();
    return;
  }
  if (message.reply.empty()) return;  // nobody to answer
  cluster::Request request;
  std::string problem =
      cluster::decode_request(message.data, config_.max_line_length + 1024, &request);
  if (problem.empty() && serving_ >= kMaxServing) problem = "busy: too many cluster requests";
  if (!problem.empty()) {
    // The header may be unreadable: answer under the reply subject alone.
    log_warning("cluster: refused a request{}: {}",
                request.origin.empty() ? "" : " from " + request.origin, problem);
    cluster::ReplyChunker reply(request.id.empty() ? "0" : request.id, name_, instance_, 4096);
    reply.add(LineWriter().add("ERROR").add(problem).finish());
    link_->publish(message.reply, reply.finish());
    return;
  }
  if (request.command.starts_with("USER-COUNT\t")) {
    // Answered at once, without an admin channel: a login waits for it.
    std::vector<std::string> fields = split_fields(request.command);
    std::string user(field_value(fields, 1, "user"));
    cluster::ReplyChunker reply(request.id, name_, instance_, 4096);
    reply.add(LineWriter()
                  .add("COUNT")
                  .add("user_sessions",
                       static_cast<long long>(user.empty() ? 0 : admin_.sessions.user_size(user)))
                  .finish());
    reply.add(LineWriter().add("END").finish());
    link_->publish(message.reply, reply.finish());
    return;
  }
  serving_++;
  asio::co_spawn(io_, serve(std::move(request), std::move(message.reply)), asio::detached);
}

asio::awaitable<void> ClusterNode::serve(cluster::Request request, std::string reply_to) {
  auto alive = alive_;
  UnixSocket ours(io_), theirs(io_);
  asio::local::connect_pair(ours, theirs);
  // The request runs through an admin channel as a local admin's would,
  // with anvild's own credentials: the asking node checked its admin's
  // role, and NATS' credentials decide who may ask (docs/cluster.md).
  auto channel = std::make_shared<AdminChannel>(admin_, std::move(theirs),
                                                PeerCredentials{::getpid(), ::getuid(), ::getgid()},
                                                Role::kick, AdminChannel::Socket::own);
  asio::co_spawn(io_, channel->run(), asio::detached);
  std::string command = request.command;
  if (command.starts_with("KICK")) {
    std::string on_behalf = "node " + request.origin + ": " + request.on_behalf;
    command += "\t" + escape_field("on_behalf=" + on_behalf.substr(0, 128));
  }
  std::string greeting = "VERSION\tanvil-admin\t1\t1\n" + command + "\n";
  asio::error_code ec;
  co_await asio::async_write(ours, asio::buffer(greeting),
                             asio::redirect_error(asio::use_awaitable, ec));
  std::size_t max_payload = link_->max_payload();
  cluster::ReplyChunker reply(request.id, name_, instance_, max_payload - max_payload / 16);
  LineBuffer input(config_.max_line_length * 4);
  std::string key = request.origin + "/" + request.id;
  auto serving = std::make_shared<Serving>(io_);
  answering_[key] = serving;
  std::int64_t sent = 0;
  std::string buffer(64 * 1024, '\0');
  std::string line;
  bool greeted = false, ended = false;
  while (!ec && !ended) {
    std::size_t n = co_await ours.async_read_some(asio::buffer(buffer),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !*alive) break;
    input.append(buffer.data(), n);
    while (!ended && input.next_line(&line)) {
      if (!greeted) {
        greeted = true;  // our channel's VERSION line
        continue;
      }
      ended = line.starts_with("END") || line.starts_with("ERROR");
      line += '\n';
      if (std::string full = reply.add(line); !full.empty()) {
        link_->publish(reply_to, full);
        sent++;
        // At most kReplyWindow parts the asker has not taken: NATS never
        // holds more than that of one answer (a slow asker would be
        // dropped by its server as a slow consumer).
        while (*alive && sent - serving->acked - 1 >= cluster::kReplyWindow) {
          serving->more.expires_after(config_.cluster.request_timeout(config_.kick_timeout));
          asio::error_code wait_error;
          co_await serving->more.async_wait(asio::redirect_error(asio::use_awaitable, wait_error));
          if (!wait_error) {  // no word from the asker in all that time
            ec = asio::error::timed_out;
            break;
          }
        }
        if (ec) break;
      }
    }
  }
  answering_.erase(key);
  if (*alive) {
    if (!ended) reply.add(LineWriter().add("ERROR").add("the request ended unanswered").finish());
    link_->publish(reply_to, reply.finish());
    serving_--;
  }
  ours.close();
}

// ---- asking ---------------------------------------------------------------

asio::awaitable<std::size_t> ClusterNode::count_elsewhere(std::string user) {
  std::string command = LineWriter().add("USER-COUNT").add("user", user).finish();
  command.pop_back();  // its LF
  ClusterAnswer answer =
      co_await ask("", std::move(command), "count", config_.cluster.count_timeout, true);
  std::size_t total = 0;
  for (const NodeAnswer& node : answer.nodes) {
    std::vector<std::string> fields = split_fields(node.lines.substr(0, node.lines.find('\n')));
    long long count = 0;
    if (node.status == "answered" && fields.size() >= 3 && fields[0] == "COUNT" &&
        parse_integer(field_value(fields, 1, "user_sessions"), 0, INT64_MAX, &count)) {
      total += static_cast<std::size_t>(count);
      continue;
    }
    // A login is not held up by a node that does not answer: it counts
    // as none (docs/cluster.md).
    std::size_t held_back = 0;
    if (count_warnings_.allow(&held_back)) {
      log_warning("cluster: node {} gave no count for a login ({}); counted as 0", node.node,
                  node.status);
    }
  }
  co_return total;
}

asio::awaitable<ClusterAnswer> ClusterNode::ask(std::string node, std::string command,
                                                std::string on_behalf,
                                                std::chrono::milliseconds timeout,
                                                bool others_only) {
  ClusterAnswer answer;
  if (!link_->connected()) {
    answer.error = "not connected to NATS; the cluster cannot be asked (local commands work)";
    co_return answer;
  }
  std::set<std::string> names;
  if (!node.empty()) {
    names.insert(node);
  } else {
    names = members_;
    names.insert(name_);
    for (const auto& [name, peer] : peers_) names.insert(name);
    if (others_only) names.erase(name_);
  }
  auto pending = std::make_shared<Pending>(io_);
  std::string id = std::to_string(next_request_++);
  std::string request =
      cluster::encode_request(cluster::Request{id, name_, on_behalf, std::move(command)});
  for (const std::string& name : names) {
    std::size_t i = pending->answers.size();
    pending->answers.push_back(NodeAnswer{name, "", "", "", 0});
    pending->live_when_asked.push_back(live(name));
    pending->instances.emplace_back();
    pending->next_seq.push_back(0);
    pending->done.push_back(false);
    pending->ended.push_back(false);
    pending->open++;
    if (!link_->publish(subject("node." + name), request,
                        inbox_ + "." + id + "." + std::to_string(i))) {
      pending->finish(i, "error", "not sent: the queue to NATS is full");
    }
  }
  if (pending->open > 0) {
    pending_[id] = pending;
    pending->timer.expires_after(
        timeout.count() > 0 ? timeout : config_.cluster.request_timeout(config_.kick_timeout));
    asio::error_code ec;
    co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    pending_.erase(id);
  }
  for (std::size_t i = 0; i < pending->answers.size(); i++) {
    const std::string& name = pending->answers[i].node;
    // A node alive when asked that did not answer timed out (stopped, or
    // too busy); one already silent then is expired.
    if (!pending->done[i]) {
      bool was_live = pending->live_when_asked[i];
      pending->finish(
          i, was_live ? "timeout" : "expired",
          was_live ? "no answer in time" : "no presence within cluster_presence_ttl_ms");
    }
    if (duplicated(name) && pending->answers[i].status == "answered") {
      pending->answers[i].status = "duplicate";
      pending->answers[i].error = "two anvild answer as " + name + " (node_name must be unique)";
      pending->answers[i].lines.clear();
    }
  }
  answer.nodes = std::move(pending->answers);
  co_return answer;
}

void ClusterNode::on_reply(NatsMessage message) {
  // <inbox>.<request>.<node index>
  std::string_view rest = std::string_view(message.subject).substr(inbox_.size() + 1);
  std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return;
  auto it = pending_.find(std::string(rest.substr(0, dot)));
  long long index = 0;
  if (it == pending_.end() || !parse_integer(rest.substr(dot + 1), 0, INT32_MAX, &index)) return;
  Pending& pending = *it->second;
  auto i = static_cast<std::size_t>(index);
  if (i >= pending.answers.size() || pending.done[i]) return;
  NodeAnswer& answer = pending.answers[i];
  if (message.no_responders) return pending.finish(i, "no-responders", "no anvild has this name");
  cluster::ReplyHeader header;
  std::string_view body;
  if (std::string problem = cluster::decode_reply(message.data, &header, &body); !problem.empty()) {
    return pending.finish(i, "error", "unreadable answer: " + problem);
  }
  if (header.id != it->first) return pending.finish(i, "error", "answer to another request");
  if (header.node != answer.node) {
    return pending.finish(i, "error", "answered as " + header.node);
  }
  if (pending.instances[i].empty()) pending.instances[i] = header.instance;
  if (pending.instances[i] != header.instance) {
    return pending.finish(i, "duplicate",
                          "two anvild answer as " + answer.node + " (node_name must be unique)");
  }
  if (header.seq != pending.next_seq[i]++) return pending.finish(i, "error", "answer parts lost");
  if (!header.last) {
    link_->publish(subject("node." + answer.node),
                   cluster::encode_ack(cluster::Ack{it->first, name_, header.seq}));
  }
  pending.bytes += body.size();
  if (pending.bytes > config_.cluster.max_reply_bytes) {
    return pending.finish(i, "error", "answers over cluster_max_reply_bytes");
  }
  while (!body.empty()) {
    std::size_t end = body.find('\n');
    std::string_view line = body.substr(0, end + 1);
    body.remove_prefix(end + 1);
    std::string_view command = line.substr(0, line.find_first_of("\t\n"));
    if (pending.ended[i]) return pending.finish(i, "error", "lines after the end of the answer");
    if (command == "ERROR") {
      std::vector<std::string> fields = split_fields(line.substr(0, line.size() - 1));
      return pending.finish(i, "error", fields.size() > 1 ? clip(fields[1], 200) : "error");
    }
    if (command == "END") {
      pending.ended[i] = true;
      cluster::append_tagged_line(answer.lines, "DONE" + std::string(line.substr(3)), answer.node);
    } else if (command == "SESSION" || command == "RESULT" || command == "BAN" ||
               command == "COUNT") {
      cluster::append_tagged_line(answer.lines, line, answer.node);
    } else {
      return pending.finish(i, "error", "unexpected line: " + clip(command, 40));
    }
  }
  if (header.last) {
    if (!pending.ended[i]) return pending.finish(i, "error", "answer without its END");
    pending.finish(i, "answered");
  }
}

}  // namespace anvil
