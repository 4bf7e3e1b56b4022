#include "import/checkpoint.h"

#include <charconv>

#include "storage/codec.h"

namespace shoal::import {

std::string checkpoint_prefix(std::string_view job_id) {
  std::string source = "kinesis/";
  source.append(job_id);
  source.push_back('/');
  return storage::position_key(source);
}

std::string checkpoint_key(std::string_view job_id, std::string_view shard_id) {
  std::string key = checkpoint_prefix(job_id);
  key.append(shard_id);
  return key;
}

// "E" for SHARD_END, else "S<sequence number>/<sub-sequence>".
std::string encode_checkpoint(const Checkpoint& checkpoint) {
  if (checkpoint.shard_end) return "E";
  std::string out = "S";
  out.append(checkpoint.sequence_number);
  out.push_back('/');
  out.append(std::to_string(checkpoint.sub_sequence));
  return out;
}

Result<Checkpoint> decode_checkpoint(std::string_view bytes) {
  auto corrupt = [&] {
    return make_error(ErrorCode::kCorruption,
                      "unreadable import checkpoint '" + std::string(bytes) + "'");
  };
  Checkpoint checkpoint;
  if (bytes == "E") {
    checkpoint.shard_end = true;
    return checkpoint;
  }
  if (bytes.size() < 4 || bytes[0] != 'S') return corrupt();
  std::size_t slash = bytes.rfind('/');
  if (slash == std::string_view::npos || slash < 2) return corrupt();
  checkpoint.sequence_number = std::string(bytes.substr(1, slash - 1));
  std::string_view sub = bytes.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), checkpoint.sub_sequence);
  if (ec != std::errc() || ptr != sub.data() + sub.size()) return corrupt();
  return checkpoint;
}

Result<std::optional<Checkpoint>> read_checkpoint(const storage::Store& store,
                                                  std::string_view job_id,
                                                  std::string_view shard_id) {
  SHOAL_ASSIGN_OR_RETURN(auto bytes, store.get(checkpoint_key(job_id, shard_id)));
  if (!bytes) return std::optional<Checkpoint>();
  SHOAL_ASSIGN_OR_RETURN(Checkpoint checkpoint, decode_checkpoint(*bytes));
  return std::optional<Checkpoint>(std::move(checkpoint));
}

}  // namespace shoal::import
