// The only translation unit that includes Beast and Asio (they take long to compile).
#include "http/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <optional>
#include <thread>
#include <vector>

namespace shoal::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

struct Server::Impl {
  ServerOptions options;
  RequestHandler handler;
  std::atomic<std::size_t> connections{0};  // declared before ioc: sessions die with ioc
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;

  Impl(ServerOptions o, RequestHandler h)
      : options(std::move(o)), handler(std::move(h)), ioc(std::max(1, options.threads)) {}
  void accept();
};

namespace {

// One connection: reads requests one after another (keep-alive), hands each to the handler and
// writes its response. Lives as long as an asynchronous operation or a pending Responder holds it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  static constexpr std::size_t kReadBufferBytes = 8192;  // per connection

  Session(tcp::socket socket, Server::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    // Rationale: Beast reads max(512, free capacity) bytes per call, so an empty buffer takes a
    // 1.4 KB collect request in three recv calls; with this reserve it takes one.
    buffer_.reserve(kReadBufferBytes);
  }
  ~Session() { server_.connections.fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }
  // Answers 503 and closes: the server is at its connection cap.
  void reject() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->write(error_response(503, "too many connections; retry shortly"), false);
    });
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    stream_.expires_after(server_.options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec) return fail(ec);
    auto& header = parser_->get();
    if (auto length = parser_->content_length();
        length && *length > server_.options.max_body_bytes) {
      return write(too_large(), false);
    }
    if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
      // Clients such as curl wait for this before sending a larger body.
      auto go_on = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                         11);
      stream_.expires_after(server_.options.write_timeout);
      bhttp::async_write(stream_, *go_on,
                         [self = shared_from_this(), go_on](beast::error_code wec, std::size_t) {
                           if (wec) return self->close();
                           self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(server_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_body(ec);
                      });
  }

  void on_body(beast::error_code ec) {
    if (ec) return fail(ec);
    dispatch();
  }

  Response too_large() const {
    return error_response(413, "request body larger than the limit of " +
                                   std::to_string(server_.options.max_body_bytes) + " bytes");
  }

  void fail(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return write(too_large(), false);
    if (ec == bhttp::error::header_limit) {
      return write(error_response(431, "request headers too large"), false);
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return write(error_response(400, "malformed HTTP request: " + ec.message()), false);
    }
    close();  // timeouts, resets, the client closing
  }

  void dispatch() {
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    auto url = boost::urls::parse_origin_form(request.target);
    if (!url) {
      return write(error_response(400, "malformed request target"), false);
    }
    for (auto segment : url->segments()) request.segments.emplace_back(segment);
    for (auto param : url->params()) {
      request.query.emplace_back(param.key, param.has_value ? param.value : std::string());
    }
    request.authorization = std::string(message[bhttp::field::authorization]);
    request.content_type = std::string(message[bhttp::field::content_type]);
    request.body = std::move(message.body());
    stream_.expires_never();  // the handler may wait for a commit; writing has its own timeout
    server_.handler(std::move(request), [self = shared_from_this()](Response response) {
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable {
                  self->write(std::move(response), self->keep_alive_);
                });
    });
  }

  void write(Response response, bool keep_alive) {
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), 11);
    message->set(bhttp::field::server, "shoal");
    message->set(bhttp::field::content_type, response.content_type);
    message->keep_alive(keep_alive);
    message->body() = std::move(response.body);
    message->prepare_payload();
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *message,
                       [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
                         if (ec || !message->keep_alive()) return self->close();
                         self->read_header();
                       });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  Server::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = false;
};

}  // namespace

void Server::Impl::accept() {
  acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec) {
      std::size_t open = connections.fetch_add(1, std::memory_order_relaxed) + 1;
      auto session = std::make_shared<Session>(std::move(socket), *this);
      if (open > options.max_connections) {
        session->reject();
      } else {
        session->start();
      }
    }
    accept();
  });
}

Server::Server(ServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { stop(); }

Status Server::start() {
  try {
    beast::error_code ec;
    auto address = net::ip::make_address(impl_->options.address, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        "listen address '" + impl_->options.address + "' is not an IP address");
    }
    tcp::endpoint endpoint(address, impl_->options.port);
    impl_->acceptor.emplace(impl_->ioc);
    impl_->acceptor->open(endpoint.protocol(), ec);
    if (!ec) impl_->acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor->bind(endpoint, ec);
    if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      impl_->acceptor.reset();
      return make_error(ErrorCode::kUnavailable, "cannot listen on " + impl_->options.address +
                                                     ":" + std::to_string(impl_->options.port) +
                                                     ": " + ec.message());
    }
    impl_->port = impl_->acceptor->local_endpoint().port();
    impl_->accept();
    for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
      impl_->threads.emplace_back([this] { impl_->ioc.run(); });
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("starting the HTTP server: ") + e.what());
  }
  return ok_status();
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::stop() {
  if (impl_->acceptor) {
    net::post(impl_->ioc, [this] {
      beast::error_code ec;
      impl_->acceptor->close(ec);
    });
  }
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace shoal::http
