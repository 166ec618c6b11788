// The RFC 9162 §2.1 Merkle tree: incremental building, roots, proofs.
//
// custody stores the hash of every *complete* (perfect) subtree: node
// (level L, index k) covers leaves [k * 2^L, (k + 1) * 2^L). Given those,
// the root of any tree size, an inclusion proof and a consistency proof each
// need O(log n) node reads and O(log n) hashing, never a rebuild.
//
// Nodes are keyed by their post-order position (NodeKey) so that every node
// appended to the tree gets a key larger than all earlier ones: the LMDB
// store writes them with MDB_APPEND, the fastest insert LMDB has.
//
// Thread safety: the free functions are pure (they read through the
// NodeReader they are given). A CompactRange is a value with one owner.
#ifndef CUSTODY_LEDGER_MERKLE_H_
#define CUSTODY_LEDGER_MERKLE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "custody/ledger/hash.h"

namespace custody::ledger {

// Read access to stored complete-subtree hashes.
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  // The hash of the complete subtree (level, index). NotFound if it has not
  // been stored (the caller asked beyond the tree), Corruption / IOError from
  // the storage.
  virtual Result<Hash> GetNode(uint32_t level, uint64_t index) = 0;
};

// The post-order key of node (level, index): the number of complete-subtree
// nodes that exist before it when leaves are appended one by one and each
// leaf's completed ancestors are emitted bottom-up (level 0 first). Strictly
// increasing in emission order; NodeKey(0, 0) == 0.
uint64_t NodeKey(uint32_t level, uint64_t index);

// The frontier of a tree: the roots of the perfect subtrees that the tree of
// size n decomposes into (one per set bit of n, largest on the left). Enough
// to append leaves and compute the root without reading anything.
class CompactRange {
 public:
  // Called once per completed node, bottom-up, as leaves are appended: the
  // leaf itself at level 0, then every ancestor it completes.
  using NodeVisitor = std::function<void(uint32_t level, uint64_t index, const Hash& hash)>;

  CompactRange() = default;

  // Rebuilds the frontier of the tree of `size` leaves from stored nodes
  // (popcount(size) reads).
  static Result<CompactRange> Load(uint64_t size, NodeReader& nodes);

  // The range whose frontier is `hashes` (largest subtree first), as
  // hashes() returns it and an export bundle carries it. InvalidArgument
  // unless there is exactly one hash per set bit of `size`. Nothing else can
  // be checked here: a wrong hash shows only as a wrong root later.
  static Result<CompactRange> FromHashes(uint64_t size, std::vector<Hash> hashes);

  uint64_t size() const { return size_; }

  // Appends one leaf hash, reporting every completed node to `visit` (may be
  // null).
  void Append(const Hash& leaf, const NodeVisitor& visit);

  // The RFC 9162 root of the current tree (EmptyRoot() for size 0).
  Hash Root() const;

  // The frontier hashes, largest subtree first.
  const std::vector<Hash>& hashes() const { return hashes_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;
};

// The root of the tree made of the first `size` leaves.
Result<Hash> RootAt(uint64_t size, NodeReader& nodes);

// The hash of the subtree over leaves [begin, end), which need not be
// perfect: MTH(D[begin:end]) of RFC 9162. Requires begin < end <= stored size
// (InvalidArgument for an empty range; the reader's NotFound beyond the
// tree). popcount(end - begin) reads when begin is a multiple of the largest
// power of two <= end - begin, as it is for every range a root or proof
// needs; other ranges are split as MTH splits them and may read down to
// the leaves.
Result<Hash> RangeHash(uint64_t begin, uint64_t end, NodeReader& nodes);

// RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of `size`
// leaves. InvalidArgument unless index < size.
Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size, NodeReader& nodes);

// RFC 9162 §2.1.4.1 consistency proof between sizes `from` and `to`.
// InvalidArgument unless 0 < from <= to (from == to gives an empty proof).
Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to, NodeReader& nodes);

// RFC 9162 §2.1.3.2: Ok when `proof` shows `leaf` at `index` in the tree of
// `size` leaves with root `root`; Corruption saying why otherwise
// (InvalidArgument for impossible index/size).
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf,
                       std::span<const Hash> proof, const Hash& root);

// RFC 9162 §2.1.4.2: Ok when `proof` shows the tree of size `from` with
// `root_from` is a prefix of the tree of size `to` with `root_to`. Like
// transparency-dev/merkle, every proof from size 0 is rejected, and from ==
// to requires an empty proof and equal roots.
Status VerifyConsistency(uint64_t from, uint64_t to, const Hash& root_from, const Hash& root_to,
                         std::span<const Hash> proof);

// Recomputes the root of the tree of `size` from an inclusion proof (the
// first half of VerifyInclusion). Useful for error messages and tests.
Result<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf,
                                    std::span<const Hash> proof);

// An in-memory NodeReader over a vector of leaf hashes, for tests and for
// verifying bundles: builds every complete-subtree hash as leaves are added.
class MemoryTree final : public NodeReader {
 public:
  void AppendLeaf(const Hash& leaf);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Result<Hash> GetNode(uint32_t level, uint64_t index) override;
  Hash Root() const { return range_.Root(); }

 private:
  std::vector<std::vector<Hash>> levels_;
  CompactRange range_;
};

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_MERKLE_H_
