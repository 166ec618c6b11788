#include "custody/schema/json_canon.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace custody::schema {
namespace {

std::string Canon(std::string_view json) {
  auto v = ParseJson(json);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  auto c = CanonicalJson(*v);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : "";
}

TEST(CanonicalJson, SortsKeysAndDropsWhitespace) {
  EXPECT_EQ(Canon(R"( { "b" : 1, "a" : [ true, null, { "z":"", "y":-3 } ] } )"),
            R"({"a":[true,null,{"y":-3,"z":""}],"b":1})");
}

TEST(CanonicalJson, SortsByUtf16CodeUnits) {
  // RFC 8785 §3.2.3 example: U+20AC (euro) sorts before U+1F600 in UTF-8
  // byte order, but U+FB33 sorts after U+1F600 in UTF-16.
  EXPECT_EQ(Canon("{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2,\"\xe2\x82\xac\":3,\"\\r\":4}"),
            "{\"\\r\":4,\"\xe2\x82\xac\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":1}");
}

TEST(CanonicalJson, EscapesOnlyWhatRfc8785Requires) {
  EXPECT_EQ(Canon(R"(["\u0041\n\t\u0001\"\\\/\u00e9\u2028"])"),
            "[\"A\\n\\t\\u0001\\\"\\\\/\xc3\xa9\xe2\x80\xa8\"]");
}

TEST(CanonicalJson, NeverContainsNewline) {
  const std::string c = Canon(R"({"k":"line1\nline2\r\n"})");
  EXPECT_EQ(c.find('\n'), std::string::npos);
}

TEST(CanonicalJson, RejectsDoublesAndUnsafeIntegersWithPointer) {
  auto v = ParseJson(R"({"data":{"n":[1,2.5]}})");
  ASSERT_OK(v);
  auto c = CanonicalJson(*v);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("/data/n/1:", 0), 0u) << c.status().message();
  EXPECT_FALSE(CanonicalJson(*ParseJson("9007199254740992")).ok());
  EXPECT_EQ(Canon("9007199254740991"), "9007199254740991");
  EXPECT_EQ(Canon("-9007199254740991"), "-9007199254740991");
}

TEST(CanonicalJson, RejectsInvalidUtf8InBuiltValues) {
  boost::json::value v = boost::json::string("\xff");
  EXPECT_FALSE(CanonicalJson(v).ok());
}

TEST(ParseJson, ReportsOffsetOfError) {
  auto r = ParseJson(R"({"a":1,})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte"), std::string::npos);
  EXPECT_FALSE(ParseJson("\"\xff\"").ok());
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(IsValidUtf8("plain \xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

}  // namespace
}  // namespace custody::schema
