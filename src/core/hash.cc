#include "core/hash.h"

#include <string>

namespace shoal {

std::string hex_id128(std::string_view data) {
  std::uint64_t a = fnv1a64(data);
  std::uint64_t b = fnv1a64(data, a ^ 0x9e3779b97f4a7c15ull);
  // Final avalanche so that similar inputs do not share prefixes.
  auto mix = [](std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb3f97ffff5edull;
    x ^= x >> 33;
    return x;
  };
  std::string out(32, '0');
  auto put_hex = [&out](std::size_t at, std::uint64_t x) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 16; i-- > 0; x >>= 4) out[at + i] = kDigits[x & 0xf];
  };
  put_hex(0, mix(a));
  put_hex(16, mix(b));
  return out;
}

}  // namespace shoal
