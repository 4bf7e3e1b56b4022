// The command log's promise: an engine that crashes after any commit and re-runs its log on
// open() continues exactly as one that never crashed. A seeded script of events, merges,
// deletions, clock jumps (timers), segment builds and removals and mapping changes runs through
// a reference engine (every commit a checkpoint, no log) and through a logged engine that is
// destroyed and reopened at many points, with uncommitted work thrown away each time; both must
// release the same triggers (ids and sequences included) and end with the same stored state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "model/json.h"

namespace shoal::engine {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMs kT = 1700000000000;
constexpr TimestampMs kMinute = 60'000;

constexpr const char* kMapping =
    "SELECT user_id, email, plan, count(*) AS visits, sum(amount) AS total, "
    "_ts AS last_seen KIND date, append(_ts) AS seen FROM events INTO user BY user_id OR email";
constexpr const char* kMappingV2 =
    "SELECT user_id, email, plan, count(*) AS visits, sum(amount) AS total, "
    "_ts AS last_seen KIND date, country FROM events INTO user BY user_id OR email";

struct Op {
  enum Kind { kAdvance, kEvent, kClose, kDeleteProfile, kDeleteField, kRegister, kBuildStep,
              kRemoveSegment, kSetMapping, kCommit, kRequestCheckpoint, kCheckpoint, kCrash } kind;
  TimestampMs ts = 0;
  std::string text;   // event JSON, segment/mapping text, identity value
  std::string extra;  // field name
};

Op op(Op::Kind kind, TimestampMs ts = 0, std::string text = {}, std::string extra = {}) {
  return Op{kind, ts, std::move(text), std::move(extra)};
}

// The script: deterministic from the seed.
std::vector<Op> make_script(unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<Op> ops;
  TimestampMs now = kT;
  ops.push_back(op(Op::kAdvance, now));
  ops.push_back(op(Op::kSetMapping, 0, kMapping));
  ops.push_back(op(Op::kRegister, 0, "FILTER plan == \"pro\" ALIAS pro"));
  ops.push_back(op(Op::kRegister, 0, "FILTER last_seen > \"now-30m\" ALIAS active"));
  ops.push_back(op(Op::kRegister, 0, "FILTER visits >= 3 ALIAS regular"));
  ops.push_back(op(Op::kRegister, 0, "FILTER INCLUDE pro AND INCLUDE active ALIAS pro_active"));
  for (int i = 0; i < 1500; ++i) {
    int r = pick(100);
    if (i == 400) {
      ops.push_back(op(Op::kRegister, 0, "FILTER total > 50 ALIAS big"));
    } else if (i == 800) {
      ops.push_back(op(Op::kRemoveSegment, 0, "regular"));
    } else if (i == 1000) {
      ops.push_back(op(Op::kSetMapping, 0, kMappingV2));
    } else if (r < 55) {
      std::string json = "{\"user_id\":\"u" + std::to_string(pick(80)) + "\"";
      if (pick(4) == 0) json += ",\"email\":\"e" + std::to_string(pick(50)) + "@x.io\"";
      if (pick(3) == 0) json += std::string(",\"plan\":\"") + (pick(2) ? "pro" : "free") + "\"";
      if (pick(3) == 0) json += ",\"amount\":" + std::to_string(pick(40));
      if (pick(5) == 0) json += ",\"country\":\"c" + std::to_string(pick(5)) + "\"";
      json += "}";
      if (pick(10) == 0) json = "{\"email\":\"e" + std::to_string(pick(50)) + "@x.io\"}";
      ops.push_back(op(Op::kEvent, now - pick(3) * kMinute, json));
    } else if (r < 70) {
      now += pick(3);  // same or next milliseconds
      ops.push_back(op(Op::kAdvance, now));
    } else if (r < 74) {
      now += pick(40) * kMinute;  // windows close, timers fire
      ops.push_back(op(Op::kAdvance, now));
    } else if (r < 77) {
      ops.push_back(op(Op::kClose));
    } else if (r < 79) {
      ops.push_back(op(Op::kDeleteProfile, 0, "u" + std::to_string(pick(80))));
    } else if (r < 81) {
      ops.push_back(op(Op::kDeleteField, 0, "u" + std::to_string(pick(80)), "plan"));
    } else if (r < 86) {
      ops.push_back(op(Op::kBuildStep));
    } else if (r < 93) {
      ops.push_back(op(Op::kCommit));  // mostly with the millisecond still open
    } else if (r < 96) {
      ops.push_back(op(Op::kRequestCheckpoint));
    } else if (r < 97) {
      ops.push_back(op(Op::kCheckpoint));
    } else {
      ops.push_back(op(Op::kCrash));
    }
  }
  ops.push_back(op(Op::kClose));
  ops.push_back(op(Op::kCheckpoint));
  return ops;
}

class CommandLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("shoal_command_log_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override { fs::remove_all(base_); }

  static EngineOptions options(bool command_log, bool background_checkpoints = true) {
    EngineOptions o;
    o.command_log = command_log;
    o.background_checkpoints = background_checkpoints;
    o.synchronous_segment_builds = false;
    // Eviction runs all the time, and most cached profiles wait for a checkpoint: they must
    // stay in memory.
    o.max_cached_profiles = 16;
    o.max_cached_identities = 32;
    o.checkpoint_dirty_profiles = 1'000'000;
    return o;
  }

  // Runs the script; returns every released trigger as a JSON line with its sequence.
  // `failed_writes`: every other background checkpoint write fails (counted there).
  std::vector<std::string> run(const std::vector<Op>& ops, bool command_log,
                               const fs::path& dir, int* restarts = nullptr,
                               bool background_checkpoints = true,
                               std::atomic<int>* failed_writes = nullptr) {
    auto store = storage::Store::open(dir.string(), {});
    EXPECT_TRUE(store.ok());
    if (failed_writes) {
      // The engine runs on this thread; only a background checkpoint writes from another.
      const std::thread::id engine_thread = std::this_thread::get_id();
      auto background_writes = std::make_shared<std::atomic<int>>(0);
      (*store)->set_write_fault_for_testing(
          [engine_thread, background_writes, failed_writes](const storage::Batch&) -> Status {
            if (std::this_thread::get_id() == engine_thread) return ok_status();
            if ((*background_writes)++ % 2 == 1) return ok_status();
            ++*failed_writes;
            return make_error(ErrorCode::kUnavailable, "injected checkpoint write failure");
          });
    }
    auto engine =
        std::make_unique<Engine>(**store, options(command_log, background_checkpoints));
    EXPECT_TRUE(engine->open().ok());
    std::vector<std::string> out;
    std::vector<Trigger> released;
    auto take = [&] {
      for (const Trigger& t : released) {
        out.push_back(std::to_string(t.sequence) + " " + trigger_to_json(t));
      }
      released.clear();
    };
    model::JsonParser parser;
    int junk = 0;
    for (const Op& op : ops) {
      switch (op.kind) {
        case Op::kAdvance: engine->advance_to(op.ts); break;
        case Op::kEvent: {
          auto data = parser.parse(op.text);
          EXPECT_TRUE(data.ok());
          (void)engine->apply_event("events", *data, op.ts);
          break;
        }
        case Op::kClose: engine->close_millisecond(); break;
        case Op::kDeleteProfile: (void)engine->delete_profile("user_id", op.text); break;
        case Op::kDeleteField: (void)engine->delete_field("user_id", op.text, op.extra); break;
        case Op::kRegister: (void)engine->register_segments({op.text}); break;
        case Op::kBuildStep: (void)engine->build_step(3); break;
        case Op::kRemoveSegment: EXPECT_TRUE(engine->remove_segment(op.text).ok()); break;
        case Op::kSetMapping: EXPECT_TRUE(engine->set_mapping(op.text).ok()); break;
        case Op::kCommit: EXPECT_TRUE(engine->commit(released).ok()); take(); break;
        case Op::kRequestCheckpoint:  // started by the commit, written in the background
          engine->request_checkpoint();
          EXPECT_TRUE(engine->commit(released).ok());
          take();
          break;
        case Op::kCheckpoint: EXPECT_TRUE(engine->checkpoint(released).ok()); take(); break;
        case Op::kCrash:
          EXPECT_TRUE(engine->commit(released).ok());
          take();
          if (!command_log) break;
          // Work after the last commit is lost with the process: it must leave no trace.
          (void)engine->apply_event(
              "events", *parser.parse("{\"user_id\":\"junk" + std::to_string(junk++) +
                                      "\",\"plan\":\"pro\"}"),
              engine->now());
          (void)engine->delete_profile("user_id", "u1");
          engine->advance_to(engine->now() + 90 * kMinute);
          engine.reset();
          engine = std::make_unique<Engine>(**store, options(command_log, background_checkpoints));
          EXPECT_TRUE(engine->open().ok());
          if (restarts) ++*restarts;
          break;
      }
    }
    return out;
  }

  // Every stored record the state consists of (timer-index keys aside: a checkpoint skips the
  // keys superseded between two checkpoints, which per-commit writes leave behind until due).
  static std::map<std::string, std::string> stored_state(const fs::path& dir) {
    auto store = storage::Store::open(dir.string(), {});
    EXPECT_TRUE(store.ok());
    std::map<std::string, std::string> state;
    for (std::string prefix : {"P", "I", "S", "Q", "Mcounters", "Msegment_sizes"}) {
      EXPECT_TRUE((*store)->scan(prefix, [&](std::string_view k, std::string_view v) {
        state.emplace(k, v);
        return true;
      }).ok());
    }
    return state;
  }

  // Opens `engine` with the script's first mapping at kT.
  static void start(Engine& engine) {
    ASSERT_TRUE(engine.open().ok());
    ASSERT_TRUE(engine.set_mapping(kMapping).ok());
    engine.advance_to(kT);
  }

  // How many stored keys start with `prefix`.
  static std::size_t count_keys(const storage::Store& store, std::string_view prefix) {
    std::size_t n = 0;
    EXPECT_TRUE(store.scan(prefix, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    }).ok());
    return n;
  }

  fs::path base_;
};

TEST_F(CommandLogTest, AnEngineReopenedAfterAnyCommitContinuesExactlyAsOneThatNeverStopped) {
  for (unsigned seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<Op> ops = make_script(seed);
    fs::path reference_dir = base_ / ("reference" + std::to_string(seed));
    fs::path logged_dir = base_ / ("logged" + std::to_string(seed));
    std::vector<std::string> reference = run(ops, /*command_log=*/false, reference_dir);
    ASSERT_GT(reference.size(), 200u);  // the script does exercise segments
    for (bool background : {true, false}) {
      SCOPED_TRACE(background ? "background checkpoints" : "inline checkpoints");
      fs::path dir = logged_dir.string() + (background ? "b" : "i");
      int restarts = 0;
      std::vector<std::string> logged =
          run(ops, /*command_log=*/true, dir, &restarts, background);
      EXPECT_GE(restarts, 20);
      ASSERT_EQ(logged.size(), reference.size());
      for (std::size_t i = 0; i < reference.size(); ++i) {
        ASSERT_EQ(logged[i], reference[i]) << "trigger " << i;
      }
      EXPECT_EQ(stored_state(dir), stored_state(reference_dir));
    }
  }
}

// A background checkpoint whose write fails hands everything back: the next one writes those
// profiles, identities, deletions and segment changes again and erases the log from where the
// failed one would have, so nothing is lost, through crashes too.
TEST_F(CommandLogTest, FailedBackgroundCheckpointWritesLoseNothing) {
  for (unsigned seed : {4u, 5u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<Op> ops = make_script(seed);
    fs::path reference_dir = base_ / ("reference" + std::to_string(seed));
    fs::path dir = base_ / ("failing" + std::to_string(seed));
    std::vector<std::string> reference = run(ops, /*command_log=*/false, reference_dir);
    std::atomic<int> failed{0};
    int restarts = 0;
    std::vector<std::string> logged =
        run(ops, /*command_log=*/true, dir, &restarts, /*background_checkpoints=*/true, &failed);
    EXPECT_GE(failed.load(), 5);
    EXPECT_GE(restarts, 10);
    {
      // The last (inline) checkpoint erased the whole log, the failed ones' ranges included.
      auto store = storage::Store::open(dir.string(), {});
      ASSERT_TRUE(store.ok());
      EXPECT_EQ(count_keys(**store, "C"), 0u);
    }
    ASSERT_EQ(logged.size(), reference.size());
    for (std::size_t i = 0; i < reference.size(); ++i) {
      ASSERT_EQ(logged[i], reference[i]) << "trigger " << i;
    }
    EXPECT_EQ(stored_state(dir), stored_state(reference_dir));
  }
}

TEST_F(CommandLogTest, CommitsWriteOneLogRecordAndACheckpointErasesTheLog) {
  auto store = storage::Store::open((base_ / "db").string(), {});
  ASSERT_TRUE(store.ok());
  EngineOptions o = options(true);
  o.max_cached_profiles = 1000;
  Engine engine(**store, o);
  ASSERT_NO_FATAL_FAILURE(start(engine));
  model::JsonParser parser;
  std::vector<Trigger> released;
  auto count = [&](std::string_view prefix) { return count_keys(**store, prefix); };
  for (int i = 0; i < 3; ++i) {
    for (int u = 0; u < 50; ++u) {
      (void)engine.apply_event("events", *parser.parse("{\"user_id\":\"u" + std::to_string(u) + "\"}"), kT);
    }
    ASSERT_TRUE(engine.commit(released).ok());
  }
  EXPECT_EQ(count("C"), 3u);
  EXPECT_EQ(count("P"), 0u);  // profiles wait for the checkpoint
  EXPECT_EQ(engine.counters().log_records, 3u);
  ASSERT_TRUE(engine.checkpoint(released).ok());
  EXPECT_EQ(count("C"), 0u);
  EXPECT_EQ(count("P"), 50u);
  EXPECT_EQ(engine.counters().checkpoints, 1u);
  // A commit with nothing to say writes nothing.
  std::uint64_t commits = engine.counters().commits;
  ASSERT_TRUE(engine.commit(released).ok());
  EXPECT_EQ(engine.counters().commits, commits);
}

// A background checkpoint erases the log it covers in a write of its own, after its files
// landed. A crash (here: a failed write) in between leaves those records: the next start
// erases them, and never re-runs them.
TEST_F(CommandLogTest, ALogLeftBehindByALandedCheckpointIsErasedAtTheNextStart) {
  auto store = storage::Store::open((base_ / "db").string(), {});
  ASSERT_TRUE(store.ok());
  const std::thread::id engine_thread = std::this_thread::get_id();
  auto background_writes = std::make_shared<int>(0);
  // The writer's first write (the checkpoint's files) goes through, its second (the log's
  // erasure) fails.
  (*store)->set_write_fault_for_testing(
      [engine_thread, background_writes](const storage::Batch&) -> Status {
        if (std::this_thread::get_id() == engine_thread || (*background_writes)++ == 0) {
          return ok_status();
        }
        return make_error(ErrorCode::kUnavailable, "injected log erasure failure");
      });
  auto count = [&](std::string_view prefix) { return count_keys(**store, prefix); };
  model::JsonParser parser;
  std::vector<Trigger> released;
  {
    Engine engine(**store, options(true));
    ASSERT_NO_FATAL_FAILURE(start(engine));
    for (int i = 0; i < 3; ++i) {
      for (int u = 0; u < 50; ++u) {
        (void)engine.apply_event("events",
                                 *parser.parse("{\"user_id\":\"u" + std::to_string(u) + "\"}"), kT);
      }
      ASSERT_TRUE(engine.commit(released).ok());
    }
    engine.request_checkpoint();
    ASSERT_TRUE(engine.commit(released).ok());  // starts it; the destructor waits for it
  }
  EXPECT_EQ(*background_writes, 2);
  EXPECT_EQ(count("P"), 50u);  // the checkpoint landed
  EXPECT_EQ(count("C"), 3u);   // its log did not go
  (*store)->set_write_fault_for_testing(nullptr);
  Engine reopened(**store, options(true));
  ASSERT_TRUE(reopened.open().ok());
  EXPECT_EQ(count("C"), 0u);
  EXPECT_EQ(reopened.counters().log_records_replayed, 0u);
  EXPECT_EQ(count("P"), 50u);
}

TEST_F(CommandLogTest, CommitCheckpointsByItselfWhenTheLogOrTheUnwrittenProfilesGrowTooLarge) {
  auto store = storage::Store::open((base_ / "db").string(), {});
  ASSERT_TRUE(store.ok());
  EngineOptions o = options(true);
  o.max_cached_profiles = 1000;
  o.checkpoint_dirty_profiles = 40;
  Engine engine(**store, o);
  ASSERT_NO_FATAL_FAILURE(start(engine));
  model::JsonParser parser;
  std::vector<Trigger> released;
  for (int u = 0; u < 39; ++u) {
    (void)engine.apply_event("events", *parser.parse("{\"user_id\":\"u" + std::to_string(u) + "\"}"), kT);
  }
  EXPECT_FALSE(engine.checkpoint_due());
  ASSERT_TRUE(engine.commit(released).ok());
  EXPECT_EQ(engine.counters().checkpoints, 0u);
  (void)engine.apply_event("events", *parser.parse(R"({"user_id":"u39"})"), kT);
  EXPECT_TRUE(engine.checkpoint_due());
  ASSERT_TRUE(engine.commit(released).ok());
  EXPECT_FALSE(engine.checkpoint_due());  // started: written in the background
  // Later commits take in its outcome once it has landed.
  for (int i = 0; i < 500 && engine.counters().checkpoints == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(engine.commit(released).ok());
  }
  EXPECT_EQ(engine.counters().checkpoints, 1u);
  EXPECT_EQ(count_keys(**store, "P"), 40u);
  // A requested checkpoint is started by the next commit too.
  (void)engine.apply_event("events", *parser.parse(R"({"user_id":"u40"})"), kT);
  engine.request_checkpoint();
  EXPECT_TRUE(engine.checkpoint_due());
  ASSERT_TRUE(engine.commit(released).ok());
  EXPECT_FALSE(engine.checkpoint_due());
}

TEST_F(CommandLogTest, ALongLogMakesTheNextCommitCheckpoint) {
  auto store = storage::Store::open((base_ / "db").string(), {});
  ASSERT_TRUE(store.ok());
  EngineOptions o = options(true);
  o.max_cached_profiles = 1000;
  o.checkpoint_log_bytes = 2000;
  Engine engine(**store, o);
  ASSERT_NO_FATAL_FAILURE(start(engine));
  model::JsonParser parser;
  std::vector<Trigger> released;
  // Each commit adds a log record; once the log passes its bound a commit starts a checkpoint
  // by itself, and a later commit takes in its outcome.
  for (int events = 0; events < 1000 && engine.counters().checkpoints == 0; ++events) {
    (void)engine.apply_event("events", *parser.parse(R"({"user_id":"u1","plan":"pro"})"), kT);
    ASSERT_TRUE(engine.commit(released).ok());
    if (events > 0 && engine.counters().checkpoints == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(engine.counters().checkpoints, 1u);
  EXPECT_GT(engine.counters().log_records, 5u);  // several records before the bound
  // The log it covered is gone; only records written after its instant remain.
  EXPECT_LT(count_keys(**store, "C"), engine.counters().log_records);
}

TEST_F(CommandLogTest, WithoutTheTriggerLogTriggersAreReleasedButNotStored) {
  auto store = storage::Store::open((base_ / "db").string(), {});
  ASSERT_TRUE(store.ok());
  EngineOptions o = options(false);
  o.trigger_log = false;
  Engine engine(**store, o);
  ASSERT_NO_FATAL_FAILURE(start(engine));
  (void)engine.register_segments({"FILTER visits >= 1 ALIAS seen"});
  model::JsonParser parser;
  (void)engine.apply_event("events", *parser.parse(R"({"user_id":"u1"})"), kT);
  engine.close_millisecond();
  std::vector<Trigger> released;
  ASSERT_TRUE(engine.commit(released).ok());
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(count_keys(**store, "O"), 0u);
  auto outbox = engine.read_outbox(0, 10);
  ASSERT_TRUE(outbox.ok());
  EXPECT_TRUE(outbox->empty());
}

TEST_F(CommandLogTest, ACorruptLogRecordStopsOpenWithAMessageNamingIt) {
  fs::path dir = base_ / "db";
  {
    auto store = storage::Store::open(dir.string(), {});
    ASSERT_TRUE(store.ok());
    Engine engine(**store, options(true));
    ASSERT_TRUE(engine.open().ok());
    ASSERT_TRUE(engine.set_mapping(kMapping).ok());
    std::vector<Trigger> released;
    ASSERT_TRUE(engine.commit(released).ok());
    storage::Batch batch;
    batch.put(storage::command_log_key(2), std::string("\x01" "E\x05", 3));  // truncated
    ASSERT_TRUE((*store)->write(batch).ok());
  }
  auto store = storage::Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok());
  Engine engine(**store, options(true));
  Status opened = engine.open();
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kCorruption);
  EXPECT_NE(opened.error().message.find("command log record 2"), std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace shoal::engine
