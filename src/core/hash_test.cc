#include "core/hash.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

// Segment and trigger ids are stored and sent to customers: the hash must never change. These
// values were computed independently (a Python transcription of fnv1a64 + the final mix).
TEST(HashTest, HexId128IsStable) {
  EXPECT_EQ(hex_id128("segment:demo_segment:1"), "a99c28f02ccd8912972475258bd4d6da");
  EXPECT_EQ(hex_id128(""), "0f3a0b4657e554490b31dfce424d51a1");
  EXPECT_EQ(hex_id128("7/abc/enter/1700000000000/3"), "978716b96642c71470590b32e17ce0c7");
}

TEST(HashTest, HexId128IsLowercaseHexOfFixedLength) {
  for (std::string_view s : {"a", "b", "a longer input with spaces", "\xff\x00"}) {
    std::string id = hex_id128(s);
    ASSERT_EQ(id.size(), 32u) << s;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  }
  EXPECT_NE(hex_id128("a"), hex_id128("b"));
}

}  // namespace
}  // namespace shoal
