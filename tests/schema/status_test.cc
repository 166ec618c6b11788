#include "custody/schema/status.h"

#include <gtest/gtest.h>

#include "custody/schema/result.h"

namespace custody::schema {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::Corruption("seq 7: prev mismatch");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.ToString(), "corruption: seq 7: prev mismatch");
}

TEST(Status, AnnotatePrefixesContextAndKeepsOk) {
  EXPECT_EQ(Status::NotFound("x").Annotate("reading log").message(), "reading log: x");
  EXPECT_TRUE(Status::Ok().Annotate("ctx").ok());
}

Result<int> Half(int n) {
  if (n % 2) return Status::InvalidArgument("odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  CUSTODY_ASSIGN_OR_RETURN(int h, Half(n));
  CUSTODY_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Result, PropagatesValuesAndErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd");
  EXPECT_EQ(r.value_or(-1), -1);
}

TEST(Result, OkStatusBecomesInternalError) {
  Result<int> r(Status::Ok());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInternal);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> r(Status::NotFound("gone"));
  EXPECT_DEATH((void)r.value(), "gone");
}

}  // namespace
}  // namespace custody::schema
