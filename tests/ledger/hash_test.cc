#include "custody/ledger/hash.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "custody/schema/encoding.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::ledger {
namespace {

std::vector<uint8_t> Hex(std::string_view s) { return *schema::HexDecode(s); }

// Every case of transparency-dev/merkle's TestRFC6962Hasher.
TEST(Hash, Rfc6962HasherVectors) {
  const auto doc = boost::json::parse(
      testing::ReadFileOrDie(testing::VectorsDir() / "rfc6962-hasher.json"));
  int checked = 0;
  for (const auto& c : doc.at("cases").as_array()) {
    const std::string kind(c.at("kind").as_string());
    const std::string want(c.at("want_hex").as_string());
    Hash got;
    if (kind == "empty_root") {
      got = EmptyRoot();
    } else if (kind == "leaf") {
      got = LeafHash(Hex(c.at("leaf_hex").as_string()));
    } else if (kind == "node") {
      auto l = Hex(c.at("left_hex").as_string());
      auto r = Hex(c.at("right_hex").as_string());
      got = NodeHash(std::span<const uint8_t>(l), std::span<const uint8_t>(r));
    } else {
      FAIL() << "unknown case kind " << kind;
    }
    EXPECT_EQ(HashToHex(got), want) << c.at("desc").as_string();
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(Hash, Base64RoundTripRequires32Bytes) {
  const Hash h = LeafHash(std::string_view("x"));
  ASSERT_OK_AND_ASSIGN(Hash back, HashFromBase64(HashToBase64(h)));
  EXPECT_EQ(back, h);
  EXPECT_FALSE(HashFromBase64("AAAA").ok());
}

}  // namespace
}  // namespace custody::ledger
