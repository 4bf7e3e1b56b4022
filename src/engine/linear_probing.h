#pragma once
// The deletion rule shared by the engine's open-addressing tables (IdTable, IdentityCache):
// linear probing over a power-of-two array of slots, where an empty slot ends a probe run.
#include <cstddef>

namespace shoal::engine {

// Backward-shift deletion: after the entry at `hole` was removed (its slot now empty), moves
// each later entry of the run whose home slot is not between the hole and itself back into the
// hole, so every entry stays reachable from its home without tombstones. `occupied(slot)` and
// `home(slot)` (the slot index its key hashes to) describe the table's slots; an empty slot is
// `Slot{}`.
template <class Slot, class Occupied, class Home>
void close_probe_gap(Slot* slots, std::size_t mask, std::size_t hole, Occupied occupied,
                     Home home) {
  for (std::size_t i = (hole + 1) & mask; occupied(slots[i]); i = (i + 1) & mask) {
    const std::size_t h = home(slots[i]);
    if (((i - h) & mask) < ((i - hole) & mask)) continue;  // its home lies after the hole
    slots[hole] = slots[i];
    slots[i] = Slot{};
    hole = i;
  }
}

}  // namespace shoal::engine
