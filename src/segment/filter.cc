#include "segment/filter.h"

namespace shoal::segment {

bool is_valid_slug(std::string_view alias) {
  if (alias.empty() || alias.size() > 128) return false;
  for (char c : alias) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<Filter> parse_filter(std::string_view text) {
  SHOAL_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(text));
  std::size_t pos = 0;
  if (!is_keyword(tokens[pos], "FILTER")) {
    return error_at(tokens[pos], "expected FILTER, found " + describe_token(tokens[pos]));
  }
  ++pos;
  Filter filter;
  SHOAL_ASSIGN_OR_RETURN(filter.condition, parse_condition(tokens, pos));
  bool seen_from = false;
  bool seen_alias = false;
  while (tokens[pos].kind != TokenKind::kEnd) {
    const Token& clause = tokens[pos];
    if (is_keyword(clause, "FROM") && !seen_from) {
      seen_from = true;
      const Token& source = tokens[pos + 1];
      if (!is_keyword(source, "USER")) {
        return error_at(source, "FROM must name 'user', found " + describe_token(source));
      }
      pos += 2;
    } else if (is_keyword(clause, "ALIAS") && !seen_alias) {
      seen_alias = true;
      const Token& alias = tokens[pos + 1];
      if ((alias.kind != TokenKind::kIdentifier && alias.kind != TokenKind::kString) ||
          !is_valid_slug(alias.text)) {
        return error_at(alias, "ALIAS needs a slug (letters, digits, '_' or '-'), found " +
                                   describe_token(alias));
      }
      filter.alias = alias.text;
      filter.alias_line = alias.line;
      filter.alias_column = alias.column;
      pos += 2;
    } else {
      std::string expected = "expected ";
      if (!seen_from) expected += "FROM, ";
      if (!seen_alias) expected += "ALIAS, ";
      return error_at(clause, expected + "AND, OR or end of input after the condition, found " +
                                  describe_token(clause));
    }
  }
  return filter;
}

}  // namespace shoal::segment
