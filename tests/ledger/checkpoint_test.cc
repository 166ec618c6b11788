#include "custody/ledger/checkpoint.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "custody/schema/encoding.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::ledger {
namespace {

using schema::Code;

constexpr std::string_view kPeterSigner =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kSumDbKey =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
constexpr std::string_view kSumDbNote =
    "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
    "\xE2\x80\x94 sum.golang.org "
    "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw="
    "\n";

boost::json::value LoadVectors(const char* file) {
  return boost::json::parse(testing::ReadFileOrDie(testing::VectorsDir() / file));
}

std::string Str(const boost::json::value& v) { return std::string(v.as_string()); }

VerifierKey MustParseVerifier(std::string_view text) {
  auto v = VerifierKey::Parse(text);
  if (!v.ok()) ADD_FAILURE() << text << ": " << v.status().ToString();
  return v.ok() ? *v : VerifierKey{};
}

// Every single-byte change (three different bit flips at every offset) to a
// verified note must make it fail.
void ExpectEveryByteChangeRejected(std::string_view note, const VerifierKey& key) {
  ASSERT_OK(OpenNote(note, std::span(&key, 1)));
  for (size_t i = 0; i < note.size(); ++i) {
    for (uint8_t flip : {0x01, 0x20, 0x80}) {
      std::string changed(note);
      changed[i] = static_cast<char>(changed[i] ^ flip);
      EXPECT_FALSE(OpenNote(changed, std::span(&key, 1)).ok())
          << "byte " << i << " ^ " << int{flip} << " accepted";
    }
  }
}

// --- Vectors ---

// signed-notes.json: golang.org/x/mod note.Open cases and the C2SP example.
TEST(NoteVectors, SignedNotes) {
  const auto doc = LoadVectors("signed-notes.json");
  const auto& cases = doc.at("cases").as_array();
  size_t checked = 0;
  size_t accepted = 0;
  for (const auto& c : cases) {
    const std::string desc = Str(c.at("desc"));
    SCOPED_TRACE(desc);
    const auto& req = c.at("request").as_object();
    ASSERT_EQ(Str(req.at("op")), "note");
    std::vector<VerifierKey> verifiers;
    for (const auto& k : req.at("verifier_keys").as_array()) {
      verifiers.push_back(MustParseVerifier(Str(k)));
    }
    std::string note;
    if (req.contains("note_b64")) {
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> raw, schema::Base64Decode(Str(req.at("note_b64"))));
      note.assign(raw.begin(), raw.end());
    } else {
      note = Str(req.at("note"));
    }
    const int64_t want_exit = c.at("want_exit").as_int64();
    ASSERT_TRUE(want_exit == 0 || want_exit == 1);
    auto opened = OpenNote(note, verifiers);
    EXPECT_EQ(opened.ok(), want_exit == 0) << opened.status().ToString();
    if (c.as_object().contains("want_stdout")) {
      // The reference verifier prints "OK\n" and then the verified text.
      const std::string want_stdout = Str(c.at("want_stdout"));
      ASSERT_TRUE(want_stdout.starts_with("OK\n")) << want_stdout;
      ASSERT_EQ(want_exit, 0);
      if (opened.ok()) {
        EXPECT_EQ(opened->text, want_stdout.substr(3));
        EXPECT_FALSE(opened->signatures.empty());
      }
    }
    if (opened.ok()) ++accepted;
    ++checked;
  }
  EXPECT_EQ(checked, cases.size());
  EXPECT_GE(cases.size(), 18u);
  EXPECT_EQ(accepted, 6u);
}

// Signing the Go example text with the Go example key reproduces the first
// vector's note byte for byte (Ed25519 is deterministic).
TEST(NoteVectors, SignReproducesGoNote) {
  const auto doc = LoadVectors("signed-notes.json");
  const auto& first = doc.at("cases").as_array().at(0);
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::FromSignerString(kPeterSigner));
  ASSERT_OK_AND_ASSIGN(std::string note, SignNote(kGoText, key));
  EXPECT_EQ(note, Str(first.at("request").at("note")));
}

// checkpoints.json: the real sum.golang.org checkpoint and its alterations.
TEST(CheckpointVectors, RealSumDbCheckpoint) {
  const auto doc = LoadVectors("checkpoints.json");
  const auto& cases = doc.at("cases").as_array();
  size_t checked = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(Str(c.at("desc")));
    const auto& req = c.at("request").as_object();
    ASSERT_EQ(Str(req.at("op")), "checkpoint");
    const VerifierKey key = MustParseVerifier(Str(req.at("verifier_key")));
    std::optional<std::string> origin;
    if (req.contains("origin")) origin = Str(req.at("origin"));
    auto cp = OpenCheckpoint(Str(req.at("note")), key,
                             origin ? std::optional<std::string_view>(*origin) : std::nullopt);
    const int64_t want_exit = c.at("want_exit").as_int64();
    EXPECT_EQ(cp.ok(), want_exit == 0) << cp.status().ToString();
    if (c.as_object().contains("want")) {
      const auto& want = c.at("want");
      ASSERT_TRUE(cp.ok());
      EXPECT_EQ(cp->origin, Str(want.at("origin")));
      EXPECT_EQ(cp->size, want.at("size").to_number<uint64_t>());
      EXPECT_EQ(HashToBase64(cp->root), Str(want.at("root_b64")));
      EXPECT_EQ(key.name == cp->origin, want.at("key_name_matches_origin").as_bool());
    }
    ++checked;
  }
  EXPECT_EQ(checked, cases.size());
  EXPECT_GE(cases.size(), 4u);
}

TEST(CheckpointVectors, RealSumDbCheckpointRejectsEveryByteChange) {
  ExpectEveryByteChangeRejected(kSumDbNote, MustParseVerifier(kSumDbKey));
}

// checkpoint-bodies.json: each text signed by every note-keys.json key that
// has a signer key; OpenCheckpoint's verdict must be the strict C2SP one.
TEST(CheckpointVectors, BodiesSignedAndOpened) {
  std::vector<SigningKey> signers;
  const auto keys = LoadVectors("note-keys.json");
  for (const auto& k : keys.at("keys").as_array()) {
    if (k.at("signer_key").is_null()) continue;
    ASSERT_OK_AND_ASSIGN(SigningKey s, SigningKey::FromSignerString(Str(k.at("signer_key"))));
    signers.push_back(std::move(s));
  }
  ASSERT_GE(signers.size(), 1u);

  const auto doc = LoadVectors("checkpoint-bodies.json");
  const auto& cases = doc.at("cases").as_array();
  size_t checked = 0;
  size_t valid = 0;
  for (const auto& c : cases) {
    const std::string text = Str(c.at("text"));
    SCOPED_TRACE(Str(c.at("desc")));
    const bool want_valid = c.at("c2sp_valid").as_bool();

    auto parsed = Checkpoint::Parse(text);
    EXPECT_EQ(parsed.ok(), want_valid) << parsed.status().ToString();
    if (parsed.ok()) {
      EXPECT_EQ(parsed->ToText(), text);
    }

    for (const SigningKey& key : signers) {
      std::string note;
      auto signed_note = SignNote(text, key);
      if (signed_note.ok()) {
        note = *signed_note;
        // The signature itself is good: any rejection below is the parser's.
        const VerifierKey& v = key.verifier();
        ASSERT_OK(OpenNote(note, std::span(&v, 1)));
      } else {
        // Note text must end in '\n', so only invalid checkpoints get here.
        EXPECT_FALSE(want_valid) << signed_note.status().ToString();
        EXPECT_FALSE(text.ends_with("\n"));
        // Assemble the signed note by hand anyway: it must not open.
        const Signature sig = key.Sign(text);
        const uint32_t id = key.verifier().key_id;
        std::vector<uint8_t> raw = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                                    static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
        raw.insert(raw.end(), sig.begin(), sig.end());
        note = text + "\n\xE2\x80\x94 " + key.name() + " " + schema::Base64Encode(raw) + "\n";
      }
      auto cp = OpenCheckpoint(note, key.verifier());
      EXPECT_EQ(cp.ok(), want_valid) << key.name() << ": " << cp.status().ToString();
      if (cp.ok() && parsed.ok()) {
        EXPECT_EQ(*cp, *parsed);
      }
    }
    if (want_valid) ++valid;
    ++checked;
  }
  EXPECT_EQ(checked, cases.size());
  EXPECT_GE(cases.size(), 25u);
  EXPECT_EQ(valid, 6u);
}

TEST(CheckpointVectors, C2spExampleBodyFields) {
  ASSERT_OK_AND_ASSIGN(Checkpoint cp,
                       Checkpoint::Parse("example.com/behind-the-sofa\n20852163\n"
                                         "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"));
  EXPECT_EQ(cp.origin, "example.com/behind-the-sofa");
  EXPECT_EQ(cp.size, 20852163u);
  EXPECT_EQ(HashToBase64(cp.root), "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  EXPECT_TRUE(cp.extensions.empty());
}

// --- Signed notes ---

TEST(Note, SignOpenRoundTrip) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  ASSERT_OK_AND_ASSIGN(std::string note, SignNote("hello\nworld\n", key));
  const VerifierKey& v = key.verifier();
  ASSERT_OK_AND_ASSIGN(SignedNote opened, OpenNote(note, std::span(&v, 1)));
  EXPECT_EQ(opened.text, "hello\nworld\n");
  ASSERT_EQ(opened.signatures.size(), 1u);
  EXPECT_EQ(opened.signatures[0].name, "example.com/log");
  EXPECT_EQ(opened.signatures[0].key_id, v.key_id);
  EXPECT_EQ(opened.signatures[0].signature.size(), 64u);

  ASSERT_OK_AND_ASSIGN(SignedNote parsed, ParseNote(note));
  EXPECT_EQ(parsed.text, "hello\nworld\n");
  ASSERT_EQ(parsed.signatures.size(), 1u);
}

TEST(Note, AnyOneByteChangeIsRejected) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  ASSERT_OK_AND_ASSIGN(std::string note, SignNote("a short note\n", key));
  ExpectEveryByteChangeRejected(note, key.verifier());
}

TEST(Note, TextMayHoldBlankLinesAndSplitsAtTheLast) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("k"));
  for (std::string_view text : {"a\n\nb\n", "\n", "a\n\n", "\n\n\n"}) {
    ASSERT_OK_AND_ASSIGN(std::string note, SignNote(text, key));
    const VerifierKey& v = key.verifier();
    ASSERT_OK_AND_ASSIGN(SignedNote opened, OpenNote(note, std::span(&v, 1)));
    EXPECT_EQ(opened.text, text);
  }
}

TEST(Note, SignRejectsInvalidText) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("k"));
  const std::string_view nul("nul\0x\n", 6);
  for (std::string_view text :
       {std::string_view(""), std::string_view("no newline"), std::string_view("cr\r\n"), nul,
        std::string_view("\xFF\n"), std::string_view("tab\tx\n")}) {
    auto note = SignNote(text, key);
    EXPECT_FALSE(note.ok()) << text;
    EXPECT_EQ(note.status().code(), Code::kInvalidArgument);
  }
  EXPECT_OK(SignNote("caf\xC3\xA9 \xE2\x80\x94 ok\n", key));
}

TEST(Note, OpenIgnoresUnknownSignersButNeedsAKnownOne) {
  ASSERT_OK_AND_ASSIGN(SigningKey a, SigningKey::Generate("a"));
  ASSERT_OK_AND_ASSIGN(SigningKey b, SigningKey::Generate("b"));
  ASSERT_OK_AND_ASSIGN(std::string by_a, SignNote("text\n", a));
  ASSERT_OK_AND_ASSIGN(std::string by_b, SignNote("text\n", b));
  // A note with both signatures: append b's signature line to a's note.
  const std::string both = by_a + by_b.substr(by_b.find("\n\n") + 2);
  const VerifierKey va = a.verifier();
  const VerifierKey vb = b.verifier();

  ASSERT_OK_AND_ASSIGN(SignedNote only_a, OpenNote(both, std::span(&va, 1)));
  ASSERT_EQ(only_a.signatures.size(), 1u);
  EXPECT_EQ(only_a.signatures[0].name, "a");
  const std::vector<VerifierKey> ab = {va, vb};
  ASSERT_OK_AND_ASSIGN(SignedNote both_ok, OpenNote(both, ab));
  EXPECT_EQ(both_ok.signatures.size(), 2u);

  auto none = OpenNote(by_b, std::span(&va, 1));
  EXPECT_EQ(none.status().code(), Code::kCorruption) << none.status().ToString();
  auto empty = OpenNote(by_a, std::span<const VerifierKey>());
  EXPECT_EQ(empty.status().code(), Code::kCorruption);
}

TEST(Note, KnownKeyWithBadSignatureFailsEvenIfAnotherVerifies) {
  ASSERT_OK_AND_ASSIGN(SigningKey a, SigningKey::Generate("a"));
  ASSERT_OK_AND_ASSIGN(SigningKey b, SigningKey::Generate("b"));
  ASSERT_OK_AND_ASSIGN(std::string by_a, SignNote("text\n", a));
  ASSERT_OK_AND_ASSIGN(std::string by_b_other, SignNote("other\n", b));
  const std::string mixed = by_a + by_b_other.substr(by_b_other.find("\n\n") + 2);
  const std::vector<VerifierKey> ab = {a.verifier(), b.verifier()};
  auto opened = OpenNote(mixed, ab);
  EXPECT_EQ(opened.status().code(), Code::kCorruption);
  EXPECT_NE(opened.status().message().find("b+"), std::string::npos) << opened.status().message();
  // With b unknown, its signature is ignored.
  const VerifierKey va = a.verifier();
  EXPECT_OK(OpenNote(mixed, std::span(&va, 1)));
}

TEST(Note, AmbiguousVerifierIsAnErrorOnlyWhenUsed) {
  ASSERT_OK_AND_ASSIGN(SigningKey a, SigningKey::Generate("a"));
  ASSERT_OK_AND_ASSIGN(SigningKey b, SigningKey::Generate("b"));
  ASSERT_OK_AND_ASSIGN(std::string by_a, SignNote("text\n", a));
  const std::vector<VerifierKey> dup_a = {a.verifier(), a.verifier()};
  auto opened = OpenNote(by_a, dup_a);
  EXPECT_EQ(opened.status().code(), Code::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("ambiguous"), std::string::npos);
  const std::vector<VerifierKey> dup_b = {a.verifier(), b.verifier(), b.verifier()};
  EXPECT_OK(OpenNote(by_a, dup_b));
}

TEST(Note, RepeatedSignaturesCountOnce) {
  ASSERT_OK_AND_ASSIGN(SigningKey a, SigningKey::Generate("a"));
  ASSERT_OK_AND_ASSIGN(std::string note, SignNote("text\n", a));
  const std::string line = note.substr(note.find("\n\n") + 2);
  const VerifierKey va = a.verifier();
  ASSERT_OK_AND_ASSIGN(SignedNote opened, OpenNote(note + line + line, std::span(&va, 1)));
  EXPECT_EQ(opened.signatures.size(), 1u);
}

TEST(Note, AtMostOneHundredSignatures) {
  ASSERT_OK_AND_ASSIGN(SigningKey a, SigningKey::Generate("a"));
  ASSERT_OK_AND_ASSIGN(std::string note, SignNote("text\n", a));
  const std::string line = note.substr(note.find("\n\n") + 2);
  std::string hundred = note;
  for (int i = 1; i < 100; ++i) hundred += line;
  const VerifierKey va = a.verifier();
  ASSERT_OK_AND_ASSIGN(SignedNote parsed, ParseNote(hundred));
  EXPECT_EQ(parsed.signatures.size(), 100u);
  EXPECT_OK(OpenNote(hundred, std::span(&va, 1)));
  auto too_many = OpenNote(hundred + line, std::span(&va, 1));
  EXPECT_EQ(too_many.status().code(), Code::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("100"), std::string::npos);
}

TEST(Note, ParseRejectsMalformedSignatureLines) {
  const std::string text = "text\n\n";
  const std::string b64 =
      "x08go/ZJkuBS9UG/"
      "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
  const std::vector<std::string> bad_blocks = {
      std::string("- k ") + b64 + "\n",              // hyphen, not em dash
      "\xE2\x80\x94k " + b64 + "\n",                 // no space after the dash
      "\xE2\x80\x94 k\n",                            // no signature
      "\xE2\x80\x94 k \n",                           // empty signature
      "\xE2\x80\x94  " + b64 + "\n",                 // empty name
      "\xE2\x80\x94 a+b " + b64 + "\n",              // '+' in name
      "\xE2\x80\x94 Bad Name " + b64 + "\n",         // space in name
      "\xE2\x80\x94 k " + b64 + " \n",               // trailing space
      "\xE2\x80\x94 k AAAAAA==\n",                   // 4 bytes: key id only
      "\xE2\x80\x94 k " + b64.substr(0, 90) + "\n",  // not base64
  };
  for (const std::string& sigs : bad_blocks) {
    auto parsed = ParseNote(text + sigs);
    EXPECT_FALSE(parsed.ok()) << sigs;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
  }
  EXPECT_OK(ParseNote(text + "\xE2\x80\x94 k AAAAAAA=\n"));  // 5 bytes is the minimum
}

// --- Checkpoints ---

Checkpoint Sample() {
  Checkpoint cp;
  cp.origin = "example.com/log";
  cp.size = 42;
  cp.root = LeafHash(std::string_view("root"));
  return cp;
}

TEST(Checkpoint, ToTextParseRoundTrip) {
  Checkpoint cp = Sample();
  EXPECT_EQ(cp.ToText(), "example.com/log\n42\n" + HashToBase64(cp.root) + "\n");
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{10}, UINT64_MAX}) {
    cp.size = size;
    cp.extensions = {};
    ASSERT_OK_AND_ASSIGN(Checkpoint back, Checkpoint::Parse(cp.ToText()));
    EXPECT_EQ(back, cp);
    cp.extensions = {"ext one", "\xE2\x80\x94 two"};
    ASSERT_OK_AND_ASSIGN(Checkpoint back2, Checkpoint::Parse(cp.ToText()));
    EXPECT_EQ(back2, cp);
  }
}

TEST(Checkpoint, ParseRejectsNonCanonicalText) {
  const std::string root = "\n" + HashToBase64(Sample().root) + "\n";
  for (std::string text : {
           std::string("o\n18446744073709551616") + root,  // UINT64_MAX + 1
           std::string("o\n99999999999999999999") + root,
           std::string("o\n00") + root,
           std::string("o\n-0") + root,
           std::string("o\n") + root,  // empty size
           std::string("o\n 1") + root,
           std::string("o\n1") + root + "\n",  // empty extension line
           std::string("o\r\n1") + root,
           std::string("o\n1") + "\n" + HashToBase64(Sample().root) + "\nx",  // no final newline
           std::string("o\n1\n") + schema::Base64Encode(std::string(31, 'x')) + "\n",
           std::string("o\n1\n") + "\n",
       }) {
    auto cp = Checkpoint::Parse(text);
    EXPECT_FALSE(cp.ok()) << text;
    EXPECT_EQ(cp.status().code(), Code::kInvalidArgument);
  }
  EXPECT_OK(Checkpoint::Parse(std::string("o\n18446744073709551615") + root));
}

TEST(Checkpoint, ParseErrorNamesTheLine) {
  auto cp = Checkpoint::Parse("o\n01\n" + HashToBase64(Sample().root) + "\n");
  EXPECT_NE(cp.status().message().find("line 2"), std::string::npos) << cp.status().message();
  cp = Checkpoint::Parse("o\n1\nAAAA\n");
  EXPECT_NE(cp.status().message().find("line 3"), std::string::npos) << cp.status().message();
  cp = Checkpoint::Parse("\n1\n" + HashToBase64(Sample().root) + "\n");
  EXPECT_NE(cp.status().message().find("line 1"), std::string::npos) << cp.status().message();
}

TEST(Checkpoint, SignOpenRoundTrip) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  Checkpoint cp = Sample();
  cp.extensions = {"extension"};
  ASSERT_OK_AND_ASSIGN(std::string note, SignCheckpoint(cp, key));
  EXPECT_TRUE(note.starts_with(cp.ToText() + "\n\xE2\x80\x94 example.com/log "));
  ASSERT_OK_AND_ASSIGN(Checkpoint opened, OpenCheckpoint(note, key.verifier()));
  EXPECT_EQ(opened, cp);
  ASSERT_OK_AND_ASSIGN(Checkpoint with_origin,
                       OpenCheckpoint(note, key.verifier(), "example.com/log"));
  EXPECT_EQ(with_origin, cp);

  auto wrong_origin = OpenCheckpoint(note, key.verifier(), "example.com/other");
  EXPECT_EQ(wrong_origin.status().code(), Code::kInvalidArgument);

  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate("example.com/log"));
  auto wrong_key = OpenCheckpoint(note, other.verifier());
  EXPECT_EQ(wrong_key.status().code(), Code::kCorruption) << wrong_key.status().ToString();
}

TEST(Checkpoint, SignIsDeterministic) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  ASSERT_OK_AND_ASSIGN(std::string a, SignCheckpoint(Sample(), key));
  ASSERT_OK_AND_ASSIGN(std::string b, SignCheckpoint(Sample(), key));
  EXPECT_EQ(a, b);
}

TEST(Checkpoint, SignRefusesFieldsThatDoNotReadBack) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  Checkpoint cp = Sample();
  cp.origin = "";
  EXPECT_FALSE(SignCheckpoint(cp, key).ok());
  cp.origin = "two\nlines";
  EXPECT_FALSE(SignCheckpoint(cp, key).ok());
  cp = Sample();
  cp.extensions = {""};
  EXPECT_FALSE(SignCheckpoint(cp, key).ok());
  cp.extensions = {"a\nb"};
  EXPECT_FALSE(SignCheckpoint(cp, key).ok());
  cp.extensions = {"tab\there"};
  EXPECT_FALSE(SignCheckpoint(cp, key).ok());
}

TEST(Checkpoint, SignedCheckpointRejectsEveryByteChange) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  ASSERT_OK_AND_ASSIGN(std::string note, SignCheckpoint(Sample(), key));
  ExpectEveryByteChangeRejected(note, key.verifier());
}

}  // namespace
}  // namespace custody::ledger
