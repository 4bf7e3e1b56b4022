#include "bench/collect_bench.h"
#include "bench/bench_support.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/workload.h"
#include "core/clock.h"
#include "engine/partition.h"
#include "http/api.h"
#include "http/api_keys.h"
#include "http/server.h"
#include "storage/store.h"

extern char** environ;

namespace shoal::bench {

extern const char* const kCollectLua;  // bench/wrk/collect.lua, built in (collect_lua.cc.in)

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kStream = "events";  // the stream of kWorkloadMapping

struct Options {
  int duration_s = 20;
  int warmup_s = 3;
  int connections = 32;
  int wrk_threads = 1;
  int server_threads = 2;
  int commit_interval_ms = 5;
  bool sync_writes = false;
  std::size_t segments = 20;
  std::size_t ids = 1'000'000;
  double zipf = 1.1;
  std::size_t draws = 1u << 20;
  int batch = 10;
  std::uint64_t seed = 42;
  std::string wrk = "wrk";
  std::string script;  // empty: the built-in bench/wrk/collect.lua
  std::string data_dir;
  int sample_ms = 100;
};


// utime + stime of /proc/<path>/stat in seconds; < 0 when unreadable (the task is gone).
double proc_cpu_seconds(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string text;
  if (!std::getline(in, text)) return -1;
  std::size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After "comm)": state is field 3; utime and stime are fields 14 and 15.
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Per thread of this process: seconds on a CPU and seconds runnable but waiting for one
// (/proc/self/task/<tid>/schedstat, nanoseconds).
struct ThreadTimes {
  double run = 0;
  double wait = 0;
};

std::map<int, ThreadTimes> thread_times() {
  std::map<int, ThreadTimes> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(entry.path() / "schedstat");
    unsigned long long run_ns = 0, wait_ns = 0;
    if (in >> run_ns >> wait_ns) {
      out[std::stoi(entry.path().filename().string())] = {static_cast<double>(run_ns) / 1e9,
                                                          static_cast<double>(wait_ns) / 1e9};
    }
  }
  return out;
}

struct Sample {
  double t = 0;  // seconds since wrk was started
  std::uint64_t events_in = 0;
  std::uint64_t applied = 0;
  std::uint64_t batches = 0;
  double server_cpu = 0;
  double wrk_cpu = 0;
  std::map<int, ThreadTimes> threads;
};

struct WrkRun {
  std::map<std::string, double> values;  // the "shoal-collect <name> <value>" lines
  std::vector<Sample> samples;
  double children_cpu = 0;  // getrusage(RUSAGE_CHILDREN) across the run
  double get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? 0.0 : it->second;
  }
};

// Runs wrk once against `url`, sampling the partition and CPU every sample_ms until it exits.
// Bounded: wrk is killed (its PID only) when it outlives its duration by 60 s.
Result<WrkRun> run_wrk(const Options& o, const std::string& url, const std::string& script,
                       const std::string& token, int seconds, std::uint64_t seed,
                       const fs::path& out_path, const engine::Partition& partition) {
  std::vector<std::string> args = {o.wrk,
                                   "-t" + std::to_string(o.wrk_threads),
                                   "-c" + std::to_string(o.connections),
                                   "-d" + std::to_string(seconds) + "s",
                                   "--timeout",
                                   "10s",
                                   "-s",
                                   script,
                                   url,
                                   "--",
                                   token,
                                   kStream,
                                   std::to_string(seed),
                                   std::to_string(o.ids),
                                   std::to_string(o.zipf),
                                   std::to_string(o.draws),
                                   std::to_string(o.batch)};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  const double children_cpu0 = process_cpu_seconds(RUSAGE_CHILDREN);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, o.wrk.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return make_error(ErrorCode::kNotFound,
                      "cannot start '" + o.wrk + "' (" + std::strerror(spawned) +
                          "): install it (apt-get install wrk) or pass --wrk PATH");
  }
  WrkRun run;
  const std::string wrk_stat = "/proc/" + std::to_string(pid) + "/stat";
  const auto t0 = SteadyClock::now();
  const auto limit = std::chrono::seconds(seconds + 60);
  int status = 0;
  bool exited = false;
  bool killed = false;
  while (!exited) {
    engine::PartitionStats stats = partition.stats();
    Sample s;
    s.t = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    s.events_in = stats.engine.events_in;
    s.applied = stats.engine.events_applied;
    s.batches = stats.batches;
    s.server_cpu = process_cpu_seconds(RUSAGE_SELF);
    s.wrk_cpu = proc_cpu_seconds(wrk_stat);
    s.threads = thread_times();
    run.samples.push_back(std::move(s));
    std::this_thread::sleep_for(std::chrono::milliseconds(o.sample_ms));
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      exited = true;
    } else if (done < 0 && errno != EINTR) {
      return make_error(ErrorCode::kInternal, std::string("waitpid: ") + std::strerror(errno));
    } else if (SteadyClock::now() - t0 > limit && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  run.children_cpu = process_cpu_seconds(RUSAGE_CHILDREN) - children_cpu0;
  std::ifstream out(out_path);
  std::string line, all;
  while (std::getline(out, line)) {
    all += line + "\n";
    std::istringstream words(line);
    std::string tag, name;
    double value = 0;
    if (words >> tag >> name >> value && tag == "shoal-collect") run.values[name] = value;
  }
  if (killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      run.values.count("requests") == 0) {
    return make_error(
        ErrorCode::kInternal,
        std::string(killed ? "wrk did not finish in time and was killed" : "wrk failed") +
            "; its output:\n" + all);
  }
  return run;
}

// The sustained window of a run: from the first sample after the load began to the last
// sample before it ended (the samples where the applied count still rose on both sides).
struct Window {
  const Sample* first = nullptr;
  const Sample* last = nullptr;
  double seconds() const { return last->t - first->t; }
};

Window sustained_window(const std::vector<Sample>& samples) {
  Window w;
  if (samples.size() < 3) return w;
  std::size_t begin = 0;
  while (begin < samples.size() && samples[begin].applied == samples.front().applied) ++begin;
  std::size_t end = samples.size() - 1;
  while (end > begin && samples[end].applied == samples[end - 1].applied) --end;
  // samples[end] is the last one that rose; the load ended between end - 1 and end.
  if (begin >= samples.size() || end < 1 || end - 1 <= begin) return w;
  w.first = &samples[begin];
  w.last = &samples[end - 1];
  return w;
}

Status register_workload(engine::Partition& partition, std::size_t segments) {
  auto outcome = std::make_shared<Status>();
  auto committed = std::make_shared<std::promise<Status>>();
  std::future<Status> done = committed->get_future();
  std::vector<std::string> texts = workload_segments(segments);
  Status queued = partition.submit(
      [outcome, texts](engine::Engine& engine) {
        if (auto m = engine.set_mapping(kWorkloadMapping); !m.ok()) {
          *outcome = make_error(m.error().code, "mapping: " + m.error().message);
          return;
        }
        for (const auto& result : engine.register_segments(texts).outcomes) {
          if (!result.result.ok()) {
            *outcome = make_error(result.result.error().code,
                                  "segment " + result.text + ": " + result.result.error().message);
            return;
          }
        }
      },
      [outcome, committed](const Status& status) {
        committed->set_value(status.ok() ? *outcome : status);
      });
  if (!queued.ok()) return queued;
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return make_error(ErrorCode::kTimeout, "registering the mapping and segments took > 30 s");
  }
  return done.get();
}

int engine_thread_id(engine::Partition& partition) {
  auto tid = std::make_shared<std::promise<int>>();
  std::future<int> got = tid->get_future();
  Status queued = partition.submit(
      [tid](engine::Engine&) { tid->set_value(static_cast<int>(gettid())); }, nullptr);
  if (!queued.ok() || got.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return -1;
  }
  return got.get();
}

// `name` itself when it holds a '/', else its first executable match on PATH; empty if none.
std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int fail(const std::string& message) {
  std::fprintf(stderr, "shoal bench collect: %s\n", message.c_str());
  return 1;
}

}  // namespace

int run_collect_bench(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Collect benchmark: an in-process shoal server on 127.0.0.1 with durable group commit, "
      "loaded by wrk posting NDJSON batches of zipf-distributed users (see BENCHMARKS.md)",
      "shoal bench collect"};
  app.add_option("--duration", o.duration_s, "Seconds of the measured wrk run")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "Seconds of a wrk run before it, not measured (0: none)")
      ->check(CLI::Range(0, 600))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "wrk connections (-c)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--wrk-threads", o.wrk_threads, "wrk threads (-t)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--server-threads", o.server_threads, "The server's HTTP I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--commit-interval-ms", o.commit_interval_ms,
                 "The partition's group-commit interval")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_flag("--sync-writes", o.sync_writes, "fsync the WAL on every commit");
  app.add_option("--segments", o.segments, "Segments of the workload mix registered")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--ids", o.ids, "Distinct user ids")
      ->check(CLI::Range(1, 100'000'000))
      ->capture_default_str();
  app.add_option("--zipf", o.zipf, "Zipf exponent of the user ids")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  app.add_option("--draws", o.draws, "Size of each wrk thread's precomputed table of ids")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  app.add_option("--batch", o.batch, "Events per request")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the id draws and event kinds")->capture_default_str();
  app.add_option("--wrk", o.wrk, "wrk executable (looked up on PATH)")->capture_default_str();
  app.add_option("--script", o.script, "wrk Lua script instead of the built-in collect.lua");
  app.add_option("--data-dir", o.data_dir, "Store directory (default: a temporary one, removed)");
  app.add_option("--sample-ms", o.sample_ms, "Interval of the server-side samples")
      ->check(CLI::Range(10, 1000))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (find_executable(o.wrk).empty()) {
    return fail("'" + o.wrk + "' not found" +
                (o.wrk.find('/') == std::string::npos ? " on PATH" : "") +
                ": install wrk (apt-get install wrk) or pass --wrk PATH");
  }
  const fs::path dir = o.data_dir.empty() ? fs::temp_directory_path() /
                                                ("shoal-bench-collect-" + std::to_string(getpid()))
                                          : fs::path(o.data_dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  std::string script = o.script;
  if (script.empty()) {
    script = (dir / "collect.lua").string();
    std::ofstream(script) << kCollectLua;
  }
  int code = 0;
  {
    auto store = storage::Store::open((dir / "store").string(),
                                      storage::StoreOptions{.sync_writes = o.sync_writes});
    if (!store.ok()) return fail("cannot open the store: " + store.error().message);
    WallClock clock;
    http::ApiKeys keys(**store);
    if (Status loaded = keys.load(); !loaded.ok()) return fail(loaded.error().message);
    auto key = keys.create("collect-bench", http::Role::kData, clock.now_ms());
    if (!key.ok()) return fail(key.error().message);
    engine::EngineOptions engine_options;
    engine_options.synchronous_segment_builds = false;  // as in `shoal serve`
    engine::PartitionOptions partition_options;
    partition_options.commit_interval = std::chrono::milliseconds(o.commit_interval_ms);
    engine::Partition partition(**store, engine_options, clock, partition_options, nullptr);
    if (Status started = partition.start(); !started.ok()) return fail(started.error().message);
    if (Status registered = register_workload(partition, o.segments); !registered.ok()) {
      partition.stop();
      return fail(registered.error().message);
    }
    const int engine_tid = engine_thread_id(partition);
    http::Api api(partition, keys, **store, clock);
    // The I/O threads are told apart from RocksDB's by the requests they run.
    std::mutex io_mutex;
    std::set<int> io_tids;
    http::ServerOptions server_options;
    server_options.address = "127.0.0.1";
    server_options.port = 0;
    server_options.threads = o.server_threads;
    http::Server server(server_options, [&](http::Request request, http::Responder respond) {
      thread_local bool seen = false;
      if (!seen) {
        seen = true;
        std::lock_guard lock(io_mutex);
        io_tids.insert(static_cast<int>(gettid()));
      }
      api.handle(std::move(request), std::move(respond));
    });
    if (Status started = server.start(); !started.ok()) {
      partition.stop();
      return fail(started.error().message);
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    std::printf("collect           wrk -t%d -c%d -d%ds (+%ds warm-up) -> %s/collect/json/%s\n",
                o.wrk_threads, o.connections, o.duration_s, o.warmup_s, url.c_str(), kStream);
    std::printf(
        "workload          %d events per request, %zu ids zipf(%.2f), %zu segments, "
        "WAL on%s, group commit <= %d ms, %d HTTP threads\n",
        o.batch, o.ids, o.zipf, o.segments, o.sync_writes ? " + fsync" : "", o.commit_interval_ms,
        o.server_threads);
    std::fflush(stdout);

    const engine::PartitionStats before = partition.stats();
    Result<WrkRun> warmup = WrkRun{};
    if (o.warmup_s > 0) {
      warmup = run_wrk(o, url, script, key->token, o.warmup_s, o.seed + 7919, dir / "warmup.out",
                       partition);
    }
    Result<WrkRun> measured = warmup.ok() ? run_wrk(o, url, script, key->token, o.duration_s,
                                                    o.seed, dir / "measured.out", partition)
                                          : Result<WrkRun>(warmup.error());
    server.stop();
    partition.stop();  // commits what is queued: every answered event is counted below
    const engine::PartitionStats after = partition.stats();

    if (!measured.ok()) {
      code = fail(measured.error().message);
    } else {
      const WrkRun& run = *measured;
      const Window w = sustained_window(run.samples);
      const std::uint64_t events_in = after.engine.events_in - before.engine.events_in;
      const std::uint64_t applied = after.engine.events_applied - before.engine.events_applied;
      const std::uint64_t rejected = events_in - applied;
      const double requests = run.get("requests") + warmup->get("requests");
      const double non_2xx = run.get("errors_status") + warmup->get("errors_status");
      const double socket_errors = run.get("errors_connect") + run.get("errors_read") +
                                   run.get("errors_write") + warmup->get("errors_connect") +
                                   warmup->get("errors_read") + warmup->get("errors_write");
      const double timeouts = run.get("errors_timeout") + warmup->get("errors_timeout");
      // Each 2xx answer acknowledged `batch` events, all of which must have reached the engine
      // (more may have: wrk drops the requests in flight when its time is up).
      const double acknowledged = (requests - non_2xx) * o.batch;
      const double wrk_seconds = run.get("duration_us") / 1e6;
      const double accepted_per_s =
          (run.get("requests") - run.get("errors_status")) * o.batch / wrk_seconds;
      if (w.first == nullptr || w.seconds() <= 0) {
        code = fail("no sustained window: the applied count did not rise during the run");
      } else {
        const double window = w.seconds();
        const double applied_per_s =
            static_cast<double>(w.last->applied - w.first->applied) / window;
        const double server_cores = (w.last->server_cpu - w.first->server_cpu) / window;
        const double wrk_cores = (w.last->wrk_cpu - w.first->wrk_cpu) / window;
        // Cores running and cores waiting for a CPU (the machine is shared) of some threads.
        auto thread_cores = [&](const std::set<int>& tids) {
          ThreadTimes sum;
          for (int tid : tids) {
            auto a = w.first->threads.find(tid);
            auto b = w.last->threads.find(tid);
            if (a == w.first->threads.end() || b == w.last->threads.end()) continue;
            sum.run += (b->second.run - a->second.run) / window;
            sum.wait += (b->second.wait - a->second.wait) / window;
          }
          return sum;
        };
        const ThreadTimes io = thread_cores(io_tids);
        const ThreadTimes engine = thread_cores({engine_tid});
        const double batches_per_s =
            static_cast<double>(w.last->batches - w.first->batches) / window;
        std::printf(
            "applied events/s  %.0f (engine counters over the sustained %.1f s; "
            "%.2fx the 100k target)\n",
            applied_per_s, window, applied_per_s / 100000.0);
        std::printf("accepted events/s %.0f (wrk: 2xx answers x %d over %.1f s)\n", accepted_per_s,
                    o.batch, wrk_seconds);
        std::printf("latency           p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms\n",
                    run.get("latency_p50_us") / 1000, run.get("latency_p90_us") / 1000,
                    run.get("latency_p99_us") / 1000, run.get("latency_p999_us") / 1000,
                    run.get("latency_max_us") / 1000);
        std::printf(
            "rejected          %llu events, %.0f non-2xx, %.0f socket errors, "
            "%.0f timeouts\n",
            static_cast<unsigned long long>(rejected), non_2xx, socket_errors, timeouts);
        std::printf(
            "server CPU        %.2f cores: engine thread %.2f, HTTP I/O threads %.2f, "
            "other (RocksDB, ...) %.2f\n",
            server_cores, engine.run, io.run, server_cores - engine.run - io.run);
        std::printf(
            "waiting for CPU   engine thread %.2f, HTTP I/O threads %.2f (runnable, not "
            "running: other load on the machine)\n",
            engine.wait, io.wait);
        std::printf(
            "wrk CPU           %.2f cores in the window; %.2f s in all (getrusage of "
            "children, both runs with Lua init)\n",
            wrk_cores, run.children_cpu + warmup->children_cpu);
        std::printf("CPU per event     server %.2f us, wrk %.2f us\n",
                    server_cores / applied_per_s * 1e6, wrk_cores / applied_per_s * 1e6);
        std::printf("commits           %.0f/s, %.0f events each\n", batches_per_s,
                    batches_per_s > 0 ? applied_per_s / batches_per_s : 0.0);
        const std::uint64_t writes = after.engine.store_writes - before.engine.store_writes;
        const std::uint64_t bytes = after.engine.store_bytes - before.engine.store_bytes;
        std::printf("store writes      %.2f keys and %.0f bytes per event\n",
                    events_in ? static_cast<double>(writes) / static_cast<double>(events_in) : 0.0,
                    events_in ? static_cast<double>(bytes) / static_cast<double>(events_in) : 0.0);
        std::printf("peak RSS          server %.1f MiB, wrk %.1f MiB\n",
                    peak_rss_kb(RUSAGE_SELF) / 1024.0, peak_rss_kb(RUSAGE_CHILDREN) / 1024.0);
        std::printf("allocator         %s\n", allocator_name().c_str());
        std::printf("profiles          %llu; %llu events in, %.0f acknowledged\n",
                    static_cast<unsigned long long>(after.profiles),
                    static_cast<unsigned long long>(events_in), acknowledged);
        if (rejected != 0 || non_2xx != 0) {
          code = fail("events were rejected or requests failed (see above)");
        } else if (static_cast<double>(events_in) < acknowledged) {
          code = fail("fewer events reached the engine than were acknowledged");
        } else if (after.commit_failures != before.commit_failures) {
          code = fail("a commit failed");
        }
      }
    }
  }
  if (o.data_dir.empty()) fs::remove_all(dir, ec);
  return code;
}

}  // namespace shoal::bench
