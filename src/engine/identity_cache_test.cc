#include "engine/identity_cache.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace shoal::engine {
namespace {

using Answer = std::optional<model::ProfileId>;
using namespace std::string_literals;

// Keys of every storage class: empty, inline (up to 15 bytes, 15 exactly), out of line (16 and
// longer), with the "field\0value" shape the engine uses.
std::string key_for(std::size_t n) {
  switch (n % 5) {
    case 0:
      return std::string("user_id\0u", 9) + std::to_string(n);
    case 1:
      return std::string("email\0user", 10) + std::to_string(n) + "@example.com";
    case 2:
      return std::string(15 - std::to_string(n).size(), 'k') + std::to_string(n);
    case 3:
      return std::string(16 - std::to_string(n).size(), 'k') + std::to_string(n);
    default:
      return n == 4 ? std::string() : "x" + std::to_string(n);
  }
}

void expect_same(const IdentityCache& cache,
                 const std::unordered_map<std::string, Answer>& reference, std::size_t key_space) {
  ASSERT_EQ(cache.size(), reference.size());
  for (std::size_t n = 0; n < key_space; ++n) {
    const std::string key = key_for(n);
    Answer got;
    const bool cached = cache.find(key, got);
    auto it = reference.find(key);
    ASSERT_EQ(cached, it != reference.end()) << "key " << n;
    if (cached) {
      EXPECT_EQ(got, it->second) << "key " << n;
    }
  }
}

TEST(IdentityCacheTest, EmptyCacheFindsNothing) {
  IdentityCache cache;
  Answer id;
  EXPECT_FALSE(cache.find("user_id", id));
  EXPECT_FALSE(cache.erase("user_id"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.memory_bytes(), 0u);
}

TEST(IdentityCacheTest, KeepsProfilesAndCachedMissesApart) {
  IdentityCache cache;
  cache.set("a", model::ProfileId{7});
  cache.set("b", std::nullopt);
  cache.set("c", model::ProfileId{0});
  Answer id;
  ASSERT_TRUE(cache.find("a", id));
  EXPECT_EQ(id, Answer(model::ProfileId{7}));
  id = model::ProfileId{1};
  ASSERT_TRUE(cache.find("b", id));
  EXPECT_EQ(id, std::nullopt);
  ASSERT_TRUE(cache.find("c", id));
  EXPECT_EQ(id, Answer(model::ProfileId{0}));
  // Replacing flips between the two and keeps the key.
  cache.set("a", std::nullopt);
  cache.set("b", model::ProfileId{9});
  ASSERT_TRUE(cache.find("a", id));
  EXPECT_EQ(id, std::nullopt);
  ASSERT_TRUE(cache.find("b", id));
  EXPECT_EQ(id, Answer(model::ProfileId{9}));
  EXPECT_EQ(cache.size(), 3u);
}

// Keys differing only past their 15th byte, or by an embedded NUL, are different keys.
TEST(IdentityCacheTest, ComparesWholeKeys) {
  IdentityCache cache;
  const std::string long_a = "email\0somebody@example.com"s;
  const std::string long_b = "email\0somebody@example.org"s;
  cache.set(long_a, model::ProfileId{1});
  cache.set(long_b, model::ProfileId{2});
  cache.set(std::string("id\0a", 4), model::ProfileId{3});
  cache.set(std::string("id\0b", 4), model::ProfileId{4});
  Answer id;
  ASSERT_TRUE(cache.find(long_a, id));
  EXPECT_EQ(id, Answer(model::ProfileId{1}));
  ASSERT_TRUE(cache.find(long_b, id));
  EXPECT_EQ(id, Answer(model::ProfileId{2}));
  ASSERT_TRUE(cache.find(std::string("id\0b", 4), id));
  EXPECT_EQ(id, Answer(model::ProfileId{4}));
  EXPECT_FALSE(cache.find("id", id));
  EXPECT_FALSE(cache.find("email\0somebody@example.co"s, id));
  EXPECT_FALSE(cache.find("email"s, id));
}

// Sets, erases and shrinks in random order against std::unordered_map; the key space is small
// enough that long probe runs form, wrap around the table's end and get erased from the middle.
TEST(IdentityCacheTest, BehavesLikeAMapUnderRandomOperations) {
  std::mt19937_64 rng(42);
  IdentityCache cache;
  std::unordered_map<std::string, Answer> reference;
  constexpr std::size_t kKeys = 3000;
  for (int step = 0; step < 60000; ++step) {
    const std::string key = key_for(rng() % kKeys);
    const unsigned op = rng() % 10;
    if (op < 6) {
      Answer id;
      if (rng() % 4 != 0) id = model::ProfileId{rng() % 100000};
      cache.set(key, id);
      reference[key] = id;
    } else if (op < 9) {
      EXPECT_EQ(cache.erase(key), reference.erase(key) == 1) << key;
    } else {
      Answer got;
      auto it = reference.find(key);
      ASSERT_EQ(cache.find(key, got), it != reference.end());
      if (it != reference.end()) {
        EXPECT_EQ(got, it->second);
      }
    }
    if (step % 5000 == 4999) expect_same(cache, reference, kKeys);
  }
  expect_same(cache, reference, kKeys);
}

TEST(IdentityCacheTest, ShrinkDropsOnlyWhatItMayAndKeepsTheRestFindable) {
  IdentityCache cache;
  std::unordered_map<std::string, Answer> reference;
  constexpr std::size_t kKeys = 5000;
  for (std::size_t n = 0; n < kKeys; ++n) {
    cache.set(key_for(n), model::ProfileId{n});
    reference[key_for(n)] = model::ProfileId{n};
  }
  const std::size_t full_bytes = cache.memory_bytes();
  // Keys of even n are pinned (the engine's unwritten identities).
  std::unordered_set<std::string> pinned_keys;
  for (std::size_t n = 0; n < kKeys; n += 2) pinned_keys.insert(key_for(n));
  auto pinned = [&](std::string_view key) { return pinned_keys.count(std::string(key)) == 1; };
  std::vector<std::string> seen;
  const std::size_t dropped = cache.shrink_to(1000, [&](std::string_view key) {
    seen.emplace_back(key);
    return !pinned(key);
  });
  // Every odd key may go, and the target is below the pinned half: all of them go.
  EXPECT_EQ(dropped, kKeys / 2);
  EXPECT_EQ(cache.size(), kKeys - kKeys / 2);
  EXPECT_EQ(seen.size(), kKeys);
  for (auto it = reference.begin(); it != reference.end();) {
    it = pinned(it->first) ? std::next(it) : reference.erase(it);
  }
  expect_same(cache, reference, kKeys);
  EXPECT_LT(cache.memory_bytes(), full_bytes);

  // A target above the size drops nothing; a reachable one stops there.
  EXPECT_EQ(cache.shrink_to(cache.size(), [](std::string_view) { return true; }), 0u);
  EXPECT_EQ(cache.shrink_to(1000, [](std::string_view) { return true; }), kKeys / 2 - 1000);
  EXPECT_EQ(cache.size(), 1000u);
  std::size_t found = 0;
  for (std::size_t n = 0; n < kKeys; ++n) {
    Answer id;
    if (cache.find(key_for(n), id)) {
      ++found;
      EXPECT_EQ(id, Answer(model::ProfileId{n}));
    }
  }
  EXPECT_EQ(found, 1000u);
}

}  // namespace
}  // namespace shoal::engine
