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

// What one plan answered at the memo's instant, for one profile (FieldReader::use_memo).
struct PlanMemo {
  std::uint64_t member_generation = 0;  // `member` holds when this equals the reader's
  std::uint64_t change_generation = 0;  // `change` likewise
  bool member = false;
  TimestampMs change = 0;
};

// A profile's fields as evaluations read them. With slots, each field a plan reads through a
// slot (Catalog-wide numbering) is found once and remembered, so the segments evaluated for one
// profile share their lookups. With a memo, each plan's answer and next change at the memo's
// instant are computed once, so a segment evaluated in the batch and INCLUDEd by others (or
// included by several) is evaluated once. Use one per profile while its fields do not change;
// the caller owns the slots and the memo.
class FieldReader {
 public:
  explicit FieldReader(const model::FieldSource& source) : source_(source) {}
  // `slots[0, count)` are set to unread here.
  FieldReader(const model::FieldSource& source, const model::Value** slots, std::uint32_t count)
      : source_(source), slots_(slots), count_(count) {
    for (std::uint32_t i = 0; i < count; ++i) slots_[i] = kUnread;
  }
  const model::FieldSource& source() const { return source_; }
  const model::Value* find(std::uint32_t slot, model::FieldName path) {
    if (slot >= count_) return source_.find(path);
    const model::Value*& cached = slots_[slot];
    if (cached == kUnread) cached = source_.find(path);
    return cached;
  }

  // Remembers plans' answers at `now` in `memo[plan memo slot]` (`count` entries), under
  // `generation`: entries of any other generation are stale. The generation must be new for
  // every reader (a per-thread counter), so nothing is ever cleared.
  void use_memo(PlanMemo* memo, std::uint32_t count, std::uint64_t generation, TimestampMs now) {
    memo_ = memo;
    memo_count_ = count;
    generation_ = generation;
    memo_now_ = now;
  }
  // The memo entry of a plan for an evaluation at `now`; nullptr when there is none (no memo,
  // another instant, or a plan outside it).
  PlanMemo* memo(std::uint32_t slot, TimestampMs now) const {
    return slot < memo_count_ && now == memo_now_ ? &memo_[slot] : nullptr;
  }
  std::uint64_t generation() const { return generation_; }

 private:
  static const model::Value kUnreadMarker;
  static constexpr const model::Value* kUnread = &kUnreadMarker;
  const model::FieldSource& source_;
  const model::Value** slots_ = nullptr;
  std::uint32_t count_ = 0;
  PlanMemo* memo_ = nullptr;
  std::uint32_t memo_count_ = 0;
  std::uint64_t generation_ = 0;
  TimestampMs memo_now_ = 0;
};

class Plan {
 public:
  // What an INCLUDE alias resolves to: the included segment's plan (nullptr: the INCLUDE is
  // false, as without a resolver) and whether it may change by time alone.
  struct Include {
    const Plan* plan = nullptr;
    bool time_dependent = false;
  };
  // Resolves names at compile time: INCLUDE aliases, and field paths to FieldReader slots.
  struct Linker {
    std::function<Include(std::string_view alias)> include;
    std::function<std::uint32_t(std::string_view path)> field_slot;
  };

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // (Re)compiles from `condition`. Included plans need not be compiled yet, only to exist.
  void compile(ConditionPtr condition, const Linker& linker);

  bool evaluate(FieldReader& fields, TimestampMs now) const {
    PlanMemo* memo = fields.memo(memo_slot_, now);
    if (memo == nullptr) return eval(0, fields, now);
    if (memo->member_generation != fields.generation()) {
      memo->member = eval(0, fields, now);
      memo->member_generation = fields.generation();
    }
    return memo->member;
  }
  // The earliest t > now with evaluate(t) != current by time alone, or kNoTime; `current` must be
  // evaluate(fields, now). Exact unless an atom outside the fast shapes has more than 64
  // candidate instants or the answer needs more than 64 steps; then early, never late.
  TimestampMs next_change(FieldReader& fields, TimestampMs now, bool current) const {
    return change_after(fields, now, &current);
  }
  // The same, evaluating the answer at now only where it is needed.
  TimestampMs next_change(FieldReader& fields, TimestampMs now) const {
    return change_after(fields, now, nullptr);
  }

  bool time_dependent() const { return !time_leaves_.empty(); }

  // evaluate() and next_change() at once, in closed form, for a plan that is one date field
  // compared with now plus a fixed offset (`last_seen > "now-7d"`: the commonest time-dependent
  // segment, where the general path took ~250 instructions). False when the plan is not of that
  // shape or the field is not a date or integer within range: then ask evaluate and next_change.
  bool answer_directly(FieldReader& fields, TimestampMs now, bool& member,
                       TimestampMs& next) const {
    return direct_ && answer_in_closed_form(fields, now, member, next);
  }

  // The plan's entry in a FieldReader's memo (the Catalog numbers its plans by ordinal); plans
  // without one are never memoized.
  void set_memo_slot(std::uint32_t slot) { memo_slot_ = slot; }

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
    model::FieldName name;                   // `field` interned
    std::uint32_t slot = UINT32_MAX;         // the field's FieldReader slot
    const model::Value* literal = nullptr;   // kFieldLiteral, kCountSince
    std::uint32_t literals_begin = 0;        // kFieldIn: range of literals_
    std::uint32_t literals_end = 0;
    DateMath math;                           // kFieldNow, kCountSince
    bool fixed_offset = false;               // kFieldNow: math is `offset` ms, within range
    TimestampMs offset = 0;
    const Condition* atom = nullptr;         // the parsed atom (all atoms)
    const Plan* include = nullptr;           // kInclude
  };

  std::uint32_t add(const Condition& c, const Linker& linker);
  // next_change; evaluates the answer at now only if it needs it (current == nullptr). Through
  // the reader's memo when it has the plan's entry for `now`.
  TimestampMs change_after(FieldReader& fields, TimestampMs now, const bool* current) const;
  TimestampMs compute_change_after(FieldReader& fields, TimestampMs now,
                                   const bool* current) const;
  bool eval(std::uint32_t index, FieldReader& fields, TimestampMs now) const;
  [[gnu::noinline]] bool eval_leaf(const Node& n, FieldReader& fields, TimestampMs now) const;
  bool eval_field_in(const Node& n, FieldReader& fields) const;
  bool answer_in_closed_form(FieldReader& fields, TimestampMs now, bool& member,
                             TimestampMs& next) const;
  bool eval_field_now(const Node& n, const model::Value* value, TimestampMs now) const;
  bool eval_count_since(const Node& n, FieldReader& fields, TimestampMs now) const;
  // The earliest t > now at which the leaf's own value may change (never late).
  TimestampMs leaf_change(const Node& n, FieldReader& fields, TimestampMs now) const;
  TimestampMs field_now_change(const Node& n, FieldReader& fields,
                               TimestampMs now) const;
  TimestampMs count_since_change(const Node& n, FieldReader& fields,
                                 TimestampMs now) const;

  ConditionPtr condition_;
  std::vector<Node> nodes_;
  std::vector<const model::Value*> literals_;
  std::vector<std::uint32_t> time_leaves_;  // time-dependent atoms and INCLUDEs
  std::uint32_t memo_slot_ = UINT32_MAX;
  bool direct_ = false;  // one kFieldNow node with a fixed offset: answer_directly applies
};

}  // namespace shoal::segment
