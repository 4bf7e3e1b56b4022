#pragma once
// Tokens of the segment language (FilterQL subset), shared with the mapping language (LQL).
// Keywords are plain identifiers; parsers compare them case-insensitively with is_keyword().
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace shoal::segment {

enum class TokenKind {
  kIdentifier,  // bare word (letters, digits, '_', '.'; not starting with a digit) or `backticked`
  kString,      // "..." or '...'; text is unescaped
  kInteger,     // optional '-' then digits
  kFloat,       // digits '.' digits, optional exponent
  kLeftParen,
  kRightParen,
  kComma,
  kOperator,  // == = != > >= < <=
  kStar,
  kLeftBracket,   // '[' (the mapping language's kinds: []string, map[string]int)
  kRightBracket,  // ']'
  kEnd,           // always the last token; its position is the end of the text
};

std::string_view token_kind_name(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  int line = 1;
  int column = 1;  // 1-based, in bytes
  bool backticked = false;
  bool newline_before = false;  // a line break separates this token from the previous one
};

// Splits `text` into tokens ending with kEnd. `--` starts a comment to the end of the line.
// Errors read "line L, col C: ...".
Result<std::vector<Token>> tokenize(std::string_view text);

// True when `token` is a bare identifier equal to `upper_keyword` ignoring case.
bool is_keyword(const Token& token, std::string_view upper_keyword);

// "line L, col C: <message>" at the token's position.
Error error_at(const Token& token, std::string_view message);
// How a token reads in an error message: `'abc'`, `"str"`, `end of input`.
std::string describe_token(const Token& token);

}  // namespace shoal::segment
