// The native path's load for bench/dovecot_bench.py: K service processes,
// each with its own libanvil Client, register N sessions each (a user,
// client address and port, local port, proxy destination and one
// alternative name), then unregister them. A phase ends when every process
// has had anvild answer a COUNT sent after its last line, so the figures
// are anvild's work, not the socket buffers'.
//
//   native_load <service socket> <processes> <sessions per process> <anvild pid>
//   native_load <service socket> <processes> <sessions per process> <anvild pid>
//               kick <anvilctl> <admin socket>
//   native_load <service socket> <processes> <sessions per process> <anvild pid>
//               hold <first session number>
//
// Prints: "register <sessions/s>", "bytes <RSS growth per session>" and
// "unregister <sessions/s>", each rate also per second of CPU anvild used
// ("register_per_anvild_cpu_second"...): on a machine with fewer cores
// than processes the clients take CPU from anvild, and this figure says
// what anvild itself can take. With kick, instead of unregistering, the
// sessions (all in 10.0.0.0/8) are kicked by one `anvilctl kick` of that
// network: "kick_told <s>" is when the last process was told (its kick
// handler ran), "kick_anvilctl <s>" when anvilctl returned, both from the
// start of the kick. With hold (bench/cluster_bench.py), the sessions are
// numbered from the given number on, "ready" is printed once all are
// registered, and the processes then stay, answering kicks, until standard
// input ends.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "anvil/client.h"

namespace {

long rss_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value * 1024;
    }
  }
  return 0;
}

// Drives the client until `done` holds and nothing is left to write.
template <typename Done>
void pump(anvil::Client& client, Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!(done() && !client.wants_write())) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "native_load: timed out\n");
      std::exit(1);
    }
    pollfd entry{client.fd(), static_cast<short>(POLLIN | (client.wants_write() ? POLLOUT : 0)), 0};
    int timeout = client.timeout_ms();
    if (entry.fd >= 0) poll(&entry, 1, timeout < 0 || timeout > 100 ? 100 : timeout);
    client.process();
  }
}

// Waits until anvild has read everything sent so far.
void sync(anvil::Client& client) {
  bool answered = false;
  client.query_counts(
      "192.0.2.1", "nobody", [&](auto) { answered = true; }, std::chrono::seconds(60));
  pump(client, [&] { return answered; });
}

// CPU seconds (user and system) the process has used.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));  // past "pid (comm) "
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field && i <= 15; i++) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double monotonic_seconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Answers kicks until go_fd ends (hold).
void hold(anvil::Client& client, int go_fd) {
  for (;;) {
    pollfd entries[2] = {
        {client.fd(), static_cast<short>(POLLIN | (client.wants_write() ? POLLOUT : 0)), 0},
        {go_fd, POLLIN, 0}};
    poll(entries, 2, 100);
    if (entries[1].revents) std::exit(0);
    client.process();
  }
}

void child(const std::string& socket, int index, long sessions, int go_fd, int done_fd, int told_fd,
           long first = 0, bool holding = false) {
  anvil::Client client({.socket_path = socket, .service = "imap"});
  std::size_t kicked = 0;
  client.set_kick_handler([&](const std::vector<anvil::ConnectionId>& ids, const std::string&) {
    if (kicked == 0 && told_fd >= 0) {
      double at = monotonic_seconds();
      if (write(told_fd, &at, sizeof at) != sizeof at) std::exit(1);
    }
    kicked += ids.size();
    return ids;
  });
  pump(client, [&] { return client.connected(); });
  char byte = 0;
  if (write(done_fd, &byte, 1) != 1 || read(go_fd, &byte, 1) != 1) std::exit(1);
  std::vector<anvil::ConnectionId> ids;
  ids.reserve(static_cast<std::size_t>(sessions));
  for (long i = 0; i < sessions; i++) {
    long n = first + index * sessions + i;
    std::string user = "user" + std::to_string(n / 3) + "@example.com";
    anvil::SessionInfo info{.user = user,
                            .client_ip = "10." + std::to_string((n >> 16) & 255) + "." +
                                         std::to_string((n >> 8) & 255) + "." +
                                         std::to_string(n & 255),
                            .client_port = static_cast<std::uint16_t>(1024 + n % 60000),
                            .local_port = 143,
                            .dest_ip = "192.168.0." + std::to_string(n % 4),
                            .dest_port = 143,
                            .alt_names = {{"user_email", user}}};
    ids.push_back(client.register_session(info));
    if (client.wants_write() && i % 1024 == 0) client.process();
  }
  sync(client);
  if (holding) {
    if (write(done_fd, &byte, 1) != 1) std::exit(1);
    hold(client, go_fd);
  }
  if (write(done_fd, &byte, 1) != 1 || read(go_fd, &byte, 1) != 1) std::exit(1);
  if (told_fd >= 0) {  // kicked, not unregistered: answer until every session went
    pump(client, [&] { return kicked == ids.size(); });
    std::exit(0);
  }
  for (const anvil::ConnectionId& id : ids) client.unregister_session(id);
  sync(client);
  if (write(done_fd, &byte, 1) != 1) std::exit(1);
  std::exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  bool kick = argc == 8 && std::string(argv[5]) == "kick";
  bool holding = argc == 7 && std::string(argv[5]) == "hold";
  if (argc != 5 && !kick && !holding) {
    std::fprintf(stderr,
                 "usage: native_load <socket> <processes> <sessions each> <anvild pid> "
                 "[kick <anvilctl> <admin socket> | hold <first>]\n");
    return 64;
  }
  std::string socket = argv[1];
  int processes = std::atoi(argv[2]);
  long sessions = std::atol(argv[3]);
  pid_t anvild = static_cast<pid_t>(std::atol(argv[4]));
  int go[2], done[2], told[2];
  if (pipe(go) != 0 || pipe(done) != 0 || pipe(told) != 0) return 1;
  long first = holding ? std::atol(argv[6]) : 0;
  for (int k = 0; k < processes; k++) {
    if (fork() == 0) {
      if (holding) close(go[1]);  // so that the parent's end alone keeps it open
      child(socket, k, sessions, go[0], done[1], kick ? told[1] : -1, first, holding);
    }
  }
  auto wait_all = [&] {
    char byte;
    for (int k = 0; k < processes; k++) {
      if (read(done[0], &byte, 1) != 1) std::exit(1);
    }
  };
  auto release_all = [&] {
    std::string bytes(static_cast<std::size_t>(processes), 'x');
    if (write(go[1], bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      std::exit(1);
    }
  };
  wait_all();  // every process connected
  double total = static_cast<double>(sessions) * processes;
  long before = rss_bytes(anvild);
  double cpu = cpu_seconds(anvild);
  auto start = std::chrono::steady_clock::now();
  release_all();
  wait_all();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("register %.0f\n", total / seconds);
  std::printf("register_per_anvild_cpu_second %.0f\n", total / (cpu_seconds(anvild) - cpu));
  std::printf("bytes %.1f\n", static_cast<double>(rss_bytes(anvild) - before) / total);
  if (holding) {
    std::printf("ready\n");
    std::fflush(stdout);
    char byte;
    while (read(STDIN_FILENO, &byte, 1) > 0) {
    }
    close(go[1]);  // the processes leave
    while (wait(nullptr) > 0) {
    }
    return 0;
  }
  if (kick) {
    release_all();  // the processes wait for their kick
    double begin = monotonic_seconds();
    std::string command = std::string(argv[6]) + " kick -a " + argv[7] + " 10.0.0.0/8 >/dev/null";
    if (std::system(command.c_str()) != 0) std::fprintf(stderr, "native_load: kick failed\n");
    double returned = monotonic_seconds() - begin;
    double last = 0;
    for (int k = 0; k < processes; k++) {
      double at = 0;
      if (read(told[0], &at, sizeof at) != sizeof at) return 1;
      last = std::max(last, at - begin);
    }
    std::printf("kick_told %.3f\nkick_anvilctl %.3f\n", last, returned);
    while (wait(nullptr) > 0) {
    }
    return 0;
  }
  cpu = cpu_seconds(anvild);
  start = std::chrono::steady_clock::now();
  release_all();
  wait_all();
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("unregister %.0f\n", total / seconds);
  std::printf("unregister_per_anvild_cpu_second %.0f\n", total / (cpu_seconds(anvild) - cpu));
  while (wait(nullptr) > 0) {
  }
  return 0;
}
