#pragma once
// Result<T>: the value of an operation that can fail in an expected way (bad user input, I/O,
// throttling, not-found). Bugs assert instead; exceptions stay inside third-party boundaries.
#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace shoal {

enum class ErrorCode {
  kInvalidArgument,     // the caller's input is wrong; the message says what and where
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // the system is not in a state that allows the operation
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,   // limits, throttling
  kUnavailable,         // transient: retry may succeed
  kTimeout,
  kCancelled,
  kIo,
  kCorruption,          // stored data that cannot be decoded
  kInternal,
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "<code>: <message>", for logs and CLI output.
  std::string to_string() const;
  // A copy whose message is prefixed with `context: `.
  Error with_context(std::string_view context) const;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
  Result(Error error) : storage_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit

  bool ok() const { return storage_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(storage_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(storage_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(storage_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(storage_);
  }
  Error&& take_error() {
    assert(!ok());
    return std::get<1>(std::move(storage_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> storage_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error&& take_error() {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace shoal

#define SHOAL_CONCAT_INNER(a, b) a##b
#define SHOAL_CONCAT(a, b) SHOAL_CONCAT_INNER(a, b)

// Returns the error of `expr` (a Result or Status) from the enclosing function.
#define SHOAL_RETURN_IF_ERROR(expr)                       \
  do {                                                    \
    auto&& shoal_status_ = (expr);                        \
    if (!shoal_status_.ok()) return shoal_status_.take_error(); \
  } while (0)

// `SHOAL_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value or returns its error.
#define SHOAL_ASSIGN_OR_RETURN(lhs, expr) \
  SHOAL_ASSIGN_OR_RETURN_IMPL(SHOAL_CONCAT(shoal_result_, __LINE__), lhs, expr)
#define SHOAL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.take_error();           \
  lhs = std::move(tmp).value()
