#include "engine/id_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace shoal::engine {
namespace {

using Entries = std::vector<std::pair<std::uint64_t, std::string>>;

// Every entry, sorted by id (the table iterates in its own order).
Entries contents(const IdTable<std::string>& table) {
  Entries out;
  table.for_each([&](std::uint64_t id, const std::string& value) { out.emplace_back(id, value); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(IdTableTest, EmptyTableHasNothing) {
  IdTable<std::string> table;
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.find(123456789), nullptr);
  EXPECT_FALSE(table.erase(5));
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.slot_count(), 0u);
  EXPECT_TRUE(contents(table).empty());
}

TEST(IdTableTest, InsertKeepsTheFirstValueAndItsAddressThroughGrowth) {
  IdTable<std::string> table;
  auto [first, inserted] = table.insert(4095, "a");
  ASSERT_TRUE(inserted);
  auto [again, inserted_again] = table.insert(4095, "b");
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(again, first);
  EXPECT_EQ(*first, "a");
  // The table grows many times over; the value stays where it was.
  for (std::uint64_t id = 0; id < 20000; ++id) {
    if (id != 4095) table.insert(id * 7, std::to_string(id));
  }
  EXPECT_EQ(table.find(4095), first);
  EXPECT_EQ(*table.find(7 * 123), "123");
  EXPECT_GE(table.slot_count() * 3, table.size() * 4);  // at most 3/4 full
}

// Random inserts and erases (dense ids as the engine's, and some far apart, 0 and the largest
// included) against std::map: probe runs form, wrap around and lose entries in the middle.
TEST(IdTableTest, BehavesLikeAMapUnderRandomOperations) {
  std::mt19937_64 rng(7);
  IdTable<std::string> table;
  std::map<std::uint64_t, std::string> reference;
  for (int step = 0; step < 50000; ++step) {
    std::uint64_t id = rng() % 8 == 0 ? rng() : rng() % 3000;
    if (step % 1000 == 0) id = step % 2000 == 0 ? 0 : UINT64_MAX;
    if (rng() % 3 != 0) {
      const std::string value = std::to_string(step);
      const bool inserted = table.insert(id, std::string(value)).second;
      EXPECT_EQ(inserted, reference.emplace(id, value).second) << id;
    } else {
      EXPECT_EQ(table.erase(id), reference.erase(id) == 1) << id;
    }
    if (step % 5000 == 0) {
      ASSERT_EQ(table.size(), reference.size());
      ASSERT_EQ(contents(table), Entries(reference.begin(), reference.end()));
    }
  }
  for (const auto& [id, value] : reference) {
    ASSERT_NE(table.find(id), nullptr) << id;
    EXPECT_EQ(*table.find(id), value);
  }
  std::size_t in_slots = 0;
  for (std::size_t i = 0; i < table.slot_count(); ++i) in_slots += table.slot(i) != nullptr;
  EXPECT_EQ(in_slots, reference.size());
}

TEST(IdTableTest, EraseIfDropsExactlyTheChosenEntries) {
  IdTable<std::string> table;
  std::map<std::uint64_t, std::string> reference;
  for (std::uint64_t id = 1; id <= 10000; ++id) {
    table.insert(id, std::to_string(id));
    reference.emplace(id, std::to_string(id));
  }
  // Runs of neighbours and scattered ones.
  auto drop = [](std::uint64_t id) { return id <= 3000 || id % 7 == 0; };
  std::size_t expected = 0;
  for (auto it = reference.begin(); it != reference.end();) {
    if (drop(it->first)) {
      it = reference.erase(it);
      ++expected;
    } else {
      ++it;
    }
  }
  EXPECT_EQ(table.erase_if([&](std::uint64_t id, const std::string&) { return drop(id); }),
            expected);
  EXPECT_EQ(table.size(), reference.size());
  EXPECT_EQ(contents(table), Entries(reference.begin(), reference.end()));
  for (const auto& [id, value] : reference) ASSERT_NE(table.find(id), nullptr) << id;
  EXPECT_EQ(table.find(7), nullptr);
  EXPECT_TRUE(table.insert(7, "again").second);
  EXPECT_EQ(*table.find(7), "again");
}

}  // namespace
}  // namespace shoal::engine
