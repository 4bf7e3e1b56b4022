#pragma once
// The Kinesis import's ties to the HTTP layer: the `kinesis_import` workflow for `/api/work`
// (job config JSON -> import::ImportJobConfig, validated with messages naming the field;
// credentials from the job's authorization, else static keys in the config, else the server's
// default chain) and the runner that wraps an import::ImportJob. Documented in
// docs/kinesis-import.md. Thread-safe.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "engine/partition.h"
#include "http/authorizations.h"
#include "http/jobs.h"
#include "import/import_job.h"
#include "storage/store.h"

namespace shoal::http {

inline constexpr const char* kImportWorkflow = "kinesis_import";

struct ImportWorkflowOptions {
  std::string sts_endpoint;  // empty: AWS
};

// Parses and validates a kinesis_import job's config (job.config_json).
Result<import::ImportJobConfig> parse_import_config(const Job& job);

// The live per-shard status (millis behind latest, position, records, throttles) of a running
// kinesis_import job, or nullopt when it has no runner in this process. Rationale: a registry of
// the runners (filled by them) keeps the route free of a new ApiContext field.
std::optional<std::vector<import::ShardStatus>> live_import_shards(std::string_view job_id);

// Registers the kinesis_import workflow. Everything is borrowed and must outlive `jobs`' runners.
void add_import_workflow(Jobs& jobs, engine::Partition& partition, storage::Store& store,
                         Authorizations* authorizations, const Clock& clock,
                         ImportWorkflowOptions options = {});

}  // namespace shoal::http
