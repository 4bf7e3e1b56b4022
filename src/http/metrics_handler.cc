// GET /healthz and GET /metrics (Prometheus text); both public, as probes and scrapers expect.
#include "http/handlers.h"

namespace shoal::http {

void add_metrics_routes(Router& router, ApiContext& context) {
  router.add("GET", "/healthz", Access::kPublic, [&context](Request&, Responder respond) {
    if (!context.partition.running()) {
      return respond(error_response(503, "the engine is not running"));
    }
    respond(envelope(200, "ok", "{\"engine\":\"running\"}"));
  });
  router.add("GET", "/metrics", Access::kPublic, [&context](Request&, Responder respond) {
    Response response;
    response.content_type = "text/plain; version=0.0.4";
    render_engine_metrics(context.partition.stats(), response.body);
    if (context.jobs) render_job_metrics(context.jobs->list(), response.body);
    context.metrics.render(response.body);
    respond(std::move(response));
  });
}

}  // namespace shoal::http
