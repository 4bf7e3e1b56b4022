#pragma once
// The segments micro-benchmark: ns per Catalog::evaluate and per Catalog::next_change for each
// kind of segment in the engine benchmark's 100-segment mix (bench/engine_bench.cc), over
// profiles shaped like the engine's (two identities, 12 fields, a []time `purchases` series of
// 0, 10 and 500 timestamps), and for the whole mix as the engine calls it. Each figure is the
// median of --runs timed runs; one thread, no I/O.
//
//   shoal bench segments [--runs 7] [--min-ms 100] [--profiles 8] [--seed 42]
namespace shoal::bench {

// argv[0] is the command name; returns the process exit code.
int run_segment_bench(int argc, char** argv);

}  // namespace shoal::bench
