#pragma once
// The calling thread's allocator arena, where the process runs on jemalloc (the shoal binary,
// ADR 4). jemalloc is found at run time, so nothing else links it; on any other allocator
// (the test binaries, sanitizer builds) these do nothing.
#include <cstddef>
#include <string>

namespace shoal {

// jemalloc's mallctl, or nullptr when the process does not run on jemalloc.
using Mallctl = int (*)(const char* name, void* old_value, std::size_t* old_size, void* new_value,
                        std::size_t new_size);
Mallctl process_mallctl();

// Gives the calling thread a jemalloc arena of its own that keeps the pages freed in it instead
// of returning them to the system after a while (no decay purge). For a thread whose heap is
// long-lived and reuses what it frees, as the engine's (its profile cache is bounded): purging
// there split the transparent huge pages it runs on, and the page faults and TLB misses after
// that cost ~30% of the engine thread at 1M profiles (BENCHMARKS.md). The price is that the
// thread's heap does not shrink below its high-water mark. Returns the arena's index, or -1 when
// there is no jemalloc or it refused (the thread then stays where it was).
int use_retaining_arena(Mallctl mallctl = process_mallctl());

// The calling thread's arena for reports: "arena 9 (freed pages kept)", "arena 2 (dirty pages
// purged after 10000 ms)", or
// "" without jemalloc.
std::string describe_thread_arena(Mallctl mallctl = process_mallctl());

}  // namespace shoal
