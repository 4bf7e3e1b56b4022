#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "storage/codec.h"

namespace shoal::storage {
namespace {

constexpr std::uint32_t kOutboxFamilyId = 1;
const std::string kOutboxFamilyName = "outbox";

bool in_outbox_family(std::string_view key) {
  return !key.empty() && key.front() == static_cast<char>(RecordType::kExportOutbox);
}

// A WriteBatch addresses a column family by its id alone (and asks its comparator for the
// timestamp size); the DB resolves the id when the batch is written. This lets a Batch route
// outbox keys without holding a Store. Store::open checks that the outbox family has this id.
class FamilyAddress final : public rocksdb::ColumnFamilyHandle {
 public:
  FamilyAddress(std::string name, std::uint32_t id) : name_(std::move(name)), id_(id) {}
  const std::string& GetName() const override { return name_; }
  std::uint32_t GetID() const override { return id_; }
  rocksdb::Status GetDescriptor(rocksdb::ColumnFamilyDescriptor*) override {
    return rocksdb::Status::NotSupported("a batch's family address has no descriptor");
  }
  const rocksdb::Comparator* GetComparator() const override {
    return rocksdb::BytewiseComparator();
  }

 private:
  std::string name_;
  std::uint32_t id_;
};

rocksdb::ColumnFamilyHandle* outbox_address() {
  static FamilyAddress address(kOutboxFamilyName, kOutboxFamilyId);
  return &address;
}

// The family a batch entry addresses: null is the default family.
rocksdb::ColumnFamilyHandle* address_for(std::string_view key) {
  return in_outbox_family(key) ? outbox_address() : nullptr;
}

rocksdb::ColumnFamilyHandle* address_of_id(std::uint32_t id) {
  return id == kOutboxFamilyId ? outbox_address() : nullptr;
}

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

Batch::Batch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::Batch(std::size_t reserved_bytes)
    : batch_(std::make_unique<rocksdb::WriteBatch>(reserved_bytes)) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

void Batch::put(std::string_view key, std::string_view value) {
  batch_->Put(address_for(key), slice(key), slice(value));
}
void Batch::erase(std::string_view key) { batch_->Delete(address_for(key), slice(key)); }
void Batch::erase_range(std::string_view begin, std::string_view end) {
  batch_->DeleteRange(address_for(begin), slice(begin), slice(end));
}
std::size_t Batch::count() const { return batch_->Count(); }
std::size_t Batch::bytes() const { return batch_->GetDataSize(); }
void Batch::clear() { batch_->Clear(); }

void Batch::append(const Batch& other) {
  // Re-adds each entry through the public Handler interface (WriteBatch's own Append is
  // internal to RocksDB).
  struct Copier : rocksdb::WriteBatch::Handler {
    explicit Copier(rocksdb::WriteBatch& target) : to(target) {}
    rocksdb::Status PutCF(std::uint32_t family, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      return to.Put(address_of_id(family), key, value);
    }
    rocksdb::Status DeleteCF(std::uint32_t family, const rocksdb::Slice& key) override {
      return to.Delete(address_of_id(family), key);
    }
    rocksdb::Status DeleteRangeCF(std::uint32_t family, const rocksdb::Slice& begin,
                                  const rocksdb::Slice& end) override {
      return to.DeleteRange(address_of_id(family), begin, end);
    }
    rocksdb::WriteBatch& to;
  } copier(*batch_);
  rocksdb::Status s = other.batch_->Iterate(&copier);
  (void)s;  // our batches hold only puts, deletes and range deletes, which always copy
}

namespace {
Error from_rocks(const rocksdb::Status& s, std::string_view what) {
  ErrorCode code = s.IsCorruption() ? ErrorCode::kCorruption
                   : s.IsNotFound() ? ErrorCode::kNotFound
                                    : ErrorCode::kIo;
  return make_error(code, std::string(what) + ": " + s.ToString());
}
}  // namespace

Store::Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> families,
             std::string path, StoreOptions options)
    : db_(std::move(db)), families_(std::move(families)), path_(std::move(path)),
      options_(options) {}

Store::~Store() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* family : families_) (void)db_->DestroyColumnFamilyHandle(family);
  (void)db_->Close();
}

rocksdb::ColumnFamilyHandle* Store::family_for(std::string_view key) const {
  return in_outbox_family(key) ? families_[1] : families_[0];
}

namespace {

// Stores written before the outbox family existed kept export outboxes in the default family:
// copy them over in bounded batches, then drop them from the default family with one range
// delete. A crash half-way repeats the (idempotent) copy at the next open.
rocksdb::Status move_outboxes_to_their_family(rocksdb::DB& db,
                                              rocksdb::ColumnFamilyHandle* outbox) {
  const std::string begin(1, static_cast<char>(RecordType::kExportOutbox));
  const std::string end(1, static_cast<char>(static_cast<char>(RecordType::kExportOutbox) + 1));
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  it->Seek(slice(begin));
  if (!it->Valid() || !it->key().starts_with(slice(begin))) return it->status();
  rocksdb::WriteBatch batch;
  for (; it->Valid() && it->key().starts_with(slice(begin)); it->Next()) {
    rocksdb::Status s = batch.Put(outbox, it->key(), it->value());
    if (!s.ok()) return s;
    if (batch.GetDataSize() >= (4u << 20)) {
      s = db.Write(rocksdb::WriteOptions(), &batch);
      if (!s.ok()) return s;
      batch.Clear();
    }
  }
  if (!it->status().ok()) return it->status();
  rocksdb::Status s = batch.DeleteRange(db.DefaultColumnFamily(), slice(begin), slice(end));
  if (!s.ok()) return s;
  return db.Write(rocksdb::WriteOptions(), &batch);
}

}  // namespace

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
  db_options.create_missing_column_families = true;
  // A WAL file is kept until every family has flushed what it holds; the outbox family is small
  // and may go long without filling its memtable, so bound the WAL (and recovery time) here:
  // past it RocksDB flushes the families that pin the oldest file.
  db_options.max_total_wal_size = 1u << 30;
  // The outbox family: short-lived messages, written by commits and range-deleted once
  // delivered; small memtables so delivered runs are dropped at flush.
  rocksdb::ColumnFamilyOptions outbox_options(db_options);
  outbox_options.write_buffer_size = 32u << 20;
  outbox_options.max_write_buffer_number = 3;
  outbox_options.memtable_prefix_bloom_size_ratio = 0;
  outbox_options.memtable_whole_key_filtering = false;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(db_options)},
      {kOutboxFamilyName, outbox_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &families, &raw);
  if (!s.ok()) return from_rocks(s, "opening the store at " + path);
  // From here the Store owns the handles and the DB (its destructor closes them).
  std::unique_ptr<Store> store(
      new Store(std::unique_ptr<rocksdb::DB>(raw), families, path, options));
  if (families[1]->GetID() != kOutboxFamilyId) {
    return make_error(ErrorCode::kCorruption,
                      "opening the store at " + path + ": its outbox column family has id " +
                          std::to_string(families[1]->GetID()) + ", expected " +
                          std::to_string(kOutboxFamilyId));
  }
  s = move_outboxes_to_their_family(*raw, families[1]);
  if (!s.ok()) return from_rocks(s, "moving export outboxes to their column family at " + path);
  // Files of a write_as_files that a crash interrupted were never added: they go.
  std::error_code error;
  std::filesystem::remove_all(store->ingest_directory(), error);
  if (!error) std::filesystem::create_directory(store->ingest_directory(), error);
  if (error) {
    return make_error(ErrorCode::kIo,
                      "preparing " + store->ingest_directory() + ": " + error.message());
  }
  return store;
}

Result<std::optional<std::string>> Store::get(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family_for(key), slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "reading the store");
  return std::optional<std::string>(std::move(value));
}

void Store::set_write_fault_for_testing(WriteFault fault) {
  std::lock_guard lock(write_fault_mutex_);
  write_fault_ = std::move(fault);
  has_write_fault_.store(static_cast<bool>(write_fault_), std::memory_order_release);
}

Status Store::check_write_fault(const Batch& batch) {
  if (!has_write_fault_.load(std::memory_order_acquire)) return ok_status();
  WriteFault fault;
  {
    std::lock_guard lock(write_fault_mutex_);
    fault = write_fault_;
  }
  return fault ? fault(batch) : ok_status();
}

Status Store::write(Batch& batch) {
  SHOAL_RETURN_IF_ERROR(check_write_fault(batch));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  rocksdb::Status s = db_->Write(wo, &batch.raw());
  if (!s.ok()) return from_rocks(s, "writing a batch to the store");
  return ok_status();
}

namespace {

// One put or delete of a batch written as files.
struct FileEntry {
  std::string_view key;
  std::string_view value;
  std::uint32_t order;  // place in the batch: of several ops on a key, the last one wins
  bool is_delete;
};

// A batch's entries per column family (default, outbox), pointing into the batch's bytes.
class FileEntryCollector final : public rocksdb::WriteBatch::Handler {
 public:
  std::vector<FileEntry> by_family[2];

  rocksdb::Status PutCF(std::uint32_t family, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    return add(family, key, value, false);
  }
  rocksdb::Status DeleteCF(std::uint32_t family, const rocksdb::Slice& key) override {
    return add(family, key, rocksdb::Slice(), true);
  }
  rocksdb::Status DeleteRangeCF(std::uint32_t, const rocksdb::Slice&,
                                const rocksdb::Slice&) override {
    return rocksdb::Status::InvalidArgument("it holds a range delete");
  }

 private:
  rocksdb::Status add(std::uint32_t family, const rocksdb::Slice& key, const rocksdb::Slice& value,
                      bool is_delete) {
    if (family > kOutboxFamilyId) {
      return rocksdb::Status::InvalidArgument("it addresses an unknown column family");
    }
    by_family[family].push_back({std::string_view(key.data(), key.size()),
                                 std::string_view(value.data(), value.size()), order_++,
                                 is_delete});
    return rocksdb::Status::OK();
  }
  std::uint32_t order_ = 0;
};

std::string_view record_type_of(std::string_view key) { return key.substr(0, 1); }

}  // namespace

std::string Store::ingest_directory() const { return path_ + "/ingest"; }

Status Store::write_as_files(Batch& batch) {
  SHOAL_RETURN_IF_ERROR(check_write_fault(batch));
  FileEntryCollector entries;
  rocksdb::Status s = batch.raw().Iterate(&entries);
  if (!s.ok()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a batch cannot be written as files: " + s.ToString());
  }
  std::vector<std::string> written;
  auto remove_written = [&written] {
    std::error_code ignored;  // a file already moved into the database is gone
    for (const std::string& file : written) std::filesystem::remove(file, ignored);
  };
  std::vector<rocksdb::IngestExternalFileArg> args;
  // The key range of each file, per entry of `args`: for the memtable check below.
  std::vector<std::vector<std::pair<std::string, std::string>>> ranges;
  for (std::uint32_t family = 0; family < 2; ++family) {
    std::vector<FileEntry>& list = entries.by_family[family];
    if (list.empty()) continue;
    std::sort(list.begin(), list.end(), [](const FileEntry& a, const FileEntry& b) {
      int c = a.key.compare(b.key);
      return c != 0 ? c < 0 : a.order < b.order;
    });
    rocksdb::IngestExternalFileArg& arg = args.emplace_back();
    arg.column_family = families_[family];
    arg.options.move_files = true;           // a hard link: the bytes are written once
    arg.options.allow_global_seqno = true;   // the files' keys are newer than all before them
    arg.options.write_global_seqno = false;  // kept in the MANIFEST, not written into the file
    std::vector<std::pair<std::string, std::string>>& family_ranges = ranges.emplace_back();
    const rocksdb::Options options = db_->GetOptions(families_[family]);
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(options), options, families_[family]);
    bool open = false;
    std::string_view last_key;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const FileEntry& entry = list[i];
      if (i + 1 < list.size() && list[i + 1].key == entry.key) continue;  // a later op wins
      if (!open || record_type_of(entry.key) != record_type_of(last_key)) {
        if (open) {
          s = writer.Finish();
          if (!s.ok()) break;
          family_ranges.back().second = std::string(last_key);
        }
        std::string file = ingest_directory() + "/" + std::to_string(::getpid()) + "-" +
                           std::to_string(next_ingest_file_.fetch_add(1)) + ".sst";
        s = writer.Open(file);
        if (!s.ok()) break;
        written.push_back(file);
        arg.external_files.push_back(std::move(file));
        family_ranges.emplace_back(std::string(entry.key), std::string());
        open = true;
      }
      s = entry.is_delete ? writer.Delete(rocksdb::Slice(entry.key.data(), entry.key.size()))
                          : writer.Put(rocksdb::Slice(entry.key.data(), entry.key.size()),
                                       rocksdb::Slice(entry.value.data(), entry.value.size()));
      if (!s.ok()) break;
      last_key = entry.key;
    }
    if (s.ok() && open) {
      s = writer.Finish();
      family_ranges.back().second = std::string(last_key);
    }
    if (!s.ok()) {
      remove_written();
      return from_rocks(s, "writing a batch as files in " + ingest_directory());
    }
  }
  if (args.empty()) return ok_status();
  // A file whose key range overlaps a memtable makes the ingestion flush that memtable while
  // it holds every other writer back. Flushing such a memtable first, with writers going on,
  // leaves that only to writes that land in between.
  std::vector<rocksdb::ColumnFamilyHandle*> to_flush;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (memtable_overlaps(args[i].column_family, ranges[i]))
      to_flush.push_back(args[i].column_family);
  }
  if (!to_flush.empty()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    flush.allow_write_stall = false;  // rather wait than stall the writers of the WAL path
    s = db_->Flush(flush, to_flush);
    if (!s.ok()) {
      remove_written();
      return from_rocks(s, "flushing before adding files to the store");
    }
  }
  if (before_ingest_) before_ingest_();
  s = db_->IngestExternalFiles(args);
  remove_written();  // left behind when moving fell back to copying, or on failure
  if (!s.ok()) return from_rocks(s, "adding a batch's files to the store");
  ingested_files_.fetch_add(written.size(), std::memory_order_relaxed);
  return ok_status();
}

bool Store::memtable_overlaps(
    rocksdb::ColumnFamilyHandle* family,
    const std::vector<std::pair<std::string, std::string>>& ranges) const {
  rocksdb::ReadOptions memtables_only;
  memtables_only.read_tier = rocksdb::kMemtableTier;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(memtables_only, family));
  for (const auto& [smallest, largest] : ranges) {
    it->Seek(slice(smallest));
    if (it->Valid() && it->key().compare(slice(largest)) <= 0) return true;
  }
  return false;
}

Status Store::scan(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& visit) const {
  if (!prefix.empty()) return scan_from(prefix, prefix, visit);
  bool stopped = false;
  auto visit_until_stopped = [&](std::string_view key, std::string_view value) {
    stopped = !visit(key, value);
    return !stopped;
  };
  SHOAL_RETURN_IF_ERROR(scan_family(families_[0], prefix, prefix, visit_until_stopped));
  if (stopped) return ok_status();
  return scan_family(families_[1], prefix, prefix, visit_until_stopped);
}

Status Store::scan_from(std::string_view prefix, std::string_view start,
                        const std::function<bool(std::string_view, std::string_view)>& visit) const {
  return scan_family(family_for(prefix), prefix, start, visit);
}

Status Store::scan_family(rocksdb::ColumnFamilyHandle* family, std::string_view prefix,
                          std::string_view start,
                          const std::function<bool(std::string_view, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family));
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
  db_->GetAggregatedIntProperty("rocksdb.live-sst-files-size", &sst);
  db_->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
  return sst + mem;
}

Store::MemoryUsage Store::memory_usage() const {
  MemoryUsage usage;
  db_->GetAggregatedIntProperty("rocksdb.size-all-mem-tables", &usage.memtables);
  db_->GetIntProperty("rocksdb.block-cache-usage", &usage.block_cache);
  return usage;
}

}  // namespace shoal::storage
