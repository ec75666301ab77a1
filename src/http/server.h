// anvil-httpd's HTTP side, on Boost.Beast: listeners (plain and TLS), one
// coroutine per connection, the limits that keep a client from costing
// more than a socket and a bounded buffer (max_clients, header and body
// sizes, request_timeout), authentication, and the hand-off of API
// requests to the worker threads that talk to anvild.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>
#include <vector>

#include "http/api.h"
#include "http/credentials.h"
#include "http/http_config.h"

namespace anvil {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const HttpConfig& config, const Credentials& credentials,
             Api& api);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Opens every listener and prints "listening http(s) <address>" for each
  // on stdout. "" or an error sentence.
  std::string start();
  // Stops accepting; connections end after their current request.
  void stop();
  // Requests still waiting on anvild (for a quick exit).
  std::size_t busy() const { return busy_; }

  struct Listener;
  struct Connection;

 private:
  boost::asio::io_context& io_;
  const HttpConfig& config_;
  const Credentials& credentials_;
  Api& api_;
  boost::asio::thread_pool workers_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::size_t clients_ = 0;  // on the io thread only
  std::atomic<std::size_t> busy_ = 0;
  bool stopping_ = false;

  friend struct Connection;
};

}  // namespace anvil
