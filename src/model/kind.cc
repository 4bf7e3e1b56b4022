#include "model/kind.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/time_format.h"

namespace shoal::model {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Error wrong_kind(const Value& value, Kind kind, std::string_view detail = {}) {
  std::string msg = "a ";
  msg += value_type_name(value.type());
  msg += " value does not fit kind ";
  msg += kind_name(kind);
  if (!detail.empty()) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  return make_error(ErrorCode::kInvalidArgument, std::move(msg));
}

std::optional<std::int64_t> parse_int_text(std::string_view s) {
  std::int64_t v = 0;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_number_text(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

Result<std::string> to_string_value(const Value& value, Kind kind) {
  switch (value.type()) {
    case ValueType::kString: return value.as_string();
    case ValueType::kInt:
    case ValueType::kNumber: return number_text(value);
    case ValueType::kBool: return std::string(value.as_bool() ? "true" : "false");
    case ValueType::kDate: return format_iso8601_ms(value.as_date());
    default: return wrong_kind(value, kind);
  }
}

Result<std::int64_t> to_int_value(const Value& value, Kind kind) {
  switch (value.type()) {
    case ValueType::kInt: return value.as_int();
    case ValueType::kNumber: {
      double d = value.as_number();
      if (std::trunc(d) != d || std::fabs(d) > 9.2e18) return wrong_kind(value, kind, "not whole");
      return static_cast<std::int64_t>(d);
    }
    case ValueType::kString: {
      if (auto v = parse_int_text(value.as_string())) return *v;
      if (auto d = parse_number_text(value.as_string()); d && std::trunc(*d) == *d &&
                                                         std::fabs(*d) < 9.2e18) {
        return static_cast<std::int64_t>(*d);
      }
      return wrong_kind(value, kind, "\"" + value.as_string() + "\" is not an integer");
    }
    case ValueType::kBool: return value.as_bool() ? 1 : 0;
    default: return wrong_kind(value, kind);
  }
}

Result<TimestampMs> to_date_value(const Value& value, Kind kind) {
  switch (value.type()) {
    case ValueType::kDate: return value.as_date();
    case ValueType::kInt: return value.as_int();
    case ValueType::kNumber: return static_cast<TimestampMs>(std::floor(value.as_number()));
    case ValueType::kString: {
      const std::string& s = value.as_string();
      if (auto v = parse_int_text(s)) return *v;
      auto parsed = parse_iso8601(s);
      if (!parsed.ok()) return wrong_kind(value, kind, parsed.error().message);
      return *parsed;
    }
    default: return wrong_kind(value, kind);
  }
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kString: return "string";
    case Kind::kInt: return "int";
    case Kind::kNumber: return "number";
    case Kind::kBool: return "bool";
    case Kind::kDate: return "date";
    case Kind::kStringList: return "[]string";
    case Kind::kTimeList: return "[]time";
    case Kind::kIntMap: return "map[string]int";
    case Kind::kStringMap: return "map[string]string";
  }
  return "unknown";
}

std::string_view merge_op_name(MergeOp op) {
  switch (op) {
    case MergeOp::kLatest: return "latest";
    case MergeOp::kOldest: return "oldest";
    case MergeOp::kMin: return "min";
    case MergeOp::kMax: return "max";
    case MergeOp::kSum: return "sum";
    case MergeOp::kSet: return "set";
    case MergeOp::kAppend: return "append";
  }
  return "unknown";
}

Result<Kind> parse_kind(std::string_view text) {
  std::string s = lower(text);
  for (Kind k : {Kind::kString, Kind::kInt, Kind::kNumber, Kind::kBool, Kind::kDate,
                 Kind::kStringList, Kind::kTimeList, Kind::kIntMap, Kind::kStringMap}) {
    if (s == kind_name(k)) return k;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown kind '" + std::string(text) +
                        "' (expected string, int, number, bool, date, []string, []time, "
                        "map[string]int or map[string]string)");
}

Result<MergeOp> parse_merge_op(std::string_view text) {
  std::string s = lower(text);
  for (MergeOp op : {MergeOp::kLatest, MergeOp::kOldest, MergeOp::kMin, MergeOp::kMax,
                     MergeOp::kSum, MergeOp::kSet, MergeOp::kAppend}) {
    if (s == merge_op_name(op)) return op;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown merge op '" + std::string(text) +
                        "' (expected latest, oldest, min, max, sum, set or append)");
}

std::string number_text(const Value& value) {
  if (value.is_int()) return std::to_string(value.as_int());
  double d = value.as_number();
  if (std::trunc(d) == d && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(d));
  }
  // The shortest text that reads back as the same double.
  char buf[32];
  auto result = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, result.ptr);
}

Result<Value> coerce_to_kind(const Value& value, Kind kind) {
  switch (kind) {
    case Kind::kString: {
      SHOAL_ASSIGN_OR_RETURN(std::string s, to_string_value(value, kind));
      return Value(std::move(s));
    }
    case Kind::kInt: {
      SHOAL_ASSIGN_OR_RETURN(std::int64_t v, to_int_value(value, kind));
      return Value(v);
    }
    case Kind::kNumber: {
      if (value.is_int()) return Value(static_cast<double>(value.as_int()));
      if (value.is_number()) return value;
      if (value.is_string()) {
        if (auto d = parse_number_text(value.as_string())) return Value(*d);
        return wrong_kind(value, kind, "\"" + value.as_string() + "\" is not a number");
      }
      return wrong_kind(value, kind);
    }
    case Kind::kBool: {
      if (value.is_bool()) return value;
      if (value.is_int() && (value.as_int() == 0 || value.as_int() == 1)) {
        return Value(value.as_int() == 1);
      }
      if (value.is_string()) {
        std::string s = lower(value.as_string());
        if (s == "true" || s == "t" || s == "1") return Value(true);
        if (s == "false" || s == "f" || s == "0") return Value(false);
      }
      return wrong_kind(value, kind);
    }
    case Kind::kDate: {
      SHOAL_ASSIGN_OR_RETURN(TimestampMs t, to_date_value(value, kind));
      return Value(Date{t});
    }
    case Kind::kStringList: {
      ValueList out;
      auto add = [&](const Value& element) -> Status {
        SHOAL_ASSIGN_OR_RETURN(std::string s, to_string_value(element, kind));
        if (s.empty()) return ok_status();
        for (const Value& existing : out) {
          if (existing.as_string() == s) return ok_status();
        }
        out.emplace_back(std::move(s));
        return ok_status();
      };
      if (value.is_list()) {
        for (const Value& element : value.as_list()) SHOAL_RETURN_IF_ERROR(add(element));
      } else {
        SHOAL_RETURN_IF_ERROR(add(value));
      }
      return Value(std::move(out));
    }
    case Kind::kTimeList: {
      TimeSeries out;
      if (value.is_times()) {
        out = value.as_times();
      } else if (value.is_list()) {
        for (const Value& element : value.as_list()) {
          SHOAL_ASSIGN_OR_RETURN(TimestampMs t, to_date_value(element, kind));
          out.push_back(t);
        }
      } else {
        SHOAL_ASSIGN_OR_RETURN(TimestampMs t, to_date_value(value, kind));
        out.push_back(t);
      }
      std::sort(out.begin(), out.end(), std::greater<>());
      return Value(std::move(out));
    }
    case Kind::kIntMap:
    case Kind::kStringMap: {
      if (!value.is_map()) return wrong_kind(value, kind);
      ValueMap out;
      out.reserve(value.as_map().size());
      for (const auto& [key, element] : value.as_map()) {
        if (kind == Kind::kIntMap) {
          SHOAL_ASSIGN_OR_RETURN(std::int64_t v, to_int_value(element, kind));
          out.emplace_back(key, Value(v));
        } else {
          SHOAL_ASSIGN_OR_RETURN(std::string s, to_string_value(element, kind));
          out.emplace_back(key, Value(std::move(s)));
        }
      }
      return Value(std::move(out));
    }
  }
  return wrong_kind(value, kind);
}

}  // namespace shoal::model
