#include "segment/plan.h"

#include <algorithm>
#include <cassert>
#include <functional>

namespace shoal::segment {
namespace {

using model::Value;

constexpr int kMaxSteps = 64;
constexpr std::size_t kCachedLeaves = 16;
// Counts and instants within +-2^61 ms keep every sum below in range (no saturation), which
// the closed forms assume; anything beyond runs on the tree.
constexpr TimestampMs kSafeMs = TimestampMs{1} << 61;

int sign(std::int64_t a, std::int64_t b) { return a < b ? -1 : (b < a ? 1 : 0); }

// satisfies() inlined for the hot path. For two scalars, == and != are any_equal's answer.
inline bool test(CompareOp op, int three_way) {
  switch (op) {
    case CompareOp::kEq: return three_way == 0;
    case CompareOp::kNe: return three_way != 0;
    case CompareOp::kGt: return three_way > 0;
    case CompareOp::kGe: return three_way >= 0;
    case CompareOp::kLt: return three_way < 0;
    case CompareOp::kLe: return three_way <= 0;
  }
  return false;
}

// Timestamps t of a newest-first series with from < t <= now.
std::int64_t count_in_window(const model::TimeSeries& times, TimestampMs from, TimestampMs now) {
  if (from >= now) return 0;
  auto newer_than = [](TimestampMs bound) { return [bound](TimestampMs t) { return t > bound; }; };
  auto first_in = std::partition_point(times.begin(), times.end(), newer_than(now));
  auto first_out = std::partition_point(first_in, times.end(), newer_than(from));
  return first_out - first_in;
}

// The tree evaluator's next change of one atom, with a per-thread buffer for its candidates.
TimestampMs tree_change(const Condition& atom, const model::FieldSource& source, TimestampMs now) {
  thread_local std::vector<TimestampMs> scratch;
  return next_change(atom, source, now, nullptr, kMaxSteps, scratch);
}

// A date m against now + offset (fixed, in range): now + offset meets m at `meet` = m - offset
// and passes it a millisecond later, so the answer can change only at one of those two. The
// first of them after `now` where `holds` differs from `at_now`, or kNoTime.
template <typename Holds>
TimestampMs change_at_meeting(TimestampMs meet, TimestampMs now, bool at_now, Holds holds) {
  if (meet > now && holds(meet) != at_now) return meet;
  if (meet + 1 > now && holds(meet + 1) != at_now) return meet + 1;
  return model::kNoTime;
}

}  // namespace

const model::Value FieldReader::kUnreadMarker;

void Plan::compile(ConditionPtr condition, const Linker& linker) {
  condition_ = std::move(condition);
  nodes_.clear();
  literals_.clear();
  time_leaves_.clear();
  add(*condition_, linker);
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    const bool inner = n.op == Op::kTrue || n.op == Op::kAnd || n.op == Op::kOr || n.op == Op::kNot;
    if (!inner && n.time_dependent) time_leaves_.push_back(i);
  }
  direct_ = nodes_.size() == 1 && nodes_[0].op == Op::kFieldNow && nodes_[0].fixed_offset;
}

bool Plan::answer_in_closed_form(FieldReader& fields, TimestampMs now, bool& member,
                                 TimestampMs& next) const {
  const Node& n = nodes_[0];
  const Value* value = fields.find(n.slot, n.name);
  if (value == nullptr || !(value->is_date() || value->is_int())) return false;
  const TimestampMs m = value->is_date() ? value->as_date() : value->as_int();
  if (m >= kSafeMs || m <= -kSafeMs || now >= kSafeMs || now <= -kSafeMs) return false;
  // In range, now + offset does not saturate, so this is eval_field_now's answer.
  auto holds = [&](TimestampMs t) { return test(n.compare, sign(m, t + n.offset)); };
  member = holds(now);
  next = change_at_meeting(m - n.offset, now, member, holds);
  if (PlanMemo* memo = fields.memo(memo_slot_, now)) {
    memo->member = member;
    memo->member_generation = fields.generation();
    memo->change = next;
    memo->change_generation = fields.generation();
  }
  return true;
}

std::uint32_t Plan::add(const Condition& c, const Linker& linker) {
  const auto index = static_cast<std::uint32_t>(nodes_.size());
  nodes_.emplace_back();
  Node n;
  switch (c.kind) {
    case ConditionKind::kAll: n.op = Op::kTrue; break;
    case ConditionKind::kAnd:
    case ConditionKind::kOr:
    case ConditionKind::kNot: {
      n.op = c.kind == ConditionKind::kAnd  ? Op::kAnd
             : c.kind == ConditionKind::kOr ? Op::kOr
                                            : Op::kNot;
      for (const ConditionPtr& child : c.children) {
        const std::uint32_t at = add(*child, linker);
        n.time_dependent = n.time_dependent || nodes_[at].time_dependent;
      }
      break;
    }
    case ConditionKind::kInclude: {
      const Include target = linker.include(c.alias);
      n.op = Op::kInclude;
      n.include = target.plan;
      n.time_dependent = target.plan != nullptr && target.time_dependent;
      break;
    }
    default: {
      n.op = Op::kTree;
      n.atom = &c;
      n.time_dependent = c.time_dependent;
      const Expr& left = *c.left;
      auto all_literals = [&] {
        return std::all_of(c.operands.begin(), c.operands.end(),
                           [](const ExprPtr& e) { return e->kind == ExprKind::kLiteral; });
      };
      if (c.kind == ConditionKind::kExists && left.kind == ExprKind::kField) {
        n.op = Op::kExists;
        n.field = left.text;
      } else if (c.kind == ConditionKind::kCompare && left.kind == ExprKind::kField) {
        const Expr& right = *c.operands[0];
        n.field = left.text;
        n.compare = c.op;
        if (right.kind == ExprKind::kLiteral) {
          n.op = Op::kFieldLiteral;
          n.literal = &right.literal;
        } else if (right.is_now()) {
          n.op = Op::kFieldNow;
          // now() is "now" with no offset.
          n.math = right.kind == ExprKind::kDateMath ? right.date_math : DateMath{};
          n.fixed_offset =
              !n.math.calendar() && n.math.fixed_ms() < kSafeMs && n.math.fixed_ms() > -kSafeMs;
          if (n.fixed_offset) n.offset = n.math.fixed_ms();
        }
      } else if (c.kind == ConditionKind::kCompare && left.kind == ExprKind::kCall &&
                 left.function == Function::kCountSince &&
                 c.operands[0]->kind == ExprKind::kLiteral) {
        n.op = Op::kCountSince;
        n.compare = c.op;
        n.field = left.args[0]->text;
        n.math = left.args[1]->date_math;
        n.literal = &c.operands[0]->literal;
      } else if ((c.kind == ConditionKind::kIn || c.kind == ConditionKind::kIntersects) &&
                 left.kind == ExprKind::kField && all_literals()) {
        n.op = Op::kFieldIn;
        n.field = left.text;
        n.literals_begin = static_cast<std::uint32_t>(literals_.size());
        n.strings_only = true;
        for (const ExprPtr& e : c.operands) {
          literals_.push_back(&e->literal);
          n.strings_only = n.strings_only && e->literal.is_string();
        }
        n.literals_end = static_cast<std::uint32_t>(literals_.size());
      }
      break;
    }
  }
  if (!n.field.empty()) {
    n.slot = linker.field_slot(n.field);
    n.name = model::FieldName::intern(n.field);
  }
  n.end = static_cast<std::uint32_t>(nodes_.size());
  nodes_[index] = n;
  return index;
}

bool Plan::eval(std::uint32_t index, FieldReader& fields, TimestampMs now) const {
  // Only the inner nodes and the cheapest leaves here: a small recursive function saves and
  // restores few registers, and it runs several times per segment (the leaves' own code, with
  // its lambdas and calls, made every call's prologue and epilogue ~20 instructions).
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::kTrue: return true;
    case Op::kAnd:
      for (std::uint32_t j = index + 1; j < n.end; j = nodes_[j].end) {
        if (!eval(j, fields, now)) return false;
      }
      return true;
    case Op::kOr:
      for (std::uint32_t j = index + 1; j < n.end; j = nodes_[j].end) {
        if (eval(j, fields, now)) return true;
      }
      return false;
    case Op::kNot: return !eval(index + 1, fields, now);
    case Op::kInclude: return n.include != nullptr && n.include->evaluate(fields, now);
    default:
      return eval_leaf(n, fields, now);
  }
}

bool Plan::eval_leaf(const Node& n, FieldReader& fields, TimestampMs now) const {
  switch (n.op) {
    case Op::kTree: return evaluate_condition(*n.atom, fields.source(), now, nullptr);
    case Op::kExists: {
      const Value* v = fields.find(n.slot, n.name);
      return v != nullptr && !v->is_empty();
    }
    case Op::kFieldLiteral: {
      const Value* v = fields.find(n.slot, n.name);
      const Value& r = *n.literal;
      if (v != nullptr) {
        // The common scalar pairs, as compare_scalars orders them; the rest on the general path.
        if (v->is_string() && r.is_string()) {
          const int c = v->as_string().compare(r.as_string());
          return test(n.compare, c < 0 ? -1 : (c > 0 ? 1 : 0));
        }
        if (v->is_int() && r.is_int()) return test(n.compare, sign(v->as_int(), r.as_int()));
      }
      return compare_operands(n.compare, v, &r);
    }
    case Op::kFieldIn:
      return eval_field_in(n, fields);
    case Op::kFieldNow:
      return eval_field_now(n, fields.find(n.slot, n.name), now);
    case Op::kCountSince: return eval_count_since(n, fields, now);
    default:
      return false;  // inner nodes are eval's
  }
}

bool Plan::eval_field_in(const Node& n, FieldReader& fields) const {
  const Value* v = fields.find(n.slot, n.name);
  if (v == nullptr) return false;
  const auto begin = literals_.begin() + n.literals_begin;
  const auto end = literals_.begin() + n.literals_end;
  // One scalar of the field against the literals, as any_equal compares them.
  auto scalar_matches = [&](const Value& e) {
    if (n.strings_only && e.is_string()) {
      const std::string& s = e.as_string();
      return std::any_of(begin, end, [&](const Value* lit) { return lit->as_string() == s; });
    }
    return std::any_of(begin, end, [&](const Value* lit) {
      auto c = compare_scalars(e, *lit);
      return c.has_value() && *c == 0;
    });
  };
  if (v->is_list()) {
    const model::ValueList& list = v->as_list();
    return std::any_of(list.begin(), list.end(), scalar_matches);
  }
  if (v->is_string()) return scalar_matches(*v);
  return std::any_of(begin, end, [&](const Value* lit) { return any_equal(*v, *lit); });
}

bool Plan::eval_field_now(const Node& n, const Value* value, TimestampMs now) const {
  const TimestampMs x = apply_date_math(n.math, now);
  if (value != nullptr && (value->is_date() || value->is_int())) {
    const TimestampMs m = value->is_date() ? value->as_date() : value->as_int();
    return test(n.compare, sign(m, x));
  }
  const Value right(model::Date{x});
  return compare_operands(n.compare, value, &right);
}

bool Plan::eval_count_since(const Node& n, FieldReader& fields, TimestampMs now) const {
  const Value* series = fields.find(n.slot, n.name);
  std::int64_t count = 0;
  if (series != nullptr && series->is_times()) {
    const model::TimeSeries& times = series->as_times();
    assert(std::is_sorted(times.begin(), times.end(), std::greater<>()));  // newest first
    count = count_in_window(times, apply_date_math(n.math, now), now);
  } else if (series != nullptr) {
    count = evaluate_operand(*n.atom->left, fields.source(), now).value().as_int();
  }
  if (n.literal->is_int()) return test(n.compare, sign(count, n.literal->as_int()));
  const Value left(count);
  return compare_operands(n.compare, &left, n.literal);
}

TimestampMs Plan::change_after(FieldReader& fields, TimestampMs now, const bool* current) const {
  if (time_leaves_.empty()) return model::kNoTime;
  PlanMemo* memo = fields.memo(memo_slot_, now);
  if (memo == nullptr) return compute_change_after(fields, now, current);
  // The answer does not depend on `current` (it only saves evaluating the plan at now).
  if (memo->change_generation != fields.generation()) {
    memo->change = compute_change_after(fields, now, current);
    memo->change_generation = fields.generation();
  }
  return memo->change;
}

TimestampMs Plan::compute_change_after(FieldReader& fields, TimestampMs now,
                                       const bool* current) const {
  // Descend while the answer is one time-dependent node's (or its negation): under AND, the
  // other children are true and cannot change by time; under OR, false. A time-independent
  // child that decides an AND or OR freezes the answer.
  std::uint32_t i = 0;
  while (true) {
    const Node& n = nodes_[i];
    if (n.op == Op::kNot) {
      ++i;
      continue;
    }
    if (n.op != Op::kAnd && n.op != Op::kOr) return leaf_change(n, fields, now);
    const bool deciding = n.op == Op::kOr;
    std::uint32_t live = 0;
    int live_count = 0;
    for (std::uint32_t j = i + 1; j < n.end; j = nodes_[j].end) {
      if (nodes_[j].time_dependent) {
        live = j;
        ++live_count;
      } else if (eval(j, fields, now) == deciding) {
        return model::kNoTime;
      }
    }
    if (live_count != 1) break;
    i = live;
  }
  // The answer can change only when a time-dependent leaf does: step from one leaf change to the
  // next, re-evaluating the whole condition only there. A leaf's change found at an earlier step
  // still holds while it lies ahead.
  const bool at_now = current != nullptr ? *current : evaluate(fields, now);
  TimestampMs cached[kCachedLeaves];
  const bool use_cache = time_leaves_.size() <= kCachedLeaves;
  TimestampMs t = now;
  for (int step = 0;; ++step) {
    TimestampMs next = model::kNoTime;
    for (std::size_t k = 0; k < time_leaves_.size(); ++k) {
      TimestampMs change;
      if (use_cache && step > 0 && cached[k] > t) {
        change = cached[k];
      } else {
        change = leaf_change(nodes_[time_leaves_[k]], fields, t);
      }
      if (use_cache) cached[k] = change;
      next = std::min(next, change);
    }
    if (next == model::kNoTime || step == kMaxSteps) return next;
    if (evaluate(fields, next) != at_now) return next;
    t = next;
  }
}

TimestampMs Plan::leaf_change(const Node& n, FieldReader& fields, TimestampMs now) const {
  switch (n.op) {
    case Op::kInclude: return n.include->change_after(fields, now, nullptr);
    case Op::kFieldNow: return field_now_change(n, fields, now);
    case Op::kCountSince: return count_since_change(n, fields, now);
    default: return tree_change(*n.atom, fields.source(), now);
  }
}

TimestampMs Plan::field_now_change(const Node& n, FieldReader& fields, TimestampMs now) const {
  const Value* value = fields.find(n.slot, n.name);
  if (value == nullptr || !(value->is_date() || value->is_int())) {
    return tree_change(*n.atom, fields.source(), now);
  }
  // One instant against the moving one: the tree's candidates, tried against this atom only.
  const TimestampMs m = value->is_date() ? value->as_date() : value->as_int();
  const bool at_now = eval_field_now(n, value, now);
  if (n.fixed_offset && m < kSafeMs && m > -kSafeMs) {
    return change_at_meeting(m - n.offset, now, at_now,
                             [&](TimestampMs t) { return eval_field_now(n, value, t); });
  }
  TimestampMs candidates[kMaxDateMathCrossings];
  const int count = date_math_crossings(n.math, m, now, candidates);
  std::sort(candidates, candidates + count);
  for (int k = 0; k < count; ++k) {
    if (eval_field_now(n, value, candidates[k]) != at_now) return candidates[k];
  }
  return model::kNoTime;
}

TimestampMs Plan::count_since_change(const Node& n, FieldReader& fields, TimestampMs now) const {
  const Value* series = fields.find(n.slot, n.name);
  if (series == nullptr) return model::kNoTime;  // counts 0 at every instant
  if (!series->is_times() || n.math.calendar() || !n.literal->is_int()) {
    return tree_change(*n.atom, fields.source(), now);
  }
  const model::TimeSeries& times = series->as_times();
  const TimestampMs offset = n.math.fixed_ms();
  if (times.empty() || offset >= 0) return model::kNoTime;  // the window is empty forever
  if (times.front() > now || times.front() >= kSafeMs || times.back() <= -kSafeMs ||
      now >= kSafeMs || now <= -kSafeMs || offset <= -kSafeMs) {
    // A future timestamp will enter the window (or the range is extreme): the tree's way.
    return tree_change(*n.atom, fields.source(), now);
  }
  // Every timestamp is <= now, so the count only falls: the one at index i (newest first)
  // leaves at times[i] + width, and from then on at most i remain. The answer of
  // `count op k` can only change when the count falls to k or to k - 1.
  const TimestampMs width = -offset;
  const std::int64_t k = n.literal->as_int();
  auto holds = [&](std::int64_t c) { return test(n.compare, sign(c, k)); };
  std::int64_t count = count_in_window(times, now - width, now);
  const bool at_now = holds(count);
  while (true) {
    // The highest boundary below the count: above it and up to the count the answer is at_now.
    const std::int64_t boundary = k < count ? k : k - 1;
    if (boundary < 0 || boundary >= count) return model::kNoTime;
    const TimestampMs at = times[static_cast<std::size_t>(boundary)] + width;
    count = count_in_window(times, at - width, at);  // <= boundary; below it if equal times
    if (holds(count) != at_now) return at;
  }
}

}  // namespace shoal::segment
