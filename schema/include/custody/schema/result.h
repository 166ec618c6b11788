// Result<T>: a value or the Status that explains why there is none.
//
// Shaped like C++23 std::expected<T, Status>: test with ok() (or bool),
// read the value with value() / * / ->, the error with status(). Reading the
// value of a failed Result is a bug and aborts. A Result built from an ok
// Status is a bug too (there is no value) and becomes kInternal.
#ifndef CUSTODY_SCHEMA_RESULT_H_
#define CUSTODY_SCHEMA_RESULT_H_

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "custody/schema/status.h"

namespace custody::schema {

template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "use Status directly");

  Result(const T& value) : v_(value) {}                            // NOLINT: implicit by design
  Result(T&& value) : v_(std::move(value)) {}                      // NOLINT
  Result(Status status) : v_(FixOk(std::move(status))) {}          // NOLINT
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Status> &&
                                                    !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : v_(T(std::forward<U>(value))) {}             // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // The error; an ok Status when this holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }

  T& value() & { Check(); return std::get<0>(v_); }
  const T& value() const& { Check(); return std::get<0>(v_); }
  T&& value() && { Check(); return std::get<0>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& { return ok() ? std::get<0>(v_) : T(std::forward<U>(fallback)); }

 private:
  static Status FixOk(Status s) {
    return s.ok() ? Status::Internal("Result constructed from an ok Status") : s;
  }
  void Check() const {
    if (!ok()) {
      std::fprintf(stderr, "custody: value() of a failed Result: %s\n",
                   std::get<1>(v_).ToString().c_str());
      std::abort();
    }
  }

  std::variant<T, Status> v_;
};

}  // namespace custody::schema

#define CUSTODY_CONCAT_INNER_(a, b) a##b
#define CUSTODY_CONCAT_(a, b) CUSTODY_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (a Result<T>); on error returns its Status from the
// enclosing function, otherwise moves the value into `lhs` (which may be a
// declaration: `CUSTODY_ASSIGN_OR_RETURN(auto x, F());`).
#define CUSTODY_ASSIGN_OR_RETURN(lhs, rexpr) \
  CUSTODY_ASSIGN_OR_RETURN_IMPL_(CUSTODY_CONCAT_(custody_result_, __LINE__), lhs, rexpr)
#define CUSTODY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                   \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()

#endif  // CUSTODY_SCHEMA_RESULT_H_
