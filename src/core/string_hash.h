#pragma once
// StringHash: lets unordered containers keyed by std::string be searched with a string_view
// without allocating (with std::equal_to<>).
#include <cstddef>
#include <functional>
#include <string_view>

namespace shoal {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

}  // namespace shoal
