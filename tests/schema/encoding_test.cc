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

TEST(Base64, DecodeToFixedSizeIsStrict) {
  uint8_t three[3];
  EXPECT_TRUE(Base64DecodeTo("Zm9v", three));
  EXPECT_EQ(std::string(three, three + 3), "foo");
  uint8_t two[2];
  EXPECT_TRUE(Base64DecodeTo("Zm8=", two));
  EXPECT_FALSE(Base64DecodeTo("Zm9v", two));
  EXPECT_FALSE(Base64DecodeTo("Zm9=", two));  // non-zero pad bits
  uint8_t four[4];
  EXPECT_FALSE(Base64DecodeTo("Zm9v", four));
  uint8_t h[32];
  EXPECT_TRUE(Base64DecodeTo("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", h));
  EXPECT_FALSE(Base64DecodeTo("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", h));
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
