#include "custody/schema/encoding.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace custody::schema {
namespace {

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> kCases[] = {
      {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, enc] : kCases) {
    EXPECT_EQ(Base64Encode(std::string_view(plain)), enc);
    ASSERT_OK_AND_ASSIGN(auto dec, Base64Decode(enc));
    EXPECT_EQ(Str(dec), plain);
  }
}

TEST(Base64, RejectsNonCanonical) {
  for (const char* bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zm 9v", "Zm9v\n", "=Zm9",
                          "Zg==Zg==", "Zm-v"}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << bad;
  }
}

TEST(Hex, RoundTripAndErrors) {
  const std::vector<uint8_t> bytes = {0x00, 0xab, 0xff, 0x10};
  EXPECT_EQ(HexEncode(bytes), "00abff10");
  ASSERT_OK_AND_ASSIGN(auto back, HexDecode("00ABff10"));
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

}  // namespace
}  // namespace custody::schema
