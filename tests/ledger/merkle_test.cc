#include "custody/ledger/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <boost/json.hpp>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "custody/schema/encoding.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::ledger {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// ---------------------------------------------------------------------------
// RFC 9162 §2.1 written as literally as possible over a vector of leaf
// hashes: the answers the NodeReader-based code must reproduce.

// MTH(D[n]) for n >= 1 (§2.1.1), k = the largest power of two smaller than n.
Hash Mth(std::span<const Hash> d) {
  if (d.size() == 1) return d[0];
  const size_t k = std::bit_floor(d.size() - 1);
  return NodeHash(Mth(d.first(k)), Mth(d.subspan(k)));
}

// PATH(m, D[n]) (§2.1.3.1).
void RfcPath(uint64_t m, std::span<const Hash> d, std::vector<Hash>& out) {
  if (d.size() == 1) return;
  const size_t k = std::bit_floor(d.size() - 1);
  if (m < k) {
    RfcPath(m, d.first(k), out);
    out.push_back(Mth(d.subspan(k)));
  } else {
    RfcPath(m - k, d.subspan(k), out);
    out.push_back(Mth(d.first(k)));
  }
}

// SUBPROOF(m, D[n], b) (§2.1.4.1); PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
void RfcSubproof(uint64_t m, std::span<const Hash> d, bool b, std::vector<Hash>& out) {
  if (m == d.size()) {
    if (!b) out.push_back(Mth(d));
    return;
  }
  const size_t k = std::bit_floor(d.size() - 1);
  if (m <= k) {
    RfcSubproof(m, d.first(k), b, out);
    out.push_back(Mth(d.subspan(k)));
  } else {
    RfcSubproof(m - k, d.subspan(k), false, out);
    out.push_back(Mth(d.first(k)));
  }
}

// ---------------------------------------------------------------------------
// Readers and trees.

// Counts the reads made through it, to check the O(log n) read bounds.
class CountingReader final : public NodeReader {
 public:
  explicit CountingReader(NodeReader& base) : base_(base) {}
  Result<Hash> GetNode(uint32_t level, uint64_t index) override {
    ++reads_;
    return base_.GetNode(level, index);
  }
  int reads() const { return reads_; }
  void Reset() { reads_ = 0; }

 private:
  NodeReader& base_;
  int reads_ = 0;
};

// Answers every node of an arbitrarily large tree with a hash derived from
// its position, without storing anything: enough to check proof shapes and
// read counts at sizes no test could build.
class SyntheticReader final : public NodeReader {
 public:
  Result<Hash> GetNode(uint32_t level, uint64_t index) override {
    ++reads_;
    return Sha256(std::to_string(level) + "/" + std::to_string(index));
  }
  int reads() const { return reads_; }
  void Reset() { reads_ = 0; }

 private:
  int reads_ = 0;
};

// A tree of random leaves with the root of every prefix, built once.
struct RandomTree {
  std::vector<Hash> leaves;
  MemoryTree tree;
  std::vector<Hash> roots;  // roots[n]: root of the first n leaves, from CompactRange
};

constexpr uint64_t kRandomTreeSize = 2000;
constexpr uint64_t kAllPairsUpTo = 64;  // every (index, size) / (m, n) pair up to here

RandomTree& SharedRandomTree() {
  static RandomTree* t = [] {
    auto* t = new RandomTree;
    std::mt19937_64 rng(0xC0570D1);
    t->roots.push_back(t->tree.Root());
    for (uint64_t i = 0; i < kRandomTreeSize; ++i) {
      const std::string entry = "entry " + std::to_string(rng());
      t->leaves.push_back(LeafHash(entry));
      t->tree.AppendLeaf(t->leaves.back());
      t->roots.push_back(t->tree.Root());
    }
    return t;
  }();
  return *t;
}

// The 8-leaf tree of transparency-dev/merkle's testonly/constants.go.
struct ReferenceTree {
  std::vector<Hash> leaves;
  std::vector<std::vector<Hash>> nodes;  // nodes[level][index]
  std::vector<Hash> roots;               // roots[n], n = 0..8
  MemoryTree tree;
};

Hash HexHash(std::string_view hex) {
  const auto bytes = schema::HexDecode(hex);
  EXPECT_TRUE(bytes.ok() && bytes->size() == kHashSize) << hex;
  Hash h{};
  if (bytes.ok()) std::copy_n(bytes->begin(), std::min(bytes->size(), kHashSize), h.begin());
  return h;
}

ReferenceTree& SharedReferenceTree() {
  static ReferenceTree* t = [] {
    auto* t = new ReferenceTree;
    const json::value doc =
        json::parse(testing::ReadFileOrDie(testing::VectorsDir() / "merkle-reference-tree.json"));
    for (const auto& leaf : doc.at("leaves_hex").as_array()) {
      const auto bytes = schema::HexDecode(leaf.as_string());
      EXPECT_TRUE(bytes.ok());
      t->leaves.push_back(LeafHash(*bytes));
      t->tree.AppendLeaf(t->leaves.back());
    }
    for (const auto& level : doc.at("node_hashes_hex_by_level").as_array()) {
      t->nodes.emplace_back();
      for (const auto& h : level.as_array()) t->nodes.back().push_back(HexHash(h.as_string()));
    }
    for (const auto& h : doc.at("root_hashes_hex_by_size").as_array()) {
      t->roots.push_back(HexHash(h.as_string()));
    }
    return t;
  }();
  return *t;
}

Hash FlipBit(Hash h, size_t bit) {
  h[(bit / 8) % kHashSize] ^= static_cast<uint8_t>(1u << (bit % 8));
  return h;
}

// ---------------------------------------------------------------------------
// NodeKey

TEST(NodeKey, FirstKeysFollowPostOrder) {
  // Leaves 0..4: 0 1 (1,0) 2 3 (1,1) (2,0) 4.
  EXPECT_EQ(NodeKey(0, 0), 0u);
  EXPECT_EQ(NodeKey(0, 1), 1u);
  EXPECT_EQ(NodeKey(1, 0), 2u);
  EXPECT_EQ(NodeKey(0, 2), 3u);
  EXPECT_EQ(NodeKey(0, 3), 4u);
  EXPECT_EQ(NodeKey(1, 1), 5u);
  EXPECT_EQ(NodeKey(2, 0), 6u);
  EXPECT_EQ(NodeKey(0, 4), 7u);
}

TEST(NodeKey, EqualsEmissionOrderWhileAppending) {
  CompactRange range;
  uint64_t emitted = 0;
  bool all_equal = true;
  for (uint64_t i = 0; i < 5000; ++i) {
    range.Append(LeafHash(std::to_string(i)), [&](uint32_t level, uint64_t index, const Hash&) {
      if (NodeKey(level, index) != emitted) {
        ADD_FAILURE() << "NodeKey(" << level << ", " << index << ") = " << NodeKey(level, index)
                      << ", emitted as node #" << emitted;
        all_equal = false;
      }
      ++emitted;
    });
    if (!all_equal) break;
  }
  // 2n - popcount(n) nodes exist once n leaves are in.
  EXPECT_EQ(emitted, 2 * 5000u - std::popcount(5000u));
}

// ---------------------------------------------------------------------------
// CompactRange

TEST(CompactRange, EmptyRangeHasEmptyRoot) {
  CompactRange range;
  EXPECT_EQ(range.size(), 0u);
  EXPECT_EQ(range.Root(), EmptyRoot());
  EXPECT_EQ(HashToHex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CompactRange, AppendReportsLeafThenCompletedAncestors) {
  CompactRange range;
  std::vector<std::pair<uint32_t, uint64_t>> seen;
  const auto record = [&](uint32_t level, uint64_t index, const Hash&) {
    seen.emplace_back(level, index);
  };
  for (int i = 0; i < 7; ++i) range.Append(LeafHash(std::to_string(i)), nullptr);
  range.Append(LeafHash("7"), record);
  const std::vector<std::pair<uint32_t, uint64_t>> want = {{0, 7}, {1, 3}, {2, 1}, {3, 0}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(range.hashes().size(), 1u);

  seen.clear();
  range.Append(LeafHash("8"), record);  // completes nothing
  EXPECT_EQ(seen, (std::vector<std::pair<uint32_t, uint64_t>>{{0, 8}}));
  EXPECT_EQ(range.hashes().size(), 2u);
}

TEST(CompactRange, FrontierIsThePerfectSubtreesLargestFirst) {
  RandomTree& t = SharedRandomTree();
  CompactRange range;
  for (uint64_t n = 1; n <= 300; ++n) {
    range.Append(t.leaves[n - 1], nullptr);
    ASSERT_EQ(range.hashes().size(), static_cast<size_t>(std::popcount(n))) << n;
    uint64_t begin = 0;
    size_t i = 0;
    for (int level = 63; level >= 0; --level) {
      if (((n >> level) & 1) == 0) continue;
      const uint64_t len = uint64_t{1} << level;
      EXPECT_EQ(range.hashes()[i++], Mth(std::span(t.leaves).subspan(begin, len)))
          << "size " << n << " level " << level;
      begin += len;
    }
  }
}

TEST(CompactRange, LoadAtEverySizeEqualsIncremental) {
  RandomTree& t = SharedRandomTree();
  CountingReader reader(t.tree);
  CompactRange incremental;
  for (uint64_t n = 0; n <= kRandomTreeSize; ++n) {
    reader.Reset();
    ASSERT_OK_AND_ASSIGN(CompactRange loaded, CompactRange::Load(n, reader));
    EXPECT_EQ(reader.reads(), std::popcount(n)) << n;
    ASSERT_EQ(loaded.size(), n);
    ASSERT_EQ(loaded.hashes(), incremental.hashes()) << "size " << n;
    ASSERT_EQ(loaded.Root(), t.roots[n]) << "size " << n;
    if (n < kRandomTreeSize) incremental.Append(t.leaves[n], nullptr);
  }
}

TEST(CompactRange, LoadedRangeKeepsAppending) {
  RandomTree& t = SharedRandomTree();
  ASSERT_OK_AND_ASSIGN(CompactRange range, CompactRange::Load(1000, t.tree));
  std::vector<std::pair<uint32_t, uint64_t>> seen;
  for (uint64_t i = 1000; i < 1024; ++i) {
    range.Append(t.leaves[i], [&](uint32_t level, uint64_t index, const Hash& hash) {
      seen.emplace_back(level, index);
      // Every node a loaded range reports is the one the tree stored.
      ASSERT_OK_AND_ASSIGN(const Hash stored, t.tree.GetNode(level, index));
      EXPECT_EQ(hash, stored) << level << "/" << index;
    });
  }
  EXPECT_EQ(range.Root(), t.roots[1024]);
  EXPECT_EQ(seen.back(), (std::pair<uint32_t, uint64_t>{10, 0}));
}

TEST(CompactRange, LoadBeyondTheTreeIsNotFound) {
  RandomTree& t = SharedRandomTree();
  const auto loaded = CompactRange::Load(kRandomTreeSize + 1, t.tree);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(loaded.status().IsNotFound()) << loaded.status().ToString();
}

// ---------------------------------------------------------------------------
// MemoryTree

TEST(MemoryTree, StoresEveryCompleteSubtree) {
  RandomTree& t = SharedRandomTree();
  EXPECT_EQ(t.tree.size(), kRandomTreeSize);
  EXPECT_EQ(t.tree.Root(), t.roots[kRandomTreeSize]);
  for (uint32_t level = 0; (uint64_t{1} << level) <= kRandomTreeSize; ++level) {
    const uint64_t len = uint64_t{1} << level;
    const uint64_t count = kRandomTreeSize >> level;
    for (uint64_t index : {uint64_t{0}, count / 2, count - 1}) {
      ASSERT_OK_AND_ASSIGN(const Hash h, t.tree.GetNode(level, index));
      EXPECT_EQ(h, Mth(std::span(t.leaves).subspan(index * len, len))) << level << "/" << index;
    }
    const auto beyond = t.tree.GetNode(level, count);
    EXPECT_TRUE(beyond.status().IsNotFound()) << level;
  }
  EXPECT_TRUE(t.tree.GetNode(11, 0).status().IsNotFound());
  MemoryTree empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.Root(), EmptyRoot());
  EXPECT_TRUE(empty.GetNode(0, 0).status().IsNotFound());
}

// ---------------------------------------------------------------------------
// The reference tree

TEST(MerkleReferenceTree, EveryNodeAndRootMatches) {
  ReferenceTree& ref = SharedReferenceTree();
  ASSERT_EQ(ref.leaves.size(), 8u);
  ASSERT_EQ(ref.roots.size(), 9u);
  ASSERT_EQ(ref.nodes.size(), 4u);
  for (uint32_t level = 0; level < ref.nodes.size(); ++level) {
    ASSERT_EQ(ref.nodes[level].size(), 8u >> level);
    for (uint64_t index = 0; index < ref.nodes[level].size(); ++index) {
      ASSERT_OK_AND_ASSIGN(const Hash h, ref.tree.GetNode(level, index));
      EXPECT_EQ(h, ref.nodes[level][index]) << level << "/" << index;
      ASSERT_OK_AND_ASSIGN(const Hash range,
                           RangeHash(index << level, (index + 1) << level, ref.tree));
      EXPECT_EQ(range, ref.nodes[level][index]) << level << "/" << index;
    }
  }
  CompactRange range;
  for (uint64_t n = 0; n <= 8; ++n) {
    EXPECT_EQ(range.Root(), ref.roots[n]) << "size " << n;
    ASSERT_OK_AND_ASSIGN(const Hash root, RootAt(n, ref.tree));
    EXPECT_EQ(root, ref.roots[n]) << "size " << n;
    if (n < 8) range.Append(ref.leaves[n], nullptr);
  }
}

TEST(MerkleReferenceTree, GeneratedProofsVerifyAgainstPublishedRoots) {
  ReferenceTree& ref = SharedReferenceTree();
  for (uint64_t n = 1; n <= 8; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      ASSERT_OK_AND_ASSIGN(const auto proof, InclusionProof(i, n, ref.tree));
      EXPECT_OK(VerifyInclusion(i, n, ref.leaves[i], proof, ref.roots[n]));
    }
    for (uint64_t m = 1; m <= n; ++m) {
      ASSERT_OK_AND_ASSIGN(const auto proof, ConsistencyProof(m, n, ref.tree));
      EXPECT_OK(VerifyConsistency(m, n, ref.roots[m], ref.roots[n], proof));
    }
  }
}

// ---------------------------------------------------------------------------
// transparency-dev/merkle's testdata

std::vector<fs::path> JsonFilesUnder(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

fs::path TestdataDir() { return testing::VectorsDir() / "transparency-dev-merkle" / "testdata"; }

// A 32-byte hash from canonical base64; nullopt for anything else (the
// vectors include empty strings and 9- or 12-byte dummies).
std::optional<Hash> DecodeHash(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  auto h = HashFromBase64(std::string_view(v.as_string()));
  if (!h.ok()) return std::nullopt;
  return *h;
}

// A null proof is an empty one; nullopt if any element is not a hash.
std::optional<std::vector<Hash>> DecodeProof(const json::value& v) {
  std::vector<Hash> proof;
  if (v.is_null()) return proof;
  for (const auto& e : v.as_array()) {
    auto h = DecodeHash(e);
    if (!h) return std::nullopt;
    proof.push_back(*h);
  }
  return proof;
}

// Upstream's testdata was generated from the reference tree, so where a
// valid case's size and root are the reference tree's, the proof we
// generate must be the one upstream generated, element by element.
bool IsReferenceRoot(uint64_t size, const std::optional<Hash>& root) {
  const ReferenceTree& ref = SharedReferenceTree();
  return root && size < ref.roots.size() && *root == ref.roots[size];
}

TEST(MerkleVectors, InclusionVerdictsMatchUpstream) {
  ReferenceTree& ref = SharedReferenceTree();
  const auto files = JsonFilesUnder(TestdataDir() / "inclusion");
  // The exact count, so that a directory missing from the copy fails here.
  ASSERT_EQ(files.size(), 98u) << TestdataDir();
  int accepted = 0;
  int proofs_compared = 0;
  for (const auto& file : files) {
    const json::value c = json::parse(testing::ReadFileOrDie(file));
    const auto index = c.at("leafIdx").to_number<uint64_t>();
    const auto size = c.at("treeSize").to_number<uint64_t>();
    const auto root = DecodeHash(c.at("root"));
    const auto leaf = DecodeHash(c.at("leafHash"));
    const auto proof = DecodeProof(c.at("proof"));
    const bool want_err = c.at("wantErr").as_bool();

    // A hash that is not 32 bytes cannot be verified: rejected. No valid
    // inclusion case has one.
    Status verdict = Status::InvalidArgument("a hash is not 32 bytes of canonical base64");
    if (root && leaf && proof) verdict = VerifyInclusion(index, size, *leaf, *proof, *root);
    EXPECT_EQ(!verdict.ok(), want_err)
        << file << " (" << c.at("desc").as_string() << "): " << verdict.ToString();
    if (verdict.ok()) ++accepted;

    if (!want_err && IsReferenceRoot(size, root)) {
      ASSERT_OK_AND_ASSIGN(const auto ours, InclusionProof(index, size, ref.tree));
      EXPECT_EQ(ours, *proof) << file;
      ++proofs_compared;
    }
  }
  EXPECT_EQ(accepted, 6);
  EXPECT_EQ(proofs_compared, 5);
}

TEST(MerkleVectors, ConsistencyVerdictsMatchUpstream) {
  ReferenceTree& ref = SharedReferenceTree();
  const auto files = JsonFilesUnder(TestdataDir() / "consistency");
  ASSERT_EQ(files.size(), 98u) << TestdataDir();
  int accepted = 0;
  int special = 0;
  int proofs_compared = 0;
  for (const auto& file : files) {
    const json::value c = json::parse(testing::ReadFileOrDie(file));
    const auto size1 = c.at("size1").to_number<uint64_t>();
    const auto size2 = c.at("size2").to_number<uint64_t>();
    const auto root1 = DecodeHash(c.at("root1"));
    const auto root2 = DecodeHash(c.at("root2"));
    const auto proof = DecodeProof(c.at("proof"));
    const bool want_err = c.at("wantErr").as_bool();

    Status verdict = Status::InvalidArgument("a hash is not 32 bytes of canonical base64");
    if (root1 && root2 && proof) {
      verdict = VerifyConsistency(size1, size2, *root1, *root2, *proof);
    } else if (!want_err) {
      // Upstream's "sizes are equal (one) and proof is empty" uses the
      // 12-byte dummy root "don't care 2" on both sides: upstream compares
      // the roots as byte strings and accepts. Our API takes 32-byte hashes
      // only, so such a root cannot even reach the verifier (the vectors'
      // README allows a strict verifier to reject it). Check the rule the
      // case is about instead: equal sizes, empty proof and byte-equal roots
      // verify, with a 32-byte root standing in for the dummy.
      const auto raw1 = schema::Base64Decode(std::string_view(c.at("root1").as_string()));
      const auto raw2 = schema::Base64Decode(std::string_view(c.at("root2").as_string()));
      ASSERT_TRUE(raw1.ok() && raw2.ok()) << file;
      ASSERT_TRUE(size1 == size2 && proof && proof->empty() && *raw1 == *raw2)
          << file << ": an unexpected valid case with a non-32-byte hash";
      const Hash stand_in = Sha256(*raw1);
      verdict = VerifyConsistency(size1, size2, stand_in, stand_in, {});
      ++special;
    }
    EXPECT_EQ(!verdict.ok(), want_err)
        << file << " (" << c.at("desc").as_string() << "): " << verdict.ToString();
    if (verdict.ok()) ++accepted;

    if (!want_err && size1 > 0 && IsReferenceRoot(size1, root1) && IsReferenceRoot(size2, root2)) {
      ASSERT_OK_AND_ASSIGN(const auto ours, ConsistencyProof(size1, size2, ref.tree));
      EXPECT_EQ(ours, *proof) << file;
      ++proofs_compared;
    }
  }
  EXPECT_EQ(special, 1);
  EXPECT_EQ(accepted, 6);
  EXPECT_EQ(proofs_compared, 5);
}

// ---------------------------------------------------------------------------
// Properties over random trees

// (index, size) pairs: all of them up to kAllPairsUpTo leaves, then the
// edges around powers of two, then random ones up to kRandomTreeSize.
std::vector<std::pair<uint64_t, uint64_t>> InclusionPairs(int random_count) {
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (uint64_t n = 1; n <= kAllPairsUpTo; ++n) {
    for (uint64_t i = 0; i < n; ++i) pairs.emplace_back(i, n);
  }
  for (uint64_t n : {127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 1999, 2000}) {
    for (uint64_t i : {uint64_t{0}, uint64_t{1}, n / 2, n - 2, n - 1}) pairs.emplace_back(i, n);
  }
  std::mt19937_64 rng(17);
  for (int k = 0; k < random_count; ++k) {
    const uint64_t n =
        std::uniform_int_distribution<uint64_t>(kAllPairsUpTo + 1, kRandomTreeSize)(rng);
    pairs.emplace_back(std::uniform_int_distribution<uint64_t>(0, n - 1)(rng), n);
  }
  return pairs;
}

// (m, n) pairs with 1 <= m <= n, chosen the same way.
std::vector<std::pair<uint64_t, uint64_t>> ConsistencyPairs(int random_count) {
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (uint64_t n = 1; n <= kAllPairsUpTo; ++n) {
    for (uint64_t m = 1; m <= n; ++m) pairs.emplace_back(m, n);
  }
  for (uint64_t n : {128, 129, 1024, 1025, 2000}) {
    for (uint64_t m : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{64}, uint64_t{127},
                       uint64_t{128}, n - 1, n}) {
      if (m <= n) pairs.emplace_back(m, n);
    }
  }
  std::mt19937_64 rng(23);
  for (int k = 0; k < random_count; ++k) {
    const uint64_t n =
        std::uniform_int_distribution<uint64_t>(kAllPairsUpTo + 1, kRandomTreeSize)(rng);
    pairs.emplace_back(std::uniform_int_distribution<uint64_t>(1, n)(rng), n);
  }
  return pairs;
}

TEST(MerkleProofs, GeneratedProofsAreRfcPathAndSubproof) {
  RandomTree& t = SharedRandomTree();
  const std::span<const Hash> leaves(t.leaves);
  for (const auto& [i, n] : InclusionPairs(200)) {
    std::vector<Hash> want;
    RfcPath(i, leaves.first(n), want);
    ASSERT_OK_AND_ASSIGN(const auto got, InclusionProof(i, n, t.tree));
    ASSERT_EQ(got, want) << "inclusion of " << i << " in " << n;
  }
  for (const auto& [m, n] : ConsistencyPairs(200)) {
    std::vector<Hash> want;
    RfcSubproof(m, leaves.first(n), true, want);
    ASSERT_OK_AND_ASSIGN(const auto got, ConsistencyProof(m, n, t.tree));
    ASSERT_EQ(got, want) << "consistency " << m << " -> " << n;
  }
}

TEST(MerkleProofs, RootAtMatchesIncrementalRoots) {
  RandomTree& t = SharedRandomTree();
  CountingReader reader(t.tree);
  for (uint64_t n = 0; n <= kRandomTreeSize; ++n) {
    reader.Reset();
    ASSERT_OK_AND_ASSIGN(const Hash root, RootAt(n, reader));
    ASSERT_EQ(root, t.roots[n]) << n;
    EXPECT_EQ(reader.reads(), std::popcount(n)) << n;
  }
  EXPECT_EQ(t.roots[kRandomTreeSize], Mth(t.leaves));
}

TEST(MerkleProofs, RangeHashMatchesNaiveMth) {
  RandomTree& t = SharedRandomTree();
  const std::span<const Hash> leaves(t.leaves);
  // Every range of a small prefix, aligned or not.
  for (uint64_t begin = 0; begin < 40; ++begin) {
    for (uint64_t end = begin + 1; end <= 40; ++end) {
      ASSERT_OK_AND_ASSIGN(const Hash h, RangeHash(begin, end, t.tree));
      ASSERT_EQ(h, Mth(leaves.subspan(begin, end - begin))) << begin << ".." << end;
    }
  }
  std::mt19937_64 rng(29);
  for (int k = 0; k < 300; ++k) {
    uint64_t begin = std::uniform_int_distribution<uint64_t>(0, kRandomTreeSize - 1)(rng);
    const uint64_t end = std::uniform_int_distribution<uint64_t>(begin + 1, kRandomTreeSize)(rng);
    if (k % 2 == 0) begin &= ~(std::bit_floor(end - begin) - 1);  // half of them aligned
    ASSERT_OK_AND_ASSIGN(const Hash h, RangeHash(begin, end, t.tree));
    ASSERT_EQ(h, Mth(leaves.subspan(begin, end - begin))) << begin << ".." << end;
  }
}

// Verifies the proof for leaf `i` of the first `n` leaves, then that every
// single change to the claim makes verification fail.
void CheckInclusion(RandomTree& t, uint64_t i, uint64_t n) {
  SCOPED_TRACE("leaf " + std::to_string(i) + " of " + std::to_string(n));
  ASSERT_OK_AND_ASSIGN(const auto proof, InclusionProof(i, n, t.tree));
  const Hash& leaf = t.leaves[i];
  const Hash& root = t.roots[n];
  ASSERT_OK(VerifyInclusion(i, n, leaf, proof, root));
  ASSERT_OK_AND_ASSIGN(const Hash computed, RootFromInclusionProof(i, n, leaf, proof));
  EXPECT_EQ(computed, root);

  for (size_t k = 0; k < proof.size(); ++k) {
    auto bad = proof;
    bad[k] = FlipBit(bad[k], i * 31 + k * 7);
    EXPECT_TRUE(VerifyInclusion(i, n, leaf, bad, root).IsCorruption()) << "proof[" << k << "]";
  }
  EXPECT_TRUE(VerifyInclusion(i, n, FlipBit(leaf, n), proof, root).IsCorruption());
  EXPECT_TRUE(VerifyInclusion(i, n, leaf, proof, FlipBit(root, i)).IsCorruption());
  // Another position in the same tree has another path shape.
  for (uint64_t j : {i ^ 1, i + 1, i - 1}) {
    if (j == i || j >= n) continue;  // i - 1 wraps to a huge index when i == 0
    EXPECT_FALSE(VerifyInclusion(j, n, leaf, proof, root).ok()) << "index " << j;
  }
  EXPECT_FALSE(VerifyInclusion(n, n, leaf, proof, root).ok());
  // Another size is checked against that size's root: against the same root
  // a proof can legitimately pass, because an inclusion proof fixes only the
  // path's shape (leaf 0 of 3 and of 4 both hash as H(H(l0, p0), p1)).
  for (uint64_t s : {n + 1, n - 1, 2 * n}) {
    if (s <= i || s > kRandomTreeSize) continue;
    EXPECT_FALSE(VerifyInclusion(i, s, leaf, proof, t.roots[s]).ok()) << "size " << s;
  }
}

TEST(MerkleProofs, InclusionProofsVerifyAndEveryMutationFails) {
  RandomTree& t = SharedRandomTree();
  for (const auto& [i, n] : InclusionPairs(1500)) {
    CheckInclusion(t, i, n);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The same for the consistency proof between the first `m` and `n` leaves.
void CheckConsistency(RandomTree& t, uint64_t m, uint64_t n) {
  SCOPED_TRACE("consistency " + std::to_string(m) + " -> " + std::to_string(n));
  ASSERT_OK_AND_ASSIGN(const auto proof, ConsistencyProof(m, n, t.tree));
  const Hash& r1 = t.roots[m];
  const Hash& r2 = t.roots[n];
  ASSERT_OK(VerifyConsistency(m, n, r1, r2, proof));

  for (size_t k = 0; k < proof.size(); ++k) {
    auto bad = proof;
    bad[k] = FlipBit(bad[k], m * 13 + k * 5);
    EXPECT_TRUE(VerifyConsistency(m, n, r1, r2, bad).IsCorruption()) << "proof[" << k << "]";
  }
  EXPECT_TRUE(VerifyConsistency(m, n, FlipBit(r1, n), r2, proof).IsCorruption());
  EXPECT_TRUE(VerifyConsistency(m, n, r1, FlipBit(r2, m), proof).IsCorruption());
  if (m != n) {
    EXPECT_FALSE(VerifyConsistency(m, n, r2, r1, proof).ok()) << "swapped roots";
  }
  for (uint64_t m2 : {m + 1, m - 1, 2 * m}) {
    if (m2 == m || m2 > n) continue;
    EXPECT_FALSE(VerifyConsistency(m2, n, t.roots[m2], r2, proof).ok()) << "from " << m2;
  }
  for (uint64_t n2 : {n + 1, n - 1, 2 * n}) {
    if (n2 == n || n2 < m || n2 > kRandomTreeSize) continue;
    EXPECT_FALSE(VerifyConsistency(m, n2, r1, t.roots[n2], proof).ok()) << "to " << n2;
  }
}

TEST(MerkleProofs, ConsistencyProofsVerifyAndEveryMutationFails) {
  RandomTree& t = SharedRandomTree();
  for (const auto& [m, n] : ConsistencyPairs(1500)) {
    CheckConsistency(t, m, n);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(MerkleProofs, ReadsStayLogarithmicInHugeTrees) {
  SyntheticReader reader;
  std::mt19937_64 rng(31);
  for (uint64_t n : {uint64_t{1'000'000}, (uint64_t{1} << 40) + 12345, (uint64_t{1} << 62) - 1}) {
    const int bound = 2 * std::bit_width(n);
    for (int k = 0; k < 200; ++k) {
      const uint64_t i = std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
      reader.Reset();
      ASSERT_OK_AND_ASSIGN(const auto incl, InclusionProof(i, n, reader));
      EXPECT_LE(reader.reads(), bound) << i << " of " << n;
      // The right length for the verifier (the root is made up, so only the
      // length can be checked here).
      EXPECT_OK(RootFromInclusionProof(i, n, Hash{}, incl));

      const uint64_t m = i + 1;
      reader.Reset();
      ASSERT_OK_AND_ASSIGN(const auto cons, ConsistencyProof(m, n, reader));
      EXPECT_LE(reader.reads(), bound + 1) << m << " -> " << n;
      const Status s = VerifyConsistency(m, n, Hash{}, Hash{}, cons);
      EXPECT_TRUE(m == n || s.message().find("does not match") != std::string::npos)
          << s.ToString();
    }
    reader.Reset();
    ASSERT_OK(RootAt(n, reader));
    EXPECT_EQ(reader.reads(), std::popcount(n));
  }
}

// ---------------------------------------------------------------------------
// Argument and error handling

TEST(MerkleProofs, RejectImpossibleArguments) {
  RandomTree& t = SharedRandomTree();
  EXPECT_TRUE(InclusionProof(5, 5, t.tree).status().IsInvalidArgument());
  EXPECT_TRUE(InclusionProof(0, 0, t.tree).status().IsInvalidArgument());
  EXPECT_TRUE(ConsistencyProof(0, 5, t.tree).status().IsInvalidArgument());
  EXPECT_TRUE(ConsistencyProof(0, 0, t.tree).status().IsInvalidArgument());
  EXPECT_TRUE(ConsistencyProof(6, 5, t.tree).status().IsInvalidArgument());
  EXPECT_TRUE(RangeHash(3, 3, t.tree).status().IsInvalidArgument());
  EXPECT_TRUE(RangeHash(4, 3, t.tree).status().IsInvalidArgument());
  ASSERT_OK_AND_ASSIGN(const auto same, ConsistencyProof(5, 5, t.tree));
  EXPECT_TRUE(same.empty());
  ASSERT_OK_AND_ASSIGN(const Hash empty, RootAt(0, t.tree));
  EXPECT_EQ(empty, EmptyRoot());
}

TEST(MerkleProofs, BeyondTheStoredTreeIsNotFound) {
  RandomTree& t = SharedRandomTree();
  const uint64_t past = kRandomTreeSize + 1;
  EXPECT_TRUE(RootAt(past, t.tree).status().IsNotFound());
  EXPECT_TRUE(RangeHash(0, past, t.tree).status().IsNotFound());
  EXPECT_TRUE(InclusionProof(3, past, t.tree).status().IsNotFound());
  EXPECT_TRUE(ConsistencyProof(3, past, t.tree).status().IsNotFound());
}

TEST(MerkleVerify, InclusionFailuresSayWhy) {
  RandomTree& t = SharedRandomTree();
  ASSERT_OK_AND_ASSIGN(auto proof, InclusionProof(5, 100, t.tree));
  const Hash& leaf = t.leaves[5];
  const Hash& root = t.roots[100];

  const Status beyond = VerifyInclusion(100, 100, leaf, proof, root);
  EXPECT_TRUE(beyond.IsInvalidArgument()) << beyond.ToString();
  EXPECT_TRUE(VerifyInclusion(0, 0, leaf, {}, EmptyRoot()).IsInvalidArgument());

  auto longer = proof;
  longer.push_back(root);
  const Status too_long = VerifyInclusion(5, 100, leaf, longer, root);
  EXPECT_TRUE(too_long.IsCorruption());
  EXPECT_NE(too_long.message().find("has 8 hashes, want 7"), std::string::npos)
      << too_long.ToString();
  proof.pop_back();
  EXPECT_TRUE(VerifyInclusion(5, 100, leaf, proof, root).IsCorruption());

  ASSERT_OK_AND_ASSIGN(proof, InclusionProof(5, 100, t.tree));
  const Status mismatch = VerifyInclusion(5, 100, leaf, proof, t.roots[99]);
  EXPECT_TRUE(mismatch.IsCorruption());
  EXPECT_NE(mismatch.message().find(HashToHex(root)), std::string::npos) << mismatch.ToString();
}

TEST(MerkleVerify, ConsistencyFailuresSayWhy) {
  RandomTree& t = SharedRandomTree();
  const Hash& r6 = t.roots[6];
  const Hash& r9 = t.roots[9];
  ASSERT_OK_AND_ASSIGN(const auto proof, ConsistencyProof(6, 9, t.tree));

  EXPECT_TRUE(VerifyConsistency(9, 6, r9, r6, proof).IsInvalidArgument());
  EXPECT_TRUE(VerifyConsistency(0, 9, EmptyRoot(), r9, {}).IsInvalidArgument());
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).IsInvalidArgument());

  EXPECT_OK(VerifyConsistency(6, 6, r6, r6, {}));
  EXPECT_TRUE(VerifyConsistency(6, 6, r6, r6, proof).IsCorruption());
  EXPECT_TRUE(VerifyConsistency(6, 6, r6, r9, {}).IsCorruption());

  const Status empty = VerifyConsistency(6, 9, r6, r9, {});
  EXPECT_TRUE(empty.IsCorruption());
  EXPECT_NE(empty.message().find("has 0 hashes"), std::string::npos) << empty.ToString();
  const Status old_root = VerifyConsistency(6, 9, t.roots[5], r9, proof);
  EXPECT_TRUE(old_root.IsCorruption());
  EXPECT_NE(old_root.message().find("old root"), std::string::npos) << old_root.ToString();
  const Status new_root = VerifyConsistency(6, 9, r6, t.roots[10], proof);
  EXPECT_TRUE(new_root.IsCorruption());
  EXPECT_NE(new_root.message().find("new root"), std::string::npos) << new_root.ToString();
}

}  // namespace
}  // namespace custody::ledger
