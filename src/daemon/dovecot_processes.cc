#include "daemon/dovecot_processes.h"

#include <poll.h>

#include "common/log.h"
#include "common/pidfd.h"

namespace anvil {

DovecotProcesses::DovecotProcesses(asio::io_context& io, ExitHandler on_exit,
                                   std::size_t max_processes)
    : io_(io), on_exit_(std::move(on_exit)), max_processes_(max_processes) {}

DovecotProcesses::~DovecotProcesses() {
  close_all();
}

std::optional<OwnerId> DovecotProcesses::attach(pid_t pid,
                                                const std::function<OwnerId()>& new_owner,
                                                const std::function<std::string(pid_t)>& check,
                                                std::string* error) {
  if (auto it = by_pid_.find(pid); it != by_pid_.end()) return it->second->owner;
  if (by_pid_.size() >= max_processes_) {
    *error = "max_dovecot_processes=" + std::to_string(max_processes_) + " reached";
    return std::nullopt;
  }
  UniqueFd fd = open_pidfd(pid, error);
  if (!fd) return std::nullopt;
  auto watched =
      std::make_shared<Watched>(Watched{new_owner(), pid, {io_, fd.release()}, check(pid)});
  by_pid_.emplace(pid, watched);
  pids_.emplace(watched->owner, pid);
  watch(watched);
  return watched->owner;
}

void DovecotProcesses::watch(const std::shared_ptr<Watched>& watched) {
  // A pidfd becomes readable when its process exits. The wait alone does
  // not prove it (see poll_now): a live process is watched on.
  watched->pidfd.async_wait(
      asio::posix::descriptor_base::wait_read, [this, watched](const asio::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec && poll_now(watched->pidfd.native_handle(), POLLIN) == 0) {
          watch(watched);
          return;
        }
        if (ec) {
          log_warning("cannot watch pid {}: {}; taking it as exited", watched->pid, ec.message());
        }
        exited(watched->pid);
      });
}

void DovecotProcesses::exited(pid_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  std::shared_ptr<Watched> watched = it->second;
  by_pid_.erase(it);
  pids_.erase(watched->owner);
  asio::error_code ignored;
  watched->pidfd.close(ignored);
  on_exit_(watched->owner, pid);
}

std::string DovecotProcesses::refusal(OwnerId owner) const {
  auto pid = pids_.find(owner);
  if (pid == pids_.end()) return "the process is gone";
  return by_pid_.at(pid->second)->refusal;
}

pid_t DovecotProcesses::pid_of(OwnerId owner) const {
  auto pid = pids_.find(owner);
  return pid == pids_.end() ? 0 : pid->second;
}

std::optional<OwnerId> DovecotProcesses::owner_of(pid_t pid) const {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return std::nullopt;
  return it->second->owner;
}

std::string DovecotProcesses::signal(OwnerId owner, int signal_number) {
  auto pid = pids_.find(owner);
  if (pid == pids_.end()) return "process is gone";
  return signal_pidfd(by_pid_.at(pid->second)->pidfd.native_handle(), pid->second, signal_number);
}

void DovecotProcesses::close_all() {
  for (auto& [pid, watched] : by_pid_) {
    asio::error_code ignored;
    watched->pidfd.close(ignored);
  }
  by_pid_.clear();
  pids_.clear();
}

}  // namespace anvil
