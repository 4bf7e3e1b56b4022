#include "bench/kinesis_put_bench.h"
#include "bench/bench_support.h"

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "core/clock.h"
#include "kinesis/kinesis_client.h"
#ifdef SHOAL_BENCH_NULL_SINK
#include "tests/support/kinesis_null_sink.h"
#endif

namespace shoal::bench {
namespace {

struct Options {
  double seconds = 10;
  long long max_records = 0;  // 0 = bounded by time only
  int batch = 500;
  int record_bytes = 200;
  int shards = 4;
  std::string endpoint;
  bool sink_only = false;
};


void print_usage() {
  std::printf(
      "usage: shoal bench kinesis-put [--seconds S] [--records N] [--batch N] "
      "[--record-bytes N] [--endpoint URL] [--shards N] [--sink-only]\n"
      "  PutRecords from one thread against the in-process null sink (default) or --endpoint.\n");
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kinesis-put: %s needs a value\n", arg.c_str());
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      print_usage();
      std::exit(0);
    } else if (arg == "--sink-only") {
      options.sink_only = true;
    } else if (arg == "--seconds" || arg == "--records" || arg == "--batch" ||
               arg == "--record-bytes" || arg == "--shards" || arg == "--endpoint") {
      const char* v = value();
      if (v == nullptr) return false;
      if (arg == "--seconds") options.seconds = std::atof(v);
      if (arg == "--records") options.max_records = std::atoll(v);
      if (arg == "--batch") options.batch = std::atoi(v);
      if (arg == "--record-bytes") options.record_bytes = std::atoi(v);
      if (arg == "--shards") options.shards = std::atoi(v);
      if (arg == "--endpoint") options.endpoint = v;
    } else {
      std::fprintf(stderr, "kinesis-put: unknown argument %s\n", arg.c_str());
      print_usage();
      return false;
    }
  }
  if (options.seconds <= 0 || options.seconds > 3600 || options.batch < 1 ||
      options.batch > 500 || options.record_bytes < 1 || options.record_bytes > 1048576 ||
      options.shards < 1) {
    std::fprintf(stderr,
                 "kinesis-put: --seconds must be in (0, 3600], --batch 1..500, "
                 "--record-bytes 1..1048576, --shards >= 1\n");
    return false;
  }
  return true;
}

// A JSON-looking event of exactly `size` bytes.
std::string make_record(int index, int size) {
  std::string record = "{\"id\":" + std::to_string(index) +
                       ",\"event\":\"page_view\",\"user\":\"user-" + std::to_string(index % 977) +
                       "\",\"pad\":\"";
  while (static_cast<int>(record.size()) + 2 < size) record.push_back('x');
  record += "\"}";
  record.resize(static_cast<std::size_t>(size), ' ');
  return record;
}

}  // namespace

int run_kinesis_put_bench(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) return 2;

#ifdef SHOAL_BENCH_NULL_SINK
  std::unique_ptr<test::KinesisNullSink> sink;
  if (options.endpoint.empty() || options.sink_only) {
    sink = std::make_unique<test::KinesisNullSink>(options.shards);
    if (Status started = sink->start(); !started.ok()) {
      std::fprintf(stderr, "kinesis-put: cannot start the null sink: %s\n",
                   started.error().to_string().c_str());
      return 1;
    }
    if (options.sink_only) {
      std::printf("null sink listening on %s for %.0f s\n", sink->endpoint().c_str(),
                  options.seconds);
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
      std::printf("null sink: %llu records in %llu requests\n",
                  static_cast<unsigned long long>(sink->records_received()),
                  static_cast<unsigned long long>(sink->requests_received()));
      return 0;
    }
    options.endpoint = sink->endpoint();
  }
#else
  if (options.endpoint.empty() || options.sink_only) {
    std::fprintf(stderr, "kinesis-put: built without the null sink; pass --endpoint\n");
    return 2;
  }
#endif

  aws::HttpClientOptions http_options;
  http_options.verify_tls = true;
  aws::HttpClient http(http_options);
  BenchCredentials credentials;
  WallClock clock;
  kinesis::KinesisClient client({"us-east-1", options.endpoint}, http, credentials, clock);
  const kinesis::StreamRef stream = kinesis::StreamRef::by_name("shoal-bench");

  // Ten batches of distinct records and keys, cycled, so that every call builds a fresh body.
  constexpr int kBatchVariants = 10;
  std::vector<std::string> data;
  std::vector<std::string> keys;
  const int total = kBatchVariants * options.batch;
  data.reserve(static_cast<std::size_t>(total));
  keys.reserve(static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) {
    data.push_back(make_record(i, options.record_bytes));
    keys.push_back("user-" + std::to_string(i * 7919 % 100003));
  }
  std::vector<std::vector<kinesis::PutRecordsEntry>> batches(kBatchVariants);
  for (int b = 0; b < kBatchVariants; ++b) {
    for (int i = 0; i < options.batch; ++i) {
      const std::size_t at = static_cast<std::size_t>(b * options.batch + i);
      batches[static_cast<std::size_t>(b)].push_back({data[at], keys[at], {}});
    }
  }

  // One warm-up call: connection set-up is not what is measured.
  if (auto warm = client.put_records(stream, batches[0]); !warm.ok()) {
    std::fprintf(stderr, "kinesis-put: %s\n", warm.error().to_string().c_str());
    return 1;
  }

  long long records = 0;
  long long failed_entries = 0;
  long long calls = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(options.seconds));
  const double thread_cpu_start = thread_cpu_seconds();
  const double process_cpu_start = process_cpu_seconds();
  while (std::chrono::steady_clock::now() < deadline &&
         (options.max_records == 0 || records < options.max_records)) {
    auto result = client.put_records(stream, batches[static_cast<std::size_t>(calls % kBatchVariants)]);
    if (!result.ok()) {
      std::fprintf(stderr, "kinesis-put: call %lld failed: %s\n", calls,
                   result.error().to_string().c_str());
      return 1;
    }
    ++calls;
    records += static_cast<long long>(result->records.size()) - result->failed_record_count;
    failed_entries += result->failed_record_count;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double thread_cpu = thread_cpu_seconds() - thread_cpu_start;
  const double process_cpu = process_cpu_seconds() - process_cpu_start;
  const double millions = static_cast<double>(records) / 1e6;

  std::printf("kinesis-put: PutRecords of %d x %d-byte records, 1 thread, endpoint %s%s\n",
              options.batch, options.record_bytes, options.endpoint.c_str(),
#ifdef SHOAL_BENCH_NULL_SINK
              sink ? " (in-process null sink)" : ""
#else
              ""
#endif
  );
  std::printf("  records:            %lld in %lld calls over %.2f s (%lld entries failed)\n",
              records, calls, elapsed, failed_entries);
  std::printf("  throughput:         %.0f records/s\n", static_cast<double>(records) / elapsed);
  std::printf("  client thread CPU:  %.3f s = %.3f CPU-seconds per million records\n", thread_cpu,
              millions > 0 ? thread_cpu / millions : 0.0);
  std::printf("  process CPU:        %.3f s = %.3f CPU-seconds per million records%s\n",
              process_cpu, millions > 0 ? process_cpu / millions : 0.0,
#ifdef SHOAL_BENCH_NULL_SINK
              sink ? " (sink included)" : ""
#else
              ""
#endif
  );
  return 0;
}

}  // namespace shoal::bench
