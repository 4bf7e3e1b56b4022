#include "model/field_name.h"

#include <mutex>
#include <ostream>
#include <unordered_set>

#include "core/string_hash.h"

namespace shoal::model {
namespace {

struct Table {
  std::mutex mutex;
  // Node-based: an element's address never changes, so handles stay valid as it grows.
  std::unordered_set<std::string, StringHash, std::equal_to<>> names;
};

Table& table() {
  static Table* t = new Table;  // never destroyed: handles may be used during static destruction
  return *t;
}

}  // namespace

FieldName::FieldName() {
  static const FieldName empty = intern("");
  text_ = empty.text_;
}

FieldName FieldName::intern(std::string_view text) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.names.find(text);
  if (it == t.names.end()) it = t.names.emplace(text).first;
  return FieldName(&*it);
}

std::ostream& operator<<(std::ostream& out, FieldName name) { return out << name.text(); }

}  // namespace shoal::model
