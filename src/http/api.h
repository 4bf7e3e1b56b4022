#pragma once
// Api: shoal's REST API over one Partition. Routes requests (404/405), checks API keys
// (401/403), runs each endpoint group's handler (one *_handler.cc per group), turns exceptions
// into 500s and records metrics. handle() is thread-safe and is the Server's RequestHandler.
#include <memory>

#include "aws/http_client.h"
#include "core/clock.h"
#include "engine/partition.h"
#include "http/api_keys.h"
#include "http/authorizations.h"
#include "http/jobs.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/router.h"
#include "storage/store.h"

namespace shoal::exports {
class Exporter;
}  // namespace shoal::exports

namespace shoal::http {

struct ApiOptions {
  std::size_t max_rejections_listed = 100;  // per collect response
  // AWS endpoints for `/api/auth/{id}/_test` and `/api/aws/...`; empty = AWS itself. Tests point
  // them at the local emulators.
  std::string kinesis_endpoint;
  std::string sts_endpoint;
  std::string default_region = "us-east-1";
};

// What every handler may use.
struct ApiContext {
  engine::Partition& partition;
  ApiKeys& keys;
  storage::Store& store;
  const Clock& clock;
  HttpMetrics& metrics;
  ApiOptions options;
  Authorizations* authorizations;  // null: /api/auth answers 503
  Jobs* jobs;                      // null: /api/work answers 503
  aws::HttpClient& aws_http;
  exports::Exporter* exporter = nullptr;  // null: /api/subscription answers 503
};

class Api {
 public:
  Api(engine::Partition& partition, ApiKeys& keys, storage::Store& store, const Clock& clock,
      ApiOptions options = {}, Authorizations* authorizations = nullptr, Jobs* jobs = nullptr);
  void handle(Request request, Responder respond);
  HttpMetrics& metrics() { return metrics_; }
  // The trigger export behind /api/subscription (set before the server starts).
  void set_exporter(exports::Exporter* exporter) { context_.exporter = exporter; }

 private:
  HttpMetrics metrics_;
  aws::HttpClient aws_http_;
  ApiContext context_;
  Router router_;
};

}  // namespace shoal::http
