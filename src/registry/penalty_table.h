// Authentication penalties, as Dovecot 2.3's auth process keeps them in
// anvil: per ident (a client address or network), a penalty level, when it
// was last raised and when the record was last touched. Records expire
// expire_secs after their last update. Pure data: callers pass the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "common/keyed_hash.h"

namespace anvil {

class PenaltyTable {
 public:
  struct Entry {
    std::string ident;
    unsigned penalty = 0;
    std::int64_t last_penalty = 0;  // unix seconds
    std::int64_t last_update = 0;
  };

  // max_records bounds memory: beyond it the least recently updated go.
  explicit PenaltyTable(std::size_t max_records = 1'000'000) : max_records_(max_records) {}

  void set_expire_secs(std::int64_t seconds) { expire_secs_ = seconds; }
  std::int64_t expire_secs() const { return expire_secs_; }

  // {penalty, last_penalty}; {0, 0} for an unknown or expired ident.
  std::pair<unsigned, std::int64_t> get(const std::string& ident, std::int64_t now);

  // Records a failure (or, with value 0, a success). A checksum names the
  // credentials tried: repeating recently seen ones raises the penalty by
  // one less than asked (value - 1) and leaves last_penalty alone, so one
  // client with a stale password does not escalate. Checksum 0 sets the
  // value as given. Callers must ensure value > 0 when checksum != 0.
  void inc(const std::string& ident, std::uint32_t checksum, unsigned value, std::int64_t now);

  // Logins as a login service reports them (anvil-proxy), with the rules of
  // Dovecot's auth: the ident is the address (an IPv6 address stands for
  // its /48, where one client usually has them all); a failure raises the
  // penalty by one, up to kMaxLoginPenalty, unless the same credentials
  // (checksum) failed recently; a success clears it.
  static constexpr unsigned kMaxLoginPenalty = 4;
  static std::string login_ident(const IpAddress& ip);
  void login_failed(const IpAddress& ip, std::uint32_t checksum, std::int64_t now);
  void login_succeeded(const IpAddress& ip, std::int64_t now);

  // Every live record, least recently updated first.
  std::vector<Entry> dump(std::int64_t now);
  std::size_t size() const { return records_.size(); }

 private:
  static constexpr std::size_t kChecksumsKept = 10;
  struct Record {
    Entry entry;
    std::vector<std::uint32_t> checksums;  // most recent first
    std::list<std::string>::iterator position;
  };

  void expire(std::int64_t now);
  using Records = std::unordered_map<std::string, Record, KeyedHash>;
  void forget(Records::iterator it);

  std::size_t max_records_;
  std::int64_t expire_secs_ = 3600;
  Records records_;                   // idents come from peers
  std::list<std::string> by_update_;  // idents, least recently updated first
};

}  // namespace anvil
