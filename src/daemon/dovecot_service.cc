#include "daemon/dovecot_service.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/line_codec.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "daemon/dovecot23_dialect.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {

constexpr int kLogFdPassFd = 4;
constexpr int kStatusFd = 5;
constexpr int kMasterDeadFd = 6;
constexpr int kMasterPipeFd = 7;

long long env_number(const char* name, long long fallback) {
  const char* text = std::getenv(name);
  long long value = 0;
  return text && parse_integer(text, 0, UINT32_MAX, &value) ? value : fallback;
}

// Master's `struct master_status`: 12 bytes in host order.
struct MasterStatus {
  std::int32_t pid;
  std::uint32_t uid;
  std::uint32_t available_count;
};
static_assert(sizeof(MasterStatus) == 12);

}  // namespace

std::string DovecotService::start() {
  if (!std::getenv("GENERATION")) return "GENERATION is not set: not started by Dovecot's master";
  restarted_ = std::getenv("ANVIL_RESTARTED") != nullptr;

  MasterStatus status{static_cast<std::int32_t>(::getpid()),
                      static_cast<std::uint32_t>(env_number("GENERATION", 0)),
                      static_cast<std::uint32_t>(env_number("CLIENT_LIMIT", 1000))};
  if (::write(kStatusFd, &status, sizeof status) != sizeof status) {
    return std::string("writing the status to master failed: ") + std::strerror(errno);
  }

  long long sockets = env_number("SOCKET_COUNT", 2);
  for (long long n = 2; n < sockets; n++) {
    std::string key = "SOCKET" + std::to_string(n) + "_SETTINGS";
    const char* settings = std::getenv(key.c_str());
    std::string name = settings ? split_fields(settings).front() : key;
    if (std::string error = adopt_listener_(kMasterPipeFd + static_cast<int>(n), name);
        !error.empty()) {
      return error;
    }
  }
  for (Pipe* pipe : {&master_pipe_, &shared_pipe_}) {
    pipe->waiting_for_version = restarted_;
    ::fcntl(pipe->fd, F_SETFL, ::fcntl(pipe->fd, F_GETFL) | O_NONBLOCK);
    asio::co_spawn(io_, watch_pipe(*pipe), asio::detached);
  }
  asio::co_spawn(io_, receive_log_fds(), asio::detached);
  asio::co_spawn(io_, watch_master(), asio::detached);
  log_info("serving as Dovecot's anvil (pid {}, generation {}{})", status.pid, status.uid,
           restarted_ ? ", restarted" : "");
  return "";
}

void DovecotService::handle_pipe_line(const std::string& line, Pipe& pipe) {
  std::string split = line;
  std::vector<std::string_view> fields;
  split_fields_in_place(split, &fields);
  if (fields.empty()) return;
  if (fields[0] == "VERSION") {
    if (fields.size() < 3 || fields[1] != "anvil" || fields[2] != "1") {
      log_error("Anvil client not compatible with this server: {}", line);
    }
    pipe.waiting_for_version = false;
    return;
  }
  // After a restart, lines written for the previous anvil may still be in
  // the pipe; they end at master's VERSION line.
  if (pipe.waiting_for_version) return;
  Dovecot23Sender sender;
  sender.from_master = pipe.from_master;
  sender.may_register = true;  // Dovecot's processes; what they name is checked
  Dovecot23Reply reply = handle_dovecot23_line(dialect_, fields, sender);
  // A pipe cannot be answered, and closing it would lose every later
  // registration: errors are logged and reading goes on.
  if (!reply.fatal.empty()) log_error("Anvil client input error: {}", reply.fatal);
  if (!reply.text.empty()) log_error("{} on a FIFO, can't send reply", fields[0]);
}

bool DovecotService::drain(Pipe& pipe) {
  char chunk[4096];
  while (true) {
    ssize_t n = ::read(pipe.fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0) return false;
    std::string_view data(chunk, static_cast<std::size_t>(n));
    if (pipe.discarding) {
      std::size_t lf = data.find('\n');
      if (lf == std::string_view::npos) continue;
      data.remove_prefix(lf + 1);
      pipe.discarding = false;
    }
    pipe.buffer.append(data.data(), data.size());
    while (auto line = pipe.buffer.next_line()) handle_pipe_line(*line, pipe);
    if (pipe.buffer.overflowed()) {
      log_error("BUG: Anvil client connection sent too much data (fd {}); skipping that line",
                pipe.fd);
      pipe.buffer = LineBuffer(kDovecot23MaxLine);
      pipe.discarding = true;
    }
  }
}

void DovecotService::drain_pipes() {
  drain(master_pipe_);
  drain(shared_pipe_);
}

asio::awaitable<void> DovecotService::watch_pipe(Pipe& pipe) {
  asio::posix::stream_descriptor descriptor(io_, pipe.fd);
  while (true) {
    asio::error_code ec;
    co_await descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !drain(pipe)) break;  // every writer is gone
  }
  log_info("pipe fd {} closed", pipe.fd);
}

asio::awaitable<void> DovecotService::receive_log_fds() {
  asio::posix::stream_descriptor channel(io_, kLogFdPassFd);
  while (true) {
    asio::error_code ec;
    co_await channel.async_wait(asio::posix::descriptor_base::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t got = ::recvmsg(kLogFdPassFd, &message, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) co_return;  // master is gone
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (header && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
      ::dup2(fd, STDERR_FILENO);  // the new log pipe, after a reload
      ::close(fd);
    }
  }
}

asio::awaitable<void> DovecotService::watch_master() {
  // Master closes the read end of this pipe when it goes away; the write
  // end we hold then reports an error.
  // The wait alone does not prove it (see poll_now).
  asio::posix::stream_descriptor dead(io_, kMasterDeadFd);
  for (;;) {
    asio::error_code ec;
    co_await dead.async_wait(asio::posix::descriptor_base::wait_error,
                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec || (poll_now(kMasterDeadFd, 0) & (POLLERR | POLLHUP)) != 0) break;
  }
  log_info("Dovecot's master is gone; shutting down");
  shut_down_();
}

}  // namespace anvil
