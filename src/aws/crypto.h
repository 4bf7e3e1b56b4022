#pragma once
// SHA-256, HMAC-SHA256 and hex encoding (OpenSSL), as SigV4 needs them.
#include <array>
#include <string>
#include <string_view>

namespace shoal::aws {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view data);
// Lowercase hex of `bytes`.
std::string hex_encode(std::string_view bytes);
std::string hex_encode(const Sha256Digest& digest);
std::string sha256_hex(std::string_view data);

inline std::string_view as_view(const Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

}  // namespace shoal::aws
