#include "core/result.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return make_error(ErrorCode::kInvalidArgument, "must be positive");
  return x;
}

Result<int> doubled(int x) {
  SHOAL_ASSIGN_OR_RETURN(int v, parse_positive(x));
  return v * 2;
}

Status check(int x) {
  SHOAL_RETURN_IF_ERROR(parse_positive(x));
  return ok_status();
}

TEST(ResultTest, PropagatesValuesAndErrors) {
  EXPECT_EQ(*doubled(4), 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().to_string(), "invalid_argument: must be positive");
  EXPECT_TRUE(check(1).ok());
  EXPECT_FALSE(check(0).ok());
}

TEST(ResultTest, ContextIsPrefixed) {
  Error e{ErrorCode::kIo, "disk full"};
  EXPECT_EQ(e.with_context("writing batch").message, "writing batch: disk full");
}

}  // namespace
}  // namespace shoal
