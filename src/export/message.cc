#include "export/message.h"

#include <algorithm>

#include "aws/crypto.h"
#include "core/time_format.h"
#include "export/be_bytes.h"
#include "model/json.h"

namespace shoal::exports {
namespace {

void key(std::string& out, std::string_view name) {
  model::write_json_string(name, out);
  out += ':';
}

void time_value(std::string& out, TimestampMs t) {
  out += '"';
  out += format_rfc3339_nanos(t);
  out += '"';
}

bool wanted(const std::vector<std::string>* fields, std::string_view name) {
  return !fields || fields->empty() ||
         std::find(fields->begin(), fields->end(), name) != fields->end();
}

// An identity's values: one string, or a list when it holds several.
void write_identity(const model::Value& values, std::string& out) {
  if (values.is_list() && values.as_list().size() == 1 && values.as_list()[0].is_string()) {
    model::write_json_string(values.as_list()[0].as_string(), out);
  } else {
    model::write_json(values, out);
  }
}

std::string value_text(const model::Value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_list()) return v.as_list().empty() ? std::string() : value_text(v.as_list()[0]);
  if (v.is_null()) return std::string();
  return model::to_json(v);
}

}  // namespace

TimestampMs with_year_2099(TimestampMs t) {
  CivilTime c = civil_from_ms(t);
  c.year = 2099;
  c.day = std::min(c.day, days_in_month(2099, c.month));
  return ms_from_civil(c);
}

void build_message_json(const MessageInput& in, const segment::Catalog& catalog,
                        std::string& out) {
  out += "{\"data\":{";
  const model::Profile* p = in.profile;
  bool first = true;
  auto comma = [&] {
    if (!first) out += ',';
    first = false;
  };
  if (p) {  // _created and _modified are always sent (the seed's shape)
    comma();
    key(out, "_created");
    time_value(out, p->created_ms);
  }
  comma();
  key(out, "_modified");
  time_value(out, p ? p->modified_ms : in.ts);
  // Identities and fields merged by name (a field of the same name as an identity wins).
  // Every branch an lvalue: with a temporary among them the result was a copy per message.
  static const std::vector<model::Identity> kNoIdentities;
  const std::vector<model::Identity>& identities =
      p ? p->identities.items() : (in.identities ? *in.identities : kNoIdentities);
  static const model::ProfileFields kNoFields;
  const model::ProfileFields& fields = p ? p->fields : kNoFields;
  std::size_t i = 0, f = 0;
  while (i < identities.size() || f < fields.size()) {
    bool take_field =
        f < fields.size() &&
        (i >= identities.size() || fields.name(f).text() <= std::string_view(identities[i].field));
    if (take_field) {
      if (i < identities.size() && fields.name(f).text() == identities[i].field) ++i;
      const std::string_view name = fields.name(f);
      const model::FieldValue& value = fields.value(f++);
      if (name == "segment_events" || !wanted(in.fields, name)) continue;
      comma();
      key(out, name);
      model::write_json(value.value, out);
    } else {
      const model::Identity& identity = identities[i++];
      if (identity.field == "segment_events" || !wanted(in.fields, identity.field)) continue;
      comma();
      key(out, identity.field);
      write_identity(identity.values, out);
    }
  }
  comma();
  key(out, "segment_events");
  out += '[';
  TimestampMs far_exit = with_year_2099(in.ts);
  for (std::size_t e = 0; e < in.events.size(); ++e) {
    const SegmentEvent& ev = in.events[e];
    const segment::Segment* seg = catalog.get(ev.segment);
    if (e) out += ',';
    out += "{\"id\":";
    model::write_json_string(seg ? std::string_view(seg->id) : std::string_view(), out);
    out += ",\"event\":";
    out += ev.event == engine::TriggerEvent::kEnter ? "\"enter\"" : "\"exit\"";
    out += ",\"enter\":";
    time_value(out, ev.entered_ms);
    out += ",\"exit\":";
    time_value(out, ev.event == engine::TriggerEvent::kExit ? ev.exited_ms : far_exit);
    out += ",\"slug\":";
    model::write_json_string(seg ? std::string_view(seg->alias) : std::string_view(), out);
    out += '}';
  }
  out += "]},\"id\":";
  model::write_json_string(in.id, out);
  out += ",\"subscription_id\":";
  model::write_json_string(in.subscription_id, out);
  out += ",\"timestamp\":";
  time_value(out, in.ts);
  out += '}';
}

std::string partition_key_for(std::string_view identifier_field, const model::Profile* profile,
                              model::ProfileId id,
                              const std::vector<model::Identity>* identities) {
  std::string key;
  if (!identifier_field.empty()) {
    const model::Identity* identity = nullptr;
    if (profile) {
      identity = profile->identity(identifier_field);
    } else if (identities) {
      for (const model::Identity& candidate : *identities) {
        if (candidate.field == identifier_field) identity = &candidate;
      }
    }
    if (identity) key = value_text(identity->values);
    if (key.empty() && profile) {
      if (const model::FieldValue* field = profile->field(identifier_field)) {
        key = value_text(field->value);
      }
    }
  }
  if (key.empty()) key = id.to_string();
  if (key.size() > 256) key = aws::sha256_hex(key);
  return key;
}

namespace {

constexpr char kRetryMarker = static_cast<char>(0xFF);

}  // namespace

void encode_outbox_entry(std::string_view partition_key, std::string_view message,
                         std::string& out) {
  put_be(out, partition_key.size(), 4);
  out += partition_key;
  out += message;
}

void encode_outbox_entry(std::string_view partition_key, std::string_view message,
                         const RetryState& retry, std::string& out) {
  if (retry.attempts > 0) {
    out.push_back(kRetryMarker);
    put_be(out, retry.attempts, 4);
    put_be(out, static_cast<std::uint64_t>(retry.first_failure_ms), 8);
    put_be(out, retry.last_error.size(), 4);
    out += retry.last_error;
  }
  encode_outbox_entry(partition_key, message, out);
}

bool decode_outbox_entry(std::string_view bytes, std::string_view& partition_key,
                         std::string_view& message, RetryState* retry) {
  if (retry) *retry = RetryState{};
  if (!bytes.empty() && bytes.front() == kRetryMarker) {
    bytes.remove_prefix(1);
    std::uint64_t attempts = 0, first_failure = 0, error_size = 0;
    if (!get_be(bytes, 4, attempts) || !get_be(bytes, 8, first_failure) ||
        !get_be(bytes, 4, error_size) || bytes.size() < error_size) {
      return false;
    }
    if (retry) {
      retry->attempts = static_cast<std::uint32_t>(attempts);
      retry->first_failure_ms = static_cast<TimestampMs>(first_failure);
      retry->last_error.assign(bytes.substr(0, error_size));
    }
    bytes.remove_prefix(error_size);
  }
  std::uint64_t n = 0;
  if (!get_be(bytes, 4, n) || bytes.size() < n) return false;
  partition_key = bytes.substr(0, n);
  message = bytes.substr(n);
  return true;
}

}  // namespace shoal::exports
