#pragma once
// Store: the node's one RocksDB database. Every key starts with a record type byte and, for
// partitioned records, a 2-byte partition id, so one atomic WriteBatch spans all partitions.
// The record type also picks the column family: export outboxes (RecordType::kExportOutbox)
// live in their own, "outbox", so that their range deletes never cost the profile reads of the
// default family anything (RocksDB 7.8 re-fragments a memtable's range tombstones on every
// point read). Callers never name a family: Batch, get and scan route by the key's first byte.
// Thread-safe (RocksDB is); a Batch belongs to one thread.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace shoal::storage {

struct StoreOptions {
  bool sync_writes = false;  // fsync the WAL on every batch (otherwise kill -9 safe, not power-loss)
  bool create_if_missing = true;
  std::size_t block_cache_bytes = 256u << 20;
};

class Batch {
 public:
  Batch();
  // Room for this many bytes of puts and deletes up front: a large batch built in one go does
  // not copy itself as it grows.
  explicit Batch(std::size_t reserved_bytes);
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;
  void put(std::string_view key, std::string_view value);
  void erase(std::string_view key);
  // Erases every key in [begin, end) with one range tombstone; both keys must be of the same
  // record type. Meant for the outbox family (runs of delivered messages).
  void erase_range(std::string_view begin, std::string_view end);
  std::size_t count() const;
  std::size_t bytes() const;
  void clear();
  // Adds `other`'s puts and deletes after this batch's own, in their order.
  void append(const Batch& other);
  rocksdb::WriteBatch& raw() { return *batch_; }
  bool touches_outbox() const { return touches_outbox_; }

 private:
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  bool touches_outbox_ = false;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& path, const StoreOptions& options);
  ~Store();

  Result<std::optional<std::string>> get(std::string_view key) const;
  // Writes atomically; durable against process crash once this returns.
  Status write(Batch& batch);
  // Writes atomically without the write-ahead log and returns once the batch is in SST files
  // (a flush of the families it touches). A crash before that loses the batch whole, never part
  // of it; writes made before and after through write() are recovered as usual. For large
  // batches that can be lost and redone (the engine's background checkpoints): they neither
  // hold up other threads' WAL writes behind theirs nor write their bytes twice.
  Status write_and_flush(Batch& batch);
  // Calls `visit(key, value)` for every key starting with `prefix`, in key order, until it
  // returns false. An empty prefix visits the default family, then the outbox family.
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& visit) const;
  // Like scan, starting at the first key >= `start` (which must begin with `prefix`).
  Status scan_from(std::string_view prefix, std::string_view start,
                   const std::function<bool(std::string_view, std::string_view)>& visit) const;
  // Bytes of live SST files plus memtables (approximate).
  std::uint64_t approximate_size() const;
  // Memory RocksDB holds: memtables (active, immutable and those being flushed) and the block
  // cache.
  struct MemoryUsage {
    std::uint64_t memtables = 0;
    std::uint64_t block_cache = 0;
  };
  MemoryUsage memory_usage() const;
  const std::string& path() const { return path_; }

  // Tests: a write for which `fault` returns an error fails with it and writes nothing (RocksDB
  // cannot be made to fail a chosen write). Called on the writing thread; null removes it.
  using WriteFault = std::function<Status(const Batch&)>;
  void set_write_fault_for_testing(WriteFault fault);
  // Tests: called by write_and_flush between its unlogged write and the flush (a crash there).
  void set_before_flush_for_testing(std::function<void()> hook) { before_flush_ = std::move(hook); }

 private:
  Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> families,
        std::string path, StoreOptions options);
  rocksdb::ColumnFamilyHandle* family_for(std::string_view key) const;
  Status check_write_fault(const Batch& batch);
  Status scan_family(rocksdb::ColumnFamilyHandle* family, std::string_view prefix,
                     std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& visit) const;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // default, outbox; owned, closed first
  std::string path_;
  StoreOptions options_;
  std::atomic<bool> has_write_fault_{false};  // checked first, so writes pay one load
  std::mutex write_fault_mutex_;
  WriteFault write_fault_;
  std::function<void()> before_flush_;
};

}  // namespace shoal::storage
