#include "custody/ledger/verifier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "custody/ledger/bundle.h"
#include "custody/ledger/checkpoint.h"
#include "ledger/ledger_test_util.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::ledger {
namespace {

namespace fs = std::filesystem;
using testutil::NoteBatch;

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(testing::ReadFileOrDie(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  testing::WriteFileOrDie(path, out);
}

// A 50-entry ledger committed in batches of 10 (checkpoints at 10..50) and
// exported to a bundle.
class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = testutil::OpenLedgerOrDie(dir_.File("log"));
    for (uint64_t i = 0; i < 50; i += 10) ASSERT_OK(ledger_->AppendBatch(NoteBatch(i, 10)));
    options_.key = ledger_->verifier_key();
    ASSERT_OK(ExportBundle(*ledger_, bundle(), {}));
  }
  std::string bundle() const { return dir_.File("bundle"); }
  std::string entries() const { return dir_.File("bundle/entries.ndjson"); }
  std::string checkpoint(uint64_t size) const {
    return (fs::path(bundle()) / "checkpoints" / CheckpointFileName(size)).string();
  }
  VerifyReport Verify() {
    auto r = VerifyBundle(bundle(), options_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  VerifyOptions options_;
};

TEST_F(VerifierTest, IntactBundleVerifies) {
  VerifyReport r = Verify();
  ASSERT_TRUE(r.ok) << r.Summary();
  EXPECT_EQ(r.entries, 50u);
  EXPECT_EQ(r.checkpoints, 5u);
  EXPECT_EQ(r.latest_checkpoint_size, 50u);
  EXPECT_EQ(r.kinds["note"], 50u);
  EXPECT_EQ(r.root, ledger_->LatestRoot());
  EXPECT_EQ(r.first_time, "2026-05-04T09:00:00.000000Z");
  EXPECT_NE(r.Summary().find("OK: 50 entries"), std::string::npos) << r.Summary();
}

TEST_F(VerifierTest, IntactDataDirVerifies) {
  ledger_.reset();  // the verifier reads a closed copy
  auto r = VerifyDataDir(dir_.File("log"), options_);
  ASSERT_OK(r);
  EXPECT_TRUE(r->ok) << r->Summary();
  EXPECT_EQ(r->entries, 50u);
  EXPECT_EQ(r->checkpoints, 5u);
}

TEST_F(VerifierTest, FlippedByteInEntryNamesThatSeq) {
  for (uint64_t seq : {0u, 17u, 31u}) {
    auto lines = ReadLines(entries());
    const auto original = lines;
    const size_t pad = lines[seq].find("xxxx");
    ASSERT_NE(pad, std::string::npos);
    lines[seq][pad + 1] = 'y';
    WriteLines(entries(), lines);
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_seq, seq) << r.Summary();
    WriteLines(entries(), original);
  }
}

TEST_F(VerifierTest, ByteFlipThatBreaksJsonNamesThatSeq) {
  auto lines = ReadLines(entries());
  lines[23][0] = '[';
  WriteLines(entries(), lines);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 23u) << r.Summary();
}

TEST_F(VerifierTest, FlippedByteInLastEntryFailsAtItsCheckpoint) {
  auto lines = ReadLines(entries());
  lines[49][lines[49].find("xxxx")] = 'z';
  WriteLines(entries(), lines);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 49u) << r.Summary();
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(50));
}

TEST_F(VerifierTest, DeletedEntryNamesItsSeq) {
  auto lines = ReadLines(entries());
  lines.erase(lines.begin() + 12);
  WriteLines(entries(), lines);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 12u) << r.Summary();
  EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
}

TEST_F(VerifierTest, SwappedPairNamesFirstSeq) {
  auto lines = ReadLines(entries());
  std::swap(lines[34], lines[35]);
  WriteLines(entries(), lines);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 34u) << r.Summary();
}

TEST_F(VerifierTest, TruncatedTailIsDetected) {
  auto lines = ReadLines(entries());
  lines.resize(44);
  WriteLines(entries(), lines);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 44u) << r.Summary();
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(50));
}

TEST_F(VerifierTest, PartialLastLineIsDetected) {
  std::string data = testing::ReadFileOrDie(entries());
  data.resize(data.size() - 10);
  testing::WriteFileOrDie(entries(), data);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 49u) << r.Summary();
}

TEST_F(VerifierTest, AlteredCheckpointSignatureOrSizeIsNamed) {
  const std::string path = checkpoint(30);
  const std::string original = testing::ReadFileOrDie(path);
  std::string sig = original;
  sig[sig.size() - 5] = sig[sig.size() - 5] == 'A' ? 'B' : 'A';
  testing::WriteFileOrDie(path, sig);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(30)) << r.Summary();

  std::string size = original;
  size.replace(size.find("\n30\n"), 4, "\n31\n");
  testing::WriteFileOrDie(path, size);
  r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(30)) << r.Summary();
}

TEST_F(VerifierTest, ForkedCheckpointWithSameKeyIsNamed) {
  // A second log signed with the same key but different entries.
  fs::create_directories(dir_.File("fork"));
  fs::copy_file(dir_.File("log/signing.key"), dir_.File("fork/signing.key"));
  fs::permissions(dir_.File("fork/signing.key"), fs::perms::owner_read | fs::perms::owner_write);
  auto fork = testutil::OpenLedgerOrDie(dir_.File("fork"));
  ASSERT_OK(fork->AppendBatch(NoteBatch(1000, 40)));
  testing::WriteFileOrDie(dir_.File("bundle/checkpoints/fork.txt"), fork->LatestCheckpoint());
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/fork.txt") << r.Summary();

  // The fork's checkpoint given as trusted: the bundle is not consistent with it.
  fs::remove(dir_.File("bundle/checkpoints/fork.txt"));
  options_.trusted_checkpoint = fork->LatestCheckpoint();
  r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "trusted") << r.Summary();
}

TEST_F(VerifierTest, TrustedCheckpointDetectsRollback) {
  ASSERT_OK(ledger_->AppendBatch(NoteBatch(50, 5)));
  options_.trusted_checkpoint = ledger_->LatestCheckpoint();  // size 55
  VerifyReport r = Verify();                                   // bundle has 50
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "trusted");
  EXPECT_NE(r.reason.find("rolled back"), std::string::npos) << r.reason;

  // An older trusted checkpoint the bundle extends is fine.
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(std::string_view at20, view.CheckpointAt(20));
  options_.trusted_checkpoint = std::string(at20);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(VerifierTest, WrongKeyFails) {
  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate("test.example/log"));
  options_.key = other.verifier();
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.bad_checkpoint.has_value());
}

TEST_F(VerifierTest, CorruptedDataDirNamesSeq) {
  ledger_.reset();
  const std::string path = dir_.File("log/data.mdb");
  std::string data = testing::ReadFileOrDie(path);
  // LMDB keeps stale copies of pages (copy-on-write); alter every copy.
  size_t copies = 0;
  for (size_t at = data.find("{\"i\":7,"); at != std::string::npos;
       at = data.find("{\"i\":7,", at + 1)) {
    data[at + 5] = '8';
    ++copies;
  }
  ASSERT_GT(copies, 0u);
  testing::WriteFileOrDie(path, data);
  auto r = VerifyDataDir(dir_.File("log"), options_);
  ASSERT_OK(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->bad_seq, 7u) << r->Summary();
}

TEST(Verifier, AccessEntryMustNamePrecedingPolicy) {
  testing::ScopedTempDir dir;
  auto ledger = testutil::OpenLedgerOrDie(dir.File("log"));
  PendingEntry policy = testutil::NoteEntry(0);
  policy.kind = "policy";
  policy.body = R"({"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","text":""})";
  PendingEntry access = testutil::NoteEntry(1);
  access.kind = "access";
  access.decision = R"({"hits":[{"rule":"r"}],"policy_sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})";
  PendingEntry orphan = testutil::NoteEntry(2);
  orphan.kind = "access";
  orphan.decision = R"({"hits":[],"policy_sha256":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"})";
  ASSERT_OK(ledger->AppendBatch(std::vector<PendingEntry>{policy, access}));
  VerifyOptions options;
  options.key = ledger->verifier_key();
  {
    ASSERT_OK_AND_ASSIGN(VerifyReport r, VerifyDataDir(dir.File("log"), options));
    EXPECT_TRUE(r.ok) << r.Summary();
    EXPECT_EQ(r.policies, 1u);
    EXPECT_EQ(r.alerts, 1u);
  }
  ASSERT_OK(ledger->AppendBatch(std::vector<PendingEntry>{orphan}));
  ASSERT_OK_AND_ASSIGN(VerifyReport r, VerifyDataDir(dir.File("log"), options));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 2u) << r.Summary();
}

}  // namespace
}  // namespace custody::ledger
