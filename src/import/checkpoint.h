#pragma once
// A shard's checkpoint: the last Kinesis record whose events are committed (its sequence number
// and last sub-sequence), or SHARD_END once a closed shard was read to its end. Stored as the
// position record X"kinesis/<job id>/<shard id>" and written only through Engine::stage_put, in
// the same commit as the events it covers.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "storage/store.h"

namespace shoal::import {

struct Checkpoint {
  std::string sequence_number;  // empty with shard_end
  std::uint32_t sub_sequence = 0;
  bool shard_end = false;

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

std::string checkpoint_key(std::string_view job_id, std::string_view shard_id);
std::string checkpoint_prefix(std::string_view job_id);
std::string encode_checkpoint(const Checkpoint& checkpoint);
Result<Checkpoint> decode_checkpoint(std::string_view bytes);
// The committed checkpoint, or nullopt when the shard has none yet.
Result<std::optional<Checkpoint>> read_checkpoint(const storage::Store& store,
                                                  std::string_view job_id,
                                                  std::string_view shard_id);

}  // namespace shoal::import
