// libanvil: what a service links to register its client connections with
// anvild and to be told which of them to drop.
//
// A Client keeps one connection to anvild's service socket. It never blocks:
// drive it from any event loop by watching fd() (for reading, and for
// writing while wants_write()), sleeping at most timeout_ms(), and calling
// process(). Or use anvil::AsioClient (anvil/asio_client.h) to drive it
// from Asio. If anvild goes away, the Client reconnects with backoff and
// registers every live session again, so the registry heals by itself.
//
// A Client is not thread-safe; use it from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "anvil/connection_id.h"

namespace anvil {

// What a service knows about one client connection. Addresses are textual
// (IPv4 or IPv6); empty means unknown or not proxied.
struct SessionInfo {
  // Every member has an initializer, so designated initializers may name
  // any subset without -Wmissing-field-initializers warnings.
  std::string user{};  // empty before login
  std::string client_ip{};
  std::uint16_t client_port = 0;
  std::uint16_t local_port = 0;
  std::string dest_ip{};  // where a proxy forwards the connection
  std::uint16_t dest_port = 0;
  // Alternative user names: fields named user_*, e.g. {"user_email", "j@example.com"}.
  std::vector<std::pair<std::string, std::string>> alt_names{};
};

class Client {
 public:
  struct Options {
    std::string socket_path{};  // anvild's service socket; default <run dir>/anvil-service
    std::string service{};      // this service's name, e.g. "imap"
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
  };

  // Receives the ids anvild wants dropped and the administrator's reason;
  // the service closes those connections it has and returns the ids it
  // really dropped. Those sessions are then unregistered by the Client;
  // calling unregister_session() for them afterwards is harmless.
  using KickHandler = std::function<std::vector<ConnectionId>(const std::vector<ConnectionId>&,
                                                              const std::string&)>;
  // Receives errors anvild reports and connection problems, as sentences.
  using ErrorHandler = std::function<void(const std::string&)>;
  // Receives a session anvild refused to register or update because a ban
  // matches it (the user, the address, or the user from the address), and
  // the ban's reason: the service should refuse that client, saying why.
  // The session is no longer registered. (To refuse a login before it is
  // registered, ask query_counts(): Counts::banned.)
  using BanHandler = std::function<void(const ConnectionId&, const std::string& reason)>;

  explicit Client(Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Registers a new session and returns its id. On invalid info (a bad
  // address, or more than anvild takes in one line: 16384 bytes on the
  // wire) returns a zero id and sets *error; the caller should then refuse
  // the connection, since a kick could not reach it.
  ConnectionId register_session(const SessionInfo& info, std::string* error = nullptr);
  // Replaces what anvild knows about a session (e.g. the user at login).
  // False, with *error set, for an unknown id or invalid info (as above);
  // anvild then keeps what it knew.
  bool update_session(const ConnectionId& id, const SessionInfo& info,
                      std::string* error = nullptr);
  // Forgets a session; unknown ids are ignored.
  void unregister_session(const ConnectionId& id);

  // What anvild counts for a client address and a user name, over every
  // service and process it knows: what a service needs to hold limits that
  // span processes (docs/protocol.md §2.7).
  struct Counts {
    std::size_t ip_sessions = 0;    // sessions from this address
    std::size_t ip_prelogin = 0;    // of those, without a user yet
    std::size_t user_sessions = 0;  // sessions of this user (ASCII case-folded)
    unsigned penalty = 0;           // failed-login penalty of the address, 0 to 4
    // Not empty when a ban matches the address, the user, or the user from
    // the address: the ban's reason, to show the client before refusing it.
    std::string banned{};
    // In a cluster with cluster_max_user_connections (docs/cluster.md):
    // the user's sessions over every node, and, when a login would pass the
    // limit, why (the service should refuse it).
    std::size_t cluster_user_sessions = 0;
    std::string over_limit{};
  };
  // nullopt: anvild is not connected, or did not answer in time.
  using CountsHandler = std::function<void(std::optional<Counts>)>;
  // Asks anvild for the counts of an address (IPv4 or IPv6 text) and a user
  // (may be empty). The handler runs from process(), within `timeout`.
  void query_counts(const std::string& ip, const std::string& user, CountsHandler handler,
                    std::chrono::milliseconds timeout = std::chrono::seconds(2));
  // Tells anvild that a login from ip failed (checksum: of the credentials
  // tried, so that a client repeating one stale password is not escalated)
  // or succeeded; anvild keeps the address's penalty as Dovecot's auth does.
  void report_login(const std::string& ip, bool failed, std::uint32_t checksum = 0);

  void set_kick_handler(KickHandler handler);
  void set_error_handler(ErrorHandler handler);
  void set_ban_handler(BanHandler handler);
  // Called whenever an API call queued output, so an event loop that is
  // asleep can wake up and call process().
  void set_wakeup(std::function<void()> wakeup);

  int fd() const;            // -1 while not connected
  bool wants_write() const;  // also watch fd() for writing
  int timeout_ms() const;    // call process() within this many ms; -1: no deadline
  void process();            // does all that is ready; never blocks
  bool connected() const;
  std::size_t session_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anvil
