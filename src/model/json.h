#pragma once
// JSON text <-> Value. Parsing uses simdjson (kept out of this header); one JsonParser per
// thread, reused so that parsing allocates little.
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "model/value.h"

namespace shoal::model {

struct JsonLimits {
  std::size_t max_depth = 64;
  std::size_t max_bytes = 8u << 20;
};

class JsonParser {
 public:
  explicit JsonParser(JsonLimits limits = {});
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;

  // Parses one JSON document. Integers that fit int64 become kInt, other numbers kNumber.
  // Object members are sorted by key (the last duplicate wins). The error names the problem.
  Result<Value> parse(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  JsonLimits limits_;
};

// Appends `value` as JSON. Dates are written as ISO-8601 strings, []time as a list of them.
void write_json(const Value& value, std::string& out);
std::string to_json(const Value& value);
// Appends `text` as a quoted, escaped JSON string.
void write_json_string(std::string_view text, std::string& out);

}  // namespace shoal::model
