#include "core/short_names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal {
namespace {

// name_less and name_equal must order exactly as std::string does: the profile's fields and
// the stored maps are sorted with one and searched with the other.
TEST(ShortNamesTest, OrderAndEqualityMatchStdString) {
  const std::vector<std::string> names = {"",      "a",     "ab",    "abc",   "b",
                                          "B",     "a.b",   "a\xff", "a\x01", std::string(1, '\0'),
                                          "plan",  "plans", "pla",   "user_id", "visits"};
  for (const std::string& a : names) {
    for (const std::string& b : names) {
      EXPECT_EQ(name_less(a, b), a < b) << "'" << a << "' vs '" << b << "'";
      EXPECT_EQ(name_equal(a, b), a == b) << "'" << a << "' vs '" << b << "'";
    }
  }
}

}  // namespace
}  // namespace shoal
