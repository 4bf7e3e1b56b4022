#include "segment/condition.h"

#include <algorithm>
#include <cstdlib>

#include "core/time_format.h"
#include "model/ids.h"
#include "model/kind.h"

namespace shoal::segment {
namespace {

using model::Value;

constexpr int kMaxConditionDepth = 64;
constexpr std::int64_t kMsPerDay = 86'400'000;
constexpr std::int64_t kMaxCalendarMs = 9'000'000'000'000'000LL;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, std::size_t pos, const ParseOptions& options)
      : tokens_(tokens), pos_(pos), options_(options) {}

  std::size_t pos() const { return pos_; }

  Result<ConditionPtr> parse_or(bool in_list, int depth) {
    SHOAL_ASSIGN_OR_RETURN(ConditionPtr first, parse_and(in_list, depth));
    if (!infix(in_list, "OR")) return first;
    auto node = std::make_shared<Condition>();
    node->kind = ConditionKind::kOr;
    node->line = first->line;
    node->column = first->column;
    node->time_dependent = first->time_dependent;
    node->children.push_back(std::move(first));
    while (infix(in_list, "OR")) {
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(ConditionPtr next, parse_and(in_list, depth));
      node->time_dependent = node->time_dependent || next->time_dependent;
      node->children.push_back(std::move(next));
    }
    return ConditionPtr(std::move(node));
  }

 private:
  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(std::size_t ahead = 1) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }

  // An infix AND/OR continues the phrase unless, inside an AND/OR list, it starts a new line
  // (then it is the next child: `AND ( a \n OR ( b, c ) )`).
  bool infix(bool in_list, std::string_view keyword) const {
    return is_keyword(cur(), keyword) && !(in_list && cur().newline_before);
  }

  Result<ConditionPtr> parse_and(bool in_list, int depth) {
    SHOAL_ASSIGN_OR_RETURN(ConditionPtr first, parse_unary(depth));
    if (!infix(in_list, "AND")) return first;
    auto node = std::make_shared<Condition>();
    node->kind = ConditionKind::kAnd;
    node->line = first->line;
    node->column = first->column;
    node->time_dependent = first->time_dependent;
    node->children.push_back(std::move(first));
    while (infix(in_list, "AND")) {
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(ConditionPtr next, parse_unary(depth));
      node->time_dependent = node->time_dependent || next->time_dependent;
      node->children.push_back(std::move(next));
    }
    return ConditionPtr(std::move(node));
  }

  Result<ConditionPtr> parse_unary(int depth) {
    if (depth > kMaxConditionDepth) return error_at(cur(), "conditions nested too deeply");
    if (is_keyword(cur(), "NOT")) {
      const Token& not_token = cur();
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(ConditionPtr child, parse_unary(depth + 1));
      auto node = std::make_shared<Condition>();
      node->kind = ConditionKind::kNot;
      node->line = not_token.line;
      node->column = not_token.column;
      node->time_dependent = child->time_dependent;
      node->children.push_back(std::move(child));
      return ConditionPtr(std::move(node));
    }
    return parse_primary(depth);
  }

  Result<ConditionPtr> parse_primary(int depth) {
    const Token& tok = cur();
    auto node = std::make_shared<Condition>();
    node->line = tok.line;
    node->column = tok.column;
    if (tok.kind == TokenKind::kStar) {
      ++pos_;
      node->kind = ConditionKind::kAll;
      return ConditionPtr(std::move(node));
    }
    if (tok.kind == TokenKind::kLeftParen) {
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(ConditionPtr inner, parse_or(false, depth + 1));
      if (cur().kind != TokenKind::kRightParen) {
        return error_at(cur(), "expected ')' to close the '(' at line " +
                                   std::to_string(tok.line) + ", col " +
                                   std::to_string(tok.column) + ", found " +
                                   describe_token(cur()));
      }
      ++pos_;
      return inner;
    }
    if (is_keyword(tok, "AND") || is_keyword(tok, "OR")) {
      const std::string keyword = is_keyword(tok, "AND") ? "AND" : "OR";
      if (peek().kind != TokenKind::kLeftParen) {
        return error_at(peek(), "expected '(' after " + keyword + ", found " +
                                    describe_token(peek()));
      }
      pos_ += 2;
      node->kind = keyword == "AND" ? ConditionKind::kAnd : ConditionKind::kOr;
      if (cur().kind == TokenKind::kRightParen) {
        return error_at(cur(), keyword + " ( ... ) needs at least one condition");
      }
      while (true) {
        SHOAL_ASSIGN_OR_RETURN(ConditionPtr child, parse_or(true, depth + 1));
        node->time_dependent = node->time_dependent || child->time_dependent;
        node->children.push_back(std::move(child));
        if (cur().kind == TokenKind::kComma) {
          ++pos_;
          if (cur().kind == TokenKind::kRightParen) {
            return error_at(cur(), "expected a condition after ',', found ')'");
          }
          continue;
        }
        if (cur().kind == TokenKind::kRightParen) {
          ++pos_;
          break;
        }
        if (cur().newline_before && cur().kind != TokenKind::kEnd) continue;
        return error_at(cur(), "expected ',' or ')' in " + keyword + " ( ... ), found " +
                                   describe_token(cur()));
      }
      return ConditionPtr(std::move(node));
    }
    if (is_keyword(tok, "EXISTS")) {
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(node->left, parse_expression(tokens_, pos_));
      if (node->left->is_now()) return error_at(tok, "EXISTS needs a field, not date math");
      node->kind = ConditionKind::kExists;
      node->time_dependent = node->left->time_dependent;
      return ConditionPtr(std::move(node));
    }
    if (is_keyword(tok, "INCLUDE")) {
      if (!options_.allow_include) return error_at(tok, "INCLUDE is not allowed here");
      const Token& alias = peek();
      if (alias.kind != TokenKind::kIdentifier && alias.kind != TokenKind::kString) {
        return error_at(alias, "expected a segment alias after INCLUDE, found " +
                                   describe_token(alias));
      }
      pos_ += 2;
      node->kind = ConditionKind::kInclude;
      node->alias = alias.text;
      node->line = alias.line;
      node->column = alias.column;
      return ConditionPtr(std::move(node));
    }
    if (tok.kind == TokenKind::kEnd) {
      return error_at(tok, "expected a condition, found end of input");
    }
    if (tok.kind == TokenKind::kRightParen || tok.kind == TokenKind::kComma) {
      return error_at(tok, "expected a condition, found " + describe_token(tok));
    }
    SHOAL_ASSIGN_OR_RETURN(node->left, parse_expression(tokens_, pos_));
    return parse_test(std::move(node));
  }

  // What follows the tested operand: an operator and its right side.
  Result<ConditionPtr> parse_test(std::shared_ptr<Condition> node) {
    const Token& tok = cur();
    if (tok.kind == TokenKind::kOperator) {
      const std::string& t = tok.text;
      node->kind = ConditionKind::kCompare;
      node->op = (t == "==" || t == "=") ? CompareOp::kEq
                 : t == "!="             ? CompareOp::kNe
                 : t == ">"              ? CompareOp::kGt
                 : t == ">="             ? CompareOp::kGe
                 : t == "<"              ? CompareOp::kLt
                                         : CompareOp::kLe;
      ++pos_;
      if (cur().kind == TokenKind::kEnd) {
        return error_at(cur(), "expected a value after '" + t + "', found end of input");
      }
      SHOAL_ASSIGN_OR_RETURN(ExprPtr right, parse_expression(tokens_, pos_));
      node->operands.push_back(std::move(right));
      return finish_atom(std::move(node), tok);
    }
    bool negate = false;
    const Token* not_token = nullptr;
    if (is_keyword(tok, "NOT")) {
      negate = true;
      not_token = &tok;
      ++pos_;
    }
    const Token& op = cur();
    std::shared_ptr<Condition> atom = node;
    if (is_keyword(op, "IN") || is_keyword(op, "INTERSECTS")) {
      const std::string name = is_keyword(op, "IN") ? "IN" : "INTERSECTS";
      node->kind = name == "IN" ? ConditionKind::kIn : ConditionKind::kIntersects;
      ++pos_;
      if (cur().kind != TokenKind::kLeftParen) {
        return error_at(cur(), "expected '(' after " + name + ", found " + describe_token(cur()));
      }
      ++pos_;
      if (cur().kind == TokenKind::kRightParen) {
        return error_at(cur(), name + " ( ... ) needs at least one value");
      }
      while (true) {
        SHOAL_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(tokens_, pos_));
        node->operands.push_back(std::move(item));
        if (cur().kind == TokenKind::kComma) {
          ++pos_;
          continue;
        }
        if (cur().kind == TokenKind::kRightParen) {
          ++pos_;
          break;
        }
        return error_at(cur(), "expected ',' or ')' in " + name + " ( ... ), found " +
                                   describe_token(cur()));
      }
    } else if (is_keyword(op, "CONTAINS") || is_keyword(op, "LIKE")) {
      const bool like = is_keyword(op, "LIKE");
      node->kind = like ? ConditionKind::kLike : ConditionKind::kContains;
      ++pos_;
      if (cur().kind != TokenKind::kString &&
          (like || (cur().kind != TokenKind::kInteger && cur().kind != TokenKind::kFloat))) {
        return error_at(cur(), std::string(like ? "LIKE needs a quoted pattern" :
                                                  "CONTAINS needs a quoted string") +
                                   ", found " + describe_token(cur()));
      }
      SHOAL_ASSIGN_OR_RETURN(ExprPtr pattern, parse_expression(tokens_, pos_));
      node->operands.push_back(std::move(pattern));
    } else if (is_keyword(op, "BETWEEN")) {
      node->kind = ConditionKind::kBetween;
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(ExprPtr low, parse_expression(tokens_, pos_));
      if (!is_keyword(cur(), "AND")) {
        return error_at(cur(), "expected AND in BETWEEN ... AND ..., found " +
                                   describe_token(cur()));
      }
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(ExprPtr high, parse_expression(tokens_, pos_));
      node->operands.push_back(std::move(low));
      node->operands.push_back(std::move(high));
    } else {
      if (negate) {
        return error_at(op, "expected IN, INTERSECTS, CONTAINS, LIKE or BETWEEN after NOT, found " +
                                describe_token(op));
      }
      return error_at(op, "expected an operator (== != > >= < <= IN INTERSECTS CONTAINS LIKE "
                          "BETWEEN) after " + describe_operand(*node->left) + ", found " +
                              describe_token(op));
    }
    SHOAL_ASSIGN_OR_RETURN(ConditionPtr done, finish_atom(std::move(atom), op));
    if (!negate) return done;
    auto not_node = std::make_shared<Condition>();
    not_node->kind = ConditionKind::kNot;
    not_node->line = not_token->line;
    not_node->column = not_token->column;
    not_node->time_dependent = done->time_dependent;
    not_node->children.push_back(std::move(done));
    return ConditionPtr(std::move(not_node));
  }

  static std::string describe_operand(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kField: return "'" + e.text + "'";
      case ExprKind::kCall: return e.text + "()";
      default: return "the value";
    }
  }

  // Checks where the current time may appear, so that next-change times stay exact.
  Result<ConditionPtr> finish_atom(std::shared_ptr<Condition> node, const Token& op) {
    bool left_time = node->left->time_dependent;
    bool right_time = false;
    for (const ExprPtr& e : node->operands) right_time = right_time || e->time_dependent;
    if ((node->kind == ConditionKind::kContains || node->kind == ConditionKind::kLike) &&
        node->left->is_now()) {
      return error_at(op, "date math can only be compared (== != > >= < <= IN BETWEEN)");
    }
    if (left_time && right_time) {
      return error_at(op, "only one side of a comparison may depend on the current time");
    }
    if (node->kind == ConditionKind::kContains || node->kind == ConditionKind::kLike) {
      right_time = false;  // the pattern is read as text, never as date math
    }
    node->time_dependent = left_time || right_time;
    return ConditionPtr(std::move(node));
  }

  const std::vector<Token>& tokens_;
  std::size_t pos_;
  ParseOptions options_;
};

// Text of a scalar for CONTAINS and LIKE.
std::optional<std::string> text_of(const Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_int() || v.is_number()) return model::number_text(v);
  if (v.is_bool()) return std::string(v.as_bool() ? "true" : "false");
  return std::nullopt;
}

// The pattern of CONTAINS / LIKE: a literal's text (date math strings stay text).
std::string pattern_of(const Expr& e) {
  if (e.literal.is_string()) return e.literal.as_string();
  if (auto t = text_of(e.literal)) return *t;
  return std::string();
}

bool any_equal_impl(const Value& left, const Value& right) {
  if (left.is_map()) {
    for (const auto& entry : left.as_map()) {
      const std::string& key = entry.first;
      bool hit = any_element(right, [&key](const Value& r) {
        return r.is_string() && r.as_string() == key;
      });
      if (hit) return true;
    }
    return false;
  }
  return any_element(left, [&](const Value& l) {
    return any_element(right, [&](const Value& r) {
      auto c = compare_scalars(l, r);
      return c.has_value() && *c == 0;
    });
  });
}

bool satisfies_impl(CompareOp op, int c) {
  switch (op) {
    case CompareOp::kEq: return c == 0;
    case CompareOp::kNe: return c != 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
  }
  return false;
}

bool compare_present(CompareOp op, const Value* left, const Value* right) {
  if (op == CompareOp::kEq || op == CompareOp::kNe) {
    bool eq = left != nullptr && right != nullptr && any_equal_impl(*left, *right);
    return op == CompareOp::kEq ? eq : !eq;
  }
  if (left == nullptr || right == nullptr) return false;
  return any_element(*left, [&](const Value& l) {
    return any_element(*right, [&](const Value& r) {
      auto cmp = compare_scalars(l, r);
      return cmp.has_value() && satisfies_impl(op, *cmp);
    });
  });
}

bool evaluate_atom(const Condition& c, const model::FieldSource& source, TimestampMs now) {
  Operand left = evaluate_operand(*c.left, source, now);
  switch (c.kind) {
    case ConditionKind::kExists:
      return left.present() && !left.value().is_empty();
    case ConditionKind::kCompare: {
      Operand right = evaluate_operand(*c.operands[0], source, now);
      return compare_present(c.op, left.present() ? &left.value() : nullptr,
                             right.present() ? &right.value() : nullptr);
    }
    case ConditionKind::kIn:
    case ConditionKind::kIntersects: {
      if (!left.present()) return false;
      for (const ExprPtr& item : c.operands) {
        Operand right = evaluate_operand(*item, source, now);
        if (right.present() && any_equal_impl(left.value(), right.value())) return true;
      }
      return false;
    }
    case ConditionKind::kContains:
    case ConditionKind::kLike: {
      if (!left.present()) return false;
      const std::string pattern = pattern_of(*c.operands[0]);
      const bool like = c.kind == ConditionKind::kLike;
      auto test = [&](std::string_view text) {
        return like ? glob_match(pattern, text) : text.find(pattern) != std::string_view::npos;
      };
      if (left.value().is_map()) {
        for (const auto& [key, unused] : left.value().as_map()) {
          if (like ? glob_match(pattern, key) : key == pattern) return true;
        }
        return false;
      }
      return any_element(left.value(), [&](const Value& e) {
        auto text = text_of(e);
        return text.has_value() && test(*text);
      });
    }
    case ConditionKind::kBetween: {
      Operand low = evaluate_operand(*c.operands[0], source, now);
      Operand high = evaluate_operand(*c.operands[1], source, now);
      if (!left.present() || !low.present() || !high.present()) return false;
      return any_element(left.value(), [&](const Value& e) {
        auto lo = compare_scalars(e, low.value());
        auto hi = compare_scalars(e, high.value());
        return lo.has_value() && hi.has_value() && *lo >= 0 && *hi <= 0;
      });
    }
    default:
      return false;
  }
}

// The crossings of date_math_crossings, each passed to sink(t).
template <class Sink>
void crossings_into(const DateMath& math, TimestampMs threshold, TimestampMs now, Sink&& sink) {
  auto push = [&](TimestampMs t) {
    if (t > now && t < model::kNoTime) sink(t);
  };
  if (!math.calendar()) {
    // g(t) = t + c reaches the threshold at t = threshold - c and passes it one ms later.
    TimestampMs t;
    if (__builtin_sub_overflow(threshold, math.fixed_ms(), &t)) return;
    push(t);
    if (t < model::kNoTime) push(t + 1);
    return;
  }
  if (threshold > kMaxCalendarMs || threshold < -kMaxCalendarMs) return;
  // g(t) = add_months_clamped(t, k) keeps the time of day, and the day it maps to is a
  // non-decreasing function of t's day; g is not monotone (clamping maps several days onto the
  // last day of a month). Only days mapping onto the threshold's day can straddle it.
  const std::int64_t k = math.months();
  const std::int64_t threshold_day = floor_div(threshold, kMsPerDay);
  auto mapped_day = [&](std::int64_t day) {
    return floor_div(add_months_clamped(day * kMsPerDay, k), kMsPerDay);
  };
  auto first_day = [&](bool strictly_after) {
    std::int64_t lo = threshold_day - 31 * std::abs(k) - 5;
    std::int64_t hi = threshold_day + 31 * std::abs(k) + 5;
    while (lo < hi) {
      std::int64_t mid = lo + (hi - lo) / 2;
      std::int64_t m = mapped_day(mid);
      if (strictly_after ? m > threshold_day : m >= threshold_day) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  };
  const std::int64_t run_begin = first_day(false);
  const std::int64_t run_end = first_day(true);
  const std::int64_t offset = threshold - threshold_day * kMsPerDay;
  push(run_begin * kMsPerDay);
  push(run_end * kMsPerDay);
  for (std::int64_t day = run_begin; day < run_end && day < run_begin + 8; ++day) {
    push(day * kMsPerDay);
    push(day * kMsPerDay + offset);
    push(day * kMsPerDay + offset + 1);
  }
}

void countsince_candidates(const Expr& e, const model::FieldSource& source, TimestampMs now,
                           std::vector<TimestampMs>& out) {
  if (e.kind == ExprKind::kCall && e.function == Function::kCountSince) {
    const Value* series = source.find(e.args[0]->text);
    if (series == nullptr) return;
    const DateMath& math = e.args[1]->date_math;
    auto add = [&](TimestampMs t) {
      if (t > now) out.push_back(t);  // a future timestamp enters the window when now reaches it
      date_math_crossings(math, t, now, out);
    };
    if (series->is_times()) {
      for (TimestampMs t : series->as_times()) add(t);
    } else {
      any_element(*series, [&](const Value& v) {
        if (auto ms = value_as_ms(v)) add(*ms);
        return false;
      });
    }
    return;
  }
  for (const ExprPtr& arg : e.args) countsince_candidates(*arg, source, now, out);
}

// Crossings of a date math operand against every value of the other side.
void now_against(const Expr& now_expr, const Expr& other, const model::FieldSource& source,
                 TimestampMs now, std::vector<TimestampMs>& out) {
  const DateMath math =
      now_expr.kind == ExprKind::kDateMath ? now_expr.date_math : DateMath{};
  Operand value = evaluate_operand(other, source, now);
  if (!value.present()) return;
  any_element(value.value(), [&](const Value& v) {
    if (auto ms = value_as_ms(v)) date_math_crossings(math, *ms, now, out);
    return false;
  });
}

}  // namespace

Result<ConditionPtr> parse_condition(const std::vector<Token>& tokens, std::size_t& pos,
                                     const ParseOptions& options) {
  if (pos >= tokens.size()) {
    return make_error(ErrorCode::kInvalidArgument, "expected a condition, found end of input");
  }
  Parser parser(tokens, pos, options);
  SHOAL_ASSIGN_OR_RETURN(ConditionPtr condition, parser.parse_or(false, 0));
  pos = parser.pos();
  return condition;
}

bool evaluate_condition(const Condition& c, const model::FieldSource& source, TimestampMs now,
                        const IncludeResolver* resolver) {
  switch (c.kind) {
    case ConditionKind::kAll: return true;
    case ConditionKind::kAnd:
      for (const ConditionPtr& child : c.children) {
        if (!evaluate_condition(*child, source, now, resolver)) return false;
      }
      return true;
    case ConditionKind::kOr:
      for (const ConditionPtr& child : c.children) {
        if (evaluate_condition(*child, source, now, resolver)) return true;
      }
      return false;
    case ConditionKind::kNot: return !evaluate_condition(*c.children[0], source, now, resolver);
    case ConditionKind::kInclude:
      return resolver != nullptr && resolver->evaluate_include(c, source, now);
    default: return evaluate_atom(c, source, now);
  }
}

void collect_fields(const Condition& c, std::vector<std::string>& out) {
  if (c.left) collect_expression_fields(*c.left, out);
  for (const ExprPtr& e : c.operands) collect_expression_fields(*e, out);
  for (const ConditionPtr& child : c.children) collect_fields(*child, out);
}

void collect_includes(const Condition& c, std::vector<const Condition*>& out) {
  if (c.kind == ConditionKind::kInclude) out.push_back(&c);
  for (const ConditionPtr& child : c.children) collect_includes(*child, out);
}

void collect_change_candidates(const Condition& c, const model::FieldSource& source,
                               TimestampMs now, const IncludeResolver* resolver,
                               std::vector<TimestampMs>& out) {
  switch (c.kind) {
    case ConditionKind::kAll: return;
    case ConditionKind::kAnd:
    case ConditionKind::kOr:
    case ConditionKind::kNot:
      for (const ConditionPtr& child : c.children) {
        collect_change_candidates(*child, source, now, resolver, out);
      }
      return;
    case ConditionKind::kInclude:
      if (resolver != nullptr) resolver->include_change_candidates(c, source, now, out);
      return;
    default: break;
  }
  if (!c.time_dependent) return;
  countsince_candidates(*c.left, source, now, out);
  const bool pattern = c.kind == ConditionKind::kContains || c.kind == ConditionKind::kLike;
  if (!pattern) {
    for (const ExprPtr& e : c.operands) countsince_candidates(*e, source, now, out);
  }
  if (c.kind == ConditionKind::kExists || pattern) return;
  if (c.left->is_now()) {
    for (const ExprPtr& e : c.operands) now_against(*c.left, *e, source, now, out);
  } else {
    for (const ExprPtr& e : c.operands) {
      if (e->is_now()) now_against(*e, *c.left, source, now, out);
    }
  }
}

TimestampMs next_change(const Condition& condition, const model::FieldSource& source,
                        TimestampMs now, const IncludeResolver* resolver, int max_evaluations) {
  std::vector<TimestampMs> candidates;
  return next_change(condition, source, now, resolver, max_evaluations, candidates);
}

TimestampMs next_change(const Condition& condition, const model::FieldSource& source,
                        TimestampMs now, const IncludeResolver* resolver, int max_evaluations,
                        std::vector<TimestampMs>& candidates) {
  candidates.clear();
  collect_change_candidates(condition, source, now, resolver, candidates);
  if (candidates.empty()) return model::kNoTime;
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  const bool current = evaluate_condition(condition, source, now, resolver);
  int evaluations = 0;
  for (TimestampMs t : candidates) {
    if (t <= now || t >= model::kNoTime) continue;
    if (evaluations++ >= max_evaluations) return t;
    if (evaluate_condition(condition, source, t, resolver) != current) return t;
  }
  return model::kNoTime;
}

void date_math_crossings(const DateMath& math, TimestampMs threshold, TimestampMs now,
                         std::vector<TimestampMs>& out) {
  crossings_into(math, threshold, now, [&](TimestampMs t) { out.push_back(t); });
}

int date_math_crossings(const DateMath& math, TimestampMs threshold, TimestampMs now,
                        TimestampMs (&out)[kMaxDateMathCrossings]) {
  int n = 0;
  crossings_into(math, threshold, now, [&](TimestampMs t) {
    if (n < kMaxDateMathCrossings) out[n++] = t;
  });
  return n;
}

bool compare_operands(CompareOp op, const Value* left, const Value* right) {
  return compare_present(op, left, right);
}

bool any_equal(const Value& left, const Value& right) { return any_equal_impl(left, right); }

bool satisfies(CompareOp op, int three_way) { return satisfies_impl(op, three_way); }

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) {
      star_p = p++;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) ++p;
  return p == pattern.size();
}

}  // namespace shoal::segment
