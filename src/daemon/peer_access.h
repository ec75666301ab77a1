// Who may use anvild's sockets: allow-lists of uids and groups read from
// the settings, each entry with the role it grants, checked against a
// peer's SO_PEERCRED uid and its groups. See docs/security.md.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace anvil {

// What a peer may do on the admin socket. Ordered: kick includes read.
enum class Role { none = 0, read = 1, kick = 2 };
const char* role_name(Role role);

class AccessList {
 public:
  // Parses a list of uids (numbers or user names) or groups (numbers or
  // group names), each optionally followed by ":read" or ":kick" (when
  // roles is true; the default is default_role). Names are resolved now.
  // It replaces the list's uids, or its groups, and keeps the other kind.
  // Returns "" or an error naming the bad item.
  std::string parse(const std::string& value, bool groups, bool roles, Role default_role);

  // The highest role an entry grants this uid or any of these groups.
  Role role_of(uid_t uid, const std::vector<gid_t>& groups) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    bool group;
    unsigned id;
    Role role;
  };
  std::vector<Entry> entries_;
};

// A group, or a user, by name or number; false if there is no such one.
bool resolve_group(const std::string& text, gid_t* gid);
bool resolve_user(const std::string& text, uid_t* uid);
// The name of a uid; "" if it has none.
std::string user_name(uid_t uid);

}  // namespace anvil
