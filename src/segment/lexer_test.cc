#include "segment/lexer.h"

#include <gtest/gtest.h>

namespace shoal::segment {
namespace {

std::vector<Token> lex(std::string_view text) {
  auto result = tokenize(text);
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::move(result).value() : std::vector<Token>{};
}

std::string lex_error(std::string_view text) {
  auto result = tokenize(text);
  EXPECT_FALSE(result.ok());
  return result.ok() ? "" : result.error().message;
}

TEST(LexerTest, SplitsAFilterIntoTokens) {
  auto tokens = lex("FILTER AND (a >= 3, b != \"x\") ALIAS s");
  std::vector<TokenKind> kinds;
  std::vector<std::string> texts;
  for (const auto& t : tokens) {
    kinds.push_back(t.kind);
    texts.push_back(t.text);
  }
  EXPECT_EQ(kinds, (std::vector<TokenKind>{
                       TokenKind::kIdentifier, TokenKind::kIdentifier, TokenKind::kLeftParen,
                       TokenKind::kIdentifier, TokenKind::kOperator, TokenKind::kInteger,
                       TokenKind::kComma, TokenKind::kIdentifier, TokenKind::kOperator,
                       TokenKind::kString, TokenKind::kRightParen, TokenKind::kIdentifier,
                       TokenKind::kIdentifier, TokenKind::kEnd}));
  EXPECT_EQ(texts, (std::vector<std::string>{"FILTER", "AND", "(", "a", ">=", "3", ",", "b",
                                             "!=", "x", ")", "ALIAS", "s", ""}));
}

TEST(LexerTest, RecordsLineColumnAndNewlines) {
  auto tokens = lex("a\n  -- note\n  bb  c");
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[0].line, 1);
  EXPECT_EQ(tokens[0].column, 1);
  EXPECT_FALSE(tokens[0].newline_before);
  EXPECT_EQ(tokens[1].text, "bb");
  EXPECT_EQ(tokens[1].line, 3);
  EXPECT_EQ(tokens[1].column, 3);
  EXPECT_TRUE(tokens[1].newline_before);
  EXPECT_EQ(tokens[2].column, 7);
  EXPECT_FALSE(tokens[2].newline_before);
  EXPECT_EQ(tokens[3].kind, TokenKind::kEnd);
}

TEST(LexerTest, DropsCommentsToEndOfLine) {
  auto tokens = lex("x -- y == 3\n-- whole line\nz");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].text, "x");
  EXPECT_EQ(tokens[1].text, "z");
}

TEST(LexerTest, ReadsBacktickedIdentifiersVerbatim) {
  auto tokens = lex("`my field.x` `AND`");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kIdentifier);
  EXPECT_EQ(tokens[0].text, "my field.x");
  EXPECT_TRUE(tokens[0].backticked);
  EXPECT_FALSE(is_keyword(tokens[1], "AND"));
}

TEST(LexerTest, UnescapesBothQuoteStyles) {
  auto tokens = lex(R"("a\"b\\c" 'it\'s' "tab\t")");
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[0].text, "a\"b\\c");
  EXPECT_EQ(tokens[1].text, "it's");
  EXPECT_EQ(tokens[2].text, "tab\t");
}

TEST(LexerTest, ReadsIntegersFloatsAndNegativeNumbers) {
  auto tokens = lex("42 -7 1.5 2e3 -0.25");
  ASSERT_EQ(tokens.size(), 6u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kInteger);
  EXPECT_EQ(tokens[1].kind, TokenKind::kInteger);
  EXPECT_EQ(tokens[1].text, "-7");
  EXPECT_EQ(tokens[2].kind, TokenKind::kFloat);
  EXPECT_EQ(tokens[3].kind, TokenKind::kFloat);
  EXPECT_EQ(tokens[4].text, "-0.25");
}

TEST(LexerTest, ReadsAllOperators) {
  auto tokens = lex("== = != > >= < <= * [ ]");
  std::vector<std::string> texts;
  for (const auto& t : tokens) texts.push_back(t.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"==", "=", "!=", ">", ">=", "<", "<=", "*", "[", "]",
                                             ""}));
  EXPECT_EQ(tokens[7].kind, TokenKind::kStar);
  EXPECT_EQ(tokens[8].kind, TokenKind::kLeftBracket);
}

TEST(LexerTest, KeywordsCompareCaseInsensitively) {
  auto tokens = lex("and Not between");
  EXPECT_TRUE(is_keyword(tokens[0], "AND"));
  EXPECT_TRUE(is_keyword(tokens[1], "NOT"));
  EXPECT_FALSE(is_keyword(tokens[2], "BETWEENX"));
  EXPECT_FALSE(is_keyword(tokens[3], "END"));
}

TEST(LexerTest, ReportsUnterminatedStringAtItsStart) {
  EXPECT_EQ(lex_error("a == \"abc"), "line 1, col 6: unterminated string");
}

TEST(LexerTest, ReportsUnterminatedBacktick) {
  EXPECT_EQ(lex_error("x\n `abc"), "line 2, col 2: unterminated `identifier`");
}

TEST(LexerTest, ReportsUnexpectedCharacter) {
  EXPECT_EQ(lex_error("a # b"), "line 1, col 3: unexpected '#'");
  EXPECT_EQ(lex_error("a ! b"), "line 1, col 3: unexpected '!' (use != or NOT)");
  EXPECT_EQ(lex_error("12abc"), "line 1, col 3: unexpected 'a' after number");
}

}  // namespace
}  // namespace shoal::segment
