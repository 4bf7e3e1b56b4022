#pragma once
// The boolean phrase of the segment language (also the mapping language's IF/WHERE clauses):
// AND/OR lists and infix AND/OR, NOT, parentheses, comparisons, EXISTS, [NOT] IN / INTERSECTS /
// CONTAINS / LIKE / BETWEEN, INCLUDE <alias> and `*`. Two-valued logic: a test on a missing
// field is false and NOT inverts it. Parsed trees are immutable and may be shared.
#include <memory>
#include <string>
#include <vector>

#include "segment/expression.h"

namespace shoal::segment {

enum class ConditionKind : std::uint8_t {
  kAll,       // *
  kAnd,
  kOr,
  kNot,
  kCompare,   // left op right
  kExists,    // EXISTS left
  kIn,        // left IN (operands...)
  kIntersects,
  kContains,  // left CONTAINS operands[0]
  kLike,      // left LIKE operands[0]
  kBetween,   // left BETWEEN operands[0] AND operands[1]
  kInclude,   // INCLUDE alias
};

enum class CompareOp : std::uint8_t { kEq, kNe, kGt, kGe, kLt, kLe };

struct Condition;
using ConditionPtr = std::shared_ptr<const Condition>;

struct Condition {
  ConditionKind kind = ConditionKind::kAll;
  CompareOp op = CompareOp::kEq;       // kCompare
  std::vector<ConditionPtr> children;  // kAnd, kOr, kNot (one child)
  ExprPtr left;                        // the tested operand
  std::vector<ExprPtr> operands;       // right side(s)
  std::string alias;                   // kInclude
  int line = 1;                        // position of the phrase (kInclude: of the alias)
  int column = 1;
  bool time_dependent = false;         // date math, now() or countsince inside (not via INCLUDE)
};

struct ParseOptions {
  bool allow_include = true;
};

// Parses a phrase starting at tokens[pos]; stops before the first token that cannot continue it
// and advances pos. Errors read "line L, col C: ...".
Result<ConditionPtr> parse_condition(const std::vector<Token>& tokens, std::size_t& pos,
                                     const ParseOptions& options = {});

// Evaluates INCLUDE for the evaluator; the Catalog implements it.
class IncludeResolver {
 public:
  virtual ~IncludeResolver() = default;
  virtual bool evaluate_include(const Condition& include, const model::FieldSource& source,
                                TimestampMs now) const = 0;
  // Appends the instants > now at which the included segment's value may change by time alone.
  virtual void include_change_candidates(const Condition& include,
                                         const model::FieldSource& source, TimestampMs now,
                                         std::vector<TimestampMs>& out) const = 0;
};

// Evaluates a condition. Without a resolver an INCLUDE is false.
bool evaluate_condition(const Condition& condition, const model::FieldSource& source,
                        TimestampMs now, const IncludeResolver* resolver = nullptr);

// Field paths the condition reads (not through INCLUDE), in order of appearance, with repeats.
void collect_fields(const Condition& condition, std::vector<std::string>& out);
// Aliases named by INCLUDE, with their conditions (for positions in error messages).
void collect_includes(const Condition& condition, std::vector<const Condition*>& out);

// Appends instants t > now at which the condition's value may change by time alone: every such
// change happens at one of them (the list may hold more). Through INCLUDE via the resolver.
void collect_change_candidates(const Condition& condition, const model::FieldSource& source,
                               TimestampMs now, const IncludeResolver* resolver,
                               std::vector<TimestampMs>& out);

// The earliest t > now with evaluate(t) != evaluate(now) by time alone, or model::kNoTime. Exact
// unless more than `max_evaluations` candidates must be tried; then it returns the next untried
// candidate, which is early, never late.
TimestampMs next_change(const Condition& condition, const model::FieldSource& source,
                        TimestampMs now, const IncludeResolver* resolver = nullptr,
                        int max_evaluations = 64);

// next_change with a caller's buffer for the candidates (cleared first), so that a caller on the
// hot path allocates nothing once the buffer has grown.
TimestampMs next_change(const Condition& condition, const model::FieldSource& source,
                        TimestampMs now, const IncludeResolver* resolver, int max_evaluations,
                        std::vector<TimestampMs>& scratch);

// Instants t > now at which `math`'s instant crosses `threshold`: the value of
// apply_date_math(math, t) compared with `threshold` can change only at these t.
void date_math_crossings(const DateMath& math, TimestampMs threshold, TimestampMs now,
                         std::vector<TimestampMs>& out);
// The same into a fixed buffer (in no particular order); returns how many were written.
inline constexpr int kMaxDateMathCrossings = 32;
int date_math_crossings(const DateMath& math, TimestampMs threshold, TimestampMs now,
                        TimestampMs (&out)[kMaxDateMathCrossings]);

// A kCompare atom's test of evaluated operands (nullptr: missing), with the language's coercions
// and any-element semantics for lists and series.
bool compare_operands(CompareOp op, const model::Value* left, const model::Value* right);
// Whether any element of `left` equals any element of `right` (a map on the left offers its keys):
// the equality of ==, IN and INTERSECTS.
bool any_equal(const model::Value& left, const model::Value& right);
// The result of a three-way comparison under `op`.
bool satisfies(CompareOp op, int three_way);

// Glob match: '*' and '%' match any run of bytes, '?' one byte; case-sensitive.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace shoal::segment
