#pragma once
// Server: the HTTP/1.1 listener (Boost.Beast, kept out of this header). A few I/O threads run
// every connection asynchronously; requests are read with a header and a body timeout and a body
// size limit (413), connections beyond the cap are answered 503 and closed, keep-alive is
// honoured. Each request goes to one RequestHandler, whose Responder may be called from any
// thread. start() binds and starts the threads; stop() closes everything and joins them.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/request.h"

namespace shoal::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8470;  // 0 picks a free port (see Server::port())
  int threads = 2;
  std::size_t max_body_bytes = 16u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::chrono::milliseconds header_timeout{10000};  // also the idle keep-alive timeout
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  std::size_t max_connections = 4096;
};

using RequestHandler = std::function<void(Request, Responder)>;

class Server {
 public:
  Server(ServerOptions options, RequestHandler handler);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  // The bound port (after start()).
  std::uint16_t port() const;
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::http
