#include "core/thread_arena.h"

#include <dlfcn.h>
#include <sys/types.h>

#include <string>

namespace shoal {

namespace {

std::string arena_key(unsigned arena, const char* setting) {
  return "arena." + std::to_string(arena) + "." + setting;
}

}  // namespace

Mallctl process_mallctl() {
  static const Mallctl found = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return found;
}

int use_retaining_arena(Mallctl mallctl) {
  if (mallctl == nullptr) return -1;
  unsigned arena = 0;
  std::size_t size = sizeof(arena);
  if (mallctl("arenas.create", &arena, &size, nullptr, 0) != 0) return -1;
  // -1: never purge. Set before the thread moves there, so no page is ever purged from it.
  ssize_t never = -1;
  if (mallctl(arena_key(arena, "dirty_decay_ms").c_str(), nullptr, nullptr, &never,
              sizeof(never)) != 0 ||
      mallctl(arena_key(arena, "muzzy_decay_ms").c_str(), nullptr, nullptr, &never,
              sizeof(never)) != 0) {
    return -1;  // an arena nobody uses: jemalloc keeps it, empty
  }
  if (mallctl("thread.arena", nullptr, nullptr, &arena, sizeof(arena)) != 0) return -1;
  return static_cast<int>(arena);
}

std::string describe_thread_arena(Mallctl mallctl) {
  if (mallctl == nullptr) return "";
  unsigned arena = 0;
  std::size_t size = sizeof(arena);
  if (mallctl("thread.arena", &arena, &size, nullptr, 0) != 0) return "";
  ssize_t decay = 0;
  size = sizeof(decay);
  if (mallctl(arena_key(arena, "dirty_decay_ms").c_str(), &decay, &size, nullptr, 0) != 0) {
    return "arena " + std::to_string(arena);
  }
  return "arena " + std::to_string(arena) +
         (decay < 0 ? " (freed pages kept)"
                    : " (dirty pages purged after " + std::to_string(decay) + " ms)");
}

}  // namespace shoal
