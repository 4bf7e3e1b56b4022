#include "http/export_workflow.h"

#include <boost/json.hpp>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace shoal::http {
namespace {

// Keeps the STS client alive as long as the provider that uses it.
class OwningProvider final : public aws::CredentialsProvider {
 public:
  OwningProvider(std::shared_ptr<aws::HttpClient> http,
                 std::unique_ptr<aws::CredentialsProvider> inner)
      : http_(std::move(http)), inner_(std::move(inner)) {}
  Result<aws::Credentials> get(TimestampMs now) override { return inner_->get(now); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::shared_ptr<aws::HttpClient> http_;
  std::unique_ptr<aws::CredentialsProvider> inner_;
};

// The seed's export UI fields ("audiences", "stream_region", ...) mapped onto the subscription
// body, so a job's config may use either spelling.
std::string normalise_job_config(const Job& job) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(job.config_json, ec);
  if (ec || !v.is_object()) return job.config_json;
  boost::json::object o = v.as_object();
  auto alias = [&](const char* from, const char* to) {
    if (o.contains(from) && !o.contains(to)) o[to] = o[from];
  };
  alias("audiences", "segment_ids");
  alias("stream_region", "region");
  alias("user_identifier_field", "identifier_field");
  alias("export_fields", "fields");
  alias("existing_users", "withbackfill");
  alias("backfill", "withbackfill");
  if (!o.contains("name")) o["name"] = job.name;
  if (!o.contains("channel")) o["channel"] = "kinesis";
  if (!job.auth_ids.empty() && !o.contains("auth_id")) o["auth_id"] = job.auth_ids.front();
  return boost::json::serialize(o);
}

// A job's runner: the subscription delivers on its own thread; this one watches it and reports
// a delivery error that outlasts options.error_after_ms through JobEvents::fail. Destroying it
// pauses the subscription (pause, delete, error) and joins the watcher.
class ExportJobRunner final : public JobRunner {
 public:
  ExportJobRunner(exports::Exporter& exporter, std::string id, JobEvents events,
                  const Clock& clock, ExportJobOptions options)
      : exporter_(exporter),
        id_(std::move(id)),
        events_(std::move(events)),
        clock_(clock),
        options_(options),
        started_ms_(clock.now_ms()) {
    if (events_.fail) watcher_ = std::thread([this] { watch(); });
  }
  ~ExportJobRunner() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    (void)exporter_.set_paused(id_, true);
  }
  // The subscription's own delivery statistics are totals it keeps itself: they are published
  // as gauges, since Jobs would add counters to the job's stored totals at every pause.
  std::map<std::string, std::uint64_t> counters() const override { return {}; }
  std::map<std::string, std::uint64_t> gauges() const override {
    auto status = exporter_.get(id_);
    if (!status) return {};
    return {{"sent", status->delivery.sent},
            {"dead_lettered", status->delivery.dead_lettered},
            {"failed_attempts", status->delivery.failed_attempts},
            {"backfilled", status->backfill.done}};
  }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [&] { return stopping_; });
      if (stopping_) return;
      auto status = exporter_.get(id_);
      if (!status || status->state != "error") continue;
      // An error left from before this runner started (a resumed job) counts from the start.
      TimestampMs since = std::max(status->delivery.error_since_ms, started_ms_);
      if (clock_.now_ms() - since < options_.error_after_ms) continue;
      lock.unlock();
      events_.fail("delivery to the subscription's destination is failing: " + status->error);
      return;  // Jobs destroys this runner from another thread
    }
  }

  exports::Exporter& exporter_;
  std::string id_;
  JobEvents events_;
  const Clock& clock_;
  ExportJobOptions options_;
  TimestampMs started_ms_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

ExportWiring::ExportWiring(Authorizations* authorizations, std::string sts_endpoint)
    : authorizations_(authorizations),
      sts_endpoint_(std::move(sts_endpoint)),
      sts_http_(std::make_shared<aws::HttpClient>()) {}

exports::SinkFactory ExportWiring::sink_factory() {
  return [this](const exports::Subscription& s) -> Result<std::unique_ptr<exports::Sink>> {
    if (s.channel == exports::Channel::kWebhook) {
      return std::unique_ptr<exports::Sink>(new exports::WebhookSink(s));
    }
    std::unique_ptr<aws::CredentialsProvider> credentials;
    if (!s.auth_id.empty()) {
      if (!authorizations_) {
        return make_error(ErrorCode::kFailedPrecondition, "authorizations are unavailable");
      }
      SHOAL_ASSIGN_OR_RETURN(credentials, authorizations_->credentials(s.auth_id, *sts_http_,
                                                                       s.region, sts_endpoint_));
    } else {
      credentials = std::make_unique<aws::DefaultCredentialsChain>(sts_http_.get());
    }
    static WallClock clock;
    return std::unique_ptr<exports::Sink>(new exports::KinesisSink(
        s, std::make_unique<OwningProvider>(sts_http_, std::move(credentials)), clock));
  };
}

Status resolve_role(Authorizations* authorizations, exports::Subscription& s, TimestampMs now) {
  if (s.role_arn.empty() || !s.auth_id.empty()) {
    if (!s.auth_id.empty() && (!authorizations || !authorizations->get(s.auth_id))) {
      return make_error(ErrorCode::kInvalidArgument,
                        "auth_id: no authorization has id \"" + s.auth_id + "\"");
    }
    if (!s.auth_id.empty()) s.external_id = authorizations->get(s.auth_id)->external_id;
    return ok_status();
  }
  if (!authorizations) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "role_arn: authorizations are unavailable on this server");
  }
  for (const Authorization& a : authorizations->list()) {
    if (a.method == "role" && a.role_arn == s.role_arn) {
      s.auth_id = a.id;
      s.external_id = a.external_id;
      return ok_status();
    }
  }
  Authorization role;
  role.method = "role";
  role.label = "export " + s.name;
  role.role_arn = s.role_arn;
  auto created = authorizations->create(role, AwsKeys{}, now);
  if (!created.ok()) return created.take_error().with_context("role_arn");
  s.auth_id = created->id;
  s.external_id = created->external_id;
  return ok_status();
}

Workflow ExportWiring::workflow(exports::Exporter& exporter) {
  static WallClock clock;
  return workflow(exporter, clock, ExportJobOptions{});
}

Workflow ExportWiring::workflow(exports::Exporter& exporter, const Clock& clock,
                                ExportJobOptions options) {
  Workflow w;
  w.name = "kinesis_export";
  w.description =
      "Export audience triggers: every enter/exit of the chosen audiences to a Kinesis stream "
      "(config: the /api/subscription body, or the seed's fields audiences, stream_region, "
      "role_arn, stream, user_identifier_field, export_fields, existing_users)";
  w.validate = [](const Job& job) -> Status {
    auto parsed = exports::parse_subscription(normalise_job_config(job));
    if (!parsed.ok()) return parsed.take_error();
    return ok_status();
  };
  w.start = [this, &exporter, &clock, options](
                const Job& job, JobEvents events) -> Result<std::unique_ptr<JobRunner>> {
    if (auto existing = exporter.find_by_job(job.id)) {
      SHOAL_RETURN_IF_ERROR(exporter.set_paused(existing->subscription.id, false));
      return std::unique_ptr<JobRunner>(new ExportJobRunner(
          exporter, existing->subscription.id, std::move(events), clock, options));
    }
    SHOAL_ASSIGN_OR_RETURN(exports::Subscription s,
                           exports::parse_subscription(normalise_job_config(job)));
    s.job_id = job.id;
    SHOAL_RETURN_IF_ERROR(resolve_role(authorizations_, s, job.created_ms));
    SHOAL_ASSIGN_OR_RETURN(exports::Subscription created, exporter.create_and_wait(s));
    return std::unique_ptr<JobRunner>(
        new ExportJobRunner(exporter, created.id, std::move(events), clock, options));
  };
  w.forget = [&exporter](const Job& job) -> Status {
    auto existing = exporter.find_by_job(job.id);
    if (!existing) return ok_status();
    return exporter.remove(existing->subscription.id);
  };
  return w;
}

}  // namespace shoal::http
