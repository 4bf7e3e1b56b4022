#pragma once
// HttpClient: HTTP/1.1 requests over libcurl for the AWS API clients. Keeps a small pool of
// curl handles so connections stay alive between requests; every request has a connect and a
// whole-request timeout, TLS is verified by default, responses have a size limit, and
// cancel_all() ends in-flight and future requests promptly (for shutdown).
// Threading: send() and cancel_all() are thread-safe; concurrent sends use different handles.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aws/http_types.h"
#include "core/result.h"

namespace shoal::aws {

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // the whole request, connect included
  std::size_t max_response_bytes = 64u << 20;
  std::string ca_bundle;  // a PEM file of trusted CAs; empty = the system's
  bool verify_tls = true;
  std::size_t max_idle_connections = 16;  // idle handles (each with its connection) kept
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and returns the response, whatever its status. Errors: kInvalidArgument
  // (bad URL), kTimeout, kUnavailable (connect, reset, TLS, truncated response),
  // kResourceExhausted (response larger than max_response_bytes), kCancelled.
  // Messages name the method and host, never headers or bodies.
  Result<HttpResponse> send(const HttpRequest& request);

  // Makes every in-flight and future send() return kCancelled. Irreversible.
  void cancel_all();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Slot;
  std::unique_ptr<Slot> acquire();
  void release(std::unique_ptr<Slot> slot);

  HttpClientOptions options_;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> idle_;
  std::vector<Slot*> active_;
};

}  // namespace shoal::aws
