#include "model/merge.h"

#include <algorithm>
#include <tuple>

namespace shoal::model {
namespace {

// -1, 0, 1 for comparable scalars; nullopt when the types do not compare.
std::optional<int> compare_scalars(const Value& a, const Value& b) {
  auto sign = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if ((a.is_int() || a.is_number()) && (b.is_int() || b.is_number())) {
    if (a.is_int() && b.is_int()) return sign(a.as_int(), b.as_int());
    double x = a.is_int() ? static_cast<double>(a.as_int()) : a.as_number();
    double y = b.is_int() ? static_cast<double>(b.as_int()) : b.as_number();
    return sign(x, y);
  }
  if (a.is_date() && b.is_date()) return sign(a.as_date(), b.as_date());
  if (a.is_string() && b.is_string()) return a.as_string().compare(b.as_string()) < 0 ? -1 :
                                             (a.as_string() == b.as_string() ? 0 : 1);
  if (a.is_bool() && b.is_bool()) return sign(a.as_bool(), b.as_bool());
  return std::nullopt;
}

Value add_values(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) return Value(a.as_int() + b.as_int());
  double x = a.is_int() ? static_cast<double>(a.as_int()) : a.as_number();
  double y = b.is_int() ? static_cast<double>(b.as_int()) : b.as_number();
  return Value(x + y);
}

bool is_numeric(const Value& v) { return v.is_int() || v.is_number(); }

void keep_newest_meta(FieldValue& existing, const FieldValue& incoming) {
  existing.ts = std::max(existing.ts, incoming.ts);
  existing.seq = std::max(existing.seq, incoming.seq);
}

}  // namespace

void cap_series(TimeSeries& series, std::size_t cap) {
  if (series.size() > cap) series.resize(cap);
}

bool merge_field(FieldValue& existing, const FieldValue& incoming, MergeOp op,
                 const MergeOptions& options) {
  existing.merge = op;
  switch (op) {
    case MergeOp::kLatest:
    case MergeOp::kOldest: {
      auto in_key = std::tie(incoming.ts, incoming.seq);
      auto cur_key = std::tie(existing.ts, existing.seq);
      bool take = op == MergeOp::kLatest ? in_key > cur_key : in_key < cur_key;
      if (!take) return false;
      // Most events repeat a profile's value (plan, country): only the metadata moves then.
      const bool changed = !(existing.value == incoming.value);
      if (changed) existing.value = incoming.value;
      existing.ts = incoming.ts;
      existing.seq = incoming.seq;
      return changed;
    }
    case MergeOp::kMin:
    case MergeOp::kMax: {
      auto cmp = compare_scalars(incoming.value, existing.value);
      bool take = !cmp.has_value() || (op == MergeOp::kMin ? *cmp < 0 : *cmp > 0);
      keep_newest_meta(existing, incoming);
      if (!take || existing.value == incoming.value) return false;
      existing.value = incoming.value;
      return true;
    }
    case MergeOp::kSum: {
      keep_newest_meta(existing, incoming);
      if (is_numeric(existing.value) && is_numeric(incoming.value)) {
        Value sum = add_values(existing.value, incoming.value);
        bool changed = !(sum == existing.value);
        existing.value = std::move(sum);
        return changed;
      }
      if (existing.value.is_map() && incoming.value.is_map()) {
        bool changed = false;
        for (const auto& [key, v] : incoming.value.as_map()) {
          const Value* cur = existing.value.find(key);
          if (cur && is_numeric(*cur) && is_numeric(v)) {
            Value sum = add_values(*cur, v);
            if (!(sum == *cur)) changed = true;
            existing.value.set(key, std::move(sum));
          } else {
            existing.value.set(key, v);
            changed = true;
          }
        }
        return changed;
      }
      bool changed = !(existing.value == incoming.value);
      existing.value = incoming.value;
      return changed;
    }
    case MergeOp::kSet: {
      keep_newest_meta(existing, incoming);
      if (existing.value.is_list() && incoming.value.is_list()) {
        bool changed = false;
        ValueList& list = existing.value.as_list();
        for (const Value& v : incoming.value.as_list()) {
          if (std::find(list.begin(), list.end(), v) == list.end()) {
            list.push_back(v);
            changed = true;
          }
        }
        return changed;
      }
      if (existing.value.is_map() && incoming.value.is_map()) {
        bool changed = false;
        for (const auto& [key, v] : incoming.value.as_map()) {
          const Value* cur = existing.value.find(key);
          if (!cur || !(*cur == v)) {
            existing.value.set(key, v);
            changed = true;
          }
        }
        return changed;
      }
      bool changed = !(existing.value == incoming.value);
      existing.value = incoming.value;
      return changed;
    }
    case MergeOp::kAppend: {
      keep_newest_meta(existing, incoming);
      if (existing.value.is_times() && incoming.value.is_times()) {
        const TimeSeries& b = incoming.value.as_times();
        if (b.empty()) return false;
        TimeSeries& a = existing.value.as_times();
        if (b.size() <= 4) {
          // The common case, one event's timestamp: insert in place, no reallocation.
          bool changed = false;
          for (TimestampMs t : b) {
            auto pos = std::upper_bound(a.begin(), a.end(), t, std::greater<>());
            if (a.size() >= options.series_cap && pos == a.end()) continue;  // too old to keep
            a.insert(pos, t);
            if (a.size() > options.series_cap) a.pop_back();
            changed = true;
          }
          return changed;
        }
        TimeSeries merged;
        merged.reserve(a.size() + b.size());
        std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(merged),
                   std::greater<>());
        cap_series(merged, options.series_cap);
        bool changed = merged != a;
        existing.value = Value(std::move(merged));
        return changed;
      }
      bool changed = !(existing.value == incoming.value);
      existing.value = incoming.value;
      return changed;
    }
  }
  return false;
}

}  // namespace shoal::model
