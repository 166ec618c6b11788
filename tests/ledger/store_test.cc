#include "custody/ledger/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/merkle.h"
#include "custody/ledger/verifier.h"
#include "custody/schema/json_canon.h"
#include "ledger/ledger_test_util.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::ledger {
namespace {

using testutil::NoteBatch;
using testutil::OpenLedgerOrDie;

TEST(Ledger, CreatesKeyWithMode0600AndEmptyLog) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  EXPECT_EQ(ledger->size(), 0u);
  EXPECT_EQ(ledger->LatestRoot(), EmptyRoot());
  EXPECT_EQ(ledger->origin(), "test.example/log");
  struct stat st;
  ASSERT_EQ(::stat(dir.File("log/signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ledger->verifier_key().name, "test.example/log");
}

TEST(Ledger, AppendBatchAssignsSeqsAndSignsCheckpoint) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  ASSERT_OK_AND_ASSIGN(CommitInfo a, ledger->AppendBatch(NoteBatch(0, 3)));
  EXPECT_EQ(a.first_seq, 0u);
  EXPECT_EQ(a.size, 3u);
  ASSERT_OK_AND_ASSIGN(CommitInfo b, ledger->AppendBatch(NoteBatch(3, 2)));
  EXPECT_EQ(b.first_seq, 3u);
  EXPECT_EQ(b.size, 5u);
  ASSERT_OK_AND_ASSIGN(Checkpoint cp, OpenCheckpoint(b.checkpoint, ledger->verifier_key(),
                                                     std::string_view("test.example/log")));
  EXPECT_EQ(cp.size, 5u);
  EXPECT_EQ(cp.root, b.root);
  EXPECT_EQ(ledger->LatestCheckpoint(), b.checkpoint);

  // The stored entries form the hash chain and the tree the checkpoint signs.
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
  ASSERT_EQ(view.size(), 5u);
  MemoryTree tree;
  Hash prev = EmptyRoot();
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(i));
    ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(bytes));
    EXPECT_EQ(d.seq, i);
    EXPECT_EQ(d.prev, prev);
    prev = LeafHash(bytes);
    tree.AppendLeaf(prev);
  }
  EXPECT_EQ(tree.Root(), cp.root);
  ASSERT_OK_AND_ASSIGN(std::string_view note3, view.CheckpointAt(3));
  EXPECT_EQ(note3, a.checkpoint);
}

// The appender compares a retried event with the one recorded: a write
// transaction reads committed entries and its own.
TEST(Ledger, WriteTxnReadsCommittedAndItsOwnEntries) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  ASSERT_OK(ledger->AppendBatch(NoteBatch(0, 2)));
  std::string committed;
  {
    ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
    ASSERT_OK_AND_ASSIGN(std::string_view e1, view.Entry(1));
    committed = std::string(e1);
  }
  auto r = ledger->Write([&](WriteTxn& txn) -> Status {
    CUSTODY_ASSIGN_OR_RETURN(std::string_view e1, txn.Entry(1));
    EXPECT_EQ(e1, committed);
    CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append({"note", "t", {}, "{\"n\":2}", ""}));
    const std::string appended(txn.last_entry());
    CUSTODY_ASSIGN_OR_RETURN(std::string_view e2, txn.Entry(seq));
    EXPECT_EQ(e2, appended);
    EXPECT_TRUE(txn.Entry(3).status().IsNotFound());
    return Status::Ok();
  });
  ASSERT_OK(r.status());
}

TEST(Ledger, ProofsFromStoreVerifyAtEverySize) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  std::vector<Hash> roots = {EmptyRoot()};
  for (uint64_t i = 0; i < 70; i += 7) {
    ASSERT_OK_AND_ASSIGN(CommitInfo c, ledger->AppendBatch(NoteBatch(i, 7)));
    (void)c;
  }
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < view.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(i));
    leaves.push_back(LeafHash(bytes));
  }
  for (uint64_t size = 1; size <= view.size(); ++size) {
    ASSERT_OK_AND_ASSIGN(Hash root, view.RootAt(size));
    for (uint64_t i = 0; i < size; ++i) {
      ASSERT_OK_AND_ASSIGN(auto proof, view.InclusionProof(i, size));
      EXPECT_OK(VerifyInclusion(i, size, leaves[i], proof, root));
    }
    for (uint64_t from = 1; from <= size; ++from) {
      ASSERT_OK_AND_ASSIGN(Hash from_root, view.RootAt(from));
      ASSERT_OK_AND_ASSIGN(auto proof, view.ConsistencyProof(from, size));
      EXPECT_OK(VerifyConsistency(from, size, from_root, root, proof));
    }
  }
  EXPECT_FALSE(view.InclusionProof(0, view.size() + 1).ok());
  EXPECT_TRUE(view.Entry(view.size()).status().IsNotFound());
}

TEST(Ledger, ReopenKeepsChainHeadAndContinues) {
  testing::ScopedTempDir dir;
  Hash root;
  std::string checkpoint;
  {
    auto ledger = OpenLedgerOrDie(dir.File("log"));
    ASSERT_OK(ledger->AppendBatch(NoteBatch(0, 10)));
    root = ledger->LatestRoot();
    checkpoint = ledger->LatestCheckpoint();
  }
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  EXPECT_EQ(ledger->size(), 10u);
  EXPECT_EQ(ledger->LatestRoot(), root);
  EXPECT_EQ(ledger->LatestCheckpoint(), checkpoint);
  ASSERT_OK_AND_ASSIGN(CommitInfo c, ledger->AppendBatch(NoteBatch(10, 1)));
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
  ASSERT_OK_AND_ASSIGN(std::string_view e9, view.Entry(9));
  ASSERT_OK_AND_ASSIGN(std::string_view e10, view.Entry(10));
  ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(e10));
  EXPECT_EQ(d.prev, LeafHash(e9));
  EXPECT_EQ(c.size, 11u);
}

TEST(Ledger, RefusesOtherOriginAndForeignKey) {
  testing::ScopedTempDir dir;
  { auto ledger = OpenLedgerOrDie(dir.File("log")); }
  LedgerOptions o;
  o.dir = dir.File("log");
  o.origin = "other.example/log";
  EXPECT_TRUE(Ledger::Open(o).status().IsInvalidArgument());

  // Replace the key file with a different key of the same name.
  std::filesystem::remove(dir.File("log/signing.key"));
  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate("test.example/log"));
  ASSERT_OK(other.Save(dir.File("log/signing.key")));
  o.origin = "";
  auto reopened = Ledger::Open(o);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), schema::Code::kPermissionDenied)
      << reopened.status().ToString();
}

TEST(Ledger, FailedWorkLeavesLedgerUnchanged) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  ASSERT_OK_AND_ASSIGN(Table side, ledger->OpenTable("side"));
  ASSERT_OK(ledger->AppendBatch(NoteBatch(0, 2)));
  const Hash before = ledger->LatestRoot();
  auto r = ledger->Write([&](WriteTxn& txn) -> Status {
    CUSTODY_RETURN_IF_ERROR(txn.Append(testutil::NoteEntry(2)).status());
    CUSTODY_RETURN_IF_ERROR(txn.Put(side, "k", "v"));
    return Status::InvalidArgument("caller changed its mind");
  });
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_EQ(ledger->size(), 2u);
  EXPECT_EQ(ledger->LatestRoot(), before);
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
  EXPECT_EQ(view.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto got, view.Get(side, "k"));
  EXPECT_FALSE(got.has_value());
}

TEST(Ledger, CallerTablesCommitAtomicallyWithEntries) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  ASSERT_OK_AND_ASSIGN(Table index, ledger->OpenTable("index"));
  ASSERT_OK(ledger->Write([&](WriteTxn& txn) -> Status {
    CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append(testutil::NoteEntry(0)));
    return txn.Put(index, "subject-a", std::to_string(seq));
  }));
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
  ASSERT_OK_AND_ASSIGN(auto got, view.Get(index, "subject-a"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "0");
  ASSERT_OK_AND_ASSIGN(Cursor c, view.NewCursor(index));
  ASSERT_OK_AND_ASSIGN(bool found, c.Seek("subject"));
  EXPECT_TRUE(found);
  EXPECT_EQ(c.key(), "subject-a");
  EXPECT_TRUE(ledger->OpenTable("entries").status().IsInvalidArgument());
}

TEST(Ledger, ConcurrentWritersKeepOneConsistentLog) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"));
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ASSERT_OK(ledger->AppendBatch(NoteBatch(t * 1000 + i * 3, 3)));
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(ledger->size(), 300u);
  ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
  MemoryTree tree;
  Hash prev = EmptyRoot();
  for (uint64_t i = 0; i < view.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(i));
    ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(bytes));
    ASSERT_EQ(d.prev, prev) << "seq " << i;
    prev = LeafHash(bytes);
    tree.AppendLeaf(prev);
  }
  EXPECT_EQ(tree.Root(), ledger->LatestRoot());
}

TEST(Ledger, MapGrowsWhenFull) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"), /*initial_map=*/1 << 20, /*max_map=*/64 << 20);
  const uint64_t initial = ledger->map_size();
  for (uint64_t i = 0; i < 40; ++i) {
    ASSERT_OK(ledger->AppendBatch(NoteBatch(i * 100, 100, 500)));
  }
  EXPECT_GT(ledger->map_size(), initial);
  EXPECT_EQ(ledger->size(), 4000u);
}

uint64_t DataFileSize(const std::string& dir) {
  return std::filesystem::file_size(std::filesystem::path(dir) / "data.mdb");
}

LedgerOptions PreallocatingOptions(const std::string& dir, uint64_t preallocate_max) {
  LedgerOptions o;
  o.dir = dir;
  o.origin = "test.example/log";
  o.preallocate_max = preallocate_max;
  return o;
}

TEST(Ledger, PreallocatedSlackKeepsSmallCommitsFromGrowingTheFile) {
  testing::ScopedTempDir dir;
  const LedgerOptions o = PreallocatingOptions(dir.File("log"), 8 << 20);
  ASSERT_OK_AND_ASSIGN(auto ledger, Ledger::Open(o));
  ASSERT_OK(ledger->AppendBatch(NoteBatch(0, 10)));
  // The ledger's filler thread writes at least 1 MiB of slack past a few
  // pages, soon after the commit.
  for (int i = 0; i < 500 && DataFileSize(o.dir) < (1u << 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The step is written 64 KiB at a time: wait until it is all there.
  for (uint64_t last = 0; DataFileSize(o.dir) != last;) {
    last = DataFileSize(o.dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const uint64_t after_first = DataFileSize(o.dir);
  EXPECT_GE(after_first, 1u << 20);
  for (uint64_t i = 1; i < 20; ++i) ASSERT_OK(ledger->AppendBatch(NoteBatch(i * 10, 10)));
  EXPECT_EQ(DataFileSize(o.dir), after_first) << "commits grew the file despite the slack";
  const std::string checkpoint = ledger->LatestCheckpoint();
  ledger.reset();

  // The zeros are free space to LMDB: the log reopens, continues and verifies.
  auto reopened = OpenLedgerOrDie(o.dir);
  EXPECT_EQ(reopened->size(), 200u);
  EXPECT_EQ(reopened->LatestCheckpoint(), checkpoint);
  ASSERT_OK(reopened->AppendBatch(NoteBatch(200, 10)));
  const VerifierKey key = reopened->verifier_key();
  reopened.reset();
  VerifyOptions vo;
  vo.key = key;
  ASSERT_OK_AND_ASSIGN(VerifyReport r, VerifyDataDir(o.dir, vo));
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_EQ(r.entries, 210u);
}

TEST(Ledger, PreallocationStaysWithinTheMap) {
  testing::ScopedTempDir dir;
  LedgerOptions o = PreallocatingOptions(dir.File("log"), 64 << 20);
  o.initial_map_size = 1 << 20;
  o.max_map_size = 64 << 20;
  ASSERT_OK_AND_ASSIGN(auto ledger, Ledger::Open(o));
  for (uint64_t i = 0; i < 40; ++i) {
    ASSERT_OK(ledger->AppendBatch(NoteBatch(i * 100, 100, 500)));
    EXPECT_LE(DataFileSize(o.dir), ledger->map_size()) << "after batch " << i;
  }
  EXPECT_EQ(ledger->size(), 4000u);
}

TEST(Ledger, FullMapAtMaxIsUnavailableAndLosesNothing) {
  testing::ScopedTempDir dir;
  auto ledger = OpenLedgerOrDie(dir.File("log"), 1 << 20, 2 << 20);
  uint64_t acked = 0;
  Status last;
  for (int round = 0; round < 200; ++round) {
    auto r = ledger->AppendBatch(NoteBatch(acked, 50, 500));
    if (!r.ok()) {
      last = r.status();
      break;
    }
    acked = r->size;
  }
  ASSERT_TRUE(last.IsUnavailable()) << last.ToString();
  EXPECT_NE(last.message().find("max_map_size"), std::string::npos) << last.message();
  EXPECT_EQ(ledger->size(), acked);
  const std::string checkpoint = ledger->LatestCheckpoint();
  ledger.reset();
  auto reopened = OpenLedgerOrDie(dir.File("log"), 1 << 20, 2 << 20);
  EXPECT_EQ(reopened->size(), acked);
  EXPECT_EQ(reopened->LatestCheckpoint(), checkpoint);
}

TEST(Ledger, ReadOnlyOpenWritesNothing) {
  testing::ScopedTempDir dir;
  {
    auto ledger = OpenLedgerOrDie(dir.File("log"));
    ASSERT_OK(ledger->AppendBatch(NoteBatch(0, 3)));
  }
  std::filesystem::remove(dir.File("log/lock.mdb"));
  LedgerOptions o;
  o.dir = dir.File("log");
  o.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto ledger, Ledger::Open(o));
  EXPECT_EQ(ledger->size(), 3u);
  EXPECT_FALSE(ledger->AppendBatch(NoteBatch(3, 1)).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.File("log/lock.mdb")));
}

// 5 entries: the last leaf is on the frontier and is hashed from its entry
// on open. 8 entries: the frontier is one stored node, checked against the
// entries under its lowest stored descendant.
class TamperedTail : public ::testing::TestWithParam<int> {};

TEST_P(TamperedTail, OpenRejectsIt) {
  const int count = GetParam();
  testing::ScopedTempDir dir;
  {
    auto ledger = OpenLedgerOrDie(dir.File("log"));
    ASSERT_OK(ledger->AppendBatch(NoteBatch(0, count)));
  }
  // Flip a byte of the last entry's body in the data file.
  const std::string path = dir.File("log/data.mdb");
  std::string data = testing::ReadFileOrDie(path);
  const std::string needle = "{\"i\":" + std::to_string(count - 1) + ",";
  size_t copies = 0;  // LMDB may hold stale copies of the page: alter all
  for (size_t at = data.find(needle); at != std::string::npos; at = data.find(needle, at + 1)) {
    data[at + 5] = '5';
    ++copies;
  }
  ASSERT_GT(copies, 0u);
  testing::WriteFileOrDie(path, data);
  LedgerOptions o;
  o.dir = dir.File("log");
  auto reopened = Ledger::Open(o);
  ASSERT_FALSE(reopened.ok());
  EXPECT_TRUE(reopened.status().IsCorruption()) << reopened.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Sizes, TamperedTail, ::testing::Values(5, 8));

// EncodeEntry writes hash, time and seq without temporaries; it must give
// exactly the bytes of the library formatters it replaces.
TEST(EncodeEntry, MatchesReferenceFormatters) {
  const int64_t times[] = {0,
                           1,
                           1777885200000000LL,
                           1777885200123456LL,
                           951782400999999LL,      // 2000-02-29
                           -1,                     // 1969-12-31T23:59:59.999999Z
                           -62135596800000000LL,   // 0001-01-01
                           -62167219200000000LL,   // 0000-01-01
                           253402300799999999LL,   // 9999-12-31T23:59:59.999999Z
                           253402300800000000LL,   // 10000-01-01: the fallback
                           -62167219200000001LL};  // year -1: the fallback
  const uint64_t seqs[] = {0, 9, 10, 1234567, 18446744073709551615ull};
  Hash prev;
  for (size_t i = 0; i < prev.size(); ++i) prev[i] = static_cast<uint8_t>(i * 37 + 250);
  for (int64_t t : times) {
    for (uint64_t seq : seqs) {
      PendingEntry e = testutil::NoteEntry(seq % 100);
      e.received_at = schema::FromUnixMicros(t);
      e.kind = "k\"q";
      std::string want = "{\"body\":" + e.body + ",\"kind\":";
      schema::AppendJsonString(e.kind, &want);
      want += ",\"prev\":\"" + HashToBase64(prev) + "\",\"producer\":";
      schema::AppendJsonString(e.producer, &want);
      want += ",\"received_at\":\"" + schema::FormatRfc3339Micros(e.received_at) +
              "\",\"seq\":" + std::to_string(seq) + ",\"v\":1}";
      std::string got;
      EncodeEntry(seq, prev, e, &got);
      EXPECT_EQ(got, want) << "t=" << t << " seq=" << seq;
    }
    prev[0] ^= static_cast<uint8_t>(t);
  }
}

// A data dir in format 1 (every node stored, leaves included) still opens,
// proves and grows, and keeps storing every node so that older binaries can
// read it.
TEST(Ledger, OpensAndExtendsFormat1DataDir) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("log");
  { ASSERT_OK(OpenLedgerOrDie(path)->AppendBatch(NoteBatch(0, 11))); }
  // Rewrite it as format 1: add the level 0 and 1 nodes and relabel it.
  auto raw_env = [&](auto&& fn) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 8), 0);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi entries, nodes, meta;
    ASSERT_EQ(mdb_dbi_open(txn, "entries", MDB_INTEGERKEY, &entries), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "nodes", MDB_INTEGERKEY, &nodes), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    fn(txn, entries, nodes, meta);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  };
  auto node_count = [&](MDB_txn* txn, MDB_dbi nodes) {
    MDB_stat st;
    EXPECT_EQ(mdb_stat(txn, nodes, &st), 0);
    return st.ms_entries;
  };
  raw_env([&](MDB_txn* txn, MDB_dbi entries, MDB_dbi nodes, MDB_dbi meta) {
    EXPECT_EQ(node_count(txn, nodes), 3u);  // (2, 0), (2, 1) and (3, 0): 11 leaves
    MemoryTree tree;
    for (size_t seq = 0; seq < 11; ++seq) {
      MDB_val k{sizeof seq, &seq}, v;
      ASSERT_EQ(mdb_get(txn, entries, &k, &v), 0);
      tree.AppendLeaf(LeafHash(std::string_view(static_cast<char*>(v.mv_data), v.mv_size)));
    }
    for (uint32_t level = 0; level < 2; ++level) {
      for (uint64_t index = 0; (index + 1) << level <= 11; ++index) {
        ASSERT_OK_AND_ASSIGN(Hash h, tree.GetNode(level, index));
        size_t key = NodeKey(level, index);
        MDB_val k{sizeof key, &key}, v{h.size(), h.data()};
        ASSERT_EQ(mdb_put(txn, nodes, &k, &v, 0), 0);
      }
    }
    std::string name = "format", value = "custody-ledger-1";
    MDB_val k{name.size(), name.data()}, v{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
  });
  {
    auto ledger = OpenLedgerOrDie(path);
    ASSERT_OK(ledger->AppendBatch(NoteBatch(11, 5)));
    ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
    const Hash root = ledger->LatestRoot();
    for (uint64_t i = 0; i < view.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(i));
      ASSERT_OK_AND_ASSIGN(auto proof, view.InclusionProof(i, view.size()));
      EXPECT_OK(VerifyInclusion(i, view.size(), LeafHash(bytes), proof, root));
    }
  }
  raw_env([&](MDB_txn* txn, MDB_dbi, MDB_dbi nodes, MDB_dbi) {
    EXPECT_EQ(node_count(txn, nodes), 2u * 16 - 1);  // 16 leaves: every node of a perfect tree
  });
}

// New ledgers store tree nodes from level 2 up only; proofs still verify
// (ProofsFromStoreVerifyAtEverySize) with the lower levels hashed from entries.
TEST(Ledger, NewLedgerStoresNodesFromLevel2) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("log");
  { ASSERT_OK(OpenLedgerOrDie(path)->AppendBatch(NoteBatch(0, 16))); }
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 8), 0);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_RDONLY, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
  MDB_dbi nodes;
  ASSERT_EQ(mdb_dbi_open(txn, "nodes", MDB_INTEGERKEY, &nodes), 0);
  MDB_stat st;
  ASSERT_EQ(mdb_stat(txn, nodes, &st), 0);
  EXPECT_EQ(st.ms_entries, 4u + 2 + 1);  // levels 2, 3 and 4 of a 16-leaf tree
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

}  // namespace
}  // namespace custody::ledger
