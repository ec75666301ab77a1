#include "registry/session_filter.h"

#include <algorithm>

namespace anvil {

namespace {

template <typename Range, typename Pred>
bool none_or_any(const Range& alternatives, Pred pred) {
  return alternatives.empty() || std::any_of(alternatives.begin(), alternatives.end(), pred);
}

bool user_matches(const SessionFilter& filter, const FilterSubject& s) {
  if (filter.users.empty()) return true;
  if (filter.alt_field.empty()) {
    return std::any_of(filter.users.begin(), filter.users.end(),
                       [&](const UserMask& m) { return m.matches(s.user); });
  }
  for (const auto& [field, value] : s.alt_names) {
    if (!ascii_equal_folded(field, filter.alt_field)) continue;
    for (const UserMask& mask : filter.users) {
      if (mask.matches(value)) return true;
    }
  }
  return false;
}

}  // namespace

bool SessionFilter::matches(const FilterSubject& s) const {
  if (started_before && s.start_time >= *started_before) return false;
  if (!none_or_any(ids, [&](const ConnectionId& id) { return id == s.id; })) return false;
  if (!none_or_any(pids, [&](std::int32_t pid) { return pid == s.pid; })) return false;
  if (!none_or_any(services,
                   [&](const std::string& name) { return ascii_equal_folded(name, s.service); })) {
    return false;
  }
  if (!none_or_any(networks,
                   [&](const Cidr& net) { return s.client_ip && net.contains(*s.client_ip); })) {
    return false;
  }
  if (!none_or_any(destinations,
                   [&](const IpAddress& ip) { return s.dest_ip && *s.dest_ip == ip; })) {
    return false;
  }
  return user_matches(*this, s);
}

bool SessionFilter::matches(const Session& session) const {
  std::vector<std::pair<std::string_view, std::string_view>> alts;
  if (!alt_field.empty()) {
    for (const AltName& alt : session.alt_names) alts.emplace_back(alt.field, alt.value);
  }
  return matches(FilterSubject{session.id, session.pid, session.service, session.user,
                               session.client_ip, session.dest_ip, alts, session.start_time});
}

}  // namespace anvil
