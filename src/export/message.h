#pragma once
// The trigger message (the seed's format, docs/triggers.md) and the partition key, built from a
// profile and the segment changes of one profile change. Pure functions; any thread.
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "export/subscription.h"
#include "model/profile.h"
#include "segment/catalog.h"

namespace shoal::exports {

// One audience listed in `segment_events`.
struct SegmentEvent {
  model::SegmentOrdinal segment;
  engine::TriggerEvent event = engine::TriggerEvent::kEnter;
  TimestampMs entered_ms = 0;
  TimestampMs exited_ms = 0;  // for an exit
};

struct MessageInput {
  std::string id;                      // the stable message id (the first trigger's id)
  std::string_view subscription_id;
  TimestampMs ts = 0;                  // the trigger's time
  const model::Profile* profile = nullptr;  // null for a deleted profile
  // The identities when `profile` is null (the trigger's copy).
  const std::vector<model::Identity>* identities = nullptr;
  std::vector<SegmentEvent> events;   // changed first, then current memberships
  const std::vector<std::string>* fields = nullptr;  // export fields; empty or null = all
};

// `{"data":{"_created","_modified",<fields>,"segment_events":[...]},"id","subscription_id",
// "timestamp"}`: user fields sorted by name; a current membership's "exit" is the trigger's
// timestamp with the year 2099 (as the seed shows); times are RFC 3339 with nanoseconds.
void build_message_json(const MessageInput& input, const segment::Catalog& catalog,
                        std::string& out);

// `t` with its year replaced by 2099 (Feb 29 becomes Feb 28).
TimestampMs with_year_2099(TimestampMs t);

// The partition key: the first value of `identifier_field` (an identity or a field), else the
// profile id; keys longer than 256 characters become their SHA-256 hex.
std::string partition_key_for(std::string_view identifier_field, const model::Profile* profile,
                              model::ProfileId id,
                              const std::vector<model::Identity>* identities);

// Delivery attempts of an outbox message that failed, kept with it so that a restart neither
// resets its backoff nor extends its way to the dead letters.
struct RetryState {
  std::uint32_t attempts = 0;
  TimestampMs first_failure_ms = 0;
  std::string last_error;
};

// An outbox entry's stored bytes: u32 BE key length, key, message. A message that has failed
// is rewritten with its RetryState in front: 0xFF, u32 attempts, u64 first failure, u32 error
// length, error (a key length never has 0xFF as its first byte: keys are <= 256 bytes).
void encode_outbox_entry(std::string_view partition_key, std::string_view message,
                         std::string& out);
void encode_outbox_entry(std::string_view partition_key, std::string_view message,
                         const RetryState& retry, std::string& out);
// `retry` (optional) is reset when the entry has none.
bool decode_outbox_entry(std::string_view bytes, std::string_view& partition_key,
                         std::string_view& message, RetryState* retry = nullptr);

}  // namespace shoal::exports
