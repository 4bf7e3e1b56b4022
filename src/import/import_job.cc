#include "import/import_job.h"

#include "import/checkpoint.h"
#include "import/dead_letters.h"

namespace shoal::import {

std::map<std::string, std::uint64_t> counter_map(const ImportCounters& c) {
  return {{"records_read", c.records_read},           {"bytes_read", c.bytes_read},
          {"events_applied", c.events_applied},       {"dead_lettered", c.dead_lettered},
          {"get_records_calls", c.get_records_calls}, {"throttles", c.throttles},
          {"transient_errors", c.transient_errors},   {"iterator_resets", c.iterator_resets},
          {"pages_committed", c.pages_committed},     {"fenced_checkpoints", c.fenced_checkpoints},
          {"leases_taken", c.leases_taken}, {"leases_stolen", c.leases_stolen},           {"leases_lost", c.leases_lost},
          {"shards_finished", c.shards_finished}};
}

ImportJob::ImportJob(ImportJobConfig config, std::unique_ptr<aws::CredentialsProvider> credentials,
                     storage::Store& store, engine::Partition& partition, const Clock& clock,
                     Consumer::FatalHandler fatal)
    : config_(std::move(config)),
      credentials_(std::move(credentials)),
      store_(store),
      partition_(partition),
      clock_(clock),
      fatal_(std::move(fatal)) {}

ImportJob::~ImportJob() { stop(); }

Status ImportJob::start() {
  SHOAL_ASSIGN_OR_RETURN(config_.consumer.worker_id, load_or_create_worker_id(store_));
  aws::HttpClientOptions http_options;
  http_options.request_timeout = config_.request_timeout;
  http_ = std::make_unique<aws::HttpClient>(http_options);
  client_ = std::make_unique<kinesis::KinesisClient>(
      kinesis::KinesisClientOptions{config_.region, config_.endpoint}, *http_, *credentials_,
      clock_);
  leases_ = std::make_unique<RocksDbLeaseStore>(store_, config_.consumer.job_id);
  consumer_ = std::make_unique<Consumer>(config_.consumer, *client_, *leases_, store_, partition_,
                                         clock_, fatal_);
  return consumer_->start();
}

void ImportJob::stop() {
  if (consumer_) consumer_->stop();
  consumer_.reset();
}

std::map<std::string, std::uint64_t> ImportJob::counters() const {
  if (!consumer_) return {};
  return counter_map(consumer_->counters());
}

std::map<std::string, std::uint64_t> ImportJob::gauges() const {
  if (!consumer_) return {};
  ImportCounters c = consumer_->counters();
  return {{"shards_owned", c.shards_owned}, {"millis_behind_latest", c.millis_behind_latest}};
}

std::vector<ShardStatus> ImportJob::shards() const {
  if (!consumer_) return {};
  return consumer_->shards();
}

Status forget_import_job(storage::Store& store, std::string_view job_id) {
  SHOAL_RETURN_IF_ERROR(RocksDbLeaseStore(store, std::string(job_id)).remove_all());
  SHOAL_RETURN_IF_ERROR(remove_dead_letters(store, job_id));
  storage::Batch batch;
  SHOAL_RETURN_IF_ERROR(
      store.scan(checkpoint_prefix(job_id), [&](std::string_view key, std::string_view) {
        batch.erase(key);
        return true;
      }));
  return store.write(batch);
}

}  // namespace shoal::import
