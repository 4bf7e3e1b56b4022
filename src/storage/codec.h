#pragma once
// Compact binary encodings of stored records (varints, no field names repeated per value) and
// the key layout. Decoding never trusts its input: corrupt bytes give kCorruption, not a crash.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "model/profile.h"

namespace shoal::storage {

using PartitionId = std::uint16_t;

// Record types: the first byte of every key.
enum class RecordType : char {
  kMeta = 'M',      // M<name>                          -> engine counters
  kSegment = 'S',   // S<ordinal u32 BE>                 -> segment text
  kMapping = 'Q',   // Q<stream>                         -> mapping text
  kProfile = 'P',   // P<partition><profile id u64 BE>   -> encoded Profile
  kIdentity = 'I',  // I<partition><field>\0<value>      -> profile id u64 BE
  kTimer = 'T',     // T<partition><due i64 BE biased><profile id u64 BE> -> ""
  kOutbox = 'O',    // O<trigger sequence u64 BE>        -> trigger JSON
  kPosition = 'X',  // X<source>                         -> source position bytes
  // The engine's command log: the inputs of one commit since the last checkpoint (see
  // src/engine/README.md); erased by the checkpoint that covers them.
  kCommandLog = 'C',  // C<log sequence u64 BE>          -> encoded engine commands
  // The HTTP API's own records (src/http), written outside engine commits.
  kApiKey = 'K',       // K<key id>                     -> role, SHA-256 of the token, created, name
  kSegmentInfo = 'N',  // N<segment alias>              -> JSON {name, description, created}
  kAuthorization = 'A',  // A<auth id>                  -> JSON; secrets sealed (AES-256-GCM)
  kJob = 'W',            // W<job id>                   -> JSON job (workflow, config, state)
  // Trigger export (src/export). An outbox entry is committed with the state change that
  // produced it and erased once the destination accepted it.
  kSubscription = 'U',   // U<subscription id>            -> JSON subscription
  kExportOutbox = 'E',   // E<subscription id><seq u64 BE> -> partition key, message JSON
  kExportDeadLetter = 'Y',  // Y<subscription id><seq u64 BE> -> message, attempts, last error
  // Kinesis import (src/import). Leases are written by the lease store; dead letters and the
  // shard checkpoints (X"kinesis/<job id>/<shard id>") commit with the engine's changes.
  kLease = 'L',       // L<job id>\0<shard id> -> lease (owner, counter, parents, range, start);
                      // L\0worker-id -> this node's stable import worker id
  kDeadLetter = 'D',  // D<job id>\0<shard id>\0<seq length u8><seq digits><sub u32 BE><item u32 BE>
                      //   -> dead letter (reason, raw bytes, partition key, arrival time)
};

void append_u64_be(std::string& out, std::uint64_t v);
std::uint64_t read_u64_be(std::string_view in);  // in.size() >= 8

std::string meta_key(std::string_view name);
std::string segment_key(model::SegmentOrdinal ordinal);
std::string mapping_key(std::string_view stream);
std::string profile_key(PartitionId partition, model::ProfileId id);
std::string profile_prefix(PartitionId partition);
std::string identity_key(PartitionId partition, std::string_view field, std::string_view value);
std::string identity_prefix(PartitionId partition);
std::string timer_key(PartitionId partition, TimestampMs due, model::ProfileId id);
// The same key written over `key` (its buffer reused: no allocation per key in a loop).
void assign_timer_key(std::string& key, PartitionId partition, TimestampMs due,
                      model::ProfileId id);
std::string timer_prefix(PartitionId partition);
// Parses a timer key back into (due, profile id).
bool parse_timer_key(std::string_view key, TimestampMs& due, model::ProfileId& id);
std::string outbox_key(std::uint64_t sequence);
std::string position_key(std::string_view source);
std::string command_log_key(std::uint64_t sequence);

void encode_value(const model::Value& value, std::string& out);
Result<model::Value> decode_value(std::string_view& in);

void encode_profile(const model::Profile& profile, std::string& out);
Result<model::Profile> decode_profile(std::string_view in);

}  // namespace shoal::storage
