#include "common/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/line_codec.h"

namespace anvil {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::optional<PeerCredentials> peer_credentials(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

UniqueFd connect_unix(const std::string& path, bool nonblocking, std::string* error,
                      int* error_number) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *error = "socket path too long: " + path;
    return {};
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  UniqueFd fd(::socket(AF_UNIX, type, 0));
  if (!fd) {
    *error = std::string("socket() failed: ") + std::strerror(errno);
    return {};
  }
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == EINTR) continue;
    if (error_number) *error_number = errno;
    *error = "connect(" + path + ") failed: " + std::strerror(errno);
    return {};
  }
  return fd;
}

ReadResult read_line(int fd, LineBuffer& buffer, std::string* line) {
  while (true) {
    if (buffer.next_line(line)) return ReadResult::line;
    if (buffer.overflowed()) return ReadResult::too_long;
    char chunk[65536];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ReadResult::timed_out;
    if (n == 0) return ReadResult::closed;
    if (n < 0) return ReadResult::failed;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

short poll_now(int fd, short events) {
  pollfd entry{fd, events, 0};
  int ready = 0;
  do {
    ready = ::poll(&entry, 1, 0);
  } while (ready < 0 && errno == EINTR);
  return ready > 0 ? entry.revents : short{0};
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::vector<gid_t> peer_groups(int fd, gid_t primary) {
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; attempt++) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      break;
    }
    // ERANGE: len now says how much room the list needs.
    groups.assign(errno == ERANGE && attempt == 0 ? len / sizeof(gid_t) : 0, 0);
  }
  groups.push_back(primary);
  return groups;
}

}  // namespace anvil
