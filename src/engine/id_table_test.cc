#include "engine/id_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace shoal::engine {
namespace {

using Entries = std::vector<std::pair<std::uint64_t, std::string>>;

Entries contents(const IdTable<std::string>& table) {
  Entries out;
  table.for_each([&](std::uint64_t id, const std::string& value) { out.emplace_back(id, value); });
  return out;
}

TEST(IdTableTest, EmptyTableHasNothing) {
  IdTable<std::string> table;
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.find(123456789), nullptr);
  EXPECT_FALSE(table.erase(5));
  EXPECT_TRUE(table.empty());
  EXPECT_TRUE(contents(table).empty());
}

TEST(IdTableTest, InsertKeepsTheFirstValueAndItsAddress) {
  IdTable<std::string> table;
  auto [first, inserted] = table.insert(4095, "a");
  ASSERT_TRUE(inserted);
  auto [again, inserted_again] = table.insert(4095, "b");
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(again, first);
  EXPECT_EQ(*first, "a");
  // Ids on other pages, far beyond, do not move it.
  for (std::uint64_t id = 4096; id < 4096 * 40; id += 997) table.insert(id, std::to_string(id));
  EXPECT_EQ(table.find(4095), first);
  EXPECT_EQ(*table.find(4096 + 997), "5093");
}

// Random inserts and erases over ids spread across pages (some pages fill and empty again)
// against std::map; iteration is in ascending id order.
TEST(IdTableTest, BehavesLikeAnOrderedMapUnderRandomOperations) {
  std::mt19937_64 rng(7);
  IdTable<std::string> table;
  std::map<std::uint64_t, std::string> reference;
  for (int step = 0; step < 50000; ++step) {
    // Mostly ids near each other, some far apart.
    const std::uint64_t id = rng() % 8 == 0 ? rng() % 200000 : rng() % 9000;
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
  EXPECT_LE(reference.rbegin()->first, table.id_bound() - 1);
}

TEST(IdTableTest, EraseIfDropsExactlyTheChosenEntries) {
  IdTable<std::string> table;
  std::map<std::uint64_t, std::string> reference;
  // Every id of two whole pages and a few beyond: emptying a page while walking it is covered.
  for (std::uint64_t id = 0; id < 2 * 4096; ++id) {
    table.insert(id, std::to_string(id));
    reference.emplace(id, std::to_string(id));
  }
  for (std::uint64_t id : {20000u, 20001u, 70000u}) {
    table.insert(id, std::to_string(id));
    reference.emplace(id, std::to_string(id));
  }
  // All of the first page, odd ids of the second, and 20000.
  auto drop = [](std::uint64_t id) {
    return id < 4096 || (id < 8192 && id % 2 == 1) || id == 20000;
  };
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
  EXPECT_EQ(table.find(0), nullptr);
  // A freed page takes inserts again.
  EXPECT_TRUE(table.insert(17, "again").second);
  EXPECT_EQ(*table.find(17), "again");
}

}  // namespace
}  // namespace shoal::engine
