#include "engine/engine.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>
#include <limits>
#include <tuple>

#include "core/bitmap.h"
#include "core/hash.h"
#include "core/varint.h"
#include "model/json.h"

namespace shoal::engine {
namespace {

constexpr std::string_view kMetaCounters = "counters";
constexpr std::string_view kMetaSegmentSizes = "segment_sizes";
constexpr std::string_view kMetaCheckpoint = "checkpoint";
// A reused commit batch bigger than this is dropped after its write, not kept for the next.
constexpr std::size_t kMaxKeptBatchBytes = 64u << 20;

// "field\0value", written into `key` (reused buffers allocate nothing once grown).
void write_identity_cache_key(std::string_view field, std::string_view value, std::string& key) {
  key.assign(field);
  key.push_back('\0');
  key.append(value);
}

void put_u64(std::string& out, std::uint64_t v) { storage::append_u64_be(out, v); }

}  // namespace

std::string_view trigger_event_name(TriggerEvent event) {
  return event == TriggerEvent::kEnter ? "enter" : "exit";
}

std::string_view trigger_reason_name(TriggerReason reason) {
  switch (reason) {
    case TriggerReason::kEval: return "eval";
    case TriggerReason::kMerged: return "merged";
    case TriggerReason::kDeleted: return "deleted";
  }
  return "eval";
}

std::string trigger_to_json(const Trigger& t) {
  std::string out = "{\"ts\":";
  out += std::to_string(t.ts);
  out += ",\"segment\":";
  model::write_json_string(t.slug(), out);
  out += ",\"event\":\"";
  out += trigger_event_name(t.event);
  out += "\",\"reason\":\"";
  out += trigger_reason_name(t.reason);
  out += "\",\"profile\":\"";
  out += t.profile.to_string();
  out += "\",\"ids\":{";
  bool first = true;
  for (const model::Identity& id : t.identities()) {  // sorted by field
    if (id.values.as_list().empty()) continue;
    if (!first) out.push_back(',');
    first = false;
    model::write_json_string(id.field, out);
    out.push_back(':');
    model::write_json(id.values, out);
  }
  out += "},\"id\":\"";
  out += t.id();
  out += "\"}";
  return out;
}

namespace {

using Reader = ByteReader;

constexpr std::uint8_t kTriggerBatchFormat = 1;

}  // namespace

std::string make_trigger_id(model::ProfileId profile, std::string_view segment_id,
                            TriggerEvent event, TimestampMs ts, std::uint64_t change_counter) {
  // Built in a fixed buffer so that emitting allocates no temporary strings.
  char basis[160];
  char* out = basis;
  char* const end = basis + sizeof basis;
  auto put_number = [&](std::int64_t v) {
    out = std::to_chars(out, end, v).ptr;
    *out++ = '/';
  };
  put_number(static_cast<std::int64_t>(profile.value));
  std::size_t id_len = std::min<std::size_t>(segment_id.size(), 64);
  std::memcpy(out, segment_id.data(), id_len);
  out += id_len;
  *out++ = '/';
  std::string_view event_name = trigger_event_name(event);
  std::memcpy(out, event_name.data(), event_name.size());
  out += event_name.size();
  *out++ = '/';
  put_number(ts);
  put_number(static_cast<std::int64_t>(change_counter));
  return hex_id128(std::string_view(basis, static_cast<std::size_t>(out - basis - 1)));
}

const std::string& Trigger::segment_id() const {
  static const std::string kNone;
  return label ? label->id : kNone;
}

const std::string& Trigger::slug() const {
  static const std::string kNone;
  return label ? label->alias : kNone;
}

const std::vector<model::Identity>& Trigger::identities() const {
  static const std::vector<model::Identity> kNone;
  return identity_snapshot ? *identity_snapshot : kNone;
}

std::string Trigger::id() const {
  return make_trigger_id(profile, segment_id(), event, ts, change_counter);
}

void encode_trigger_batch(const std::vector<Trigger>& triggers, std::size_t begin,
                          std::size_t end, std::string& out) {
  out.push_back(static_cast<char>(kTriggerBatchFormat));
  put_varint(out, end - begin);
  for (std::size_t i = begin; i < end; ++i) {
    const Trigger& t = triggers[i];
    put_varint(out, t.sequence);
    put_svarint(out, t.ts);
    put_varint(out, t.profile.value);
    put_varint(out, t.segment.value);
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(t.event) |
                                    (static_cast<std::uint8_t>(t.reason) << 1)));
    put_svarint(out, t.entered_ms);
    put_varint(out, t.change_counter);
    put_varint(out, t.identities().size());
    for (const model::Identity& identity : t.identities()) {
      put_bytes(out, identity.field);
      put_varint(out, identity.values.as_list().size());
      for (const model::Value& v : identity.values.as_list()) put_bytes(out, v.as_string());
    }
  }
}

Result<std::vector<Trigger>> decode_trigger_batch(std::string_view bytes) {
  auto corrupt = [] { return make_error(ErrorCode::kCorruption, "outbox record is corrupt"); };
  if (bytes.empty() || static_cast<std::uint8_t>(bytes.front()) != kTriggerBatchFormat) {
    return corrupt();
  }
  Reader in(bytes.substr(1));
  std::uint64_t count = 0;
  if (!in.varint(count) || count > in.remaining()) return corrupt();
  std::vector<Trigger> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    Trigger t;
    std::uint64_t profile = 0, ordinal = 0, n_ids = 0;
    std::uint8_t flags = 0;
    if (!in.varint(t.sequence) || !in.svarint(t.ts) || !in.varint(profile) ||
        !in.varint(ordinal) || ordinal > UINT32_MAX || !in.byte(flags) || (flags >> 1) > 2 ||
        !in.svarint(t.entered_ms) || !in.varint(t.change_counter) || !in.varint(n_ids) ||
        n_ids > in.remaining()) {
      return corrupt();
    }
    t.profile = model::ProfileId{profile};
    t.segment = model::SegmentOrdinal{static_cast<std::uint32_t>(ordinal)};
    t.event = static_cast<TriggerEvent>(flags & 1);
    t.reason = static_cast<TriggerReason>(flags >> 1);
    std::vector<model::Identity> identities;
    for (std::uint64_t k = 0; k < n_ids; ++k) {
      model::Identity identity;
      std::string field;
      std::uint64_t n_values = 0;
      if (!in.bytes(field) || !in.varint(n_values) || n_values > in.remaining()) {
        return corrupt();
      }
      identity.field = model::FieldName::intern(field);
      for (std::uint64_t v = 0; v < n_values; ++v) {
        std::string value;
        if (!in.bytes(value)) return corrupt();
        identity.values.as_list().emplace_back(std::move(value));
      }
      identities.push_back(std::move(identity));
    }
    if (!identities.empty()) {
      t.identity_snapshot =
          std::make_shared<const std::vector<model::Identity>>(std::move(identities));
    }
    out.push_back(std::move(t));
  }
  if (!in.done()) return corrupt();
  return out;
}

Status Engine::open() {
  // Counters.
  SHOAL_ASSIGN_OR_RETURN(auto counters, store_.get(storage::meta_key(kMetaCounters)));
  if (counters) {
    if (counters->size() != 32) {
      return make_error(ErrorCode::kCorruption, "stored engine counters are corrupt");
    }
    std::string_view c(*counters);
    next_profile_id_ = storage::read_u64_be(c);
    next_seq_ = storage::read_u64_be(c.substr(8));
    next_trigger_seq_ = storage::read_u64_be(c.substr(16));
    profile_count_ = storage::read_u64_be(c.substr(24));
  }
  SHOAL_ASSIGN_OR_RETURN(auto sizes, store_.get(storage::meta_key(kMetaSegmentSizes)));
  if (sizes) {
    if (sizes->size() % 12 != 0) {
      return make_error(ErrorCode::kCorruption, "stored segment sizes are corrupt");
    }
    for (std::size_t off = 0; off < sizes->size(); off += 12) {
      std::string_view entry = std::string_view(*sizes).substr(off, 12);
      std::uint32_t ordinal = static_cast<std::uint32_t>(storage::read_u64_be(entry) >> 32);
      segment_sizes_[ordinal] = storage::read_u64_be(entry.substr(4));
    }
  }
  // Segments, in ordinal order (keys are big-endian ordinals).
  Status restore_status;
  SHOAL_RETURN_IF_ERROR(store_.scan(
      std::string(1, static_cast<char>(storage::RecordType::kSegment)),
      [&](std::string_view key, std::string_view value) {
        if (key.size() != 5) return true;
        std::uint32_t ordinal = 0;
        for (int i = 1; i < 5; ++i) ordinal = (ordinal << 8) | static_cast<std::uint8_t>(key[i]);
        Status s = catalog_.restore(model::SegmentOrdinal{ordinal}, value);
        if (!s.ok()) {
          restore_status = s.take_error().with_context("restoring segment " +
                                                       std::to_string(ordinal));
          return false;
        }
        return true;
      }));
  SHOAL_RETURN_IF_ERROR(restore_status);
  SHOAL_RETURN_IF_ERROR(catalog_.finish_restore());
  // Mappings.
  Status mapping_status;
  SHOAL_RETURN_IF_ERROR(store_.scan(
      std::string(1, static_cast<char>(storage::RecordType::kMapping)),
      [&](std::string_view, std::string_view value) {
        auto parsed = mapping::parse_mapping(value);
        if (!parsed.ok()) {
          mapping_status = parsed.take_error().with_context("restoring a stored mapping");
          return false;
        }
        auto owned = std::make_unique<mapping::Mapping>(std::move(parsed).value());
        std::string stream = owned->stream;
        mappings_[stream] = std::move(owned);
        return true;
      }));
  SHOAL_RETURN_IF_ERROR(mapping_status);
  // Outbox records still to deliver.
  Status outbox_status;
  SHOAL_RETURN_IF_ERROR(store_.scan(
      std::string(1, static_cast<char>(storage::RecordType::kOutbox)),
      [&](std::string_view, std::string_view value) {
        auto triggers = decode_trigger_batch(value);
        if (!triggers.ok()) {
          outbox_status = triggers.take_error();
          return false;
        }
        if (!triggers->empty()) {
          outbox_records_.emplace_back(triggers->front().sequence, triggers->back().sequence);
        }
        return true;
      }));
  SHOAL_RETURN_IF_ERROR(outbox_status);
  // Timers.
  SHOAL_RETURN_IF_ERROR(store_.scan(storage::timer_prefix(options_.partition),
                                    [&](std::string_view key, std::string_view) {
                                      TimestampMs due = 0;
                                      model::ProfileId id;
                                      if (storage::parse_timer_key(key, due, id)) {
                                        timers_.emplace(due, id.value);
                                      }
                                      return true;
                                    }));
  // With no identity in the store, every identity is one this engine sets from now on: the
  // cache alone answers until it first evicts one (a new data directory, and always replay).
  bool stored_identity = false;
  SHOAL_RETURN_IF_ERROR(store_.scan(storage::identity_prefix(options_.partition),
                                    [&](std::string_view, std::string_view) {
                                      stored_identity = true;
                                      return false;
                                    }));
  identity_cache_complete_ = !stored_identity;
  // The rest of the checkpoint, then the log written after it.
  SHOAL_ASSIGN_OR_RETURN(auto state, store_.get(storage::meta_key(kMetaCheckpoint)));
  if (state) SHOAL_RETURN_IF_ERROR(restore_checkpoint_state(*state));
  checkpoint_profile_id_ = next_profile_id_;
  SHOAL_RETURN_IF_ERROR(erase_covered_log());
  return replay_log();
}

Result<const mapping::Mapping*> Engine::set_mapping(std::string_view text) {
  SHOAL_ASSIGN_OR_RETURN(mapping::Mapping parsed, mapping::parse_mapping(text));
  if (recording()) log_command('M', {text});
  auto owned = std::make_unique<mapping::Mapping>(std::move(parsed));
  const mapping::Mapping* raw = owned.get();
  dirty_mappings_[owned->stream] = owned->text;
  mappings_[owned->stream] = std::move(owned);
  return raw;
}

const mapping::Mapping* Engine::mapping_for(std::string_view stream) const {
  auto it = mappings_.find(stream);
  return it == mappings_.end() ? nullptr : it->second.get();
}

std::vector<const mapping::Mapping*> Engine::mappings() const {
  std::vector<const mapping::Mapping*> out;
  for (const auto& [stream, m] : mappings_) out.push_back(m.get());
  return out;
}

segment::BatchResult Engine::register_segments(const std::vector<std::string>& texts) {
  if (recording()) log_register(texts);
  CallScope scope(*this);
  segment::BatchResult result = catalog_.register_batch(texts);
  for (const segment::RegisterOutcome& outcome : result.outcomes) {
    if (!outcome.result.ok()) continue;
    model::SegmentOrdinal ordinal = outcome.result.value();
    if (const segment::Segment* seg = catalog_.get(ordinal)) {
      dirty_segments_[ordinal.value] = seg->text;
    }
  }
  if (result.changed.empty()) return result;
  SegmentBuild build;
  build.segments = result.changed;
  build.end_id = next_profile_id_;
  build.progress.total = profile_count_;
  builds_.push_back(std::move(build));
  millisecond_open_ = true;
  return result;
}

void Engine::advance_to(TimestampMs now) {
  if (now <= now_) return;
  if (recording()) log_advance(now);
  CallScope scope(*this);
  if (millisecond_open_) close_millisecond();
  fire_timers_before(now);
  now_ = now;
}

Result<Engine::CachedProfile*> Engine::load_profile(model::ProfileId id) {
  if (CachedProfile* found = profiles_.find(id.value)) {
    found->last_used = ++use_clock_;
    snapshot_for_checkpoint(*found);  // every change to a profile starts here
    return found;
  }
  if (deleted_since_checkpoint(id.value)) return static_cast<CachedProfile*>(nullptr);
  SHOAL_ASSIGN_OR_RETURN(auto bytes, store_.get(storage::profile_key(options_.partition, id)));
  if (!bytes) return static_cast<CachedProfile*>(nullptr);
  SHOAL_ASSIGN_OR_RETURN(model::Profile profile, storage::decode_profile(*bytes));
  CachedProfile cached;
  cached.committed_key_due = profile.timer_key_due;
  cached.in_store = true;
  cached.last_used = ++use_clock_;
  cached.profile = std::move(profile);
  return profiles_.insert(id.value, std::move(cached)).first;
}

Result<std::optional<model::ProfileId>> Engine::lookup_identity(std::string_view field,
                                                                std::string_view value) {
  // Built in a reused buffer: most lookups hit, and an e-mail's key would allocate.
  std::string& key = identity_key_buffer_;
  write_identity_cache_key(field, value, key);
  std::optional<model::ProfileId> cached;
  if (identities_.find(key, cached)) return cached;
  // A store read for a new identity was ~2% of the engine thread at 1M profiles.
  if (identity_cache_complete_) return std::optional<model::ProfileId>();
  SHOAL_ASSIGN_OR_RETURN(auto bytes,
                         store_.get(storage::identity_key(options_.partition, field, value)));
  std::optional<model::ProfileId> id;
  if (bytes) {
    if (bytes->size() != 8) return make_error(ErrorCode::kCorruption, "identity index entry");
    id = model::ProfileId{storage::read_u64_be(*bytes)};
  }
  identities_.set(key, id);
  return id;
}

void Engine::set_identity(std::string_view field, std::string_view value,
                          std::optional<model::ProfileId> id) {
  std::string key;
  write_identity_cache_key(field, value, key);
  identities_.set(key, id);
  dirty_identities_[std::move(key)] = id;
}

Status Engine::ensure_all_profiles_loaded() {
  std::vector<model::Profile> loaded;
  Status decode_status;
  SHOAL_RETURN_IF_ERROR(store_.scan(
      storage::profile_prefix(options_.partition), [&](std::string_view, std::string_view value) {
        auto profile = storage::decode_profile(value);
        if (!profile.ok()) {
          decode_status = profile.take_error();
          return false;
        }
        if (!profiles_.contains(profile->id.value) &&
            !deleted_since_checkpoint(profile->id.value)) {
          loaded.push_back(std::move(profile).value());
        }
        return true;
      }));
  SHOAL_RETURN_IF_ERROR(decode_status);
  for (model::Profile& p : loaded) {
    CachedProfile cached;
    cached.committed_key_due = p.timer_key_due;
    cached.in_store = true;
    std::uint64_t id = p.id.value;
    cached.profile = std::move(p);
    profiles_.insert(id, std::move(cached));
  }
  return ok_status();
}

Engine::CachedProfile& Engine::create_profile() {
  CachedProfile cached;
  cached.profile.id = model::ProfileId{next_profile_id_++};
  cached.profile.created_ms = now_;
  cached.profile.modified_ms = now_;
  cached.last_used = ++use_clock_;
  ++counters_.profiles_created;
  ++profile_count_;
  std::uint64_t id = cached.profile.id.value;
  CachedProfile& created = *profiles_.insert(id, std::move(cached)).first;
  mark_dirty(created);
  return created;
}

void Engine::touch(CachedProfile& cached) {
  cached.profile.modified_ms = std::max(cached.profile.modified_ms, now_);
  ++cached.profile.change_counter;
  mark_dirty(cached);
}

void Engine::mark_pending(model::ProfileId id,
                          const std::vector<std::string_view>& changed_fields, bool all) {
  PendingEval& pending = pending_[id];
  millisecond_open_ = true;
  if (all) {
    pending.all = true;
    pending.segment_bits.clear();
  }
  if (pending.all) return;
  for (std::string_view field : changed_fields) {
    bitmap_or(pending.segment_bits, catalog_.segment_bits_reading(field));
  }
}

void Engine::merge_into(CachedProfile& survivor, CachedProfile& absorbed) {
  model::Profile& from = absorbed.profile;
  model::Profile& to = survivor.profile;
  // The absorbed profile leaves every segment it was in, as itself.
  for (const model::OrdinalTime& m : from.memberships) {
    emit(from, m.segment, TriggerEvent::kExit, TriggerReason::kMerged, now_, /*entered=*/m.at);
  }
  for (std::size_t i = 0; i < from.fields.size(); ++i) {
    const model::FieldName name = from.fields.name(i);
    const model::FieldValue& value = from.fields.value(i);
    if (model::FieldValue* existing = to.mutable_field(name)) {
      model::merge_field(*existing, value, existing->merge, options_.merge);
    } else {
      to.field_slot(name) = value;
    }
  }
  for (const model::Identity& identity : from.identities) {
    for (const model::Value& v : identity.values.as_list()) {
      to.add_identity(identity.field, v.as_string());
      set_identity(identity.field, v.as_string(), to.id);
    }
  }
  to.created_ms = std::min(to.created_ms, from.created_ms);
  to.change_counter = std::max(to.change_counter, from.change_counter);
  std::uint64_t gone = from.id.value;
  pending_.erase(from.id);
  // Also when not in the store yet: a background checkpoint may be writing it.
  deleted_profiles_.insert(gone);
  // Its timer-index keys are removed when they come due (the profile is gone by then).
  profiles_.erase(gone);  // invalidates `absorbed`
  ++counters_.profiles_merged;
  --profile_count_;
}

EventOutcome Engine::apply_event(std::string_view stream, const model::Value& data,
                                 TimestampMs event_ts) {
  if (recording()) log_event(stream, data, event_ts);
  EventOutcome outcome;
  ++counters_.events_in;
  const mapping::Mapping* mapping = mapping_for(stream);
  if (!mapping) {
    ++counters_.events_without_mapping;
    outcome.reason = "no mapping for stream '" + std::string(stream) + "'";
    return outcome;
  }
  if (!data.is_map()) {
    outcome.reason = "event data must be a JSON object";
    return outcome;
  }
  std::uint64_t seq = next_seq_++;
  mapping::apply_mapping(*mapping, data, event_ts, now_, seq, mapped_);
  if (!mapped_.where_matched) {
    ++counters_.events_where_rejected;
    outcome.reason = "the mapping's WHERE clause does not match";
    return outcome;
  }
  for (const mapping::DroppedField& dropped : mapped_.dropped) {
    ++counters_.fields_dropped;
    outcome.warnings.push_back(dropped.reason);
  }
  std::vector<model::Identity>& ids = mapped_.identities;

  // Resolve identities to profiles, honouring the per-identity limits.
  std::vector<model::ProfileId> matched;
  // Per identity value of the event, in order: the profile the index holds it under, if any.
  std::vector<std::optional<model::ProfileId>>& found_ids = scratch_found_ids_;
  while (true) {
    matched.clear();
    found_ids.clear();
    for (const model::Identity& identity : ids) {
      for (const model::Value& v : identity.values.as_list()) {
        auto found = lookup_identity(identity.field, v.as_string());
        if (!found.ok()) {
          outcome.reason = found.error().message;
          return outcome;
        }
        found_ids.push_back(*found);
        if (*found && std::find(matched.begin(), matched.end(), **found) == matched.end()) {
          matched.push_back(**found);
        }
      }
    }
    bool over_limit = false;
    for (const IdentityLimit& limit : options_.identity_limits) {
      std::vector<std::string> values;
      auto add = [&](const model::Value& v) {
        if (std::find(values.begin(), values.end(), v.as_string()) == values.end()) {
          values.push_back(v.as_string());
        }
      };
      for (model::ProfileId id : matched) {
        auto cached = load_profile(id);
        if (!cached.ok() || !*cached) continue;
        if (const model::Identity* have = (*cached)->profile.identity(limit.field)) {
          for (const model::Value& v : have->values.as_list()) add(v);
        }
      }
      for (const model::Identity& identity : ids) {
        if (identity.field != limit.field) continue;
        for (const model::Value& v : identity.values.as_list()) add(v);
      }
      if (values.size() > limit.max_values) {
        over_limit = true;
        break;
      }
    }
    if (!over_limit || ids.empty()) break;
    ++counters_.identities_dropped_by_limit;
    outcome.warnings.push_back("identity '" + ids.back().field.str() +
                               "' dropped: stitching would exceed an identity limit");
    ids.pop_back();  // the lowest-priority identity present
  }
  if (ids.empty()) {
    ++counters_.events_without_identity;
    std::string names;
    for (const std::string& f : mapping->identity_fields) {
      if (!names.empty()) names += ", ";
      names += f;
    }
    outcome.reason = "event has none of the identities (" + names + ")";
    return outcome;
  }

  CachedProfile* target = nullptr;
  bool all = false;
  if (matched.empty()) {
    target = &create_profile();
    all = true;
  } else {
    std::sort(matched.begin(), matched.end());
    auto survivor = load_profile(matched.front());
    if (!survivor.ok() || !*survivor) {
      outcome.reason = survivor.ok() ? "identity index points at a missing profile"
                                     : survivor.error().message;
      return outcome;
    }
    target = *survivor;
    for (std::size_t i = 1; i < matched.size(); ++i) {
      auto absorbed = load_profile(matched[i]);
      if (!absorbed.ok() || !*absorbed) {
        matched[i] = model::ProfileId{0};  // not merged (ids start at 1): its values are not the target's
        continue;
      }
      merge_into(*target, **absorbed);
      all = true;
    }
  }
  model::Profile& profile = target->profile;
  std::vector<std::string_view>& changed = scratch_fields_;
  changed.clear();
  std::size_t value_index = 0;
  for (const model::Identity& identity : ids) {
    for (const model::Value& v : identity.values.as_list()) {
      // A value the index holds under a profile now merged into the target is one of its
      // identities already: no search of its identity list (a cache miss per event at 1M).
      const std::optional<model::ProfileId>& found = found_ids[value_index++];
      if (found && std::find(matched.begin(), matched.end(), *found) != matched.end()) continue;
      if (profile.add_identity(identity.field, v.as_string())) {
        set_identity(identity.field, v.as_string(), profile.id);
        if (std::find(changed.begin(), changed.end(), identity.field) == changed.end()) {
          changed.push_back(identity.field);
        }
      }
    }
  }
  // Events of one mapping bring the same fields in the same order, and profiles with the same
  // fields hold them at the same places: each column's last place is tried first.
  if (field_hints_.size() < mapped_.fields.size()) field_hints_.resize(mapped_.fields.size(), 0);
  for (std::size_t i = 0; i < mapped_.fields.size(); ++i) {
    mapping::MappedField& field = mapped_.fields[i];
    model::FieldValue* existing = profile.mutable_field(field.name, field_hints_[i]);
    bool did_change;
    if (existing) {
      did_change = model::merge_field(*existing, field.value, field.value.merge, options_.merge);
    } else {
      model::FieldValue& slot = profile.field_slot(field.name);
      slot = std::move(field.value);
      if (slot.value.is_times()) model::cap_series(slot.value.as_times(), options_.merge.series_cap);
      did_change = true;
    }
    if (did_change) changed.push_back(field.name);
  }
  touch(*target);
  changed.push_back("_modified");
  mark_pending(profile.id, changed, all);
  ++counters_.events_applied;
  outcome.applied = true;
  outcome.profile = profile.id;
  return outcome;
}

namespace {

// Starts loading an event's entries: keys and scalars are inline there (a dozen fields, ~14
// lines).
void prefetch_event_data(const model::Value& data) {
  if (!data.is_map()) return;
  const model::ValueMap& entries = data.as_map();
  constexpr std::size_t kMaxBytes = 1024;
  const std::size_t n = std::min(entries.size() * sizeof(entries[0]), kMaxBytes);
  const char* begin = reinterpret_cast<const char*>(entries.data());
  for (std::size_t offset = 0; offset < n; offset += 64) __builtin_prefetch(begin + offset);
}

}  // namespace

void Engine::look_ahead(std::string_view stream, const model::Value* next, TimestampMs next_ts,
                        const model::Value* after_next) {
  if (after_next) prefetch_event_data(*after_next);
  if (!next || !next->is_map()) return;
  const mapping::Mapping* mapping = mapping_for(stream);
  if (!mapping) return;
  mapping::map_identities(*mapping, *next, next_ts, now_, lookahead_);
  std::string& key = identity_key_buffer_;
  for (const model::Identity& identity : lookahead_.identities) {
    for (const model::Value& v : identity.values.as_list()) {
      write_identity_cache_key(identity.field, v.as_string(), key);
      identities_.prefetch(key);
    }
  }
}

Status Engine::delete_field(std::string_view identity_field, std::string_view identity_value,
                            std::string_view field) {
  if (recording()) log_command('F', {identity_field, identity_value, field});
  SHOAL_ASSIGN_OR_RETURN(auto id, lookup_identity(identity_field, identity_value));
  if (!id) {
    return make_error(ErrorCode::kNotFound, "no profile has " + std::string(identity_field) +
                                                " = \"" + std::string(identity_value) + "\"");
  }
  SHOAL_ASSIGN_OR_RETURN(CachedProfile * cached, load_profile(*id));
  if (!cached) return make_error(ErrorCode::kCorruption, "identity index points at a missing profile");
  if (!cached->profile.erase_field(field)) {
    return make_error(ErrorCode::kNotFound,
                      "profile " + id->to_string() + " has no field '" + std::string(field) + "'");
  }
  touch(*cached);
  mark_pending(*id, {field, "_modified"}, false);
  return ok_status();
}

Status Engine::delete_profile(std::string_view identity_field, std::string_view identity_value) {
  if (recording()) log_command('D', {identity_field, identity_value});
  SHOAL_ASSIGN_OR_RETURN(auto id, lookup_identity(identity_field, identity_value));
  if (!id) {
    return make_error(ErrorCode::kNotFound, "no profile has " + std::string(identity_field) +
                                                " = \"" + std::string(identity_value) + "\"");
  }
  SHOAL_ASSIGN_OR_RETURN(CachedProfile * cached, load_profile(*id));
  if (!cached) return make_error(ErrorCode::kCorruption, "identity index points at a missing profile");
  // Pending changes of this millisecond are discarded: the profile is gone at `now`.
  model::Profile& p = cached->profile;
  for (const model::OrdinalTime& m : p.memberships) {
    emit(p, m.segment, TriggerEvent::kExit, TriggerReason::kDeleted, now_, /*entered=*/m.at);
  }
  for (const model::Identity& identity : p.identities) {
    for (const model::Value& v : identity.values.as_list()) {
      set_identity(identity.field, v.as_string(), std::nullopt);
    }
  }
  pending_.erase(p.id);
  deleted_profiles_.insert(p.id.value);  // in the store, or maybe soon (a checkpoint in flight)
  profiles_.erase(p.id.value);
  ++counters_.profiles_deleted;
  --profile_count_;
  return ok_status();
}

Result<const model::Profile*> Engine::find_profile(std::string_view field, std::string_view value) {
  SHOAL_ASSIGN_OR_RETURN(auto id, lookup_identity(field, value));
  if (!id) return static_cast<const model::Profile*>(nullptr);
  SHOAL_ASSIGN_OR_RETURN(CachedProfile * cached, load_profile(*id));
  return cached ? &cached->profile : nullptr;
}

std::shared_ptr<const segment::SegmentLabel> Engine::segment_label(
    model::SegmentOrdinal ordinal) const {
  if (const segment::Segment* seg = catalog_.get(ordinal)) return seg->label;
  return std::make_shared<const segment::SegmentLabel>(
      segment::SegmentLabel{std::to_string(ordinal.value), std::string()});
}

void Engine::emit(const model::Profile& profile, model::SegmentOrdinal ordinal,
                  TriggerEvent event, TriggerReason reason, TimestampMs at,
                  TimestampMs entered_ms) {
  Trigger t;
  t.sequence = next_trigger_seq_++;
  t.ts = at;
  t.profile = profile.id;
  t.segment = ordinal;
  t.label = segment_label(ordinal);
  t.event = event;
  t.reason = reason;
  t.entered_ms = entered_ms;
  // The profile's own list, shared: a later change to the profile copies it first.
  t.identity_snapshot = profile.identities.share();
  t.change_counter = profile.change_counter;
  ++counters_.triggers;
  std::uint64_t& size = segment_sizes_[ordinal.value];
  if (event == TriggerEvent::kEnter) {
    ++size;
  } else if (size > 0) {
    --size;
  }
  sizes_dirty_ = true;
  unreleased_.push_back(std::move(t));
}

void Engine::collect_segments(const model::Profile& p, const PendingEval* pending,
                              TimestampMs at, std::vector<model::SegmentOrdinal>& segments) const {
  segments.clear();
  if (pending && pending->all) {
    segments = catalog_.ordinals();
    return;
  }
  // Marked in a bitmap over ordinals and read back in order: ascending and unique without a
  // sort (sorting was ~1% of the engine thread). All zero between calls.
  std::vector<std::uint64_t>& marks = scratch_marks_;
  if (pending) bitmap_or(marks, pending->segment_bits);
  if (p.next_timer() <= at) {
    for (const model::OrdinalTime& timer : p.timers) {
      if (timer.at <= at) bitmap_set(marks, timer.segment.value);
    }
  }
  bitmap_take_each(
      marks, [&](std::uint32_t ordinal) { segments.push_back(model::SegmentOrdinal{ordinal}); });
}

namespace {

// Starts loading the first cache lines of `bytes` (a hint; no effect on results).
void prefetch(std::string_view bytes) {
  const std::size_t n = std::min<std::size_t>(bytes.size(), 256);
  for (std::size_t offset = 0; offset < n; offset += 64) __builtin_prefetch(bytes.data() + offset);
}

}  // namespace

void Engine::evaluate_profile(CachedProfile& cached,
                              const std::vector<model::SegmentOrdinal>& segments, TimestampMs at) {
  model::Profile& p = cached.profile;
  // The membership and timer lists are heap blocks of their own, mostly not in the CPU cache:
  // their first reads below were a quarter of this function's time at 1M profiles. They load
  // while the segments are evaluated.
  prefetch(p.memberships.bytes());
  prefetch(p.timers.bytes());
  p.identities.prefetch_for_share();  // for the triggers, if any
  model::ProfileFieldSource source(p);
  // All segments at once, so each field is looked up once for all of them (evaluation reads
  // fields only, never memberships, so the changes below cannot affect a later answer).
  catalog_.evaluate_with_next_change(segments, source, at, scratch_answers_);
  // `segments`, memberships and timers are all sorted by ordinal: one merge walk over each.
  // The lists are kept encoded (model/ordinal_times.h): each is decoded into an array in one
  // tight loop, walked there, and re-encoded only when it changed (most evaluations change
  // neither); an iterator's step per entry was ~15% of the engine thread's instructions.
  assert(std::is_sorted(segments.begin(), segments.end()));
  const std::size_t room = segments.size();
  auto decode = [room](const model::OrdinalTimes& list, std::vector<model::OrdinalTime>& old,
                       std::vector<model::OrdinalTime>& updated) {
    if (old.size() < list.bytes().size()) old.resize(list.bytes().size());
    const std::size_t n = list.decode_to(old.data());
    if (updated.size() < n + room) updated.resize(n + room);
    return n;
  };
  const std::size_t member_count =
      decode(p.memberships, scratch_old_members_, scratch_new_members_);
  const std::size_t timer_count = decode(p.timers, scratch_old_timers_, scratch_new_timers_);
  const model::OrdinalTime* m = scratch_old_members_.data();
  const model::OrdinalTime* const m_end = m + member_count;
  const model::OrdinalTime* t = scratch_old_timers_.data();
  const model::OrdinalTime* const t_end = t + timer_count;
  // The new lists, written whether or not they change (cheaper than deciding).
  model::OrdinalTime* members = scratch_new_members_.data();
  model::OrdinalTime* timers = scratch_new_timers_.data();
  bool members_changed = false;
  bool timers_changed = false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const model::SegmentOrdinal ordinal = segments[i];
    for (; m != m_end && m->segment < ordinal; ++m) *members++ = *m;
    for (; t != t_end && t->segment < ordinal; ++t) *timers++ = *t;
    const bool was = m != m_end && m->segment == ordinal;
    TimestampMs next = model::kNoTime;
    bool member = was;
    if (catalog_.get(ordinal)) {
      ++counters_.evaluations;
      const segment::SegmentAnswer& answer = scratch_answers_[i];
      next = answer.next_change;
      member = answer.member;
      if (member && !was) {
        ++p.change_counter;
        members_changed = true;
        *members++ = model::OrdinalTime{ordinal, at};
        emit(p, ordinal, TriggerEvent::kEnter, TriggerReason::kEval, at, at);
      } else if (!member && was) {
        ++p.change_counter;
        members_changed = true;
        emit(p, ordinal, TriggerEvent::kExit, TriggerReason::kEval, at, /*entered=*/m->at);
      }
    }
    if (was) {
      if (member) *members++ = *m;
      ++m;
    }
    // A removed segment keeps no timer.
    const bool had_timer = t != t_end && t->segment == ordinal;
    const TimestampMs before = had_timer ? t->at : model::kNoTime;
    if (next != before) timers_changed = true;
    if (had_timer) ++t;
    if (next != model::kNoTime) *timers++ = model::OrdinalTime{ordinal, next};
  }
  if (members_changed) {
    for (; m != m_end; ++m) *members++ = *m;
    scratch_list_builder_.clear();
    scratch_list_builder_.append_all(scratch_new_members_.data(), members);
    p.memberships.assign(scratch_list_builder_);
  }
  if (timers_changed) {
    for (; t != t_end; ++t) *timers++ = *t;
    scratch_list_builder_.clear();
    scratch_list_builder_.append_all(scratch_new_timers_.data(), timers);
    p.timers.assign(scratch_list_builder_);
  }
  const bool changed = members_changed || timers_changed;
  if (changed) mark_dirty(cached);
  rekey_timer(cached);
}

void Engine::rekey_timer(CachedProfile& cached) {
  model::Profile& p = cached.profile;
  const TimestampMs next = p.next_timer();
  if (next == model::kNoTime) return;
  if (p.timer_key_due != model::kNoTime && p.timer_key_due <= next) return;
  // An older, later key stays in the index and is removed when it comes due.
  p.timer_key_due = next;
  timers_.emplace(next, p.id.value);
  mark_dirty(cached);
}

Engine::CachedProfile* Engine::take_due_timer(TimestampMs due, std::uint64_t id) {
  auto loaded = load_profile(model::ProfileId{id});
  if (!loaded.ok()) return nullptr;  // a read error: the key stays and fires after a restart
  CachedProfile* cached = *loaded;
  if (!cached || cached->profile.timer_key_due != due) {
    // The profile is gone, or this key was superseded by an earlier one.
    deleted_timer_keys_.emplace_back(due, id);
    return nullptr;
  }
  model::Profile& p = cached->profile;
  deleted_timer_keys_.emplace_back(due, p.id.value);
  p.timer_key_due = model::kNoTime;
  mark_dirty(*cached);
  if (p.next_timer() <= due) return cached;  // evaluation re-keys the next timer
  rekey_timer(*cached);  // the timer moved later since the key was written
  return nullptr;
}

void Engine::prefetch_next_due_profiles() {
  // Distances in timers taken: a taken timer that needs no evaluation (stale, or re-keyed)
  // takes little time, so each stage starts a few takes before the one that reads its result.
  // Few lines per call: a core tracks only ~10 misses at once, and more prefetches stall.
  constexpr std::size_t kSlotAhead = 6, kProfileAhead = 3, kContentsAhead = 1;
  if (const TimerQueue::Entry* e = timers_.ahead(kSlotAhead)) profiles_.prefetch(e->second);
  if (const TimerQueue::Entry* e = timers_.ahead(kProfileAhead)) {
    if (const CachedProfile* cached = profiles_.find(e->second)) {
      prefetch(std::string_view(reinterpret_cast<const char*>(&cached->profile),
                                sizeof(model::Profile)));
    }
  }
  if (const TimerQueue::Entry* e = timers_.ahead(kContentsAhead)) {
    if (const CachedProfile* cached = profiles_.find(e->second)) {
      const model::Profile& p = cached->profile;
      __builtin_prefetch(p.fields.names().data());
      prefetch(std::string_view(reinterpret_cast<const char*>(p.fields.values().data()),
                                p.fields.size() * sizeof(model::FieldValue)));
      __builtin_prefetch(p.memberships.bytes().data());  // first lines only: few per call
      __builtin_prefetch(p.timers.bytes().data());
    }
  }
}

void Engine::close_millisecond() {
  if (!millisecond_open_) return;
  if (recording()) log_command('C', {});
  CallScope scope(*this);
  millisecond_open_ = false;
  TimestampMs at = now_;
  if (options_.synchronous_segment_builds) {
    while (!builds_.empty()) {
      auto step = build_step(4096);
      if (!step.ok()) break;  // a read error: the build resumes on the next call
    }
  }
  // Timers due now are evaluated together with the changes of this millisecond.
  while (!timers_.empty() && timers_.top().first <= at) {
    auto [due, id] = timers_.top();
    timers_.pop();
    prefetch_next_due_profiles();
    if (CachedProfile* cached = take_due_timer(due, id)) pending_.try_emplace(cached->profile.id);
  }
  // Triggers already emitted in this millisecond (merges, deletions) are ordered with the rest.
  std::size_t first = unreleased_.size();
  while (first > 0 && unreleased_[first - 1].ts == at) --first;
  std::map<model::ProfileId, PendingEval> batch;
  batch.swap(pending_);
  for (auto& [id, pending] : batch) {
    CachedProfile* cached = profiles_.find(id.value);
    if (!cached) continue;
    snapshot_for_checkpoint(*cached);
    collect_segments(cached->profile, &pending, at, scratch_segments_);
    evaluate_profile(*cached, scratch_segments_, at);
  }
  order_triggers_from(first);
}

void Engine::order_triggers_from(std::size_t start) {
  if (unreleased_.size() - start < 2) return;
  const auto in_order = [](const Trigger& a, const Trigger& b) {
    return std::tie(a.ts, a.profile, a.segment) < std::tie(b.ts, b.profile, b.segment);
  };
  // Mostly emitted in order already (profiles ascending, each one's segments ascending); only
  // merges' and deletions' exits come earlier in a millisecond.
  if (std::is_sorted(unreleased_.begin() + static_cast<std::ptrdiff_t>(start), unreleased_.end(),
                     in_order)) {
    return;
  }
  std::uint64_t first_sequence = unreleased_[start].sequence;
  std::stable_sort(unreleased_.begin() + static_cast<std::ptrdiff_t>(start), unreleased_.end(),
                   in_order);
  for (std::size_t i = start; i < unreleased_.size(); ++i) {
    unreleased_[i].sequence = first_sequence + (i - start);
  }
}

void Engine::fire_timers_before(TimestampMs limit) {
  while (!timers_.empty() && timers_.top().first < limit) {
    TimestampMs due = timers_.top().first;
    std::vector<std::uint64_t>& ids = scratch_due_ids_;
    ids.clear();
    while (!timers_.empty() && timers_.top().first == due) {
      ids.push_back(timers_.top().second);
      timers_.pop();
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::size_t first = unreleased_.size();
    for (std::uint64_t id : ids) {
      prefetch_next_due_profiles();
      CachedProfile* due_profile = take_due_timer(due, id);
      if (!due_profile) continue;
      CachedProfile& cached = *due_profile;
      now_ = due;
      collect_segments(cached.profile, nullptr, due, scratch_segments_);
      evaluate_profile(cached, scratch_segments_, due);
    }
    order_triggers_from(first);
  }
}

Status Engine::profile_ids(std::uint64_t from, std::uint64_t end, std::size_t limit,
                           std::vector<std::uint64_t>& ids, bool& more) {
  more = false;
  const std::string prefix = storage::profile_prefix(options_.partition);
  SHOAL_RETURN_IF_ERROR(store_.scan_from(
      prefix, storage::profile_key(options_.partition, model::ProfileId{from}),
      [&](std::string_view key, std::string_view) {
        std::uint64_t id = storage::read_u64_be(key.substr(prefix.size()));
        // Beyond the watermark a checkpoint in flight may or may not have landed: those come
        // from memory below, so the answer does not depend on the background write's timing.
        if (id >= end || id >= checkpoint_profile_id_) return false;
        if (ids.size() >= limit) {
          more = true;
          return false;
        }
        ids.push_back(id);
        return true;
      }));
  if (more) return ok_status();
  // Profiles created since the last checkpoint are only in memory, with ids above every stored
  // one.
  for (std::uint64_t id = std::max(from, checkpoint_profile_id_); id < std::min(end, next_profile_id_);
       ++id) {
    const CachedProfile* cached = profiles_.find(id);
    if (!cached || cached->in_store) continue;
    if (ids.size() >= limit) {
      more = true;
      break;
    }
    ids.push_back(id);
  }
  return ok_status();
}

Result<std::size_t> Engine::build_step(std::size_t max_profiles) {
  if (builds_.empty()) return std::size_t{0};
  if (recording()) log_build_step(max_profiles);
  CallScope scope(*this);
  std::size_t evaluated = 0;
  while (!builds_.empty() && evaluated < max_profiles) {
    SegmentBuild& build = builds_.front();
    std::vector<std::uint64_t> ids;
    bool more = false;
    SHOAL_RETURN_IF_ERROR(
        profile_ids(build.next_id, build.end_id, max_profiles - evaluated, ids, more));
    for (std::uint64_t id : ids) {
      build.next_id = id + 1;
      if (deleted_since_checkpoint(id)) continue;
      SHOAL_ASSIGN_OR_RETURN(CachedProfile * cached, load_profile(model::ProfileId{id}));
      if (!cached) continue;
      evaluate_profile(*cached, build.segments, now_);
      ++build.progress.done;
      ++evaluated;
    }
    if (!more) builds_.erase(builds_.begin());  // reached the end of the profiles that existed
  }
  return evaluated;
}

std::optional<Engine::BuildProgress> Engine::segment_build_progress(
    model::SegmentOrdinal ordinal) const {
  for (const SegmentBuild& build : builds_) {
    if (std::find(build.segments.begin(), build.segments.end(), ordinal) != build.segments.end()) {
      BuildProgress progress = build.progress;
      progress.total = std::max(progress.total, progress.done);
      return progress;
    }
  }
  return std::nullopt;
}

std::uint64_t Engine::segment_size(model::SegmentOrdinal ordinal) const {
  auto it = segment_sizes_.find(ordinal.value);
  return it == segment_sizes_.end() ? 0 : it->second;
}

void Engine::stage_put(std::string key, std::string value) {
  staged_writes_.emplace_back(std::move(key), std::move(value));
}

void Engine::stage_erase(std::string key) { staged_writes_.emplace_back(std::move(key), std::nullopt); }

const model::Profile* Engine::cached_profile(model::ProfileId id) const {
  const CachedProfile* cached = profiles_.find(id.value);
  return cached ? &cached->profile : nullptr;
}

std::size_t Engine::dirty_profile_bound() const {
  return options_.checkpoint_dirty_profiles
             ? options_.checkpoint_dirty_profiles
             : std::max<std::size_t>(profile_cache_limit_ / 2, 1);
}

bool Engine::checkpoint_due() const {
  if (checkpoint_requested_) return true;
  return log_bytes_ + commands_.size() >= options_.checkpoint_log_bytes ||
         dirty_list_.size() >= dirty_profile_bound();
}

Status Engine::commit(std::vector<Trigger>& released,
                      const std::vector<std::pair<std::string, std::string>>& positions) {
  // A failed background write is counted and written again by the next checkpoint.
  (void)finish_background_checkpoint(/*wait=*/false);
  if (!options_.command_log) return write_commit(released, positions, true);
  const bool due = checkpoint_due();
  if (due && !options_.background_checkpoints) return write_commit(released, positions, true);
  SHOAL_RETURN_IF_ERROR(write_commit(released, positions, false));
  // One checkpoint at a time: a due one waits for the next commit after the last has landed,
  // unless the profiles changed since have reached the bound: then this commit waits for it, so
  // that the profiles pinned in memory (changed, and in flight) stay within twice the bound when
  // the writer falls behind.
  if (due && inflight_ && dirty_list_.size() >= dirty_profile_bound()) {
    (void)finish_background_checkpoint(/*wait=*/true);
  }
  if (due && !inflight_) start_background_checkpoint();
  return ok_status();
}

Status Engine::checkpoint(std::vector<Trigger>& released,
                          const std::vector<std::pair<std::string, std::string>>& positions) {
  (void)finish_background_checkpoint(/*wait=*/true);  // a failure: written again below
  if (!options_.command_log || !options_.background_checkpoints) {
    return write_commit(released, positions, true);
  }
  // A log record, then the background writer's checkpoint, waited for: its batch is built in
  // the writer's arena and added as files. As one commit batch (a stop's checkpoint is often
  // hundreds of megabytes) it was also copied into a memtable, and its blocks stayed in the
  // engine thread's arena, which keeps what it frees (ADR 5): peak RSS +250 MB at 1M profiles.
  SHOAL_RETURN_IF_ERROR(write_commit(released, positions, false));
  start_background_checkpoint();
  const Status written = finish_background_checkpoint(/*wait=*/true);
  // A failed write (everything was handed back) or a log erasure that failed after it: the
  // inline checkpoint writes what is left, so that on success the log is gone, as promised.
  if (!written.ok() || unerased_log_seq_ != first_log_seq_) {
    return write_commit(released, positions, true);
  }
  evict_if_needed();  // its profiles may be dropped now
  return ok_status();
}

void Engine::append_state_deletes(storage::Batch& batch, storage::PartitionId partition,
                                  const std::unordered_set<std::uint64_t>& deleted_profiles,
                                  std::vector<TimerKey>& deleted_timer_keys) {
  std::vector<std::uint64_t> ids(deleted_profiles.begin(), deleted_profiles.end());
  std::sort(ids.begin(), ids.end());  // profile keys end in the id, big-endian
  for (std::uint64_t id : ids) batch.erase(storage::profile_key(partition, model::ProfileId{id}));
  std::sort(deleted_timer_keys.begin(), deleted_timer_keys.end());
  std::string key;
  for (const auto& [due, id] : deleted_timer_keys) {
    storage::assign_timer_key(key, partition, due, model::ProfileId{id});
    batch.erase(key);
  }
}

void Engine::append_timer_keys(storage::Batch& batch, storage::PartitionId partition,
                               std::vector<TimerKey>& timer_keys) {
  std::sort(timer_keys.begin(), timer_keys.end());
  std::string key;
  for (const auto& [due, id] : timer_keys) {
    storage::assign_timer_key(key, partition, due, model::ProfileId{id});
    batch.put(key, "");
  }
  timer_keys.clear();
}

void Engine::append_index_writes(
    storage::Batch& batch, storage::PartitionId partition,
    const std::unordered_map<std::string, std::optional<model::ProfileId>>& identities,
    const std::map<std::uint32_t, std::optional<std::string>>& segments,
    const std::map<std::string, std::optional<std::string>, std::less<>>& mappings) {
  std::vector<const std::pair<const std::string, std::optional<model::ProfileId>>*> sorted;
  sorted.reserve(identities.size());
  for (const auto& entry : identities) sorted.push_back(&entry);
  // "field\0value" sorts as the store keys (prefix, field, separator, value) do.
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    const auto& [key, id] = *entry;
    size_t zero = key.find('\0');
    std::string store_key =
        storage::identity_key(partition, key.substr(0, zero), key.substr(zero + 1));
    if (id) {
      std::string value;
      put_u64(value, id->value);
      batch.put(store_key, value);
    } else {
      batch.erase(store_key);
    }
  }
  for (const auto& [ordinal, text] : segments) {
    std::string key = storage::segment_key(model::SegmentOrdinal{ordinal});
    if (text) {
      batch.put(key, *text);
    } else {
      batch.erase(key);
    }
  }
  for (const auto& [stream, text] : mappings) {
    std::string key = storage::mapping_key(stream);
    if (text) {
      batch.put(key, *text);
    } else {
      batch.erase(key);
    }
  }
}

void Engine::encode_profile_writes(const CachedProfile& cached, storage::Batch& batch,
                                   std::vector<TimerKey>& timer_keys) {
  encode_profile_writes(cached, options_.partition, encode_buffer_, batch, timer_keys);
}

void Engine::encode_profile_writes(const CachedProfile& cached, storage::PartitionId partition,
                                   std::string& buffer, storage::Batch& batch,
                                   std::vector<TimerKey>& timer_keys) {
  buffer.clear();
  storage::encode_profile(cached.profile, buffer);
  batch.put(storage::profile_key(partition, cached.profile.id), buffer);
  TimestampMs key_due = cached.profile.timer_key_due;
  if (key_due != cached.committed_key_due && key_due != model::kNoTime) {
    timer_keys.emplace_back(key_due, cached.profile.id.value);
  }
}

void Engine::append_checkpoint_meta(storage::Batch& batch) {
  std::string counters;
  put_u64(counters, next_profile_id_);
  put_u64(counters, next_seq_);
  put_u64(counters, next_trigger_seq_);
  put_u64(counters, profile_count_);
  batch.put(storage::meta_key(kMetaCounters), counters);
  if (sizes_dirty_) {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> sorted(segment_sizes_.begin(),
                                                                segment_sizes_.end());
    std::sort(sorted.begin(), sorted.end());
    std::string encoded;
    for (const auto& [ordinal, size] : sorted) {
      for (int i = 3; i >= 0; --i) encoded.push_back(static_cast<char>((ordinal >> (i * 8)) & 0xff));
      put_u64(encoded, size);
    }
    batch.put(storage::meta_key(kMetaSegmentSizes), encoded);
  }
  batch.put(storage::meta_key(kMetaCheckpoint), encode_checkpoint_state());
}

void Engine::append_log_erasure(storage::Batch& batch, std::uint64_t first_seq,
                                std::uint64_t end_seq) {
  for (std::uint64_t seq = first_seq; seq < end_seq; ++seq) {
    batch.erase(storage::command_log_key(seq));
  }
}

std::vector<std::pair<std::uint64_t, Engine::CachedProfile*>> Engine::sorted_dirty_profiles() {
  // With their nodes: the callers then touch each profile without a second table lookup.
  std::vector<std::pair<std::uint64_t, CachedProfile*>> dirty;
  dirty.reserve(dirty_list_.size());
  for (std::uint64_t id : dirty_list_) {
    CachedProfile* cached = profiles_.find(id);
    if (cached && cached->dirty) dirty.emplace_back(id, cached);
  }
  std::sort(dirty.begin(), dirty.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return dirty;
}

void Engine::write_state(storage::Batch& batch) {
  // Deletes first: a key deleted and put again since the last checkpoint must end up put.
  append_state_deletes(batch, options_.partition, deleted_profiles_, deleted_timer_keys_);
  std::vector<TimerKey> timer_keys;
  for (const auto& [id, cached] : sorted_dirty_profiles()) {
    encode_profile_writes(*cached, batch, timer_keys);
  }
  append_timer_keys(batch, options_.partition, timer_keys);
  append_index_writes(batch, options_.partition, dirty_identities_, dirty_segments_,
                      dirty_mappings_);
  // The log this checkpoint covers goes with it; the next record starts the new tail.
  append_log_erasure(batch, unerased_log_seq_, next_log_seq_);
  append_checkpoint_meta(batch);
}

Status Engine::write_commit(std::vector<Trigger>& released,
                            const std::vector<std::pair<std::string, std::string>>& positions,
                            bool as_checkpoint) {
  storage::Batch& batch = commit_batch_;
  batch.clear();
  if (as_checkpoint) checkpoint_requested_ = false;
  const bool log_record = !as_checkpoint && !commands_.empty();
  if (as_checkpoint) {
    write_state(batch);
  } else if (log_record) {
    batch.put(storage::command_log_key(next_log_seq_), commands_);
  }
  if (options_.trigger_log && !unreleased_.empty()) {
    std::string buffer;
    encode_trigger_batch(unreleased_, 0, unreleased_.size(), buffer);
    batch.put(storage::outbox_key(unreleased_.front().sequence), buffer);
  }
  for (const auto& [source, position] : positions) {
    batch.put(storage::position_key(source), position);
  }
  for (const auto& [key, value] : staged_writes_) {
    if (value) {
      batch.put(key, *value);
    } else {
      batch.erase(key);
    }
  }
  if (options_.commit_observer && !unreleased_.empty()) {
    SHOAL_RETURN_IF_ERROR(options_.commit_observer(*this, unreleased_, batch));
  }
  if (batch.count() == 0) return ok_status();  // nothing happened since the last commit
  SHOAL_RETURN_IF_ERROR(store_.write(batch));
  ++counters_.commits;
  counters_.store_writes += batch.count();
  counters_.store_bytes += batch.bytes();
  if (batch.bytes() > kMaxKeptBatchBytes) batch = storage::Batch();  // give back a rare giant

  if (as_checkpoint) {
    ++counters_.checkpoints;
    for (std::uint64_t id : dirty_list_) {
      CachedProfile* cached = profiles_.find(id);
      if (!cached) continue;
      cached->in_store = true;
      cached->dirty = false;
      cached->committed_key_due = cached->profile.timer_key_due;
    }
    unerased_log_seq_ = next_log_seq_;
    mark_checkpointed();
    checkpoint_profile_id_ = next_profile_id_;
  } else if (log_record) {
    ++next_log_seq_;
    log_bytes_ += commands_.size();
    ++counters_.log_records;
    counters_.log_bytes += commands_.size();
  }
  commands_.clear();
  staged_writes_.clear();
  if (options_.trigger_log && !unreleased_.empty()) {
    outbox_records_.emplace_back(unreleased_.front().sequence, unreleased_.back().sequence);
  }
  for (Trigger& t : unreleased_) released.push_back(std::move(t));
  unreleased_.clear();
  evict_if_needed();
  return ok_status();
}

void Engine::update_profile_cache_limit() {
  // Sampled again once the events since the last sample could have grown the cache by a
  // sixteenth: per commit, the sampling cost as much as a tenth of the engine thread in collect
  // (425 commits/s x 256 footprints).
  const std::uint64_t events_since = counters_.events_in - events_at_footprint_sample_;
  if (sampled_profile_bytes_ > 0 &&
      events_since < std::max<std::size_t>(64, profiles_.size() / 16)) {
    return;
  }
  events_at_footprint_sample_ = counters_.events_in;
  // Footprints of some 256 cached profiles: a few microseconds per sample. The table's slots
  // are visited with a golden-ratio stride, not in a row, so the sample spreads over the whole
  // table (a run of neighbouring ids, of similar sizes, skewed the estimate by half).
  constexpr std::size_t kSample = 256;
  // What a cached profile costs beyond model::footprint: its block's other members and its
  // share of the table (16-byte slots, 3/8 to 3/4 full).
  constexpr std::size_t kEntryOverhead = sizeof(CachedProfile) - sizeof(model::Profile) + 32;
  std::size_t sampled = 0;
  std::size_t bytes = 0;
  auto add_sample = [&](const CachedProfile& cached) {
    bytes += model::footprint(cached.profile).total() + kEntryOverhead;
    ++sampled;
  };
  if (profiles_.size() <= kSample) {
    profiles_.for_each([&](std::uint64_t, const CachedProfile& cached) { add_sample(cached); });
  } else {
    const std::size_t slots = profiles_.slot_count();  // a power of two, at least 3/8 full
    // Odd, so the walk reaches every slot.
    const std::size_t stride = static_cast<std::size_t>(static_cast<double>(slots) * 0.618) | 1;
    for (std::size_t visited = 0; visited < slots && sampled < kSample; ++visited) {
      sample_slot_ = (sample_slot_ + stride) & (slots - 1);
      if (const CachedProfile* cached = profiles_.slot(sample_slot_)) add_sample(*cached);
    }
  }
  if (sampled > 0) {
    const double mean = static_cast<double>(bytes) / static_cast<double>(sampled);
    // Smoothed over a few samples: profile sizes are skewed (hot profiles hold long series),
    // so one slice can be far off the mean, and a dip would evict for nothing.
    sampled_profile_bytes_ =
        sampled_profile_bytes_ == 0 ? mean : 0.75 * sampled_profile_bytes_ + 0.25 * mean;
  }
  std::size_t limit = std::numeric_limits<std::size_t>::max();
  if (sampled_profile_bytes_ > 0) {
    limit = static_cast<std::size_t>(static_cast<double>(options_.profile_cache_bytes) /
                                     sampled_profile_bytes_);
  }
  if (options_.max_cached_profiles) limit = std::min(limit, options_.max_cached_profiles);
  profile_cache_limit_ = std::max<std::size_t>(limit, 1);
}

void Engine::evict_if_needed() {
  update_profile_cache_limit();
  // A pass may leave the cache above its limit (profiles changed since the last checkpoint must
  // stay): the next pass waits until another tenth has come in, so a full cache does not cost
  // a scan of every cached profile per new one.
  const std::size_t profile_limit = std::max(profile_cache_limit_, evict_profiles_above_);
  if (profiles_.size() > profile_limit && builds_.empty()) {
    ++counters_.eviction_passes;
    // Drop the least recently used fifth of the clean profiles.
    std::vector<std::uint64_t> uses;
    uses.reserve(profiles_.size());
    profiles_.for_each(
        [&](std::uint64_t, const CachedProfile& cached) { uses.push_back(cached.last_used); });
    std::size_t target = profile_cache_limit_ * 4 / 5;
    std::size_t drop = profiles_.size() - target;
    std::nth_element(uses.begin(), uses.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                     uses.end());
    std::uint64_t cutoff = uses[drop - 1];
    // Only profiles whose state is in the store: not changed since the last checkpoint.
    profiles_.erase_if([&](std::uint64_t, const CachedProfile& cached) {
      return cached.last_used <= cutoff && !pending_.count(cached.profile.id) &&
             cached.in_store && !cached.in_flight && !cached.dirty;
    });
    evict_profiles_above_ = profiles_.size() > profile_cache_limit_
                                ? profiles_.size() + profile_cache_limit_ / 10
                                : 0;
  }
  const std::size_t identity_limit =
      std::max(options_.max_cached_identities, evict_identities_above_);
  if (identities_.size() > identity_limit) {
    const std::size_t target = options_.max_cached_identities * 4 / 5;
    // An unwritten identity is not in the store until a checkpoint lands: it stays.
    const std::size_t dropped = identities_.shrink_to(
        target, [this](std::string_view key) { return !identity_unwritten(std::string(key)); });
    if (dropped > 0) identity_cache_complete_ = false;  // the store alone has those now
    evict_identities_above_ = identities_.size() > options_.max_cached_identities
                                  ? identities_.size() + options_.max_cached_identities / 10
                                  : 0;
  }
}

Status Engine::acknowledge_through(std::uint64_t sequence) {
  std::size_t n = 0;
  while (n < outbox_records_.size() && outbox_records_[n].second <= sequence) ++n;
  if (n == 0) return ok_status();
  storage::Batch batch;
  for (std::size_t i = 0; i < n; ++i) batch.erase(storage::outbox_key(outbox_records_[i].first));
  SHOAL_RETURN_IF_ERROR(store_.write(batch));
  outbox_records_.erase(outbox_records_.begin(), outbox_records_.begin() + static_cast<std::ptrdiff_t>(n));
  return ok_status();
}

Result<std::vector<Trigger>> Engine::read_outbox(std::uint64_t after, std::size_t limit) const {
  std::vector<Trigger> out;
  Status decode_status;
  std::string prefix(1, static_cast<char>(storage::RecordType::kOutbox));
  SHOAL_RETURN_IF_ERROR(store_.scan(prefix, [&](std::string_view, std::string_view value) {
    auto triggers = decode_trigger_batch(value);
    if (!triggers.ok()) {
      decode_status = triggers.take_error();
      return false;
    }
    for (Trigger& t : *triggers) {
      if (t.sequence <= after) continue;
      // A segment removed since keeps its ordinal as id; its slug is then empty.
      t.label = segment_label(t.segment);
      out.push_back(std::move(t));
      if (out.size() >= limit) return false;
    }
    return true;
  }));
  SHOAL_RETURN_IF_ERROR(decode_status);
  return out;
}

}  // namespace shoal::engine
