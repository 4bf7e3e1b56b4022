#include "model/json.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include "core/short_names.h"
#include "core/time_format.h"
#include "model/kind.h"

namespace shoal::model {

struct JsonParser::Impl {
  simdjson::dom::parser parser;
  simdjson::padded_string buffer;
};

namespace {

Error bad_value() { return make_error(ErrorCode::kInvalidArgument, "malformed JSON value"); }

Result<Value> convert(simdjson::dom::element element, std::size_t depth, std::size_t max_depth) {
  if (depth > max_depth) {
    return make_error(ErrorCode::kInvalidArgument,
                      "JSON nests deeper than " + std::to_string(max_depth) + " levels");
  }
  switch (element.type()) {
    case simdjson::dom::element_type::NULL_VALUE: return Value();
    case simdjson::dom::element_type::BOOL: {
      bool b = false;
      if (element.get(b) != simdjson::SUCCESS) return bad_value();
      return Value(b);
    }
    case simdjson::dom::element_type::INT64: {
      std::int64_t v = 0;
      if (element.get(v) != simdjson::SUCCESS) return bad_value();
      return Value(v);
    }
    case simdjson::dom::element_type::UINT64: {
      std::uint64_t v = 0;
      if (element.get(v) != simdjson::SUCCESS) return bad_value();
      return Value(static_cast<double>(v));
    }
    case simdjson::dom::element_type::DOUBLE: {
      double v = 0;
      if (element.get(v) != simdjson::SUCCESS) return bad_value();
      return Value(v);
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view v;
      if (element.get(v) != simdjson::SUCCESS) return bad_value();
      return Value(std::string(v));
    }
    case simdjson::dom::element_type::ARRAY: {
      // Named locals, not temporaries: simdjson's iterators point into the array object.
      simdjson::dom::array array;
      if (element.get_array().get(array) != simdjson::SUCCESS) {
        return make_error(ErrorCode::kInvalidArgument, "malformed JSON array");
      }
      ValueList list;
      list.reserve(array.size());
      for (simdjson::dom::element child : array) {
        SHOAL_ASSIGN_OR_RETURN(Value v, convert(child, depth + 1, max_depth));
        list.push_back(std::move(v));
      }
      return Value(std::move(list));
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object object;
      if (element.get_object().get(object) != simdjson::SUCCESS) {
        return make_error(ErrorCode::kInvalidArgument, "malformed JSON object");
      }
      // The members are put in key order (ValueMap's) before their values are built: sorting
      // built entries moved each string and value several times (~40% of parsing an event).
      // A stable insertion sort keeps equal keys in document order; the last one wins, as
      // normalize_map decides.
      struct Member {
        std::string_view key;
        simdjson::dom::element value;
      };
      constexpr std::size_t kInline = 16;
      Member inline_members[kInline];
      std::vector<Member> heap_members;
      Member* members = inline_members;
      std::size_t n = 0;
      if (object.size() <= kInline) {  // exact below simdjson's saturating count
        for (simdjson::dom::key_value_pair field : object) {
          const Member member{field.key, field.value};
          std::size_t j = n++;
          for (; j > 0 && name_less(member.key, members[j - 1].key); --j) {
            members[j] = members[j - 1];
          }
          members[j] = member;
        }
      } else {
        heap_members.reserve(object.size());
        for (simdjson::dom::key_value_pair field : object) {
          heap_members.push_back(Member{field.key, field.value});
        }
        std::stable_sort(heap_members.begin(), heap_members.end(),
                         [](const Member& a, const Member& b) { return name_less(a.key, b.key); });
        members = heap_members.data();
        n = heap_members.size();
      }
      ValueMap map;
      map.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        if (i + 1 < n && name_equal(members[i].key, members[i + 1].key)) continue;
        SHOAL_ASSIGN_OR_RETURN(Value v, convert(members[i].value, depth + 1, max_depth));
        map.emplace_back(std::string(members[i].key), std::move(v));
      }
      return Value(std::move(map));
    }
  }
  return make_error(ErrorCode::kInvalidArgument, "unsupported JSON value");
}

}  // namespace

JsonParser::JsonParser(JsonLimits limits) : impl_(std::make_unique<Impl>()), limits_(limits) {
  // simdjson's own depth limit stops pathological nesting before our conversion recurses.
  if (impl_->parser.allocate(limits_.max_bytes, limits_.max_depth + 1) != simdjson::SUCCESS) {
    throw std::bad_alloc();  // out of memory at construction: nothing sensible to continue with
  }
}

JsonParser::~JsonParser() = default;

Result<Value> JsonParser::parse(std::string_view text) {
  if (text.size() > limits_.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "JSON document of " + std::to_string(text.size()) + " bytes exceeds the " +
                          std::to_string(limits_.max_bytes) + "-byte limit");
  }
  simdjson::dom::element root;
  simdjson::error_code error = impl_->parser.parse(text.data(), text.size(), true).get(root);
  if (error) {
    if (error == simdjson::DEPTH_ERROR) {
      return make_error(ErrorCode::kInvalidArgument,
                        "JSON nests deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  return convert(root, 0, limits_.max_depth);
}

void write_json_string(std::string_view text, std::string& out) {
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void write_json(const Value& value, std::string& out) {
  switch (value.type()) {
    case ValueType::kNull: out += "null"; return;
    case ValueType::kBool: out += value.as_bool() ? "true" : "false"; return;
    case ValueType::kInt: out += std::to_string(value.as_int()); return;
    case ValueType::kNumber:
      if (!std::isfinite(value.as_number())) {
        out += "null";
      } else {
        std::string text = number_text(value);
        out += text;
        if (text.find_first_of(".eE") == std::string::npos) out += ".0";
      }
      return;
    case ValueType::kString: write_json_string(value.as_string(), out); return;
    case ValueType::kDate: write_json_string(format_iso8601_ms(value.as_date()), out); return;
    case ValueType::kList: {
      out.push_back('[');
      bool first = true;
      for (const Value& v : value.as_list()) {
        if (!first) out.push_back(',');
        first = false;
        write_json(v, out);
      }
      out.push_back(']');
      return;
    }
    case ValueType::kTimes: {
      out.push_back('[');
      bool first = true;
      for (TimestampMs t : value.as_times()) {
        if (!first) out.push_back(',');
        first = false;
        write_json_string(format_iso8601_ms(t), out);
      }
      out.push_back(']');
      return;
    }
    case ValueType::kMap: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, v] : value.as_map()) {
        if (!first) out.push_back(',');
        first = false;
        write_json_string(key, out);
        out.push_back(':');
        write_json(v, out);
      }
      out.push_back('}');
      return;
    }
  }
}

std::string to_json(const Value& value) {
  std::string out;
  write_json(value, out);
  return out;
}

}  // namespace shoal::model
