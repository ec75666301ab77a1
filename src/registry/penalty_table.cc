#include "registry/penalty_table.h"

#include <algorithm>

namespace anvil {

void PenaltyTable::forget(Records::iterator it) {
  by_update_.erase(it->second.position);
  records_.erase(it);
}

void PenaltyTable::expire(std::int64_t now) {
  while (!by_update_.empty()) {
    auto it = records_.find(by_update_.front());
    if (it->second.entry.last_update + expire_secs_ > now) break;
    forget(it);
  }
}

std::string PenaltyTable::login_ident(const IpAddress& ip) {
  if (ip.family() == IpAddress::Family::v4) return ip.to_string();
  return ip.with_host_bits(48, false).to_string();
}

void PenaltyTable::login_failed(const IpAddress& ip, std::uint32_t checksum, std::int64_t now) {
  std::string ident = login_ident(ip);
  unsigned penalty = get(ident, now).first;
  // Checksum 0 would set the value as given; any real checksum counts.
  inc(ident, checksum == 0 ? 1 : checksum, std::min(penalty + 1, kMaxLoginPenalty), now);
}

void PenaltyTable::login_succeeded(const IpAddress& ip, std::int64_t now) {
  std::string ident = login_ident(ip);
  if (get(ident, now).first > 0) inc(ident, 0, 0, now);
}

std::pair<unsigned, std::int64_t> PenaltyTable::get(const std::string& ident, std::int64_t now) {
  expire(now);
  auto it = records_.find(ident);
  if (it == records_.end()) return {0, 0};
  return {it->second.entry.penalty, it->second.entry.last_penalty};
}

void PenaltyTable::inc(const std::string& ident, std::uint32_t checksum, unsigned value,
                       std::int64_t now) {
  expire(now);
  auto it = records_.find(ident);
  if (it == records_.end()) {
    if (records_.size() >= max_records_ && !by_update_.empty())
      forget(records_.find(by_update_.front()));
    it = records_.emplace(ident, Record{}).first;
    it->second.entry.ident = ident;
    it->second.position = by_update_.insert(by_update_.end(), ident);
  } else {
    by_update_.splice(by_update_.end(), by_update_, it->second.position);
  }
  Record& record = it->second;
  auto seen = std::find(record.checksums.begin(), record.checksums.end(), checksum);
  if (checksum != 0 && seen != record.checksums.end()) {
    std::rotate(record.checksums.begin(), seen, seen + 1);  // most recent first
    record.entry.penalty = value - 1;
  } else {
    if (checksum != 0) {
      record.checksums.insert(record.checksums.begin(), checksum);
      if (record.checksums.size() > kChecksumsKept) record.checksums.pop_back();
    }
    record.entry.penalty = value;
    record.entry.last_penalty = now;
  }
  record.entry.last_update = now;
}

std::vector<PenaltyTable::Entry> PenaltyTable::dump(std::int64_t now) {
  expire(now);
  std::vector<Entry> out;
  out.reserve(records_.size());
  for (const std::string& ident : by_update_) out.push_back(records_.at(ident).entry);
  return out;
}

}  // namespace anvil
