#pragma once
// Small, stable, non-cryptographic hashes for ids that must be identical run to run.
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

constexpr std::uint64_t fnv1a64(std::string_view data, std::uint64_t seed = kFnvOffset) {
  std::uint64_t h = seed;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// 32 lowercase hex characters from two differently seeded 64-bit hashes.
std::string hex_id128(std::string_view data);

}  // namespace shoal
