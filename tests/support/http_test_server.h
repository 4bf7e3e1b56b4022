#pragma once
// HttpTestServer: a small HTTP/1.1 server on 127.0.0.1 for tests, answering every request with a
// handler. Responses can carry faults (delay, reset, truncated body) so the same server serves as
// a protocol peer, a fault layer, or a stand-in for an AWS endpoint.
// Threading: start() starts an accept thread and one thread per connection; the handler runs on
// the connection's thread and may be called concurrently for different connections.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace shoal::test {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header named `name`; empty when absent.
std::string_view find_header(const HeaderList& headers, std::string_view name);

struct TestHttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent: "/a/b?x=1"
  HeaderList headers;  // in the order received, names as sent
  std::string body;
  std::uint64_t connection_id = 0;  // 1, 2, ... in accept order; equal ids share a connection

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
  std::string_view path() const;   // target before '?'
  std::string_view query() const;  // target after '?', empty when none
};

struct TestHttpResponse {
  int status = 200;
  HeaderList headers;  // Content-Length is added unless `headers` has one
  std::string body;

  // Faults, applied in this order.
  std::chrono::milliseconds delay{0};         // wait before answering (cut short by stop())
  bool reset = false;                         // close the connection with a TCP RST, no answer
  std::optional<std::size_t> truncate_body;   // send the full Content-Length, only this many
                                              // body bytes, then close
  bool close_connection = false;              // "Connection: close" and close after answering

  static TestHttpResponse text(int status, std::string body,
                               std::string content_type = "text/plain");
};

using TestHttpHandler = std::function<TestHttpResponse(const TestHttpRequest&)>;

class HttpTestServer {
 public:
  explicit HttpTestServer(TestHttpHandler handler);
  ~HttpTestServer();  // stop()s
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  // Binds 127.0.0.1 on a free port and starts serving.
  Status start();
  // Closes the listener and every connection, then joins all threads. Idempotent.
  void stop();

  std::uint16_t port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  std::size_t connections_accepted() const { return connections_accepted_.load(); }
  std::size_t requests_received() const { return requests_received_.load(); }

  // Replaces the handler; safe while serving (requests after the call use the new one).
  void set_handler(TestHttpHandler handler);

 private:
  struct Impl;
  friend struct Impl;

  TestHttpHandler handler_copy();

  std::unique_ptr<Impl> impl_;
  std::mutex handler_mutex_;
  TestHttpHandler handler_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_accepted_{0};
  std::atomic<std::size_t> requests_received_{0};
};

}  // namespace shoal::test
