#include "core/hash.h"

#include <cstdio>

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
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(mix(a)),
                static_cast<unsigned long long>(mix(b)));
  return buf;
}

}  // namespace shoal
