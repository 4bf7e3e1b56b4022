#pragma once
// Leases of one import job's shards, as the KCL keeps them: an owner (a worker id), a counter
// that every change increments (the fencing token), the shard's parents, hash range and start
// position. LeaseStore is the narrow interface a shared store (a distributed database with a
// conditional put) can implement later; RocksDbLeaseStore keeps them in the node's Store.
// The checkpoint itself is not in the lease: it commits with the engine's changes (checkpoint.h).
// Threading: every method is thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "storage/store.h"

namespace shoal::import {

// Where a shard without a checkpoint starts.
enum class StartKind : std::uint8_t { kTrimHorizon, kLatest, kAtTimestamp };
std::string_view start_kind_name(StartKind kind);
Result<StartKind> parse_start_kind(std::string_view name);

struct StartPosition {
  StartKind kind = StartKind::kTrimHorizon;
  TimestampMs timestamp = 0;  // for kAtTimestamp

  friend bool operator==(const StartPosition&, const StartPosition&) = default;
};

struct Lease {
  std::string shard_id;
  std::string owner;  // worker id; empty when free
  std::uint64_t counter = 0;
  std::vector<std::string> parents;  // ParentShardId and AdjacentParentShardId
  std::string starting_hash_key;     // decimal
  std::string ending_hash_key;       // decimal
  StartPosition start;
  bool finished = false;  // read to its end (its SHARD_END checkpoint committed)

  friend bool operator==(const Lease&, const Lease&) = default;
};

std::string encode_lease(const Lease& lease);
Result<Lease> decode_lease(std::string_view bytes);

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  virtual Result<std::vector<Lease>> list() = 0;
  // Creates `lease` unless its shard has one; true when created.
  virtual Result<bool> create(const Lease& lease) = 0;
  // Writes `lease` if the stored counter is `expected_counter` (a conditional put):
  // kFailedPrecondition when it is not (another worker changed it: this one lost it), kNotFound
  // when absent, and kUnavailable ("busy") when the owner would change while the owner's checkpoint
  // is in flight.
  virtual Status update(const Lease& lease, std::uint64_t expected_counter) = 0;

  // The fence around a checkpoint: succeeds when `owner` holds the lease with `counter`, and
  // then no owner change succeeds until end_checkpoint (called after the checkpoint's commit).
  virtual Status begin_checkpoint(std::string_view shard_id, std::string_view owner,
                                  std::uint64_t counter) = 0;
  virtual void end_checkpoint(std::string_view shard_id) = 0;
};

// The leases of job `job_id` in the node's Store (records L<job id>\0<shard id>), cached in
// memory: every write goes through this object, so the cache is the truth for this process.
// One instance per job per process; the consumers of that job share it.
class RocksDbLeaseStore final : public LeaseStore {
 public:
  RocksDbLeaseStore(storage::Store& store, std::string job_id);

  Result<std::vector<Lease>> list() override;
  Result<bool> create(const Lease& lease) override;
  Status update(const Lease& lease, std::uint64_t expected_counter) override;
  Status begin_checkpoint(std::string_view shard_id, std::string_view owner,
                          std::uint64_t counter) override;
  void end_checkpoint(std::string_view shard_id) override;

  // Deletes every lease of the job (the job was deleted).
  Status remove_all();

 private:
  Status load_locked();
  Status write_locked(const Lease& lease);
  std::string key(std::string_view shard_id) const;

  storage::Store& store_;
  std::string job_id_;
  std::mutex mutex_;
  bool loaded_ = false;
  std::map<std::string, Lease, std::less<>> leases_;
  std::map<std::string, int, std::less<>> checkpoints_in_flight_;
};

// The lease key prefix of a job, and this node's stable worker id (created on first use).
std::string lease_prefix(std::string_view job_id);
Result<std::string> load_or_create_worker_id(storage::Store& store);

}  // namespace shoal::import
