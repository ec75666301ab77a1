#include "registry/session_filter.h"

#include <algorithm>

namespace anvil {

namespace {

template <typename Range, typename Pred>
bool none_or_any(const Range& alternatives, Pred pred) {
  return alternatives.empty() || std::any_of(alternatives.begin(), alternatives.end(), pred);
}

bool user_matches(const SessionFilter& filter, const Session& session) {
  if (filter.users.empty()) return true;
  if (filter.alt_field.empty()) {
    return std::any_of(filter.users.begin(), filter.users.end(),
                       [&](const UserMask& m) { return m.matches(session.user); });
  }
  std::string field = ascii_fold(filter.alt_field);
  for (const AltName& alt : session.alt_names) {
    if (ascii_fold(alt.field) != field) continue;
    for (const UserMask& mask : filter.users) {
      if (mask.matches(alt.value)) return true;
    }
  }
  return false;
}

}  // namespace

bool SessionFilter::matches(const Session& session) const {
  if (!none_or_any(ids, [&](const ConnectionId& id) { return id == session.id; })) return false;
  if (!none_or_any(pids, [&](std::int32_t pid) { return pid == session.pid; })) return false;
  if (!none_or_any(services, [&](const std::string& s) {
        return ascii_fold(s) == ascii_fold(session.service);
      })) {
    return false;
  }
  if (!none_or_any(networks, [&](const Cidr& net) {
        return session.client_ip && net.contains(*session.client_ip);
      })) {
    return false;
  }
  if (!none_or_any(destinations, [&](const IpAddress& ip) {
        return session.dest_ip && *session.dest_ip == ip;
      })) {
    return false;
  }
  return user_matches(*this, session);
}

}  // namespace anvil
