#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

namespace shoal::storage {

Batch::Batch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::Batch(std::size_t reserved_bytes)
    : batch_(std::make_unique<rocksdb::WriteBatch>(reserved_bytes)) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

void Batch::put(std::string_view key, std::string_view value) {
  batch_->Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
}
void Batch::erase(std::string_view key) {
  batch_->Delete(rocksdb::Slice(key.data(), key.size()));
}
std::size_t Batch::count() const { return batch_->Count(); }
std::size_t Batch::bytes() const { return batch_->GetDataSize(); }
void Batch::clear() { batch_->Clear(); }

void Batch::append(const Batch& other) {
  // Re-adds each entry through the public Handler interface (WriteBatch's own Append is
  // internal to RocksDB).
  struct Copier : rocksdb::WriteBatch::Handler {
    explicit Copier(rocksdb::WriteBatch& target) : to(target) {}
    rocksdb::Status PutCF(std::uint32_t, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      return to.Put(key, value);
    }
    rocksdb::Status DeleteCF(std::uint32_t, const rocksdb::Slice& key) override {
      return to.Delete(key);
    }
    rocksdb::WriteBatch& to;
  } copier(*batch_);
  rocksdb::Status s = other.batch_->Iterate(&copier);
  (void)s;  // our batches hold only puts and deletes, which always copy
}

namespace {
Error from_rocks(const rocksdb::Status& s, std::string_view what) {
  ErrorCode code = s.IsCorruption() ? ErrorCode::kCorruption
                   : s.IsNotFound() ? ErrorCode::kNotFound
                                    : ErrorCode::kIo;
  return make_error(code, std::string(what) + ": " + s.ToString());
}
}  // namespace

Store::Store(std::unique_ptr<rocksdb::DB> db, std::string path, StoreOptions options)
    : db_(std::move(db)), path_(std::move(path)), options_(options) {}

Store::~Store() {
  if (db_) (void)db_->Close();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, const StoreOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.IncreaseParallelism(2);
  db_options.OptimizeLevelStyleCompaction();
  db_options.compression = rocksdb::kLZ4Compression;
  // A write returns once it is in the WAL and in the memtable, without waiting for earlier,
  // larger batches of other threads to finish their memtable inserts: an engine checkpoint
  // (tens of MB, written by a background thread) held every commit behind it for ~300 ms.
  // The price: another thread may see part of a batch while it is being inserted. No reader
  // here depends on seeing another thread's batch whole (the engine keeps what a checkpoint
  // in flight writes in memory until it lands); recovery after a crash is still all or
  // nothing per batch (one WAL record).
  db_options.unordered_write = true;
  // Memtable bloom filters: a point read (a profile or identity evicted from the engine's cache,
  // a due timer's profile) skips each memtable that cannot hold its key instead of searching its
  // skip list (OptimizeLevelStyleCompaction allows up to six of 128 MB).
  db_options.memtable_whole_key_filtering = true;
  db_options.memtable_prefix_bloom_size_ratio = 0.02;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, &raw);
  if (!s.ok()) return from_rocks(s, "opening the store at " + path);
  return std::unique_ptr<Store>(new Store(std::unique_ptr<rocksdb::DB>(raw), path, options));
}

Result<std::optional<std::string>> Store::get(std::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "reading the store");
  return std::optional<std::string>(std::move(value));
}

void Store::set_write_fault_for_testing(WriteFault fault) {
  std::lock_guard lock(write_fault_mutex_);
  write_fault_ = std::move(fault);
  has_write_fault_.store(static_cast<bool>(write_fault_), std::memory_order_release);
}

Status Store::write(Batch& batch) {
  if (has_write_fault_.load(std::memory_order_acquire)) {
    WriteFault fault;
    {
      std::lock_guard lock(write_fault_mutex_);
      fault = write_fault_;
    }
    if (fault) SHOAL_RETURN_IF_ERROR(fault(batch));
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  rocksdb::Status s = db_->Write(wo, &batch.raw());
  if (!s.ok()) return from_rocks(s, "writing a batch to the store");
  return ok_status();
}

Status Store::scan(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& visit) const {
  return scan_from(prefix, prefix, visit);
}

Status Store::scan_from(std::string_view prefix, std::string_view start,
                        const std::function<bool(std::string_view, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    rocksdb::Slice v = it->value();
    if (!visit(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "scanning the store");
  return ok_status();
}

std::uint64_t Store::approximate_size() const {
  std::uint64_t sst = 0, mem = 0;
  db_->GetIntProperty("rocksdb.live-sst-files-size", &sst);
  db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
  return sst + mem;
}

Store::MemoryUsage Store::memory_usage() const {
  MemoryUsage usage;
  db_->GetIntProperty("rocksdb.size-all-mem-tables", &usage.memtables);
  db_->GetIntProperty("rocksdb.block-cache-usage", &usage.block_cache);
  return usage;
}

}  // namespace shoal::storage
