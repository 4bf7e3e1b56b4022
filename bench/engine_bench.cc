#include "bench/engine_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "bench/workload.h"
#include "core/thread_arena.h"
#include "engine/engine.h"
#include "model/json.h"
#include "storage/store.h"

namespace shoal::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t profiles = 1'000'000;
  std::size_t events = 10'000'000;
  std::size_t segments = 100;
  double zipf = 1.1;
  int commit_ms = 20;
  int checkpoint_ms = 5000;  // as the server's partition (PartitionOptions::checkpoint_interval)
  bool command_log = true;   // false: every commit writes the state itself (the old way)
  bool trigger_log = false;  // as the server (export subscriptions keep their own outboxes)
  bool background_checkpoints = true;  // false: a checkpoint is written inside its commit
  std::uint64_t seed = 42;
  std::string data_dir;
  bool sync = false;
  double max_seconds = 600;
  double progress_seconds = 0;  // > 0: a progress line (rate, cache, memory) this often
  std::size_t cache_mb = 0;      // 0: the engine's default profile cache budget
  bool shared_arena = false;     // true: the engine thread stays in a shared, purging arena
  bool look_ahead = true;        // false: no Engine::look_ahead calls
};

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      std::printf(
          "shoal bench engine [--profiles N] [--events N] [--segments N] [--zipf S] "
          "[--commit-ms MS] [--checkpoint-ms MS] [--no-command-log] [--trigger-log] "
          "[--inline-checkpoints] [--seed N] [--data-dir DIR] "
          "[--sync] [--max-seconds S] [--progress-seconds S] [--cache-mb MB] [--shared-arena] "
          "[--no-look-ahead]\n");
      return false;
    } else if (a == "--sync") {
      o.sync = true;
    } else if (a == "--no-command-log") {
      o.command_log = false;
    } else if (a == "--no-look-ahead") {
      o.look_ahead = false;
    } else if (a == "--shared-arena") {
      o.shared_arena = true;
    } else if (a == "--trigger-log") {
      o.trigger_log = true;
    } else if (a == "--inline-checkpoints") {
      o.background_checkpoints = false;
    } else if ((a == "--checkpoint-ms") && (v = next("--checkpoint-ms"))) {
      o.checkpoint_ms = std::stoi(v);
    } else if ((a == "--profiles") && (v = next("--profiles"))) {
      o.profiles = std::stoull(v);
    } else if ((a == "--events") && (v = next("--events"))) {
      o.events = std::stoull(v);
    } else if ((a == "--segments") && (v = next("--segments"))) {
      o.segments = std::stoull(v);
    } else if ((a == "--zipf") && (v = next("--zipf"))) {
      o.zipf = std::stod(v);
    } else if ((a == "--commit-ms") && (v = next("--commit-ms"))) {
      o.commit_ms = std::stoi(v);
    } else if ((a == "--seed") && (v = next("--seed"))) {
      o.seed = std::stoull(v);
    } else if ((a == "--data-dir") && (v = next("--data-dir"))) {
      o.data_dir = v;
    } else if ((a == "--max-seconds") && (v = next("--max-seconds"))) {
      o.max_seconds = std::stod(v);
    } else if ((a == "--progress-seconds") && (v = next("--progress-seconds"))) {
      o.progress_seconds = std::stod(v);
    } else if ((a == "--cache-mb") && (v = next("--cache-mb"))) {
      o.cache_mb = std::stoull(v);
    } else {
      std::fprintf(stderr, "unknown option %s (see --help)\n", a.c_str());
      return false;
    }
  }
  return o.profiles > 0 && o.events > 0;
}

// Zipf over ranks 1..n by inverting a precomputed CDF (n doubles).
class Zipf {
 public:
  Zipf(std::size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
      cdf_[k] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  std::size_t sample(std::mt19937_64& rng) {
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

struct GeneratedEvent {
  TimestampMs ts = 0;
  model::Value data;
};

// The workload's events, generated as JSON text and parsed on a thread of their own, handed to
// the engine thread in batches: as in the server, where HTTP and Kinesis threads parse and the
// engine thread only applies (collect_handler.cc, consumer.cc). Spent batches come back, so
// their values are destroyed here too. The sequence is fixed by the seed alone.
class EventFeed {
 public:
  using Batch = std::vector<GeneratedEvent>;

  EventFeed(const Options& o, TimestampMs start_ts, double ms_per_event)
      : options_(o), start_ts_(start_ts), ms_per_event_(ms_per_event) {
    thread_ = std::thread([this] { produce(); });
  }
  ~EventFeed() { stop(); }
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // Gives back the batch the last call returned and waits for the next one; nullptr when all
  // are taken.
  const Batch* next() {
    std::unique_lock lock(mutex_);
    if (taken_) spent_.push_back(std::move(taken_));
    if (ready_.empty() && !done_) {
      const auto start = Clock::now();
      changed_.wait(lock, [&] { return !ready_.empty() || done_; });
      waited_ += Clock::now() - start;
    }
    if (ready_.empty()) return nullptr;
    taken_ = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return taken_.get();
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // How long the engine thread waited in next() for the generator (not engine time).
  double waited_seconds() const { return std::chrono::duration<double>(waited_).count(); }

  // Why generation stopped early ("" when it did not).
  const std::string& error() const { return error_; }

 private:
  static constexpr std::size_t kBatchEvents = 512;
  // ~30k events (~0.2 s of the engine's work): the generator shares the other core with
  // RocksDB and the checkpoint writer and may be off it for a while.
  static constexpr std::size_t kBatchesAhead = 64;

  void produce() {
    static const char* kEvents[] = {"view", "view", "view", "click", "click", "purchase", "signup"};
    static const char* kPlans[] = {"free", "basic", "pro", "team"};
    static const char* kCountries[] = {"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"};
    std::mt19937_64 rng(options_.seed);
    Zipf zipf(options_.profiles, options_.zipf);
    model::JsonParser parser;
    std::string json;
    std::size_t i = 0;
    while (i < options_.events) {
      std::unique_ptr<Batch> batch;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || ready_.size() < kBatchesAhead; });
        if (stop_) break;
        if (!spent_.empty()) {
          batch = std::move(spent_.back());
          spent_.pop_back();
        }
      }
      if (!batch) batch = std::make_unique<Batch>();
      batch->clear();
      for (; i < options_.events && batch->size() < kBatchEvents; ++i) {
        std::size_t user = zipf.sample(rng);
        const char* ev = kEvents[rng() % 7];
        json.clear();
        json += "{\"user_id\":\"u";
        json += std::to_string(user);
        json += "\",\"event\":\"";
        json += ev;
        json += "\",\"plan\":\"";
        json += kPlans[(user + i / 1'000'000) % 4];
        json += "\",\"country\":\"";
        json += kCountries[user % 8];
        json += "\",\"age\":";
        json += std::to_string(18 + user % 50);
        if (user % 3 == 0) {
          json += ",\"email\":\"user";
          json += std::to_string(user);
          json += user % 2 ? "@example.com\"" : "@mail.test\"";
        }
        if (std::strcmp(ev, "purchase") == 0) {
          json += ",\"amount\":";
          json += std::to_string(5 + rng() % 200);
        }
        json += "}";
        auto data = parser.parse(json);
        if (!data.ok()) {
          error_ = data.error().message;
          i = options_.events;
          break;
        }
        batch->push_back(GeneratedEvent{
            start_ts_ + static_cast<TimestampMs>(static_cast<double>(i) * ms_per_event_),
            std::move(data).value()});
      }
      std::lock_guard lock(mutex_);
      if (!batch->empty()) ready_.push_back(std::move(batch));
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    done_ = true;
    spent_.clear();
    changed_.notify_all();
  }

  const Options& options_;
  const TimestampMs start_ts_;
  const double ms_per_event_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Batch>> ready_;
  std::vector<std::unique_ptr<Batch>> spent_;
  std::unique_ptr<Batch> taken_;  // the engine thread's; only next() touches it
  Clock::duration waited_{};      // only next() touches it
  bool stop_ = false;
  bool done_ = false;
  std::string error_;
  std::thread thread_;
};

std::uint64_t dir_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace

int run_engine_bench(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) return 2;
  fs::path dir = o.data_dir.empty()
                     ? fs::temp_directory_path() / ("shoal-bench-engine-" + std::to_string(::getpid()))
                     : fs::path(o.data_dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
  auto store = storage::Store::open(dir.string(), storage::StoreOptions{.sync_writes = o.sync});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  // The engine thread's heap in an arena that keeps its freed pages, as the server's partition
  // thread (core/thread_arena.h); --shared-arena measures without.
  if (!o.shared_arena) use_retaining_arena();
  engine::EngineOptions engine_options;
  engine_options.command_log = o.command_log;
  engine_options.trigger_log = o.trigger_log;
  engine_options.background_checkpoints = o.background_checkpoints;
  if (o.cache_mb) engine_options.profile_cache_bytes = o.cache_mb << 20;
  const std::size_t cache_budget_mb = engine_options.profile_cache_bytes >> 20;
  engine::Engine engine(**store, engine_options);
  if (auto s = engine.open(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  if (auto m = engine.set_mapping(kWorkloadMapping); !m.ok()) {
    std::fprintf(stderr, "mapping: %s\n", m.error().message.c_str());
    return 1;
  }
  const TimestampMs start_ts = 1'700'000'000'000;
  engine.advance_to(start_ts);
  auto batch = engine.register_segments(workload_segments(o.segments));
  for (const auto& outcome : batch.outcomes) {
    if (!outcome.result.ok()) {
      std::fprintf(stderr, "segment %s: %s\n", outcome.text.c_str(),
                   outcome.result.error().message.c_str());
      return 1;
    }
  }

  // Simulated event time: the events span 30 days, so windows open and close and timers fire.
  const double ms_per_event = 30.0 * 86'400'000.0 / static_cast<double>(o.events);
  EventFeed feed(o, start_ts, ms_per_event);
  std::vector<engine::Trigger> released;
  std::vector<Clock::time_point> batch_starts;  // per event of the open batch
  std::vector<std::uint32_t> latencies_us;
  latencies_us.reserve(o.events / 8 + 16);
  std::uint64_t triggers = 0, commits = 0;
  const auto t0 = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  const long switches0 = thread_involuntary_switches();
  double commit_seconds = 0, commit_cpu_seconds = 0;  // in engine.commit(), wall and CPU
  const double process_cpu0 = process_cpu_seconds();
  auto last_commit = t0;
  auto last_checkpoint = t0;
  auto last_progress = t0;
  std::size_t progress_events = 0;
  std::size_t applied = 0;
  std::size_t i = 0;
  auto do_commit = [&](TimestampMs ts) -> bool {
    engine.advance_to(ts);  // closes the open millisecond
    // As the server's partition: a commit every checkpoint interval starts a checkpoint that is
    // written in the background.
    const bool checkpoint = std::chrono::duration_cast<std::chrono::milliseconds>(
                                Clock::now() - last_checkpoint).count() >= o.checkpoint_ms;
    if (checkpoint) engine.request_checkpoint();
    const auto commit_start = Clock::now();
    const double commit_cpu_start = thread_cpu_seconds();
    if (auto s = engine.commit(released); !s.ok()) {
      std::fprintf(stderr, "commit: %s\n", s.error().message.c_str());
      return false;
    }
    auto done = Clock::now();
    commit_seconds += std::chrono::duration<double>(done - commit_start).count();
    commit_cpu_seconds += thread_cpu_seconds() - commit_cpu_start;
    for (std::size_t k = 0; k < batch_starts.size(); k += 8) {
      latencies_us.push_back(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(done - batch_starts[k]).count()));
    }
    batch_starts.clear();
    if (checkpoint) last_checkpoint = done;
    triggers += released.size();
    // With --trigger-log, delivery is simulated as instant: the record is removed right away.
    if (!released.empty()) {
      if (auto s = engine.acknowledge_through(released.back().sequence); !s.ok()) {
        std::fprintf(stderr, "acknowledge: %s\n", s.error().message.c_str());
        return false;
      }
    }
    released.clear();
    ++commits;
    last_commit = done;
    return true;
  };
  bool stopped = false;
  for (const EventFeed::Batch* events = feed.next(); events && !stopped; events = feed.next()) {
    for (std::size_t k = 0; k < events->size(); ++k) {
      const GeneratedEvent& event = (*events)[k];
      // As the server's loops: the next events' first reads start while this one is applied.
      const GeneratedEvent* next = k + 1 < events->size() ? &(*events)[k + 1] : nullptr;
      const GeneratedEvent* after_next = k + 2 < events->size() ? &(*events)[k + 2] : nullptr;
      if (o.look_ahead) {
        engine.look_ahead("events", next ? &next->data : nullptr, next ? next->ts : 0,
                          after_next ? &after_next->data : nullptr);
      }
      auto now = Clock::now();
      if (std::chrono::duration_cast<std::chrono::milliseconds>(now - last_commit).count() >=
          o.commit_ms) {
        if (!do_commit(event.ts)) return 1;
        now = Clock::now();
        if (std::chrono::duration<double>(now - t0).count() > o.max_seconds) {
          stopped = true;
          break;
        }
        if (o.progress_seconds > 0 &&
            std::chrono::duration<double>(now - last_progress).count() >= o.progress_seconds) {
          const auto mem = store->get()->memory_usage();
          std::fprintf(stderr,
                       "[%5.0f s] %zu events, %.0f events/s since the last line; %zu profiles "
                       "cached (limit %zu); RSS %.0f MiB, memtables %.0f MiB, block cache %.0f "
                       "MiB\n",
                       std::chrono::duration<double>(now - t0).count(), i,
                       static_cast<double>(i - progress_events) /
                           std::chrono::duration<double>(now - last_progress).count(),
                       engine.cached_profiles(), engine.profile_cache_limit(),
                       current_rss_kb() / 1024.0, mem.memtables / 1048576.0,
                       mem.block_cache / 1048576.0);
          last_progress = now;
          progress_events = i;
        }
      }
      batch_starts.push_back(now);
      engine.advance_to(event.ts);
      if (engine.apply_event("events", event.data, event.ts).applied) ++applied;
      ++i;
    }
  }
  feed.stop();
  if (!feed.error().empty()) {
    std::fprintf(stderr, "generator produced bad JSON: %s\n", feed.error().c_str());
    return 1;
  }
  TimestampMs end_ts = start_ts + static_cast<TimestampMs>(static_cast<double>(i) * ms_per_event) + 1;
  // The run ends at the commit that makes the last event durable and releases its triggers.
  if (!do_commit(end_ts)) return 1;
  const auto run_end = Clock::now();
  const double seconds = std::chrono::duration<double>(run_end - t0).count();
  const double cpu = thread_cpu_seconds() - cpu0;
  const long descheduled = thread_involuntary_switches() - switches0;
  const double process_cpu = process_cpu_seconds() - process_cpu0;
  // Then a shutdown, as the server's: the state still only in the command log is written as a
  // checkpoint, so both durability modes end with the whole state in the store and a restart
  // replays nothing. Timed on its own: it is work per shutdown, not per event.
  if (auto s = engine.checkpoint(released); !s.ok()) {
    std::fprintf(stderr, "shutdown checkpoint: %s\n", s.error().message.c_str());
    return 1;
  }
  triggers += released.size();
  const double shutdown_seconds = std::chrono::duration<double>(Clock::now() - run_end).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    return latencies_us[std::min(latencies_us.size() - 1,
                                 static_cast<std::size_t>(p * latencies_us.size()))] / 1000.0;
  };
  std::uint64_t profiles = engine.counters().profiles_created - engine.counters().profiles_merged;
  const auto cache = engine.cache_footprint();
  store->reset();  // flush and close before measuring the directory
  std::uint64_t disk = dir_bytes(dir);
  std::printf("events            %zu applied of %zu generated\n", applied, i);
  std::printf(
      "elapsed           %.2f s to the last commit (engine thread CPU %.2f s; process %.2f s incl. "
      "checkpoint writer, RocksDB flush/compaction)\n",
      seconds, cpu, process_cpu);
  std::printf(
      "events/s          %.0f up to the commit of the last event (the engine thread "
      "waited %.2f s for the generator); %.0f with the shutdown checkpoint\n",
      static_cast<double>(i) / seconds, feed.waited_seconds(),
      static_cast<double>(i) / (seconds + shutdown_seconds));
  std::printf("shutdown          %.2f s: the checkpoint of what only the command log held\n",
              shutdown_seconds);
  std::printf("latency p50/p99   %.2f / %.2f ms (event handed in -> its commit returned)\n",
              pct(0.50), pct(0.99));
  std::printf(
      "commits           %llu (every <= %d ms; %.2f s in them, %.2f s of it CPU: the "
      "rest waited for RocksDB or a checkpoint)\n",
      static_cast<unsigned long long>(commits), o.commit_ms, commit_seconds, commit_cpu_seconds);
  std::printf(
      "engine thread     descheduled %ld times while runnable (its core taken by another "
      "thread or the host)\n",
      descheduled);
  std::printf("durability        %s%s: %llu checkpoints, %llu log records (%.0f bytes per event)\n",
              o.command_log ? "command log" : "state written every commit",
              o.trigger_log ? " + trigger log" : "",
              static_cast<unsigned long long>(engine.counters().checkpoints),
              static_cast<unsigned long long>(engine.counters().log_records),
              static_cast<double>(engine.counters().log_bytes) / static_cast<double>(i));
  std::printf("triggers          %llu\n", static_cast<unsigned long long>(triggers));
  std::printf("store writes      %.2f per event, %.0f bytes per event\n",
              static_cast<double>(engine.counters().store_writes) / static_cast<double>(i),
              static_cast<double>(engine.counters().store_bytes) / static_cast<double>(i));
  std::printf("evaluations       %llu\n",
              static_cast<unsigned long long>(engine.counters().evaluations));
  std::printf("profiles          %llu\n", static_cast<unsigned long long>(profiles));
  std::printf("peak RSS          %.1f MiB\n", peak_rss_kb() / 1024.0);
  if (cache.profiles > 0) {
    const auto& b = cache.bytes;
    const double n = static_cast<double>(cache.profiles);
    std::printf("profile cache     %zu profiles (limit %zu, budget %zu MiB), %.0f bytes each: "
                "object %.0f, identities %.0f, fields %.0f, series %.0f, memberships %.0f, "
                "timers %.0f\n",
                cache.profiles, engine.profile_cache_limit(), cache_budget_mb, b.total() / n,
                b.object / n, b.identities / n, b.fields / n, b.series / n, b.memberships / n,
                b.timers / n);
  }
  const std::string engine_arena = describe_thread_arena();
  std::printf("allocator         %s%s%s%s\n", allocator_name().c_str(),
              engine_arena.empty() ? "" : "; engine thread in ", engine_arena.c_str(),
              o.look_ahead ? "" : "; no look-ahead");
  std::printf("disk              %.1f MiB, %.0f bytes/profile\n", disk / 1048576.0,
              profiles ? static_cast<double>(disk) / static_cast<double>(profiles) : 0.0);
  if (o.data_dir.empty()) fs::remove_all(dir, ec);
  return 0;
}

}  // namespace shoal::bench
