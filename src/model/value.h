#pragma once
// Value: one field's value, in an event (any JSON) or on a profile (one of the mapping kinds).
// Lists and maps nest; a map is a vector of (key, value) sorted by key, so lookups are binary
// searches and serialization is deterministic.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.h"

namespace shoal::model {

enum class ValueType : std::uint8_t {
  kNull,
  kBool,
  kInt,
  kNumber,
  kString,
  kDate,   // TimestampMs
  kList,   // heterogeneous list; []string is a list of strings
  kTimes,  // []time: a multiset of timestamps, newest first
  kMap,
};

std::string_view value_type_name(ValueType type);

struct Date {
  TimestampMs ms = 0;
  friend bool operator==(const Date&, const Date&) = default;
};

class Value;
using ValueList = std::vector<Value>;
using TimeSeries = std::vector<TimestampMs>;  // newest first
using ValueMap = std::vector<std::pair<std::string, Value>>;  // sorted by key, unique keys

class Value {
 public:
  Value() = default;
  Value(std::nullptr_t) {}                                       // NOLINT implicit
  Value(bool b) : data_(b) {}                                    // NOLINT implicit
  Value(int v) : data_(static_cast<std::int64_t>(v)) {}          // NOLINT implicit
  Value(std::int64_t v) : data_(v) {}                            // NOLINT implicit
  Value(double v) : data_(v) {}                                  // NOLINT implicit
  Value(std::string v) : data_(std::move(v)) {}                  // NOLINT implicit
  Value(std::string_view v) : data_(std::string(v)) {}           // NOLINT implicit
  Value(const char* v) : data_(std::string(v)) {}                // NOLINT implicit
  Value(Date d) : data_(d) {}                                    // NOLINT implicit
  Value(ValueList v) : data_(std::move(v)) {}                    // NOLINT implicit
  Value(TimeSeries v) : data_(std::move(v)) {}                   // NOLINT implicit
  Value(ValueMap v) : data_(std::move(v)) {}                     // NOLINT implicit

  ValueType type() const { return static_cast<ValueType>(data_.index()); }
  bool is_null() const { return type() == ValueType::kNull; }
  bool is_bool() const { return type() == ValueType::kBool; }
  bool is_int() const { return type() == ValueType::kInt; }
  bool is_number() const { return type() == ValueType::kNumber; }
  bool is_string() const { return type() == ValueType::kString; }
  bool is_date() const { return type() == ValueType::kDate; }
  bool is_list() const { return type() == ValueType::kList; }
  bool is_times() const { return type() == ValueType::kTimes; }
  bool is_map() const { return type() == ValueType::kMap; }

  bool as_bool() const { return std::get<bool>(data_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(data_); }
  double as_number() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  TimestampMs as_date() const { return std::get<Date>(data_).ms; }
  const ValueList& as_list() const { return std::get<ValueList>(data_); }
  ValueList& as_list() { return std::get<ValueList>(data_); }
  const TimeSeries& as_times() const { return std::get<TimeSeries>(data_); }
  TimeSeries& as_times() { return std::get<TimeSeries>(data_); }
  const ValueMap& as_map() const { return std::get<ValueMap>(data_); }
  ValueMap& as_map() { return std::get<ValueMap>(data_); }

  // Map key lookup (binary search); nullptr when this is not a map or the key is absent.
  const Value* find(std::string_view key) const;
  // The same, trying the entry at `hint` first and leaving there the key's position when found:
  // maps of the same shape (events from one source) hold a key at the same place, so a lookup
  // repeated per event compares one name instead of searching.
  const Value* find(std::string_view key, std::size_t& hint) const;
  // Inserts or replaces a map entry, keeping keys sorted. This must be a map.
  Value& set(std::string key, Value value);

  // Empty for EXISTS: null, "", an empty list, series or map.
  bool is_empty() const;

  friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Date, ValueList, TimeSeries,
               ValueMap>
      data_;
};

// Looks up a field path in a map value: the exact key first ("a.b" as one name), then
// nested maps split at dots ("a" then "b"). nullptr when absent.
const Value* lookup_path(const Value& map, std::string_view path);

// Sorts a map's entries by key; later duplicates win.
void normalize_map(ValueMap& map);

}  // namespace shoal::model
