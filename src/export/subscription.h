#pragma once
// Subscription: one configured export of audience triggers (the seed's `/api/subscription` body
// plus shoal's additions) and its parsing, validation and stored form (records kSubscription).
// Plain values; no threads.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "model/ids.h"

namespace shoal::exports {

enum class Channel : std::uint8_t { kKinesis, kWebhook };
std::string_view channel_name(Channel channel);

// Delivery limits and timing; defaults follow Kinesis' limits (kinesis-api.md "Limits").
struct DeliveryOptions {
  std::size_t max_batch_records = 500;
  std::size_t max_batch_bytes = 5u << 20;   // data plus partition keys
  std::size_t max_record_bytes = 1u << 20;  // data plus partition key; 10 MiB streams raise it
  std::int64_t linger_ms = 50;
  double shard_records_per_second = 1000;
  double shard_bytes_per_second = 1 << 20;
  std::int64_t backoff_base_ms = 100;
  std::int64_t backoff_max_ms = 10000;
  std::uint32_t max_attempts = 50;           // then the message goes to the dead-letter list
  std::int64_t max_age_ms = 3600 * 1000;     // since its first failure; 0 = no limit
  std::size_t window = 20000;                // outbox messages held in memory at once
  std::int64_t request_timeout_ms = 30000;   // webhook POSTs
};

// Progress of a backfill (stored beside the subscription: key kSubscription<id>"/backfill").
struct BackfillState {
  bool active = false;
  std::size_t segment_index = 0;  // the audience being walked
  std::uint64_t cursor = 0;       // the last profile id visited in it
  std::uint64_t done = 0;         // backfill messages written
  std::uint64_t total = 0;        // members of the audiences when it started (an estimate)
  bool complete = false;
};
std::string backfill_to_json(const BackfillState& state);
BackfillState backfill_from_json(std::string_view json);

struct Subscription {
  std::string id;  // 32 lowercase hex
  std::string name;
  std::string description;
  Channel channel = Channel::kKinesis;
  std::vector<std::string> segment_ids;  // as given (ids or slugs)
  std::vector<model::SegmentOrdinal> segments;  // resolved, in the given order
  std::string stream;
  std::string region;
  std::string identifier_field;
  std::string role_arn;
  std::string auth_id;
  std::string external_id;
  std::string endpoint;  // Kinesis endpoint override (emulators, private endpoints)
  bool with_backfill = false;
  bool send_enter = true;
  bool send_exit = true;
  std::vector<std::string> fields;  // export fields; empty = every user field
  std::string webhook_url;
  std::vector<std::pair<std::string, std::string>> headers;  // webhook headers
  DeliveryOptions delivery;
  std::string job_id;  // set when created through /api/work
  TimestampMs created_ms = 0;
  bool paused = false;
};

// Parses the seed's body (plus shoal's additions) into a subscription without resolving its
// segments. Errors name the field ("stream: ...", "region: ...").
Result<Subscription> parse_subscription(std::string_view json);
// Checks region names like "us-west-2" (lowercase letters, digits and dashes, 4..32 chars).
Status validate_region(std::string_view region);

// Stored form: every configured field (no secrets: credentials stay in authorizations).
std::string subscription_to_json(const Subscription& subscription);
Result<Subscription> subscription_from_json(std::string_view json);

// The store keys of a subscription's records.
std::string subscription_key(std::string_view id);
std::string backfill_key(std::string_view id);
// Profiles that changed while a backfill ran get no backfill message (their live message came
// first); the set is stored so a restart keeps skipping them: key backfill_live_key -> "".
std::string backfill_live_prefix(std::string_view id);
std::string backfill_live_key(std::string_view id, model::ProfileId profile);
// The profile of a backfill_live_key, if `key` is one.
std::optional<model::ProfileId> backfill_live_profile(std::string_view key);
std::string outbox_prefix(std::string_view subscription_id);
std::string outbox_key(std::string_view subscription_id, std::uint64_t sequence);
std::string dead_letter_prefix(std::string_view subscription_id);
std::string dead_letter_key(std::string_view subscription_id, std::uint64_t sequence);
// The sequence at the end of an outbox or dead-letter key.
std::uint64_t sequence_of_key(std::string_view key);

}  // namespace shoal::exports
