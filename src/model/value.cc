#include "model/value.h"

#include <algorithm>
#include <iterator>

#include "core/short_names.h"

namespace shoal::model {

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kNull: return "null";
    case ValueType::kBool: return "bool";
    case ValueType::kInt: return "int";
    case ValueType::kNumber: return "number";
    case ValueType::kString: return "string";
    case ValueType::kDate: return "date";
    case ValueType::kList: return "list";
    case ValueType::kTimes: return "[]time";
    case ValueType::kMap: return "map";
  }
  return "unknown";
}

namespace {
auto key_less = [](const std::pair<std::string, Value>& entry, std::string_view key) {
  return name_less(entry.first, key);
};
}  // namespace

const Value* Value::find(std::string_view key) const {
  if (!is_map()) return nullptr;
  const ValueMap& map = as_map();
  auto it = std::lower_bound(map.begin(), map.end(), key, key_less);
  if (it == map.end() || !name_equal(it->first, key)) return nullptr;
  return &it->second;
}

const Value* Value::find(std::string_view key, std::size_t& hint) const {
  if (!is_map()) return nullptr;
  const ValueMap& map = as_map();
  if (hint < map.size()) {
    if (name_equal(map[hint].first, key)) return &map[hint].second;
    // An optional key before it (present in some events only) moves a key by one place.
    const std::size_t near = name_less(map[hint].first, key) ? hint + 1 : hint - 1;
    if (near < map.size() && name_equal(map[near].first, key)) {
      hint = near;
      return &map[near].second;
    }
  }
  auto it = std::lower_bound(map.begin(), map.end(), key, key_less);
  if (it == map.end() || !name_equal(it->first, key)) return nullptr;
  hint = static_cast<std::size_t>(it - map.begin());
  return &it->second;
}

Value& Value::set(std::string key, Value value) {
  ValueMap& map = as_map();
  auto it = std::lower_bound(map.begin(), map.end(), std::string_view(key), key_less);
  if (it != map.end() && it->first == key) {
    it->second = std::move(value);
    return it->second;
  }
  return map.emplace(it, std::move(key), std::move(value))->second;
}

bool Value::is_empty() const {
  switch (type()) {
    case ValueType::kNull: return true;
    case ValueType::kString: return as_string().empty();
    case ValueType::kList: return as_list().empty();
    case ValueType::kTimes: return as_times().empty();
    case ValueType::kMap: return as_map().empty();
    default: return false;
  }
}

const Value* lookup_path(const Value& map, std::string_view path) {
  if (const Value* exact = map.find(path)) return exact;
  size_t dot = path.find('.');
  while (dot != std::string_view::npos) {
    if (const Value* head = map.find(path.substr(0, dot)); head && head->is_map()) {
      if (const Value* rest = lookup_path(*head, path.substr(dot + 1))) return rest;
    }
    dot = path.find('.', dot + 1);
  }
  return nullptr;
}

void normalize_map(ValueMap& map) {
  const auto entry_less = [](const auto& a, const auto& b) { return name_less(a.first, b.first); };
  if (map.size() <= 32) {
    // Insertion sort: stable and allocation-free for the small objects events mostly are
    // (stable_sort's buffer was an allocation per event).
    for (std::size_t i = 1; i < map.size(); ++i) {
      if (!entry_less(map[i], map[i - 1])) continue;
      auto entry = std::move(map[i]);
      std::size_t j = i;
      for (; j > 0 && entry_less(entry, map[j - 1]); --j) map[j] = std::move(map[j - 1]);
      map[j] = std::move(entry);
    }
  } else {
    std::stable_sort(map.begin(), map.end(), entry_less);
  }
  // Keep the last of equal keys (later JSON members win, as in most parsers), in place.
  auto out = map.begin();
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (out != map.begin() && name_equal(std::prev(out)->first, it->first)) {
      std::prev(out)->second = std::move(it->second);
    } else {
      if (out != it) *out = std::move(*it);
      ++out;
    }
  }
  map.erase(out, map.end());
}

}  // namespace shoal::model
