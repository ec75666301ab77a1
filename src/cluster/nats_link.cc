#include "cluster/nats_link.h"

#include <nats/nats.h>

#include <chrono>
#include <random>

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
  for (auto& subscription : subscriptions_) natsSubscription_Destroy(subscription->sub);
  if (connection_) natsConnection_Destroy(connection_);
  if (options_) natsOptions_Destroy(options_);
}

void NatsLink::set_connected(bool up, const char* event) {
  bool was = connected_.exchange(up);
  if (was == up || closing_) return;
  if (up) {
    char url[256] = {};
    natsConnection_GetConnectedUrl(connection_, url, sizeof url);
    log_info("cluster: {} NATS at {}", event, url);
  } else {
    log_warning("cluster: lost the connection to NATS; serving locally, reconnecting");
  }
  if (on_connected_) on_connected_(up);
}

std::string NatsLink::start() {
  natsStatus s = natsOptions_Create(&options_);
  auto check = [&](natsStatus status, const std::string& what) -> std::string {
    return status == NATS_OK ? "" : what + ": " + status_text(status);
  };
  std::vector<const char*> urls;
  for (const std::string& url : settings_.urls) urls.push_back(url.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(options_, urls.data(), static_cast<int>(urls.size()));
  if (std::string problem = check(s, "cluster_nats_urls"); !problem.empty()) return problem;
  natsOptions_SetName(options_, settings_.client_name.c_str());
  natsOptions_SetMaxReconnect(options_, -1);
  natsOptions_SetCustomReconnectDelay(options_, reconnect_delay, nullptr);
  natsOptions_SetTimeout(options_, 2000);
  natsOptions_SetPingInterval(options_, 2000);
  natsOptions_SetMaxPingsOut(options_, 2);
  natsOptions_SetSendAsap(options_, true);
  if (!settings_.user.empty()) {
    s = natsOptions_SetUserInfo(options_, settings_.user.c_str(), settings_.password.c_str());
    if (std::string problem = check(s, "cluster_user"); !problem.empty()) return problem;
  }
  if (!settings_.token.empty()) {
    s = natsOptions_SetToken(options_, settings_.token.c_str());
    if (std::string problem = check(s, "cluster_token_file"); !problem.empty()) return problem;
  }
  if (!settings_.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(options_, settings_.creds_file.c_str(), nullptr);
    if (std::string problem = check(s, "cluster_creds_file"); !problem.empty()) return problem;
  }
  if (!settings_.tls_ca.empty()) {
    s = natsOptions_SetSecure(options_, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(options_, settings_.tls_ca.c_str());
    if (std::string problem = check(s, "cluster_tls_ca " + settings_.tls_ca); !problem.empty()) {
      return problem;
    }
  }
  if (!settings_.tls_cert.empty()) {
    s = natsOptions_LoadCertificatesChain(options_, settings_.tls_cert.c_str(),
                                          settings_.tls_key.c_str());
    if (std::string problem = check(s, "cluster_tls_cert/cluster_tls_key"); !problem.empty()) {
      return problem;
    }
  }
  natsOptions_SetDisconnectedCB(
      options_,
      [](natsConnection*, void* self) {
        static_cast<NatsLink*>(self)->set_connected(false, "");
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
  s = natsConnection_Connect(&connection_, options_);
  if (s == NATS_NOT_YET_CONNECTED) {
    log_warning("cluster: no NATS server answers yet ({}); serving locally, retrying",
                settings_.urls.front());
  } else if (s != NATS_OK) {
    return "cannot connect to NATS: " + status_text(s);
  } else {
    set_connected(true, "connected to");
  }
  worker_ = std::thread([this] { work(); });
  return "";
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

std::string NatsLink::subscribe(const std::string& subject, Handler handler,
                                std::size_t max_pending_bytes) {
  auto subscription = std::make_unique<Subscription>();
  subscription->handler = std::move(handler);
  natsStatus s = natsConnection_Subscribe(&subscription->sub, connection_, subject.c_str(),
                                          on_message, subscription.get());
  if (s == NATS_OK) {
    s = natsSubscription_SetPendingLimits(subscription->sub, 1 << 20,
                                          static_cast<int>(max_pending_bytes));
  }
  if (s != NATS_OK) return "cannot subscribe to " + subject + ": " + status_text(s);
  subscriptions_.push_back(std::move(subscription));
  return "";
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
        natsStatus s =
            reply.empty()
                ? natsConnection_Publish(nc, subject.c_str(), data.data(),
                                         static_cast<int>(data.size()))
                : natsConnection_PublishRequest(nc, subject.c_str(), reply.c_str(), data.data(),
                                                static_cast<int>(data.size()));
        if (s != NATS_OK) log_debug("cluster: publish to {}: {}", subject, natsStatus_GetText(s));
      },
      cost);
}

std::size_t NatsLink::max_payload() const {
  int64_t max = connection_ ? natsConnection_GetMaxPayload(connection_) : 0;
  return max > 0 ? static_cast<std::size_t>(max) : 1u << 20;
}

void NatsLink::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything done
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.run(connection_);
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
  if (connection_) {
    natsConnection_FlushTimeout(connection_, 1000);
    natsConnection_Close(connection_);
  }
}

}  // namespace anvil::cluster
