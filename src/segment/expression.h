#pragma once
// Operands of the segment language: field paths, literals, date math ("now-7d") and function
// calls. Shared with the mapping language, whose column expressions and IF/WHERE clauses use them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "model/field_source.h"
#include "model/value.h"
#include "segment/lexer.h"

namespace shoal::segment {

// now + amount units. Units s m h d w are fixed lengths; M and y are calendar months and years
// in UTC, clamped to the end of the month (2024-03-31 minus 1M is 2024-02-29).
struct DateMath {
  std::int64_t amount = 0;  // signed
  char unit = 's';          // one of s m h d w M y
  bool calendar() const { return unit == 'M' || unit == 'y'; }
  std::int64_t months() const { return unit == 'y' ? amount * 12 : amount; }  // calendar only
  std::int64_t fixed_ms() const;                                                // fixed only
  friend bool operator==(const DateMath&, const DateMath&) = default;
};

// The instant `math` denotes at `now` (saturating at the ends of the representable range).
TimestampMs apply_date_math(const DateMath& math, TimestampMs now);
// Parses "now", "now-7d", "now+1M"; nullopt when `text` does not start with "now".
// An error when it starts with "now" followed by '+' or '-' but is malformed.
std::optional<Result<DateMath>> parse_date_math(std::string_view text);

enum class ExprKind : std::uint8_t { kField, kLiteral, kDateMath, kCall };

enum class Function : std::uint8_t {
  kToLower,
  kToUpper,
  kDomain,       // host of a URL ("www." dropped) or the domain of an email address, lowercased
  kEmail,        // a trimmed, lowercased email address; missing when not an address
  kEmailDomain,  // the part after '@', lowercased
  kLen,          // characters of a string, elements of a list, series or map
  kToInt,
  kToNumber,
  kToDate,
  kNow,         // now(): the evaluation instant, a Date
  kCountSince,  // countsince(<[]time field>, "now-7d"): timestamps in (now-7d, now]
};

std::string_view function_name(Function function);

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  std::string text;       // kField: the path; kCall: the function name as written
  model::Value literal;   // kLiteral: the value; kDateMath: the original string
  DateMath date_math;     // kDateMath
  Function function = Function::kNow;  // kCall
  std::vector<std::shared_ptr<const Expr>> args;  // kCall
  int line = 1;
  int column = 1;

  // The expression's value is the current instant itself (date math or now()).
  bool is_now() const {
    return kind == ExprKind::kDateMath || (kind == ExprKind::kCall && function == Function::kNow);
  }
  // The value depends on the evaluation instant (date math, now(), countsince inside).
  bool time_dependent = false;
};

using ExprPtr = std::shared_ptr<const Expr>;

// Parses one operand starting at tokens[pos]; stops before the first token that cannot continue
// it and advances pos. Unknown functions and wrong argument counts are errors. Date math and
// now() may not be passed to functions (except as countsince's window), so that every
// time-dependent value has an exact next-change time.
Result<ExprPtr> parse_expression(const std::vector<Token>& tokens, std::size_t& pos);

// The value of `expr`, or nullopt when it reads a missing field (or a function cannot apply).
std::optional<model::Value> evaluate_expression(const Expr& expr, const model::FieldSource& source,
                                                TimestampMs now);

// An evaluated operand that borrows the field's value when it can (no copy of lists or maps).
class Operand {
 public:
  Operand() = default;
  explicit Operand(const model::Value* borrowed) : borrowed_(borrowed) {}
  explicit Operand(model::Value owned) : owned_(std::move(owned)), has_owned_(true) {}
  bool present() const { return borrowed_ != nullptr || has_owned_; }
  const model::Value& value() const { return borrowed_ ? *borrowed_ : owned_; }

 private:
  const model::Value* borrowed_ = nullptr;
  model::Value owned_;
  bool has_owned_ = false;
};

Operand evaluate_operand(const Expr& expr, const model::FieldSource& source, TimestampMs now);

// Field paths the expression reads, appended in order of appearance.
void collect_expression_fields(const Expr& expr, std::vector<std::string>& out);

// Converters used by comparisons (and by the mapping language).
std::optional<double> value_as_number(const model::Value& value);     // int, number, numeric string
std::optional<std::int64_t> value_as_int(const model::Value& value);  // truncates numbers
std::optional<TimestampMs> value_as_ms(const model::Value& value);    // Date, epoch ms, ISO-8601
// Three-way comparison of two scalars under the language's coercions; nullopt when they do not
// compare (a string that is not a number against a number, a list, ...).
std::optional<int> compare_scalars(const model::Value& a, const model::Value& b);
// Calls `fn(element)` for each element of a list or series (a Date per timestamp), or once for a
// scalar; stops early when fn returns true, and returns whether it did.
template <class Fn>
bool any_element(const model::Value& value, Fn&& fn) {
  if (value.is_list()) {
    for (const model::Value& e : value.as_list()) {
      if (fn(e)) return true;
    }
    return false;
  }
  if (value.is_times()) {
    for (TimestampMs t : value.as_times()) {
      if (fn(model::Value(model::Date{t}))) return true;
    }
    return false;
  }
  return fn(value);
}

}  // namespace shoal::segment
