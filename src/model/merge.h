#pragma once
// Field merge: one rule for both an event's value arriving on a profile and two profiles being
// stitched together, so the result does not depend on which path a value took.
#include <cstddef>

#include "model/profile.h"

namespace shoal::model {

struct MergeOptions {
  std::size_t series_cap = 1000;  // newest timestamps kept per []time field
};

// Merges `incoming` into `existing` by `op`:
//  latest/oldest keep the value with the larger/smaller (ts, seq);
//  min/max compare numbers, dates or strings; sum adds numbers (map[string]int per key);
//  set unions lists (insertion order) and maps (incoming keys win);
//  append concatenates []time series newest first, capped at options.series_cap.
// Values of different types under min/max/sum/set keep the incoming one.
// Returns true when `existing` changed.
bool merge_field(FieldValue& existing, const FieldValue& incoming, MergeOp op,
                 const MergeOptions& options);

// Caps a newest-first series in place.
void cap_series(TimeSeries& series, std::size_t cap);

}  // namespace shoal::model
