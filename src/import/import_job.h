#pragma once
// ImportJob: one running Kinesis import, everything it owns wired together: the HTTP client,
// the Kinesis client (no client-side retries: the consumer backs off itself), the job's lease
// store and the Consumer. The HTTP layer wraps it in a JobRunner (src/http/import_workflow.cc).
// Threading: start/stop from one owner thread; counters() from any thread.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "core/clock.h"
#include "engine/partition.h"
#include "import/consumer.h"
#include "import/lease_store.h"
#include "kinesis/kinesis_client.h"
#include "storage/store.h"

namespace shoal::import {

struct ImportJobConfig {
  std::string region = "us-east-1";
  std::string endpoint;      // empty: AWS
  ConsumerOptions consumer;  // worker_id is filled in by start()
  std::chrono::milliseconds request_timeout{30000};
};

class ImportJob {
 public:
  ImportJob(ImportJobConfig config, std::unique_ptr<aws::CredentialsProvider> credentials,
            storage::Store& store, engine::Partition& partition, const Clock& clock,
            Consumer::FatalHandler fatal);
  ~ImportJob();  // stop()
  ImportJob(const ImportJob&) = delete;
  ImportJob& operator=(const ImportJob&) = delete;

  Status start();
  void stop();
  // For /api/work and /metrics (shoal_job_<name>).
  std::map<std::string, std::uint64_t> counters() const;
  // Current values: shards_owned, millis_behind_latest (the largest of the owned shards).
  std::map<std::string, std::uint64_t> gauges() const;
  std::vector<ShardStatus> shards() const;

 private:
  ImportJobConfig config_;
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  storage::Store& store_;
  engine::Partition& partition_;
  const Clock& clock_;
  Consumer::FatalHandler fatal_;
  std::unique_ptr<aws::HttpClient> http_;
  std::unique_ptr<kinesis::KinesisClient> client_;
  std::unique_ptr<RocksDbLeaseStore> leases_;
  std::unique_ptr<Consumer> consumer_;
};

// The counters as the job framework publishes them.
std::map<std::string, std::uint64_t> counter_map(const ImportCounters& counters);

// Removes what a deleted job stored: leases, checkpoints, dead letters.
Status forget_import_job(storage::Store& store, std::string_view job_id);

}  // namespace shoal::import
