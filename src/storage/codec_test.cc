#include "storage/codec.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <limits>

#include "core/varint.h"
#include "storage/store.h"
#include "tests/support/self_child.h"

namespace shoal::storage {
namespace {

model::Profile sample_profile() {
  model::Profile p;
  p.id = model::ProfileId{42};
  p.created_ms = 1000;
  p.modified_ms = 5000;
  p.change_counter = 7;
  p.add_identity("email", "a@x.com");
  p.add_identity("user_id", "u1");
  p.field_slot("plan") = model::FieldValue{model::Value("pro"), 4000, 3, model::MergeOp::kLatest};
  p.field_slot("visits") =
      model::FieldValue{model::Value(model::TimeSeries{5000, 4000, 10}), 5000, 4,
                        model::MergeOp::kAppend};
  p.field_slot("score") = model::FieldValue{model::Value(2.5), 1, 1, model::MergeOp::kMax};
  p.field_slot("tags") = model::FieldValue{
      model::Value(model::ValueMap{{"a", model::Value(1)}, {"b", model::Value(-3)}}), 1, 1,
      model::MergeOp::kSum};
  p.set_membership(model::SegmentOrdinal{3}, 4500);
  p.set_timer(model::SegmentOrdinal{3}, 90000);
  return p;
}

TEST(CodecTest, ProfileRoundTrips) {
  model::Profile p = sample_profile();
  std::string bytes;
  encode_profile(p, bytes);
  auto back = decode_profile(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, p);
}

// encode_value sizes its output once and writes in place (the command log encodes every
// event with it): every kind, nested, at the extremes, appended after other bytes, round-trips.
TEST(CodecTest, EveryKindOfValueRoundTripsAfterExistingBytes) {
  using model::Value;
  const Value values[] = {
      Value(),
      Value(true),
      Value(false),
      Value(static_cast<std::int64_t>(0)),
      Value(std::numeric_limits<std::int64_t>::min()),
      Value(std::numeric_limits<std::int64_t>::max()),
      Value(-2.5),
      Value(std::numeric_limits<double>::infinity()),
      Value(std::string()),
      Value(std::string(300, 'x')),
      Value(model::Date{-86400000}),
      Value(model::ValueList{}),
      Value(model::ValueList{Value("a"), Value(static_cast<std::int64_t>(-7)), Value()}),
      Value(model::TimeSeries{}),
      Value(model::TimeSeries{std::numeric_limits<TimestampMs>::max(), 5, 5,
                              std::numeric_limits<TimestampMs>::min() + 1}),
      Value(model::ValueMap{}),
      Value(model::ValueMap{
          {"", Value(1.0)},
          {"nested", Value(model::ValueMap{{"list", Value(model::ValueList{Value(true)})},
                                           {"s", Value(std::string(200, 'y'))}})}}),
  };
  for (const Value& v : values) {
    std::string bytes = "prefix";
    encode_value(v, bytes);
    ASSERT_EQ(bytes.substr(0, 6), "prefix");
    std::string_view in(bytes);
    in.remove_prefix(6);
    auto back = decode_value(in);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, v);
    EXPECT_TRUE(in.empty()) << in.size() << " bytes left over";
  }
}

TEST(CodecTest, EveryTruncationIsReportedAsCorruption) {
  std::string bytes;
  encode_profile(sample_profile(), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_profile(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix " << n;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
}

// Fields are stored sorted by name; a record whose names are out of order (or repeated) is
// corrupt, not a profile whose lookups would miss fields.
TEST(CodecTest, FieldsOutOfOrderAreReportedAsCorruption) {
  std::string bytes;
  encode_profile(sample_profile(), bytes);
  for (const char* renamed : {"zzzz", "tags"}) {
    std::string bad = bytes;
    const std::size_t at = bad.find("plan");
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(bad.find("plan", at + 1), std::string::npos);
    bad.replace(at, 4, renamed);  // plan, score, tags, visits -> zzzz/tags first
    auto r = decode_profile(bad);
    ASSERT_FALSE(r.ok()) << renamed;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
    EXPECT_NE(r.error().message.find("fields out of order"), std::string::npos)
        << r.error().message;
  }
  std::string renamed = bytes;
  renamed.replace(renamed.find("plan"), 4, "aaaa");  // still first: decodes
  EXPECT_TRUE(decode_profile(renamed).ok());
}

// An older profile record up to its memberships: id 42, created 1000, modified 5000, change
// counter 7, no identities, no fields.
std::string old_profile_header(char format) {
  std::string bytes(1, format);
  put_varint(bytes, 42);                 // id
  put_varint(bytes, zigzag(1000));       // created
  put_varint(bytes, zigzag(4000));       // modified - created
  put_varint(bytes, 7);                  // change counter
  put_varint(bytes, 0);                  // identities
  put_varint(bytes, 0);                  // fields
  return bytes;
}

TEST(CodecTest, DecodesFormatOneProfiles) {
  // Format 1 wrote memberships and timers as counted (ordinal, zigzag instant) lists; stores
  // written before format 2 must still load.
  std::string bytes = old_profile_header('\x01');
  put_varint(bytes, 2);                  // memberships
  put_varint(bytes, 3);
  put_varint(bytes, zigzag(4500));
  put_varint(bytes, 70000);
  put_varint(bytes, zigzag(-20));
  put_varint(bytes, zigzag(90000));      // timer key due
  put_varint(bytes, 1);                  // timers
  put_varint(bytes, 3);
  put_varint(bytes, zigzag(90000));
  auto back = decode_profile(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->id.value, 42u);
  EXPECT_EQ(back->modified_ms, 5000);
  EXPECT_EQ(back->membership(model::SegmentOrdinal{3}), 4500);
  EXPECT_EQ(back->membership(model::SegmentOrdinal{70000}), -20);
  EXPECT_EQ(back->memberships.size(), 2u);
  EXPECT_EQ(back->timers.find(model::SegmentOrdinal{3}), 90000);
  EXPECT_EQ(back->timer_key_due, 90000);

  // Out-of-order ordinals in a format-1 list are corruption, not a silently unsorted list.
  std::string swapped(1, '\x01');
  for (std::uint64_t v : {42, 0, 0, 0, 0, 0, 2, 5, 0, 3, 0, 0, 0}) put_varint(swapped, v);
  auto bad = decode_profile(swapped);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kCorruption);
  EXPECT_NE(bad.error().message.find("membership"), std::string::npos);
}

TEST(CodecTest, DecodesFormatTwoProfiles) {
  // Format 2 stored each list as its byte count, then varint(ordinal gap) and zigzag
  // varint(instant delta) per entry; stores written before format 3 must still load.
  const std::string header = old_profile_header('\x02');
  std::string bytes = header;
  std::string members;
  put_varint(members, 3);                // ordinal 3
  put_varint(members, zigzag(4500));
  put_varint(members, 70000 - 4);        // ordinal 70000
  put_varint(members, zigzag(-20 - 4500));
  put_bytes(bytes, members);
  put_varint(bytes, zigzag(90000));      // timer key due
  std::string timers;
  put_varint(timers, 3);
  put_varint(timers, zigzag(90000));
  put_bytes(bytes, timers);
  auto back = decode_profile(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->membership(model::SegmentOrdinal{3}), 4500);
  EXPECT_EQ(back->membership(model::SegmentOrdinal{70000}), -20);
  EXPECT_EQ(back->memberships.size(), 2u);
  EXPECT_EQ(back->timers.find(model::SegmentOrdinal{3}), 90000);
  EXPECT_EQ(back->timer_key_due, 90000);
  // Written again, it is format 3 and reads back the same.
  std::string again;
  encode_profile(*back, again);
  EXPECT_EQ(again.front(), '\x03');
  auto reread = decode_profile(again);
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  EXPECT_EQ(*reread, *back);

  // An ordinal beyond 32 bits in a format-2 list is corruption.
  std::string overflow = header;
  std::string big;
  put_varint(big, std::uint64_t{UINT32_MAX} + 1);
  put_varint(big, 0);
  put_bytes(overflow, big);
  put_varint(overflow, 0);
  put_bytes(overflow, "");
  auto bad = decode_profile(overflow);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("membership"), std::string::npos) << bad.error().message;
}

TEST(CodecTest, AProfileFromANewerBuildIsReportedAsSuchNotAsCorrupt) {
  model::Profile p;
  p.id = model::ProfileId{7};
  std::string bytes;
  encode_profile(p, bytes);
  const int current = bytes[0];
  bytes[0] = static_cast<char>(current + 1);  // the next format, unknown to this build
  auto newer = decode_profile(bytes);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.error().code, ErrorCode::kFailedPrecondition);
  const std::string& message = newer.error().message;
  EXPECT_NE(message.find("format " + std::to_string(current + 1) + ", written by a newer shoal"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("reads formats 1-" + std::to_string(current)), std::string::npos)
      << message;
  bytes[0] = 0;
  auto zero = decode_profile(bytes);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code, ErrorCode::kCorruption);
  EXPECT_NE(zero.error().message.find("unknown profile format 0"), std::string::npos)
      << zero.error().message;
}

TEST(CodecTest, TimerKeysSortByDueIncludingNegativeTimes) {
  std::string a = timer_key(0, -5, model::ProfileId{9});
  std::string b = timer_key(0, 3, model::ProfileId{1});
  EXPECT_LT(a, b);
  TimestampMs due = 0;
  model::ProfileId id;
  ASSERT_TRUE(parse_timer_key(a, due, id));
  EXPECT_EQ(due, -5);
  EXPECT_EQ(id.value, 9u);
}

// The engine keeps timer keys as (due, id) pairs, sorts the pairs and writes the keys in that
// order: the two orders must agree, and a key written over a reused string must be whole.
TEST(CodecTest, TimerKeysSortAsTheirDueAndIdPairsAndReuseAString) {
  const std::vector<std::pair<TimestampMs, std::uint64_t>> pairs = {
      {std::numeric_limits<TimestampMs>::min(), 5},
      {-86'400'000, 1},
      {-1, std::numeric_limits<std::uint64_t>::max()},
      {0, 0},
      {0, 1},
      {0, 256},
      {1, 2},
      {255, 1},
      {256, 1},
      {1'700'000'000'000, 7},
      {std::numeric_limits<TimestampMs>::max(), 3}};
  std::string reused = "a much longer key left over from an earlier use";
  std::string previous;
  for (const auto& [due, id] : pairs) {
    assign_timer_key(reused, 3, due, model::ProfileId{id});
    EXPECT_EQ(reused, timer_key(3, due, model::ProfileId{id})) << due << "/" << id;
    EXPECT_EQ(reused.size(), 19u);
    EXPECT_TRUE(reused.starts_with(timer_prefix(3))) << due << "/" << id;
    EXPECT_LT(previous, reused) << due << "/" << id;
    TimestampMs parsed_due = 0;
    model::ProfileId parsed_id;
    ASSERT_TRUE(parse_timer_key(reused, parsed_due, parsed_id));
    EXPECT_EQ(parsed_due, due);
    EXPECT_EQ(parsed_id.value, id);
    previous = reused;
  }
  EXPECT_TRUE(std::is_sorted(pairs.begin(), pairs.end()));
}

// Every key=value under `prefix`, in order.
std::vector<std::string> scan_all(Store& store, std::string_view prefix) {
  std::vector<std::string> seen;
  EXPECT_TRUE(store
                  .scan(prefix,
                        [&](std::string_view k, std::string_view v) {
                          seen.push_back(std::string(k) + "=" + std::string(v));
                          return true;
                        })
                  .ok());
  return seen;
}

TEST(StoreTest, WritesAreAtomicAndScannable) {
  auto dir = std::filesystem::temp_directory_path() / ("shoal_store_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto store = Store::open(dir.string(), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    Batch batch;
    batch.put("Pa", "1");
    batch.put("Pb", "2");
    batch.put("Q", "3");
    ASSERT_TRUE((*store)->write(batch).ok());
  }
  auto store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(scan_all(**store, "P"), (std::vector<std::string>{"Pa=1", "Pb=2"}));
  EXPECT_FALSE((*store)->get("Pz")->has_value());
  std::filesystem::remove_all(dir);
}

TEST(StoreTest, AnAppendedBatchKeepsItsPutsAndDeletesInOrderAfterTheOwnOnes) {
  auto dir = std::filesystem::temp_directory_path() /
             ("shoal_store_append_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Batch first;
  first.erase("Pa");   // the appended put of Pa comes later and wins
  first.put("Pb", "1");
  Batch second;
  second.put("Pa", "2");
  second.erase("Pb");  // comes after first's put: Pb ends up absent
  second.put("Pc", std::string("x\0y", 3));
  first.append(second);
  EXPECT_EQ(first.count(), 5u);
  ASSERT_TRUE((*store)->write(first).ok());
  EXPECT_EQ(scan_all(**store, "P"),
            (std::vector<std::string>{"Pa=2", std::string("Pc=x\0y", 6)}));
  store->reset();
  std::filesystem::remove_all(dir);
}

std::string outbox_test_key(std::string_view tail) {
  return std::string(1, static_cast<char>(RecordType::kExportOutbox)) + std::string(tail);
}

TEST(StoreTest, ExportOutboxesLiveInTheirOwnFamilyAndTakeRangeDeletes) {
  auto dir = std::filesystem::temp_directory_path() /
             ("shoal_store_outbox_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Batch batch;  // one atomic batch across both families
  for (char c = 'a'; c <= 'f'; ++c) batch.put(outbox_test_key(std::string("s1") + c), "m");
  batch.put(outbox_test_key("s2a"), "other");
  batch.put("Pa", "profile");
  ASSERT_TRUE((*store)->write(batch).ok());
  EXPECT_EQ((*store)->get(outbox_test_key("s1c"))->value_or("-"), "m");
  EXPECT_EQ(scan_all(**store, outbox_test_key("s1")).size(), 6u);
  // [s1b, s1e) goes with one range delete; its neighbours and the other outbox stay.
  Batch deletes;
  deletes.erase_range(outbox_test_key("s1b"), outbox_test_key("s1e"));
  deletes.erase(outbox_test_key("s1f"));
  Batch appended;
  appended.append(deletes);  // an appended batch keeps the families and the range delete
  ASSERT_TRUE((*store)->write(appended).ok());
  EXPECT_EQ(scan_all(**store, outbox_test_key("s1")),
            (std::vector<std::string>{outbox_test_key("s1a") + "=m", outbox_test_key("s1e") + "=m"}));
  EXPECT_EQ(scan_all(**store, outbox_test_key("s2")).size(), 1u);
  EXPECT_EQ((*store)->get("Pa")->value_or("-"), "profile");
  // The empty prefix visits both families.
  EXPECT_EQ(scan_all(**store, "").size(), 4u);
  store->reset();
  // Reopened: everything is where it was.
  store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(scan_all(**store, outbox_test_key("")).size(), 3u);
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreTest, ABatchWrittenAsFilesEndsAsWriteWouldLeaveItOneFilePerRecordType) {
  auto dir = std::filesystem::temp_directory_path() /
             ("shoal_store_files_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Batch before;  // logged, still in the memtable: the files' ranges overlap it
  before.put("Pa", "old");
  before.put("Pb", "old");
  before.put("Pd", "old");
  before.put(outbox_test_key("s1a"), "old");
  ASSERT_TRUE((*store)->write(before).ok());
  Batch batch;  // out of key order, with several ops on a key: the last one wins
  batch.put("Pc", "1");
  batch.erase("Pa");
  batch.put("Pa", "new");  // deleted, then put again: put
  batch.put("Pb", "x");
  batch.erase("Pb");  // put, then deleted: absent
  batch.put("Tb", "");
  batch.put("Ta", "");
  batch.put(outbox_test_key("s1b"), "m");
  batch.erase(outbox_test_key("s1a"));
  batch.put("Pc", "2");
  ASSERT_TRUE((*store)->write_as_files(batch).ok());
  // P and T in the default family, E in the outbox family.
  EXPECT_EQ((*store)->ingested_files(), 3u);
  Batch after;  // logged after the files: newer than them
  after.put("Pd", "newest");
  ASSERT_TRUE((*store)->write(after).ok());
  auto expect_contents = [&] {
    EXPECT_EQ(scan_all(**store, "P"), (std::vector<std::string>{"Pa=new", "Pc=2", "Pd=newest"}));
    EXPECT_EQ(scan_all(**store, "T"), (std::vector<std::string>{"Ta=", "Tb="}));
    EXPECT_EQ(scan_all(**store, outbox_test_key("")),
              (std::vector<std::string>{outbox_test_key("s1b") + "=m"}));
  };
  ASSERT_NO_FATAL_FAILURE(expect_contents());
  // The files moved into the database: none is left beside it.
  EXPECT_TRUE(std::filesystem::is_empty(dir / "ingest"));
  store->reset();
  store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_NO_FATAL_FAILURE(expect_contents());
  // An empty batch writes no file.
  Batch empty;
  ASSERT_TRUE((*store)->write_as_files(empty).ok());
  EXPECT_EQ((*store)->ingested_files(), 0u);
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreTest, ABatchWithARangeDeleteIsNotWrittenAsFilesAndChangesNothing) {
  auto dir = std::filesystem::temp_directory_path() /
             ("shoal_store_files_range_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Batch batch;
  batch.put("Pa", "1");
  batch.erase_range(outbox_test_key("a"), outbox_test_key("b"));
  Status s = (*store)->write_as_files(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message.find("range delete"), std::string::npos) << s.error().message;
  EXPECT_FALSE((*store)->get("Pa")->has_value());
  EXPECT_TRUE(std::filesystem::is_empty(dir / "ingest"));
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreTest, OutboxesWrittenBeforeTheirFamilyExistedAreMovedThereAtOpen) {
  auto dir = std::filesystem::temp_directory_path() /
             ("shoal_store_outbox_move_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    // A store as an earlier shoal wrote it: one family holding everything.
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), outbox_test_key("s" + std::to_string(1000 + i)),
                          std::string(5000, 'x'))
                      .ok());
    }
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Pa", "profile").ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "F", "after the outboxes").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto store = Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(scan_all(**store, outbox_test_key("s")).size(), 1000u);
  EXPECT_EQ((*store)->get(outbox_test_key("s1500"))->value_or("-"), std::string(5000, 'x'));
  EXPECT_EQ((*store)->get("Pa")->value_or("-"), "profile");
  EXPECT_EQ((*store)->get("F")->value_or("-"), "after the outboxes");
  store->reset();
  {
    // The default family no longer holds them.
    rocksdb::DBOptions options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"outbox", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[0]));
    int outbox_keys_left = 0;
    for (it->Seek(outbox_test_key("")); it->Valid() && it->key().starts_with(outbox_test_key(""));
         it->Next()) {
      ++outbox_keys_left;
    }
    EXPECT_EQ(outbox_keys_left, 0);
    it.reset();
    for (auto* handle : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(handle).ok());
    ASSERT_TRUE(raw->Close().ok());
    delete raw;
  }
  std::filesystem::remove_all(dir);
}

constexpr const char* kCrashChildEnv = "SHOAL_STORE_CRASH_CHILD";  // <dir>|<crash|flushed>
constexpr int kUnloggedKeys = 20000;

// The child of ABatchWrittenAsFilesIsLostWholeByACrashBeforeItIsAdded: a logged write, a batch
// written as files, a logged write, then an exit without closing the store (as kill -9), either
// between writing the files and adding them or after they were added.
TEST(StoreCrashChild, Run) {
  const char* env = std::getenv(kCrashChildEnv);
  if (env == nullptr) GTEST_SKIP() << "runs only as StoreTest's child process";
  std::string spec = env;
  std::string dir = spec.substr(0, spec.find('|'));
  bool crash_before_ingest = spec.substr(spec.find('|') + 1) == "crash";
  auto store = Store::open(dir, {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Batch before;
  before.put("Pa", "logged before");
  ASSERT_TRUE((*store)->write(before).ok());
  Store* raw = store->get();
  auto write_after_and_die = [raw] {
    Batch after;
    after.put("Pz", "logged after");
    if (!raw->write(after).ok()) std::_Exit(4);
    std::_Exit(0);
  };
  if (crash_before_ingest) raw->set_before_ingest_for_testing(write_after_and_die);
  Batch unlogged;
  for (int i = 0; i < kUnloggedKeys; ++i) unlogged.put("Pm" + std::to_string(100000 + i), "u");
  unlogged.erase("Pa");  // the checkpoint-like batch also erases
  unlogged.put("Tz", "");  // and spans record types (files)
  ASSERT_TRUE(raw->write_as_files(unlogged).ok());
  write_after_and_die();
}

TEST(StoreTest, ABatchWrittenAsFilesIsLostWholeByACrashBeforeItIsAddedAndKeptAfter) {
  for (const std::string mode : {"crash", "added"}) {
    auto dir = std::filesystem::temp_directory_path() /
               ("shoal_store_unlogged_test_" + std::to_string(::getpid()) + "_" + mode);
    std::filesystem::remove_all(dir);
    const std::string spec = dir.string() + "|" + mode;
    pid_t pid = test::start_self_as_child("StoreCrashChild.Run", kCrashChildEnv, spec);
    ASSERT_GE(pid, 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << mode << ": " << status;
    auto store = Store::open(dir.string(), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    std::size_t unlogged = scan_all(**store, "Pm").size();
    EXPECT_EQ((*store)->get("Pz")->value_or("-"), "logged after") << mode;
    if (mode == "crash") {
      EXPECT_EQ(unlogged, 0u) << "a part of the unlogged batch survived the crash";
      EXPECT_EQ((*store)->get("Pa")->value_or("-"), "logged before");
      EXPECT_FALSE((*store)->get("Tz")->has_value());
      // The files the crash left were removed when the store opened.
      EXPECT_TRUE(std::filesystem::is_empty(dir / "ingest"));
    } else {
      EXPECT_EQ(unlogged, static_cast<std::size_t>(kUnloggedKeys));
      EXPECT_FALSE((*store)->get("Pa")->has_value());
      EXPECT_TRUE((*store)->get("Tz")->has_value());
    }
    store->reset();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace shoal::storage
