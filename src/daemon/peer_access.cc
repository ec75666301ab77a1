#include "daemon/peer_access.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>

#include "common/settings_file.h"
#include "registry/wire_codec.h"

namespace anvil {

bool resolve_user(const std::string& text, uid_t* uid) {
  long long number = 0;
  if (parse_integer(text, 0, 0xfffffffe, &number)) {
    *uid = static_cast<uid_t>(number);
    return true;
  }
  passwd entry{}, *found = nullptr;
  char buffer[4096];
  if (getpwnam_r(text.c_str(), &entry, buffer, sizeof buffer, &found) != 0 || !found) return false;
  *uid = found->pw_uid;
  return true;
}

const char* role_name(Role role) {
  switch (role) {
    case Role::none: return "none";
    case Role::read: return "read";
    case Role::kick: return "kick";
  }
  return "none";
}

bool resolve_group(const std::string& text, gid_t* gid) {
  long long number = 0;
  if (parse_integer(text, 0, 0xfffffffe, &number)) {
    *gid = static_cast<gid_t>(number);
    return true;
  }
  group entry{}, *found = nullptr;
  char buffer[16384];
  if (getgrnam_r(text.c_str(), &entry, buffer, sizeof buffer, &found) != 0 || !found) return false;
  *gid = found->gr_gid;
  return true;
}

std::string AccessList::parse(const std::string& value, bool groups, bool roles,
                              Role default_role) {
  std::vector<Entry> entries;
  for (const std::string& item : split_list(value)) {
    std::string name = item;
    Role role = default_role;
    if (std::size_t colon = item.rfind(':'); roles && colon != std::string::npos) {
      std::string suffix = item.substr(colon + 1);
      if (suffix == "read") {
        role = Role::read;
      } else if (suffix == "kick") {
        role = Role::kick;
      } else {
        return "unknown role '" + suffix + "' in '" + item + "' (read or kick)";
      }
      name = item.substr(0, colon);
    }
    unsigned id = 0;
    bool found = groups ? resolve_group(name, &id) : resolve_user(name, &id);
    if (!found) return std::string("no such ") + (groups ? "group" : "user") + ": '" + name + "'";
    entries.push_back({groups, id, role});
  }
  // A list of uids replaces the uids, one of groups the groups.
  std::erase_if(entries_, [&](const Entry& entry) { return entry.group == groups; });
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return "";
}

Role AccessList::role_of(uid_t uid, const std::vector<gid_t>& groups) const {
  Role best = Role::none;
  for (const Entry& entry : entries_) {
    bool hit = entry.group ? std::find(groups.begin(), groups.end(), entry.id) != groups.end()
                           : entry.id == uid;
    if (hit) best = std::max(best, entry.role);
  }
  return best;
}

std::string user_name(uid_t uid) {
  passwd entry{}, *found = nullptr;
  char buffer[4096];
  if (getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) != 0 || !found) return "";
  return found->pw_name;
}

}  // namespace anvil
