#pragma once
// Standard base64 (RFC 4648, with padding), as Kinesis carries record Data in JSON.
#include <string>
#include <string_view>

#include "core/result.h"

namespace shoal::kinesis {

// Appends the base64 text of `bytes` to `out`.
void base64_encode_append(std::string_view bytes, std::string& out);
std::string base64_encode(std::string_view bytes);

// Decodes padded base64; fails on any other character, bad padding or a length not a multiple of 4.
Result<std::string> base64_decode(std::string_view text);

}  // namespace shoal::kinesis
