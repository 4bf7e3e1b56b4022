#pragma once
// What every benchmark measures with: CPU time of a clock, a thread or the process, peak RSS,
// and fixed credentials for signing requests to the in-process sinks and emulators.
#include <sys/resource.h>
#include <time.h>

#include <string>

#include "aws/credentials.h"

namespace shoal::bench {

// Seconds of CPU on `clock` (CLOCK_THREAD_CPUTIME_ID, or pthread_getcpuclockid of another
// thread); 0 when it cannot be read (the thread is gone).
double cpu_seconds_of(clockid_t clock);
double thread_cpu_seconds();
// How often the calling thread was descheduled while it could have run (RUSAGE_THREAD's
// involuntary context switches): other threads or the host took its core.
long thread_involuntary_switches();
// User + system seconds of RUSAGE_SELF or RUSAGE_CHILDREN.
double process_cpu_seconds(int who = RUSAGE_SELF);
long peak_rss_kb(int who = RUSAGE_SELF);
// The malloc this process runs on: "jemalloc <version>" or "glibc malloc" (figures differ ~1.4x).
std::string allocator_name();
// The process's resident set now, in KiB (/proc/self/statm).
long current_rss_kb();

// Fixed keys: the sinks and emulators the benchmarks talk to do not check signatures.
class BenchCredentials final : public aws::CredentialsProvider {
 public:
  Result<aws::Credentials> get(TimestampMs now) override;
  std::string describe() const override { return "benchmark credentials"; }
};

}  // namespace shoal::bench
