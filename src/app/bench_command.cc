#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "app/commands.h"
#include "bench/collect_bench.h"
#include "bench/engine_bench.h"
#include "bench/export_bench.h"
#include "bench/import_bench.h"
#include "bench/kinesis_put_bench.h"
#include "bench/segment_bench.h"

namespace shoal::app {
namespace {

using BenchMain = int (*)(int, char**);

// `shoal bench <name> [options]`: the options are the benchmark's own (see --help of each).
void add_benchmark(CLI::App& bench, const std::string& name, const std::string& description,
                   BenchMain run) {
  CLI::App* cmd = bench.add_subcommand(name, description);
  cmd->allow_extras();
  cmd->set_help_flag();  // the benchmark prints its own --help
  cmd->final_callback([cmd, name, run] {
    std::vector<std::string> args = cmd->remaining();
    std::vector<char*> argv;
    std::string program = "shoal bench " + name;
    argv.push_back(program.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::exit(run(static_cast<int>(argv.size() - 1), argv.data()));
  });
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Run a benchmark (see BENCHMARKS.md)");
  bench->require_subcommand(1);
  add_benchmark(*bench, "collect",
                "wrk posting 10-event NDJSON batches to an in-process server with durable commits: "
                "applied events/s, p99 latency, CPU of server and wrk",
                &bench::run_collect_bench);
  add_benchmark(*bench, "engine",
                "Synthetic workload through the engine on one thread with durable commits: "
                "events/s, latency, peak RSS, bytes per profile",
                &bench::run_engine_bench);
  add_benchmark(*bench, "export",
                "Triggers from engine activity through the exporter to the null sink (triggers/s, "
                "CPU per million beside the Node SDK) and to a throttled 4-shard kinesalite "
                "stream (accepted rate, nothing dropped, commit -> accepted latency)",
                &bench::run_export_bench);
  add_benchmark(*bench, "import",
                "Events of a 4-shard stream through the Kinesis import into profiles with 100 "
                "segments: from in-process generated GetRecords pages or from kinesalite",
                &bench::run_import_bench);
  add_benchmark(*bench, "kinesis-put",
                "PutRecords of 500 x 200-byte records from one thread against the in-process "
                "null sink: records/s and CPU per million records",
                &bench::run_kinesis_put_bench);
  add_benchmark(*bench, "segments",
                "ns per segment evaluate and next_change for each kind of the engine mix",
                &bench::run_segment_bench);
}

}  // namespace shoal::app
