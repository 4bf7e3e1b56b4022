// shoal's command line: the only place that knows every concrete type.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <iostream>

#include "app/commands.h"

namespace {

// glibc serves blocks over 128 KiB with mmap and returns heap tops over 128 KiB to the system
// on free. shoal's request and response bodies (a PutRecords call is ~150 KiB) would then cost
// page faults and TLB flushes on every call: 3x the CPU per record in `shoal bench kinesis-put`
// (BENCHMARKS.md). Keep such memory in the heap for reuse instead.
void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  tune_malloc();
  CLI::App app{"shoal: a self-hosted real-time audience engine for AWS Kinesis"};
  app.set_version_flag("--version", "shoal 0.1.0");
  app.require_subcommand(1);
  shoal::app::add_serve_command(app);
  shoal::app::add_replay_command(app);
  shoal::app::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "shoal: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
