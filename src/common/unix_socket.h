// Small POSIX helpers for UNIX stream sockets, shared by every program.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace anvil {

// Owns one file descriptor and closes it.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// SO_PEERCRED of a connected UNIX socket.
std::optional<PeerCredentials> peer_credentials(int fd);

// Connects to a UNIX stream socket. On failure returns an empty fd, sets
// *error to a sentence naming the path and, if given, *error_number to errno.
UniqueFd connect_unix(const std::string& path, bool nonblocking, std::string* error,
                      int* error_number = nullptr);

// The poll(2) events of fd at this moment (0 if none), without waiting;
// POLLERR and POLLHUP are reported whatever events asks for. Asio's epoll
// reactor can end an async_wait with success on a readiness that belonged
// to another descriptor (one closed while its event was still queued, whose
// slot the waiting descriptor then took). A wait whose meaning is final, such
// as "this process has exited", is confirmed here before it is believed.
short poll_now(int fd, short events);

// Writes all of data to a blocking fd; false on error (errno set).
bool write_all(int fd, const std::string& data);

class LineBuffer;
enum class ReadResult { line, closed, timed_out, too_long, failed };
// Reads a blocking fd into buffer until it holds a complete line, and hands
// that out. timed_out: the fd's SO_RCVTIMEO passed.
ReadResult read_line(int fd, LineBuffer& buffer, std::string* line);

// Every group of a UNIX socket's peer: its primary gid (SO_PEERCRED) and
// its supplementary groups (SO_PEERGROUPS), as the kernel recorded them at
// connect time.
std::vector<gid_t> peer_groups(int fd, gid_t primary);

}  // namespace anvil
