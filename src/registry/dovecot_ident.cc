#include "registry/dovecot_ident.h"

namespace anvil {

std::optional<DovecotIdent> parse_dovecot_ident(std::string_view ident) {
  std::size_t slash = ident.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  DovecotIdent out;
  out.service = ident.substr(0, slash);
  std::string_view rest = ident.substr(slash + 1);
  std::size_t second = rest.find('/');
  if (second != std::string_view::npos) {
    if (auto ip = IpAddress::parse(rest.substr(0, second))) {
      out.ip = ip;
      rest = rest.substr(second + 1);
    }
  }
  out.user = rest;
  return out;
}

std::string format_dovecot_ident(const std::string& service, const std::optional<IpAddress>& ip,
                                 const std::string& user) {
  std::string out;
  append_dovecot_ident(out, service, ip, user);
  return out;
}

void append_dovecot_ident(std::string& out, std::string_view service,
                          const std::optional<IpAddress>& ip, std::string_view user) {
  out += service;
  out += '/';
  if (ip) {
    out += ip->to_string();
    out += '/';
  }
  out += user;
}

}  // namespace anvil
