#pragma once
// The import benchmark: events from a 4-shard stream through the Consumer (GetRecords at most
// 5 calls/s/shard, decoding, one engine commit per page with its checkpoint) into profiles with
// 100 segments. Sources: an in-process fixture serving generated GetRecords pages (shoal's own
// ceiling; the default), or kinesalite (started from node_modules, filled first).
//
//   shoal bench import [--events N] [--users N] [--shards N] [--page N] [--segments N]
//                      [--rate EVENTS_PER_S] [--kinesalite]
// --rate: the fixture makes events available at that rate (for the latency figure).
namespace shoal::bench {

// argv[0] is the command name; returns the process exit code.
int run_import_bench(int argc, char** argv);

}  // namespace shoal::bench
