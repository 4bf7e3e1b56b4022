#include "segment/lexer.h"

#include <cctype>

namespace shoal::segment {
namespace {

Error error_at_position(int line, int column, std::string_view message) {
  return make_error(ErrorCode::kInvalidArgument, "line " + std::to_string(line) + ", col " +
                                                     std::to_string(column) + ": " +
                                                     std::string(message));
}

bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '@';
}
bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$' ||
         c == '@';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string printable(char c) {
  if (std::isprint(static_cast<unsigned char>(c))) return std::string("'") + c + "'";
  static const char* kHex = "0123456789abcdef";
  unsigned char u = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

}  // namespace

std::string_view token_kind_name(TokenKind kind) {
  switch (kind) {
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kString: return "string";
    case TokenKind::kInteger: return "integer";
    case TokenKind::kFloat: return "number";
    case TokenKind::kLeftParen: return "'('";
    case TokenKind::kRightParen: return "')'";
    case TokenKind::kComma: return "','";
    case TokenKind::kOperator: return "operator";
    case TokenKind::kStar: return "'*'";
    case TokenKind::kLeftBracket: return "'['";
    case TokenKind::kRightBracket: return "']'";
    case TokenKind::kEnd: return "end of input";
  }
  return "token";
}

Result<std::vector<Token>> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  int line = 1;
  int column = 1;
  std::size_t i = 0;
  bool newline_before = false;
  auto advance = [&](std::size_t n) {
    for (std::size_t k = 0; k < n && i < text.size(); ++k, ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
  };
  while (true) {
    // Whitespace and comments.
    while (i < text.size()) {
      char c = text[i];
      if (c == '\n') {
        newline_before = true;
        advance(1);
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        advance(1);
      } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
        while (i < text.size() && text[i] != '\n') advance(1);
      } else {
        break;
      }
    }
    Token token;
    token.line = line;
    token.column = column;
    token.newline_before = newline_before;
    newline_before = false;
    if (i >= text.size()) {
      token.kind = TokenKind::kEnd;
      tokens.push_back(std::move(token));
      return tokens;
    }
    const char c = text[i];
    const std::size_t start = i;
    if (is_ident_start(c)) {
      while (i < text.size() && is_ident_char(text[i])) advance(1);
      token.kind = TokenKind::kIdentifier;
      token.text = std::string(text.substr(start, i - start));
    } else if (c == '`') {
      advance(1);
      while (i < text.size() && text[i] != '`') advance(1);
      if (i >= text.size()) {
        return error_at_position(token.line, token.column, "unterminated `identifier`");
      }
      token.kind = TokenKind::kIdentifier;
      token.backticked = true;
      token.text = std::string(text.substr(start + 1, i - start - 1));
      advance(1);
      if (token.text.empty()) {
        return error_at_position(token.line, token.column, "empty `identifier`");
      }
    } else if (c == '"' || c == '\'') {
      const char quote = c;
      advance(1);
      std::string value;
      bool closed = false;
      while (i < text.size()) {
        char d = text[i];
        if (d == quote) {
          advance(1);
          closed = true;
          break;
        }
        if (d == '\\' && i + 1 < text.size()) {
          char e = text[i + 1];
          switch (e) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            case '\\': value += '\\'; break;
            case '"': value += '"'; break;
            case '\'': value += '\''; break;
            default:
              value += '\\';
              value += e;
              break;
          }
          advance(2);
          continue;
        }
        value += d;
        advance(1);
      }
      if (!closed) return error_at_position(token.line, token.column, "unterminated string");
      token.kind = TokenKind::kString;
      token.text = std::move(value);
    } else if (is_digit(c) || (c == '-' && i + 1 < text.size() && is_digit(text[i + 1])) ||
               (c == '.' && i + 1 < text.size() && is_digit(text[i + 1]))) {
      if (c == '-') advance(1);
      bool is_float = false;
      while (i < text.size() && is_digit(text[i])) advance(1);
      if (i < text.size() && text[i] == '.' && i + 1 < text.size() && is_digit(text[i + 1])) {
        is_float = true;
        advance(1);
        while (i < text.size() && is_digit(text[i])) advance(1);
      }
      if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
        if (j < text.size() && is_digit(text[j])) {
          is_float = true;
          advance(j - i);
          while (i < text.size() && is_digit(text[i])) advance(1);
        }
      }
      if (i < text.size() && (is_ident_start(text[i]))) {
        return error_at_position(line, column,
                                 "unexpected " + printable(text[i]) + " after number");
      }
      token.kind = is_float ? TokenKind::kFloat : TokenKind::kInteger;
      token.text = std::string(text.substr(start, i - start));
    } else {
      switch (c) {
        case '(': token.kind = TokenKind::kLeftParen; break;
        case ')': token.kind = TokenKind::kRightParen; break;
        case ',': token.kind = TokenKind::kComma; break;
        case '*': token.kind = TokenKind::kStar; break;
        case '[': token.kind = TokenKind::kLeftBracket; break;
        case ']': token.kind = TokenKind::kRightBracket; break;
        case '=':
        case '>':
        case '<':
        case '!': {
          token.kind = TokenKind::kOperator;
          bool two = i + 1 < text.size() && text[i + 1] == '=';
          if (c == '!' && !two) {
            return error_at_position(token.line, token.column, "unexpected '!' (use != or NOT)");
          }
          token.text = std::string(text.substr(i, two ? 2 : 1));
          advance(two ? 2 : 1);
          tokens.push_back(std::move(token));
          continue;
        }
        default:
          return error_at_position(token.line, token.column, "unexpected " + printable(c));
      }
      token.text = std::string(1, c);
      advance(1);
    }
    tokens.push_back(std::move(token));
  }
}

bool is_keyword(const Token& token, std::string_view upper_keyword) {
  if (token.kind != TokenKind::kIdentifier || token.backticked) return false;
  if (token.text.size() != upper_keyword.size()) return false;
  for (std::size_t k = 0; k < upper_keyword.size(); ++k) {
    if (std::toupper(static_cast<unsigned char>(token.text[k])) != upper_keyword[k]) return false;
  }
  return true;
}

Error error_at(const Token& token, std::string_view message) {
  return error_at_position(token.line, token.column, message);
}

std::string describe_token(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd: return "end of input";
    case TokenKind::kString: return "\"" + token.text + "\"";
    case TokenKind::kIdentifier:
      return token.backticked ? "`" + token.text + "`" : "'" + token.text + "'";
    default: return "'" + token.text + "'";
  }
}

}  // namespace shoal::segment
