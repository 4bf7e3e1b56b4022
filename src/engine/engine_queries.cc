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
  std::string prefix = storage::profile_prefix(options_.partition);
  std::string start = storage::profile_key(options_.partition, model::ProfileId{after.value + 1});
  bool more = false;
  SHOAL_RETURN_IF_ERROR(store_.scan_from(prefix, start,
                                         [&](std::string_view key, std::string_view) {
                                           if (ids.size() >= max_examined) {
                                             more = true;
                                             return false;
                                           }
                                           ids.push_back(storage::read_u64_be(
                                               key.substr(prefix.size())));
                                           return true;
                                         }));
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
  for (auto& [id, cached] : profiles_) {
    model::Profile& p = cached.profile;
    const model::Membership* membership = p.membership(ordinal);
    bool had_timer = std::any_of(p.timers.begin(), p.timers.end(),
                                 [&](const model::SegmentTimer& t) { return t.segment == ordinal; });
    if (!membership && !had_timer) continue;
    if (membership) {
      TimestampMs entered = membership->entered_ms;
      ++p.change_counter;
      p.erase_membership(ordinal);
      emit(p, ordinal, TriggerEvent::kExit, TriggerReason::kEval, now_, entered);
    }
    p.set_timer(ordinal, model::kNoTime);
    dirty_profiles_.insert(id);
  }
  SHOAL_ASSIGN_OR_RETURN(auto removed, catalog_.remove(alias));
  (void)removed;
  segment_sizes_.erase(ordinal.value);
  sizes_dirty_ = true;
  std::erase_if(dirty_segments_, [&](const auto& entry) { return entry.first == ordinal; });
  // Rationale: commit() only puts segment texts; the erase is written here, ahead of the
  // members' exits (a crash in between leaves memberships of a missing segment, which
  // evaluation ignores).
  storage::Batch batch;
  batch.erase(storage::segment_key(ordinal));
  return store_.write(batch);
}

Status Engine::remove_mapping(std::string_view stream) {
  auto it = mappings_.find(stream);
  if (it == mappings_.end()) {
    return make_error(ErrorCode::kNotFound,
                      "no mapping reads stream \"" + std::string(stream) + "\"");
  }
  mappings_.erase(it);
  std::erase_if(dirty_mappings_, [&](const auto& entry) { return entry.first == stream; });
  storage::Batch batch;
  batch.erase(storage::mapping_key(stream));
  return store_.write(batch);
}

}  // namespace shoal::engine
