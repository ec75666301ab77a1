// A C++ service built against an installed libanvil through its CMake
// package: registers one session for the user given, prints "registered
// <id>", and waits until anvild kicks it; then prints "kicked <id>
// <reason>" and exits 0. Exits 1 after 30 seconds without a kick.
// Usage: register_cxx SOCKET USER
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <anvil/client.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: register_cxx SOCKET USER\n");
    return 2;
  }
  anvil::Client client({.socket_path = argv[1], .service = "cxx-service"});
  anvil::ConnectionId session;
  bool kicked = false;
  client.set_kick_handler(
      [&](const std::vector<anvil::ConnectionId>& ids, const std::string& reason) {
        std::vector<anvil::ConnectionId> dropped;
        if (std::find(ids.begin(), ids.end(), session) != ids.end()) {
          std::printf("kicked %s %s\n", session.to_hex().c_str(), reason.c_str());
          dropped.push_back(session);
          kicked = true;
        }
        return dropped;
      });
  std::string error;
  session = client.register_session({.user = argv[2], .client_ip = "127.0.0.1"}, &error);
  if (session.is_zero()) {
    std::fprintf(stderr, "register: %s\n", error.c_str());
    return 1;
  }
  std::printf("registered %s\n", session.to_hex().c_str());
  std::fflush(stdout);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!kicked && std::chrono::steady_clock::now() < deadline) {
    pollfd watch{client.fd(), static_cast<short>(POLLIN | (client.wants_write() ? POLLOUT : 0)), 0};
    int timeout = client.timeout_ms();
    poll(&watch, watch.fd < 0 ? 0 : 1, timeout < 0 || timeout > 100 ? 100 : timeout);
    client.process();
  }
  std::fflush(stdout);
  return kicked ? 0 : 1;
}
