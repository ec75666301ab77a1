#include "proxy/front_end.h"

namespace anvil {

std::unique_ptr<FrontEnd> make_imap_front_end(const FrontEndOptions& options);
std::unique_ptr<FrontEnd> make_pop3_front_end(const FrontEndOptions& options);

std::unique_ptr<FrontEnd> make_front_end(MailProtocol protocol, const FrontEndOptions& options) {
  return protocol == MailProtocol::imap ? make_imap_front_end(options)
                                        : make_pop3_front_end(options);
}

std::string single_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

}  // namespace anvil
