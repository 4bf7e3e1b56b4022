#pragma once
// KinesisNullSink: a Kinesis endpoint on 127.0.0.1 that accepts PutRecord and PutRecords, answers
// with valid-looking sequence numbers and MD5-correct shard ids, and stores nothing. For producer
// benchmarks: written in C++ so that the measurement is of the client, not of a Node emulator.
// It also answers ListShards and DescribeStreamSummary for any stream name (an ACTIVE stream of
// `shard_count` evenly split shards), so producers that look up shards can run against it.
// Threading: one thread per connection (HttpTestServer); counters are atomic.
#include <atomic>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "kinesis/shard_map.h"
#include "tests/support/http_test_server.h"

namespace shoal::test {

class KinesisNullSink {
 public:
  explicit KinesisNullSink(int shard_count = 1);
  ~KinesisNullSink();
  KinesisNullSink(const KinesisNullSink&) = delete;
  KinesisNullSink& operator=(const KinesisNullSink&) = delete;

  Status start();
  void stop();
  std::string endpoint() const { return server_.base_url(); }

  std::uint64_t records_received() const { return records_.load(std::memory_order_relaxed); }
  std::uint64_t requests_received() const { return requests_.load(std::memory_order_relaxed); }

 private:
  TestHttpResponse handle(const TestHttpRequest& request);
  void append_entry_result(std::string_view partition_key, std::string_view explicit_hash_key,
                           std::string& out);

  kinesis::ShardMap shards_;
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> sequence_{0};
  HttpTestServer server_;
};

}  // namespace shoal::test
