#pragma once
// Strong ids. A ProfileId is the profile's creation sequence in its store: the earliest-created
// profile has the lowest id, which is how merges choose their survivor.
#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace shoal::model {

struct ProfileId {
  std::uint64_t value = 0;
  friend auto operator<=>(const ProfileId&, const ProfileId&) = default;
  std::string to_string() const { return std::to_string(value); }
};

// A segment's registration ordinal: stable for the segment's life (a replacement keeps it),
// never reused, and the order in which triggers of one instant are emitted.
struct SegmentOrdinal {
  std::uint32_t value = 0;
  friend auto operator<=>(const SegmentOrdinal&, const SegmentOrdinal&) = default;
};

inline constexpr std::int64_t kNoTime = INT64_MAX;

}  // namespace shoal::model

template <>
struct std::hash<shoal::model::ProfileId> {
  size_t operator()(const shoal::model::ProfileId& id) const noexcept {
    return std::hash<std::uint64_t>()(id.value);
  }
};
