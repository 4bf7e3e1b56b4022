#include "http/import_workflow.h"

#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <set>

#include "core/time_format.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

Error bad(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// Reads an optional string member; an error names the field.
Result<std::string> string_field(const json::object& config, const char* name,
                                 std::string fallback = {}) {
  const json::value* v = config.if_contains(name);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_string()) return bad("config." + std::string(name) + " must be a string");
  return std::string(v->as_string());
}

// Reads an optional positive integer member (milliseconds, counts).
Result<std::int64_t> int_field(const json::object& config, const char* name, std::int64_t fallback,
                               std::int64_t min, std::int64_t max) {
  const json::value* v = config.if_contains(name);
  if (v == nullptr || v->is_null()) return fallback;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(max)) {
    n = static_cast<std::int64_t>(v->as_uint64());
  } else {
    return bad("config." + std::string(name) + " must be an integer");
  }
  if (n < min || n > max) {
    return bad("config." + std::string(name) + " must be between " + std::to_string(min) + " and " +
               std::to_string(max));
  }
  return n;
}

// Running import jobs of this process by job id, for live_import_shards.
std::mutex live_mutex;
std::map<std::string, const import::ImportJob*, std::less<>>& live_jobs() {
  static std::map<std::string, const import::ImportJob*, std::less<>> jobs;
  return jobs;
}

class ImportRunner final : public JobRunner {
 public:
  ImportRunner(std::string job_id, std::unique_ptr<import::ImportJob> job)
      : job_id_(std::move(job_id)), job_(std::move(job)) {
    std::lock_guard lock(live_mutex);
    live_jobs()[job_id_] = job_.get();
  }
  ~ImportRunner() override {
    {
      std::lock_guard lock(live_mutex);
      auto it = live_jobs().find(job_id_);
      if (it != live_jobs().end() && it->second == job_.get()) live_jobs().erase(it);
    }
    job_->stop();
  }
  std::map<std::string, std::uint64_t> counters() const override { return job_->counters(); }
  std::map<std::string, std::uint64_t> gauges() const override { return job_->gauges(); }

 private:
  std::string job_id_;
  std::unique_ptr<import::ImportJob> job_;
};

const std::set<std::string>& known_fields() {
  static const std::set<std::string> fields = {"stream",
                                               "kinesis_stream",
                                               "kinesis_stream_arn",
                                               "region",
                                               "endpoint",
                                               "start_position",
                                               "start_timestamp",
                                               "timestamp_field",
                                               "label",
                                               "description",
                                               "aws_access_key_id",
                                               "aws_secret_access_key",
                                               "max_record_bytes",
                                               "failover_ms",
                                               "error_after_ms",
                                               "discovery_interval_ms",
                                               "get_records_limit",
                                               "max_idle_ms"};
  return fields;
}

}  // namespace

std::optional<std::vector<import::ShardStatus>> live_import_shards(std::string_view job_id) {
  std::lock_guard lock(live_mutex);
  auto it = live_jobs().find(job_id);
  if (it == live_jobs().end()) return std::nullopt;
  return it->second->shards();
}

Result<import::ImportJobConfig> parse_import_config(const Job& job) {
  json::error_code ec;
  json::value parsed = json::parse(job.config_json, ec);
  if (ec || !parsed.is_object()) return bad("config must be a JSON object");
  const json::object& config = parsed.as_object();
  for (const auto& member : config) {
    if (known_fields().count(std::string(member.key())) == 0) {
      return bad("config." + std::string(member.key()) +
                 " is not a kinesis_import setting (see docs/kinesis-import.md)");
    }
  }
  import::ImportJobConfig out;
  import::ConsumerOptions& c = out.consumer;
  c.job_id = job.id;
  SHOAL_ASSIGN_OR_RETURN(c.target_stream, string_field(config, "stream"));
  if (c.target_stream.empty()) {
    return bad(
        "config.stream is required: the shoal stream the events go to (its mapping "
        "turns them into profiles)");
  }
  SHOAL_ASSIGN_OR_RETURN(std::string name, string_field(config, "kinesis_stream"));
  SHOAL_ASSIGN_OR_RETURN(std::string arn, string_field(config, "kinesis_stream_arn"));
  if (name.empty() == arn.empty()) {
    return bad(
        "config.kinesis_stream (a stream name) or config.kinesis_stream_arn is required, "
        "not both");
  }
  if (!name.empty()) {
    if (Status valid = kinesis::validate_stream_name(name); !valid.ok()) {
      return bad("config.kinesis_stream: " + valid.error().message);
    }
    c.stream = kinesis::StreamRef::by_name(name);
  } else {
    if (arn.rfind("arn:aws", 0) != 0 || arn.find(":stream/") == std::string::npos) {
      return bad(
          "config.kinesis_stream_arn must read arn:aws:kinesis:<region>:<account>:stream/<name>");
    }
    c.stream = kinesis::StreamRef::by_arn(arn);
  }
  SHOAL_ASSIGN_OR_RETURN(out.region, string_field(config, "region", "us-east-1"));
  if (out.region.empty() ||
      out.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return bad("config.region must be an AWS region such as us-east-1");
  }
  if (!arn.empty()) {
    // arn:<partition>:kinesis:<region>:<account>:stream/<name>: Kinesis answers "not found" to a
    // request signed for another region, so say which two disagree now.
    std::vector<std::string_view> parts;
    for (std::size_t begin = 0, colon; parts.size() < 5; begin = colon + 1) {
      colon = arn.find(':', begin);
      if (colon == std::string::npos) break;
      parts.push_back(std::string_view(arn).substr(begin, colon - begin));
    }
    if (parts.size() == 5 && parts[3] != out.region) {
      return bad("config.kinesis_stream_arn is in region " + std::string(parts[3]) +
                 " but config.region is " + out.region + ": they must match");
    }
  }
  SHOAL_ASSIGN_OR_RETURN(out.endpoint, string_field(config, "endpoint"));
  if (!out.endpoint.empty() && out.endpoint.rfind("http://", 0) != 0 &&
      out.endpoint.rfind("https://", 0) != 0) {
    return bad("config.endpoint must be an http:// or https:// URL");
  }
  SHOAL_ASSIGN_OR_RETURN(std::string start, string_field(config, "start_position", "TRIM_HORIZON"));
  auto kind = import::parse_start_kind(start);
  if (!kind.ok()) return bad("config.start_position: " + kind.error().message);
  c.start.kind = *kind;
  SHOAL_ASSIGN_OR_RETURN(std::string at, string_field(config, "start_timestamp"));
  if (c.start.kind == import::StartKind::kAtTimestamp) {
    if (at.empty()) return bad("config.start_timestamp is required with AT_TIMESTAMP (ISO-8601)");
    auto ts = parse_iso8601(at);
    if (!ts.ok()) return bad("config.start_timestamp: " + ts.error().message);
    c.start.timestamp = *ts;
  } else if (!at.empty()) {
    return bad("config.start_timestamp applies only to start_position AT_TIMESTAMP");
  }
  SHOAL_ASSIGN_OR_RETURN(c.decode.timestamp_field, string_field(config, "timestamp_field"));
  SHOAL_ASSIGN_OR_RETURN(std::int64_t max_bytes,
                         int_field(config, "max_record_bytes", 10 << 20, 1024, 64 << 20));
  c.decode.max_record_bytes = static_cast<std::size_t>(max_bytes);
  SHOAL_ASSIGN_OR_RETURN(std::int64_t failover,
                         int_field(config, "failover_ms", 10000, 100, 600000));
  c.failover_time = std::chrono::milliseconds(failover);
  SHOAL_ASSIGN_OR_RETURN(std::int64_t error_after,
                         int_field(config, "error_after_ms", 300000, 100, 86400000));
  c.error_after = std::chrono::milliseconds(error_after);
  SHOAL_ASSIGN_OR_RETURN(std::int64_t discovery,
                         int_field(config, "discovery_interval_ms", 60000, 100, 3600000));
  c.discovery_interval = std::chrono::milliseconds(discovery);
  SHOAL_ASSIGN_OR_RETURN(std::int64_t limit,
                         int_field(config, "get_records_limit", 10000, 1, 10000));
  c.get_records_limit = static_cast<int>(limit);
  SHOAL_ASSIGN_OR_RETURN(std::int64_t idle, int_field(config, "max_idle_ms", 2000, 200, 60000));
  c.max_idle_interval = std::chrono::milliseconds(idle);
  SHOAL_ASSIGN_OR_RETURN(std::string key_id, string_field(config, "aws_access_key_id"));
  SHOAL_ASSIGN_OR_RETURN(std::string secret, string_field(config, "aws_secret_access_key"));
  if (key_id.empty() != secret.empty()) {
    return bad("config.aws_access_key_id and config.aws_secret_access_key go together");
  }
  if (!key_id.empty() && !job.auth_ids.empty()) {
    return bad("give the credentials either as auth_ids or as config.aws_access_key_id, not both");
  }
  if (job.auth_ids.size() > 1) return bad("auth_ids: a kinesis_import job uses one authorization");
  return out;
}

void add_import_workflow(Jobs& jobs, engine::Partition& partition, storage::Store& store,
                         Authorizations* authorizations, const Clock& clock,
                         ImportWorkflowOptions options) {
  // The STS client feeds the role credential providers, which outlive any one call.
  auto sts_http = std::make_shared<aws::HttpClient>();
  Workflow workflow;
  workflow.name = kImportWorkflow;
  workflow.description =
      "Import activity events from an AWS Kinesis stream into a shoal stream (exactly once in "
      "effect, through resharding and restarts)";
  workflow.validate = [authorizations](const Job& job) -> Status {
    SHOAL_ASSIGN_OR_RETURN(auto config, parse_import_config(job));
    (void)config;
    for (const std::string& id : job.auth_ids) {
      if (authorizations == nullptr || !authorizations->get(id)) {
        return bad("auth_ids: authorization '" + id + "' does not exist");
      }
    }
    return ok_status();
  };
  workflow.start = [&partition, &store, authorizations, &clock, options, sts_http](
                       const Job& job, JobEvents events) -> Result<std::unique_ptr<JobRunner>> {
    SHOAL_ASSIGN_OR_RETURN(import::ImportJobConfig config, parse_import_config(job));
    std::unique_ptr<aws::CredentialsProvider> credentials;
    json::error_code ec;
    json::value parsed = json::parse(job.config_json, ec);
    const json::object& object = parsed.as_object();
    if (!job.auth_ids.empty()) {
      if (authorizations == nullptr) return bad("authorizations are unavailable");
      SHOAL_ASSIGN_OR_RETURN(
          credentials, authorizations->credentials(job.auth_ids.front(), *sts_http, config.region,
                                                   options.sts_endpoint));
    } else if (object.contains("aws_access_key_id")) {
      aws::Credentials keys;
      keys.access_key_id = std::string(object.at("aws_access_key_id").as_string());
      keys.secret_access_key = std::string(object.at("aws_secret_access_key").as_string());
      credentials = std::make_unique<aws::StaticCredentialsProvider>(keys, "job config keys");
    } else {
      credentials = std::make_unique<aws::DefaultCredentialsChain>(sts_http.get());
    }
    auto fail = events.fail;
    auto import_job = std::make_unique<import::ImportJob>(
        std::move(config), std::move(credentials), store, partition, clock,
        [fail](std::string message) { fail(std::move(message)); });
    SHOAL_RETURN_IF_ERROR(import_job->start());
    return std::unique_ptr<JobRunner>(
        std::make_unique<ImportRunner>(job.id, std::move(import_job)));
  };
  workflow.forget = [&store](const Job& job) { return import::forget_import_job(store, job.id); };
  jobs.add_workflow(std::move(workflow));
}

}  // namespace shoal::http
