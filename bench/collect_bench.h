#pragma once
// The collect benchmark: a real shoal server in this process (127.0.0.1, a free port, a
// temporary store with the WAL on, group commit as in `shoal serve`), the workload mapping and
// segments of bench/workload.h, and `wrk` as a child process posting NDJSON batches of zipf-
// distributed users (bench/wrk/collect.lua, built into the binary) to /collect/json/events.
// Prints the events/s the engine applied over the sustained window (from the partition's
// counters), wrk's accepted events/s and latency percentiles, the CPU of the server and of wrk,
// and peak RSS. Fails when an event is rejected or a request is answered other than 2xx.
//
//   shoal bench collect [--duration 20] [--warmup 3] [--connections 32] [--wrk-threads 1] ...
namespace shoal::bench {

int run_collect_bench(int argc, char** argv);

}  // namespace shoal::bench
