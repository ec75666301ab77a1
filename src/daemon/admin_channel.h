// One administrator's connection (protocol anvil-admin, see
// docs/protocol.md): WHO and KICK with a filter evaluated here.
#pragma once

#include "daemon/line_channel.h"
#include "daemon/server.h"

namespace anvil {

class AdminChannel : public LineChannel {
 public:
  AdminChannel(Server& server, UnixSocket socket, PeerCredentials peer);
  asio::awaitable<void> run();

 private:
  asio::awaitable<void> handle(const std::vector<std::string>& fields);
  void who(const std::vector<std::string>& fields);
  asio::awaitable<void> kick(const std::vector<std::string>& fields);
  void error(const std::string& message);

  Server& server_;
  PeerCredentials peer_;
  bool greeted_ = false;
};

}  // namespace anvil
