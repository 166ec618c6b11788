// gtest helpers for Status and Result<T>.
#ifndef CUSTODY_TESTING_STATUS_MATCHERS_H_
#define CUSTODY_TESTING_STATUS_MATCHERS_H_

#include <gtest/gtest.h>

#include "custody/schema/result.h"
#include "custody/schema/status.h"

namespace custody::testing {

inline ::custody::schema::Status AsStatus(const ::custody::schema::Status& s) { return s; }
template <typename T>
::custody::schema::Status AsStatus(const ::custody::schema::Result<T>& r) {
  return r.status();
}

}  // namespace custody::testing

#define ASSERT_OK(expr)                                                \
  do {                                                                 \
    const auto custody_s_ = ::custody::testing::AsStatus(expr);        \
    ASSERT_TRUE(custody_s_.ok()) << #expr << ": " << custody_s_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                \
  do {                                                                 \
    const auto custody_s_ = ::custody::testing::AsStatus(expr);        \
    EXPECT_TRUE(custody_s_.ok()) << #expr << ": " << custody_s_.ToString(); \
  } while (0)

// ASSERT_OK_AND_ASSIGN(auto x, F()): asserts F() is ok and moves its value into x.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(CUSTODY_CONCAT_(custody_test_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

#endif  // CUSTODY_TESTING_STATUS_MATCHERS_H_
