#pragma once
// Field kinds and merge operators of the mapping language, and the conversions between an
// event's raw value and a profile field's kind.
#include <string_view>

#include "core/result.h"
#include "model/value.h"

namespace shoal::model {

enum class Kind : std::uint8_t {
  kString,
  kInt,
  kNumber,
  kBool,
  kDate,
  kStringList,  // []string, kept as a set in insertion order
  kTimeList,    // []time, a multiset of timestamps newest first
  kIntMap,      // map[string]int
  kStringMap,   // map[string]string
};

enum class MergeOp : std::uint8_t { kLatest, kOldest, kMin, kMax, kSum, kSet, kAppend };

std::string_view kind_name(Kind kind);
std::string_view merge_op_name(MergeOp op);
// Case-insensitive: "string", "INT", "[]string", "map[string]int", ...
Result<Kind> parse_kind(std::string_view text);
Result<MergeOp> parse_merge_op(std::string_view text);

// Converts `value` to `kind`: numbers become decimal text for strings, numeric strings become
// numbers, ISO-8601 strings and epoch milliseconds become dates, a scalar becomes a one-element
// list. The error says why the value does not fit the kind.
Result<Value> coerce_to_kind(const Value& value, Kind kind);

// Decimal text of an int or number as the mapping writes it (identities, []string elements).
std::string number_text(const Value& value);

}  // namespace shoal::model
