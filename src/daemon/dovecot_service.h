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
#include <functional>
#include <string>

#include "common/line_codec.h"
#include "daemon/dovecot23_dialect.h"

namespace anvil {

class DovecotService {
 public:
  // adopt_listener serves one of master's listening sockets (fd, name) and
  // returns "" or an error; shut_down ends anvild when master is gone.
  DovecotService(asio::io_context& io, Dovecot23Context& dialect,
                 std::function<std::string(int, const std::string&)> adopt_listener,
                 std::function<void()> shut_down)
      : io_(io),
        dialect_(dialect),
        adopt_listener_(std::move(adopt_listener)),
        shut_down_(std::move(shut_down)) {}
  DovecotService(const DovecotService&) = delete;
  DovecotService& operator=(const DovecotService&) = delete;

  // Reads the environment master set, reports the status and starts
  // serving. Returns "" or an error.
  std::string start();

  // Processes every line already written to the pipes. Run before a LOOKUP
  // or a dump is answered, so that a CONNECT a process wrote before the
  // question was asked is counted.
  void drain_pipes();

 private:
  // One of master's pipes. Only read() in drain() takes bytes out of it, so
  // lines are handled in the order they were written.
  struct Pipe {
    int fd;
    bool from_master;
    LineBuffer buffer{kDovecot23MaxLine};
    bool waiting_for_version = false;  // after a restart: skip stale lines
    bool discarding = false;           // skipping the rest of an over-long line
  };

  asio::awaitable<void> watch_pipe(Pipe& pipe);
  bool drain(Pipe& pipe);  // false once every writer is gone
  asio::awaitable<void> receive_log_fds();
  asio::awaitable<void> watch_master();
  void handle_pipe_line(const std::string& line, Pipe& pipe);

  asio::io_context& io_;
  Dovecot23Context& dialect_;
  std::function<std::string(int, const std::string&)> adopt_listener_;
  std::function<void()> shut_down_;
  bool restarted_ = false;
  Pipe master_pipe_{7, true};
  Pipe shared_pipe_{8, false};
};

}  // namespace anvil
