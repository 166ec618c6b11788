#include "custody/ledger/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "custody/schema/encoding.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::ledger {
namespace {

using schema::Code;

constexpr std::string_view kPeterVerifier =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kPeterSigner =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
// The seed's base64 above; no error message may contain it.
constexpr std::string_view kPeterSeedB64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

std::string Str(const boost::json::value& v) { return std::string(v.as_string()); }

std::span<const uint8_t> Bytes(const Signature& sig) { return sig; }

// Every key in note-keys.json parses, re-encodes to the same string, has the
// id the C2SP rule gives, and (where the source has one) its signer key
// derives the same verifier key.
TEST(KeyVectors, NoteKeysParseAndRoundTrip) {
  const auto doc =
      boost::json::parse(testing::ReadFileOrDie(testing::VectorsDir() / "note-keys.json"));
  const auto& keys = doc.at("keys").as_array();
  size_t checked = 0;
  size_t signers = 0;
  for (const auto& k : keys) {
    const std::string vkey = Str(k.at("verifier_key"));
    SCOPED_TRACE(vkey);
    ASSERT_OK_AND_ASSIGN(VerifierKey v, VerifierKey::Parse(vkey));
    EXPECT_EQ(v.name, Str(k.at("name")));
    EXPECT_EQ(v.ToString(), vkey);
    EXPECT_EQ(v.key_id, KeyId(v.name, v.public_key));
    if (!k.at("signer_key").is_null()) {
      ASSERT_OK_AND_ASSIGN(SigningKey s, SigningKey::FromSignerString(Str(k.at("signer_key"))));
      EXPECT_EQ(s.verifier(), v);
      const std::string msg = "custody test message\n";
      EXPECT_TRUE(v.Verify(msg, Bytes(s.Sign(msg))));
      ++signers;
    }
    ++checked;
  }
  EXPECT_EQ(checked, keys.size());
  EXPECT_EQ(checked, 8u);
  EXPECT_EQ(signers, 5u);
}

TEST(SigningKey, GenerateSignVerifyRoundTrip) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  EXPECT_EQ(key.name(), "example.com/log");
  EXPECT_EQ(key.verifier().key_id, KeyId(key.name(), key.verifier().public_key));
  const Signature sig = key.Sign("hello\n");
  EXPECT_TRUE(key.verifier().Verify("hello\n", sig));
  EXPECT_FALSE(key.verifier().Verify("hello!\n", sig));
  Signature bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(key.verifier().Verify("hello\n", bad));
  EXPECT_FALSE(key.verifier().Verify("hello\n", std::span(sig).first(63)));

  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate("example.com/log"));
  EXPECT_NE(other.verifier().public_key, key.verifier().public_key);
  EXPECT_FALSE(other.verifier().Verify("hello\n", sig));
}

TEST(SigningKey, GenerateRejectsBadNames) {
  for (std::string_view name : {"", "a+b", "a b", "a\tb",
                                "a\xC2\xA0"
                                "b",
                                "a\xE3\x80\x80"
                                "b",
                                "\xFF", "a\x01"}) {
    auto key = SigningKey::Generate(name);
    EXPECT_FALSE(key.ok()) << name;
    EXPECT_EQ(key.status().code(), Code::kInvalidArgument);
  }
}

TEST(SigningKey, SignIsDeterministic) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("det"));
  EXPECT_EQ(key.Sign("same message"), key.Sign("same message"));
  EXPECT_NE(key.Sign("same message"), key.Sign("other message"));
}

// RFC 8032 signing is deterministic, so our signature over the Go example
// text must be the one note_test.go expects, byte for byte.
TEST(SigningKey, SignMatchesGoReferenceSignature) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::FromSignerString(kPeterSigner));
  EXPECT_EQ(key.verifier().ToString(), kPeterVerifier);
  const std::string text =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n";
  const Signature sig = key.Sign(text);
  std::vector<uint8_t> raw = {0xc7, 0x4f, 0x20, 0xa3};
  raw.insert(raw.end(), sig.begin(), sig.end());
  EXPECT_EQ(
      schema::Base64Encode(raw),
      "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJ"
      "nAM=");
}

TEST(SigningKey, SignFromManyThreads) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("threads"));
  const Signature want = key.Sign("m");
  std::vector<std::thread> threads;
  std::vector<int> bad(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (key.Sign("m") != want) ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

TEST(SigningKey, MovedKeyStillSigns) {
  ASSERT_OK_AND_ASSIGN(SigningKey a, SigningKey::Generate("move"));
  const VerifierKey v = a.verifier();
  SigningKey b(std::move(a));
  EXPECT_TRUE(v.Verify("x", b.Sign("x")));
  ASSERT_OK_AND_ASSIGN(SigningKey c, SigningKey::Generate("other"));
  c = std::move(b);
  EXPECT_EQ(c.verifier(), v);
  EXPECT_TRUE(v.Verify("y", c.Sign("y")));
}

// Anonymous read-only mappings of this process: the key page is one of them
// exactly while it is readable (sodium_malloc puts it between guard pages).
int ReadOnlyAnonymousMappings() {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) {
    std::istringstream fields(line);
    std::string range, perms, offset, dev, inode, path;
    fields >> range >> perms >> offset >> dev >> inode >> path;
    if (perms == "r--p" && inode == "0" && path.empty()) ++n;
  }
  return n;
}

TEST(SigningKey, ReadableHoldKeepsTheKeyReadableUntilDropped) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("hold"));
  const int sealed = ReadOnlyAnonymousMappings();
  {
    SigningKey::ReadableHold hold = key.KeepReadable();
    EXPECT_TRUE(static_cast<bool>(hold));
    EXPECT_EQ(ReadOnlyAnonymousMappings(), sealed + 1);
    // Signing inside the hold leaves the key readable.
    EXPECT_TRUE(key.verifier().Verify("m", key.Sign("m")));
    EXPECT_EQ(ReadOnlyAnonymousMappings(), sealed + 1);
    SigningKey::ReadableHold moved = std::move(hold);
    EXPECT_FALSE(static_cast<bool>(hold));
    EXPECT_EQ(ReadOnlyAnonymousMappings(), sealed + 1);
  }
  EXPECT_EQ(ReadOnlyAnonymousMappings(), sealed);  // PROT_NONE again
  EXPECT_TRUE(key.verifier().Verify("n", key.Sign("n")));
  EXPECT_EQ(ReadOnlyAnonymousMappings(), sealed);
}

TEST(VerifierKey, StringRoundTrip) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/round-trip"));
  const std::string text = key.verifier().ToString();
  EXPECT_TRUE(text.starts_with("example.com/round-trip+"));
  ASSERT_OK_AND_ASSIGN(VerifierKey back, VerifierKey::Parse(text));
  EXPECT_EQ(back, key.verifier());
  EXPECT_EQ(back.ToString(), text);
}

TEST(VerifierKey, UpperCaseIdAccepted) {
  ASSERT_OK_AND_ASSIGN(VerifierKey v,
                       VerifierKey::Parse("PeterNeumann+C74F20A3+"
                                          "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"));
  EXPECT_EQ(v.ToString(), kPeterVerifier);
}

struct BadKey {
  std::string text;
  std::string want_in_message;
};

TEST(VerifierKey, ParseRejectsMalformedWithReason) {
  const std::vector<BadKey> cases = {
      {"", "'+'-separated parts"},
      {"PeterNeumann", "'+'-separated parts"},
      {"PeterNeumann+c74f20a3", "'+'-separated parts"},
      {"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"},
      {"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"},
      {"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"},
      {"PeterNeumann+c74f20a3a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"},
      {"PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"},
      {"PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n", "base64"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+", "base64"},
      {"PeterNeumann+c74f20a3+", "empty"},
      // 0x02 || the same 32 bytes.
      {"PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm 0x02"},
      // 0x01 || 31 bytes, and 0x01 || 33 bytes.
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10Q=", "31 bytes"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==", "33 bytes"},
  };
  for (const BadKey& c : cases) {
    auto v = VerifierKey::Parse(c.text);
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << c.text;
    EXPECT_NE(v.status().message().find(c.want_in_message), std::string::npos)
        << c.text << " -> " << v.status().message();
  }
}

TEST(VerifierKey, KeyIdMismatchRejected) {
  // Right key, id of a different key; right id, different name.
  for (std::string_view text :
       {"PeterNeumann+af0cfe78+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"}) {
    auto v = VerifierKey::Parse(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_NE(v.status().message().find("does not match"), std::string::npos)
        << v.status().message();
  }
}

TEST(SigningKey, FromSignerStringRejectsMalformedWithoutEchoingSecret) {
  const std::vector<BadKey> cases = {
      {"", "PRIVATE+KEY+"},
      {"PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "PRIVATE+KEY+"},
      {"PRIVATE+KEYS+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "PRIVATE+KEY+"},
      {"PRIVATE+KEY+PeterNeumann", "'+'-separated parts"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3", "'+'-separated parts"},
      {"PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "key name"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "8 hex digits"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDF", "base64"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "algorithm 0x02"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDE=",
       "31 bytes"},
      // The right seed under another key's id.
      {"PRIVATE+KEY+PeterNeumann+af0cfe78+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "does not match"},
  };
  for (const BadKey& c : cases) {
    auto k = SigningKey::FromSignerString(c.text);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_EQ(k.status().code(), Code::kInvalidArgument);
    EXPECT_NE(k.status().message().find(c.want_in_message), std::string::npos)
        << c.text << " -> " << k.status().message();
    EXPECT_EQ(k.status().message().find(kPeterSeedB64.substr(0, 20)), std::string::npos);
  }
}

TEST(KeyFile, SaveLoadRoundTrip) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("log.key");
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("example.com/log"));
  ASSERT_OK(key.Save(path));

  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string contents = testing::ReadFileOrDie(path);
  EXPECT_TRUE(contents.starts_with("PRIVATE+KEY+example.com/log+"));
  EXPECT_TRUE(contents.ends_with("\n"));
  EXPECT_EQ(contents.find('\n'), contents.size() - 1);

  ASSERT_OK_AND_ASSIGN(SigningKey loaded, SigningKey::Load(path));
  EXPECT_EQ(loaded.verifier(), key.verifier());
  EXPECT_EQ(loaded.Sign("checkpoint\n"), key.Sign("checkpoint\n"));
}

TEST(KeyFile, SaveWritesGoCompatibleSignerString) {
  testing::ScopedTempDir dir;
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::FromSignerString(kPeterSigner));
  ASSERT_OK(key.Save(dir.File("k")));
  EXPECT_EQ(testing::ReadFileOrDie(dir.File("k")), std::string(kPeterSigner) + "\n");
}

TEST(KeyFile, LoadAcceptsFileWithoutTrailingNewline) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("k");
  testing::WriteFileOrDie(path, std::string(kPeterSigner));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Load(path));
  EXPECT_EQ(key.verifier().ToString(), kPeterVerifier);

  // Only one newline is stripped.
  const std::string two = dir.File("two");
  testing::WriteFileOrDie(two, std::string(kPeterSigner) + "\n\n");
  ASSERT_EQ(::chmod(two.c_str(), 0600), 0);
  EXPECT_FALSE(SigningKey::Load(two).ok());
}

TEST(KeyFile, LoadRefusesGroupOrWorldAccess) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("log.key");
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("log"));
  ASSERT_OK(key.Save(path));
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0620}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto loaded = SigningKey::Load(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), Code::kPermissionDenied);
    const std::string msg = loaded.status().message();
    EXPECT_NE(msg.find("chmod 600 " + path), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(msg.find(octal), std::string::npos) << msg;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_OK(SigningKey::Load(path));
}

TEST(KeyFile, LoadMissingFileIsNotFound) {
  testing::ScopedTempDir dir;
  auto loaded = SigningKey::Load(dir.File("absent"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
}

TEST(KeyFile, LoadRejectsGarbageWithoutEchoingIt) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("k");
  testing::WriteFileOrDie(path, "PRIVATE+KEY+x+00000000+SECRETSECRETSECRET\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto loaded = SigningKey::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find(path), std::string::npos);
  EXPECT_EQ(loaded.status().message().find("SECRET"), std::string::npos);
}

TEST(KeyFile, SaveRefusesToOverwrite) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("log.key");
  ASSERT_OK_AND_ASSIGN(SigningKey first, SigningKey::Generate("log"));
  ASSERT_OK_AND_ASSIGN(SigningKey second, SigningKey::Generate("log"));
  ASSERT_OK(first.Save(path));
  const std::string before = testing::ReadFileOrDie(path);
  const Status s = second.Save(path);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(testing::ReadFileOrDie(path), before);
  ASSERT_OK_AND_ASSIGN(SigningKey loaded, SigningKey::Load(path));
  EXPECT_EQ(loaded.verifier(), first.verifier());
}

TEST(KeyFile, SaveIntoMissingDirectoryFails) {
  testing::ScopedTempDir dir;
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate("log"));
  const Status s = key.Save(dir.File("no/such/dir/key"));
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
}

TEST(KeyName, Validity) {
  EXPECT_TRUE(IsValidKeyName("example.com/log"));
  EXPECT_FALSE(IsValidKeyName("go.sum database tree"));
  EXPECT_TRUE(IsValidKeyName("caf\xC3\xA9"));
  EXPECT_FALSE(IsValidKeyName(""));
  EXPECT_FALSE(IsValidKeyName("a+b"));
  EXPECT_FALSE(
      IsValidKeyName("a\xE2\x80\x83"
                     "b"));                       // U+2003 em space
  EXPECT_FALSE(IsValidKeyName("a\xC0\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidKeyName("a\xED\xA0\x80"));  // surrogate
}

}  // namespace
}  // namespace custody::ledger
