#pragma once
// Plan: a segment's condition compiled for the engine's hot path. Atoms of the common shapes are
// specialised (a field against literals, a date field against date math, countsince against an
// integer, EXISTS) and INCLUDE points at the included segment's plan; any other atom runs on the
// tree evaluator (condition.h), so a plan's answers are exactly the tree's. next_change steps
// from one atom change to the next, each computed in closed form where the atom allows.
// Built and owned by the Catalog, immutable once compiled; holds no per-call state.
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "model/ids.h"
#include "segment/condition.h"

namespace shoal::segment {

class Plan {
 public:
  // What an INCLUDE alias resolves to: the included segment's plan (nullptr: the INCLUDE is
  // false, as without a resolver) and whether it may change by time alone.
  struct Include {
    const Plan* plan = nullptr;
    bool time_dependent = false;
  };
  using IncludeLookup = std::function<Include(std::string_view alias)>;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // (Re)compiles from `condition`. Included plans need not be compiled yet, only to exist.
  void compile(ConditionPtr condition, const IncludeLookup& lookup);

  bool evaluate(const model::FieldSource& source, TimestampMs now) const;
  // The earliest t > now with evaluate(t) != current by time alone, or kNoTime; `current` must be
  // evaluate(source, now). Exact unless an atom outside the fast shapes has more than 64
  // candidate instants or the answer needs more than 64 steps; then early, never late.
  TimestampMs next_change(const model::FieldSource& source, TimestampMs now, bool current) const {
    return change_after(source, now, &current);
  }
  // The same, evaluating the answer at now only where it is needed.
  TimestampMs next_change(const model::FieldSource& source, TimestampMs now) const {
    return change_after(source, now, nullptr);
  }

  bool time_dependent() const { return !time_leaves_.empty(); }

 private:
  enum class Op : std::uint8_t {
    kTrue,
    kAnd,
    kOr,
    kNot,
    kInclude,
    kTree,         // any other atom: evaluate_condition on the parsed atom
    kExists,       // EXISTS field
    kFieldLiteral, // field op literal
    kFieldIn,      // field IN / INTERSECTS (literals...)
    kFieldNow,     // field op date math or now()
    kCountSince,   // countsince(field, date math) op literal
  };

  // Nodes are in preorder; a node's children start right after it, and each subtree ends at
  // its `end`, so AND/OR walk their children with j = nodes_[j].end.
  struct Node {
    Op op = Op::kTrue;
    CompareOp compare = CompareOp::kEq;
    bool time_dependent = false;
    bool strings_only = false;  // kFieldIn: every literal is a string
    std::uint32_t end = 0;
    std::string_view field;                  // into the parsed tree, kept alive by condition_
    const model::Value* literal = nullptr;   // kFieldLiteral, kCountSince
    std::uint32_t literals_begin = 0;        // kFieldIn: range of literals_
    std::uint32_t literals_end = 0;
    DateMath math;                           // kFieldNow, kCountSince
    const Condition* atom = nullptr;         // the parsed atom (all atoms)
    const Plan* include = nullptr;           // kInclude
  };

  std::uint32_t add(const Condition& c, const IncludeLookup& lookup);
  // next_change; evaluates the answer at now only if it needs it (current == nullptr).
  TimestampMs change_after(const model::FieldSource& source, TimestampMs now,
                           const bool* current) const;
  bool eval(std::uint32_t index, const model::FieldSource& source, TimestampMs now) const;
  bool eval_field_now(const Node& n, const model::Value* value, TimestampMs now) const;
  bool eval_count_since(const Node& n, const model::FieldSource& source, TimestampMs now) const;
  // The earliest t > now at which the leaf's own value may change (never late).
  TimestampMs leaf_change(const Node& n, const model::FieldSource& source, TimestampMs now) const;
  TimestampMs field_now_change(const Node& n, const model::FieldSource& source,
                               TimestampMs now) const;
  TimestampMs count_since_change(const Node& n, const model::FieldSource& source,
                                 TimestampMs now) const;

  ConditionPtr condition_;
  std::vector<Node> nodes_;
  std::vector<const model::Value*> literals_;
  std::vector<std::uint32_t> time_leaves_;  // time-dependent atoms and INCLUDEs
};

}  // namespace shoal::segment
