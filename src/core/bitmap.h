#pragma once
// Sets of small integers (segment ordinals) as bitmaps: i is bit i % 64 of word i / 64, and the
// vector grows to the highest word set. The engine gathers the segments to evaluate this way:
// OR-ing a field's readers is a word at a time, and reading the bits back gives the members
// ascending and unique without a sort.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace shoal {

inline void bitmap_set(std::vector<std::uint64_t>& words, std::uint32_t i) {
  const std::size_t word = i >> 6;
  if (word >= words.size()) words.resize(word + 1, 0);
  words[word] |= std::uint64_t{1} << (i & 63);
}

// words |= other.
inline void bitmap_or(std::vector<std::uint64_t>& words, const std::vector<std::uint64_t>& other) {
  if (other.size() > words.size()) words.resize(other.size(), 0);
  for (std::size_t word = 0; word < other.size(); ++word) words[word] |= other[word];
}

// Calls f(i) for every member, ascending.
template <class F>
void bitmap_for_each(const std::vector<std::uint64_t>& words, F&& f) {
  for (std::size_t word = 0; word < words.size(); ++word) {
    for (std::uint64_t bits = words[word]; bits != 0; bits &= bits - 1) {
      f(static_cast<std::uint32_t>(word * 64 + static_cast<std::size_t>(std::countr_zero(bits))));
    }
  }
}

// The same, leaving every word zero (a scratch bitmap emptied as it is read).
template <class F>
void bitmap_take_each(std::vector<std::uint64_t>& words, F&& f) {
  for (std::size_t word = 0; word < words.size(); ++word) {
    for (std::uint64_t bits = words[word]; bits != 0; bits &= bits - 1) {
      f(static_cast<std::uint32_t>(word * 64 + static_cast<std::size_t>(std::countr_zero(bits))));
    }
    words[word] = 0;
  }
}

}  // namespace shoal
