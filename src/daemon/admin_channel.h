// One administrator's connection (protocol anvil-admin, see
// docs/protocol.md): WHO and KICK with a filter evaluated here.
#pragma once

#include "daemon/line_channel.h"
#include "daemon/server.h"

namespace anvil {

class AdminChannel : public LineChannel {
 public:
  // counted: the connection counts towards max_admin_clients.
  AdminChannel(Server& server, UnixSocket socket, PeerCredentials peer, bool counted);
  asio::awaitable<void> run();

 private:
  asio::awaitable<void> handle(const std::string& line);
  void handle_dovecot23(const std::string& line);
  void who(const std::vector<std::string>& fields);
  asio::awaitable<void> kick(const std::vector<std::string>& fields);
  void error(const std::string& message);

  Server& server_;
  PeerCredentials peer_;
  bool counted_;
  bool greeted_ = false;
  bool dovecot23_ = false;  // the client speaks Dovecot 2.3's protocol
};

}  // namespace anvil
