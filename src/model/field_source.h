#pragma once
// FieldSource: what a condition reads from. The segment evaluator runs on profiles and the
// mapping's IF/WHERE conditions on events through this one interface.
#include <string_view>

#include "model/value.h"

namespace shoal::model {

class FieldSource {
 public:
  virtual ~FieldSource() = default;
  // The value at `path` ("a", "a.b" for a map key or nested object), or nullptr when missing.
  virtual const Value* find(std::string_view path) const = 0;
};

// Reads fields of a map value (an event's data).
class MapFieldSource final : public FieldSource {
 public:
  explicit MapFieldSource(const Value& map) : map_(map) {}
  const Value* find(std::string_view path) const override { return lookup_path(map_, path); }

 private:
  const Value& map_;
};

}  // namespace shoal::model
