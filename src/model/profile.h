#pragma once
// Profile: one user, stitched from the events of all its identities. Owned by the engine's
// partition; not thread-safe.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/field_name.h"
#include "model/field_source.h"
#include "model/ids.h"
#include "model/kind.h"
#include "model/ordinal_times.h"
#include "model/value.h"

namespace shoal::model {

// A stored field value with what merges need: the event time and processing sequence of the
// value (latest/oldest compare (ts, seq)), and its merge op.
struct FieldValue {
  Value value;
  TimestampMs ts = 0;
  std::uint64_t seq = 0;
  MergeOp merge = MergeOp::kLatest;
  friend bool operator==(const FieldValue&, const FieldValue&) = default;
};

// A profile's fields, sorted by name, kept as two arrays: the interned names, then the values.
// A lookup by FieldName scans the names (one or two cache lines for a dozen fields) and then
// touches only the value it wants; as one vector of (std::string, FieldValue) pairs, a binary
// search read a 96-byte entry per probe, and names took 32 bytes each.
class ProfileFields {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  // Above this many fields a lookup by name is a binary search over the names' text.
  static constexpr std::size_t kScanLimit = 32;

  struct Entry {
    FieldName name;
    const FieldValue& value;
  };
  class const_iterator {
   public:
    const_iterator(const ProfileFields* fields, std::size_t i) : fields_(fields), i_(i) {}
    Entry operator*() const { return Entry{fields_->names_[i_], fields_->values_[i_]}; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    friend bool operator==(const const_iterator&, const const_iterator&) = default;

   private:
    const ProfileFields* fields_;
    std::size_t i_;
  };

  std::size_t size() const { return names_.size(); }
  bool empty() const { return names_.empty(); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, names_.size()); }
  FieldName name(std::size_t i) const { return names_[i]; }
  const FieldValue& value(std::size_t i) const { return values_[i]; }
  FieldValue& value(std::size_t i) { return values_[i]; }
  // The interned names in order, and the values (for prefetching their first lines).
  const std::vector<FieldName>& names() const { return names_; }
  const std::vector<FieldValue>& values() const { return values_; }

  // The index of `name`, or npos.
  std::size_t find(FieldName name) const {
    if (names_.size() > kScanLimit) return find(name.text());
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return i;
    }
    return npos;
  }
  std::size_t find(std::string_view name) const;
  // Adds `name` after the last field; false (and nothing added) unless it orders after it.
  bool append(FieldName name, FieldValue value);
  // Inserts `name` (absent) at its place; returns its value.
  FieldValue& insert(FieldName name, FieldValue value);
  void erase(std::size_t i);
  void reserve(std::size_t n);
  // Bytes of the two arrays (capacity).
  std::size_t array_bytes() const;

  friend bool operator==(const ProfileFields&, const ProfileFields&) = default;

 private:
  std::vector<FieldName> names_;
  std::vector<FieldValue> values_;
};

struct Identity {
  FieldName field;
  Value values = ValueList{};  // a list of strings, insertion order, unique
  friend bool operator==(const Identity&, const Identity&) = default;
};

// A profile's identities, sorted by field. Copy-on-write: copies share one list until one of
// them changes it, so the engine's triggers hold the identities of the moment they were emitted
// without copying them (a copy and its destruction per emitting profile were ~4% of the engine
// thread at 1M profiles); identities rarely change once a profile exists.
class IdentityList {
 public:
  using List = std::vector<Identity>;
  using const_iterator = List::const_iterator;

  const List& items() const { return list_ ? *list_ : empty_list(); }
  const_iterator begin() const { return items().begin(); }
  const_iterator end() const { return items().end(); }
  std::size_t size() const { return items().size(); }
  bool empty() const { return items().empty(); }
  const Identity& operator[](std::size_t i) const { return items()[i]; }

  // The list to change: a copy of its own first while the list is shared.
  List& mutate();
  // The list as it is now, shared: later changes to this one do not show through it.
  std::shared_ptr<const List> share() const;
  // Starts loading, for writing, the line of the shared block that share() counts in (at 1M
  // profiles that count's cache miss was ~3% of the engine thread). A hint: it changes nothing.
  void prefetch_for_share() const {
    // make_shared puts the counts just before the list (libstdc++: use count at -8).
    if (list_) __builtin_prefetch(reinterpret_cast<const char*>(list_.get()) - 8, 1);
  }
  // Heap bytes: the shared block and the elements' (a shared list counts whole in each holder).
  std::size_t heap_bytes() const;

  friend bool operator==(const IdentityList& a, const IdentityList& b) {
    return a.items() == b.items();
  }

 private:
  static const List& empty_list();
  std::shared_ptr<List> list_;
};

struct Profile {
  ProfileId id;
  TimestampMs created_ms = 0;
  TimestampMs modified_ms = 0;
  IdentityList identities;
  ProfileFields fields;
  OrdinalTimes memberships;          // segment -> the instant the profile entered it
  std::uint64_t change_counter = 0;  // bumped on every change; part of trigger ids
  // Pending time-driven re-evaluations: segment -> when its answer changes by time alone (one
  // per time-dependent segment whose answer will).
  OrdinalTimes timers;

  // The due of the profile's live timer-index key (engine bookkeeping): at or before
  // next_timer(), so the index never needs rewriting when a timer moves later.
  TimestampMs timer_key_due = kNoTime;

  // The earliest timer due, or kNoTime.
  TimestampMs next_timer() const;
  void set_timer(SegmentOrdinal segment, TimestampMs due);  // kNoTime removes it
  TimestampMs timer_due(SegmentOrdinal segment) const;      // kNoTime when none

  const FieldValue* field(FieldName name) const;
  const FieldValue* field(std::string_view name) const;
  FieldValue* mutable_field(FieldName name);
  // As mutable_field, trying field `hint` first (one comparison where the search took
  // several); on a find elsewhere, `hint` becomes its index. Any hint gives the same answer.
  FieldValue* mutable_field(FieldName name, std::size_t& hint);
  // Inserts an empty entry when absent.
  FieldValue& field_slot(FieldName name);
  FieldValue& field_slot(std::string_view name) { return field_slot(FieldName::intern(name)); }
  bool erase_field(std::string_view name);

  const Identity* identity(std::string_view field) const;
  const Identity* identity(FieldName field) const;
  Identity& identity_slot(std::string_view field);
  // Adds a value; false when it was already there.
  bool add_identity(std::string_view field, std::string_view value);

  // When the profile entered `segment`; nullopt when it is not a member.
  std::optional<TimestampMs> membership(SegmentOrdinal segment) const;
  void set_membership(SegmentOrdinal segment, TimestampMs entered_ms);
  bool erase_membership(SegmentOrdinal segment);

  friend bool operator==(const Profile&, const Profile&) = default;
};

// Bytes a profile holds in memory, by part (vector capacities, heap strings, nested values), for
// measuring the engine's cache; not exact about allocator overhead.
struct ProfileFootprint {
  std::size_t object = 0;       // the Profile itself
  std::size_t identities = 0;
  std::size_t fields = 0;       // names, values and merge metadata, excluding series
  std::size_t series = 0;       // []time series
  std::size_t memberships = 0;
  std::size_t timers = 0;
  std::size_t total() const { return object + identities + fields + series + memberships + timers; }
  ProfileFootprint& operator+=(const ProfileFootprint& o);
};
ProfileFootprint footprint(const Profile& profile);

// Reads a profile's fields, then its identities (as lists of strings), then `_created` and
// `_modified` (dates). "a.b" reads key b of map field a.
class ProfileFieldSource final : public FieldSource {
 public:
  using FieldSource::find;
  explicit ProfileFieldSource(const Profile& profile);
  const Value* find(std::string_view path) const override;
  const Value* find(FieldName name) const override;

 private:
  // What find() reads after the fields and identities: `_created`, `_modified`, map keys.
  const Value* find_beyond_identities(std::string_view path) const;

  const Profile& profile_;
  Value created_;
  Value modified_;
};

}  // namespace shoal::model
