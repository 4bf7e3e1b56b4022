#include "model/profile.h"

#include <algorithm>

#include "core/heap_bytes.h"
#include "core/short_names.h"

namespace shoal::model {
namespace {

// Heap bytes below a value (not the Value object itself); series bytes go to `series`.
std::size_t value_heap(const Value& v, std::size_t& series) {
  switch (v.type()) {
    case ValueType::kString: return string_heap_bytes(v.as_string());
    case ValueType::kTimes: series += v.as_times().capacity() * sizeof(TimestampMs); return 0;
    case ValueType::kList: {
      std::size_t n = v.as_list().capacity() * sizeof(Value);
      for (const Value& e : v.as_list()) n += value_heap(e, series);
      return n;
    }
    case ValueType::kMap: {
      std::size_t n = v.as_map().capacity() * sizeof(std::pair<std::string, Value>);
      for (const auto& [k, e] : v.as_map()) n += string_heap_bytes(k) + value_heap(e, series);
      return n;
    }
    default: return 0;
  }
}

}  // namespace

ProfileFootprint& ProfileFootprint::operator+=(const ProfileFootprint& o) {
  object += o.object;
  identities += o.identities;
  fields += o.fields;
  series += o.series;
  memberships += o.memberships;
  timers += o.timers;
  return *this;
}

ProfileFootprint footprint(const Profile& profile) {
  ProfileFootprint f;
  f.object = sizeof(Profile);
  f.identities = profile.identities.heap_bytes();
  // Names are interned: shared by all profiles, not counted here.
  f.fields = profile.fields.array_bytes();
  for (const auto& [name, value] : profile.fields) f.fields += value_heap(value.value, f.series);
  f.memberships = profile.memberships.heap_bytes();
  f.timers = profile.timers.heap_bytes();
  return f;
}

std::size_t ProfileFields::find(std::string_view name) const {
  auto it = std::lower_bound(
      names_.begin(), names_.end(), name,
      [](FieldName entry, std::string_view key) { return name_less(entry.text(), key); });
  return it != names_.end() && name_equal(it->text(), name)
             ? static_cast<std::size_t>(it - names_.begin())
             : npos;
}

FieldValue& ProfileFields::insert(FieldName name, FieldValue value) {
  auto it = std::lower_bound(names_.begin(), names_.end(), name);
  const auto i = it - names_.begin();
  names_.insert(it, name);
  return *values_.insert(values_.begin() + i, std::move(value));
}

bool ProfileFields::append(FieldName name, FieldValue value) {
  if (!names_.empty() && !(names_.back() < name)) return false;
  names_.push_back(name);
  values_.push_back(std::move(value));
  return true;
}

void ProfileFields::erase(std::size_t i) {
  names_.erase(names_.begin() + static_cast<std::ptrdiff_t>(i));
  values_.erase(values_.begin() + static_cast<std::ptrdiff_t>(i));
}

void ProfileFields::reserve(std::size_t n) {
  names_.reserve(n);
  values_.reserve(n);
}

std::size_t ProfileFields::array_bytes() const {
  return names_.capacity() * sizeof(FieldName) + values_.capacity() * sizeof(FieldValue);
}

const FieldValue* Profile::field(FieldName name) const {
  const std::size_t i = fields.find(name);
  return i == ProfileFields::npos ? nullptr : &fields.value(i);
}

const FieldValue* Profile::field(std::string_view name) const {
  const std::size_t i = fields.find(name);
  return i == ProfileFields::npos ? nullptr : &fields.value(i);
}

FieldValue* Profile::mutable_field(FieldName name) {
  const std::size_t i = fields.find(name);
  return i == ProfileFields::npos ? nullptr : &fields.value(i);
}

FieldValue* Profile::mutable_field(FieldName name, std::size_t& hint) {
  if (hint < fields.size() && fields.name(hint) == name) return &fields.value(hint);
  const std::size_t i = fields.find(name);
  if (i == ProfileFields::npos) return nullptr;
  hint = i;
  return &fields.value(i);
}

FieldValue& Profile::field_slot(FieldName name) {
  if (FieldValue* existing = mutable_field(name)) return *existing;
  return fields.insert(name, FieldValue{});
}

bool Profile::erase_field(std::string_view name) {
  const std::size_t i = fields.find(name);
  if (i == ProfileFields::npos) return false;
  fields.erase(i);
  return true;
}

const Identity* Profile::identity(std::string_view field_name) const {
  auto it = std::lower_bound(
      identities.begin(), identities.end(), field_name,
      [](const Identity& entry, std::string_view key) { return name_less(entry.field, key); });
  return it != identities.end() && name_equal(it->field, field_name) ? &*it : nullptr;
}

const Identity* Profile::identity(FieldName field_name) const {
  for (const Identity& identity : identities) {
    if (identity.field == field_name) return &identity;
  }
  return nullptr;
}

Identity& Profile::identity_slot(std::string_view field_name) {
  IdentityList::List& list = identities.mutate();
  auto it = std::lower_bound(
      list.begin(), list.end(), field_name,
      [](const Identity& entry, std::string_view key) { return name_less(entry.field, key); });
  if (it != list.end() && name_equal(it->field, field_name)) return *it;
  return *list.insert(it, Identity{FieldName::intern(field_name), ValueList{}});
}

bool Profile::add_identity(std::string_view field_name, std::string_view value) {
  // Looked up without mutate(): most events bring identities the profile already has, and
  // a shared list would be copied for nothing.
  if (const Identity* existing = identity(field_name)) {
    for (const Value& v : existing->values.as_list()) {
      if (v.as_string() == value) return false;
    }
  }
  identity_slot(field_name).values.as_list().emplace_back(std::string(value));
  return true;
}

IdentityList::List& IdentityList::mutate() {
  if (!list_) {
    list_ = std::make_shared<List>();
  } else if (list_.use_count() > 1) {
    // Others hold this list: copy it. (A count of one means this is the only holder, so no
    // other thread can be adding one; a concurrent release only makes a count stale-high.)
    list_ = std::make_shared<List>(*list_);
  }
  return *list_;
}

std::shared_ptr<const IdentityList::List> IdentityList::share() const {
  if (list_) return list_;
  static const auto empty = std::make_shared<const List>();
  return empty;
}

const IdentityList::List& IdentityList::empty_list() {
  static const List empty;
  return empty;
}

std::size_t IdentityList::heap_bytes() const {
  if (!list_) return 0;
  std::size_t bytes = 0;
  // make_shared's block: the control block and the vector header.
  bytes += 2 * sizeof(void*) + sizeof(List);
  bytes += list_->capacity() * sizeof(Identity);
  std::size_t ignored = 0;
  // Field names are interned: shared by all profiles, not counted here.
  for (const Identity& i : *list_) bytes += value_heap(i.values, ignored);
  return bytes;
}

std::optional<TimestampMs> Profile::membership(SegmentOrdinal segment) const {
  return memberships.find(segment);
}

void Profile::set_membership(SegmentOrdinal segment, TimestampMs entered_ms) {
  memberships.set(segment, entered_ms);
}

bool Profile::erase_membership(SegmentOrdinal segment) { return memberships.erase(segment); }

TimestampMs Profile::next_timer() const { return timers.min_at(); }

TimestampMs Profile::timer_due(SegmentOrdinal segment) const {
  return timers.find(segment).value_or(kNoTime);
}

void Profile::set_timer(SegmentOrdinal segment, TimestampMs due) {
  if (due == kNoTime) {
    timers.erase(segment);
  } else {
    timers.set(segment, due);
  }
}

ProfileFieldSource::ProfileFieldSource(const Profile& profile)
    : profile_(profile), created_(Date{profile.created_ms}), modified_(Date{profile.modified_ms}) {}

const Value* ProfileFieldSource::find(std::string_view path) const {
  if (const FieldValue* f = profile_.field(path)) return &f->value;
  if (const Identity* id = profile_.identity(path)) return &id->values;
  return find_beyond_identities(path);
}

const Value* ProfileFieldSource::find(FieldName name) const {
  if (const FieldValue* f = profile_.field(name)) return &f->value;
  if (const Identity* id = profile_.identity(name)) return &id->values;
  return find_beyond_identities(name.text());
}

const Value* ProfileFieldSource::find_beyond_identities(std::string_view path) const {
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
