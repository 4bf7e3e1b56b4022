#include "segment/expression.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/time_format.h"
#include "model/kind.h"

namespace shoal::segment {
namespace {

using model::Value;

constexpr int kMaxExpressionDepth = 32;
// Date math offsets beyond ~100,000 years are rejected so that arithmetic cannot overflow.
constexpr std::int64_t kMaxOffsetMs = 3'155'760'000'000'000LL;
constexpr std::int64_t kMaxOffsetMonths = 1'200'000;
// Calendar arithmetic is only defined within ~300,000 years of 1970; beyond, saturate.
constexpr std::int64_t kMaxCalendarMs = 10'000'000'000'000'000LL;

std::int64_t unit_ms(char unit) {
  switch (unit) {
    case 's': return 1000;
    case 'm': return 60'000;
    case 'h': return 3'600'000;
    case 'd': return 86'400'000;
    case 'w': return 7 * 86'400'000LL;
    default: return 0;
  }
}

TimestampMs saturating_add(TimestampMs a, std::int64_t b) {
  TimestampMs out;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? std::numeric_limits<TimestampMs>::max() : std::numeric_limits<TimestampMs>::min();
  }
  return out;
}

struct FunctionSpec {
  std::string_view name;
  Function function;
  int arity;
};

constexpr FunctionSpec kFunctions[] = {
    {"tolower", Function::kToLower, 1},   {"toupper", Function::kToUpper, 1},
    {"domain", Function::kDomain, 1},     {"email", Function::kEmail, 1},
    {"emaildomain", Function::kEmailDomain, 1}, {"len", Function::kLen, 1},
    {"toint", Function::kToInt, 1},       {"tonumber", Function::kToNumber, 1},
    {"todate", Function::kToDate, 1},     {"now", Function::kNow, 0},
    {"countsince", Function::kCountSince, 2},
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

int sign(auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); }

std::optional<bool> value_as_bool(const Value& v) {
  if (v.is_bool()) return v.as_bool();
  if (v.is_string()) {
    if (iequals(v.as_string(), "true")) return true;
    if (iequals(v.as_string(), "false")) return false;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<std::string> normalize_email(std::string_view s) {
  s = trim(s);
  std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view domain = s.substr(at + 1);
  std::size_t dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || domain.back() == '.') return std::nullopt;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return lower(s);
}

std::optional<std::string> domain_of(std::string_view s) {
  s = trim(s);
  std::size_t scheme = s.find("://");
  if (scheme == std::string_view::npos) {
    std::size_t at = s.rfind('@');
    if (at != std::string_view::npos) {
      std::string_view d = s.substr(at + 1);
      if (d.empty()) return std::nullopt;
      return lower(d);
    }
  } else {
    s = s.substr(scheme + 3);
  }
  std::size_t end = s.find_first_of("/?#");
  if (end != std::string_view::npos) s = s.substr(0, end);
  if (std::size_t at = s.rfind('@'); at != std::string_view::npos) s = s.substr(at + 1);
  if (std::size_t colon = s.find(':'); colon != std::string_view::npos) s = s.substr(0, colon);
  std::string host = lower(s);
  if (host.rfind("www.", 0) == 0) host = host.substr(4);
  if (host.empty()) return std::nullopt;
  return host;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Applies a one-argument function to a scalar.
std::optional<Value> apply_scalar(Function f, const Value& v) {
  switch (f) {
    case Function::kToLower:
    case Function::kToUpper: {
      std::string s;
      if (v.is_string()) {
        s = v.as_string();
      } else if (v.is_int() || v.is_number()) {
        s = model::number_text(v);
      } else {
        return std::nullopt;
      }
      return Value(f == Function::kToLower ? lower(s) : upper(s));
    }
    case Function::kDomain:
      if (!v.is_string()) return std::nullopt;
      if (auto d = domain_of(v.as_string())) return Value(std::move(*d));
      return std::nullopt;
    case Function::kEmail:
      if (!v.is_string()) return std::nullopt;
      if (auto e = normalize_email(v.as_string())) return Value(std::move(*e));
      return std::nullopt;
    case Function::kEmailDomain: {
      if (!v.is_string()) return std::nullopt;
      auto e = normalize_email(v.as_string());
      if (!e) return std::nullopt;
      return Value(e->substr(e->find('@') + 1));
    }
    case Function::kToInt:
      if (auto i = value_as_int(v)) return Value(*i);
      return std::nullopt;
    case Function::kToNumber:
      if (v.is_date()) return Value(static_cast<double>(v.as_date()));
      if (auto d = value_as_number(v)) return Value(*d);
      if (v.is_bool()) return Value(v.as_bool() ? 1.0 : 0.0);
      return std::nullopt;
    case Function::kToDate:
      if (auto ms = value_as_ms(v)) return Value(model::Date{*ms});
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

Result<ExprPtr> parse_expression_at(const std::vector<Token>& tokens, std::size_t& pos, int depth);

// Keywords that cannot name a field without backticks (so that `x == ALIAS a` reads as a
// missing value, not as a field called ALIAS).
bool is_reserved(const Token& tok) {
  static constexpr std::string_view kReserved[] = {
      "AND", "OR", "NOT", "IN", "INTERSECTS", "CONTAINS", "LIKE", "BETWEEN",
      "EXISTS", "INCLUDE", "FILTER", "FROM", "ALIAS"};
  for (std::string_view k : kReserved) {
    if (is_keyword(tok, k)) return true;
  }
  return false;
}

Result<ExprPtr> parse_call(const std::vector<Token>& tokens, std::size_t& pos, int depth) {
  const Token& name = tokens[pos];
  const FunctionSpec* spec = nullptr;
  for (const FunctionSpec& s : kFunctions) {
    if (iequals(s.name, name.text)) spec = &s;
  }
  if (spec == nullptr) return error_at(name, "unknown function '" + name.text + "'");
  auto expr = std::make_shared<Expr>();
  expr->kind = ExprKind::kCall;
  expr->text = name.text;
  expr->function = spec->function;
  expr->line = name.line;
  expr->column = name.column;
  pos += 2;  // name and '('
  const std::string fname = std::string(spec->name) + "()";
  if (tokens[pos].kind == TokenKind::kRightParen) {
    ++pos;
  } else {
    while (true) {
      if (tokens[pos].kind == TokenKind::kEnd) {
        return error_at(tokens[pos], "expected an argument of " + fname + ", found end of input");
      }
      SHOAL_ASSIGN_OR_RETURN(ExprPtr arg, parse_expression_at(tokens, pos, depth + 1));
      expr->args.push_back(std::move(arg));
      if (tokens[pos].kind == TokenKind::kComma) {
        ++pos;
        continue;
      }
      if (tokens[pos].kind == TokenKind::kRightParen) {
        ++pos;
        break;
      }
      return error_at(tokens[pos], "expected ',' or ')' after an argument of " + fname +
                                       ", found " + describe_token(tokens[pos]));
    }
  }
  if (static_cast<int>(expr->args.size()) != spec->arity) {
    return error_at(name, fname + " takes " + std::to_string(spec->arity) +
                              (spec->arity == 1 ? " argument, got " : " arguments, got ") +
                              std::to_string(expr->args.size()));
  }
  if (spec->function == Function::kCountSince) {
    if (expr->args[0]->kind != ExprKind::kField) {
      return error_at(name, "countsince() needs a []time field as its first argument");
    }
    if (expr->args[1]->kind != ExprKind::kDateMath) {
      return error_at(name, "countsince() needs date math such as \"now-7d\" as its second argument");
    }
    expr->time_dependent = true;
  } else {
    for (const ExprPtr& arg : expr->args) {
      if (arg->is_now()) {
        return error_at(name, "date math and now() can be compared but not passed to " + fname);
      }
      if (arg->time_dependent) expr->time_dependent = true;
    }
    if (spec->function == Function::kNow) expr->time_dependent = true;
  }
  return ExprPtr(std::move(expr));
}

Result<ExprPtr> parse_expression_at(const std::vector<Token>& tokens, std::size_t& pos, int depth) {
  const Token& tok = tokens[pos];
  if (depth > kMaxExpressionDepth) return error_at(tok, "expression nested too deeply");
  auto expr = std::make_shared<Expr>();
  expr->line = tok.line;
  expr->column = tok.column;
  switch (tok.kind) {
    case TokenKind::kString: {
      if (auto math = parse_date_math(tok.text)) {
        if (!math->ok()) return error_at(tok, math->error().message);
        expr->kind = ExprKind::kDateMath;
        expr->date_math = math->value();
        expr->time_dependent = true;
      } else {
        expr->kind = ExprKind::kLiteral;
      }
      expr->literal = Value(tok.text);
      ++pos;
      return ExprPtr(std::move(expr));
    }
    case TokenKind::kInteger: {
      expr->kind = ExprKind::kLiteral;
      if (auto i = parse_int(tok.text)) {
        expr->literal = Value(*i);
      } else if (auto d = parse_double(tok.text)) {
        expr->literal = Value(*d);
      } else {
        return error_at(tok, "number " + tok.text + " is out of range");
      }
      ++pos;
      return ExprPtr(std::move(expr));
    }
    case TokenKind::kFloat: {
      expr->kind = ExprKind::kLiteral;
      auto d = parse_double(tok.text);
      if (!d) return error_at(tok, "number " + tok.text + " is out of range");
      expr->literal = Value(*d);
      ++pos;
      return ExprPtr(std::move(expr));
    }
    case TokenKind::kIdentifier: {
      if (!tok.backticked && tokens[pos + 1].kind == TokenKind::kLeftParen) {
        return parse_call(tokens, pos, depth);
      }
      if (!tok.backticked && (is_keyword(tok, "TRUE") || is_keyword(tok, "FALSE"))) {
        expr->kind = ExprKind::kLiteral;
        expr->literal = Value(is_keyword(tok, "TRUE"));
      } else if (!tok.backticked && is_keyword(tok, "NULL")) {
        expr->kind = ExprKind::kLiteral;
        expr->literal = Value(nullptr);
      } else if (!tok.backticked && is_reserved(tok)) {
        return error_at(tok, "expected a value, found " + describe_token(tok));
      } else {
        expr->kind = ExprKind::kField;
        expr->text = tok.text;
      }
      ++pos;
      return ExprPtr(std::move(expr));
    }
    default:
      return error_at(tok, "expected a value, found " + describe_token(tok));
  }
}

}  // namespace

std::int64_t DateMath::fixed_ms() const { return amount * unit_ms(unit); }

TimestampMs apply_date_math(const DateMath& math, TimestampMs now) {
  if (!math.calendar()) return saturating_add(now, math.fixed_ms());
  if (now > kMaxCalendarMs || now < -kMaxCalendarMs) return now;
  return add_months_clamped(now, math.months());
}

std::optional<Result<DateMath>> parse_date_math(std::string_view text) {
  if (text.substr(0, 3) != "now") return std::nullopt;
  if (text.size() == 3) return Result<DateMath>(DateMath{});
  const char op = text[3];
  if (op != '+' && op != '-') return std::nullopt;  // "nowhere" is a plain string
  auto invalid = [&] {
    return Result<DateMath>(make_error(
        ErrorCode::kInvalidArgument,
        "invalid date math \"" + std::string(text) +
            "\": expected now, + or -, a whole number and a unit (s m h d w M y)"));
  };
  std::string_view rest = text.substr(4);
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  if (digits == 0 || digits + 1 != rest.size()) return invalid();
  const char unit = rest[digits];
  if (std::string_view("smhdwMy").find(unit) == std::string_view::npos) return invalid();
  auto amount = parse_int(rest.substr(0, digits));
  DateMath math{0, unit};
  bool in_range = amount.has_value();
  if (in_range) {
    math.amount = op == '-' ? -*amount : *amount;
    if (math.calendar()) {
      in_range = *amount <= kMaxOffsetMonths / (unit == 'y' ? 12 : 1);
    } else {
      in_range = *amount <= kMaxOffsetMs / unit_ms(unit);
    }
  }
  if (!in_range) {
    return Result<DateMath>(make_error(ErrorCode::kInvalidArgument,
                                       "date math \"" + std::string(text) + "\" is out of range"));
  }
  return Result<DateMath>(math);
}

std::string_view function_name(Function function) {
  for (const FunctionSpec& s : kFunctions) {
    if (s.function == function) return s.name;
  }
  return "?";
}

Result<ExprPtr> parse_expression(const std::vector<Token>& tokens, std::size_t& pos) {
  if (pos >= tokens.size()) {
    return make_error(ErrorCode::kInvalidArgument, "expected a value, found end of input");
  }
  std::size_t p = pos;
  SHOAL_ASSIGN_OR_RETURN(ExprPtr expr, parse_expression_at(tokens, p, 0));
  pos = p;
  return expr;
}

std::optional<double> value_as_number(const Value& v) {
  switch (v.type()) {
    case model::ValueType::kInt: return static_cast<double>(v.as_int());
    case model::ValueType::kNumber: return v.as_number();
    case model::ValueType::kString: return parse_double(trim(v.as_string()));
    default: return std::nullopt;
  }
}

std::optional<std::int64_t> value_as_int(const Value& v) {
  switch (v.type()) {
    case model::ValueType::kInt: return v.as_int();
    case model::ValueType::kBool: return v.as_bool() ? 1 : 0;
    case model::ValueType::kDate: return v.as_date();
    case model::ValueType::kNumber:
    case model::ValueType::kString: {
      if (v.is_string()) {
        if (auto i = parse_int(trim(v.as_string()))) return i;
      }
      auto d = value_as_number(v);
      if (!d || !std::isfinite(*d) || *d >= 9.2e18 || *d <= -9.2e18) return std::nullopt;
      return static_cast<std::int64_t>(*d);
    }
    default: return std::nullopt;
  }
}

std::optional<TimestampMs> value_as_ms(const Value& v) {
  switch (v.type()) {
    case model::ValueType::kDate: return v.as_date();
    case model::ValueType::kInt: return v.as_int();
    case model::ValueType::kNumber: return value_as_int(v);
    case model::ValueType::kString: {
      auto parsed = parse_iso8601(v.as_string());
      if (parsed.ok()) return parsed.value();
      if (auto i = parse_int(trim(v.as_string()))) return i;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

std::optional<int> compare_scalars(const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) {
    if (a.is_null() && b.is_null()) return 0;
    return std::nullopt;
  }
  if (a.is_date() || b.is_date()) {
    auto ma = value_as_ms(a);
    auto mb = value_as_ms(b);
    if (!ma || !mb) return std::nullopt;
    return sign(*ma, *mb);
  }
  if (a.is_bool() || b.is_bool()) {
    auto ba = value_as_bool(a);
    auto bb = value_as_bool(b);
    if (!ba || !bb) return std::nullopt;
    return sign(*ba, *bb);
  }
  const bool a_num = a.is_int() || a.is_number();
  const bool b_num = b.is_int() || b.is_number();
  if (a_num || b_num) {
    if (!(a.is_number() || b.is_number())) {
      auto ia = a.is_int() ? std::optional<std::int64_t>(a.as_int())
                           : (a.is_string() ? parse_int(trim(a.as_string())) : std::nullopt);
      auto ib = b.is_int() ? std::optional<std::int64_t>(b.as_int())
                           : (b.is_string() ? parse_int(trim(b.as_string())) : std::nullopt);
      if (ia && ib) return sign(*ia, *ib);
    }
    auto na = value_as_number(a);
    auto nb = value_as_number(b);
    if (!na || !nb) return std::nullopt;
    return sign(*na, *nb);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

Operand evaluate_operand(const Expr& expr, const model::FieldSource& source, TimestampMs now) {
  switch (expr.kind) {
    case ExprKind::kField: return Operand(source.find(expr.text));
    case ExprKind::kLiteral: return Operand(&expr.literal);
    case ExprKind::kDateMath:
      return Operand(Value(model::Date{apply_date_math(expr.date_math, now)}));
    case ExprKind::kCall: break;
  }
  switch (expr.function) {
    case Function::kNow: return Operand(Value(model::Date{now}));
    case Function::kCountSince: {
      const Value* series = source.find(expr.args[0]->text);
      std::int64_t count = 0;
      if (series != nullptr) {
        const TimestampMs from = apply_date_math(expr.args[1]->date_math, now);
        auto in_window = [&](TimestampMs t) { return from < t && t <= now; };
        if (series->is_times()) {
          for (TimestampMs t : series->as_times()) count += in_window(t) ? 1 : 0;
        } else {
          any_element(*series, [&](const Value& e) {
            if (auto ms = value_as_ms(e)) count += in_window(*ms) ? 1 : 0;
            return false;
          });
        }
      }
      return Operand(Value(count));
    }
    default: break;
  }
  Operand arg = evaluate_operand(*expr.args[0], source, now);
  if (!arg.present()) return Operand();
  const Value& v = arg.value();
  if (expr.function == Function::kLen) {
    switch (v.type()) {
      case model::ValueType::kString:
        return Operand(Value(static_cast<std::int64_t>(utf8_length(v.as_string()))));
      case model::ValueType::kList:
        return Operand(Value(static_cast<std::int64_t>(v.as_list().size())));
      case model::ValueType::kTimes:
        return Operand(Value(static_cast<std::int64_t>(v.as_times().size())));
      case model::ValueType::kMap:
        return Operand(Value(static_cast<std::int64_t>(v.as_map().size())));
      default: return Operand();
    }
  }
  if (v.is_list() || v.is_times()) {
    model::ValueList out;
    any_element(v, [&](const Value& e) {
      if (auto r = apply_scalar(expr.function, e)) out.push_back(std::move(*r));
      return false;
    });
    return Operand(Value(std::move(out)));
  }
  if (auto r = apply_scalar(expr.function, v)) return Operand(std::move(*r));
  return Operand();
}

std::optional<Value> evaluate_expression(const Expr& expr, const model::FieldSource& source,
                                         TimestampMs now) {
  Operand op = evaluate_operand(expr, source, now);
  if (!op.present()) return std::nullopt;
  return op.value();
}

void collect_expression_fields(const Expr& expr, std::vector<std::string>& out) {
  if (expr.kind == ExprKind::kField) out.push_back(expr.text);
  for (const ExprPtr& arg : expr.args) collect_expression_fields(*arg, out);
}

}  // namespace shoal::segment
