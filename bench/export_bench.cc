#include "bench/export_bench.h"
#include "bench/bench_support.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "engine/partition.h"
#include "export/exporter.h"
#include "export/sink.h"
#include "model/json.h"
#include "storage/store.h"
#ifdef SHOAL_BENCH_NULL_SINK
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_fault_proxy.h"
#include "tests/support/kinesis_null_sink.h"
#include "tests/support/kinesis_test_env.h"
#endif

namespace shoal::bench {

#ifndef SHOAL_BENCH_NULL_SINK
int run_export_bench(int, char**) {
  std::fprintf(stderr, "shoal bench export: built without tests/support (null sink, emulator)\n");
  return 2;
}
#else

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

constexpr const char* kMeasured = "bench";

// Every event sets n to 10 or 0 for one user, so each one makes its profile enter or exit `big`.
constexpr const char* kMapping =
    "SELECT user_id, toint(n) AS n KIND int FROM events INTO user BY user_id";
constexpr const char* kSegment = "FILTER n > 5 ALIAS big";

struct Options {
  std::string mode = "all";
  std::uint64_t triggers = 1'000'000;
  std::uint64_t users = 100'000;
  int runs = 3;
  int null_shards = 4;
  double overload_rate = 6000;
  double overload_seconds = 10;
  double latency_rate = 1000;
  double latency_seconds = 10;
  double timeout_seconds = 300;  // per phase
  std::string node = "node";
  std::string node_script = "bench/node/kinesis_put.mjs";
  std::string data_dir;
};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}


double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(at, v.size() - 1)]) / 1e6;
}

// The message's own id (the trigger's): the member after the data object.
std::string_view message_id(std::string_view data) {
  constexpr std::string_view kMarker = "]},\"id\":\"";
  std::size_t at = data.rfind(kMarker);
  if (at == std::string_view::npos || at + kMarker.size() + 32 > data.size()) return {};
  return data.substr(at + kMarker.size(), 32);
}

// What the engine thread and the deliverer thread report; read by the main thread.
struct Probe {
  std::atomic<std::uint64_t> triggers{0};
  std::atomic<std::int64_t> observer_cpu_ns{0};
  std::atomic<bool> have_engine_clock{false};
  clockid_t engine_clock{};
  std::atomic<bool> have_deliverer_clock{false};
  clockid_t deliverer_clock{};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> accepted_bytes{0};
  std::atomic<std::int64_t> first_accept_ns{0};
  std::atomic<std::int64_t> last_accept_ns{0};

  bool track = false;  // set before the partition starts
  std::mutex mutex;
  std::unordered_map<std::string, std::int64_t> committed_ns;  // trigger id -> commit time
  std::unordered_set<std::string> trigger_ids;
  std::vector<std::int64_t> latencies_ns;  // commit -> PutRecords accepted
};

// Wraps the subscription's KinesisSink: learns the deliverer thread's CPU clock and times each
// accepted message against its commit.
class MeasuringSink final : public exports::Sink {
 public:
  MeasuringSink(std::unique_ptr<exports::Sink> inner, Probe& probe)
      : inner_(std::move(inner)), probe_(probe) {}
  Status prepare(TimestampMs now) override {
    if (!probe_.have_deliverer_clock.load()) {
      pthread_getcpuclockid(pthread_self(), &probe_.deliverer_clock);
      probe_.have_deliverer_clock.store(true);
    }
    return inner_->prepare(now);
  }
  bool admit(std::string_view key, std::size_t bytes, TimestampMs now) override {
    return inner_->admit(key, bytes, now);
  }
  Result<std::vector<exports::EntryOutcome>> send(
      std::span<const exports::OutgoingEntry> entries) override {
    auto outcomes = inner_->send(entries);
    if (!outcomes.ok()) return outcomes;
    const std::int64_t now = steady_ns();
    std::uint64_t ok = 0, bytes = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!(*outcomes)[i].ok) continue;
      ++ok;
      bytes += entries[i].data.size();
    }
    if (ok == 0) return outcomes;
    std::int64_t zero = 0;
    probe_.first_accept_ns.compare_exchange_strong(zero, now);
    probe_.last_accept_ns.store(now);
    probe_.accepted.fetch_add(ok);
    probe_.accepted_bytes.fetch_add(bytes);
    if (probe_.track) {
      std::lock_guard lock(probe_.mutex);
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (!(*outcomes)[i].ok) continue;
        auto it = probe_.committed_ns.find(std::string(message_id(entries[i].data)));
        if (it == probe_.committed_ns.end()) continue;  // a resend
        probe_.latencies_ns.push_back(now - it->second);
        probe_.committed_ns.erase(it);
      }
    }
    return outcomes;
  }
  std::size_t max_batch_records() const override { return inner_->max_batch_records(); }
  void cancel() override { inner_->cancel(); }

 private:
  std::unique_ptr<exports::Sink> inner_;
  Probe& probe_;
};

// A store, an exporter and a running partition with the mapping and segment registered.
class Rig {
 public:
  explicit Rig(fs::path dir) : dir_(std::move(dir)) {}
  ~Rig() { stop(); }

  Status open(bool track) {
    probe.track = track;
    std::error_code ec;
    fs::remove_all(dir_, ec);
    SHOAL_ASSIGN_OR_RETURN(store_, storage::Store::open(dir_.string(), {}));
    exporter_ = std::make_unique<exports::Exporter>(
        *store_, clock_,
        [this](const exports::Subscription& s) -> Result<std::unique_ptr<exports::Sink>> {
          auto inner = std::make_unique<exports::KinesisSink>(
              s, std::make_unique<test::FixedCredentialsProvider>(), clock_);
          if (s.name != kMeasured) return std::unique_ptr<exports::Sink>(std::move(inner));
          return std::unique_ptr<exports::Sink>(new MeasuringSink(std::move(inner), probe));
        });
    SHOAL_RETURN_IF_ERROR(exporter_->load());
    engine::EngineOptions engine_options;
    engine_options.synchronous_segment_builds = true;
    auto observer = exporter_->commit_observer();
    engine_options.commit_observer = [this, observer](const engine::Engine& engine,
                                                      const std::vector<engine::Trigger>& triggers,
                                                      storage::Batch& batch) -> Status {
      if (!probe.have_engine_clock.load()) {
        pthread_getcpuclockid(pthread_self(), &probe.engine_clock);
        probe.have_engine_clock.store(true);
      }
      const double cpu = thread_cpu_seconds();
      Status status = observer(engine, triggers, batch);
      probe.observer_cpu_ns.fetch_add(
          static_cast<std::int64_t>((thread_cpu_seconds() - cpu) * 1e9));
      probe.triggers.fetch_add(triggers.size());
      if (probe.track && !triggers.empty()) {
        const std::int64_t now = steady_ns();
        std::lock_guard lock(probe.mutex);
        for (const engine::Trigger& t : triggers) {
          probe.committed_ns[t.id()] = now;
          probe.trigger_ids.insert(t.id());
        }
      }
      return status;
    };
    partition_ = std::make_unique<engine::Partition>(*store_, engine_options, clock_,
                                                     engine::PartitionOptions{},
                                                     exporter_->trigger_sink());
    SHOAL_RETURN_IF_ERROR(partition_->start());
    exporter_->start(*partition_);
    return run([this](engine::Engine& e) -> Status {
      pthread_getcpuclockid(pthread_self(), &probe.engine_clock);
      probe.have_engine_clock.store(true);
      if (auto m = e.set_mapping(kMapping); !m.ok()) return m.take_error();
      for (const auto& o : e.register_segments({kSegment}).outcomes) {
        if (!o.result.ok()) return o.result.error();
      }
      return ok_status();
    });
  }

  // The probe measures the subscription named kMeasured; others (the isolation mode's second
  // one) are plain.
  Result<std::string> subscribe(const std::string& endpoint, const std::string& stream,
                                bool rate_limits, const std::string& name = kMeasured) {
    exports::Subscription s;
    s.name = name;
    s.stream = stream;
    s.region = "us-east-1";
    s.endpoint = endpoint;
    s.identifier_field = "user_id";
    s.segment_ids = {"big"};
    if (!rate_limits) {
      s.delivery.shard_records_per_second = 1e12;
      s.delivery.shard_bytes_per_second = 1e15;
    }
    SHOAL_ASSIGN_OR_RETURN(exports::Subscription created, exporter_->create_and_wait(s));
    if (name == kMeasured) id_ = created.id;
    return created.id;
  }

  // Applies events [first, first + count) at `rate` events/s (0: as fast as the engine takes
  // them, at most 32 work items of 256 events queued), until `deadline`. Returns events applied.
  std::uint64_t feed(std::uint64_t first, std::uint64_t count, std::uint64_t users, double rate,
                     Steady::time_point deadline) {
    auto inflight = std::make_shared<std::atomic<int>>(0);
    auto applied = std::make_shared<std::atomic<std::uint64_t>>(0);
    auto submit = [&](std::uint64_t from, std::uint64_t n) {
      ++*inflight;
      Status queued = partition_->submit(
          [from, n, users, applied](engine::Engine& e) {
            thread_local model::JsonParser parser;
            std::string text;
            for (std::uint64_t j = from; j < from + n; ++j) {
              text = "{\"user_id\":\"u" + std::to_string(j % users) + "\",\"n\":" +
                     ((j / users) % 2 == 0 ? "10" : "0") + "}";
              auto value = parser.parse(text);
              if (!value.ok()) continue;
              if (e.apply_event("events", *value, e.now()).applied) applied->fetch_add(1);
            }
          },
          [inflight](const Status&) { --*inflight; });
      if (!queued.ok()) --*inflight;
      return queued.ok();
    };
    std::uint64_t next = first;
    const std::uint64_t end = first + count;
    const Steady::time_point start = Steady::now();
    while (next < end && Steady::now() < deadline) {
      if (rate <= 0) {
        if (inflight->load() >= 32) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        std::uint64_t n = std::min<std::uint64_t>(256, end - next);
        if (submit(next, n)) next += n;
        continue;
      }
      const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
      auto due = std::min(end, first + static_cast<std::uint64_t>(elapsed * rate));
      if (due > next && submit(next, due - next)) next = due;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int i = 0; i < 30000 && inflight->load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return applied->load();
  }

  // Waits (bounded) until the subscription's deliverer has sent `expected` messages.
  bool wait_sent(std::uint64_t expected, Steady::time_point deadline) {
    while (Steady::now() < deadline) {
      auto status = exporter_->get(id_);
      if (status && status->delivery.sent >= expected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  exports::DelivererStats stats() const { return stats_of(id_); }
  exports::DelivererStats stats_of(const std::string& id) const {
    auto status = exporter_->get(id);
    return status ? status->delivery : exports::DelivererStats{};
  }
  std::string state_of(const std::string& id) const {
    auto status = exporter_->get(id);
    return status ? status->state : "gone";
  }
  std::uint64_t outbox_size(const std::string& id) const {
    auto size = exporter_->outbox_size(id);
    return size.ok() ? *size : 0;
  }

  void stop() {
    if (exporter_) exporter_->stop();
    if (partition_) partition_->stop();
    exporter_.reset();
    partition_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Probe probe;

 private:
  Status run(std::function<Status(engine::Engine&)> work) {
    auto result = std::make_shared<Status>();
    auto done = std::make_shared<std::promise<Status>>();
    auto future = done->get_future();
    SHOAL_RETURN_IF_ERROR(partition_->submit(
        [result, work](engine::Engine& e) { *result = work(e); },
        [result, done](const Status& committed) {
          done->set_value(committed.ok() ? *result : committed);
        }));
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return make_error(ErrorCode::kTimeout, "the engine did not commit within 30 s");
    }
    return future.get();
  }

  fs::path dir_;
  WallClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<exports::Exporter> exporter_;
  std::unique_ptr<engine::Partition> partition_;
  std::string id_;
};

struct NodeResult {
  bool ran = false;
  double records_per_second = 0;
  double cpu_per_million = 0;
};

// Runs the Node SDK baseline as a child (by PID, killed by that PID after `timeout`).
NodeResult run_node(const Options& o, const std::string& endpoint, std::uint64_t records,
                    std::size_t record_bytes, double timeout) {
  NodeResult out;
  if (!fs::exists(o.node_script)) {
    std::printf("  node baseline: %s not found (run from the repository root)\n",
                o.node_script.c_str());
    return out;
  }
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return out;
  std::vector<std::string> args = {o.node,
                                   o.node_script,
                                   "--endpoint",
                                   endpoint,
                                   "--records",
                                   std::to_string(records),
                                   "--seconds",
                                   std::to_string(static_cast<int>(timeout / 2)),
                                   "--record-bytes",
                                   std::to_string(record_bytes),
                                   "--batch",
                                   "500"};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);  // the SDK's warnings, shown only when the run fails
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return out;
  }
  std::string text;
  std::thread reader([&] {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) text.append(buffer, n);
  });
  int status = 0;
  const auto deadline = Steady::now() + std::chrono::duration<double>(timeout);
  bool exited = false;
  while (Steady::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  reader.join();
  ::close(pipe_fds[0]);
  // "  throughput:         N records/s" and "... = X CPU-seconds per million records"
  std::size_t t = text.find("throughput:");
  std::size_t c = text.find(" CPU-seconds per million");
  if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || t == std::string::npos ||
      c == std::string::npos) {
    std::printf("  node baseline failed (exit %d): %s\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.c_str());
    return out;
  }
  out.records_per_second = std::atof(text.c_str() + t + std::strlen("throughput:"));
  std::size_t eq = text.rfind("= ", c);
  out.cpu_per_million = eq == std::string::npos ? 0 : std::atof(text.c_str() + eq + 2);
  out.ran = true;
  return out;
}

struct NullRun {
  double triggers_per_second = 0;
  double deliverer_cpu_per_million = 0;
  double observer_cpu_per_million = 0;
  double engine_cpu_per_million = 0;
  double process_cpu_per_million = 0;
  double mean_message_bytes = 0;
  std::uint64_t calls = 0;
  NodeResult node;
};

fs::path run_dir(const Options& o, const std::string& name) {
  fs::path base = o.data_dir.empty() ? fs::temp_directory_path() : fs::path(o.data_dir);
  return base / ("shoal-bench-export-" + std::to_string(::getpid()) + "-" + name);
}

// Mode null, one run. Returns nullopt (after printing why) on failure.
std::optional<NullRun> run_null(const Options& o, int index) {
  test::KinesisNullSink sink(o.null_shards);
  if (Status s = sink.start(); !s.ok()) {
    std::fprintf(stderr, "export: null sink: %s\n", s.error().to_string().c_str());
    return std::nullopt;
  }
  Rig rig(run_dir(o, "null-" + std::to_string(index)));
  if (Status s = rig.open(false); !s.ok()) {
    std::fprintf(stderr, "export: %s\n", s.error().to_string().c_str());
    return std::nullopt;
  }
  // The null sink has no write limits: the per-shard token buckets are opened wide, so what is
  // measured is the exporter, not a simulated 4,000 records/s.
  if (auto id = rig.subscribe(sink.endpoint(), "shoal-bench", false); !id.ok()) {
    std::fprintf(stderr, "export: %s\n", id.error().to_string().c_str());
    return std::nullopt;
  }
  const std::uint64_t triggers_before = rig.probe.triggers.load();
  const std::int64_t observer_before = rig.probe.observer_cpu_ns.load();
  const double engine_before = cpu_seconds_of(rig.probe.engine_clock);
  const double process_before = process_cpu_seconds();
  const Steady::time_point start = Steady::now();
  const Steady::time_point deadline =
      start + std::chrono::duration_cast<Steady::duration>(
                  std::chrono::duration<double>(o.timeout_seconds));
  const std::uint64_t applied = rig.feed(0, o.triggers, o.users, 0, deadline);
  const std::uint64_t triggers = rig.probe.triggers.load() - triggers_before;
  const bool all_sent = rig.wait_sent(triggers, deadline);
  const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  NullRun r;
  const double millions = static_cast<double>(triggers) / 1e6;
  const double deliverer = rig.probe.have_deliverer_clock ? cpu_seconds_of(rig.probe.deliverer_clock) : 0;
  r.triggers_per_second = static_cast<double>(triggers) / elapsed;
  r.deliverer_cpu_per_million = deliverer / millions;
  r.observer_cpu_per_million =
      static_cast<double>(rig.probe.observer_cpu_ns.load() - observer_before) / 1e9 / millions;
  r.engine_cpu_per_million = (cpu_seconds_of(rig.probe.engine_clock) - engine_before) / millions;
  r.process_cpu_per_million = (process_cpu_seconds() - process_before) / millions;
  r.mean_message_bytes = static_cast<double>(rig.probe.accepted_bytes.load()) /
                         static_cast<double>(std::max<std::uint64_t>(1, rig.probe.accepted));
  exports::DelivererStats stats = rig.stats();
  r.calls = stats.calls;
  std::printf(
      "null run %d: %llu events applied, %llu triggers, %llu sent in %llu calls (%s) in %.2f s\n"
      "  triggers/s %.0f; CPU-s per million triggers: deliverer %.3f, observer %.3f, "
      "engine thread %.3f (incl. observer), process %.3f (incl. engine and sink); "
      "mean message %.0f bytes\n",
      index, static_cast<unsigned long long>(applied), static_cast<unsigned long long>(triggers),
      static_cast<unsigned long long>(stats.sent), static_cast<unsigned long long>(stats.calls),
      all_sent ? "all" : "TIMED OUT", elapsed, r.triggers_per_second,
      r.deliverer_cpu_per_million, r.observer_cpu_per_million, r.engine_cpu_per_million,
      r.process_cpu_per_million, r.mean_message_bytes);
  std::fflush(stdout);
  rig.stop();
  if (!all_sent || triggers != applied) {
    std::fprintf(stderr, "export: expected one trigger per event and every trigger sent\n");
    return std::nullopt;
  }
  if (!o.node.empty()) {
    r.node = run_node(o, sink.endpoint(), triggers,
                      static_cast<std::size_t>(r.mean_message_bytes + 0.5), o.timeout_seconds);
    if (r.node.ran) {
      std::printf("  node @aws-sdk/client-kinesis, same sink, %.0f-byte records: %.0f records/s, "
                  "%.3f CPU-s per million (process); ratio to deliverer+observer %.1fx\n",
                  r.mean_message_bytes, r.node.records_per_second, r.node.cpu_per_million,
                  r.node.cpu_per_million /
                      (r.deliverer_cpu_per_million + r.observer_cpu_per_million));
    }
  }
  return r;
}

// An endpoint nobody listens on: a port the kernel just handed out and that was closed again.
std::string refused_endpoint() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return "http://127.0.0.1:" + std::to_string(port);
}

struct IsolationPhase {
  double events_per_second = 0;     // applied, while feeding as fast as the engine takes them
  double delivered_per_second = 0;  // the measured subscription, first event to last accepted
  bool all_sent = false;
  std::uint64_t other_sent = 0;
  std::uint64_t other_outbox = 0;  // messages waiting in the second subscription's outbox
  std::uint64_t other_failed_attempts = 0;
  std::string other_state;
};

// Mode isolation, one phase: the measured subscription on the null sink beside a second one on
// the same audience that is either healthy (the null sink) or down (connection refused).
std::optional<IsolationPhase> run_isolation_phase(const Options& o, const std::string& name,
                                                  bool second_down) {
  test::KinesisNullSink sink(o.null_shards);
  if (Status s = sink.start(); !s.ok()) {
    std::fprintf(stderr, "export: null sink: %s\n", s.error().to_string().c_str());
    return std::nullopt;
  }
  Rig rig(run_dir(o, name));
  if (Status s = rig.open(false); !s.ok()) {
    std::fprintf(stderr, "export: %s\n", s.error().to_string().c_str());
    return std::nullopt;
  }
  auto measured = rig.subscribe(sink.endpoint(), "shoal-bench", false);
  auto other = rig.subscribe(second_down ? refused_endpoint() : sink.endpoint(),
                             "shoal-bench-other", false, "other");
  if (!measured.ok() || !other.ok()) {
    std::fprintf(stderr, "export: subscribe: %s\n",
                 (measured.ok() ? other.error() : measured.error()).to_string().c_str());
    return std::nullopt;
  }
  const std::uint64_t triggers_before = rig.probe.triggers.load();
  const std::int64_t start_ns = steady_ns();
  const Steady::time_point start = Steady::now();
  const Steady::time_point deadline =
      start + std::chrono::duration_cast<Steady::duration>(
                  std::chrono::duration<double>(o.timeout_seconds));
  IsolationPhase r;
  const std::uint64_t applied = rig.feed(0, o.triggers, o.users, 0, deadline);
  r.events_per_second =
      static_cast<double>(applied) / std::chrono::duration<double>(Steady::now() - start).count();
  const std::uint64_t triggers = rig.probe.triggers.load() - triggers_before;
  r.all_sent = rig.wait_sent(triggers, deadline);
  r.delivered_per_second =
      static_cast<double>(rig.probe.accepted.load()) /
      (static_cast<double>(rig.probe.last_accept_ns.load() - start_ns) / 1e9);
  exports::DelivererStats other_stats = rig.stats_of(*other);
  r.other_sent = other_stats.sent;
  r.other_failed_attempts = other_stats.failed_attempts;
  r.other_state = rig.state_of(*other);
  r.other_outbox = rig.outbox_size(*other);
  std::printf(
      "isolation %s: second subscription %s: %llu events applied at %.0f/s; measured "
      "subscription %s sent, %.0f triggers/s; second: %llu sent, %llu waiting in its outbox, "
      "%llu failed attempts, state %s\n",
      name.c_str(), second_down ? "DOWN (connection refused)" : "healthy",
      static_cast<unsigned long long>(applied), r.events_per_second,
      r.all_sent ? "all" : "NOT ALL", r.delivered_per_second,
      static_cast<unsigned long long>(r.other_sent),
      static_cast<unsigned long long>(r.other_outbox),
      static_cast<unsigned long long>(r.other_failed_attempts), r.other_state.c_str());
  std::fflush(stdout);
  rig.stop();
  if (!r.all_sent) return std::nullopt;
  return r;
}

struct KinesaliteRun {
  double offered_per_second = 0;
  double accepted_per_second = 0;  // first to last accepted while backed up
  std::uint64_t triggers = 0;
  std::uint64_t missing = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t throttled = 0;  // entries the proxy refused
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  std::uint64_t latency_triggers = 0;
  std::uint64_t latency_missing = 0;
};

Result<std::string> create_stream(test::KinesisTestClient& direct, int shards) {
  std::string name = test::unique_stream_name("shoal-bench-export");
  SHOAL_RETURN_IF_ERROR(direct.client.create_stream({name, shards, false}));
  for (int i = 0; i < 400; ++i) {
    auto s = direct.client.describe_stream_summary(kinesis::StreamRef::by_name(name));
    if (s.ok() && s->stream_status == "ACTIVE") return name;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return make_error(ErrorCode::kTimeout, "stream " + name + " did not become ACTIVE");
}

// Every record's message id on the stream, shard by shard (bounded pages).
Result<std::vector<std::string>> read_ids(test::KinesisTestClient& direct,
                                          const std::string& stream) {
  std::vector<std::string> ids;
  kinesis::ListShardsRequest list;
  list.stream = kinesis::StreamRef::by_name(stream);
  SHOAL_ASSIGN_OR_RETURN(auto shards, direct.client.list_shards(list));
  for (const kinesis::Shard& shard : shards) {
    kinesis::GetShardIteratorRequest from_start;
    from_start.stream = kinesis::StreamRef::by_name(stream);
    from_start.shard_id = shard.shard_id;
    from_start.type = kinesis::ShardIteratorType::kTrimHorizon;
    SHOAL_ASSIGN_OR_RETURN(std::string iterator, direct.client.get_shard_iterator(from_start));
    for (int pages = 0; pages < 1000; ++pages) {
      SHOAL_ASSIGN_OR_RETURN(auto records, direct.client.get_records(iterator, 10000));
      for (const kinesis::Record& r : records.records) ids.emplace_back(message_id(r.data));
      if (records.records.empty() || !records.next_shard_iterator) break;
      iterator = *records.next_shard_iterator;
    }
  }
  return ids;
}

// Counts the triggers the observer saw that are missing from `ids`, and the extra copies.
void count_back(const Probe& probe, const std::vector<std::string>& ids, std::uint64_t& missing,
                std::uint64_t& duplicates) {
  std::unordered_set<std::string> seen;
  duplicates = 0;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) ++duplicates;
  }
  missing = 0;
  for (const std::string& id : probe.trigger_ids) {
    if (!seen.count(id)) ++missing;
  }
}

std::optional<KinesaliteRun> run_kinesalite(const Options& o, int index,
                                            test::KinesisEmulator& emulator) {
  WallClock wall;
  test::KinesisFaultProxy proxy(emulator.endpoint(), wall);
  proxy.set_throttle(test::ShardThrottle{1000, 1 << 20, 1.0});
  if (Status s = proxy.start(); !s.ok()) {
    std::fprintf(stderr, "export: fault proxy: %s\n", s.error().to_string().c_str());
    return std::nullopt;
  }
  test::KinesisTestClient direct(emulator.endpoint());
  KinesaliteRun r;
  auto fail = [&](const std::string& what, const Error& e) {
    std::fprintf(stderr, "export: %s: %s\n", what.c_str(), e.to_string().c_str());
    return std::nullopt;
  };
  // Throughput: offered above the stream's 4 x 1,000 records/s.
  {
    auto stream = create_stream(direct, 4);
    if (!stream.ok()) return fail("create stream", stream.error());
    Rig rig(run_dir(o, "kinesalite-" + std::to_string(index)));
    if (Status s = rig.open(true); !s.ok()) return fail("open", s.error());
    if (auto id = rig.subscribe(proxy.endpoint(), *stream, true); !id.ok()) {
      return fail("subscribe", id.error());
    }
    const auto count = static_cast<std::uint64_t>(o.overload_rate * o.overload_seconds);
    const Steady::time_point start = Steady::now();
    const Steady::time_point deadline =
        start + std::chrono::duration_cast<Steady::duration>(
                    std::chrono::duration<double>(o.timeout_seconds));
    rig.feed(0, count, o.users, o.overload_rate, deadline);
    const double fed = std::chrono::duration<double>(Steady::now() - start).count();
    r.triggers = rig.probe.triggers.load();
    const bool all_sent = rig.wait_sent(r.triggers, deadline);
    r.offered_per_second = static_cast<double>(r.triggers) / fed;
    r.accepted_per_second =
        static_cast<double>(rig.probe.accepted.load()) /
        (static_cast<double>(rig.probe.last_accept_ns.load() - rig.probe.first_accept_ns.load()) /
         1e9);
    rig.stop();
    auto ids = read_ids(direct, *stream);
    if (!ids.ok()) return fail("read back", ids.error());
    count_back(rig.probe, *ids, r.missing, r.duplicates);
    r.throttled = proxy.counters().entries_throttled;
    std::printf(
        "kinesalite run %d, 4 shards throttled at 1,000 records/s each: %llu triggers offered "
        "at %.0f/s, %s sent; accepted %.0f records/s (first to last accept); read back %zu "
        "records: %llu triggers missing, %llu duplicates; %llu entries throttled by the proxy\n",
        index, static_cast<unsigned long long>(r.triggers), r.offered_per_second,
        all_sent ? "all" : "NOT ALL", r.accepted_per_second, ids->size(),
        static_cast<unsigned long long>(r.missing), static_cast<unsigned long long>(r.duplicates),
        static_cast<unsigned long long>(r.throttled));
    std::fflush(stdout);
    if (!all_sent) return std::nullopt;
  }
  // Latency at a rate under the limit, on a fresh stream.
  {
    auto stream = create_stream(direct, 4);
    if (!stream.ok()) return fail("create stream", stream.error());
    Rig rig(run_dir(o, "latency-" + std::to_string(index)));
    if (Status s = rig.open(true); !s.ok()) return fail("open", s.error());
    if (auto id = rig.subscribe(proxy.endpoint(), *stream, true); !id.ok()) {
      return fail("subscribe", id.error());
    }
    const auto count = static_cast<std::uint64_t>(o.latency_rate * o.latency_seconds);
    const Steady::time_point deadline =
        Steady::now() + std::chrono::duration_cast<Steady::duration>(
                            std::chrono::duration<double>(o.timeout_seconds));
    rig.feed(0, count, o.users, o.latency_rate, deadline);
    r.latency_triggers = rig.probe.triggers.load();
    const bool all_sent = rig.wait_sent(r.latency_triggers, deadline);
    rig.stop();
    std::vector<std::int64_t> latencies;
    {
      std::lock_guard lock(rig.probe.mutex);
      latencies = rig.probe.latencies_ns;
    }
    r.p50_ms = percentile(latencies, 0.50);
    r.p99_ms = percentile(latencies, 0.99);
    r.max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
    auto ids = read_ids(direct, *stream);
    if (!ids.ok()) return fail("read back", ids.error());
    std::uint64_t duplicates = 0;
    count_back(rig.probe, *ids, r.latency_missing, duplicates);
    std::printf(
        "  at %.0f triggers/s: %llu triggers, %s sent, latency commit -> PutRecords accepted "
        "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu samples); %llu missing on the stream\n",
        o.latency_rate, static_cast<unsigned long long>(r.latency_triggers),
        all_sent ? "all" : "NOT ALL", r.p50_ms, r.p99_ms, r.max_ms, latencies.size(),
        static_cast<unsigned long long>(r.latency_missing));
    std::fflush(stdout);
    if (!all_sent) return std::nullopt;
  }
  proxy.stop();
  return r;
}

}  // namespace

int run_export_bench(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Export benchmark: triggers from real engine activity through the exporter (commit "
      "observer, outbox, deliverer, PutRecords) to the null sink and to a throttled 4-shard "
      "kinesalite stream (see BENCHMARKS.md)",
      "shoal bench export"};
  app.add_option("--mode", o.mode,
                 "null, kinesalite, all (both), or isolation (a subscription whose stream is "
                 "down beside a healthy one)")
      ->check(CLI::IsMember({"null", "kinesalite", "all", "isolation"}))
      ->capture_default_str();
  app.add_option("--triggers", o.triggers, "Triggers (events) of a null-sink run")
      ->check(CLI::Range(1ull, 100'000'000ull))
      ->capture_default_str();
  app.add_option("--users", o.users, "Distinct users the events cycle through")
      ->check(CLI::Range(1000ull, 10'000'000ull))
      ->capture_default_str();
  app.add_option("--runs", o.runs, "Runs of each mode (medians reported)")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  app.add_option("--null-shards", o.null_shards, "Shards the null sink reports")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--overload-rate", o.overload_rate, "Triggers/s offered to the throttled stream")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--overload-seconds", o.overload_seconds, "Seconds of that offer")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  app.add_option("--latency-rate", o.latency_rate, "Triggers/s of the latency phase")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--latency-seconds", o.latency_seconds, "Seconds of the latency phase")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_seconds, "Upper bound of each phase, seconds")
      ->check(CLI::Range(10.0, 3600.0))
      ->capture_default_str();
  app.add_option("--node", o.node, "node executable for the SDK baseline (empty: skip it)")
      ->capture_default_str();
  app.add_option("--node-script", o.node_script, "The baseline script")->capture_default_str();
  app.add_option("--data-dir", o.data_dir, "Parent of the temporary stores (default: /tmp)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::printf("allocator: %s\n", allocator_name().c_str());

  int failures = 0;
  if (o.mode == "null" || o.mode == "all") {
    std::vector<double> rate, deliverer, observer, exporter, engine, process, node_rate, node_cpu,
        ratio;
    for (int i = 1; i <= o.runs; ++i) {
      auto r = run_null(o, i);
      if (!r) {
        ++failures;
        continue;
      }
      rate.push_back(r->triggers_per_second);
      deliverer.push_back(r->deliverer_cpu_per_million);
      observer.push_back(r->observer_cpu_per_million);
      exporter.push_back(r->deliverer_cpu_per_million + r->observer_cpu_per_million);
      engine.push_back(r->engine_cpu_per_million);
      process.push_back(r->process_cpu_per_million);
      if (r->node.ran) {
        node_rate.push_back(r->node.records_per_second);
        node_cpu.push_back(r->node.cpu_per_million);
        ratio.push_back(r->node.cpu_per_million /
                        (r->deliverer_cpu_per_million + r->observer_cpu_per_million));
      }
    }
    std::printf(
        "null sink, medians of %zu runs: %.0f triggers/s; CPU-s per million triggers: exporter "
        "%.3f (deliverer %.3f + observer %.3f), engine thread %.3f, process %.3f",
        rate.size(), median(rate), median(exporter), median(deliverer), median(observer),
        median(engine), median(process));
    if (!ratio.empty()) {
      std::printf("; node SDK %.0f records/s, %.3f CPU-s/M, ratio %.1fx", median(node_rate),
                  median(node_cpu), median(ratio));
    }
    std::printf("\n");
  }
  if (o.mode == "isolation") {
    // Both phases in each run, alternating, so the machine's drift hits both alike.
    std::vector<double> healthy_events, down_events, healthy_sent, down_sent, event_ratio,
        sent_ratio;
    for (int i = 1; i <= o.runs; ++i) {
      auto both = run_isolation_phase(o, "both-healthy-" + std::to_string(i), false);
      auto down = run_isolation_phase(o, "one-down-" + std::to_string(i), true);
      if (!both || !down) {
        ++failures;
        continue;
      }
      healthy_events.push_back(both->events_per_second);
      down_events.push_back(down->events_per_second);
      healthy_sent.push_back(both->delivered_per_second);
      down_sent.push_back(down->delivered_per_second);
      event_ratio.push_back(down->events_per_second / both->events_per_second);
      sent_ratio.push_back(down->delivered_per_second / both->delivered_per_second);
    }
    std::printf(
        "isolation, medians of %zu runs: ingestion %.0f events/s with the second subscription "
        "down vs %.0f with it healthy (%.2fx); the healthy subscription delivered %.0f vs %.0f "
        "triggers/s (%.2fx)\n",
        event_ratio.size(), median(down_events), median(healthy_events), median(event_ratio),
        median(down_sent), median(healthy_sent), median(sent_ratio));
  }
  if (o.mode == "kinesalite" || o.mode == "all") {
    if (std::string reason = test::KinesisEmulator::unavailable_reason(); !reason.empty()) {
      std::fprintf(stderr, "export: kinesalite unavailable: %s\n", reason.c_str());
      return 1;
    }
    test::KinesisEmulator emulator;
    if (Status s = emulator.start(); !s.ok()) {
      std::fprintf(stderr, "export: kinesalite: %s\n", s.error().to_string().c_str());
      return 1;
    }
    std::vector<double> accepted, p50, p99;
    std::uint64_t missing = 0, throttled = 0;
    for (int i = 1; i <= o.runs; ++i) {
      auto r = run_kinesalite(o, i, emulator);
      if (!r) {
        ++failures;
        continue;
      }
      accepted.push_back(r->accepted_per_second);
      p50.push_back(r->p50_ms);
      p99.push_back(r->p99_ms);
      missing += r->missing + r->latency_missing;
      throttled += r->throttled;
    }
    std::printf(
        "kinesalite, medians of %zu runs: accepted %.0f records/s of the 4,000 limit; latency "
        "p50 %.1f ms, p99 %.1f ms; %llu triggers missing, %llu entries throttled (all runs)\n",
        accepted.size(), median(accepted), median(p50), median(p99),
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(throttled));
    emulator.stop();
  }
  return failures == 0 ? 0 : 1;
}

#endif

}  // namespace shoal::bench
