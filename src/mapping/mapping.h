#pragma once
// The mapping language (an LQL subset): a parsed SELECT ... FROM <stream> INTO user BY ... that
// turns one event of a stream into identities and profile field values. A Mapping is immutable
// after parse_mapping and may be shared between threads; apply_mapping writes only its output.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "model/kind.h"
#include "model/profile.h"
#include "model/value.h"

namespace shoal::segment {
struct Expr;
struct Condition;
}  // namespace shoal::segment

namespace shoal::mapping {

// What a column computes per event.
enum class Aggregate : std::uint8_t {
  kNone,    // plain expression: its value
  kSet,     // set(x): x as a set of strings, unioned into the profile
  kCount,   // count(*) / count(x): 1 per matching event (where x is present)
  kSum,     // sum(x)
  kMin,     // min(x)
  kMax,     // max(x)
  kAppend,  // append(x): x's timestamp(s) appended to a []time series
};

std::string_view aggregate_name(Aggregate aggregate);

struct Column {
  std::string name;  // output name (AS, or derived from the expression; see docs)
  model::FieldName field_name;  // `name` interned (set by parse_mapping)
  Aggregate aggregate = Aggregate::kNone;
  std::string expression_text;  // the expression as written (aggregate call included)
  // The value expression (the aggregate's argument for an aggregate); null for count(*).
  std::shared_ptr<const segment::Expr> expr;
  // When the expression is a bare event field (or `_ts`), its path: read directly, no evaluation.
  std::string field_path;
  bool reads_field_directly = false;
  bool reads_timestamp = false;  // the expression is `_ts`
  std::shared_ptr<const segment::Condition> condition;  // IF; null when absent
  std::string condition_text;
  model::Kind kind = model::Kind::kString;
  model::MergeOp merge = model::MergeOp::kLatest;
  bool kind_explicit = false;   // KIND was written
  bool merge_explicit = false;  // MERGEOP was written
  bool is_identity = false;     // named in BY
  int identity_priority = -1;   // index in BY (0 = highest) for identity columns
  std::string shortdesc;
  std::string longdesc;
  int line = 1;  // position of the column's expression in the mapping text
  int column = 1;
};

struct Mapping {
  std::string text;                          // as given
  std::string stream;                        // FROM
  std::string alias;                         // ALIAS (may be empty)
  std::vector<std::string> identity_fields;  // BY, priority order (first = highest)
  std::vector<Column> columns;               // in SELECT order
  std::shared_ptr<const segment::Condition> where;  // WHERE; null when absent
  std::string where_text;
  // Index into `columns` of each identity field, parallel to identity_fields.
  std::vector<std::size_t> identity_columns;

  const Column* find_column(std::string_view name) const;
};

// Parses mapping text. Errors read "line L, col C: <what is wrong>" with positions in `text`.
Result<Mapping> parse_mapping(std::string_view text);

// value.value is coerced to the column's kind; value.ts = event ts; value.seq = seq;
// value.merge = the column's merge op.
struct MappedField {
  model::FieldName name;
  model::FieldValue value;
};

// A column whose value did not fit (wrong kind): the field is dropped, not the event.
struct DroppedField {
  std::string name;
  std::string reason;  // "field 'age': a string value does not fit kind int (...)"
};

struct MappedEvent {
  bool where_matched = false;  // false: WHERE rejected the event (nothing else is filled)
  // Present BY identities in BY priority order; values are unique strings in insertion order.
  std::vector<model::Identity> identities;
  // Non-identity columns that produced a value (IF held, value present and of the right kind).
  std::vector<MappedField> fields;
  std::vector<DroppedField> dropped;
  // Per column of the last mapping applied: where its field was among the event's keys, tried
  // first in the next event (a hint: any value gives the same result).
  std::vector<std::size_t> key_hints;
  // Empties the event, keeping the vectors' capacity.
  void clear();
};

// Applies one mapping to one event. `event` is the event's data (a map Value), `event_ts` its
// timestamp (what `_ts` reads), `now` the engine's clock (what now() returns), `seq` the
// engine's processing sequence number of the event. `out` is cleared first.
void apply_mapping(const Mapping& mapping, const model::Value& event, TimestampMs event_ts,
                   TimestampMs now, std::uint64_t seq, MappedEvent& out);
// Only the WHERE clause and the identities of apply_mapping (`fields` left empty): what an
// event will be stitched to, for looking ahead.
void map_identities(const Mapping& mapping, const model::Value& event, TimestampMs event_ts,
                    TimestampMs now, MappedEvent& out);

}  // namespace shoal::mapping
