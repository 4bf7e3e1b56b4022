#pragma once
// Records the server keeps as JSON objects under a record-type prefix (authorizations, jobs):
// one place that scans and parses them, and reads their fields leniently.
#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "storage/codec.h"
#include "storage/store.h"

namespace shoal::http {

// The store key of record `id` of `type`.
std::string json_record_key(storage::RecordType type, std::string_view id);

// Calls `each` with every stored record of `type` parsed as a JSON object. kCorruption naming
// `what` ("authorization", "job") when one is not.
Status scan_json_records(const storage::Store& store, storage::RecordType type,
                         std::string_view what,
                         const std::function<void(const boost::json::object&)>& each);

// A string field, or "" when absent or not a string.
std::string json_text(const boost::json::object& o, std::string_view key);
// An integer field, or 0 when absent or not an integer.
TimestampMs json_int(const boost::json::object& o, std::string_view key);

}  // namespace shoal::http
