#include "mapping/mapping.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "model/field_source.h"
#include "segment/condition.h"
#include "segment/expression.h"
#include "segment/lexer.h"

namespace shoal::mapping {
namespace {

using model::Kind;
using model::MergeOp;
using segment::Token;
using segment::TokenKind;

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

std::optional<Aggregate> aggregate_from_name(std::string_view name) {
  std::string n = lower(name);
  if (n == "set") return Aggregate::kSet;
  if (n == "count") return Aggregate::kCount;
  if (n == "sum") return Aggregate::kSum;
  if (n == "min") return Aggregate::kMin;
  if (n == "max") return Aggregate::kMax;
  if (n == "append") return Aggregate::kAppend;
  return std::nullopt;
}

// The kinds an aggregating form can produce, and the kind it produces without KIND.
struct AggregateKinds {
  std::vector<Kind> allowed;
  Kind implied;
  MergeOp merge;
};

AggregateKinds aggregate_kinds(Aggregate aggregate) {
  switch (aggregate) {
    case Aggregate::kNone: break;
    case Aggregate::kSet:
      return {{Kind::kStringList, Kind::kIntMap, Kind::kStringMap}, Kind::kStringList,
              MergeOp::kSet};
    case Aggregate::kCount: return {{Kind::kInt, Kind::kNumber}, Kind::kInt, MergeOp::kSum};
    case Aggregate::kSum:
      return {{Kind::kNumber, Kind::kInt, Kind::kIntMap}, Kind::kNumber, MergeOp::kSum};
    case Aggregate::kMin:
      return {{Kind::kNumber, Kind::kInt, Kind::kDate, Kind::kString}, Kind::kNumber,
              MergeOp::kMin};
    case Aggregate::kMax:
      return {{Kind::kNumber, Kind::kInt, Kind::kDate, Kind::kString}, Kind::kNumber,
              MergeOp::kMax};
    case Aggregate::kAppend: return {{Kind::kTimeList}, Kind::kTimeList, MergeOp::kAppend};
  }
  return {{}, Kind::kString, MergeOp::kLatest};
}

// The kinds a merge op can combine (see model/merge.h).
std::vector<Kind> kinds_for_merge(MergeOp op) {
  switch (op) {
    case MergeOp::kLatest:
    case MergeOp::kOldest:
      return {Kind::kString,     Kind::kInt,      Kind::kNumber, Kind::kBool,     Kind::kDate,
              Kind::kStringList, Kind::kTimeList, Kind::kIntMap, Kind::kStringMap};
    case MergeOp::kMin:
    case MergeOp::kMax: return {Kind::kInt, Kind::kNumber, Kind::kDate, Kind::kString};
    case MergeOp::kSum: return {Kind::kInt, Kind::kNumber, Kind::kIntMap};
    case MergeOp::kSet: return {Kind::kStringList, Kind::kIntMap, Kind::kStringMap};
    case MergeOp::kAppend: return {Kind::kTimeList};
  }
  return {};
}

std::string kind_list(const std::vector<Kind>& kinds) {
  std::string out;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) out += i + 1 == kinds.size() ? " or " : ", ";
    out += model::kind_name(kinds[i]);
  }
  return out;
}

bool contains(const std::vector<Kind>& kinds, Kind kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

bool is_call_token(const std::vector<Token>& tokens, std::size_t i) {
  return tokens[i].kind == TokenKind::kIdentifier && !tokens[i].backticked &&
         tokens[i + 1].kind == TokenKind::kLeftParen;
}

// Tokens [begin, end) written back as text, normalized: `a`, "s", f(x, y).
std::string render_tokens(const std::vector<Token>& tokens, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    const Token& t = tokens[i];
    bool glue = i == begin || t.kind == TokenKind::kRightParen || t.kind == TokenKind::kComma ||
                tokens[i - 1].kind == TokenKind::kLeftParen ||
                (t.kind == TokenKind::kLeftParen && tokens[i - 1].kind == TokenKind::kIdentifier);
    if (!glue) out += ' ';
    switch (t.kind) {
      case TokenKind::kIdentifier:
        if (t.backticked) {
          out += '`' + t.text + '`';
        } else {
          out += t.text;
        }
        break;
      case TokenKind::kString: {
        out += '"';
        for (char c : t.text) {
          if (c == '"' || c == '\\') out += '\\';
          out += c;
        }
        out += '"';
        break;
      }
      default: out += t.text; break;
    }
  }
  return out;
}

// The kind a plain expression produces when KIND is not given.
Kind implied_plain_kind(const segment::Expr* expr) {
  if (expr == nullptr) return Kind::kString;
  switch (expr->kind) {
    case segment::ExprKind::kField: return expr->text == "_ts" ? Kind::kDate : Kind::kString;
    case segment::ExprKind::kDateMath: return Kind::kDate;
    case segment::ExprKind::kLiteral:
      if (expr->literal.is_int()) return Kind::kInt;
      if (expr->literal.is_number()) return Kind::kNumber;
      if (expr->literal.is_bool()) return Kind::kBool;
      return Kind::kString;
    case segment::ExprKind::kCall:
      switch (expr->function) {
        case segment::Function::kToInt:
        case segment::Function::kLen:
        case segment::Function::kCountSince: return Kind::kInt;
        case segment::Function::kToNumber: return Kind::kNumber;
        case segment::Function::kToDate:
        case segment::Function::kNow: return Kind::kDate;
        default: return Kind::kString;
      }
  }
  return Kind::kString;
}

// Words of the mapping grammar; as names they need backticks.
bool is_grammar_word(const Token& token) {
  for (std::string_view word : {"SELECT", "FROM", "INTO", "BY", "OR", "WHERE", "ALIAS", "AS", "IF",
                                "KIND", "MERGEOP", "SHORTDESC", "LONGDESC"}) {
    if (is_keyword(token, word)) return true;
  }
  return false;
}

bool is_reserved_name(std::string_view name) {
  return name == "_ts" || name == "_created" || name == "_modified";
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens)
      : text_(text), tokens_(std::move(tokens)) {}

  Result<Mapping> parse() {
    Mapping mapping;
    mapping.text = std::string(text_);
    SHOAL_RETURN_IF_ERROR(expect_keyword("SELECT", "at the start of a mapping"));
    if (is_keyword(peek(), "FROM") || peek().kind == TokenKind::kEnd) {
      return segment::error_at(peek(), "expected a column after SELECT, found " +
                                           segment::describe_token(peek()));
    }
    while (true) {
      SHOAL_ASSIGN_OR_RETURN(Column column, parse_column());
      for (const Column& other : mapping.columns) {
        if (other.name == column.name) {
          return error_at_position(column.line, column.column,
                                   "duplicate output name '" + column.name + "' (also at line " +
                                       std::to_string(other.line) + ", col " +
                                       std::to_string(other.column) + "); rename one with AS");
        }
      }
      column.field_name = model::FieldName::intern(column.name);
      mapping.columns.push_back(std::move(column));
      if (peek().kind == TokenKind::kComma) {
        ++pos_;
        continue;
      }
      if (is_keyword(peek(), "FROM")) break;
      return segment::error_at(
          peek(), "expected ',', FROM, AS, IF, KIND, MERGEOP, SHORTDESC or LONGDESC after column '" +
                      mapping.columns.back().name + "', found " +
                      segment::describe_token(peek()));
    }
    ++pos_;  // FROM
    SHOAL_ASSIGN_OR_RETURN(mapping.stream, parse_name("a stream name after FROM"));
    SHOAL_RETURN_IF_ERROR(expect_keyword("INTO", "after the stream name"));
    if (!is_keyword(peek(), "USER")) {
      return segment::error_at(peek(), "expected 'user' after INTO (mappings write user "
                                       "profiles), found " +
                                           segment::describe_token(peek()));
    }
    ++pos_;
    SHOAL_RETURN_IF_ERROR(expect_keyword("BY", "after INTO user"));
    SHOAL_RETURN_IF_ERROR(parse_by(mapping));
    if (is_keyword(peek(), "WHERE")) {
      ++pos_;
      std::size_t begin = pos_;
      SHOAL_ASSIGN_OR_RETURN(mapping.where,
                             segment::parse_condition(tokens_, pos_, {.allow_include = false}));
      mapping.where_text = render_tokens(tokens_, begin, pos_);
    }
    if (is_keyword(peek(), "ALIAS")) {
      ++pos_;
      SHOAL_ASSIGN_OR_RETURN(mapping.alias, parse_name("a name after ALIAS"));
    }
    if (peek().kind != TokenKind::kEnd) {
      std::string expected = mapping.where ? (mapping.alias.empty() ? "ALIAS or " : "")
                                           : (mapping.alias.empty() ? "OR, WHERE, ALIAS or " : "");
      return segment::error_at(peek(), "expected " + expected + "end of input, found " +
                                           segment::describe_token(peek()));
    }
    return mapping;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }

  static Error error_at_position(int line, int column, const std::string& message) {
    Token t;
    t.line = line;
    t.column = column;
    return segment::error_at(t, message);
  }

  Status expect_keyword(std::string_view keyword, std::string_view where) {
    if (!is_keyword(peek(), keyword)) {
      return segment::error_at(peek(), "expected " + std::string(keyword) + " " +
                                           std::string(where) + ", found " +
                                           segment::describe_token(peek()));
    }
    ++pos_;
    return ok_status();
  }

  // A name: a bare or backticked identifier, or a string.
  Result<std::string> parse_name(std::string_view what) {
    const Token& t = peek();
    if ((t.kind == TokenKind::kIdentifier || t.kind == TokenKind::kString) && !t.text.empty() &&
        !is_grammar_word(t)) {
      ++pos_;
      return t.text;
    }
    return segment::error_at(t, "expected " + std::string(what) + ", found " +
                                    segment::describe_token(t));
  }

  Result<Column> parse_column() {
    Column column;
    const Token& start = peek();
    column.line = start.line;
    column.column = start.column;
    std::size_t begin = pos_;
    std::optional<Aggregate> aggregate;
    if (is_call_token(tokens_, pos_)) aggregate = aggregate_from_name(start.text);
    if (aggregate) {
      column.aggregate = *aggregate;
      pos_ += 2;
      if (*aggregate == Aggregate::kCount && peek().kind == TokenKind::kStar) {
        ++pos_;
      } else if (peek().kind == TokenKind::kRightParen) {
        return segment::error_at(peek(), lower(start.text) + "() takes one argument" +
                                             (*aggregate == Aggregate::kCount
                                                  ? std::string(" (count(*) counts events)")
                                                  : std::string()));
      } else {
        SHOAL_ASSIGN_OR_RETURN(column.expr, segment::parse_expression(tokens_, pos_));
      }
      if (peek().kind != TokenKind::kRightParen) {
        return segment::error_at(peek(), "expected ')' after the argument of " +
                                             lower(start.text) + ", found " +
                                             segment::describe_token(peek()));
      }
      ++pos_;
    } else {
      SHOAL_ASSIGN_OR_RETURN(column.expr, segment::parse_expression(tokens_, pos_));
    }
    column.expression_text = render_tokens(tokens_, begin, pos_);
    if (column.expr && column.expr->kind == segment::ExprKind::kField) {
      column.field_path = column.expr->text;
      column.reads_field_directly = true;
      column.reads_timestamp = column.field_path == "_ts";
    }

    // Clauses, in any order, each at most once.
    const Token* as_token = nullptr;
    const Token* kind_token = nullptr;
    const Token* merge_token = nullptr;
    bool seen_if = false, seen_short = false, seen_long = false;
    std::string kind_text, merge_text;
    while (true) {
      const Token& t = peek();
      auto once = [&](bool seen) -> Status {
        if (seen) return segment::error_at(t, "duplicate " + upper(t.text) + " clause in a column");
        return ok_status();
      };
      if (is_keyword(t, "AS")) {
        SHOAL_RETURN_IF_ERROR(once(as_token != nullptr));
        as_token = &t;
        ++pos_;
        SHOAL_ASSIGN_OR_RETURN(column.name, parse_name("an output name after AS"));
      } else if (is_keyword(t, "IF")) {
        SHOAL_RETURN_IF_ERROR(once(seen_if));
        seen_if = true;
        ++pos_;
        std::size_t cond_begin = pos_;
        SHOAL_ASSIGN_OR_RETURN(column.condition,
                               segment::parse_condition(tokens_, pos_, {.allow_include = false}));
        column.condition_text = render_tokens(tokens_, cond_begin, pos_);
      } else if (is_keyword(t, "KIND")) {
        SHOAL_RETURN_IF_ERROR(once(kind_token != nullptr));
        ++pos_;
        kind_token = &peek();
        SHOAL_ASSIGN_OR_RETURN(kind_text, parse_kind_text());
        auto kind = model::parse_kind(kind_text);
        if (!kind.ok()) return segment::error_at(*kind_token, kind.error().message);
        column.kind = *kind;
        column.kind_explicit = true;
      } else if (is_keyword(t, "MERGEOP")) {
        SHOAL_RETURN_IF_ERROR(once(merge_token != nullptr));
        ++pos_;
        merge_token = &peek();
        SHOAL_ASSIGN_OR_RETURN(merge_text, parse_name("a merge op after MERGEOP"));
        auto op = model::parse_merge_op(merge_text);
        if (!op.ok()) return segment::error_at(*merge_token, op.error().message);
        column.merge = *op;
        column.merge_explicit = true;
      } else if (is_keyword(t, "SHORTDESC") || is_keyword(t, "LONGDESC")) {
        bool is_short = is_keyword(t, "SHORTDESC");
        SHOAL_RETURN_IF_ERROR(once(is_short ? seen_short : seen_long));
        (is_short ? seen_short : seen_long) = true;
        ++pos_;
        if (peek().kind != TokenKind::kString) {
          return segment::error_at(peek(), "expected a \"string\" after " + upper(t.text) +
                                               ", found " + segment::describe_token(peek()));
        }
        (is_short ? column.shortdesc : column.longdesc) = peek().text;
        ++pos_;
      } else {
        break;
      }
    }

    // Output name.
    if (!as_token) {
      SHOAL_ASSIGN_OR_RETURN(column.name, default_name(column, begin));
    }
    if (is_reserved_name(column.name)) {
      const Token& at = as_token ? *as_token : start;
      return segment::error_at(at, "output name '" + column.name +
                                       "' is reserved; name the column with AS <name>");
    }

    // Kind and merge op: explicit, else implied by the aggregating form or the expression.
    if (column.aggregate != Aggregate::kNone) {
      AggregateKinds kinds = aggregate_kinds(column.aggregate);
      if (!column.kind_explicit) {
        column.kind = kinds.implied;
        if ((column.aggregate == Aggregate::kMin || column.aggregate == Aggregate::kMax) &&
            implied_plain_kind(column.expr.get()) == Kind::kDate) {
          column.kind = Kind::kDate;
        }
      } else if (!contains(kinds.allowed, column.kind)) {
        return segment::error_at(*kind_token,
                                 "kind " + std::string(model::kind_name(column.kind)) +
                                     " does not fit " + lower(start.text) + "(...) (it takes " +
                                     kind_list(kinds.allowed) + ")");
      }
      if (!column.merge_explicit) column.merge = kinds.merge;
    } else if (!column.kind_explicit) {
      column.kind = implied_plain_kind(column.expr.get());
    }
    std::vector<Kind> fitting = kinds_for_merge(column.merge);
    if (!contains(fitting, column.kind)) {
      if (merge_token) {
        return segment::error_at(*merge_token,
                                 "merge op " + std::string(model::merge_op_name(column.merge)) +
                                     " does not fit kind " +
                                     std::string(model::kind_name(column.kind)) + " (" +
                                     std::string(model::merge_op_name(column.merge)) +
                                     " takes " + kind_list(fitting) + ")");
      }
      return segment::error_at(kind_token ? *kind_token : start,
                               "kind " + std::string(model::kind_name(column.kind)) +
                                   " does not fit merge op " +
                                   std::string(model::merge_op_name(column.merge)) + " (it takes " +
                                   kind_list(fitting) + ")");
    }
    return column;
  }

  // KIND's argument: string, int, []string, map[string]int, ... or the same as a "string".
  Result<std::string> parse_kind_text() {
    const Token& t = peek();
    if (t.kind == TokenKind::kString) {
      ++pos_;
      return t.text;
    }
    if (t.kind == TokenKind::kLeftBracket && peek(1).kind == TokenKind::kRightBracket &&
        peek(2).kind == TokenKind::kIdentifier) {
      pos_ += 3;
      return "[]" + tokens_[pos_ - 1].text;
    }
    if (t.kind == TokenKind::kIdentifier && peek(1).kind == TokenKind::kLeftBracket) {
      if (peek(2).kind == TokenKind::kIdentifier && peek(3).kind == TokenKind::kRightBracket &&
          peek(4).kind == TokenKind::kIdentifier) {
        pos_ += 5;
        return t.text + "[" + tokens_[pos_ - 3].text + "]" + tokens_[pos_ - 1].text;
      }
      return segment::error_at(t, "malformed kind (expected map[string]int or map[string]string)");
    }
    if (t.kind == TokenKind::kIdentifier && !is_grammar_word(t)) {
      ++pos_;
      return t.text;
    }
    return segment::error_at(t, "expected a kind after KIND, found " +
                                    segment::describe_token(t));
  }

  // The output name when AS is absent: the field the expression reads (`tolower(email)` ->
  // "email"), else the function's name (`now()` -> "now"), "count" for count(*).
  Result<std::string> default_name(const Column& column, std::size_t begin) const {
    if (column.expr) {
      std::vector<std::string> fields;
      segment::collect_expression_fields(*column.expr, fields);
      if (!fields.empty()) return fields.front();
    }
    if (column.aggregate == Aggregate::kCount) return std::string("count");
    if (column.expr && column.expr->kind == segment::ExprKind::kCall) {
      return std::string(segment::function_name(column.expr->function));
    }
    return segment::error_at(tokens_[begin],
                             "a column of " + render_tokens(tokens_, begin, pos_) +
                                 " needs a name: add AS <name>");
  }

  Status parse_by(Mapping& mapping) {
    std::vector<const Token*> unknown;
    while (true) {
      const Token& t = peek();
      SHOAL_ASSIGN_OR_RETURN(std::string name, parse_name("an identity column name after BY"));
      if (std::find(mapping.identity_fields.begin(), mapping.identity_fields.end(), name) !=
          mapping.identity_fields.end()) {
        return segment::error_at(t, "'" + name + "' is named twice in BY");
      }
      auto it = std::find_if(mapping.columns.begin(), mapping.columns.end(),
                             [&](const Column& c) { return c.name == name; });
      if (it == mapping.columns.end()) {
        unknown.push_back(&t);
      } else {
        SHOAL_RETURN_IF_ERROR(make_identity(*it, t, mapping.identity_fields.size()));
        mapping.identity_columns.push_back(static_cast<std::size_t>(it - mapping.columns.begin()));
      }
      mapping.identity_fields.push_back(std::move(name));
      if (!is_keyword(peek(), "OR")) break;
      ++pos_;
    }
    if (!unknown.empty()) {
      std::string names;
      for (std::size_t i = 0; i < unknown.size(); ++i) {
        if (i > 0) names += ", ";
        names += "'" + unknown[i]->text + "'";
      }
      std::string columns;
      for (std::size_t i = 0; i < mapping.columns.size(); ++i) {
        if (i > 0) columns += ", ";
        columns += mapping.columns[i].name;
      }
      return segment::error_at(*unknown.front(),
                               std::string("BY names ") +
                                   (unknown.size() == 1 ? "a column" : "columns") +
                                   " that the SELECT does not have: " + names +
                                   " (output names: " + columns + ")");
    }
    return ok_status();
  }

  static Status make_identity(Column& column, const Token& at, std::size_t priority) {
    if (column.aggregate != Aggregate::kNone) {
      return segment::error_at(at, "identity column '" + column.name + "' cannot be " +
                                       std::string(aggregate_name(column.aggregate)) +
                                       "(...); an identity is a plain expression");
    }
    if (column.merge_explicit) {
      return segment::error_at(at, "identity column '" + column.name +
                                       "' takes no MERGEOP (identities are sets of values)");
    }
    if (column.kind_explicit && column.kind != Kind::kString && column.kind != Kind::kInt &&
        column.kind != Kind::kNumber && column.kind != Kind::kStringList) {
      return segment::error_at(at, "identity column '" + column.name + "' has kind " +
                                       std::string(model::kind_name(column.kind)) +
                                       "; identities are string, int, number or []string");
    }
    if (!column.kind_explicit) column.kind = Kind::kString;
    column.is_identity = true;
    column.identity_priority = static_cast<int>(priority);
    column.merge = MergeOp::kSet;
    return ok_status();
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
};

// What IF, WHERE and column expressions read: the event's fields, and `_ts` as a date.
class EventFieldSource final : public model::FieldSource {
 public:
  using model::FieldSource::find;
  EventFieldSource(const model::Value& event, TimestampMs ts) : event_(event), ts_(model::Date{ts}) {}
  const model::Value* find(std::string_view path) const override {
    if (path == "_ts") return &ts_;
    if (hint_ != nullptr) {
      const model::Value* found = event_.find(path, *hint_);
      if (found != nullptr || path.find('.') == std::string_view::npos) return found;
    }
    return model::lookup_path(event_, path);
  }
  const model::Value& ts() const { return ts_; }
  // Where the column evaluated next found its field in the previous event's keys (null: no
  // hint). A column's expression reads one field mostly; one that reads several shares the
  // hint among them (each lookup still answers as a search would).
  void use_hint(std::size_t* hint) { hint_ = hint; }

 private:
  const model::Value& event_;
  model::Value ts_;
  std::size_t* hint_ = nullptr;
};

// Copies `value` into `out` when it already has `kind` (or is a date for a []time column), so a
// reused slot keeps its string or list capacity; false when it needs a conversion.
bool assign_same_kind(const model::Value& value, Kind kind, model::Value& out) {
  bool same = false;
  switch (kind) {
    case Kind::kString:
      same = value.is_string();
      break;
    case Kind::kInt:
      same = value.is_int();
      break;
    case Kind::kNumber:
      same = value.is_number();
      break;
    case Kind::kDate:
      same = value.is_date();
      break;
    case Kind::kTimeList:
      if (!value.is_date()) return false;
      if (out.is_times()) {
        out.as_times().assign(1, value.as_date());
      } else {
        out = model::Value(model::TimeSeries{value.as_date()});
      }
      return true;
    default:
      break;
  }
  if (same) out = value;
  return same;
}

// Converts to `kind`, skipping the general conversion when the value already has that kind.
Result<model::Value> to_kind(const model::Value& value, Kind kind) {
  model::Value out;
  if (assign_same_kind(value, kind, out)) return out;
  return model::coerce_to_kind(value, kind);
}

void add_identity_value(model::Identity& identity, std::string_view text) {
  if (text.empty()) return;
  model::ValueList& values = identity.values.as_list();
  for (const model::Value& v : values) {
    if (v.as_string() == text) return;
  }
  values.emplace_back(text);
}

void drop(MappedEvent& out, const Column& column, const std::string& why) {
  out.dropped.push_back(DroppedField{column.name, "field '" + column.name + "': " + why});
}

// Fills `identity` (a reused slot) with the values of `value` (a scalar or a list of scalars);
// false when there are none or the value cannot be an identity (then it is reported in `out`).
bool map_identity(const Column& column, const model::Value& value, model::Identity& identity,
                  MappedEvent& out) {
  identity.field = column.field_name;
  if (identity.values.is_list()) {
    identity.values.as_list().clear();
  } else {
    identity.values = model::ValueList{};
  }
  auto add = [&](const model::Value& element) -> bool {
    if (element.is_null()) return true;
    if (element.is_string()) {
      add_identity_value(identity, element.as_string());
      return true;
    }
    if (element.is_list() || element.is_map() || element.is_times()) {
      drop(out, column,
           "a " + std::string(model::value_type_name(element.type())) +
               " value cannot be an identity");
      return false;
    }
    Kind kind = column.kind == Kind::kStringList ? Kind::kString : column.kind;
    auto typed = to_kind(element, kind);
    if (!typed.ok()) {
      drop(out, column, typed.error().message);
      return false;
    }
    if (typed->is_string()) {
      add_identity_value(identity, typed->as_string());
    } else {
      add_identity_value(identity, model::number_text(*typed));
    }
    return true;
  };
  if (value.is_list()) {
    for (const model::Value& element : value.as_list()) {
      if (!add(element)) return false;
    }
  } else if (!add(value)) {
    return false;
  }
  return !identity.values.as_list().empty();
}

// One column's raw value for this event: nullptr when absent. `scratch` holds computed values;
// `hint` is the column's key-position hint (MappedEvent::key_hints).
const model::Value* column_value(const Column& column, EventFieldSource& source, TimestampMs now,
                                 segment::Operand& scratch, std::size_t& hint) {
  source.use_hint(&hint);
  if (column.reads_timestamp) return &source.ts();
  if (column.reads_field_directly) return source.find(column.field_path);
  if (!column.expr) return nullptr;
  scratch = segment::evaluate_operand(*column.expr, source, now);
  return scratch.present() ? &scratch.value() : nullptr;
}

}  // namespace

std::string_view aggregate_name(Aggregate aggregate) {
  switch (aggregate) {
    case Aggregate::kNone: return "none";
    case Aggregate::kSet: return "set";
    case Aggregate::kCount: return "count";
    case Aggregate::kSum: return "sum";
    case Aggregate::kMin: return "min";
    case Aggregate::kMax: return "max";
    case Aggregate::kAppend: return "append";
  }
  return "unknown";
}

const Column* Mapping::find_column(std::string_view name) const {
  for (const Column& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

Result<Mapping> parse_mapping(std::string_view text) {
  SHOAL_ASSIGN_OR_RETURN(std::vector<Token> tokens, segment::tokenize(text));
  Parser parser(text, std::move(tokens));
  return parser.parse();
}

void MappedEvent::clear() {
  where_matched = false;
  identities.clear();
  fields.clear();
  dropped.clear();
}

namespace {

// What apply_mapping and map_identities share: the WHERE clause, then the identity columns'
// values into out.identities in BY order. False (and nothing mapped) when WHERE rejects.
bool map_where_and_identities(const Mapping& mapping, EventFieldSource& source, TimestampMs now,
                              segment::Operand& scratch, MappedEvent& out) {
  out.where_matched = false;
  out.dropped.clear();
  if (mapping.where && !segment::evaluate_condition(*mapping.where, source, now)) {
    out.identities.clear();
    return false;
  }
  out.where_matched = true;
  if (out.key_hints.size() < mapping.columns.size())
    out.key_hints.resize(mapping.columns.size(), 0);
  std::size_t used_identities = 0;
  for (std::size_t index : mapping.identity_columns) {
    const Column& column = mapping.columns[index];
    if (column.condition && !segment::evaluate_condition(*column.condition, source, now)) continue;
    const model::Value* value = column_value(column, source, now, scratch, out.key_hints[index]);
    source.use_hint(nullptr);
    if (value == nullptr || value->is_null()) continue;
    if (used_identities == out.identities.size()) out.identities.emplace_back();
    if (map_identity(column, *value, out.identities[used_identities], out)) ++used_identities;
  }
  out.identities.resize(used_identities);
  return true;
}

}  // namespace

void map_identities(const Mapping& mapping, const model::Value& event, TimestampMs event_ts,
                    TimestampMs now, MappedEvent& out) {
  out.fields.clear();
  EventFieldSource source(event, event_ts);
  segment::Operand scratch;
  map_where_and_identities(mapping, source, now, scratch, out);
}

void apply_mapping(const Mapping& mapping, const model::Value& event, TimestampMs event_ts,
                   TimestampMs now, std::uint64_t seq, MappedEvent& out) {
  // Rationale: identity and field slots of the previous event are overwritten in place and
  // trimmed at the end, so their strings and lists keep their capacity across events.
  EventFieldSource source(event, event_ts);
  segment::Operand scratch;
  if (!map_where_and_identities(mapping, source, now, scratch, out)) {
    out.fields.clear();
    return;
  }

  std::size_t used_fields = 0;

  for (std::size_t index = 0; index < mapping.columns.size(); ++index) {
    const Column& column = mapping.columns[index];
    if (column.is_identity) continue;
    if (column.condition && !segment::evaluate_condition(*column.condition, source, now)) continue;
    const model::Value* value = nullptr;
    if (column.aggregate != Aggregate::kCount || column.expr) {
      value = column_value(column, source, now, scratch, out.key_hints[index]);
      source.use_hint(nullptr);
      if (value == nullptr || value->is_null()) continue;
    }
    // Written into the next slot (reused from the previous event), which is kept only if the
    // value fits the column's kind.
    if (used_fields == out.fields.size()) out.fields.emplace_back();
    MappedField& field = out.fields[used_fields];
    model::Value& typed = field.value.value;
    if (column.aggregate == Aggregate::kCount) {
      typed = column.kind == Kind::kNumber ? model::Value(1.0)
                                           : model::Value(static_cast<std::int64_t>(1));
    } else if (!assign_same_kind(*value, column.kind, typed)) {
      Result<model::Value> converted = model::coerce_to_kind(*value, column.kind);
      if (!converted.ok()) {
        drop(out, column, converted.error().message);
        continue;
      }
      typed = std::move(*converted);
    }
    // An empty set or series changes nothing: leave the profile untouched.
    if ((typed.is_list() && typed.as_list().empty() && column.aggregate == Aggregate::kSet) ||
        (typed.is_times() && typed.as_times().empty())) {
      continue;
    }
    ++used_fields;
    field.name = column.field_name;
    field.value.ts = event_ts;
    field.value.seq = seq;
    field.value.merge = column.merge;
  }
  out.fields.resize(used_fields);
}

}  // namespace shoal::mapping
