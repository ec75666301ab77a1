// Dovecot 2.3 names a registered connection by an "ident":
// "<service>/<ip>/<user>" (imap, pop3, submission) or "<service>/<user>"
// (lmtp, which has no client address). A user name may itself contain '/'.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace anvil {

struct DovecotIdent {
  std::string service;
  std::optional<IpAddress> ip;
  std::string user;

  bool operator==(const DovecotIdent&) const = default;
};

// Splits at the first '/' into service and rest; if the rest holds another
// '/' and what comes before it is an address, that is the ip and the
// remainder the user; otherwise the whole rest is the user. (Dovecot's own
// parser takes any text before a second '/' as the address, so it misreads
// lmtp idents with '/' in the user name; this one does not.) nullopt when
// there is no '/' or the service is empty.
std::optional<DovecotIdent> parse_dovecot_ident(std::string_view ident);

// The ident for a session, as Dovecot 2.3 would write it.
std::string format_dovecot_ident(const std::string& service, const std::optional<IpAddress>& ip,
                                 const std::string& user);
// The same, appended to out.
void append_dovecot_ident(std::string& out, std::string_view service,
                          const std::optional<IpAddress>& ip, std::string_view user);

}  // namespace anvil
