#include "model/profile.h"

#include <algorithm>

namespace shoal::model {
namespace {

template <class Vec>
auto find_sorted(Vec& entries, std::string_view name) {
  return std::lower_bound(entries.begin(), entries.end(), name,
                          [](const auto& entry, std::string_view key) { return entry.first < key; });
}

}  // namespace

const FieldValue* Profile::field(std::string_view name) const {
  auto it = find_sorted(fields, name);
  return it != fields.end() && it->first == name ? &it->second : nullptr;
}

FieldValue* Profile::mutable_field(std::string_view name) {
  auto it = find_sorted(fields, name);
  return it != fields.end() && it->first == name ? &it->second : nullptr;
}

FieldValue& Profile::field_slot(std::string_view name) {
  auto it = find_sorted(fields, name);
  if (it != fields.end() && it->first == name) return it->second;
  return fields.emplace(it, std::string(name), FieldValue{})->second;
}

bool Profile::erase_field(std::string_view name) {
  auto it = find_sorted(fields, name);
  if (it == fields.end() || it->first != name) return false;
  fields.erase(it);
  return true;
}

const Identity* Profile::identity(std::string_view field_name) const {
  auto it = std::lower_bound(identities.begin(), identities.end(), field_name,
                             [](const Identity& entry, std::string_view key) { return entry.field < key; });
  return it != identities.end() && it->field == field_name ? &*it : nullptr;
}

Identity& Profile::identity_slot(std::string_view field_name) {
  auto it = std::lower_bound(identities.begin(), identities.end(), field_name,
                             [](const Identity& entry, std::string_view key) { return entry.field < key; });
  if (it != identities.end() && it->field == field_name) return *it;
  return *identities.insert(it, Identity{std::string(field_name), ValueList{}});
}

bool Profile::add_identity(std::string_view field_name, std::string_view value) {
  ValueList& values = identity_slot(field_name).values.as_list();
  for (const Value& existing : values) {
    if (existing.as_string() == value) return false;
  }
  values.emplace_back(std::string(value));
  return true;
}

const Membership* Profile::membership(SegmentOrdinal segment) const {
  auto it = std::lower_bound(
      memberships.begin(), memberships.end(), segment,
      [](const Membership& m, SegmentOrdinal key) { return m.segment < key; });
  return it != memberships.end() && it->segment == segment ? &*it : nullptr;
}

void Profile::set_membership(SegmentOrdinal segment, TimestampMs entered_ms) {
  auto it = std::lower_bound(
      memberships.begin(), memberships.end(), segment,
      [](const Membership& m, SegmentOrdinal key) { return m.segment < key; });
  if (it != memberships.end() && it->segment == segment) {
    it->entered_ms = entered_ms;
  } else {
    memberships.insert(it, Membership{segment, entered_ms});
  }
}

bool Profile::erase_membership(SegmentOrdinal segment) {
  auto it = std::lower_bound(
      memberships.begin(), memberships.end(), segment,
      [](const Membership& m, SegmentOrdinal key) { return m.segment < key; });
  if (it == memberships.end() || it->segment != segment) return false;
  memberships.erase(it);
  return true;
}

TimestampMs Profile::next_timer() const {
  TimestampMs next = kNoTime;
  for (const SegmentTimer& t : timers) next = std::min(next, t.due);
  return next;
}

TimestampMs Profile::timer_due(SegmentOrdinal segment) const {
  auto it = std::lower_bound(timers.begin(), timers.end(), segment,
                             [](const SegmentTimer& t, SegmentOrdinal key) { return t.segment < key; });
  return it != timers.end() && it->segment == segment ? it->due : kNoTime;
}

void Profile::set_timer(SegmentOrdinal segment, TimestampMs due) {
  auto it = std::lower_bound(timers.begin(), timers.end(), segment,
                             [](const SegmentTimer& t, SegmentOrdinal key) { return t.segment < key; });
  bool present = it != timers.end() && it->segment == segment;
  if (due == kNoTime) {
    if (present) timers.erase(it);
  } else if (present) {
    it->due = due;
  } else {
    timers.insert(it, SegmentTimer{segment, due});
  }
}

ProfileFieldSource::ProfileFieldSource(const Profile& profile)
    : profile_(profile), created_(Date{profile.created_ms}), modified_(Date{profile.modified_ms}) {}

const Value* ProfileFieldSource::find(std::string_view path) const {
  if (const FieldValue* f = profile_.field(path)) return &f->value;
  if (const Identity* id = profile_.identity(path)) return &id->values;
  if (path == "_created") return &created_;
  if (path == "_modified") return &modified_;
  // "a.b": key b of map field a (or deeper).
  size_t dot = path.find('.');
  while (dot != std::string_view::npos) {
    if (const FieldValue* head = profile_.field(path.substr(0, dot)); head && head->value.is_map()) {
      if (const Value* v = lookup_path(head->value, path.substr(dot + 1))) return v;
    }
    dot = path.find('.', dot + 1);
  }
  return nullptr;
}

}  // namespace shoal::model
