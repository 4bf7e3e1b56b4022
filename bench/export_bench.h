#pragma once
// The export benchmark: audience triggers made by real engine activity (events applied through
// an engine::Partition whose segment each event makes the profile enter or exit), through the
// real exporter path (commit observer -> outbox -> Deliverer -> KinesisSink PutRecords).
//  - null: N triggers to the in-process null sink (tests/support/kinesis_null_sink.h) with the
//    per-shard limits off; triggers/s, CPU-seconds per million triggers (deliverer thread,
//    observer time on the engine thread, process), beside the Node SDK's PutRecords of records
//    of the same size against the same sink (bench/node/kinesis_put.mjs, a child run by PID).
//  - kinesalite: a 4-shard stream behind the fault proxy's per-shard throttling (1,000
//    records/s per shard): offered above the limit, the accepted rate and every trigger counted
//    back from the stream; then at 1,000 triggers/s, latency from the commit of the profile
//    change to PutRecords accepted (p50/p99).
//
//   shoal bench export [--mode null|kinesalite|all] [--triggers 1000000] [--runs 3] ...
namespace shoal::bench {

// argv[0] is the command name; returns the process exit code.
int run_export_bench(int argc, char** argv);

}  // namespace shoal::bench
