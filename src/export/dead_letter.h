#pragma once
// A message that could not be delivered (records kExportDeadLetter): kept with its last error
// until it is replayed (re-queued into the outbox) or its subscription is deleted.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace shoal::exports {

struct DeadLetter {
  std::string partition_key;
  std::string message;
  std::string error;
  std::uint32_t attempts = 0;
  TimestampMs failed_ms = 0;
};

void encode_dead_letter(const DeadLetter& letter, std::string& out);
bool decode_dead_letter(std::string_view bytes, DeadLetter& letter);

}  // namespace shoal::exports
