#include "daemon/server/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "custody/schema/encoding.h"
#include "testing/status_matchers.h"
#include "tests/daemon/token_test_util.h"

namespace custody::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using test::Token;

std::vector<TokenConfig> Tokens() {
  return {Token("chat", Role::kProducer, "p-secret"),
          Token("investigator", Role::kReader, "r-secret"), Token("ops", Role::kAdmin, "a-secret")};
}

TEST(Auth, RoleRules) {
  EXPECT_TRUE(RoleAllows(Role::kProducer, Access::kAppend));
  EXPECT_FALSE(RoleAllows(Role::kProducer, Access::kRead));
  EXPECT_FALSE(RoleAllows(Role::kProducer, Access::kAdmin));
  EXPECT_FALSE(RoleAllows(Role::kReader, Access::kAppend));
  EXPECT_TRUE(RoleAllows(Role::kReader, Access::kRead));
  EXPECT_FALSE(RoleAllows(Role::kReader, Access::kAdmin));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Access::kAppend));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Access::kRead));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Access::kAdmin));
  for (Role r : {Role::kProducer, Role::kReader, Role::kAdmin}) {
    EXPECT_TRUE(RoleAllows(r, Access::kPublic));
  }
}

TEST(Auth, KnownTokenGivesNameAndRole) {
  Authenticator auth(Tokens());
  auto p = auth.Authenticate("Bearer r-secret");
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "investigator");
  EXPECT_EQ(p->role, Role::kReader);
  auto a = auth.Authenticate("bearer   a-secret ");  // scheme is case-insensitive
  ASSERT_OK(a);
  EXPECT_EQ(a->name, "ops");
}

TEST(Auth, MissingMalformedAndUnknownTokensAreUnauthenticated) {
  Authenticator auth(Tokens());
  auto missing = auth.Authenticate("");
  EXPECT_EQ(missing.status().code(), schema::Code::kUnauthenticated);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing Authorization"));
  auto basic = auth.Authenticate("Basic dXNlcjpwYXNz");
  EXPECT_EQ(basic.status().code(), schema::Code::kUnauthenticated);
  EXPECT_THAT(basic.status().message(), HasSubstr("Bearer"));
  auto empty = auth.Authenticate("Bearer    ");
  EXPECT_EQ(empty.status().code(), schema::Code::kUnauthenticated);
  auto unknown = auth.Authenticate("Bearer guess-secret");
  EXPECT_EQ(unknown.status().code(), schema::Code::kUnauthenticated);
  EXPECT_THAT(unknown.status().message(), Not(HasSubstr("guess-secret")));
  // The hash itself is not a token.
  auto hash = auth.Authenticate("Bearer " + TokenSha256Hex("p-secret"));
  EXPECT_FALSE(hash.ok());
}

TEST(Auth, ReplaceSwapsTheTokenSet) {
  Authenticator auth(Tokens());
  EXPECT_EQ(auth.size(), 3u);
  auth.Replace({Token("new", Role::kProducer, "n-secret")});
  EXPECT_EQ(auth.size(), 1u);
  EXPECT_FALSE(auth.Authenticate("Bearer p-secret").ok());
  auto p = auth.Authenticate("Bearer n-secret");
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "new");
}

}  // namespace
}  // namespace custody::daemon
