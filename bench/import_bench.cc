#include "bench/import_bench.h"
#include "bench/bench_support.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "engine/partition.h"
#include "import/consumer.h"
#include "import/lease_store.h"
#include "kinesis/base64.h"
#include "kinesis/kinesis_client.h"
#include "kinesis/shard_map.h"

#ifdef SHOAL_BENCH_NULL_SINK
#include "tests/support/http_test_server.h"
#include "tests/support/kinesis_emulator.h"
#endif

namespace shoal::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Options {
  long long events = 1'000'000;
  int users = 100'000;
  int shards = 4;
  int page = 10'000;
  int segments = 100;
  long long rate = 0;  // events/s the fixture makes available; 0 = all at once
  bool kinesalite = false;
};


// Event `i` of the workload (about 110 bytes of JSON) and its partition key (the user).
std::string event_json(long long i, int users, std::string& user) {
  user = "user-" + std::to_string(i % users);
  return "{\"user_id\":\"" + user + "\",\"n\":" + std::to_string(i % 100) +
         ",\"event\":\"page_view\",\"ts\":" + std::to_string(1'700'000'000'000 + i) +
         ",\"url\":\"/p/" + std::to_string(i % 1000) + "\"}";
}

#ifdef SHOAL_BENCH_NULL_SINK
// Serves ListShards, GetShardIterator and GetRecords for one stream of `shards` shards whose
// events are generated on request: shard s holds events s, s + shards, s + 2 * shards, ...
// Iterators are "<shard>-<index of the next event in the shard>".
class GeneratedStream {
 public:
  GeneratedStream(const Options& options)
      : options_(options), server_([this](const test::TestHttpRequest& r) { return handle(r); }) {}
  Status start() { return server_.start(); }
  std::string endpoint() const { return server_.base_url(); }

 private:
  static std::string field(const std::string& body, const std::string& name) {
    std::size_t at = body.find("\"" + name + "\"");
    if (at == std::string::npos) return {};
    at = body.find('"', body.find(':', at) + 1);
    std::size_t end = body.find('"', at + 1);
    return body.substr(at + 1, end - at - 1);
  }
  long long per_shard(int shard) const {
    return (options_.events - shard + options_.shards - 1) / options_.shards;
  }
  test::TestHttpResponse handle(const test::TestHttpRequest& request) {
    std::string target(request.header("X-Amz-Target"));
    std::string op = target.substr(target.find('.') + 1);
    test::TestHttpResponse response;
    response.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
    if (op == "ListShards") {
      std::string body = "{\"Shards\":[";
      kinesis::Uint128 step =
          kinesis::HashKey::max().value / static_cast<unsigned>(options_.shards);
      for (int s = 0; s < options_.shards; ++s) {
        kinesis::HashKey start{step * static_cast<unsigned>(s)};
        kinesis::HashKey end{s + 1 == options_.shards ? kinesis::HashKey::max().value
                                                      : step * static_cast<unsigned>(s + 1) - 1};
        if (s) body += ",";
        body += "{\"ShardId\":\"shardId-" + std::to_string(s) +
                "\",\"HashKeyRange\":{\"StartingHashKey\":\"" + kinesis::format_hash_key(start) +
                "\",\"EndingHashKey\":\"" + kinesis::format_hash_key(end) +
                "\"},\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1000000000000\"}}";
      }
      response.body = body + "]}";
    } else if (op == "GetShardIterator") {
      std::string shard = field(request.body, "ShardId");
      int s = std::atoi(shard.substr(shard.find('-') + 1).c_str());
      long long next = 0;
      if (field(request.body, "ShardIteratorType") == "AFTER_SEQUENCE_NUMBER") {
        next =
            std::atoll(field(request.body, "StartingSequenceNumber").c_str()) - 1000000000000LL + 1;
      }
      response.body =
          "{\"ShardIterator\":\"" + std::to_string(s) + "-" + std::to_string(next) + "\"}";
    } else if (op == "GetRecords") {
      std::string iterator = field(request.body, "ShardIterator");
      int s = std::atoi(iterator.c_str());
      long long from = std::atoll(iterator.c_str() + iterator.find('-') + 1);
      long long available = per_shard(s);
      if (options_.rate > 0) {
        // Events appear at `rate` per second across the shards, from the first read on.
        auto now = std::chrono::steady_clock::now();
        {
          std::lock_guard lock(mutex_);
          if (!started_) {
            started_ = true;
            start_ = now;
          }
        }
        double elapsed = std::chrono::duration<double>(now - start_).count();
        available = std::min(
            available,
            static_cast<long long>(elapsed * static_cast<double>(options_.rate) / options_.shards));
      }
      long long to = std::min(available, from + options_.page);
      if (to < from) to = from;
      std::string body = "{\"Records\":[";
      std::string user;
      for (long long j = from; j < to; ++j) {
        if (j != from) body += ",";
        std::string data = event_json(j * options_.shards + s, options_.users, user);
        body += "{\"SequenceNumber\":\"" + std::to_string(1000000000000LL + j) +
                "\",\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":\"";
        kinesis::base64_encode_append(data, body);
        body += "\",\"PartitionKey\":\"" + user + "\"}";
      }
      body += "],\"NextShardIterator\":\"" + std::to_string(s) + "-" + std::to_string(to) +
              "\",\"MillisBehindLatest\":" + (to < available ? "1000" : "0") + "}";
      response.body = std::move(body);
    } else {
      response.status = 400;
      response.body = "{\"__type\":\"UnknownOperationException\",\"message\":\"" + op + "\"}";
    }
    return response;
  }

  Options options_;
  std::mutex mutex_;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
  test::HttpTestServer server_;
};
#endif

void print_usage() {
  std::printf(
      "usage: shoal bench import [--events N] [--users N] [--shards N] [--page N] [--segments N]\n"
      "                          [--rate EVENTS_PER_S] [--kinesalite]\n"
      "  Events of a --shards stream through the Kinesis import into profiles with 100 segments:\n"
      "  from generated GetRecords pages served in-process (default), or from kinesalite.\n");
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage();
      std::exit(0);
    } else if (arg == "--kinesalite") {
      options.kinesalite = true;
    } else if ((arg == "--events" || arg == "--users" || arg == "--shards" || arg == "--page" ||
                arg == "--segments" || arg == "--rate") &&
               i + 1 < argc) {
      long long v = std::atoll(argv[++i]);
      if (arg == "--events") options.events = v;
      if (arg == "--users") options.users = static_cast<int>(v);
      if (arg == "--shards") options.shards = static_cast<int>(v);
      if (arg == "--page") options.page = static_cast<int>(v);
      if (arg == "--segments") options.segments = static_cast<int>(v);
      if (arg == "--rate") options.rate = v;
    } else {
      std::fprintf(stderr, "import: unknown argument %s\n", arg.c_str());
      print_usage();
      return false;
    }
  }
  if (options.events < 1 || options.users < 1 || options.shards < 1 || options.shards > 64 ||
      options.page < 1 || options.page > 10000 || options.segments < 0 || options.segments > 1000) {
    std::fprintf(stderr,
                 "import: --events, --users >= 1, --shards 1..64, --page 1..10000, "
                 "--segments 0..1000\n");
    return false;
  }
  return true;
}

// Runs `work` on the engine thread and waits for its commit.
bool on_engine(engine::Partition& partition, std::function<bool(engine::Engine&)> work) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false, ok = false;
  if (!partition
           .submit([&](engine::Engine& e) { ok = work(e); },
                   [&](const Status& s) {
                     std::lock_guard l(m);
                     ok = ok && s.ok();
                     done = true;
                     cv.notify_all();
                   })
           .ok()) {
    return false;
  }
  std::unique_lock l(m);
  cv.wait(l, [&] { return done; });
  return ok;
}

int run(const Options& options) {
#ifndef SHOAL_BENCH_NULL_SINK
  std::fprintf(stderr, "import: built without tests/support (no fixture, no emulator harness)\n");
  (void)options;
  return 1;
#else
  WallClock clock;
  std::unique_ptr<GeneratedStream> generated;
  std::unique_ptr<test::KinesisEmulator> emulator;
  std::string endpoint;
  std::string stream_name = "bench-import";
  BenchCredentials credentials;
  aws::HttpClient http;
  if (options.kinesalite) {
    if (std::string reason = test::KinesisEmulator::unavailable_reason(); !reason.empty()) {
      std::fprintf(stderr, "import: %s\n", reason.c_str());
      return 1;
    }
    emulator = std::make_unique<test::KinesisEmulator>();
    if (Status s = emulator->start(); !s.ok()) {
      std::fprintf(stderr, "import: kinesalite: %s\n", s.error().message.c_str());
      return 1;
    }
    endpoint = emulator->endpoint();
    kinesis::KinesisClient client({"us-east-1", endpoint}, http, credentials, clock);
    if (Status s = client.create_stream({stream_name, options.shards, false}); !s.ok()) {
      std::fprintf(stderr, "import: CreateStream: %s\n", s.error().message.c_str());
      return 1;
    }
    std::this_thread::sleep_for(200ms);
    auto put_start = std::chrono::steady_clock::now();
    std::vector<std::string> data(500), keys(500);
    for (long long at = 0; at < options.events; at += 500) {
      std::vector<kinesis::PutRecordsEntry> entries;
      for (long long i = at; i < std::min(options.events, at + 500); ++i) {
        std::size_t k = static_cast<std::size_t>(i - at);
        data[k] = event_json(i, options.users, keys[k]);
        entries.push_back({data[k], keys[k], {}});
      }
      auto put = client.put_records(kinesis::StreamRef::by_name(stream_name), entries);
      if (!put.ok() || put->failed_record_count != 0) {
        std::fprintf(stderr, "import: PutRecords failed\n");
        return 1;
      }
    }
    double put_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - put_start).count();
    std::printf("kinesalite: put %lld events in %.1f s (%.0f records/s)\n", options.events,
                put_seconds, static_cast<double>(options.events) / put_seconds);
  } else {
    generated = std::make_unique<GeneratedStream>(options);
    if (Status s = generated->start(); !s.ok()) {
      std::fprintf(stderr, "import: fixture: %s\n", s.error().message.c_str());
      return 1;
    }
    endpoint = generated->endpoint();
  }

  fs::path dir = fs::temp_directory_path() / ("shoal_bench_import_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto store = storage::Store::open(dir.string(), {});
  if (!store.ok()) {
    std::fprintf(stderr, "import: store: %s\n", store.error().message.c_str());
    return 1;
  }
  engine::EngineOptions engine_options;
  engine_options.synchronous_segment_builds = false;
  engine::Partition partition(**store, engine_options, clock, {}, nullptr);
  if (!partition.start().ok()) return 1;
  const int segment_count = options.segments;
  bool configured = on_engine(partition, [segment_count](engine::Engine& e) {
    if (!e.set_mapping("SELECT user_id, count(*) AS events, sum(n) AS total, url AS last_url "
                       "FROM events INTO user BY user_id")
             .ok()) {
      return false;
    }
    std::vector<std::string> segments;
    for (int k = 1; static_cast<int>(segments.size()) < segment_count; ++k) {
      segments.push_back("FILTER events >= " + std::to_string(k) + " ALIAS events_" +
                         std::to_string(k));
      if (static_cast<int>(segments.size()) == segment_count) break;
      segments.push_back("FILTER total > " + std::to_string(k * 20) + " ALIAS total_" +
                         std::to_string(k));
    }
    if (segments.empty()) return true;
    auto batch = e.register_segments(segments);
    for (const auto& o : batch.outcomes) {
      if (!o.result.ok()) return false;
    }
    return true;
  });
  if (!configured) {
    std::fprintf(stderr, "import: could not register the mapping and segments\n");
    return 1;
  }

  kinesis::KinesisClient client({"us-east-1", endpoint}, http, credentials, clock);
  import::RocksDbLeaseStore leases(**store, "bench");
  import::ConsumerOptions consumer_options;
  consumer_options.job_id = "bench";
  consumer_options.target_stream = "events";
  consumer_options.stream = kinesis::StreamRef::by_name(stream_name);
  consumer_options.decode.timestamp_field = "ts";
  consumer_options.worker_id = "bench-worker";
  consumer_options.get_records_limit = options.page;
  std::string failure;
  import::Consumer consumer(consumer_options, client, leases, **store, partition, clock,
                            [&failure](std::string message) { failure = message;
});
double cpu_start = process_cpu_seconds();
auto start = std::chrono::steady_clock::now();
if (!consumer.start().ok()) return 1;
const auto limit = start + std::chrono::seconds(3600);
std::uint64_t applied = 0;
while (std::chrono::steady_clock::now() < limit) {
  applied = consumer.counters().events_applied;
  if (applied >= static_cast<std::uint64_t>(options.events) || !failure.empty()) break;
  std::this_thread::sleep_for(5ms);
}
double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
double cpu = process_cpu_seconds() - cpu_start;
import::ImportCounters c = consumer.counters();
auto p50 = consumer.page_latency_percentile(0.5);
auto p99 = consumer.page_latency_percentile(0.99);
consumer.stop();
engine::PartitionStats stats = partition.stats();
partition.stop();
store->reset();
fs::remove_all(dir);
if (!failure.empty()) {
  std::fprintf(stderr, "import: the consumer failed: %s\n", failure.c_str());
  return 1;
}
std::printf("source: %s, %d shards, pages of %d, %d segments, %d users; %s\n",
            options.kinesalite ? "kinesalite" : "in-process generated pages", options.shards,
            options.page, options.segments, options.users, allocator_name().c_str());
std::printf("events applied: %llu of %lld in %.2f s = %.0f events/s\n",
            static_cast<unsigned long long>(applied), options.events, seconds,
            static_cast<double>(applied) / seconds);
std::printf("GetRecords calls: %llu (%.2f per second per shard; limit 5)\n",
            static_cast<unsigned long long>(c.get_records_calls),
            static_cast<double>(c.get_records_calls) / seconds / options.shards);
std::printf("shoal process CPU: %.2f s = %.2f cores (%.2f CPU-s per million events%s)\n", cpu,
            cpu / seconds, cpu * 1e6 / static_cast<double>(std::max<std::uint64_t>(1, applied)),
            options.kinesalite ? "" : ", the in-process fixture included");
std::printf(
    "GetRecords response -> commit of its events (and triggers), per page: "
    "p50 %.1f ms, p99 %.1f ms\n",
    static_cast<double>(p50.count()) / 1000.0, static_cast<double>(p99.count()) / 1000.0);
std::printf("profiles: %llu, triggers: %llu, commits: %llu\n",
            static_cast<unsigned long long>(stats.profiles),
            static_cast<unsigned long long>(stats.engine.triggers),
            static_cast<unsigned long long>(stats.engine.commits));
return applied >= static_cast<std::uint64_t>(options.events) ? 0 : 1;
#endif
}  // namespace

}  // namespace

int run_import_bench(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) return 2;
  return run(options);
}

}  // namespace shoal::bench
