#include "proxy/front_end.h"

namespace anvil {

std::unique_ptr<FrontEnd> make_imap_front_end(const FrontEndOptions& options);
std::unique_ptr<FrontEnd> make_pop3_front_end(const FrontEndOptions& options);

std::unique_ptr<FrontEnd> make_front_end(MailProtocol protocol, const FrontEndOptions& options) {
  return protocol == MailProtocol::imap ? make_imap_front_end(options)
                                        : make_pop3_front_end(options);
}

}  // namespace anvil
