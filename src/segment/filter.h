#pragma once
// A whole segment definition: FILTER <phrase> [FROM user] [ALIAS <slug>].
#include <string>
#include <string_view>

#include "segment/condition.h"

namespace shoal::segment {

struct Filter {
  ConditionPtr condition;
  std::string alias;  // empty when there is no ALIAS clause
  int alias_line = 1;
  int alias_column = 1;
};

// Parses a FILTER statement. Errors read "line L, col C: ..." with positions in `text`.
Result<Filter> parse_filter(std::string_view text);

// A slug: 1-128 characters from [A-Za-z0-9_-].
bool is_valid_slug(std::string_view alias);

}  // namespace shoal::segment
