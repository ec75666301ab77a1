#include "common/pidfd.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace anvil {

UniqueFd open_pidfd(pid_t pid, std::string* error) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    *error = "cannot open pid " + std::to_string(pid) + ": " + std::strerror(errno);
    return {};
  }
  return UniqueFd(fd);
}

std::string signal_pidfd(int pidfd, pid_t pid, int signal_number) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0) != 0) {
    return "signalling pid " + std::to_string(pid) + " failed: " + std::strerror(errno);
  }
  return "";
}

}  // namespace anvil
