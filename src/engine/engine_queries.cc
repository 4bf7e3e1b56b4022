// Engine queries and operations that only the HTTP server needs (see the marked section of
// engine.h).
#include <algorithm>

#include "engine/engine.h"

namespace shoal::engine {

Result<Engine::MemberPage> Engine::segment_members(model::SegmentOrdinal ordinal,
                                                   model::ProfileId after, std::size_t limit,
                                                   std::size_t max_examined) {
  MemberPage page;
  std::vector<std::uint64_t> ids;
  bool more = false;
  SHOAL_RETURN_IF_ERROR(profile_ids(after.value + 1, UINT64_MAX, max_examined, ids, more));
  for (std::uint64_t id : ids) {
    SHOAL_ASSIGN_OR_RETURN(CachedProfile * cached, load_profile(model::ProfileId{id}));
    if (cached && cached->profile.membership(ordinal)) {
      page.profiles.push_back(cached->profile);
      if (page.profiles.size() == limit) {
        if (id != ids.back() || more) page.next = model::ProfileId{id};
        return page;
      }
    }
  }
  if (more && !ids.empty()) page.next = model::ProfileId{ids.back()};
  return page;
}

Status Engine::remove_segment(std::string_view alias) {
  if (recording()) log_command('R', {alias});
  CallScope scope(*this);
  const segment::Segment* seg = catalog_.find(alias);
  if (!seg) {
    return make_error(ErrorCode::kNotFound, "no segment has slug \"" + std::string(alias) + "\"");
  }
  for (model::SegmentOrdinal other : catalog_.ordinals()) {
    const segment::Segment* includer = catalog_.get(other);
    if (includer && std::binary_search(includer->includes.begin(), includer->includes.end(),
                                       std::string(alias))) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "segment \"" + includer->alias + "\" INCLUDEs \"" + std::string(alias) +
                            "\"; change or delete it first");
    }
  }
  const model::SegmentOrdinal ordinal = seg->ordinal;
  // Members leave while the segment still exists, so their exits carry its id and slug.
  SHOAL_RETURN_IF_ERROR(ensure_all_profiles_loaded());
  // In id order: the exits' sequence must not depend on the cache's layout (a restart
  // re-runs this from the command log and must number them the same).
  std::vector<std::uint64_t> ids;
  ids.reserve(profiles_.size());
  profiles_.for_each([&](std::uint64_t id, const CachedProfile&) { ids.push_back(id); });
  std::sort(ids.begin(), ids.end());
  for (std::uint64_t id : ids) {
    CachedProfile& cached = *profiles_.find(id);
    snapshot_for_checkpoint(cached);
    model::Profile& p = cached.profile;
    const std::optional<TimestampMs> membership = p.membership(ordinal);
    const bool had_timer = p.timer_due(ordinal) != model::kNoTime;
    if (!membership && !had_timer) continue;
    if (membership) {
      const TimestampMs entered = *membership;
      ++p.change_counter;
      p.erase_membership(ordinal);
      emit(p, ordinal, TriggerEvent::kExit, TriggerReason::kEval, now_, entered);
    }
    p.set_timer(ordinal, model::kNoTime);
    mark_dirty(cached);
  }
  SHOAL_ASSIGN_OR_RETURN(auto removed, catalog_.remove(alias));
  (void)removed;
  segment_sizes_.erase(ordinal.value);
  sizes_dirty_ = true;
  dirty_segments_[ordinal.value] = std::nullopt;  // erased with the members' exits
  return ok_status();
}

Status Engine::remove_mapping(std::string_view stream) {
  if (recording()) log_command('Q', {stream});
  auto it = mappings_.find(stream);
  if (it == mappings_.end()) {
    return make_error(ErrorCode::kNotFound,
                      "no mapping reads stream \"" + std::string(stream) + "\"");
  }
  mappings_.erase(it);
  dirty_mappings_[std::string(stream)] = std::nullopt;
  return ok_status();
}

Engine::CacheFootprint Engine::cache_footprint() const {
  CacheFootprint out;
  out.profiles = profiles_.size();
  profiles_.for_each([&](std::uint64_t, const CachedProfile& cached) {
    out.bytes += model::footprint(cached.profile);
  });
  return out;
}

}  // namespace shoal::engine
