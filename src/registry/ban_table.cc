#include "registry/ban_table.h"

#include <algorithm>

#include "common/line_codec.h"
#include "common/numbers.h"

namespace anvil {

namespace {

std::string network_key(const IpAddress& ip, int bits) {
  IpAddress first = ip.with_host_bits(bits, false);
  return std::string(reinterpret_cast<const char*>(first.bytes().data()), first.bytes().size());
}

int family_number(const IpAddress& ip) {
  return ip.family() == IpAddress::Family::v4 ? 4 : 6;
}

template <typename Map>
void index_in(Map& map, const std::string& key, std::uint64_t id, bool add) {
  if (add) {
    map[key].push_back(id);
    return;
  }
  auto it = map.find(key);
  if (it == map.end()) return;
  std::erase(it->second, id);
  if (it->second.empty()) map.erase(it);
}

}  // namespace

bool Ban::matches_everyone() const {
  bool all_users = !user || user->pattern().find_first_not_of('*') == std::string::npos;
  bool all_addresses = !network || network->bits() == 0;
  return all_users && all_addresses;
}

std::string BanTable::alt_key(std::string_view field, std::string_view value) {
  std::string key = ascii_fold(field);
  key += '\0';
  key += ascii_fold(value);
  return key;
}

void BanTable::index(const Ban& ban, bool add) {
  if (ban.user && ban.user->has_wildcards()) {
    if (add) {
      wildcard_.insert(ban.id);
    } else {
      wildcard_.erase(ban.id);
    }
  } else if (ban.user && ban.alt_field.empty()) {
    index_in(by_user_, ban.user->folded(), ban.id, add);
  } else if (ban.user) {
    index_in(by_alt_, alt_key(ban.alt_field, ban.user->folded()), ban.id, add);
  } else {
    auto& nets = by_network_[{family_number(ban.network->first()), ban.network->bits()}];
    index_in(nets, network_key(ban.network->first(), ban.network->bits()), ban.id, add);
    if (!add && nets.empty()) {
      by_network_.erase({family_number(ban.network->first()), ban.network->bits()});
    }
  }
  if (ban.expires != 0) {
    if (add) {
      expiries_.emplace(ban.expires, ban.id);
    } else {
      auto [begin, end] = expiries_.equal_range(ban.expires);
      for (auto it = begin; it != end; ++it) {
        if (it->second == ban.id) {
          expiries_.erase(it);
          break;
        }
      }
    }
  }
}

std::uint64_t BanTable::add(Ban ban, std::string* error) {
  error->clear();
  if (!ban.user && !ban.network) {
    *error = "a ban needs a user mask, a network, or both";
    return 0;
  }
  if (!ban.alt_field.empty() && !ban.user) {
    *error = "a ban on an alternative name needs the value to match";
    return 0;
  }
  if (ban.id == 0) ban.id = next_id_;
  if (bans_.contains(ban.id)) {
    *error = "ban " + std::to_string(ban.id) + " exists already";
    return 0;
  }
  next_id_ = std::max(next_id_, ban.id + 1);
  std::uint64_t id = ban.id;
  index(ban, true);
  bans_.emplace(id, std::move(ban));
  return id;
}

bool BanTable::remove(std::uint64_t id) {
  auto it = bans_.find(id);
  if (it == bans_.end()) return false;
  index(it->second, false);
  bans_.erase(it);
  return true;
}

const Ban* BanTable::find(std::uint64_t id) const {
  auto it = bans_.find(id);
  return it == bans_.end() ? nullptr : &it->second;
}

bool BanTable::matches(const Ban& ban, const BanSubject& s) {
  if (ban.network && !(s.ip && ban.network->contains(*s.ip))) return false;
  if (!ban.user) return true;
  if (ban.alt_field.empty()) return ban.user->matches(s.user);
  for (const auto& [field, value] : s.alt_names) {
    if (ascii_equal_folded(field, ban.alt_field) && ban.user->matches(value)) return true;
  }
  return false;
}

void BanTable::candidates(const BanSubject& s, std::vector<std::uint64_t>* out) const {
  auto take = [&](const auto& map, const std::string& key) {
    auto it = map.find(key);
    if (it != map.end()) out->insert(out->end(), it->second.begin(), it->second.end());
  };
  take(by_user_, ascii_fold(s.user));
  for (const auto& [field, value] : s.alt_names) take(by_alt_, alt_key(field, value));
  if (s.ip) {
    int family = family_number(*s.ip);
    for (const auto& [kind, nets] : by_network_) {
      if (kind.first == family) take(nets, network_key(*s.ip, kind.second));
    }
  }
  out->insert(out->end(), wildcard_.begin(), wildcard_.end());
}

std::size_t BanTable::candidate_count(const BanSubject& subject) const {
  std::vector<std::uint64_t> ids;
  candidates(subject, &ids);
  return ids.size();
}

const Ban* BanTable::match(const BanSubject& subject, std::int64_t now) const {
  std::vector<std::uint64_t> ids;
  candidates(subject, &ids);
  const Ban* oldest = nullptr;
  for (std::uint64_t id : ids) {
    const Ban& ban = bans_.find(id)->second;
    if (ban.expired(now) || !matches(ban, subject)) continue;
    if (!oldest || ban.id < oldest->id) oldest = &ban;
  }
  return oldest;
}

std::vector<Ban> BanTable::expire(std::int64_t now) {
  std::vector<Ban> gone;
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    std::uint64_t id = expiries_.begin()->second;
    gone.push_back(bans_.find(id)->second);
    remove(id);
  }
  return gone;
}

std::optional<std::int64_t> BanTable::next_expiry() const {
  if (expiries_.empty()) return std::nullopt;
  return expiries_.begin()->first;
}

std::vector<const Ban*> BanTable::all() const {
  std::vector<const Ban*> out;
  out.reserve(bans_.size());
  for (const auto& [id, ban] : bans_) out.push_back(&ban);
  return out;
}

std::string ban_file_header() {
  return LineWriter().add("anvil-bans").add("1").finish();
}

std::string format_ban_line(const Ban& ban) {
  LineWriter line;
  line.add("id", static_cast<long long>(ban.id));
  if (ban.user) line.add("user", ban.user->pattern());
  if (!ban.alt_field.empty()) line.add("alt_field", ban.alt_field);
  if (ban.network) line.add("net", ban.network->to_string());
  line.add("created", ban.created);
  line.add("expires", ban.expires);
  line.add("reason", ban.reason);
  line.add("by", ban.set_by);
  if (ban.shared) line.add("shared=1");
  return line.finish();
}

std::optional<Ban> parse_ban_line(std::string_view text, std::string* error) {
  Ban ban;
  error->clear();
  for (const std::string& field : split_fields(text)) {
    std::size_t eq = field.find('=');
    if (eq == std::string::npos) {
      *error = "field without key=value: " + field;
      return std::nullopt;
    }
    std::string key = field.substr(0, eq), value = field.substr(eq + 1);
    long long number = 0;
    if (key == "id") {
      if (!parse_integer(value, 1, INT64_MAX, &number)) {
        *error = "invalid id: " + value;
        return std::nullopt;
      }
      ban.id = static_cast<std::uint64_t>(number);
    } else if (key == "user") {
      if (value.empty()) {
        *error = "empty user mask";
        return std::nullopt;
      }
      ban.user.emplace(value);
    } else if (key == "alt_field") {
      if (!value.starts_with("user_")) {
        *error = "alternative name fields are named user_*: " + value;
        return std::nullopt;
      }
      ban.alt_field = value;
    } else if (key == "net") {
      ban.network = Cidr::parse(value);
      if (!ban.network) {
        *error = "invalid network: " + value;
        return std::nullopt;
      }
    } else if (key == "created" || key == "expires") {
      if (!parse_integer(value, 0, INT64_MAX, &number)) {
        *error = "invalid " + key + ": " + value;
        return std::nullopt;
      }
      (key == "created" ? ban.created : ban.expires) = number;
    } else if (key == "reason") {
      ban.reason = value;
    } else if (key == "by") {
      ban.set_by = value;
    } else if (key == "shared") {
      ban.shared = value == "1";
    }  // other keys: written by a newer anvild; ignored
  }
  if (ban.id == 0) {
    *error = "no id";
    return std::nullopt;
  }
  if (!ban.user && !ban.network) {
    *error = "neither a user mask nor a network";
    return std::nullopt;
  }
  if (!ban.alt_field.empty() && !ban.user) {
    *error = "an alternative name without a value to match";
    return std::nullopt;
  }
  return ban;
}

}  // namespace anvil
