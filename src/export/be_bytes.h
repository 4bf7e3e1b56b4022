#pragma once
// Fixed-width big-endian integers in the export module's stored records (outbox entries, dead
// letters). Internal to src/export.
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::exports {

inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int s = (bytes - 1) * 8; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

// Reads `bytes` bytes from the front of `in` (false when it is shorter).
inline bool get_be(std::string_view& in, int bytes, std::uint64_t& v) {
  if (in.size() < static_cast<std::size_t>(bytes)) return false;
  v = 0;
  for (int b = 0; b < bytes; ++b) v = (v << 8) | static_cast<std::uint8_t>(in[b]);
  in.remove_prefix(static_cast<std::size_t>(bytes));
  return true;
}

}  // namespace shoal::exports
