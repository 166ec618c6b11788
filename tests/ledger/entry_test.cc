#include "custody/ledger/entry.h"

#include <gtest/gtest.h>

#include "custody/schema/json_canon.h"
#include "ledger/ledger_test_util.h"
#include "testing/status_matchers.h"

namespace custody::ledger {
namespace {

TEST(Entry, EncodesCanonicalEnvelope) {
  PendingEntry e = testutil::NoteEntry(3);
  e.kind = "access";
  e.decision = R"({"hits":[],"policy_sha256":"ab"})";
  std::string bytes;
  EncodeEntry(3, EmptyRoot(), e, &bytes);
  EXPECT_EQ(bytes,
            R"({"body":{"i":3,"pad":"xxxxxxxxxxxxxxxx"},"decision":{"hits":[],"policy_sha256":"ab"},)"
            R"("kind":"access","prev":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",)"
            R"("producer":"tester","received_at":"2026-05-04T09:00:00.000003Z","seq":3,"v":1})");
  auto parsed = schema::ParseJson(bytes);
  ASSERT_OK(parsed);
  ASSERT_OK_AND_ASSIGN(std::string canon, schema::CanonicalJson(*parsed));
  EXPECT_EQ(canon, bytes);
}

TEST(Entry, DecodeRoundTrip) {
  std::string bytes;
  const Hash prev = LeafHash(std::string_view("previous"));
  EncodeEntry(41, prev, testutil::NoteEntry(41), &bytes);
  ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(bytes));
  EXPECT_EQ(d.seq, 41u);
  EXPECT_EQ(d.prev, prev);
  EXPECT_EQ(d.kind, "note");
  EXPECT_EQ(d.producer, "tester");
  EXPECT_TRUE(d.decision.is_null());
}

TEST(Entry, EscapesProducerAndKindSoNoNewlineAppears) {
  PendingEntry e = testutil::NoteEntry(0);
  e.producer = "evil\nproducer\"";
  std::string bytes;
  EncodeEntry(0, EmptyRoot(), e, &bytes);
  EXPECT_EQ(bytes.find('\n'), std::string::npos);
  ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(bytes));
  EXPECT_EQ(d.producer, "evil\nproducer\"");
}

TEST(Entry, DecodeRejectsBadEnvelopes) {
  std::string good;
  EncodeEntry(0, EmptyRoot(), testutil::NoteEntry(0), &good);
  const std::string cases[] = {
      "not json",
      "[]",
      // whitespace: not canonical
      std::string(good).insert(1, " "),
      // version 2
      good.substr(0, good.size() - 2) + "2}",
      // missing body
      R"({"kind":"note","prev":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","producer":"p","received_at":"2026-05-04T09:00:00.000000Z","seq":0,"v":1})",
      // short prev
      R"({"body":{},"kind":"note","prev":"AAAA","producer":"p","received_at":"2026-05-04T09:00:00.000000Z","seq":0,"v":1})",
      // extra member
      R"({"body":{},"extra":1,"kind":"note","prev":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","producer":"p","received_at":"2026-05-04T09:00:00.000000Z","seq":0,"v":1})",
      // unsorted members
      R"({"kind":"note","body":{},"prev":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","producer":"p","received_at":"2026-05-04T09:00:00.000000Z","seq":0,"v":1})",
  };
  for (const auto& c : cases) {
    auto d = DecodeEntry(c);
    EXPECT_FALSE(d.ok()) << c;
    if (!d.ok()) {
      EXPECT_TRUE(d.status().IsCorruption()) << d.status().ToString();
    }
  }
}

TEST(Entry, DecodeRejectsEveryNonCanonicalSpellingInsideTheBody) {
  auto entry_with_body = [](const std::string& body) {
    PendingEntry e = testutil::NoteEntry(0);
    e.body = body;
    std::string bytes;
    EncodeEntry(0, EmptyRoot(), e, &bytes);
    return bytes;
  };
  EXPECT_OK(DecodeEntry(entry_with_body(R"({"a":[1,-2,0,true,null,"\u001f\n\"\\/"],"b":{}})")));
  const char* bad_bodies[] = {
      R"({"b":1,"a":2})",          // unsorted
      R"({"a":1,"a":2})",          // duplicate
      R"({"a":{"y":1,"x":2}})",    // unsorted when nested
      R"({"a":"\u0041"})",         // escaped printable
      R"({"a":"\/"})",             // escaped solidus
      R"({"a":"\u000a"})",         // long form of \n
      R"({"a":"\u001F"})",         // upper-case hex
      "{\"a\":\"\x01\"}",     // raw control character
      R"({"a":-0})",
      R"({"a":1.0})",
      R"({"a":1e3})",
      R"({"a":01})",
      R"({"a":9007199254740992})",
      R"({"a":[1,]})",
      R"({"a":tru})",
      "{\"a\":\"\xff\"}",     // invalid UTF-8
  };
  for (const char* body : bad_bodies) {
    auto d = DecodeEntry(entry_with_body(body));
    EXPECT_FALSE(d.ok()) << body;
    if (!d.ok()) {
      EXPECT_TRUE(d.status().IsCorruption()) << d.status().ToString();
    }
  }
}


// Entry 0 of a note log with `body`, through the scanner (DecodeEntry scans
// before it parses).
Status DecodeWithBody(const std::string& body) {
  PendingEntry e = testutil::NoteEntry(0);
  e.body = body;
  std::string bytes;
  EncodeEntry(0, EmptyRoot(), e, &bytes);
  return DecodeEntry(bytes).status();
}

TEST(Entry, DecodeAcceptsOnlyTheCanonicalBase64OfPrev) {
  std::string good;
  EncodeEntry(0, EmptyRoot(), testutil::NoteEntry(0), &good);
  const std::string prev = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  ASSERT_NE(good.find(prev), std::string::npos);
  EXPECT_OK(DecodeEntry(good));
  const char* bad[] = {
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",   // last digit has bits beyond the hash
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",    // no padding
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==",   // 31 bytes
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU==",  // too long
      "47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",   // URL-safe alphabet
      "47DEQpj8HBSa+/TI=W+5JCeuQeRkm5NMpJWZG3hSuFU=",   // '=' inside
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA",   // 33 bytes' worth, no '='
  };
  for (const char* p : bad) {
    std::string bytes = good;
    bytes.replace(bytes.find(prev), prev.size(), p);
    auto d = DecodeEntry(bytes);
    EXPECT_FALSE(d.ok()) << p;
    if (!d.ok()) {
      EXPECT_NE(d.status().message().find("\"prev\""), std::string::npos) << d.status().message();
    }
  }
}

TEST(Entry, DecodeKeepsEscapedKindValue) {
  PendingEntry e = testutil::NoteEntry(0);
  e.kind = "no\"te\\\x01";
  std::string bytes;
  EncodeEntry(0, EmptyRoot(), e, &bytes);
  ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(bytes));
  EXPECT_EQ(d.kind, "no\"te\\\x01");
  EXPECT_EQ(d.received_at, "2026-05-04T09:00:00.000000Z");
}

TEST(Entry, StringContentIsCheckedAtEveryOffset) {
  // The scanner tests string bytes sixteen or eight at a time; put each kind
  // of byte at every offset of a run, in values and in member names.
  const std::pair<const char*, bool> kBytes[] = {
      {"\\n", true},    {"\\u001f", true}, {"\xc3\xa9", true}, {"\x7f", true},
      {"\\\"", true},   {"\x01", false},   {"\\/", false},     {"\xff", false},
      {"\xe2\x82", false}, {"\\u0041", false}, {"\t", false},
  };
  for (size_t offset = 0; offset < 40; ++offset) {
    for (const auto& [text, ok] : kBytes) {
      const std::string run = std::string(offset, 'x') + text + std::string(40 - offset, 'y');
      for (const std::string& body : {"{\"a\":\"" + run + "\"}", "{\"" + run + "\":1}"}) {
        EXPECT_EQ(DecodeWithBody(body).ok(), ok) << body;
      }
    }
  }
}

TEST(Entry, MemberNamesSortByUtf16CodeUnitsAfterUnescaping) {
  // U+1F600 is a surrogate pair (0xD83D...) and sorts before U+FF61 in
  // UTF-16, though its UTF-8 lead byte (0xF0) is greater than U+FF61's (0xEF).
  EXPECT_OK(DecodeWithBody("{\"\xf0\x9f\x98\x80\":1,\"\xef\xbd\xa1\":2}"));
  EXPECT_FALSE(DecodeWithBody("{\"\xef\xbd\xa1\":1,\"\xf0\x9f\x98\x80\":2}").ok());
  EXPECT_OK(DecodeWithBody(R"({"\"":1,"a":2,"a\\":3})"));
  EXPECT_FALSE(DecodeWithBody(R"({"a":1,"\"":2})").ok());
  EXPECT_FALSE(DecodeWithBody(R"({"a\\":1,"a":2})").ok());
  EXPECT_FALSE(DecodeWithBody(R"({"\u0001":1,"\u0001":2})").ok());  // duplicate
  EXPECT_OK(DecodeWithBody(R"({"\u0001":1,"\u0002":2})"));
}

}  // namespace
}  // namespace custody::ledger
