#include "model/ordinal_times.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/varint.h"

namespace shoal::model {
namespace {

SegmentOrdinal ord(std::uint32_t v) { return SegmentOrdinal{v}; }

std::map<std::uint32_t, TimestampMs> as_map(const OrdinalTimes& times) {
  std::map<std::uint32_t, TimestampMs> out;
  std::uint64_t previous = 0;
  bool first = true;
  for (const OrdinalTime& e : times) {
    // The iteration order is the ordinal order, each ordinal once.
    if (!first) {
      EXPECT_GT(e.segment.value, previous);
    }
    first = false;
    previous = e.segment.value;
    out.emplace(e.segment.value, e.at);
  }
  return out;
}

TimestampMs expected_min(const std::map<std::uint32_t, TimestampMs>& reference) {
  TimestampMs least = kNoTime;
  for (const auto& [segment, at] : reference) least = std::min(least, at);
  return least;
}

TEST(OrdinalTimesTest, EmptyHasNoEntries) {
  OrdinalTimes times;
  EXPECT_TRUE(times.empty());
  EXPECT_EQ(times.size(), 0u);
  EXPECT_EQ(times.begin(), times.end());
  EXPECT_FALSE(times.find(ord(0)).has_value());
  EXPECT_EQ(times.min_at(), kNoTime);
  EXPECT_FALSE(times.erase(ord(3)));
  EXPECT_EQ(times.heap_bytes(), 0u);
}

TEST(OrdinalTimesTest, SetFindAndEraseKeepOrdinalOrder) {
  OrdinalTimes times;
  times.set(ord(7), 1000);
  times.set(ord(2), 500);
  times.set(ord(9), -20);
  times.set(ord(7), 1200);  // replaces
  EXPECT_EQ(times.size(), 3u);
  EXPECT_EQ(as_map(times), (std::map<std::uint32_t, TimestampMs>{{2, 500}, {7, 1200}, {9, -20}}));
  EXPECT_EQ(times.find(ord(7)), 1200);
  EXPECT_FALSE(times.find(ord(8)).has_value());
  EXPECT_EQ(times.min_at(), -20);
  EXPECT_TRUE(times.erase(ord(2)));
  EXPECT_FALSE(times.erase(ord(2)));
  EXPECT_EQ(as_map(times), (std::map<std::uint32_t, TimestampMs>{{7, 1200}, {9, -20}}));
}

TEST(OrdinalTimesTest, HoldsTheExtremeOrdinalsAndInstants) {
  constexpr auto kMin = std::numeric_limits<TimestampMs>::min();
  constexpr auto kMax = std::numeric_limits<TimestampMs>::max();
  OrdinalTimes times;
  times.set(ord(UINT32_MAX), kMin);
  times.set(ord(0), kMax);
  times.set(ord(1), kMin);
  times.set(ord(UINT32_MAX - 1), kMax);
  EXPECT_EQ(as_map(times), (std::map<std::uint32_t, TimestampMs>{
                               {0, kMax}, {1, kMin}, {UINT32_MAX - 1, kMax}, {UINT32_MAX, kMin}}));
  EXPECT_EQ(times.find(ord(UINT32_MAX)), kMin);
  EXPECT_EQ(times.min_at(), kMin);
  OrdinalTimes reparsed;
  ASSERT_TRUE(OrdinalTimes::parse(times.bytes(), reparsed));
  EXPECT_EQ(reparsed, times);
}

TEST(OrdinalTimesTest, RepeatedInstantsOnAdjacentOrdinalsTakeOneByteEach) {
  // A segment build enters every member into many segments at one instant: the common case.
  OrdinalTimes::Builder builder;
  const TimestampMs at = 1'700'000'000'000;
  for (std::uint32_t s = 0; s < 40; ++s) builder.append(ord(s), at);
  OrdinalTimes times;
  times.assign(builder);
  // The first entry: a tag and the instant's 6 significant bytes (zigzag doubles it).
  EXPECT_EQ(times.bytes().size(), 1 + 6 + 39u);
  EXPECT_EQ(times.size(), 40u);
  for (const OrdinalTime& e : times) EXPECT_EQ(e.at, at);
}

TEST(OrdinalTimesTest, EntrySizesFollowTheGapAndTheDelta) {
  auto bytes_of = [](std::initializer_list<OrdinalTime> entries) {
    OrdinalTimes::Builder builder;
    for (const OrdinalTime& e : entries) builder.append(e);
    return std::string(builder.bytes());
  };
  // Ordinal 0 at instant 0: the tag alone.
  EXPECT_EQ(bytes_of({{ord(0), 0}}), std::string(1, '\0'));
  // Gap 14 fits the tag; 15 and more escape to a varint of gap - 15.
  EXPECT_EQ(bytes_of({{ord(14), 0}}), std::string(1, '\x0e'));
  EXPECT_EQ(bytes_of({{ord(15), 0}}), std::string("\x0f\x00", 2));
  EXPECT_EQ(bytes_of({{ord(15 + 200), 0}}), std::string("\x0f\xc8\x01", 3));
  // Instant -1 is zigzag 1: one byte; 128 is zigzag 256: two bytes, little-endian.
  EXPECT_EQ(bytes_of({{ord(0), -1}}), std::string("\x10\x01", 2));
  EXPECT_EQ(bytes_of({{ord(0), 128}}), std::string("\x20\x00\x01", 3));
  // The extreme delta takes all 8 bytes.
  EXPECT_EQ(bytes_of({{ord(0), std::numeric_limits<TimestampMs>::min()}}).size(), 9u);
  // Deltas are against the previous entry: the same instant again costs only the tag.
  EXPECT_EQ(bytes_of({{ord(0), 128}, {ord(1), 128}}), std::string("\x20\x00\x01\x00", 4));
}

TEST(OrdinalTimesTest, RandomOperationsMatchAMap) {
  std::mt19937_64 rng(20261202);
  std::uniform_int_distribution<int> op(0, 9);
  std::uniform_int_distribution<std::uint32_t> small_ordinal(0, 60);
  std::uniform_int_distribution<TimestampMs> instant(-5'000'000'000'000, 5'000'000'000'000);
  for (int round = 0; round < 50; ++round) {
    OrdinalTimes times;
    std::map<std::uint32_t, TimestampMs> reference;
    for (int step = 0; step < 300; ++step) {
      const std::uint32_t segment =
          step % 17 == 0 ? UINT32_MAX - small_ordinal(rng) : small_ordinal(rng);
      const int what = op(rng);
      if (what < 6) {
        // Repeat an instant now and then, as real memberships do.
        const TimestampMs at =
            what == 0 && !reference.empty() ? reference.begin()->second : instant(rng);
        times.set(ord(segment), at);
        reference[segment] = at;
      } else if (what < 9) {
        EXPECT_EQ(times.erase(ord(segment)), reference.erase(segment) == 1);
      } else {
        // Rebuild through a builder, as the engine's evaluation does.
        OrdinalTimes::Builder builder;
        for (const auto& [s, at] : reference) builder.append(ord(s), at);
        OrdinalTimes rebuilt;
        rebuilt.assign(builder);
        ASSERT_EQ(rebuilt, times) << "round " << round << " step " << step;
        ASSERT_EQ(rebuilt.min_at(), times.min_at());
      }
      ASSERT_EQ(as_map(times), reference) << "round " << round << " step " << step;
      ASSERT_EQ(times.size(), reference.size());
      ASSERT_EQ(times.min_at(), expected_min(reference));
      auto found = times.find(ord(segment));
      auto it = reference.find(segment);
      ASSERT_EQ(found.has_value(), it != reference.end());
      if (found) {
        ASSERT_EQ(*found, it->second);
      }
    }
    OrdinalTimes reparsed;
    ASSERT_TRUE(OrdinalTimes::parse(times.bytes(), reparsed));
    EXPECT_EQ(as_map(reparsed), reference);
    EXPECT_EQ(reparsed.min_at(), expected_min(reference));
  }
}

TEST(OrdinalTimesTest, BulkDecodeAndEncodeMatchTheEntryByEntryForms) {
  std::mt19937_64 rng(7);
  const TimestampMs extremes[] = {std::numeric_limits<TimestampMs>::min(),
                                  std::numeric_limits<TimestampMs>::max(), 0, -1, 1};
  for (int round = 0; round < 200; ++round) {
    // Gaps from 0 to past the tag's inline range (15) and up to 32 bits; repeated, small,
    // negative and extreme instants.
    std::vector<OrdinalTime> entries;
    std::uint64_t next = rng() % 3 == 0 ? UINT32_MAX - 40 : rng() % 20;
    const std::size_t count = rng() % 40;
    for (std::size_t i = 0; i < count && next <= UINT32_MAX; ++i) {
      TimestampMs at;
      switch (rng() % 4) {
        case 0:
          at = entries.empty() ? 500 : entries.back().at;
          break;
        case 1:
          at = extremes[rng() % 5];
          break;
        case 2:
          at = static_cast<TimestampMs>(rng());
          break;
        default:
          at = 1'700'000'000'000 + static_cast<TimestampMs>(rng() % 100'000);
          break;
      }
      entries.push_back({ord(static_cast<std::uint32_t>(next)), at});
      const std::uint64_t gap = rng() % 5 == 0 ? rng() % 1000 : rng() % 16;
      next += 1 + gap;
    }
    OrdinalTimes::Builder one_by_one;
    for (const OrdinalTime& e : entries) one_by_one.append(e);
    // append_all after some single appends continues the same encoding.
    const std::size_t split = entries.empty() ? 0 : rng() % (entries.size() + 1);
    OrdinalTimes::Builder bulk;
    for (std::size_t i = 0; i < split; ++i) bulk.append(entries[i]);
    bulk.append_all(entries.data() + split, entries.data() + entries.size());
    ASSERT_EQ(bulk.bytes(), one_by_one.bytes()) << "round " << round;
    OrdinalTimes times;
    times.assign(bulk);
    TimestampMs least = kNoTime;
    for (const OrdinalTime& e : entries) least = std::min(least, e.at);
    EXPECT_EQ(times.min_at(), least) << "round " << round;

    std::vector<OrdinalTime> decoded(times.bytes().size() + 1, OrdinalTime{ord(99), 99});
    const std::size_t n = times.decode_to(decoded.data());
    ASSERT_EQ(n, entries.size()) << "round " << round;
    decoded.resize(n);
    EXPECT_EQ(decoded, entries) << "round " << round;
    EXPECT_EQ(std::vector<OrdinalTime>(times.begin(), times.end()), entries) << "round " << round;
  }
}

TEST(OrdinalTimesTest, ParseRejectsTruncatedAndOverflowingEncodings) {
  OrdinalTimes times;
  times.set(ord(3), 1'700'000'000'000);
  times.set(ord(300), 1'700'000'000'500);
  const std::string good(times.bytes());
  OrdinalTimes out;
  ASSERT_TRUE(OrdinalTimes::parse(good, out));
  EXPECT_EQ(out, times);

  // Every proper prefix that cuts an entry short is rejected; the prefix that ends between
  // entries is a valid shorter map.
  std::size_t valid_prefixes = 0;
  for (std::size_t n = 1; n < good.size(); ++n) {
    OrdinalTimes part;
    if (OrdinalTimes::parse(std::string_view(good).substr(0, n), part)) {
      ++valid_prefixes;
      EXPECT_EQ(part.size(), 1u);
    }
  }
  EXPECT_EQ(valid_prefixes, 1u);

  // An escaped gap whose varint runs off the end, or is not canonical.
  EXPECT_FALSE(OrdinalTimes::parse(std::string("\x0f\x80", 2), out));
  EXPECT_FALSE(OrdinalTimes::parse(std::string("\x0f\x80\x00", 3), out));
  EXPECT_FALSE(OrdinalTimes::parse(std::string("\x0f\x80\x80\x80\x80\x80\x01", 7), out));
  // A delta length above 8, a delta cut short, a delta with a zero high byte.
  EXPECT_FALSE(OrdinalTimes::parse(std::string("\x90"
                                               "12345678",
                                               9),
                                   out));
  EXPECT_FALSE(OrdinalTimes::parse(std::string("\x30\x01\x02", 3), out));
  EXPECT_FALSE(OrdinalTimes::parse(std::string("\x20\x01\x00", 3), out));
  // An ordinal beyond 32 bits, in one step and by accumulation.
  std::string too_big("\x0f", 1);
  put_varint(too_big, std::uint64_t{UINT32_MAX} + 1 - 15);
  EXPECT_FALSE(OrdinalTimes::parse(too_big, out));
  std::string accumulated("\x0f", 1);
  put_varint(accumulated, std::uint64_t{UINT32_MAX} - 15);  // ordinal UINT32_MAX
  ASSERT_TRUE(OrdinalTimes::parse(accumulated, out));
  EXPECT_EQ(out.find(ord(UINT32_MAX)), 0);
  accumulated.push_back('\0');  // the next would be UINT32_MAX + 1
  EXPECT_FALSE(OrdinalTimes::parse(accumulated, out));
  out = OrdinalTimes();
  ASSERT_TRUE(OrdinalTimes::parse(good, out));
  // A rejected parse leaves the target untouched.
  EXPECT_EQ(out, times);
}

TEST(OrdinalTimesTest, EqualityIsByContent) {
  OrdinalTimes a, b;
  a.set(ord(1), 10);
  a.set(ord(2), 20);
  b.set(ord(2), 20);
  b.set(ord(1), 10);
  EXPECT_EQ(a, b);
  b.set(ord(2), 21);
  EXPECT_NE(a, b);
  b.erase(ord(2));
  a.erase(ord(2));
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace shoal::model
