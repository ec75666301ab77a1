// Processes that registered sessions through Dovecot 2.3's protocol. They
// have no channel of their own, so anvild watches each through a pidfd:
// when the process exits, the exit handler runs (and its sessions go). A
// pidfd also makes signalling safe: it names the process, never a pid the
// kernel may since have given to another.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/keyed_hash.h"
#include "registry/session.h"

namespace anvil {

class DovecotProcesses {
 public:
  using ExitHandler = std::function<void(OwnerId owner, pid_t pid)>;

  // At most max_processes are watched at once (each costs a descriptor).
  DovecotProcesses(asio::io_context& io, ExitHandler on_exit, std::size_t max_processes = 16384);
  ~DovecotProcesses();
  DovecotProcesses(const DovecotProcesses&) = delete;
  DovecotProcesses& operator=(const DovecotProcesses&) = delete;

  // The owner id for pid, watching the process from now on; new_owner
  // supplies an id the first time. nullopt, with *error set, when the
  // process cannot be watched (it does not exist, or max_processes are).
  // check runs once the process is pinned by its pidfd, the first time:
  // it says why the process may not be signalled ("" if it may), which
  // refusal() then returns.
  std::optional<OwnerId> attach(pid_t pid, const std::function<OwnerId()>& new_owner,
                                const std::function<std::string(pid_t)>& check, std::string* error);
  // Why the process registered as owner may not be signalled, as found
  // when it registered; "" if it may.
  std::string refusal(OwnerId owner) const;
  pid_t pid_of(OwnerId owner) const;
  std::optional<OwnerId> owner_of(pid_t pid) const;
  // The process is gone (Dovecot's master says so): runs the exit handler.
  void forget(pid_t pid) { exited(pid); }
  bool owns(OwnerId owner) const { return pids_.contains(owner); }
  std::size_t size() const { return pids_.size(); }
  // Sends a signal through the process's pidfd; "" or an error sentence.
  std::string signal(OwnerId owner, int signal_number);
  void close_all();

 private:
  struct Watched {
    OwnerId owner;
    pid_t pid;
    asio::posix::stream_descriptor pidfd;
    std::string refusal;
  };
  void watch(const std::shared_ptr<Watched>& watched);
  void exited(pid_t pid);

  asio::io_context& io_;
  ExitHandler on_exit_;
  std::size_t max_processes_;
  std::unordered_map<pid_t, std::shared_ptr<Watched>, KeyedHash> by_pid_;  // pids a peer names
  std::unordered_map<OwnerId, pid_t> pids_;
};

}  // namespace anvil
