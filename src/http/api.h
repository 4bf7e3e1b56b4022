#pragma once
// Api: shoal's REST API over one Partition. Routes requests (404/405), checks API keys
// (401/403), runs each endpoint group's handler (one *_handler.cc per group), turns exceptions
// into 500s and records metrics. handle() is thread-safe and is the Server's RequestHandler.
#include <memory>

#include "core/clock.h"
#include "engine/partition.h"
#include "http/api_keys.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/router.h"
#include "storage/store.h"

namespace shoal::http {

struct ApiOptions {
  std::size_t max_rejections_listed = 100;  // per collect response
};

// What every handler may use.
struct ApiContext {
  engine::Partition& partition;
  ApiKeys& keys;
  storage::Store& store;
  const Clock& clock;
  HttpMetrics& metrics;
  ApiOptions options;
};

class Api {
 public:
  Api(engine::Partition& partition, ApiKeys& keys, storage::Store& store, const Clock& clock,
      ApiOptions options = {});
  void handle(Request request, Responder respond);
  HttpMetrics& metrics() { return metrics_; }

 private:
  HttpMetrics metrics_;
  ApiContext context_;
  Router router_;
};

}  // namespace shoal::http
