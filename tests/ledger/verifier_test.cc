#include "custody/ledger/verifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "custody/ledger/bundle.h"
#include "custody/ledger/checkpoint.h"
#include "custody/ledger/merkle.h"
#include "custody/schema/json_canon.h"
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

TEST_F(VerifierTest, EntriesAfterTheNewestCheckpointFail) {
  // The newest checkpoint deleted: entries 40..49 are signed by nobody.
  fs::remove(checkpoint(50));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 40u) << r.Summary();
  EXPECT_FALSE(r.bad_checkpoint.has_value()) << r.Summary();
  EXPECT_EQ(r.Summary(),
            "FAIL: seq 40: entries 40..49 are not covered by any signed checkpoint (the newest "
            "covers 40)");
}

TEST_F(VerifierTest, EntriesForgedAfterTheNewestCheckpointFail) {
  // Entries appended after signing (a copy of the chain's rules holds: seq,
  // prev), with log.json's size made to match: only the signatures tell.
  ASSERT_OK(ledger_->AppendBatch(NoteBatch(50, 3)));
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger_->Read());
  auto lines = ReadLines(entries());
  for (uint64_t seq = 50; seq < 53; ++seq) {
    ASSERT_OK_AND_ASSIGN(std::string_view e, view.Entry(seq));
    lines.emplace_back(e);
  }
  WriteLines(entries(), lines);
  std::string log = testing::ReadFileOrDie(bundle() + "/log.json");
  const size_t at = log.find("\"size\":50");
  ASSERT_NE(at, std::string::npos) << log;
  log.replace(at, 9, "\"size\":53");
  testing::WriteFileOrDie(bundle() + "/log.json", log);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 50u) << r.Summary();
  EXPECT_NE(r.reason.find("entries 50..52 are not covered by any signed checkpoint"),
            std::string::npos)
      << r.Summary();
}

TEST_F(VerifierTest, LogJsonSizeMustBeTheBundlesSize) {
  const std::string path = bundle() + "/log.json";
  const std::string original = testing::ReadFileOrDie(path);
  const size_t at = original.find("\"size\":50");
  ASSERT_NE(at, std::string::npos) << original;
  for (const char* size : {"49", "51"}) {
    std::string log = original;
    log.replace(at + 7, 2, size);
    testing::WriteFileOrDie(path, log);
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok) << size;
    EXPECT_EQ(r.bad_seq, std::string(size) == "49" ? 49u : 50u) << r.Summary();
    EXPECT_NE(r.reason.find(std::string("log.json says the log has ") + size +
                            " entries but the bundle holds 50"),
              std::string::npos)
        << r.Summary();
  }
}

TEST_F(VerifierTest, EmptyOrMissingCheckpointsDirIsAFailureNotAnInputError) {
  for (fs::path cp : fs::directory_iterator(bundle() + "/checkpoints")) fs::remove(cp);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.Summary(), "FAIL: no signed checkpoint covers the log");
  fs::remove(bundle() + "/checkpoints");
  r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.Summary(), "FAIL: no signed checkpoint covers the log");
}

TEST_F(VerifierTest, DataDirMayBeCustodydsDataDirOrItsLedgerDir) {
  ledger_.reset();
  // custodyd's layout: <data_dir>/ledger holds the LMDB environment.
  fs::create_directories(dir_.File("data"));
  fs::rename(dir_.File("log"), dir_.File("data/ledger"));
  for (const std::string& d : {dir_.File("data"), dir_.File("data/ledger")}) {
    auto r = VerifyDataDir(d, options_);
    ASSERT_OK(r);
    EXPECT_TRUE(r->ok) << d << ": " << r->Summary();
    EXPECT_EQ(r->entries, 50u);
  }
  fs::create_directories(dir_.File("empty"));
  auto none = VerifyDataDir(dir_.File("empty"), options_);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsNotFound()) << none.status().ToString();
  EXPECT_NE(none.status().message().find(dir_.File("empty") + "/data.mdb and " +
                                         dir_.File("empty") + "/ledger/data.mdb"),
            std::string::npos)
      << none.status().ToString();
}

TEST_F(VerifierTest, WrongKeyFailureNamesTheSignerAndTheExpectedKey) {
  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate("test.example/log"));
  const VerifierKey signer = options_.key;
  options_.key = other.verifier();
  char expected[9], signed_by[9];
  std::snprintf(expected, sizeof expected, "%08x", options_.key.key_id);
  std::snprintf(signed_by, sizeof signed_by, "%08x", signer.key_id);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("signed by " + signer.name + "+" + signed_by + "; expected " +
                          options_.key.name + "+" + expected),
            std::string::npos)
      << r.Summary();
  // The trusted checkpoint's failure says the same.
  options_.key = signer;
  ASSERT_OK_AND_ASSIGN(SigningKey third, SigningKey::Generate("other.example/log"));
  ASSERT_OK_AND_ASSIGN(std::string foreign,
                       SignCheckpoint(Checkpoint{"other.example/log", 1, EmptyRoot(), {}}, third));
  options_.trusted_checkpoint = foreign;
  r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "trusted");
  EXPECT_NE(r.reason.find("signed by other.example/log+"), std::string::npos) << r.Summary();
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


// Bundles that start after seq 0 (custodyctl export --from): a 50-entry log
// with a policy at seq 3 and access entries naming it at 27 and 45,
// committed in batches of 10.
class PartialBundleTest : public ::testing::Test {
 protected:
  static constexpr const char* kSha =
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  void SetUp() override {
    ledger_ = testutil::OpenLedgerOrDie(dir_.File("log"));
    std::vector<PendingEntry> all = NoteBatch(0, 50);
    all[3].kind = "policy";
    all[3].body = std::string(R"({"sha256":")") + kSha + R"(","text":""})";
    for (size_t i : {27u, 45u}) {
      all[i].kind = "access";
      all[i].decision = std::string(R"({"hits":[{"rule":"r"}],"policy_sha256":")") + kSha + "\"}";
    }
    for (size_t i = 0; i < 50; i += 10) {
      ASSERT_OK(ledger_->AppendBatch(std::span<const PendingEntry>(all).subspan(i, 10)));
    }
    options_.key = ledger_->verifier_key();
  }
  std::string Export(uint64_t first_seq) {
    const std::string out = dir_.File("from-" + std::to_string(first_seq));
    ExportOptions eo;
    eo.first_seq = first_seq;
    EXPECT_OK(ExportBundle(*ledger_, out, eo));
    return out;
  }
  VerifyReport Verify(const std::string& bundle) {
    auto r = VerifyBundle(bundle, options_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }
  // log.json parsed, edited by `edit`, written back (canonical).
  void EditLogJson(const std::string& bundle, const std::function<void(boost::json::object&)>& edit) {
    boost::json::object o =
        boost::json::parse(testing::ReadFileOrDie(bundle + "/log.json")).as_object();
    edit(o);
    ASSERT_OK_AND_ASSIGN(std::string text, schema::CanonicalJson(o));
    testing::WriteFileOrDie(bundle + "/log.json", text + "\n");
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  VerifyOptions options_;
};

TEST_F(PartialBundleTest, BundleFromAnySeqVerifies) {
  for (uint64_t from : {1u, 4u, 20u, 23u, 28u, 49u}) {
    const std::string bundle = Export(from);
    EXPECT_EQ(ReadLines(bundle + "/entries.ndjson").size(), 50 - from);
    VerifyReport r = Verify(bundle);
    ASSERT_TRUE(r.ok) << from << ": " << r.Summary();
    EXPECT_EQ(r.first_seq, from);
    EXPECT_EQ(r.entries, 50 - from);
    EXPECT_EQ(r.root, ledger_->LatestRoot());
    EXPECT_EQ(r.prior_policies, from > 3 ? 1u : 0u) << from;
    EXPECT_EQ(r.alerts, (from <= 27 ? 1u : 0u) + (from <= 45 ? 1u : 0u)) << from;
    // The checkpoints of sizes from `from` on (20 when the bundle starts there).
    uint64_t checkpoints = 0;
    for (uint64_t size = 10; size <= 50; size += 10) checkpoints += size >= from ? 1 : 0;
    EXPECT_EQ(r.checkpoints, checkpoints) << from;
    EXPECT_NE(r.Summary().find("(seq " + std::to_string(from) + "..49)"), std::string::npos)
        << r.Summary();
  }
}

TEST_F(PartialBundleTest, WholeBundleHasNoPrefixMembers) {
  const std::string bundle = Export(0);
  const auto log = boost::json::parse(testing::ReadFileOrDie(bundle + "/log.json")).as_object();
  EXPECT_FALSE(log.contains("first_seq"));
  EXPECT_FALSE(fs::exists(bundle + "/prior-policies.ndjson"));
  EXPECT_TRUE(Verify(bundle).ok);
}

TEST_F(PartialBundleTest, ForgedPrefixHashFailsAtTheFirstCheckpoint) {
  const std::string bundle = Export(23);  // 23 = 16 + 4 + 2 + 1: four prefix hashes
  for (size_t k = 0; k < 4; ++k) {
    const std::string copy = dir_.File("forged-" + std::to_string(k));
    fs::copy(bundle, copy, fs::copy_options::recursive);
    EditLogJson(copy, [&](boost::json::object& o) {
      auto& prefix = o["prefix"].as_array();
      ASSERT_EQ(prefix.size(), 4u);
      std::string h(prefix[k].as_string());
      h[3] = h[3] == 'A' ? 'B' : 'A';
      prefix[k] = h;
    });
    VerifyReport r = Verify(copy);
    EXPECT_FALSE(r.ok) << k;
    EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(30)) << r.Summary();
  }
  EditLogJson(bundle, [](boost::json::object& o) { o["prefix"].as_array().pop_back(); });
  VerifyReport r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("compact range of 23 leaves has 4 hashes, not 3"), std::string::npos)
      << r.Summary();
}

TEST_F(PartialBundleTest, PriorPolicyMustBeProvenInTheLog) {
  const std::string bundle = Export(20);
  // A policy entry made up for the bundle: canonical, but not the log's.
  const std::string policies = bundle + "/prior-policies.ndjson";
  std::string text = testing::ReadFileOrDie(policies);
  const size_t at = text.find("2026-05-04T09:");
  ASSERT_NE(at, std::string::npos) << text;
  text[at + 15] = text[at + 15] == '1' ? '2' : '1';
  testing::WriteFileOrDie(policies, text);
  VerifyReport r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 3u) << r.Summary();
  EXPECT_NE(r.reason.find("inclusion proof"), std::string::npos) << r.reason;

  // Without the prior policy, the access entry at 27 names an unknown one.
  testing::WriteFileOrDie(policies, "");
  EditLogJson(bundle, [](boost::json::object& o) { o["prior_policies"] = boost::json::array(); });
  r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 27u) << r.Summary();

  // A note entry offered as a policy.
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(std::string_view note, view.Entry(5));
  testing::WriteFileOrDie(policies, std::string(note) + "\n");
  EditLogJson(bundle, [](boost::json::object& o) {
    boost::json::object p;
    p["seq"] = 5;
    p["proof"] = boost::json::array();
    o["prior_policies"] = boost::json::array{p};
  });
  r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 5u) << r.Summary();
  EXPECT_NE(r.reason.find("not a policy entry"), std::string::npos) << r.reason;
}

TEST_F(PartialBundleTest, SeqAndChainAreCheckedFromTheFirstSeq) {
  const std::string bundle = Export(23);
  std::vector<std::string> lines = ReadLines(bundle + "/entries.ndjson");
  std::vector<std::string> removed(lines.begin() + 1, lines.end());
  WriteLines(bundle + "/entries.ndjson", removed);
  VerifyReport r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 23u) << r.Summary();
  EXPECT_NE(r.reason.find("line 1 holds seq 24, expected 23"), std::string::npos) << r.reason;

  std::swap(lines[4], lines[5]);  // seq 27 and 28
  WriteLines(bundle + "/entries.ndjson", lines);
  r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 27u) << r.Summary();
}

TEST_F(PartialBundleTest, TrustedCheckpointAtOrAfterTheFirstSeq) {
  const std::string bundle = Export(20);
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger_->Read());
  // The incremental audit: last time's checkpoint is where the bundle starts.
  ASSERT_OK_AND_ASSIGN(std::string_view at20, view.CheckpointAt(20));
  options_.trusted_checkpoint = std::string(at20);
  EXPECT_TRUE(Verify(bundle).ok);
  ASSERT_OK_AND_ASSIGN(std::string_view at40, view.CheckpointAt(40));
  options_.trusted_checkpoint = std::string(at40);
  EXPECT_TRUE(Verify(bundle).ok);

  // A fork's checkpoint at 20 (same key): the prefix does not match it.
  fs::create_directories(dir_.File("fork"));
  fs::copy_file(dir_.File("log/signing.key"), dir_.File("fork/signing.key"));
  fs::permissions(dir_.File("fork/signing.key"), fs::perms::owner_read | fs::perms::owner_write);
  auto fork = testutil::OpenLedgerOrDie(dir_.File("fork"));
  ASSERT_OK(fork->AppendBatch(NoteBatch(1000, 20)));
  options_.trusted_checkpoint = fork->LatestCheckpoint();
  VerifyReport r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "trusted") << r.Summary();

  // Older than the bundle: cannot be checked, a usage error.
  ASSERT_OK_AND_ASSIGN(std::string_view at10, view.CheckpointAt(10));
  options_.trusted_checkpoint = std::string(at10);
  auto older = VerifyBundle(bundle, options_);
  ASSERT_FALSE(older.ok());
  EXPECT_TRUE(older.status().IsInvalidArgument()) << older.status().ToString();
  EXPECT_NE(older.status().message().find("--from 10"), std::string::npos)
      << older.status().ToString();
}

TEST_F(PartialBundleTest, CheckpointBeforeTheFirstSeqFails) {
  const std::string bundle = Export(23);
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(std::string_view at20, view.CheckpointAt(20));
  testing::WriteFileOrDie(bundle + "/checkpoints/" + CheckpointFileName(20), std::string(at20));
  VerifyReport r = Verify(bundle);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(20)) << r.Summary();
}

TEST_F(PartialBundleTest, MalformedLogJsonIsAnInputError) {
  const std::string bundle = Export(20);
  EditLogJson(bundle, [](boost::json::object& o) { o["first_seq"] = "twenty"; });
  auto r = VerifyBundle(bundle, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"first_seq\" must be a non-negative integer"),
            std::string::npos)
      << r.status().ToString();
}

// A log built in memory, without the store: fast enough for the hundred
// thousand entries it takes to cross the verifier's work units (blocks of
// about 1 MiB of entries.ndjson, chunks of 4096 entries) many times.
struct MemoryLog {
  std::vector<std::string> entries;
  std::vector<NamedCheckpoint> checkpoints;
  VerifierKey key;

  std::vector<std::string_view> views() const { return {entries.begin(), entries.end()}; }
  std::string Text() const {
    std::string text;
    for (const auto& e : entries) text += e + "\n";
    return text;
  }
  void WriteBundle(const std::string& dir) const { WriteBundle(dir, Text()); }
  void WriteBundle(const std::string& dir, const std::string& text) const {
    fs::remove_all(dir);
    fs::create_directories(fs::path(dir) / "checkpoints");
    testing::WriteFileOrDie(fs::path(dir) / "entries.ndjson", text);
    for (const auto& cp : checkpoints) testing::WriteFileOrDie(fs::path(dir) / cp.name, cp.note);
  }
};

// Entries for `pending` with a correct chain, and checkpoints signed at
// every multiple of `every` and at the end.
MemoryLog MakeLog(const std::vector<PendingEntry>& pending, uint64_t every) {
  auto key = SigningKey::Generate("test.example/log");
  EXPECT_TRUE(key.ok());
  MemoryLog log;
  log.key = key->verifier();
  MemoryTree tree;
  Hash prev = EmptyRoot();
  for (uint64_t i = 0; i < pending.size(); ++i) {
    std::string bytes;
    EncodeEntry(i, prev, pending[i], &bytes);
    prev = LeafHash(bytes);
    tree.AppendLeaf(prev);
    log.entries.push_back(std::move(bytes));
    if ((i + 1) % every == 0 || i + 1 == pending.size()) {
      Checkpoint cp{"test.example/log", i + 1, tree.Root(), {}};
      auto note = SignCheckpoint(cp, *key);
      EXPECT_TRUE(note.ok());
      log.checkpoints.push_back({"checkpoints/" + CheckpointFileName(i + 1), *note});
    }
  }
  return log;
}

MemoryLog MakeNoteLog(uint64_t n, size_t pad, uint64_t every) {
  return MakeLog(NoteBatch(0, n, pad), every);
}

VerifyReport VerifyLog(const MemoryLog& log, unsigned threads = 0) {
  VerifyOptions options;
  options.key = log.key;
  options.threads = threads;
  const auto views = log.views();
  auto r = VerifyEntries(views, log.checkpoints, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : VerifyReport{};
}

VerifyReport VerifyDir(const std::string& dir, const VerifierKey& key, unsigned threads = 0) {
  VerifyOptions options;
  options.key = key;
  options.threads = threads;
  auto r = VerifyBundle(dir, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : VerifyReport{};
}

// The indexes of the first entries of the bundle's 1 MiB blocks (where the
// verifier cuts entries.ndjson), and of the entries either side.
std::set<uint64_t> AroundBlockStarts(const MemoryLog& log) {
  std::set<uint64_t> out;
  uint64_t offset = 0, next_cut = uint64_t{1} << 20;
  for (uint64_t i = 0; i < log.entries.size(); ++i) {
    offset += log.entries[i].size() + 1;
    if (offset >= next_cut) {  // entry i holds byte next_cut - 1: it ends a block
      for (uint64_t j : {i, i + 1, i + 2}) {
        if (j < log.entries.size()) out.insert(j);
      }
      next_cut = offset + (uint64_t{1} << 20);
    }
  }
  return out;
}

TEST(VerifierWorkUnits, LargeLogVerifiesAlikeOnAnyThreadCount) {
  testing::ScopedTempDir dir;
  const MemoryLog log = MakeNoteLog(12000, 300, 1000);
  log.WriteBundle(dir.File("b"));
  ASSERT_GE(AroundBlockStarts(log).size(), 9u);  // at least three block boundaries
  for (unsigned threads : {1u, 2u, 3u}) {
    for (const VerifyReport& r :
         {VerifyLog(log, threads), VerifyDir(dir.File("b"), log.key, threads)}) {
      ASSERT_TRUE(r.ok) << r.Summary();
      EXPECT_EQ(r.entries, 12000u);
      EXPECT_EQ(r.checkpoints, 12u);
      EXPECT_EQ(r.kinds.at("note"), 12000u);
      EXPECT_EQ(r.first_time, "2026-05-04T09:00:00.000000Z");
      EXPECT_EQ(r.last_time, "2026-05-04T09:00:00.011999Z");
      MemoryTree tree;
      for (const auto& e : log.entries) tree.AppendLeaf(LeafHash(e));
      EXPECT_EQ(r.root, tree.Root());
    }
  }
}

TEST(VerifierWorkUnits, TamperingAtBlockAndChunkBoundariesNamesTheSeq) {
  testing::ScopedTempDir dir;
  const MemoryLog log = MakeNoteLog(9000, 200, 1000);
  std::set<uint64_t> targets = AroundBlockStarts(log);
  for (uint64_t i : {0u, 1u, 4095u, 4096u, 8191u, 8192u, 8998u}) targets.insert(i);
  for (uint64_t i : targets) {
    SCOPED_TRACE("entry " + std::to_string(i));
    // Each tampering, with the seq it must be reported at.
    std::vector<std::pair<std::vector<std::string>, uint64_t>> cases;
    auto flipped = log.entries;
    flipped[i][flipped[i].find("xxxx") + 1] = 'y';  // still canonical: entry i+1's prev fails
    cases.emplace_back(flipped, i);
    auto broken = log.entries;
    broken[i][0] = '[';
    cases.emplace_back(broken, i);
    auto deleted = log.entries;
    deleted.erase(deleted.begin() + static_cast<ptrdiff_t>(i));
    cases.emplace_back(deleted, i);
    if (i + 1 < log.entries.size()) {
      auto swapped = log.entries;
      std::swap(swapped[i], swapped[i + 1]);
      cases.emplace_back(swapped, i);
    }
    for (auto& [entries, seq] : cases) {
      MemoryLog tampered = log;
      tampered.entries = entries;
      const VerifyReport from_entries = VerifyLog(tampered, 2);
      EXPECT_FALSE(from_entries.ok);
      EXPECT_EQ(from_entries.bad_seq, seq) << from_entries.Summary();
      tampered.WriteBundle(dir.File("b"));
      const VerifyReport from_bundle = VerifyDir(dir.File("b"), log.key, 2);
      EXPECT_EQ(from_bundle.Summary(), from_entries.Summary());
    }
  }
}

TEST(VerifierWorkUnits, EntriesBeyondTheNewestCheckpointFailFromEntriesToo) {
  // VerifyEntries is what VerifyDataDir runs: a data dir whose newest
  // checkpoint is short of its entries fails the same way.
  MemoryLog log = MakeNoteLog(9000, 0, 1000);
  log.checkpoints.resize(7);  // the newest now covers 7000
  const VerifyReport r = VerifyLog(log, 2);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.Summary(),
            "FAIL: seq 7000: entries 7000..8999 are not covered by any signed checkpoint (the "
            "newest covers 7000)");
}

TEST(VerifierWorkUnits, FirstFailureInLogOrderWinsWhateverFinishesFirst) {
  testing::ScopedTempDir dir;
  const MemoryLog log = MakeNoteLog(9000, 200, 1000);
  MemoryLog two = log;
  two.entries[8500][0] = '[';
  two.entries[500][0] = '[';
  for (unsigned threads : {1u, 2u, 4u}) {
    EXPECT_EQ(VerifyLog(two, threads).bad_seq, 500u);
    two.WriteBundle(dir.File("b"));
    EXPECT_EQ(VerifyDir(dir.File("b"), log.key, threads).bad_seq, 500u);
  }
}

TEST(VerifierWorkUnits, CheckpointAndEntryFailuresAreOrderedBySize) {
  // Checkpoints signed by another key holder over another log of the same
  // size: the first one is checked after entry 2999.
  const MemoryLog log = MakeNoteLog(9000, 200, 1000);
  const MemoryLog other = MakeNoteLog(9000, 201, 1000);
  MemoryLog forked = log;
  forked.key = other.key;
  forked.checkpoints = other.checkpoints;
  // Keep those from size 3000 on.
  forked.checkpoints.erase(forked.checkpoints.begin(), forked.checkpoints.begin() + 2);
  MemoryLog late = forked;
  late.entries[5000][0] = '[';
  VerifyReport r = VerifyLog(late, 2);
  EXPECT_EQ(r.bad_checkpoint, "checkpoints/" + CheckpointFileName(3000)) << r.Summary();
  EXPECT_EQ(r.bad_seq, 2999u);
  MemoryLog early = forked;
  early.entries[2000][0] = '[';
  r = VerifyLog(early, 2);
  EXPECT_EQ(r.bad_seq, 2000u) << r.Summary();
  EXPECT_FALSE(r.bad_checkpoint.has_value());
}

TEST(VerifierWorkUnits, PolicyPrecedenceAcrossChunks) {
  std::vector<PendingEntry> pending = NoteBatch(0, 9000, 16);
  pending[5000].kind = "policy";
  pending[5000].body =
      R"({"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","text":""})";
  for (size_t i : {6000u, 8999u}) {
    pending[i].kind = "access";
    pending[i].decision =
        R"({"hits":[{"rule":"r"},{"rule":"s"}],"policy_sha256":")" + std::string(64, 'A') + "\"}";
  }
  VerifyReport r = VerifyLog(MakeLog(pending, 1000), 2);
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_EQ(r.policies, 1u);
  EXPECT_EQ(r.alerts, 4u);
  pending[4000] = pending[6000];
  r = VerifyLog(MakeLog(pending, 1000), 2);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 4000u) << r.Summary();
  EXPECT_EQ(r.policies, 0u);
}

TEST(VerifierWorkUnits, ProgressIsReportedDuringThePassFromTheCallingThread) {
  testing::ScopedTempDir dir;
  const MemoryLog log = MakeNoteLog(140000, 0, 20000);
  log.WriteBundle(dir.File("b"));
  for (unsigned threads : {1u, 2u}) {
    for (bool bundle : {false, true}) {
      SCOPED_TRACE(std::to_string(threads) + (bundle ? " bundle" : " entries"));
      std::vector<std::pair<uint64_t, uint64_t>> calls;
      bool other_thread = false;
      const auto caller = std::this_thread::get_id();
      VerifyOptions options;
      options.key = log.key;
      options.threads = threads;
      options.progress = [&](uint64_t done, uint64_t total) {
        other_thread |= std::this_thread::get_id() != caller;
        calls.emplace_back(done, total);
      };
      const auto views = log.views();
      auto r = bundle ? VerifyBundle(dir.File("b"), options)
                      : VerifyEntries(views, log.checkpoints, options);
      ASSERT_OK(r);
      ASSERT_TRUE(r->ok) << r->Summary();
      EXPECT_FALSE(other_thread);
      ASSERT_FALSE(calls.empty());
      EXPECT_EQ(calls.back(), std::make_pair(uint64_t{140000}, uint64_t{140000}));
      for (size_t k = 0; k + 1 < calls.size(); ++k) {
        EXPECT_LT(calls[k].first, calls[k].second);
        EXPECT_LE(calls[k].first, calls[k + 1].first);
        if (!bundle) {
          EXPECT_EQ(calls[k].second, 140000u);
        }
      }
      // One thread does every task, so it reports at each 65536 entries.
      if (threads == 1) {
        EXPECT_GE(calls.size(), 3u);
      }
    }
  }
}

// A random, mostly JSON-like body: the verifier's scanner must accept it
// exactly when it is a canonical JSON object (ParseJson, CanonicalJson).
std::string RandomBody(std::mt19937& rng) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto string_text = [&]() {
    static const char* kPieces[] = {
        "a", "xyz", "0123456789abcdef", "\\\"", "\\\\", "\\n", "\\t", "\\u001f", "\\u0000",
        "\\u000a", "\\u0041", "\\u001F", "\\/", "\\x", "\xc3\xa9", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "\xff", "\x80", "\xe2\x82", "\x01", "\x7f", " ", "\x1f"};
    std::string s = "\"";
    const size_t parts = pick(6);
    for (size_t k = 0; k < parts; ++k) {
      if (pick(3) == 0) s += std::string(pick(40), 'p');  // runs across 8/16-byte steps
      s += kPieces[pick(std::size(kPieces))];
    }
    return s + "\"";
  };
  std::function<std::string(int)> value, object;
  value = [&](int depth) -> std::string {
    switch (pick(depth > 2 ? 5 : 7)) {
      case 0: return string_text();
      case 1: {
        static const char* kNumbers[] = {
            "0",   "7",   "-3", "-0", "01", "1.5", "1e3", "9007199254740991", "9007199254740992",
            "-9007199254740991", "12345678"};
        return kNumbers[pick(std::size(kNumbers))];
      }
      case 2: {
        static const char* kWords[] = {"true", "false", "null", "tru", "nul"};
        return kWords[pick(std::size(kWords))];
      }
      case 3: return string_text();
      case 4: return "\"" + std::string(pick(70), 'q') + "\"";
      case 5: {
        std::string a = "[";
        const size_t n = pick(4);
        for (size_t k = 0; k < n; ++k) a += (k ? "," : "") + value(depth + 1);
        if (pick(12) == 0) a += ",";
        return a + "]";
      }
      default: return object(depth);
    }
  };
  object = [&](int depth) -> std::string {
    static const char* kKeys[] = {"a", "b", "ab", "B", "aa", "\xef\xbd\xa1", "\xf0\x9f\x98\x80",
                                  "\xc3\xa9", "a\\\"b", "a\\\\", "\\u0001", "k"};
    std::vector<std::string> keys;
    const size_t n = pick(5);
    for (size_t k = 0; k < n; ++k) keys.push_back(kKeys[pick(std::size(kKeys))]);
    if (pick(3) != 0) {  // mostly in canonical order, to get past the keys
      auto decoded = [](const std::string& k) {
        auto v = schema::ParseJson("\"" + k + "\"");
        return v.ok() ? std::string(v->as_string()) : k;
      };
      std::sort(keys.begin(), keys.end(), [&](const std::string& x, const std::string& y) {
        return schema::JsonKeyLess(decoded(x), decoded(y));
      });
    }
    std::string o = "{";
    for (size_t k = 0; k < keys.size(); ++k) {
      o += (k ? "," : "") + ("\"" + keys[k] + "\":") + value(depth + 1);
    }
    if (pick(15) == 0) o.insert(1, " ");
    return o + "}";
  };
  return object(0);
}

bool IsCanonicalObject(const std::string& body) {
  auto parsed = schema::ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) return false;
  auto canon = schema::CanonicalJson(*parsed);
  return canon.ok() && *canon == body;
}

TEST(VerifierWorkUnits, ScanAcceptsExactlyTheCanonicalBodies) {
  testing::ScopedTempDir dir;
  std::mt19937 rng(20260504);
  int canonical = 0, rejected = 0;
  for (int round = 0; round < 1500; ++round) {
    std::vector<PendingEntry> pending = NoteBatch(0, 2, 16);
    pending[0].body = RandomBody(rng);
    const MemoryLog log = MakeLog(pending, 2);
    const bool want = IsCanonicalObject(pending[0].body);
    (want ? canonical : rejected)++;
    const VerifyReport r = VerifyLog(log, 1);
    EXPECT_EQ(r.ok, want) << pending[0].body << "\n" << r.Summary();
    if (!want) {
      EXPECT_EQ(r.bad_seq, 0u) << r.Summary();
    }
    if (round % 5 == 0) {  // the bundle path scans the entry in the rest of the file
      log.WriteBundle(dir.File("b"));
      EXPECT_EQ(VerifyDir(dir.File("b"), log.key, 1).Summary(), r.Summary()) << pending[0].body;
    }
  }
  // The generator reaches both sides.
  EXPECT_GT(canonical, 200);
  EXPECT_GT(rejected, 200);
}


TEST(VerifierWorkUnits, LineBreaksOnlyBetweenWholeEntries) {
  testing::ScopedTempDir dir;
  const MemoryLog log = MakeNoteLog(6000, 200, 1000);
  for (uint64_t i : {0u, 2999u, 5999u}) {
    SCOPED_TRACE("entry " + std::to_string(i));
    for (const std::string& tail : {std::string("x"), std::string(" "), std::string("{}")}) {
      MemoryLog tampered = log;
      tampered.entries[i] += tail;  // bytes after a canonical entry on its line
      const VerifyReport r = VerifyLog(tampered, 2);
      EXPECT_EQ(r.bad_seq, i) << r.Summary();
      EXPECT_NE(r.reason.find("trailing bytes"), std::string::npos) << r.reason;
      tampered.WriteBundle(dir.File("b"));
      EXPECT_EQ(VerifyDir(dir.File("b"), log.key, 2).Summary(), r.Summary());
    }
    // A raw newline inside an entry cuts it into two bad lines.
    std::string text = log.Text();
    size_t at = 0;
    for (uint64_t k = 0; k < i; ++k) at += log.entries[k].size() + 1;
    text[text.find("xxxx", at) + 2] = '\n';
    MemoryLog cut = log;
    cut.WriteBundle(dir.File("b"), text);
    const VerifyReport r = VerifyDir(dir.File("b"), log.key, 2);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_seq, i) << r.Summary();
  }
}

}  // namespace
}  // namespace custody::ledger
