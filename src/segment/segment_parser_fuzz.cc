// libFuzzer target: segment texts (split at '\n\n' into a batch) through registration,
// evaluation and next_change. Crashing inputs go into testdata/errors.txt or fuzz_regression.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/field_source.h"
#include "segment/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shoal;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> texts;
  for (std::size_t start = 0;;) {
    std::size_t cut = text.find("\n\n", start);
    texts.push_back(text.substr(start, cut == std::string::npos ? std::string::npos : cut - start));
    if (cut == std::string::npos || texts.size() >= 8) break;
    start = cut + 2;
  }
  segment::Catalog catalog;
  auto batch = catalog.register_batch(texts);
  model::ValueMap fields{{"a", model::Value(model::Date{1'700'000'000'000})},
                         {"b", model::Value("x")},
                         {"p", model::Value(model::TimeSeries{1'700'000'100'000, 1'699'000'000'000})}};
  model::Value profile(std::move(fields));
  model::MapFieldSource source(profile);
  for (auto ordinal : catalog.ordinals()) {
    (void)catalog.evaluate(ordinal, source, 1'700'000'050'000);
    (void)catalog.next_change(ordinal, source, 1'700'000'050'000);
  }
  return 0;
}
