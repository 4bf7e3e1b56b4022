#include "import/lease_store.h"

#include <openssl/rand.h>

#include <boost/json.hpp>

#include "storage/codec.h"

namespace shoal::import {
namespace json = boost::json;

std::string_view start_kind_name(StartKind kind) {
  switch (kind) {
    case StartKind::kTrimHorizon:
      return "TRIM_HORIZON";
    case StartKind::kLatest:
      return "LATEST";
    case StartKind::kAtTimestamp:
      return "AT_TIMESTAMP";
  }
  return "TRIM_HORIZON";
}

Result<StartKind> parse_start_kind(std::string_view name) {
  if (name == "TRIM_HORIZON") return StartKind::kTrimHorizon;
  if (name == "LATEST") return StartKind::kLatest;
  if (name == "AT_TIMESTAMP") return StartKind::kAtTimestamp;
  return make_error(
      ErrorCode::kInvalidArgument,
      "start position '" + std::string(name) + "' must be TRIM_HORIZON, LATEST or AT_TIMESTAMP");
}

std::string encode_lease(const Lease& lease) {
  json::array parents;
  for (const std::string& p : lease.parents) parents.emplace_back(p);
  json::object o{{"shard", lease.shard_id},
                 {"owner", lease.owner},
                 {"counter", lease.counter},
                 {"parents", std::move(parents)},
                 {"start_hash", lease.starting_hash_key},
                 {"end_hash", lease.ending_hash_key},
                 {"start", start_kind_name(lease.start.kind)},
                 {"start_ts", lease.start.timestamp},
                 {"finished", lease.finished}};
  return json::serialize(o);
}

Result<Lease> decode_lease(std::string_view bytes) {
  auto corrupt = [] { return make_error(ErrorCode::kCorruption, "unreadable lease record"); };
  json::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return corrupt();
  const json::object& o = v.as_object();
  Lease lease;
  try {
    lease.shard_id = json::value_to<std::string>(o.at("shard"));
    lease.owner = json::value_to<std::string>(o.at("owner"));
    lease.counter = json::value_to<std::uint64_t>(o.at("counter"));
    for (const json::value& p : o.at("parents").as_array()) {
      lease.parents.push_back(json::value_to<std::string>(p));
    }
    lease.starting_hash_key = json::value_to<std::string>(o.at("start_hash"));
    lease.ending_hash_key = json::value_to<std::string>(o.at("end_hash"));
    auto kind = parse_start_kind(json::value_to<std::string>(o.at("start")));
    if (!kind.ok()) return corrupt();
    lease.start.kind = *kind;
    lease.start.timestamp = json::value_to<std::int64_t>(o.at("start_ts"));
    lease.finished = o.at("finished").as_bool();
  } catch (const std::exception&) {
    return corrupt();
  }
  return lease;
}

std::string lease_prefix(std::string_view job_id) {
  std::string key(1, static_cast<char>(storage::RecordType::kLease));
  key.append(job_id);
  key.push_back('\0');
  return key;
}

Result<std::string> load_or_create_worker_id(storage::Store& store) {
  std::string key(1, static_cast<char>(storage::RecordType::kLease));
  key.push_back('\0');
  key.append("worker-id");
  SHOAL_ASSIGN_OR_RETURN(auto existing, store.get(key));
  if (existing) return *existing;
  unsigned char raw[8];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return make_error(ErrorCode::kInternal, "the system's random generator failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "worker-";
  for (unsigned char c : raw) {
    id.push_back(kHex[c >> 4]);
    id.push_back(kHex[c & 15]);
  }
  storage::Batch batch;
  batch.put(key, id);
  SHOAL_RETURN_IF_ERROR(store.write(batch));
  return id;
}

RocksDbLeaseStore::RocksDbLeaseStore(storage::Store& store, std::string job_id)
    : store_(store), job_id_(std::move(job_id)) {}

std::string RocksDbLeaseStore::key(std::string_view shard_id) const {
  std::string k = lease_prefix(job_id_);
  k.append(shard_id);
  return k;
}

Status RocksDbLeaseStore::load_locked() {
  if (loaded_) return ok_status();
  std::map<std::string, Lease, std::less<>> leases;
  Status bad = ok_status();
  Status scanned =
      store_.scan(lease_prefix(job_id_), [&](std::string_view, std::string_view value) {
        auto lease = decode_lease(value);
        if (!lease.ok()) {
          bad = lease.error();
          return false;
        }
        std::string id = lease->shard_id;
        leases.emplace(std::move(id), std::move(*lease));
        return true;
      });
  SHOAL_RETURN_IF_ERROR(scanned);
  SHOAL_RETURN_IF_ERROR(bad);
  leases_ = std::move(leases);
  loaded_ = true;
  return ok_status();
}

Status RocksDbLeaseStore::write_locked(const Lease& lease) {
  storage::Batch batch;
  batch.put(key(lease.shard_id), encode_lease(lease));
  return store_.write(batch);
}

Result<std::vector<Lease>> RocksDbLeaseStore::list() {
  std::lock_guard lock(mutex_);
  SHOAL_RETURN_IF_ERROR(load_locked());
  std::vector<Lease> out;
  out.reserve(leases_.size());
  for (const auto& [id, lease] : leases_) out.push_back(lease);
  return out;
}

Result<bool> RocksDbLeaseStore::create(const Lease& lease) {
  std::lock_guard lock(mutex_);
  SHOAL_RETURN_IF_ERROR(load_locked());
  if (leases_.count(lease.shard_id) != 0) return false;
  SHOAL_RETURN_IF_ERROR(write_locked(lease));
  leases_.emplace(lease.shard_id, lease);
  return true;
}

Status RocksDbLeaseStore::update(const Lease& lease, std::uint64_t expected_counter) {
  std::lock_guard lock(mutex_);
  SHOAL_RETURN_IF_ERROR(load_locked());
  auto it = leases_.find(lease.shard_id);
  if (it == leases_.end()) {
    return make_error(ErrorCode::kNotFound, "no lease for shard " + lease.shard_id);
  }
  if (it->second.counter != expected_counter) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "lease of shard " + lease.shard_id + " changed (counter " +
                          std::to_string(it->second.counter) + ", expected " +
                          std::to_string(expected_counter) + ")");
  }
  if (it->second.owner != lease.owner) {
    auto pinned = checkpoints_in_flight_.find(lease.shard_id);
    if (pinned != checkpoints_in_flight_.end() && pinned->second > 0) {
      return make_error(ErrorCode::kUnavailable, "lease of shard " + lease.shard_id +
                                                     " is busy (a checkpoint is in flight)");
    }
  }
  SHOAL_RETURN_IF_ERROR(write_locked(lease));
  it->second = lease;
  return ok_status();
}

Status RocksDbLeaseStore::begin_checkpoint(std::string_view shard_id, std::string_view owner,
                                           std::uint64_t counter) {
  std::lock_guard lock(mutex_);
  SHOAL_RETURN_IF_ERROR(load_locked());
  auto it = leases_.find(shard_id);
  if (it == leases_.end() || it->second.owner != owner || it->second.counter != counter) {
    return make_error(ErrorCode::kFailedPrecondition, "worker " + std::string(owner) +
                                                          " no longer holds the lease of shard " +
                                                          std::string(shard_id) + " (fenced off)");
  }
  ++checkpoints_in_flight_[std::string(shard_id)];
  return ok_status();
}

void RocksDbLeaseStore::end_checkpoint(std::string_view shard_id) {
  std::lock_guard lock(mutex_);
  auto it = checkpoints_in_flight_.find(shard_id);
  if (it != checkpoints_in_flight_.end() && --it->second <= 0) checkpoints_in_flight_.erase(it);
}

Status RocksDbLeaseStore::remove_all() {
  std::lock_guard lock(mutex_);
  storage::Batch batch;
  SHOAL_RETURN_IF_ERROR(
      store_.scan(lease_prefix(job_id_), [&](std::string_view k, std::string_view) {
        batch.erase(k);
        return true;
      }));
  SHOAL_RETURN_IF_ERROR(store_.write(batch));
  leases_.clear();
  return ok_status();
}

}  // namespace shoal::import
