#pragma once
// `shoal replay`: drives the engine from a JSON-lines history whose `ts` is the clock, and
// writes one JSON line per trigger. Deterministic: identical input gives identical output.
#include <iosfwd>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/engine.h"

namespace shoal::engine {

struct ReplayOptions {
  std::vector<std::string> mapping_texts;  // from --mapping files
  std::vector<IdentityLimit> identity_limits;
  std::string data_dir;  // empty: a temporary directory removed at the end
  std::size_t commit_every = 4096;  // records per commit
};

struct ReplaySummary {
  std::uint64_t records = 0;
  std::uint64_t rejected = 0;
  std::uint64_t triggers = 0;
};

// Reads records from `in`, writes triggers to `out` and "line N: ..." diagnostics to `err`.
// Fails only when the store cannot be opened or written.
Result<ReplaySummary> run_replay(const ReplayOptions& options, std::istream& in, std::ostream& out,
                                 std::ostream& err);

// Parses "FIELD=N".
Result<IdentityLimit> parse_identity_limit(std::string_view text);

}  // namespace shoal::engine
