#pragma once
// The benchmarks' shared workload definition: the mapping of the `events` stream (identities
// user_id OR email, counters, sets, a []time series) and the segment mix (attribute tests, date
// windows, countsince windows, INCLUDEs). Used by `shoal bench engine`, `segments` and `collect`
// so that their figures describe the same work.
#include <cstddef>
#include <string>
#include <vector>

namespace shoal::bench {

// The mapping of stream "events" into entity "user".
extern const char* const kWorkloadMapping;

// `n` segments s0..s{n-1}; segment i is of kind i % 10 (see workload.cc).
std::vector<std::string> workload_segments(std::size_t n);

}  // namespace shoal::bench
