#include "cluster/nats_link.h"

#include <nats/nats.h>

#include <chrono>
#include <random>
#include <utility>

#include "common/log.h"

namespace anvil::cluster {

namespace {

std::string status_text(natsStatus status) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = natsStatus_GetText(status);
  if (last && *last && text != last) text += std::string(": ") + last;
  return text;
}

// Reconnection waits 100 ms, doubling up to 5 s, each with up to a fifth
// more at random, so a cluster's nodes do not return in step.
int64_t reconnect_delay(natsConnection*, int attempts, void*) {
  int64_t delay = 100;
  for (int i = 1; i < attempts && delay < 5000; i++) delay *= 2;
  delay = std::min<int64_t>(delay, 5000);
  thread_local std::minstd_rand random(std::random_device{}());
  return delay + static_cast<int64_t>(random() % static_cast<unsigned>(delay / 5 + 1));
}

}  // namespace

NatsLink::NatsLink(NatsSettings settings, std::function<void(bool)> on_connected)
    : settings_(std::move(settings)), on_connected_(std::move(on_connected)) {}

NatsLink::~NatsLink() {
  stop();
  for (natsSubscription* sub : old_subscriptions_) natsSubscription_Destroy(sub);
  for (auto& subscription : subscriptions_) {
    if (subscription->sub) natsSubscription_Destroy(subscription->sub);
  }
  for (natsConnection* nc : old_connections_) natsConnection_Destroy(nc);
  if (natsConnection* nc = connection_.load()) natsConnection_Destroy(nc);
  if (options_) natsOptions_Destroy(options_);
}

void NatsLink::set_connected(bool up, const char* event) {
  bool was = connected_.exchange(up);
  if (was == up || closing_) return;
  if (up) {
    char url[256] = {};
    natsConnection_GetConnectedUrl(connection_.load(), url, sizeof url);
    log_info("cluster: {} NATS at {}", event, url);
  } else {
    log_warning("cluster: lost the connection to NATS; serving locally, reconnecting");
  }
  if (on_connected_) on_connected_(up);
}

std::string NatsLink::make_options(natsOptions** out) const {
  natsStatus s = natsOptions_Create(out);
  natsOptions* options = *out;
  auto check = [&](natsStatus status, const std::string& what) -> std::string {
    return status == NATS_OK ? "" : what + ": " + status_text(status);
  };
  std::vector<const char*> urls;
  for (const std::string& url : settings_.urls) urls.push_back(url.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(options, urls.data(), static_cast<int>(urls.size()));
  if (std::string problem = check(s, "cluster_nats_urls"); !problem.empty()) return problem;
  natsOptions_SetName(options, settings_.client_name.c_str());
  natsOptions_SetMaxReconnect(options, -1);
  natsOptions_SetCustomReconnectDelay(options, reconnect_delay, nullptr);
  natsOptions_SetTimeout(options, 2000);
  natsOptions_SetPingInterval(options, 2000);
  natsOptions_SetMaxPingsOut(options, 2);
  natsOptions_SetSendAsap(options, true);
  if (!settings_.user.empty()) {
    s = natsOptions_SetUserInfo(options, settings_.user.c_str(), settings_.password.c_str());
    if (std::string problem = check(s, "cluster_user"); !problem.empty()) return problem;
  }
  if (!settings_.token.empty()) {
    s = natsOptions_SetToken(options, settings_.token.c_str());
    if (std::string problem = check(s, "cluster_token_file"); !problem.empty()) return problem;
  }
  if (!settings_.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(options, settings_.creds_file.c_str(), nullptr);
    if (std::string problem = check(s, "cluster_creds_file"); !problem.empty()) return problem;
  }
  if (!settings_.tls_ca.empty()) {
    s = natsOptions_SetSecure(options, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(options, settings_.tls_ca.c_str());
    if (std::string problem = check(s, "cluster_tls_ca " + settings_.tls_ca); !problem.empty()) {
      return problem;
    }
  }
  if (!settings_.tls_cert.empty()) {
    s = natsOptions_LoadCertificatesChain(options, settings_.tls_cert.c_str(),
                                          settings_.tls_key.c_str());
    if (std::string problem = check(s, "cluster_tls_cert/cluster_tls_key"); !problem.empty()) {
      return problem;
    }
  }
  return "";
}

std::string NatsLink::start() {
  if (std::string problem = make_options(&options_); !problem.empty()) return problem;
  natsOptions_SetDisconnectedCB(
      options_,
      [](natsConnection*, void* self) { static_cast<NatsLink*>(self)->set_connected(false, ""); },
      this);
  natsOptions_SetClosedCB(
      options_,
      [](natsConnection* nc, void* self) {
        auto* link = static_cast<NatsLink*>(self);
        link->set_connected(false, "");
        // The last the client says of a connection: stop() waits for it.
        std::lock_guard lock(link->mutex_);
        link->closed_ = nc;
        link->wake_.notify_all();
      },
      this);
  natsOptions_SetReconnectedCB(
      options_,
      [](natsConnection*, void* self) {
        static_cast<NatsLink*>(self)->set_connected(true, "reconnected to");
      },
      this);
  natsOptions_SetErrorHandler(
      options_,
      [](natsConnection*, natsSubscription*, natsStatus status, void*) {
        log_warning("cluster: NATS: {}", natsStatus_GetText(status));
      },
      nullptr);
  // A server that is down now is no error: anvild serves locally, and the
  // client keeps trying in the background.
  natsOptions_SetRetryOnFailedConnect(
      options_, true,
      [](natsConnection*, void* self) {
        static_cast<NatsLink*>(self)->set_connected(true, "connected to");
      },
      this);
  worker_ = std::thread([this] { work(); });
  return "";
}

void NatsLink::connect() {
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, options_);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    if (nc) natsConnection_Destroy(nc);
    note_failure(status_text(s));
    return;
  }
  if (natsConnection* old = connection_.exchange(nc)) old_connections_.push_back(old);
  std::lock_guard lock(subscriptions_mutex_);
  for (auto& subscription : subscriptions_) subscribe_now(*subscription);
  if (s == NATS_OK) {
    set_connected(true, "connected to");
    return;
  }
  // The client retries in the background without saying why it fails;
  // one plain attempt tells (refused, authorization, TLS…).
  natsOptions* probe = nullptr;
  std::string why = "no server answers";
  if (make_options(&probe).empty()) {
    natsOptions_SetAllowReconnect(probe, false);
    natsConnection* plain = nullptr;
    natsStatus status = natsConnection_Connect(&plain, probe);
    if (status == NATS_OK) {
      natsConnection_Destroy(plain);
      return;  // it answers now: the client will connect
    }
    const char* last = nats_GetLastError(nullptr);
    why = last && *last ? last : natsStatus_GetText(status);
    // Without the client's source position: "(conn.c:1905): Authorization…"
    if (auto end = why.find("): "); why.starts_with("(") && end != std::string::npos) {
      why.erase(0, end + 3);
    }
  }
  if (probe) natsOptions_Destroy(probe);
  note_failure(why);
}

void NatsLink::note_failure(const std::string& why) {
  // Once per reason: a NATS that stays away is not a log line a second.
  if (why == last_failure_) return;
  last_failure_ = why;
  log_warning("cluster: cannot join NATS ({}); serving locally, retrying", why);
}

void NatsLink::supervise() {
  // The client retries by itself, except after an error it takes as final
  // (a refused authorization): then the connection closes, and a new one
  // is made here, ever more slowly (1 s, doubling, at most 30 s).
  natsConnection* nc = connection_.load();
  auto now = std::chrono::steady_clock::now();
  if (nc && !natsConnection_IsClosed(nc)) return;
  if (now < next_attempt_) return;
  retry_delay_ = std::min(retry_delay_ * 2, std::chrono::milliseconds(30000));
  next_attempt_ = now + retry_delay_;
  connect();
}

void NatsLink::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* subscription = static_cast<Subscription*>(closure);
  NatsMessage message;
  message.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) message.reply = reply;
  message.data.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  message.no_responders = natsMsg_IsNoResponders(msg);
  natsMsg_Destroy(msg);
  subscription->handler(std::move(message));
}

void NatsLink::subscribe_now(Subscription& subscription) {
  natsConnection* nc = connection_.load();
  if (!nc || subscription.connection == nc) return;  // none yet, or done on this one
  if (subscription.sub) old_subscriptions_.push_back(std::exchange(subscription.sub, nullptr));
  subscription.connection = nc;
  natsStatus s = natsConnection_Subscribe(&subscription.sub, nc, subscription.subject.c_str(),
                                          on_message, &subscription);
  if (s == NATS_OK) {
    s = natsSubscription_SetPendingLimits(subscription.sub, 1 << 20,
                                          static_cast<int>(subscription.max_pending_bytes));
  }
  if (s != NATS_OK) {
    log_debug("cluster: subscribing to {}: {}", subscription.subject, status_text(s));
  }
}

void NatsLink::subscribe(const std::string& subject, Handler handler,
                         std::size_t max_pending_bytes) {
  auto subscription = std::make_unique<Subscription>();
  subscription->subject = subject;
  subscription->handler = std::move(handler);
  subscription->max_pending_bytes = max_pending_bytes;
  Subscription* added = subscription.get();
  {
    std::lock_guard lock(subscriptions_mutex_);
    subscriptions_.push_back(std::move(subscription));
  }
  // Made on the worker, which owns the connection.
  run([this, added](natsConnection*) {
    std::lock_guard lock(subscriptions_mutex_);
    subscribe_now(*added);
  });
}

bool NatsLink::run(std::function<void(natsConnection*)> job, std::size_t cost) {
  std::lock_guard lock(mutex_);
  if (stopping_ || queued_bytes_ + cost > settings_.max_queued_bytes) return false;
  queued_bytes_ += cost;
  jobs_.push_back(Job{std::move(job), cost});
  wake_.notify_one();
  return true;
}

bool NatsLink::publish(std::string subject, std::string data, std::string reply) {
  std::size_t cost = subject.size() + data.size() + reply.size() + 64;
  return run(
      [subject = std::move(subject), data = std::move(data),
       reply = std::move(reply)](natsConnection* nc) {
        if (!nc) return;
        natsStatus s = reply.empty() ? natsConnection_Publish(nc, subject.c_str(), data.data(),
                                                              static_cast<int>(data.size()))
                                     : natsConnection_PublishRequest(nc, subject.c_str(),
                                                                     reply.c_str(), data.data(),
                                                                     static_cast<int>(data.size()));
        if (s != NATS_OK) log_debug("cluster: publish to {}: {}", subject, natsStatus_GetText(s));
      },
      cost);
}

std::size_t NatsLink::max_payload() const {
  natsConnection* nc = connection_.load();
  int64_t max = nc ? natsConnection_GetMaxPayload(nc) : 0;
  return max > 0 ? static_cast<std::size_t>(max) : 1u << 20;
}

void NatsLink::work() {
  connect();
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(500),
                     [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        if (stopping_) return;  // everything queued is done
        lock.unlock();
        supervise();
        continue;
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.run(connection_.load());
    std::lock_guard lock(mutex_);
    queued_bytes_ -= job.cost;
  }
}

void NatsLink::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    wake_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
  closing_ = true;
  natsConnection* nc = connection_.load();
  if (!nc || natsConnection_IsClosed(nc)) return;
  // Draining lets every message handler that runs finish; the client then
  // closes the connection and says so, and only then may this object go.
  if (natsConnection_DrainTimeout(nc, 2000) != NATS_OK) natsConnection_Close(nc);
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_ == nc; });
}

}  // namespace anvil::cluster
