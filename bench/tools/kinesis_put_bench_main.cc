// Stand-alone runner of the kinesis-put benchmark (see bench/kinesis_put_bench.h).
#include "bench/kinesis_put_bench.h"

int main(int argc, char** argv) { return shoal::bench::run_kinesis_put_bench(argc, argv); }
