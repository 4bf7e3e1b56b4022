#include "export/subscription.h"

#include <boost/json.hpp>
#include <regex>

#include "kinesis/kinesis_client.h"
#include "storage/codec.h"

namespace shoal::exports {
namespace {

namespace json = boost::json;

Error field_error(std::string_view field, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, std::string(field) + ": " + std::string(what));
}

Result<std::string> get_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return field_error(key, "must be a string");
  return std::string(v->as_string());
}

Result<std::vector<std::string>> get_strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (v->is_string()) {  // "a,b" is accepted as well as ["a","b"]
    std::string_view text = v->as_string();
    std::size_t i = 0;
    while (i <= text.size()) {
      std::size_t end = text.find(',', i);
      if (end == std::string_view::npos) end = text.size();
      std::string_view part = text.substr(i, end - i);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty()) out.emplace_back(part);
      i = end + 1;
    }
    return out;
  }
  if (!v->is_array()) return field_error(key, "must be a list of strings");
  for (const json::value& item : v->as_array()) {
    if (!item.is_string()) return field_error(key, "must be a list of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<bool> get_bool(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return fallback;
  if (v->is_bool()) return v->as_bool();
  if (v->is_string()) {
    if (v->as_string() == "true") return true;
    if (v->as_string() == "false") return false;
  }
  return field_error(key, "must be true or false");
}

template <class T>
Status get_number(const json::object& o, std::string_view key, T& target, double min,
                  double max) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return ok_status();
  double d;
  if (v->is_int64()) {
    d = static_cast<double>(v->as_int64());
  } else if (v->is_uint64()) {
    d = static_cast<double>(v->as_uint64());
  } else if (v->is_double()) {
    d = v->as_double();
  } else {
    return field_error(key, "must be a number");
  }
  if (d < min || d > max) {
    return field_error(key, "must be between " + std::to_string(static_cast<long long>(min)) +
                                " and " + std::to_string(static_cast<long long>(max)));
  }
  target = static_cast<T>(d);
  return ok_status();
}

Status parse_delivery(const json::object& o, DeliveryOptions& d) {
  SHOAL_RETURN_IF_ERROR(get_number(o, "max_batch_records", d.max_batch_records, 1, 500));
  SHOAL_RETURN_IF_ERROR(get_number(o, "max_batch_bytes", d.max_batch_bytes, 1024, 10 << 20));
  SHOAL_RETURN_IF_ERROR(get_number(o, "max_record_bytes", d.max_record_bytes, 1024, 10 << 20));
  SHOAL_RETURN_IF_ERROR(get_number(o, "linger_ms", d.linger_ms, 0, 10000));
  SHOAL_RETURN_IF_ERROR(
      get_number(o, "shard_records_per_second", d.shard_records_per_second, 1, 1e6));
  SHOAL_RETURN_IF_ERROR(
      get_number(o, "shard_bytes_per_second", d.shard_bytes_per_second, 1024, 1e9));
  SHOAL_RETURN_IF_ERROR(get_number(o, "backoff_base_ms", d.backoff_base_ms, 1, 60000));
  SHOAL_RETURN_IF_ERROR(get_number(o, "backoff_max_ms", d.backoff_max_ms, 1, 3600000));
  SHOAL_RETURN_IF_ERROR(get_number(o, "max_attempts", d.max_attempts, 1, 1e9));
  SHOAL_RETURN_IF_ERROR(get_number(o, "max_age_ms", d.max_age_ms, 0, 1e12));
  SHOAL_RETURN_IF_ERROR(get_number(o, "window", d.window, 1, 1e6));
  SHOAL_RETURN_IF_ERROR(get_number(o, "request_timeout_ms", d.request_timeout_ms, 100, 600000));
  return ok_status();
}

json::object delivery_json(const DeliveryOptions& d) {
  return json::object{{"max_batch_records", d.max_batch_records},
                      {"max_batch_bytes", d.max_batch_bytes},
                      {"max_record_bytes", d.max_record_bytes},
                      {"linger_ms", d.linger_ms},
                      {"shard_records_per_second", d.shard_records_per_second},
                      {"shard_bytes_per_second", d.shard_bytes_per_second},
                      {"backoff_base_ms", d.backoff_base_ms},
                      {"backoff_max_ms", d.backoff_max_ms},
                      {"max_attempts", d.max_attempts},
                      {"max_age_ms", d.max_age_ms},
                      {"window", d.window},
                      {"request_timeout_ms", d.request_timeout_ms}};
}

Result<Subscription> from_object(const json::object& o, bool stored) {
  Subscription s;
  SHOAL_ASSIGN_OR_RETURN(s.name, get_string(o, "name"));
  SHOAL_ASSIGN_OR_RETURN(s.description, get_string(o, "description"));
  SHOAL_ASSIGN_OR_RETURN(std::string channel, get_string(o, "channel"));
  if (channel.empty() || channel == "kinesis") {
    s.channel = Channel::kKinesis;
  } else if (channel == "webhook" || channel == "webhooks") {
    s.channel = Channel::kWebhook;
  } else {
    return field_error("channel", "must be \"kinesis\" or \"webhook\", not \"" + channel + "\"");
  }
  SHOAL_ASSIGN_OR_RETURN(s.segment_ids, get_strings(o, "segment_ids"));
  if (s.segment_ids.empty()) return field_error("segment_ids", "name at least one segment");
  SHOAL_ASSIGN_OR_RETURN(s.stream, get_string(o, "stream"));
  SHOAL_ASSIGN_OR_RETURN(s.region, get_string(o, "region"));
  SHOAL_ASSIGN_OR_RETURN(s.identifier_field, get_string(o, "identifier_field"));
  SHOAL_ASSIGN_OR_RETURN(s.role_arn, get_string(o, "role_arn"));
  SHOAL_ASSIGN_OR_RETURN(s.auth_id, get_string(o, "auth_id"));
  SHOAL_ASSIGN_OR_RETURN(s.external_id, get_string(o, "external_id"));
  SHOAL_ASSIGN_OR_RETURN(s.endpoint, get_string(o, "endpoint"));
  SHOAL_ASSIGN_OR_RETURN(s.webhook_url, get_string(o, "webhook_url"));
  SHOAL_ASSIGN_OR_RETURN(s.with_backfill, get_bool(o, "withbackfill", false));
  SHOAL_ASSIGN_OR_RETURN(s.fields, get_strings(o, "fields"));
  SHOAL_ASSIGN_OR_RETURN(std::vector<std::string> events, get_strings(o, "events"));
  if (!events.empty()) {
    s.send_enter = s.send_exit = false;
    for (const std::string& e : events) {
      if (e == "enter") {
        s.send_enter = true;
      } else if (e == "exit") {
        s.send_exit = true;
      } else {
        return field_error("events", "holds \"enter\" and/or \"exit\", not \"" + e + "\"");
      }
    }
  }
  if (const json::value* h = o.if_contains("headers"); h && !h->is_null()) {
    if (!h->is_object()) return field_error("headers", "must be an object of strings");
    for (const auto& [k, v] : h->as_object()) {
      if (!v.is_string()) return field_error("headers", "must be an object of strings");
      s.headers.emplace_back(std::string(k), std::string(v.as_string()));
    }
  }
  if (const json::value* d = o.if_contains("delivery"); d && !d->is_null()) {
    if (!d->is_object()) return field_error("delivery", "must be an object");
    Status parsed = parse_delivery(d->as_object(), s.delivery);
    if (!parsed.ok()) return parsed.take_error().with_context("delivery");
  }
  if (stored) {
    SHOAL_ASSIGN_OR_RETURN(s.id, get_string(o, "id"));
    SHOAL_ASSIGN_OR_RETURN(s.job_id, get_string(o, "job_id"));
    SHOAL_ASSIGN_OR_RETURN(s.paused, get_bool(o, "paused", false));
    if (const json::value* v = o.if_contains("created_ms"); v && v->is_int64()) {
      s.created_ms = v->as_int64();
    }
    if (const json::value* v = o.if_contains("segment_ordinals"); v && v->is_array()) {
      for (const json::value& n : v->as_array()) {
        if (n.is_int64()) s.segments.push_back({static_cast<std::uint32_t>(n.as_int64())});
      }
    }
    return s;
  }
  if (s.channel == Channel::kKinesis) {
    if (s.stream.empty()) return field_error("stream", "is required for the kinesis channel");
    Status name = kinesis::validate_stream_name(s.stream);
    if (!name.ok()) {
      return field_error("stream", "\"" + s.stream +
                                       "\" is not a stream name ([a-zA-Z0-9_.-]{1,128})");
    }
    if (s.region.empty()) return field_error("region", "is required for the kinesis channel");
    SHOAL_RETURN_IF_ERROR(validate_region(s.region));
    if (!s.endpoint.empty() && s.endpoint.rfind("http://", 0) != 0 &&
        s.endpoint.rfind("https://", 0) != 0) {
      return field_error("endpoint", "must be an http:// or https:// URL");
    }
  } else {
    if (s.webhook_url.rfind("http://", 0) != 0 && s.webhook_url.rfind("https://", 0) != 0) {
      return field_error("webhook_url", "is required for the webhook channel (http:// or https://)");
    }
  }
  if (!s.role_arn.empty() && s.role_arn.rfind("arn:", 0) != 0) {
    return field_error("role_arn", "must be an ARN like arn:aws:iam::111111111111:role/Name");
  }
  if (!s.send_enter && !s.send_exit) return field_error("events", "name enter, exit or both");
  return s;
}

}  // namespace

std::string_view channel_name(Channel channel) {
  return channel == Channel::kKinesis ? "kinesis" : "webhook";
}

Status validate_region(std::string_view region) {
  static const std::regex pattern("[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}");
  if (region.size() < 4 || region.size() > 32 ||
      !std::regex_match(region.begin(), region.end(), pattern)) {
    // Appended, not "literal" + std::string: GCC 12 warns falsely (-Wrestrict) on that form.
    std::string message(1, '"');
    message.append(region).append("\" is not an AWS region name (like us-west-2)");
    return field_error("region", message);
  }
  return ok_status();
}

Result<Subscription> parse_subscription(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "send a JSON object: {\"name\", \"channel\": \"kinesis\", \"stream\", "
                      "\"region\", \"segment_ids\": [...], ...}");
  }
  return from_object(v.as_object(), false);
}

std::string subscription_to_json(const Subscription& s) {
  json::array segment_ids;
  for (const std::string& id : s.segment_ids) segment_ids.push_back(json::value(id));
  json::array ordinals;
  for (model::SegmentOrdinal o : s.segments) ordinals.push_back(json::value(o.value));
  json::array fields;
  for (const std::string& f : s.fields) fields.push_back(json::value(f));
  json::array events;
  if (s.send_enter) events.push_back("enter");
  if (s.send_exit) events.push_back("exit");
  json::object headers;
  for (const auto& [k, v] : s.headers) headers[k] = v;
  json::object o{{"id", s.id},
                 {"name", s.name},
                 {"description", s.description},
                 {"channel", channel_name(s.channel)},
                 {"segment_ids", std::move(segment_ids)},
                 {"segment_ordinals", std::move(ordinals)},
                 {"stream", s.stream},
                 {"region", s.region},
                 {"identifier_field", s.identifier_field},
                 {"role_arn", s.role_arn},
                 {"auth_id", s.auth_id},
                 {"external_id", s.external_id},
                 {"endpoint", s.endpoint},
                 {"withbackfill", s.with_backfill},
                 {"events", std::move(events)},
                 {"fields", std::move(fields)},
                 {"webhook_url", s.webhook_url},
                 {"headers", std::move(headers)},
                 {"delivery", delivery_json(s.delivery)},
                 {"job_id", s.job_id},
                 {"created_ms", s.created_ms},
                 {"paused", s.paused}};
  return json::serialize(o);
}

Result<Subscription> subscription_from_json(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kCorruption, "stored subscription is not a JSON object");
  }
  return from_object(v.as_object(), true);
}

std::string subscription_key(std::string_view id) {
  std::string key(1, static_cast<char>(storage::RecordType::kSubscription));
  key += id;
  return key;
}

std::string backfill_key(std::string_view id) { return subscription_key(id) + "/backfill"; }

std::string backfill_live_prefix(std::string_view id) { return subscription_key(id) + "/live/"; }

std::string backfill_live_key(std::string_view id, model::ProfileId profile) {
  std::string key = backfill_live_prefix(id);
  storage::append_u64_be(key, profile.value);
  return key;
}

std::optional<model::ProfileId> backfill_live_profile(std::string_view key) {
  constexpr std::string_view kMarker = "/live/";
  std::size_t at = key.find(kMarker);
  if (at == std::string_view::npos || key.size() != at + kMarker.size() + 8) return std::nullopt;
  return model::ProfileId{storage::read_u64_be(key.substr(at + kMarker.size()))};
}

std::string backfill_to_json(const BackfillState& b) {
  return json::serialize(json::object{{"active", b.active},
                                      {"segment_index", b.segment_index},
                                      {"cursor", b.cursor},
                                      {"done", b.done},
                                      {"total", b.total},
                                      {"complete", b.complete}});
}

BackfillState backfill_from_json(std::string_view text) {
  BackfillState b;
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return b;
  const json::object& o = v.as_object();
  auto u64 = [&](std::string_view k) -> std::uint64_t {
    const json::value* x = o.if_contains(k);
    if (!x) return 0;
    if (x->is_uint64()) return x->as_uint64();
    if (x->is_int64() && x->as_int64() >= 0) return static_cast<std::uint64_t>(x->as_int64());
    return 0;
  };
  auto flag = [&](std::string_view k) {
    const json::value* x = o.if_contains(k);
    return x && x->is_bool() && x->as_bool();
  };
  b.active = flag("active");
  b.complete = flag("complete");
  b.segment_index = static_cast<std::size_t>(u64("segment_index"));
  b.cursor = u64("cursor");
  b.done = u64("done");
  b.total = u64("total");
  return b;
}

std::string outbox_prefix(std::string_view subscription_id) {
  std::string key(1, static_cast<char>(storage::RecordType::kExportOutbox));
  key += subscription_id;
  return key;
}

std::string outbox_key(std::string_view subscription_id, std::uint64_t sequence) {
  std::string key = outbox_prefix(subscription_id);
  storage::append_u64_be(key, sequence);
  return key;
}

std::string dead_letter_prefix(std::string_view subscription_id) {
  std::string key(1, static_cast<char>(storage::RecordType::kExportDeadLetter));
  key += subscription_id;
  return key;
}

std::string dead_letter_key(std::string_view subscription_id, std::uint64_t sequence) {
  std::string key = dead_letter_prefix(subscription_id);
  storage::append_u64_be(key, sequence);
  return key;
}

std::uint64_t sequence_of_key(std::string_view key) {
  return key.size() >= 8 ? storage::read_u64_be(key.substr(key.size() - 8)) : 0;
}

}  // namespace shoal::exports
