#include "http/json_records.h"

#include <boost/json.hpp>

namespace shoal::http {

namespace json = boost::json;

std::string json_record_key(storage::RecordType type, std::string_view id) {
  std::string key(1, static_cast<char>(type));
  key += id;
  return key;
}

Status scan_json_records(const storage::Store& store, storage::RecordType type,
                         std::string_view what,
                         const std::function<void(const json::object&)>& each) {
  bool corrupt = false;
  SHOAL_RETURN_IF_ERROR(store.scan(std::string(1, static_cast<char>(type)),
                                   [&](std::string_view, std::string_view value) {
                                     json::error_code ec;
                                     json::value v = json::parse(value, ec);
                                     if (ec || !v.is_object()) {
                                       corrupt = true;
                                       return false;
                                     }
                                     each(v.as_object());
                                     return true;
                                   }));
  if (corrupt) {
    return make_error(ErrorCode::kCorruption, "a stored " + std::string(what) + " is corrupt");
  }
  return ok_status();
}

std::string json_text(const json::object& o, std::string_view key) {
  const json::value* f = o.if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

TimestampMs json_int(const json::object& o, std::string_view key) {
  const json::value* f = o.if_contains(key);
  return f && f->is_int64() ? f->as_int64() : 0;
}

}  // namespace shoal::http
