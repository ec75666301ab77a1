#include "daemon/running_kick.h"

namespace anvil {

RunningKick::RunningKick(const asio::any_io_executor& executor, std::vector<KickOutcome> outcomes)
    : outcomes_(std::move(outcomes)), done_(executor) {
  index_.reserve(outcomes_.size());
  for (std::size_t i = 0; i < outcomes_.size(); i++) {
    index_.emplace(outcomes_[i].session.id, static_cast<std::uint32_t>(i));
  }
}

void RunningKick::settle(const ConnectionId& id, KickStatus status, const std::string& why) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  KickOutcome& outcome = outcomes_[it->second];
  outcome.status = status;
  if (!why.empty() || !outcome.why.empty()) outcome.why = why;
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
