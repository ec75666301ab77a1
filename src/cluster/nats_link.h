// anvild's one connection to NATS (libnats, the NATS C client). The
// client runs its own threads; this class keeps them away from anvild's
// event loop:
// - every call that may wait on the network (publishing, the key-value
//   store) runs on one worker thread of this class, fed by a bounded queue,
//   so the registry never waits for NATS;
// - messages and connection events arrive on the client's threads and are
//   handed to the callbacks given, which must only post them on.
// The connection is made in the background, retried with backoff when no
// server answers, and re-made when lost; each change is logged once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct __natsConnection;
struct __natsSubscription;
struct __natsOptions;
struct __natsMsg;

namespace anvil::cluster {

struct NatsSettings {
  std::vector<std::string> urls;  // nats://host:port or tls://host:port
  std::string client_name;        // shown by the server (connz)
  std::string user, password;     // or:
  std::string token;              // or:
  std::string creds_file;         // a NATS .creds file (JWT and NKey seed)
  std::string tls_ca, tls_cert, tls_key;
  std::size_t max_queued_bytes = 128u << 20;  // the worker's queue
};

struct NatsMessage {
  std::string subject;
  std::string reply;
  std::string data;
  bool no_responders = false;  // NATS' "no responders" status for a request
};

class NatsLink {
 public:
  using Handler = std::function<void(NatsMessage)>;
  // on_connected(true/false): from the client's threads, at each change.
  NatsLink(NatsSettings settings, std::function<void(bool)> on_connected);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  // Reads the credentials and TLS files and starts connecting (in the
  // background: a server that is down is no error). "" or the problem.
  std::string start();
  // Subscribes (also before the connection is up, and again on every new
  // connection); messages go to the handler on a client thread.
  void subscribe(const std::string& subject, Handler handler,
                 std::size_t max_pending_bytes = 64u << 20);
  // Queued for the worker; false if the queue is full (the message is
  // dropped) or the link is stopping.
  bool publish(std::string subject, std::string data, std::string reply = {});
  // Runs `job` on the worker, with the connection (which may be down).
  bool run(std::function<void(__natsConnection*)> job, std::size_t cost = 64);
  bool connected() const { return connected_.load(); }
  // NATS' max_payload for the server connected to (1 MiB by default).
  std::size_t max_payload() const;
  // Leaves NATS: the worker finishes what is queued (within ~2 s), then
  // the connection closes. Idempotent; the destructor calls it.
  void stop();

 private:
  struct Subscription {
    std::string subject;
    Handler handler;
    std::size_t max_pending_bytes = 0;
    __natsSubscription* sub = nullptr;
    __natsConnection* connection = nullptr;  // that sub is on
  };
  struct Job {
    std::function<void(__natsConnection*)> run;
    std::size_t cost;
  };
  static void on_message(__natsConnection*, __natsSubscription*, __natsMsg* msg, void* closure);
  void set_connected(bool up, const char* event);
  // On the worker: a new connection, with every subscription.
  void connect();
  void supervise();
  void note_failure(const std::string& why);
  void subscribe_now(Subscription& subscription);
  // Options from the settings: servers, timeouts, credentials, TLS.
  std::string make_options(__natsOptions** out) const;
  void work();

  NatsSettings settings_;
  std::function<void(bool)> on_connected_;
  __natsOptions* options_ = nullptr;
  // Replaced by the worker when the client gave up on it; the old ones
  // are kept until the end, as the client's threads may still hold them.
  std::atomic<__natsConnection*> connection_{nullptr};
  std::vector<__natsConnection*> old_connections_;
  std::mutex subscriptions_mutex_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  std::vector<__natsSubscription*> old_subscriptions_;
  std::string last_failure_;
  std::chrono::milliseconds retry_delay_{500};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};  // our own close is no loss to log
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;
  __natsConnection* closed_ = nullptr;  // the last connection the client closed
  std::thread worker_;
};

}  // namespace anvil::cluster
