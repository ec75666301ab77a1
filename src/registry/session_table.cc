#include "registry/session_table.h"

#include <algorithm>
#include <tuple>

namespace anvil {

namespace {

template <typename Map, typename Key>
void erase_from(Map& map, const Key& key, const Session* session) {
  auto it = map.find(key);
  if (it == map.end()) return;
  it->second.erase(session);
  if (it->second.empty()) map.erase(it);
}

template <typename Map, typename Key>
void decrement(Map& counts, const Key& key) {
  auto it = counts.find(key);
  if (it != counts.end() && --it->second == 0) counts.erase(it);
}

template <typename Map, typename Key>
std::size_t count_of(const Map& counts, const Key& key) {
  auto it = counts.find(key);
  return it == counts.end() ? 0 : it->second;
}

template <typename Set>
void append(std::vector<const Session*>& out, const Set& set) {
  out.insert(out.end(), set.begin(), set.end());
}

}  // namespace

void SessionTable::index(const Session* s) {
  by_user_[ascii_fold(s->user)].insert(s);
  if (s->client_ip) by_client_ip_[*s->client_ip].insert(s);
  if (s->dest_ip) by_dest_ip_[*s->dest_ip].insert(s);
  for (const AltName& alt : s->alt_names) {
    by_alt_[{ascii_fold(alt.field), ascii_fold(alt.value)}].insert(s);
  }
  by_owner_[s->owner].insert(s);
  count_by_uid_[s->uid]++;
  count_by_pid_[s->pid]++;
}

void SessionTable::unindex(const Session* s) {
  erase_from(by_user_, ascii_fold(s->user), s);
  if (s->client_ip) erase_from(by_client_ip_, *s->client_ip, s);
  if (s->dest_ip) erase_from(by_dest_ip_, *s->dest_ip, s);
  for (const AltName& alt : s->alt_names) {
    erase_from(by_alt_, AltKey{ascii_fold(alt.field), ascii_fold(alt.value)}, s);
  }
  erase_from(by_owner_, s->owner, s);
  decrement(count_by_uid_, s->uid);
  decrement(count_by_pid_, s->pid);
}

bool SessionTable::add(Session session) {
  if (sessions_.contains(session.id)) return false;
  auto owned = std::make_unique<Session>(std::move(session));
  const Session* raw = owned.get();
  sessions_.emplace(raw->id, std::move(owned));
  index(raw);
  return true;
}

bool SessionTable::update(const Session& updated) {
  auto it = sessions_.find(updated.id);
  if (it == sessions_.end()) return false;
  Session& s = *it->second;
  unindex(&s);
  s.user = updated.user;
  s.client_ip = updated.client_ip;
  s.client_port = updated.client_port;
  s.local_port = updated.local_port;
  s.dest_ip = updated.dest_ip;
  s.dest_port = updated.dest_port;
  s.alt_names = updated.alt_names;
  index(&s);
  return true;
}

bool SessionTable::remove(const ConnectionId& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  unindex(it->second.get());
  sessions_.erase(it);
  return true;
}

std::size_t SessionTable::remove_owner(OwnerId owner) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return 0;
  std::vector<ConnectionId> ids;
  ids.reserve(it->second.size());
  for (const Session* s : it->second) ids.push_back(s->id);
  for (const ConnectionId& id : ids) remove(id);
  return ids.size();
}

const Session* SessionTable::find(const ConnectionId& id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

std::size_t SessionTable::owner_size(OwnerId owner) const {
  auto it = by_owner_.find(owner);
  return it == by_owner_.end() ? 0 : it->second.size();
}

std::size_t SessionTable::uid_size(std::uint32_t uid) const {
  return count_of(count_by_uid_, uid);
}

std::size_t SessionTable::pid_size(std::int32_t pid) const {
  return count_of(count_by_pid_, pid);
}

std::size_t SessionTable::address_size(const IpAddress& ip) const {
  auto it = by_client_ip_.find(ip);
  return it == by_client_ip_.end() ? 0 : it->second.size();
}

std::size_t SessionTable::address_prelogin_size(const IpAddress& ip) const {
  auto it = by_client_ip_.find(ip);
  if (it == by_client_ip_.end()) return 0;
  return static_cast<std::size_t>(std::count_if(it->second.begin(), it->second.end(),
                                                [](const Session* s) { return s->user.empty(); }));
}

std::size_t SessionTable::user_size(std::string_view user) const {
  auto it = by_user_.find(ascii_fold(user));
  return it == by_user_.end() ? 0 : it->second.size();
}

std::vector<const Session*> SessionTable::owned_by(OwnerId owner) const {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<const Session*> SessionTable::candidates(const SessionFilter& filter) const {
  std::vector<const Session*> out;
  if (!filter.ids.empty()) {
    for (const ConnectionId& id : filter.ids) {
      if (const Session* s = find(id)) out.push_back(s);
    }
  } else if (!filter.users.empty() && filter.alt_field.empty()) {
    for (const UserMask& mask : filter.users) {
      if (!mask.has_wildcards()) {
        if (auto it = by_user_.find(mask.folded()); it != by_user_.end()) append(out, it->second);
        continue;
      }
      for (const auto& [name, set] : by_user_) {
        if (mask.matches(name)) append(out, set);
      }
    }
  } else if (!filter.users.empty()) {
    std::string field = ascii_fold(filter.alt_field);
    for (const UserMask& mask : filter.users) {
      if (!mask.has_wildcards()) {
        if (auto it = by_alt_.find({field, mask.folded()}); it != by_alt_.end()) {
          append(out, it->second);
        }
        continue;
      }
      for (auto it = by_alt_.lower_bound({field, ""});
           it != by_alt_.end() && it->first.first == field; ++it) {
        if (mask.matches(it->first.second)) append(out, it->second);
      }
    }
  } else if (!filter.networks.empty()) {
    for (const Cidr& net : filter.networks) {
      auto end = by_client_ip_.upper_bound(net.last());
      for (auto it = by_client_ip_.lower_bound(net.first()); it != end; ++it) {
        append(out, it->second);
      }
    }
  } else if (!filter.destinations.empty()) {
    for (const IpAddress& ip : filter.destinations) {
      if (auto it = by_dest_ip_.find(ip); it != by_dest_ip_.end()) append(out, it->second);
    }
  } else {
    out.reserve(sessions_.size());
    for (const auto& [id, session] : sessions_) out.push_back(session.get());
  }
  // Several alternatives may reach the same session.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::size_t SessionTable::candidate_count(const SessionFilter& filter) const {
  return candidates(filter).size();
}

std::vector<const Session*> SessionTable::select(const SessionFilter& filter) const {
  std::vector<const Session*> out = candidates(filter);
  std::erase_if(out, [&](const Session* s) { return !filter.matches(*s); });
  std::sort(out.begin(), out.end(), [](const Session* a, const Session* b) {
    return std::tie(a->user, a->service, a->pid, a->start_time, a->id) <
           std::tie(b->user, b->service, b->pid, b->start_time, b->id);
  });
  return out;
}

std::map<OwnerId, std::vector<const Session*>> group_by_owner(
    const std::vector<const Session*>& sessions) {
  std::map<OwnerId, std::vector<const Session*>> groups;
  for (const Session* s : sessions) groups[s->owner].push_back(s);
  return groups;
}

}  // namespace anvil
