#include "http/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>

#include "common/log.h"
#include "common/user_mask.h"
#include "http/web_assets.h"

namespace anvil {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::use_awaitable;
using tcp = net::ip::tcp;

// A request must hold exactly one Transfer-Encoding, "chunked", or none: any
// other coding leaves its length to guesswork, which is what request
// smuggling lives on.
bool acceptable_transfer_encoding(const http::request<http::string_body>& request) {
  std::size_t count = 0;
  for (const auto& field : request.base()) {
    if (field.name() != http::field::transfer_encoding) continue;
    if (++count > 1) return false;
    std::string_view value(field.value().data(), field.value().size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (ascii_fold(value) != "chunked") return false;
  }
  return true;
}

bool header_equals(const http::request<http::string_body>& request, http::field name,
                   std::string_view expected) {
  auto it = request.find(name);
  return it != request.end() &&
         ascii_fold(std::string_view(it->value().data(), it->value().size())) == ascii_fold(expected);
}

}  // namespace

struct HttpServer::Listener {
  tcp::acceptor acceptor;
  bool tls;
};

struct HttpServer::Connection {
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  static Response respond(const Request* request, unsigned version, ApiResponse answer) {
    Response response{static_cast<http::status>(answer.status), version};
    response.set(http::field::server, "anvil-httpd");
    if (!answer.body.empty() || answer.status != 401) {
      response.set(http::field::content_type, answer.content_type);
    }
    response.set(http::field::cache_control, "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : answer.headers) response.insert(name, value);
    response.body() = std::move(answer.body);
    response.keep_alive(request ? request->keep_alive() : false);
    response.prepare_payload();
    return response;
  }

  static ApiResponse plain(int status, std::string text) {
    return {status, "text/plain; charset=utf-8", std::move(text) + "\n"};
  }

  // What the server answers without anvild: the web page, 401s, 404s.
  static std::optional<ApiResponse> local_answer(HttpServer& server, const Request& request,
                                                 std::optional<Principal>* principal) {
    std::string_view target(request.target().data(), request.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (!Api::handles(path)) {
      const WebAsset* asset = find_web_asset(path == "/" ? "/index.html" : path);
      if (!asset) return plain(404, "not found");
      if (request.method() != http::verb::get && request.method() != http::verb::head) {
        return plain(405, "use GET");
      }
      ApiResponse page{200, std::string(asset->content_type), std::string(asset->body)};
      page.headers = {{"Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                       "form-action 'none'; base-uri 'none'"},
                      {"X-Frame-Options", "DENY"},
                      {"Referrer-Policy", "no-referrer"}};
      return page;
    }
    auto authorization = request.find(http::field::authorization);
    if (authorization != request.end()) {
      *principal = server.credentials_.authenticate(
          std::string_view(authorization->value().data(), authorization->value().size()));
    }
    if (!*principal) {
      // Nothing but the challenge: no hint of what exists or why it failed.
      ApiResponse refused{401, "", ""};
      refused.headers = {{"WWW-Authenticate", "X-Dovecot-API"}};
      // The web view (X-Anvil-Web) asks for no Basic challenge: browsers
      // answer one with a login box over the page's own key field.
      if (request.find("X-Anvil-Web") == request.end()) {
        refused.headers.insert(refused.headers.begin(),
                               {"WWW-Authenticate", "Basic realm=\"anvil\""});
      }
      return refused;
    }
    if (server.busy_ >= server.config_.anvild_workers * 8) {
      ApiResponse busy = plain(503, "too many requests waiting for anvild");
      busy.headers = {{"Retry-After", "1"}};
      return busy;
    }
    return std::nullopt;
  }

  template <typename Stream>
  static net::awaitable<void> serve(HttpServer& server, Stream& stream, const std::string& client) {
    const HttpConfig& config = server.config_;
    beast::flat_buffer buffer(config.max_header_size + config.max_body_size + 65536);
    while (!server.stopping_) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.max_header_size));
      parser.body_limit(config.max_body_size);
      beast::get_lowest_layer(stream).expires_after(config.request_timeout);
      boost::system::error_code ec;
      co_await http::async_read_header(stream, buffer, parser,
                                       net::redirect_error(use_awaitable, ec));
      std::optional<ApiResponse> refusal;
      if (!ec && !acceptable_transfer_encoding(parser.get())) {
        refusal = plain(400, "bad request: unsupported Transfer-Encoding");
      } else if (!ec) {
        if (header_equals(parser.get(), http::field::expect, "100-continue")) {
          http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
          co_await http::async_write(stream, go_on, net::redirect_error(use_awaitable, ec));
          if (ec) co_return;
        }
        co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
      }
      if (ec == http::error::header_limit) {
        refusal = plain(431, "request header fields too large");
      } else if (ec == http::error::body_limit) {
        refusal = plain(413, "request body too large");
      } else if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                 ec == net::error::eof || ec == net::error::connection_reset ||
                 ec == net::error::operation_aborted) {
        co_return;
      } else if (ec) {
        refusal = plain(400, "bad request: " + ec.message());
      }
      if (refusal) {
        // Whatever follows a request that could not be read is not trusted
        // to be a request: the connection ends after this answer.
        Response response = respond(nullptr, 11, std::move(*refusal));
        beast::get_lowest_layer(stream).expires_after(config.request_timeout);
        co_await http::async_write(stream, response, net::redirect_error(use_awaitable, ec));
        co_return;
      }

      Request request = parser.release();
      std::optional<Principal> principal;
      std::optional<ApiResponse> answer = local_answer(server, request, &principal);
      if (!answer) {
        ApiRequest api_request{std::string(request.method_string()), std::string(request.target()),
                               std::move(request.body()), client};
        server.busy_++;
        // The answer is made on a worker thread (it may wait on anvild) and
        // handed back to this coroutine on the io thread.
        answer = co_await net::co_spawn(
            server.workers_,
            [&]() -> net::awaitable<ApiResponse> {
              co_return server.api_.handle(api_request, *principal);
            },
            use_awaitable);
        server.busy_--;
      }
      if (request.method() == http::verb::head) answer->body.clear();
      Response response = respond(&request, request.version(), std::move(*answer));
      bool keep_alive = response.keep_alive();
      beast::get_lowest_layer(stream).expires_after(config.request_timeout);
      co_await http::async_write(stream, response, net::redirect_error(use_awaitable, ec));
      if (ec || !keep_alive) co_return;
    }
  }

  static net::awaitable<void> run(HttpServer& server, tcp::socket socket, bool tls) {
    struct Count {
      HttpServer& server;
      ~Count() { server.clients_--; }
    } count{server};
    boost::system::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    std::string client = ec ? "?" : peer.address().to_string();
    beast::tcp_stream stream(std::move(socket));
    if (!tls) {
      co_await serve(server, stream, client);
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), *server.tls_);
    beast::get_lowest_layer(secure).expires_after(server.config_.request_timeout);
    co_await secure.async_handshake(net::ssl::stream_base::server,
                                    net::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    co_await serve(server, secure, client);
    beast::get_lowest_layer(secure).expires_after(std::chrono::seconds(2));
    co_await secure.async_shutdown(net::redirect_error(use_awaitable, ec));
  }

  static net::awaitable<void> accept(HttpServer& server, std::shared_ptr<Listener> listener) {
    bool warned = false;
    while (!server.stopping_) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await listener->acceptor.async_accept(net::redirect_error(use_awaitable, ec));
      if (server.stopping_ || ec == net::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors: wait a little rather than spin.
        log_warning("accept: {}", ec.message());
        net::steady_timer pause(server.io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(net::redirect_error(use_awaitable, ec));
        continue;
      }
      if (server.clients_ >= server.config_.max_clients) {
        if (!warned)
          log_warning("max_clients={} reached; refusing connections", server.config_.max_clients);
        warned = true;
        socket.close(ec);
        continue;
      }
      warned = false;
      server.clients_++;
      net::co_spawn(server.io_, run(server, std::move(socket), listener->tls), net::detached);
    }
  }
};

HttpServer::HttpServer(boost::asio::io_context& io, const HttpConfig& config,
                       const Credentials& credentials, Api& api)
    : io_(io),
      config_(config),
      credentials_(credentials),
      api_(api),
      workers_(config.anvild_workers) {}

HttpServer::~HttpServer() {
  workers_.stop();
  workers_.join();
}

std::string HttpServer::start() {
  if (!config_.tls_listen.empty()) {
    tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                      net::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    tls_->use_certificate_chain_file(config_.tls_cert, ec);
    if (ec) return "cannot read tls_cert " + config_.tls_cert + ": " + ec.message();
    tls_->use_private_key_file(config_.tls_key, net::ssl::context::pem, ec);
    if (ec) return "cannot read tls_key " + config_.tls_key + ": " + ec.message();
  }
  std::vector<std::pair<HostPort, bool>> wanted;
  for (const HostPort& where : config_.listen) wanted.emplace_back(where, false);
  for (const HostPort& where : config_.tls_listen) wanted.emplace_back(where, true);
  std::vector<std::string> lines;
  for (const auto& [where, tls] : wanted) {
    boost::system::error_code ec;
    auto address = net::ip::make_address(where.host, ec);
    if (ec) return "listen address must be an IP address: " + where.host;
    tcp::endpoint endpoint(address, where.port);
    auto listener = std::make_shared<Listener>(Listener{tcp::acceptor(io_), tls});
    tcp::acceptor& acceptor = listener->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return "cannot listen on " + format_host_port(where) + ": " + ec.message();
    auto bound = acceptor.local_endpoint(ec);
    lines.push_back(std::string("listening ") + (tls ? "https " : "http ") +
                    format_host_port({bound.address().to_string(), bound.port()}));
    listeners_.push_back(std::move(listener));
  }
  for (const auto& listener : listeners_) {
    net::co_spawn(io_, Connection::accept(*this, listener), net::detached);
  }
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return "";
}

void HttpServer::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  for (const auto& listener : listeners_) listener->acceptor.close(ec);
}

}  // namespace anvil
