#pragma once
// The trigger export's ties to the HTTP layer: the sink factory (Kinesis credentials from a
// stored authorization, else the server's default chain; webhooks) and the `kinesis_export`
// workflow for `/api/work`, whose jobs are subscriptions (job config = the subscription body).
// Thread-safe; lives as long as the exporter and the Jobs that use it.
#include <cstdint>
#include <memory>
#include <string>

#include "aws/http_client.h"
#include "export/exporter.h"
#include "http/authorizations.h"
#include "http/jobs.h"

namespace shoal::http {

// How a kinesis_export job follows its subscription's delivery.
struct ExportJobOptions {
  // A delivery error that lasts this long (with no accepted call since) puts the job in
  // `error` with the message, which pauses the subscription; resuming the job retries at once.
  std::int64_t error_after_ms = 10000;
  std::int64_t poll_ms = 250;  // how often the runner looks at the subscription
};

class ExportWiring {
 public:
  // `authorizations` may be null (only the default credential chain then).
  ExportWiring(Authorizations* authorizations, std::string sts_endpoint);
  exports::SinkFactory sink_factory();
  // `exporter` must outlive the returned workflow's jobs.
  Workflow workflow(exports::Exporter& exporter);
  // The same with an injected clock (error durations) and options; `clock` outlives the jobs.
  Workflow workflow(exports::Exporter& exporter, const Clock& clock, ExportJobOptions options);

 private:
  Authorizations* authorizations_;
  std::string sts_endpoint_;
  std::shared_ptr<aws::HttpClient> sts_http_;  // shared with the credential providers it feeds
};

// Resolves a subscription's `role_arn` into an authorization: the stored role authorization
// for that ARN, or a new one (with a generated ExternalId). Sets auth_id and external_id.
Status resolve_role(Authorizations* authorizations, exports::Subscription& subscription,
                    TimestampMs now);

}  // namespace shoal::http
