#pragma once
// The engine benchmark: a synthetic workload (zipf-distributed users, a realistic mix of
// segments, simulated event time so that windows and timers fire) through one Engine on one
// thread with durable RocksDB commits every <= 20 ms. Prints events/s, per-event latency
// (event handed to the engine -> its commit returned) p50/p99, peak RSS and on-disk bytes per
// profile.
//
//   shoal bench engine [--profiles 1000000] [--events 10000000] [--segments 100]
//                      [--zipf 1.1] [--commit-ms 20] [--seed 42] [--data-dir DIR] [--sync]
//                      [--max-seconds 600]
namespace shoal::bench {

int run_engine_bench(int argc, char** argv);

}  // namespace shoal::bench
