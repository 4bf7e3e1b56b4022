#pragma once
// Shared by the import tests: a store + partition + mapping bed, stream helpers on a Kinesis
// emulator, and bounded waiting. Test code only.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/partition.h"
#include "import/consumer.h"
#include "import/lease_store.h"
#include "kinesis/kinesis_client.h"
#include "model/json.h"
#include "storage/store.h"

namespace shoal::import::testing {

inline constexpr const char* kMapping =
    "SELECT user_id, count(*) AS events, sum(n) AS total, n AS last_n FROM events INTO user BY "
    "user_id";

// Polls `done` every 20 ms for at most `timeout`.
inline bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// Runs `work` on the engine thread and waits for its commit.
template <class T>
T on_engine(engine::Partition& partition, std::function<T(engine::Engine&)> work) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  T out{};
  for (int i = 0; i < 500; ++i) {
    Status s = partition.submit([&](engine::Engine& e) { out = work(e); },
                                [&](const Status&) {
                                  std::lock_guard l(m);
                                  done = true;
                                  cv.notify_all();
                                });
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::unique_lock l(m);
  cv.wait_for(l, std::chrono::seconds(30), [&] { return done; });
  return out;
}

// A store, a running partition with kMapping and segments, in a temporary directory.
class EngineBed {
 public:
  // A fresh bed in a temporary directory named after `name`, removed at the end.
  explicit EngineBed(std::string name)
      : EngineBed(std::filesystem::temp_directory_path() /
                      ("shoal_import_" + std::to_string(::getpid()) + "_" + name),
                  false) {}
  // A bed in `dir`, kept (and reopened as it is) when `keep`. `partition_options`: e.g. a short
  // checkpoint interval, so that kills also land while checkpoints are written.
  EngineBed(std::filesystem::path dir, bool keep,
            engine::PartitionOptions partition_options = {})
      : dir_(std::move(dir)), keep_(keep), partition_options_(partition_options) {
    if (!keep) std::filesystem::remove_all(dir_);
    open();
  }
  ~EngineBed() {
    close();
    if (!keep_) std::filesystem::remove_all(dir_);
  }
  // Opens the store and starts the partition; the mapping and segments are registered once
  // (a reopened store keeps them, and registering again would rebuild the segments).
  void open() {
    store = std::move(storage::Store::open(dir_.string(), {}).value());
    partition = std::make_unique<engine::Partition>(*store, engine::EngineOptions{}, clock,
                                                    partition_options_, nullptr);
    ASSERT_TRUE(partition->start().ok());
    bool ok = on_engine<bool>(*partition, [](engine::Engine& e) {
      if (e.mapping_for("events") == nullptr && !e.set_mapping(kMapping).ok()) return false;
      if (!e.catalog().ordinals().empty()) return true;
      auto batch =
          e.register_segments({"FILTER events >= 3 ALIAS three", "FILTER total > 100 ALIAS big"});
      for (const auto& o : batch.outcomes) {
        if (!o.result.ok()) return false;
      }
      return true;
    });
    ASSERT_TRUE(ok);
  }
  void close() {
    if (partition) partition->stop();
    partition.reset();
    store.reset();
  }
  const std::filesystem::path& dir() const { return dir_; }

  // user_id -> {events, total, last_n} of every profile holding one of `users`.
  std::map<std::string, std::vector<std::int64_t>> profiles(const std::vector<std::string>& users) {
    return on_engine<std::map<std::string, std::vector<std::int64_t>>>(
        *partition, [&](engine::Engine& e) {
          std::map<std::string, std::vector<std::int64_t>> out;
          for (const std::string& user : users) {
            auto p = e.find_profile("user_id", user);
            if (!p.ok() || *p == nullptr) continue;
            std::vector<std::int64_t> values;
            for (const char* field : {"events", "total", "last_n"}) {
              const model::FieldValue* fv = (*p)->field(field);
              const model::Value* v = fv == nullptr ? nullptr : &fv->value;
              std::int64_t n = -1;
              if (v != nullptr && v->is_int()) n = v->as_int();
              if (v != nullptr && v->is_number()) n = static_cast<std::int64_t>(v->as_number());
              if (v != nullptr && v->is_string()) n = std::atoll(v->as_string().c_str());
              values.push_back(n);
            }
            out[user] = values;
          }
          return out;
        });
  }

  WallClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<engine::Partition> partition;

 private:
  std::filesystem::path dir_;
  bool keep_;
  engine::PartitionOptions partition_options_;
};

}  // namespace shoal::import::testing
