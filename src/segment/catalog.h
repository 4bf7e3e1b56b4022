#pragma once
// Catalog: the registered segments of one engine. Resolves INCLUDE (unknown aliases and cycles
// are rejected at registration), keeps the field -> segments index, evaluates segments and
// computes their next time-driven change. Not thread-safe; owned by the engine's partition.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/string_hash.h"
#include "model/ids.h"
#include "segment/condition.h"
#include "segment/plan.h"

namespace shoal::segment {

// A segment's id and alias as triggers carry them: shared, so that a trigger holds a pointer
// rather than copies of both strings.
struct SegmentLabel {
  std::string id;
  std::string alias;
};

struct Segment {
  model::SegmentOrdinal ordinal;  // registration order (from 1), kept by a replacement, never reused
  std::string id;                 // 32 lowercase hex chars from ("segment:" alias ":" ordinal)
  std::string alias;
  std::string text;                      // the FILTER text as registered
  std::vector<std::string> fields_read;  // through INCLUDE; "a.b.c" also lists "a.b" and "a"; sorted
  bool time_dependent = false;           // date math, now() or countsince, directly or via INCLUDE
  ConditionPtr condition;
  std::vector<std::string> includes;  // aliases this segment INCLUDEs directly, sorted, unique
  std::shared_ptr<const SegmentLabel> label;  // {id, alias}
};

struct RegisterOutcome {
  std::string text;
  Result<model::SegmentOrdinal> result = model::SegmentOrdinal{};
  bool replaced = false;
};

struct BatchResult {
  std::vector<RegisterOutcome> outcomes;        // one per input, in input order
  std::vector<model::SegmentOrdinal> changed;  // new, replaced, and their includers; ascending
};

// A segment's answer for a profile at an instant, and when it will next change by time alone.
struct SegmentAnswer {
  bool member = false;
  TimestampMs next_change = model::kNoTime;
};

class Catalog final {
 public:
  Catalog() = default;
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Registers or replaces (same alias) segments together, so they may INCLUDE each other. Every
  // batch segment on an INCLUDE cycle is rejected, and so is one that includes a rejected one;
  // a rejected segment changes nothing.
  BatchResult register_batch(const std::vector<std::string>& texts);
  // Refused while another segment INCLUDEs it. Returns the removed ordinal.
  Result<std::vector<model::SegmentOrdinal>> remove(std::string_view alias);

  const Segment* find(std::string_view alias) const;
  const Segment* get(model::SegmentOrdinal ordinal) const;
  std::vector<model::SegmentOrdinal> ordinals() const;  // ascending
  // Segments whose value may change when this profile field changes, as a bitmap over ordinals
  // (core/bitmap.h: the engine ORs those of an event's changed fields). Empty if none.
  const std::vector<std::uint64_t>& segment_bits_reading(std::string_view field) const;
  // Segments that may change by time alone (directly or through INCLUDE); ascending.
  const std::vector<model::SegmentOrdinal>& time_dependent_segments() const {
    return time_dependent_;
  }

  // Evaluation runs on each segment's compiled Plan (plan.h): the same answers as
  // evaluate_condition on the parsed tree, without its lookups and allocations.
  bool evaluate(model::SegmentOrdinal ordinal, const model::FieldSource& profile,
                TimestampMs now) const;
  // The earliest t > now at which evaluate(ordinal, profile, t) may differ from its value at now
  // by time alone, or model::kNoTime. Exact for the language's atoms; never late.
  TimestampMs next_change(model::SegmentOrdinal ordinal, const model::FieldSource& profile,
                          TimestampMs now) const;
  // evaluate and next_change together (kNoTime for a segment that is not time-dependent),
  // sharing the evaluation at now and the field lookups.
  SegmentAnswer evaluate_with_next_change(model::SegmentOrdinal ordinal,
                                          const model::FieldSource& profile,
                                          TimestampMs now) const;
  // evaluate_with_next_change for several segments of one profile at one instant; each field is
  // looked up once for all of them. `out` is resized to ordinals.size(); an unknown ordinal
  // answers {false, kNoTime}.
  void evaluate_with_next_change(std::span<const model::SegmentOrdinal> ordinals,
                                 const model::FieldSource& profile, TimestampMs now,
                                 std::vector<SegmentAnswer>& out) const;

  // Restart: re-register known segments with their ordinals, in ascending ordinal order; INCLUDE
  // targets are resolved by finish_restore(), which must be called before anything else.
  Status restore(model::SegmentOrdinal ordinal, std::string_view text);
  Status finish_restore();
  // The ordinal the next new segment gets: never reused after a removal. A restart restores it
  // with restore_next_ordinal (restore() alone would give the highest stored ordinal + 1).
  std::uint32_t next_ordinal() const { return next_ordinal_; }
  void restore_next_ordinal(std::uint32_t next) { next_ordinal_ = std::max(next_ordinal_, next); }

 private:
  // Field slots beyond this many are read without remembering (FieldReader on the stack).
  static constexpr std::uint32_t kMaxFieldSlots = 64;

  const Plan* plan(model::SegmentOrdinal ordinal) const {
    return ordinal.value < plans_.size() ? plans_[ordinal.value].get() : nullptr;
  }
  // Answers ordinals[i] into out[i], sharing one FieldReader.
  void answer_all(std::span<const model::SegmentOrdinal> ordinals,
                  const model::FieldSource& profile, TimestampMs now, SegmentAnswer* out) const;
  std::uint32_t reader_slots() const {
    return std::min<std::uint32_t>(static_cast<std::uint32_t>(field_slots_.size()), kMaxFieldSlots);
  }
  // Recomputes fields_read, time_dependent, the indexes and the plans from the current segments.
  void rebuild();

  std::map<std::uint32_t, Segment> segments_;  // by ordinal
  std::vector<const Segment*> by_ordinal_;     // into segments_ (its nodes are stable)
  std::vector<std::unique_ptr<Plan>> plans_;   // by ordinal; null for unused ordinals
  // Field path -> FieldReader slot, for the paths the plans read.
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> field_slots_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> by_alias_;
  std::unordered_map<std::string, std::vector<std::uint64_t>, StringHash, std::equal_to<>>
      bits_by_field_;
  std::vector<model::SegmentOrdinal> time_dependent_;
  std::uint32_t next_ordinal_ = 1;
};

// "segment:" + alias + ":" + ordinal, hashed to 32 lowercase hex characters.
std::string segment_id(std::string_view alias, model::SegmentOrdinal ordinal);

}  // namespace shoal::segment
