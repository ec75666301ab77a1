// The live service channels, by owner, with how many each uid holds. The
// listeners add a channel after their limits allow it; a channel removes
// itself when it ends; a kick finds the channel that must drop a session.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <unordered_map>

#include "registry/session.h"

namespace anvil {

class ServiceChannel;

class ServiceChannels {
 public:
  std::size_t size() const { return channels_.size(); }
  std::size_t count_for_uid(uid_t uid) const {
    auto it = by_uid_.find(uid);
    return it == by_uid_.end() ? 0 : it->second;
  }
  ServiceChannel* find(OwnerId owner) const {
    auto it = channels_.find(owner);
    return it == channels_.end() ? nullptr : it->second.channel.get();
  }
  void add(OwnerId owner, uid_t uid, std::shared_ptr<ServiceChannel> channel) {
    if (channels_.emplace(owner, Entry{std::move(channel), uid}).second) by_uid_[uid]++;
  }
  void remove(OwnerId owner) {
    auto it = channels_.find(owner);
    if (it == channels_.end()) return;
    auto count = by_uid_.find(it->second.uid);
    if (--count->second == 0) by_uid_.erase(count);
    channels_.erase(it);
  }
  // Calls f(channel) for a copy of the set: f may end the channel, which
  // removes it.
  template <typename F>
  void for_each(F f) const {
    auto copy = channels_;
    for (auto& [owner, entry] : copy) f(*entry.channel);
  }

 private:
  struct Entry {
    std::shared_ptr<ServiceChannel> channel;
    uid_t uid;
  };
  std::unordered_map<OwnerId, Entry> channels_;
  std::unordered_map<uid_t, std::size_t> by_uid_;
};

}  // namespace anvil
