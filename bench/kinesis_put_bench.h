#pragma once
// The kinesis-put benchmark: PutRecords of 500 records of 200 bytes from one thread, against the
// in-process null sink (tests/support/kinesis_null_sink.h) or a given endpoint, for a bounded
// time and record count. Prints records/s and CPU-seconds per million records (the sending
// thread's CPU, which is the KinesisClient's cost: JSON, base64, SigV4, libcurl; and the
// process's, which includes an in-process sink).
//
//   shoal bench kinesis-put [--seconds 10] [--records N] [--batch 500] [--record-bytes 200]
//                           [--endpoint URL] [--shards 4] [--sink-only]
// --sink-only starts the null sink, prints its endpoint and serves for --seconds (for running
// another client, e.g. bench/node/kinesis_put.mjs, against the same sink).
namespace shoal::bench {

// argv[0] is the command name; returns the process exit code.
int run_kinesis_put_bench(int argc, char** argv);

}  // namespace shoal::bench
