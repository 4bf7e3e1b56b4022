#include "tests/support/http_test_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <cctype>
#include <condition_variable>
#include <map>
#include <thread>

namespace shoal::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

constexpr std::uint64_t kMaxRequestBodyBytes = 256u << 20;

}  // namespace

std::string_view find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

std::string_view TestHttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view TestHttpRequest::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

TestHttpResponse TestHttpResponse::text(int status, std::string body, std::string content_type) {
  TestHttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", std::move(content_type));
  response.body = std::move(body);
  return response;
}

struct HttpTestServer::Impl {
  struct Connection {
    std::unique_ptr<tcp::socket> socket;
    std::thread thread;
    bool finished = false;
  };

  explicit Impl(HttpTestServer& server) : owner(server), acceptor(io) {}

  void accept_next() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // the acceptor was closed by stop()
      reap_finished();
      std::uint64_t id = ++owner.connections_accepted_;
      {
        std::lock_guard lock(mutex);
        if (stopping) return;
        auto& connection = connections[id];
        connection.socket = std::make_unique<tcp::socket>(std::move(socket));
        connection.thread = std::thread([this, id, s = connection.socket.get()] { serve(id, *s); });
      }
      accept_next();
    });
  }

  void reap_finished() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mutex);
      for (auto it = connections.begin(); it != connections.end();) {
        if (it->second.finished) {
          done.push_back(std::move(it->second.thread));
          it = connections.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& t : done) t.join();
  }

  // Closes the connection's socket under the lock, so stop() never touches a closed descriptor.
  void finish(std::uint64_t id, tcp::socket& socket, bool reset) {
    std::lock_guard lock(mutex);
    boost::system::error_code ignored;
    if (reset) {
      socket.set_option(asio::socket_base::linger(true, 0), ignored);
    } else {
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
    socket.close(ignored);
    connections[id].finished = true;
  }

  // Returns false when stop() interrupted the wait.
  bool wait_for(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex);
    return !stop_cv.wait_for(lock, delay, [this] { return stopping; });
  }

  void serve(std::uint64_t id, tcp::socket& socket) {
    beast::flat_buffer buffer;
    bool reset = false;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(kMaxRequestBodyBytes);
      boost::system::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) break;
      auto& message = parser.get();

      TestHttpRequest request;
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      for (const auto& field : message) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      request.body = std::move(message.body());
      request.connection_id = id;
      ++owner.requests_received_;

      TestHttpHandler handler = owner.handler_copy();
      TestHttpResponse answer = handler ? handler(request)
                                        : TestHttpResponse::text(500, "no handler installed");

      if (answer.delay.count() > 0 && !wait_for(answer.delay)) break;
      if (answer.reset) {
        reset = true;
        break;
      }

      http::response<http::string_body> response;
      response.version(11);
      response.result(static_cast<unsigned>(answer.status));
      bool has_length = false;
      for (const auto& [name, value] : answer.headers) {
        if (iequals(name, "Content-Length")) has_length = true;
        response.insert(name, value);
      }
      response.body() = std::move(answer.body);
      if (!has_length) response.content_length(response.body().size());
      bool keep_alive = message.keep_alive() && !answer.close_connection && !answer.truncate_body;
      response.keep_alive(keep_alive);

      if (answer.truncate_body) {
        http::response_serializer<http::string_body> serializer{response};
        http::write_header(socket, serializer, ec);
        std::size_t n = std::min(*answer.truncate_body, response.body().size());
        if (!ec && n > 0) asio::write(socket, asio::buffer(response.body().data(), n), ec);
        break;
      }
      http::write(socket, response, ec);
      if (ec || !keep_alive) break;
    }
    finish(id, socket, reset);
  }

  HttpTestServer& owner;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread io_thread;
  std::mutex mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::map<std::uint64_t, Connection> connections;
};

HttpTestServer::HttpTestServer(TestHttpHandler handler) : handler_(std::move(handler)) {}

HttpTestServer::~HttpTestServer() { stop(); }

Status HttpTestServer::start() {
  if (impl_) return make_error(ErrorCode::kFailedPrecondition, "test server already started");
  impl_ = std::make_unique<Impl>(*this);
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_.reset();
    return make_error(ErrorCode::kUnavailable, "test server cannot listen on 127.0.0.1: " +
                                                   ec.message());
  }
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_next();
  impl_->io_thread = std::thread([impl = impl_.get()] { impl->io.run(); });
  return ok_status();
}

void HttpTestServer::stop() {
  if (!impl_) return;
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io_thread.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    for (auto& [id, connection] : impl_->connections) {
      // shutdown() wakes a thread blocked in read(); its socket is closed by that thread.
      if (!connection.finished) ::shutdown(connection.socket->native_handle(), SHUT_RDWR);
      threads.push_back(std::move(connection.thread));
    }
  }
  impl_->stop_cv.notify_all();
  for (auto& t : threads) t.join();
  impl_.reset();
}

std::string HttpTestServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void HttpTestServer::set_handler(TestHttpHandler handler) {
  std::lock_guard lock(handler_mutex_);
  handler_ = std::move(handler);
}

TestHttpHandler HttpTestServer::handler_copy() {
  std::lock_guard lock(handler_mutex_);
  return handler_;
}

}  // namespace shoal::test
