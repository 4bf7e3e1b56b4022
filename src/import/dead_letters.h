#pragma once
// The dead-letter store of an import job: records (or items of records) that could not be
// parsed or mapped, with the raw bytes, shard, position and reason. Written through
// Engine::stage_put in the same commit as the checkpoint that passes them, so a crash neither
// loses nor duplicates one; listed and replayed through the HTTP API (src/http/import_handler.cc).
// Keys: D<job id>\0<shard id>\0<seq length u8><seq digits><sub u32 BE><item u32 BE>, so they sort
// by shard, then position. Threading: free functions; the Store is thread-safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/engine.h"
#include "import/record_decoder.h"
#include "storage/store.h"

namespace shoal::import {

std::string dead_letter_prefix(std::string_view job_id);
std::string dead_letter_key(std::string_view job_id, const DeadLetter& letter);
std::string encode_dead_letter(const DeadLetter& letter);
Result<DeadLetter> decode_dead_letter(std::string_view bytes);

struct DeadLetterEntry {
  std::string key;
  DeadLetter letter;
};

// At most `limit` dead letters of the job with keys after `after` (empty: from the start).
Result<std::vector<DeadLetterEntry>> list_dead_letters(const storage::Store& store,
                                                       std::string_view job_id,
                                                       std::string_view after, std::size_t limit);
Status remove_dead_letters(storage::Store& store, std::string_view job_id);

struct ReplayOutcome {
  std::uint64_t replayed = 0;       // dead letters whose every item now applied (removed)
  std::uint64_t still_failing = 0;  // kept, with the new reason
  std::uint64_t events_applied = 0;
};

// On the engine thread: re-decodes and re-applies `entries` to `target_stream`. A dead letter
// keeps its (sub-)record's whole payload and the index of its one item; replay applies only that
// item. One that applies is erased in this commit; the others are rewritten with the new reason.
ReplayOutcome replay_dead_letters(engine::Engine& engine, std::string_view target_stream,
                                  RecordDecoder& decoder,
                                  const std::vector<DeadLetterEntry>& entries, TimestampMs now);

}  // namespace shoal::import
