// One admin kick in flight, and all of its state: the outcome of every
// session it selected, how many requests are still unanswered, and the
// wait for them. The service channels asked and the Dovecot signaller
// settle it; the admin's kick waits on it and then takes the outcomes.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/keyed_hash.h"
#include "registry/kick.h"
#include "registry/session.h"

namespace anvil {

struct KickOutcome {
  Session session;  // a copy: the registry entry may be gone by now
  KickStatus status;
  std::string why = {};  // for not_signalled: the reason
};

class RunningKick {
 public:
  // One outcome per selected session, each with the status that stays
  // when nobody answers in time (timeout), or would_kick for a dry run.
  RunningKick(const asio::any_io_executor& executor, std::vector<KickOutcome> outcomes);
  RunningKick(const RunningKick&) = delete;
  RunningKick& operator=(const RunningKick&) = delete;

  // The outcome of one session; an id the kick did not select is ignored.
  void settle(const ConnectionId& id, KickStatus status, const std::string& why = {});
  // A request went out; answered() once for each, by its answer or by its
  // channel's end.
  void asked() { outstanding_++; }
  void answered();
  std::size_t outstanding() const { return outstanding_; }
  // Returns once every request is answered, or after the timeout.
  asio::awaitable<void> wait(std::chrono::milliseconds timeout);

  const std::vector<KickOutcome>& outcomes() const { return outcomes_; }
  std::vector<KickOutcome> take_outcomes() { return std::move(outcomes_); }

 private:
  std::vector<KickOutcome> outcomes_;
  absl::flat_hash_map<ConnectionId, std::uint32_t, KeyedHash> index_;  // id -> outcome
  std::size_t outstanding_ = 0;
  asio::steady_timer done_;
};

}  // namespace anvil
