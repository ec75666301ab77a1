// anvild as Dovecot 2.3's own anvil service (`service anvil { executable =
// anvild --dovecot-service ... }`): the contract with Dovecot's master, over
// the file descriptors it hands its anvil. See docs/dovecot.md.
//   fd 2  log pipe (Dovecot's internal line format)
//   fd 4  socketpair: a new log pipe arrives here on every reload
//   fd 5  status pipe: {pid, GENERATION, CLIENT_LIMIT}, within 30 s
//   fd 6  master-death pipe: an error on it means master is gone
//   fd 7  pipe from master: VERSION, KILL <pid>
//   fd 8  pipe shared by Dovecot's processes: CONNECT, DISCONNECT
//   fd 9… listening sockets (SOCKETn_SETTINGS names them): anvil, anvil-auth-penalty
#pragma once

#include <asio.hpp>
#include <string>

namespace anvil {

class Server;

class DovecotService {
 public:
  DovecotService(asio::io_context& io, Server& server) : io_(io), server_(server) {}
  DovecotService(const DovecotService&) = delete;
  DovecotService& operator=(const DovecotService&) = delete;

  // Reads the environment master set, reports the status and starts
  // serving. Returns "" or an error.
  std::string start();

 private:
  asio::awaitable<void> read_pipe(int fd, bool from_master);
  asio::awaitable<void> receive_log_fds();
  asio::awaitable<void> watch_master();
  void handle_pipe_line(const std::string& line, bool from_master, bool* waiting_for_version);

  asio::io_context& io_;
  Server& server_;
  bool restarted_ = false;
};

}  // namespace anvil
