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
#include <utility>
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

 private:
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& path, const StoreOptions& options);
  ~Store();

  Result<std::optional<std::string>> get(std::string_view key) const;
  // Writes atomically; durable against process crash once this returns.
  Status write(Batch& batch);
  // Writes atomically without the write-ahead log, as SST files added to the database whole
  // (RocksDB external file ingestion); durable against process crash once this returns. A
  // crash before that loses the batch whole, never part of it; writes made before and after
  // through write() are recovered as usual. The entries are sorted here and the last op on a
  // key wins, as in a batch written by write(); range deletes are refused (kInvalidArgument).
  // For large batches that can be lost and redone (the engine's background checkpoints): they
  // go through no memtable, neither hold up other threads' WAL writes behind theirs nor write
  // their bytes twice. One file per record type, so that a file's key range overlaps what the
  // commits keep writing (the command log, outboxes, positions) only where the keys do.
  Status write_as_files(Batch& batch);
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
  // Tests: called by write_as_files between writing its files and adding them (a crash there).
  void set_before_ingest_for_testing(std::function<void()> hook) {
    before_ingest_ = std::move(hook);
  }
  // Files write_as_files has added to the database so far (tests check the path is taken).
  std::uint64_t ingested_files() const { return ingested_files_.load(std::memory_order_relaxed); }

 private:
  Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> families,
        std::string path, StoreOptions options);
  rocksdb::ColumnFamilyHandle* family_for(std::string_view key) const;
  Status check_write_fault(const Batch& batch);
  std::string ingest_directory() const;  // write_as_files' files before they are added
  // Whether the family's memtables hold a key in one of the [smallest, largest] ranges (puts
  // only; RocksDB also counts tombstones).
  bool memtable_overlaps(rocksdb::ColumnFamilyHandle* family,
                         const std::vector<std::pair<std::string, std::string>>& ranges) const;
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
  std::function<void()> before_ingest_;
  std::atomic<std::uint64_t> ingested_files_{0};
  std::atomic<std::uint64_t> next_ingest_file_{0};  // names this process's files apart
};

}  // namespace shoal::storage
