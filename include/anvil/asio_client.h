// Drives an anvil::Client from an Asio executor (standalone Asio). Header
// only, so that libanvil itself does not depend on Asio.
//
//   asio::io_context io;
//   anvil::Client client({.socket_path = path, .service = "imap"});
//   anvil::AsioClient driver(io.get_executor(), client);
//   driver.start();
//
// `client` must outlive the driver; destroy the driver first.
#pragma once

#include <asio.hpp>
#include <memory>

#include "anvil/client.h"

namespace anvil {

class AsioClient {
 public:
  AsioClient(const asio::any_io_executor& executor, Client& client)
      : client_(client),
        descriptor_(executor),
        timer_(executor),
        alive_(std::make_shared<bool>(true)) {}
  ~AsioClient() {
    *alive_ = false;
    client_.set_wakeup(nullptr);
    release();
  }
  AsioClient(const AsioClient&) = delete;
  AsioClient& operator=(const AsioClient&) = delete;

  void start() {
    client_.set_wakeup([this, alive = alive_] {
      asio::post(timer_.get_executor(), [this, alive] {
        if (*alive) step();
      });
    });
    step();
  }

 private:
  // Runs the client, then waits for whatever it needs next. Each wait
  // carries the generation it was started in; a wait on an fd the client has
  // since replaced is stale and ignored.
  void step() {
    client_.process();
    int fd = client_.fd();
    if (fd != fd_) {
      release();
      generation_++;
      reading_ = writing_ = false;
      if (fd >= 0) descriptor_.assign(fd);
      fd_ = fd;
    }
    auto alive = alive_;
    std::uint64_t generation = generation_;
    if (fd_ >= 0 && !reading_) {
      reading_ = true;
      descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                             [this, alive, generation](const asio::error_code& ec) {
                               if (!*alive || generation != generation_) return;
                               reading_ = false;
                               if (!ec) step();
                             });
    }
    if (fd_ >= 0 && client_.wants_write() && !writing_) {
      writing_ = true;
      descriptor_.async_wait(asio::posix::descriptor_base::wait_write,
                             [this, alive, generation](const asio::error_code& ec) {
                               if (!*alive || generation != generation_) return;
                               writing_ = false;
                               if (!ec) step();
                             });
    }
    int timeout = client_.timeout_ms();
    if (timeout >= 0) {
      timer_.expires_after(std::chrono::milliseconds(timeout));
      timer_.async_wait([this, alive](const asio::error_code& ec) {
        if (*alive && !ec) step();
      });
    }
  }

  // The descriptor never owns the fd: the Client does.
  void release() {
    if (descriptor_.is_open()) {
      descriptor_.cancel();
      descriptor_.release();
    }
  }

  Client& client_;
  asio::posix::stream_descriptor descriptor_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> alive_;
  int fd_ = -1;
  std::uint64_t generation_ = 0;
  bool reading_ = false;
  bool writing_ = false;
};

}  // namespace anvil
