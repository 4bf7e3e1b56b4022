#include "import/dead_letters.h"

#include <boost/json.hpp>

#include "kinesis/base64.h"
#include "storage/codec.h"

namespace shoal::import {
namespace json = boost::json;
namespace {

void append_u32_be(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

}  // namespace

std::string dead_letter_prefix(std::string_view job_id) {
  std::string key(1, static_cast<char>(storage::RecordType::kDeadLetter));
  key.append(job_id);
  key.push_back('\0');
  return key;
}

std::string dead_letter_key(std::string_view job_id, const DeadLetter& letter) {
  std::string key = dead_letter_prefix(job_id);
  key.append(letter.shard_id);
  key.push_back('\0');
  key.push_back(static_cast<char>(letter.position.sequence_number.size()));
  key.append(letter.position.sequence_number);
  append_u32_be(key, letter.position.sub_sequence);
  append_u32_be(key, letter.position.item);
  return key;
}

std::string encode_dead_letter(const DeadLetter& letter) {
  json::object o{{"shard", letter.shard_id},
                 {"sequence_number", letter.position.sequence_number},
                 {"sub_sequence", letter.position.sub_sequence},
                 {"item", letter.position.item},
                 {"reason", letter.reason},
                 {"data", kinesis::base64_encode(letter.data)},
                 {"partition_key", letter.partition_key},
                 {"arrival_ms", letter.arrival_ms},
                 {"dead_lettered_ms", letter.dead_lettered_ms}};
  return json::serialize(o);
}

Result<DeadLetter> decode_dead_letter(std::string_view bytes) {
  auto corrupt = [] { return make_error(ErrorCode::kCorruption, "unreadable dead letter"); };
  json::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return corrupt();
  const json::object& o = v.as_object();
  DeadLetter letter;
  try {
    letter.shard_id = json::value_to<std::string>(o.at("shard"));
    letter.position.sequence_number = json::value_to<std::string>(o.at("sequence_number"));
    letter.position.sub_sequence = json::value_to<std::uint32_t>(o.at("sub_sequence"));
    letter.position.item = json::value_to<std::uint32_t>(o.at("item"));
    letter.reason = json::value_to<std::string>(o.at("reason"));
    auto data = kinesis::base64_decode(json::value_to<std::string>(o.at("data")));
    if (!data.ok()) return corrupt();
    letter.data = std::move(*data);
    letter.partition_key = json::value_to<std::string>(o.at("partition_key"));
    letter.arrival_ms = json::value_to<std::int64_t>(o.at("arrival_ms"));
    letter.dead_lettered_ms = json::value_to<std::int64_t>(o.at("dead_lettered_ms"));
  } catch (const std::exception&) {
    return corrupt();
  }
  return letter;
}

Result<std::vector<DeadLetterEntry>> list_dead_letters(const storage::Store& store,
                                                       std::string_view job_id,
                                                       std::string_view after, std::size_t limit) {
  std::vector<DeadLetterEntry> out;
  std::string prefix = dead_letter_prefix(job_id);
  std::string start = prefix;
  if (!after.empty()) {
    start = std::string(after);
    start.push_back('\0');  // the first key after `after`
  }
  if (start.compare(0, prefix.size(), prefix) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "the cursor does not belong to this job");
  }
  Status bad = ok_status();
  SHOAL_RETURN_IF_ERROR(
      store.scan_from(prefix, start, [&](std::string_view key, std::string_view value) {
        if (out.size() >= limit) return false;
        auto letter = decode_dead_letter(value);
        if (!letter.ok()) {
          bad = letter.error();
          return false;
        }
        out.push_back(DeadLetterEntry{std::string(key), std::move(*letter)});
        return true;
      }));
  SHOAL_RETURN_IF_ERROR(bad);
  return out;
}

Status remove_dead_letters(storage::Store& store, std::string_view job_id) {
  storage::Batch batch;
  SHOAL_RETURN_IF_ERROR(
      store.scan(dead_letter_prefix(job_id), [&](std::string_view key, std::string_view) {
        batch.erase(key);
        return true;
      }));
  return store.write(batch);
}

ReplayOutcome replay_dead_letters(engine::Engine& engine, std::string_view target_stream,
                                  RecordDecoder& decoder,
                                  const std::vector<DeadLetterEntry>& entries, TimestampMs now) {
  ReplayOutcome outcome;
  for (const DeadLetterEntry& entry : entries) {
    DeadLetter letter = entry.letter;
    std::vector<Result<model::Value>> items = decoder.parse_payload(letter.data);
    std::string reason;
    if (letter.position.item >= items.size()) {
      reason = "item " + std::to_string(letter.position.item) + " is no longer in the payload";
    } else if (!items[letter.position.item].ok()) {
      reason = items[letter.position.item].error().message;
    } else {
      const model::Value& data = *items[letter.position.item];
      engine::EventOutcome applied =
          engine.apply_event(target_stream, data, decoder.event_time(data, letter.arrival_ms));
      if (applied.applied) {
        engine.stage_erase(entry.key);
        ++outcome.replayed;
        ++outcome.events_applied;
        continue;
      }
      reason = applied.reason;
    }
    ++outcome.still_failing;
    letter.reason = reason;
    letter.dead_lettered_ms = now;
    engine.stage_put(entry.key, encode_dead_letter(letter));
  }
  return outcome;
}

}  // namespace shoal::import
