#include "daemon/running_kick.h"

namespace anvil {

RunningKick::RunningKick(const asio::any_io_executor& executor, std::vector<Session> selected,
                         KickStatus initial)
    : done_(executor) {
  outcomes_.reserve(selected.size());
  index_.reserve(selected.size());
  for (Session& session : selected) {
    index_.emplace(session.id, outcomes_.size());
    outcomes_.push_back({std::move(session), initial});
  }
}

void RunningKick::settle(const ConnectionId& id, KickStatus status, const std::string& why) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  outcomes_[it->second].status = status;
  outcomes_[it->second].why = why;
}

void RunningKick::answered() {
  if (outstanding_ > 0 && --outstanding_ == 0) done_.cancel();
}

asio::awaitable<void> RunningKick::wait(std::chrono::milliseconds timeout) {
  if (outstanding_ == 0) co_return;
  asio::error_code ignored;
  done_.expires_after(timeout);
  co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace anvil
