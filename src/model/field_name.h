#pragma once
// FieldName: an interned profile field name. Equal names are the same pointer, so finding a
// field compares 8 bytes per entry instead of a string (the binary search over a profile's
// fields by name was ~10% of the engine thread, memory-bound), and a profile's field list holds
// 8 bytes per name instead of a 32-byte std::string.
//
// Names are interned for the life of the process (a process-wide table, thread-safe). The
// table only grows: names come from mappings' output columns, stored profiles and the field
// paths of registered segments, so it stays as small as the set of names ever used.
#include <iosfwd>
#include <string>
#include <string_view>

#include "core/short_names.h"

namespace shoal::model {

class FieldName {
 public:
  // The empty name.
  FieldName();
  // The interned name with this text (added to the table on first use).
  static FieldName intern(std::string_view text);

  std::string_view text() const { return *text_; }
  const std::string& str() const { return *text_; }
  operator std::string_view() const { return *text_; }  // NOLINT implicit: a name reads as text

  friend bool operator==(FieldName a, FieldName b) { return a.text_ == b.text_; }
  friend bool operator==(FieldName a, std::string_view b) { return *a.text_ == b; }
  // Ordered by text (unsigned bytes, then length), as std::string orders.
  friend bool operator<(FieldName a, FieldName b) {
    return a.text_ != b.text_ && name_less(*a.text_, *b.text_);
  }

  friend std::ostream& operator<<(std::ostream& out, FieldName name);

 private:
  explicit FieldName(const std::string* text) : text_(text) {}
  const std::string* text_;
};

}  // namespace shoal::model
