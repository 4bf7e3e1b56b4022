// libFuzzer target: parse_mapping must return a value or an error for any input, never crash;
// a mapping that parses must also apply to a small event without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mapping/mapping.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto mapping = shoal::mapping::parse_mapping(text);
  if (!mapping.ok()) return 0;
  shoal::model::Value event = shoal::model::ValueMap{
      {"a", shoal::model::Value("x")},
      {"id", shoal::model::Value(std::int64_t{7})},
      {"n", shoal::model::Value(2.5)},
      {"t", shoal::model::Value("2024-03-01T00:00:00Z")},
  };
  shoal::mapping::MappedEvent out;
  shoal::mapping::apply_mapping(*mapping, event, 1'700'000'000'000, 1'700'000'000'500, 1, out);
  return 0;
}
