#include "engine/engine.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "model/json.h"

namespace shoal::engine {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMs kT = 1700000000000;
constexpr TimestampMs kDay = 86400000;
constexpr const char* kMapping =
    "SELECT user_id, plan, _ts AS last_seen KIND date FROM events INTO user BY user_id";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shoal_engine_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<storage::Store> open_store() {
    auto store = storage::Store::open(dir_.string(), {});
    EXPECT_TRUE(store.ok()) << store.error().message;
    return std::move(store).value();
  }

  model::Value event(std::string_view json) {
    model::JsonParser parser;
    return *parser.parse(json);
  }

  fs::path dir_;
};

TEST_F(EngineTest, TimersAndMembershipSurviveARestart) {
  {
    auto store = open_store();
    Engine engine(*store, {});
    ASSERT_TRUE(engine.open().ok());
    ASSERT_TRUE(engine.set_mapping(kMapping).ok());
    engine.advance_to(kT);
    auto batch = engine.register_segments({"FILTER last_seen > \"now-7d\" ALIAS active"});
    ASSERT_TRUE(batch.outcomes[0].result.ok());
    ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u1"})"), kT).applied);
    engine.close_millisecond();
    std::vector<Trigger> released;
    ASSERT_TRUE(engine.commit(released).ok());
    ASSERT_EQ(released.size(), 1u);
    EXPECT_EQ(released[0].event, TriggerEvent::kEnter);
  }
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  auto profile = engine.find_profile("user_id", "u1");
  ASSERT_TRUE(profile.ok());
  ASSERT_NE(*profile, nullptr);
  EXPECT_EQ((*profile)->memberships.size(), 1u);
  engine.advance_to(kT + 8 * kDay);
  std::vector<Trigger> released;
  ASSERT_TRUE(engine.commit(released).ok());
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].event, TriggerEvent::kExit);
  EXPECT_EQ(released[0].ts, kT + 7 * kDay);
  EXPECT_EQ(released[0].slug(), "active");
}

// The segments to re-evaluate for an event are kept as a bitmap over ordinals: those past the
// first 64 must be evaluated too, also when the open millisecond is checkpointed and resumed.
TEST_F(EngineTest, ChangedFieldsReevaluateSegmentsPastTheFirst64Ordinals) {
  std::vector<std::string> segments;
  for (int i = 1; i <= 130; ++i) {
    segments.push_back("FILTER plan == \"p" + std::to_string(i) + "\" ALIAS s" + std::to_string(i));
  }
  std::vector<std::string> seen;
  auto record = [&seen](const std::vector<Trigger>& released) {
    for (const Trigger& t : released) {
      seen.push_back(std::string(trigger_event_name(t.event)) + " " + t.slug());
    }
  };
  {
    auto store = open_store();
    Engine engine(*store, {});
    ASSERT_TRUE(engine.open().ok());
    ASSERT_TRUE(engine.set_mapping(kMapping).ok());
    engine.advance_to(kT);
    for (const auto& outcome : engine.register_segments(segments).outcomes) {
      ASSERT_TRUE(outcome.result.ok());
    }
    ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u1","plan":"p1"})"), kT).applied);
    engine.advance_to(kT + 1);
    ASSERT_TRUE(
        engine.apply_event("events", event(R"({"user_id":"u1","plan":"p70"})"), kT + 1).applied);
    engine.advance_to(kT + 2);
    ASSERT_TRUE(
        engine.apply_event("events", event(R"({"user_id":"u1","plan":"p130"})"), kT + 2).applied);
    std::vector<Trigger> released;
    ASSERT_TRUE(engine.checkpoint(released).ok());
    record(released);
  }
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  engine.advance_to(kT + 3);
  std::vector<Trigger> released;
  ASSERT_TRUE(engine.commit(released).ok());
  record(released);
  EXPECT_EQ(seen, (std::vector<std::string>{"enter s1", "exit s1", "enter s70", "exit s70",
                                            "enter s130"}));
}

// look_ahead is a hint: an engine told about the next events (right, wrong or odd ones) emits
// the same triggers and keeps the same profiles as one told nothing.
TEST_F(EngineTest, LookAheadChangesNothing) {
  const std::vector<std::string> texts = {
      R"({"user_id":"u1","plan":"pro"})",
      R"({"user_id":"u2","plan":"free","email":"B@x.io"})",
      R"({"plan":"none"})",
      R"({"user_id":"u1","plan":"free"})",
      R"({"user_id":["u3","u2"],"plan":"pro"})",
      R"({"user_id":"u4","email":"b@x.io"})",
      R"({"user_id":"u5","plan":"pro"})",
  };
  std::vector<model::Value> events;
  for (const std::string& text : texts) events.push_back(event(text));
  const model::Value not_a_map = event(R"(["u1"])");
  std::vector<model::Profile> profiles;
  auto run = [&](const fs::path& path, bool look_ahead) {
    fs::create_directories(path);
    auto store = storage::Store::open(path.string(), {});
    EXPECT_TRUE(store.ok()) << store.error().message;
    Engine engine(**store, {});
    EXPECT_TRUE(engine.open().ok());
    EXPECT_TRUE(engine
                    .set_mapping("SELECT user_id, email(email) AS email, plan, _ts AS last_seen "
                                 "KIND date FROM events INTO user BY user_id OR email")
                    .ok());
    engine.advance_to(kT);
    auto batch = engine.register_segments(
        {"FILTER plan == \"pro\" ALIAS pro", "FILTER last_seen > \"now-1d\" ALIAS recent"});
    for (const auto& outcome : batch.outcomes) EXPECT_TRUE(outcome.result.ok());
    std::vector<std::string> out;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const TimestampMs ts = kT + static_cast<TimestampMs>(i) * kDay / 2;
      engine.advance_to(ts);
      if (look_ahead) {
        const model::Value* next = i + 1 < events.size() ? &events[i + 1] : nullptr;
        const model::Value* after = i + 2 < events.size() ? &events[i + 2] : nullptr;
        engine.look_ahead("events", next, ts + kDay / 2, after);
        engine.look_ahead("no-such-stream", &events[i], ts, &events[i]);
        engine.look_ahead("events", &not_a_map, ts, &not_a_map);
        engine.look_ahead("events", nullptr, 0, nullptr);
      }
      EventOutcome outcome = engine.apply_event("events", events[i], ts);
      out.push_back("event " + std::to_string(i) + (outcome.applied ? " applied" : " not applied"));
    }
    engine.advance_to(kT + 10 * kDay);
    std::vector<Trigger> released;
    EXPECT_TRUE(engine.checkpoint(released).ok());
    for (const Trigger& t : released) {
      out.push_back(std::to_string(t.ts - kT) + " " + std::string(trigger_event_name(t.event)) +
                    " " + t.slug() + " " + std::to_string(t.profile.value) + " " + t.id());
    }
    for (const char* id : {"u1", "u2", "u3", "u4", "u5"}) {
      auto profile = engine.find_profile("user_id", id);
      EXPECT_TRUE(profile.ok());
      if (profile.ok() && *profile) {
        out.push_back(std::string(id) + " in " + std::to_string((*profile)->id.value));
        profiles.push_back(**profile);
      }
    }
    return out;
  };
  const std::vector<std::string> told_nothing = run(dir_ / "plain", false);
  std::vector<model::Profile> profiles_told_nothing;
  profiles_told_nothing.swap(profiles);
  const std::vector<std::string> told = run(dir_ / "ahead", true);
  EXPECT_EQ(told, told_nothing);
  EXPECT_GT(told.size(), events.size() + 5);  // triggers and profiles were compared too
  // Fields with their timestamps and processing sequence numbers, identities, memberships.
  EXPECT_EQ(profiles, profiles_told_nothing);
  EXPECT_EQ(profiles.size(), 5u);
}

TEST_F(EngineTest, NothingIsReleasedOrKeptWithoutACommit) {
  {
    auto store = open_store();
    Engine engine(*store, {});
    ASSERT_TRUE(engine.open().ok());
    ASSERT_TRUE(engine.set_mapping(kMapping).ok());
    std::vector<Trigger> released;
    ASSERT_TRUE(engine.commit(released).ok());  // the mapping is durable
    engine.advance_to(kT);
    engine.register_segments({"FILTER * ALIAS all"});
    ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u1"})"), kT).applied);
    engine.close_millisecond();
    // Destroyed without commit: as if the process died here.
  }
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  EXPECT_NE(engine.mapping_for("events"), nullptr);
  EXPECT_EQ(engine.catalog().find("all"), nullptr);
  auto profile = engine.find_profile("user_id", "u1");
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(*profile, nullptr);
}

TEST_F(EngineTest, CommittedTriggersStayInTheOutboxUntilAcknowledged) {
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  engine.advance_to(kT);
  engine.register_segments({"FILTER * ALIAS all"});
  engine.apply_event("events", event(R"({"user_id":"u1"})"), kT);
  engine.apply_event("events", event(R"({"user_id":"u2"})"), kT);
  engine.close_millisecond();
  std::vector<Trigger> released;
  ASSERT_TRUE(engine.commit(released).ok());
  ASSERT_EQ(released.size(), 2u);
  EXPECT_NE(released[0].id(), released[1].id());
  auto count_outbox = [&] {
    int n = 0;
    EXPECT_TRUE(store->scan("O", [&](std::string_view, std::string_view) {
      ++n;
      return true;
    }).ok());
    return n;
  };
  EXPECT_EQ(count_outbox(), 1);  // one record per commit
  auto pending = engine.read_outbox(0, 100);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].id(), released[0].id());
  EXPECT_EQ((*pending)[0].slug(), "all");
  EXPECT_EQ(trigger_to_json((*pending)[1]), trigger_to_json(released[1]));
  EXPECT_EQ((*pending)[1].identities(), released[1].identities());
  EXPECT_EQ(engine.read_outbox(released[0].sequence, 100)->size(), 1u);
  ASSERT_TRUE(engine.acknowledge_through(released[0].sequence).ok());
  EXPECT_EQ(count_outbox(), 1);  // the record still holds an undelivered trigger
  ASSERT_TRUE(engine.acknowledge_through(released[1].sequence).ok());
  EXPECT_EQ(count_outbox(), 0);
}

TEST_F(EngineTest, TimerIndexIsNotRewrittenWhenATimerMovesLater) {
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  engine.advance_to(kT);
  engine.register_segments({"FILTER last_seen > \"now-7d\" ALIAS active"});
  std::vector<Trigger> released;
  auto timer_keys = [&] {
    std::vector<std::string> keys;
    EXPECT_TRUE(store->scan("T", [&](std::string_view k, std::string_view) {
      keys.emplace_back(k);
      return true;
    }).ok());
    return keys;
  };
  for (int day = 0; day < 5; ++day) {
    engine.advance_to(kT + day * kDay);
    ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u1"})"), kT + day * kDay).applied);
    engine.close_millisecond();
    ASSERT_TRUE(engine.checkpoint(released).ok());
  }
  // One key (written by the checkpoints), still at the first boundary (kT + 7d): the later
  // boundaries needed no write.
  auto keys = timer_keys();
  ASSERT_EQ(keys.size(), 1u);
  TimestampMs due = 0;
  model::ProfileId id;
  ASSERT_TRUE(storage::parse_timer_key(keys[0], due, id));
  EXPECT_EQ(due, kT + 7 * kDay);
  // When that key comes due the profile is still active: the key moves to the real boundary
  // (kT + 4d + 7d) without an exit.
  released.clear();
  engine.advance_to(kT + 7 * kDay + 1);
  ASSERT_TRUE(engine.checkpoint(released).ok());
  EXPECT_TRUE(released.empty());
  keys = timer_keys();
  ASSERT_EQ(keys.size(), 1u);
  ASSERT_TRUE(storage::parse_timer_key(keys[0], due, id));
  EXPECT_EQ(due, kT + 11 * kDay);
  engine.advance_to(kT + 12 * kDay);
  ASSERT_TRUE(engine.checkpoint(released).ok());
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].ts, kT + 11 * kDay);
  EXPECT_EQ(released[0].event, TriggerEvent::kExit);
  EXPECT_TRUE(timer_keys().empty());
}

// Profiles changed since the last checkpoint cannot be dropped. A cache full of them must not
// be scanned again for every new profile (that made the engine quadratic at 1M profiles).
TEST_F(EngineTest, AFullCacheOfUnwrittenProfilesIsNotRescannedForEveryNewProfile) {
  auto store = open_store();
  EngineOptions options;
  options.max_cached_profiles = 100;
  options.checkpoint_dirty_profiles = 1'000'000;  // no checkpoint: every profile stays dirty
  options.checkpoint_log_bytes = 1u << 30;
  Engine engine(*store, options);
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  engine.advance_to(kT);
  std::vector<Trigger> released;
  for (int i = 0; i < 1000; ++i) {
    engine.advance_to(kT + i);  // closes the last millisecond: no evaluation is pending
    ASSERT_TRUE(engine.apply_event("events", event("{\"user_id\":\"u" + std::to_string(i) + "\"}"),
                                   kT + i).applied);
    ASSERT_TRUE(engine.commit(released).ok());  // each commit may start a pass
  }
  EXPECT_EQ(engine.cached_profiles(), 1000u);  // none could go
  // One pass per tenth of the limit that came in (90 here), not one per profile (900).
  EXPECT_LE(engine.counters().eviction_passes, 100u);
  EXPECT_GE(engine.counters().eviction_passes, 10u);
  // After a checkpoint they are in the store and the next pass gets the cache under its limit.
  engine.advance_to(kT + 1000);
  ASSERT_TRUE(engine.checkpoint(released).ok());
  EXPECT_LE(engine.cached_profiles(), 100u);
}

// The cache's default bound is in bytes: profiles twice as large mean half as many cached.
TEST_F(EngineTest, TheProfileCacheKeepsToItsByteBudget) {
  auto cached_after = [&](std::size_t field_bytes, std::size_t& limit) {
    fs::remove_all(dir_);  // each size starts from an empty store
    auto store = open_store();
    EngineOptions options;
    options.profile_cache_bytes = 256u << 10;
    options.background_checkpoints = false;
    Engine engine(*store, options);
    EXPECT_TRUE(engine.open().ok());
    EXPECT_TRUE(engine.set_mapping(kMapping).ok());
    std::vector<Trigger> released;
    const std::string plan(field_bytes, 'p');
    for (int i = 0; i < 3000; ++i) {
      engine.advance_to(kT + i);
      EXPECT_TRUE(engine.apply_event("events",
                                     event("{\"user_id\":\"u" + std::to_string(i) +
                                           "\",\"plan\":\"" + plan + std::to_string(i) + "\"}"),
                                     kT + i)
                      .applied);
      EXPECT_TRUE(engine.commit(released).ok());
    }
    engine.advance_to(kT + 3000);
    EXPECT_TRUE(engine.checkpoint(released).ok());
    limit = engine.profile_cache_limit();
    // What the cache holds, as the engine measures it, stays near the budget.
    const auto footprint = engine.cache_footprint();
    EXPECT_LE(footprint.bytes.total(), options.profile_cache_bytes * 11 / 10);
    EXPECT_LE(engine.cached_profiles(), limit + limit / 10);
    // Evicted profiles come back intact.
    auto early = engine.find_profile("user_id", "u7");
    EXPECT_TRUE(early.ok() && *early);
    if (early.ok() && *early) {
      EXPECT_EQ((*early)->field("plan")->value, model::Value(plan + "7"));
    }
    return engine.cached_profiles();
  };
  std::size_t small_limit = 0, large_limit = 0;
  const std::size_t small = cached_after(100, small_limit);
  const std::size_t large = cached_after(1000, large_limit);
  EXPECT_GT(small, 300u);
  EXPECT_LT(small, 3000u);  // some were evicted
  // ~1.5 KB against ~0.6 KB per profile (the 900 more bytes of `plan`).
  EXPECT_LT(large_limit * 2, small_limit);
  EXPECT_LT(large * 2, small);
}

TEST_F(EngineTest, EvictedProfilesAreReadBackIntact) {
  auto store = open_store();
  EngineOptions options;
  options.max_cached_profiles = 5;
  options.max_cached_identities = 5;
  // Inline checkpoints: what is cached after each commit does not depend on when a background
  // write lands (profiles it is writing stay cached until then).
  options.background_checkpoints = false;
  Engine engine(*store, options);
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  engine.advance_to(kT);
  engine.register_segments({"FILTER last_seen > \"now-7d\" ALIAS active"});
  std::vector<Trigger> released;
  for (int i = 0; i < 20; ++i) {
    engine.advance_to(kT + i);
    std::string json = "{\"user_id\":\"u" + std::to_string(i) + "\",\"plan\":\"p" +
                       std::to_string(i) + "\"}";
    ASSERT_TRUE(engine.apply_event("events", event(json), kT + i).applied);
    engine.close_millisecond();
    ASSERT_TRUE(engine.commit(released).ok());
  }
  EXPECT_LE(engine.cached_profiles(), 5u);
  auto p3 = engine.find_profile("user_id", "u3");
  ASSERT_TRUE(p3.ok() && *p3);
  EXPECT_EQ((*p3)->field("plan")->value, model::Value("p3"));
  EXPECT_EQ((*p3)->memberships.size(), 1u);
  // Their timers still fire: every profile exits exactly 7 days after its event.
  released.clear();
  engine.advance_to(kT + 8 * kDay);
  ASSERT_TRUE(engine.commit(released).ok());
  ASSERT_EQ(released.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(released[i].ts, kT + 7 * kDay + i);
    EXPECT_EQ(released[i].event, TriggerEvent::kExit);
  }
}

TEST(TriggerBatchTest, RoundTripsAndRejectsEveryTruncation) {
  Trigger a;
  a.sequence = 7;
  a.ts = -5;
  a.profile = model::ProfileId{3};
  a.segment = model::SegmentOrdinal{2};
  a.label = std::make_shared<const segment::SegmentLabel>(segment::SegmentLabel{"abc", "pro"});
  a.event = TriggerEvent::kExit;
  a.reason = TriggerReason::kMerged;
  a.entered_ms = 1;
  a.identity_snapshot = std::make_shared<const std::vector<model::Identity>>(
      std::vector<model::Identity>{model::Identity{model::FieldName::intern("user_id"),
                                                   model::ValueList{model::Value("u1")}}});
  Trigger b = a;
  b.sequence = 8;
  b.reason = TriggerReason::kDeleted;
  b.identity_snapshot.reset();
  std::vector<Trigger> batch{a, b};
  std::string bytes;
  encode_trigger_batch(batch, 0, 2, bytes);
  auto back = decode_trigger_batch(bytes);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].sequence, 7u);
  EXPECT_EQ((*back)[0].ts, -5);
  EXPECT_EQ((*back)[0].profile, a.profile);
  EXPECT_EQ((*back)[0].segment, a.segment);
  EXPECT_EQ((*back)[0].event, TriggerEvent::kExit);
  EXPECT_EQ((*back)[0].reason, TriggerReason::kMerged);
  EXPECT_EQ((*back)[0].identities(), a.identities());
  EXPECT_TRUE((*back)[1].identities().empty());
  EXPECT_EQ((*back)[1].reason, TriggerReason::kDeleted);
  EXPECT_EQ((*back)[0].entered_ms, 1);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_trigger_batch(std::string_view(bytes).substr(0, n)).ok()) << n;
  }
}

TEST_F(EngineTest, EventsWithoutMappingOrIdentityAreCountedNotApplied) {
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  engine.advance_to(kT);
  EventOutcome no_mapping = engine.apply_event("clicks", event(R"({"user_id":"u1"})"), kT);
  EXPECT_FALSE(no_mapping.applied);
  EXPECT_EQ(no_mapping.reason, "no mapping for stream 'clicks'");
  EventOutcome no_identity = engine.apply_event("events", event(R"({"plan":"x"})"), kT);
  EXPECT_FALSE(no_identity.applied);
  EXPECT_EQ(no_identity.reason, "event has none of the identities (user_id)");
  EXPECT_EQ(engine.counters().events_without_mapping, 1u);
  EXPECT_EQ(engine.counters().events_without_identity, 1u);
  EXPECT_EQ(engine.counters().events_applied, 0u);
}

TEST_F(EngineTest, DeletingAnUnknownProfileSaysWhichIdentityWasMissing) {
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  Status s = engine.delete_profile("user_id", "nobody");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message, "no profile has user_id = \"nobody\"");
}

TEST_F(EngineTest, ProfileWritesAreBatchedOncePerCommit) {
  auto store = open_store();
  Engine engine(*store, {});
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  for (int i = 0; i < 100; ++i) {
    engine.advance_to(kT + i);
    engine.apply_event("events", event(R"({"user_id":"u1","plan":"p"})"), kT + i);
  }
  engine.close_millisecond();
  std::vector<Trigger> released;
  ASSERT_TRUE(engine.commit(released).ok());
  EXPECT_EQ(engine.counters().commits, 1u);
  auto profile = engine.find_profile("user_id", "u1");
  ASSERT_TRUE(profile.ok() && *profile);
  EXPECT_EQ((*profile)->modified_ms, kT + 99);
  EXPECT_EQ((*profile)->created_ms, kT);
}

TEST_F(EngineTest, BackgroundBuildEvaluatesExistingProfilesInStepsAndCountsMembers) {
  auto store = open_store();
  EngineOptions options;
  options.synchronous_segment_builds = false;
  {
    Engine engine(*store, options);
    ASSERT_TRUE(engine.open().ok());
    ASSERT_TRUE(engine.set_mapping(kMapping).ok());
    engine.advance_to(kT);
    for (int i = 0; i < 10; ++i) {
      std::string json = "{\"user_id\":\"u" + std::to_string(i) + "\",\"plan\":\"" +
                         (i % 2 ? "pro" : "free") + "\"}";
      ASSERT_TRUE(engine.apply_event("events", event(json), kT).applied);
    }
    engine.close_millisecond();
    std::vector<Trigger> released;
    ASSERT_TRUE(engine.commit(released).ok());
    EXPECT_EQ(engine.profile_count(), 10u);

    engine.advance_to(kT + 5);
    auto batch = engine.register_segments({"FILTER plan == \"pro\" ALIAS pro"});
    ASSERT_TRUE(batch.outcomes[0].result.ok());
    model::SegmentOrdinal pro = batch.outcomes[0].result.value();
    engine.close_millisecond();  // asynchronous: nothing is evaluated yet
    EXPECT_EQ(engine.segment_size(pro), 0u);
    auto progress = engine.segment_build_progress(pro);
    ASSERT_TRUE(progress.has_value());
    EXPECT_EQ(progress->done, 0u);
    EXPECT_EQ(progress->total, 10u);

    auto step = engine.build_step(4);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(*step, 4u);
    EXPECT_EQ(engine.segment_build_progress(pro)->done, 4u);
    EXPECT_EQ(engine.segment_size(pro), 2u);  // u1, u3
    // A change to a field the new segment reads is evaluated at once, built or not.
    engine.advance_to(kT + 6);
    ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u8","plan":"pro"})"), kT + 6).applied);
    engine.close_millisecond();
    EXPECT_EQ(engine.segment_size(pro), 3u);
    while (true) {
      auto more = engine.build_step(4);
      ASSERT_TRUE(more.ok());
      if (*more == 0) break;
    }
    EXPECT_FALSE(engine.segment_build_progress(pro).has_value());
    EXPECT_EQ(engine.segment_size(pro), 6u);
    released.clear();
    ASSERT_TRUE(engine.commit(released).ok());
    int enters = 0;
    for (const Trigger& t : released) {
      EXPECT_EQ(t.event, TriggerEvent::kEnter);
      ++enters;
    }
    EXPECT_EQ(enters, 6);  // u8 entered once, not again when the build reached it
  }
  Engine reopened(*store, options);
  ASSERT_TRUE(reopened.open().ok());
  EXPECT_EQ(reopened.segment_size(reopened.catalog().find("pro")->ordinal), 6u);
  EXPECT_EQ(reopened.profile_count(), 10u);
}

}  // namespace
}  // namespace shoal::engine

namespace shoal::engine {
namespace {

TEST_F(EngineTest, StagedWritesAndCommitObserverWritesLandWithTheCommitThatProducedThem) {
  auto store = open_store();
  int observed = 0;
  bool refuse = true;
  EngineOptions options;
  options.commit_observer = [&](const Engine& engine, const std::vector<Trigger>& triggers,
                                storage::Batch& batch) -> Status {
    if (refuse) return make_error(ErrorCode::kInternal, "observer refused");
    for (const Trigger& t : triggers) {
      const model::Profile* profile = engine.cached_profile(t.profile);
      EXPECT_NE(profile, nullptr);
      batch.put("Ztest-" + t.slug(), profile ? std::to_string(profile->memberships.size()) : "-");
      ++observed;
    }
    return ok_status();
  };
  Engine engine(*store, options);
  ASSERT_TRUE(engine.open().ok());
  ASSERT_TRUE(engine.set_mapping(kMapping).ok());
  engine.advance_to(kT);
  ASSERT_TRUE(engine.register_segments({"FILTER plan == \"pro\" ALIAS pro"}).outcomes[0].result.ok());
  ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u1","plan":"pro"})"), kT).applied);
  engine.stage_put("Ztest-position", "seq-1");
  engine.stage_erase("Ztest-gone");
  engine.close_millisecond();
  std::vector<Trigger> released;
  // The observer fails the commit: nothing is written, nothing released, the stage is kept.
  Status failed = engine.commit(released);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "observer refused");
  EXPECT_TRUE(released.empty());
  EXPECT_FALSE(store->get("Ztest-position").value().has_value());
  refuse = false;
  ASSERT_TRUE(engine.commit(released).ok());
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(observed, 1);
  EXPECT_EQ(store->get("Ztest-position").value().value_or(""), "seq-1");
  EXPECT_EQ(store->get("Ztest-pro").value().value_or(""), "1");
  // A commit without triggers does not call the observer; the stage was cleared.
  storage::Batch elsewhere;
  elsewhere.put("Ztest-position", "changed elsewhere");
  ASSERT_TRUE(store->write(elsewhere).ok());
  ASSERT_TRUE(engine.apply_event("events", event(R"({"user_id":"u2"})"), kT).applied);
  engine.close_millisecond();
  ASSERT_TRUE(engine.commit(released).ok());
  EXPECT_EQ(observed, 1);
  EXPECT_EQ(store->get("Ztest-position").value().value_or(""), "changed elsewhere");
}

}  // namespace
}  // namespace shoal::engine
