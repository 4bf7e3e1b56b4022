#pragma once
// Heap bytes owned by a std::string beyond the object itself: none while its text fits the
// small-string buffer, else its capacity plus the terminator. For memory accounting (the
// engine's profile cache is bounded in bytes).
#include <cstddef>
#include <string>

namespace shoal {

inline std::size_t string_heap_bytes(const std::string& s) {
  static const std::size_t inline_capacity = std::string().capacity();
  return s.capacity() > inline_capacity ? s.capacity() + 1 : 0;
}

}  // namespace shoal
