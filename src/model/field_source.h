#pragma once
// FieldSource: what a condition reads from. The segment evaluator runs on profiles and the
// mapping's IF/WHERE conditions on events through this one interface.
#include <string_view>

#include "model/field_name.h"
#include "model/value.h"

namespace shoal::model {

class FieldSource {
 public:
  virtual ~FieldSource() = default;
  // The value at `path` ("a", "a.b" for a map key or nested object), or nullptr when missing.
  virtual const Value* find(std::string_view path) const = 0;
  // The same for a path that is an interned name (a source may find those faster).
  virtual const Value* find(FieldName name) const { return find(name.text()); }
};

// Reads fields of a map value (an event's data).
class MapFieldSource final : public FieldSource {
 public:
  explicit MapFieldSource(const Value& map) : map_(map) {}
  using FieldSource::find;
  const Value* find(std::string_view path) const override { return lookup_path(map_, path); }

 private:
  const Value& map_;
};

}  // namespace shoal::model
