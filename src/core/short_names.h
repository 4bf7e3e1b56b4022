#pragma once
// Order and equality of short names (field names, map keys) compared inline, without a call to
// memcmp per probe: the binary searches over a profile's fields and an event's keys compare
// names tens of times per event, and those calls were most of the engine thread's `memcmp`.
// The same order as std::string's: unsigned bytes, then length.
#include <cstddef>
#include <string_view>

namespace shoal {

inline bool name_less(std::string_view a, std::string_view b) {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

inline bool name_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace shoal
