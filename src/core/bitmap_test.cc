#include "core/bitmap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

namespace shoal {
namespace {

std::vector<std::uint32_t> members(const std::vector<std::uint64_t>& words) {
  std::vector<std::uint32_t> out;
  bitmap_for_each(words, [&](std::uint32_t i) { out.push_back(i); });
  return out;
}

TEST(BitmapTest, SetOrAndForEachAgreeWithASetAcrossWords) {
  const std::vector<std::uint32_t> a_items = {0, 1, 63, 64, 127, 128, 200, 63};
  const std::vector<std::uint32_t> b_items = {2, 63, 65, 1000};
  std::vector<std::uint64_t> a, b;
  for (std::uint32_t i : a_items) bitmap_set(a, i);
  for (std::uint32_t i : b_items) bitmap_set(b, i);
  EXPECT_EQ(a.size(), 200u / 64 + 1);
  EXPECT_EQ(members(a), (std::vector<std::uint32_t>{0, 1, 63, 64, 127, 128, 200}));
  std::set<std::uint32_t> both(a_items.begin(), a_items.end());
  both.insert(b_items.begin(), b_items.end());
  bitmap_or(a, b);
  EXPECT_EQ(members(a), std::vector<std::uint32_t>(both.begin(), both.end()));
  std::vector<std::uint64_t> shorter;
  bitmap_set(shorter, 5);
  bitmap_or(b, shorter);  // a shorter operand leaves the higher words as they were
  EXPECT_EQ(members(b), (std::vector<std::uint32_t>{2, 5, 63, 65, 1000}));
  EXPECT_TRUE(members({}).empty());
  std::vector<std::uint32_t> taken;
  bitmap_take_each(b, [&](std::uint32_t i) { taken.push_back(i); });
  EXPECT_EQ(taken, (std::vector<std::uint32_t>{2, 5, 63, 65, 1000}));
  EXPECT_EQ(b.size(), 1000u / 64 + 1);  // kept, all zero
  EXPECT_TRUE(std::all_of(b.begin(), b.end(), [](std::uint64_t w) { return w == 0; }));
}

}  // namespace
}  // namespace shoal
