#include "custody/ledger/merkle.h"

#include <algorithm>
#include <bit>
#include <string>

namespace custody::ledger {
namespace {

// The shape of the RFC 9162 PATH from a complete node at some level up to the
// root, in the split transparency-dev/merkle uses. `index` is the node's
// index and `last` the index of the right border's node (the one holding the
// last leaf) at the same level. Below the level where the two paths meet
// there are `inner` siblings; above it the path runs along the right border
// and has a left sibling for every set bit of index >> inner.
struct PathShape {
  int inner;
  int border;
  size_t length() const { return static_cast<size_t>(inner + border); }
};

PathShape ShapeOf(uint64_t index, uint64_t last) {
  const int inner = std::bit_width(index ^ last);
  return {inner, std::popcount(index >> inner)};
}

// MTH(D[begin:end]) when begin is a multiple of the largest power of two
// <= end - begin: the range is then the perfect subtrees given by the set
// bits of its length, largest first, all of them stored. RFC 9162 hashes
// such a range by folding those subtrees right to left, so walk the bits from
// the lowest (rightmost subtree) up: no buffer, popcount(end - begin) reads.
Result<Hash> AlignedRangeHash(uint64_t begin, uint64_t end, NodeReader& nodes) {
  uint64_t rest = end - begin;
  Hash acc{};
  bool first = true;
  while (rest != 0) {
    const uint64_t piece = rest & (~rest + 1);  // lowest set bit
    rest -= piece;
    const auto level = static_cast<uint32_t>(std::countr_zero(piece));
    CUSTODY_ASSIGN_OR_RETURN(const Hash h, nodes.GetNode(level, (begin + rest) >> level));
    acc = first ? h : NodeHash(h, acc);
    first = false;
  }
  return acc;
}

// Appends to `proof` the RFC 9162 PATH of the complete node (level, index)
// in the tree of `size` leaves, bottom-up. PATH(m, D[n]) recurses into the
// half holding m and appends MTH of the other half, so its entries are the
// siblings of m's ancestors from the bottom: walk up the ancestors instead of
// recursing down. Only the highest inner sibling can be imperfect (it holds
// the last leaf); its hash comes from its perfect decomposition.
Status AppendPath(uint32_t level, uint64_t index, uint64_t size, NodeReader& nodes,
                  std::vector<Hash>& proof) {
  const PathShape shape = ShapeOf(index, (size - 1) >> level);
  for (int j = 0; j < shape.inner; ++j) {
    const uint32_t l = level + static_cast<uint32_t>(j);
    const uint64_t begin = ((index >> j) ^ 1) << l;
    const uint64_t end = std::min(begin + (uint64_t{1} << l), size);
    CUSTODY_ASSIGN_OR_RETURN(const Hash h, AlignedRangeHash(begin, end, nodes));
    proof.push_back(h);
  }
  // On the right border a right sibling would lie beyond the tree, so only
  // left siblings (odd ancestors) contribute, and those are perfect.
  uint32_t l = level + static_cast<uint32_t>(shape.inner);
  for (uint64_t a = index >> shape.inner; a != 0; a >>= 1, ++l) {
    if ((a & 1) == 0) continue;
    CUSTODY_ASSIGN_OR_RETURN(const Hash h, nodes.GetNode(l, a - 1));
    proof.push_back(h);
  }
  return Status::Ok();
}

// RFC 9162 §2.1.3.2 / §2.1.4.2 step "right-shift both fn and sn equally
// until either LSB(fn) is set or fn is 0".
void ShiftToSetBit(uint64_t& fn, uint64_t& sn) {
  while (fn != 0 && (fn & 1) == 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

Status RootMismatch(std::string_view what, const Hash& computed, const Hash& want) {
  return Status::Corruption(std::string(what) + " does not match: the proof gives " +
                            HashToHex(computed) + ", expected " + HashToHex(want));
}

Status WrongLength(std::string_view what, size_t got, size_t want) {
  return Status::Corruption(std::string(what) + " has " + std::to_string(got) + " hashes, want " +
                            std::to_string(want));
}

}  // namespace

uint64_t NodeKey(uint32_t level, uint64_t index) {
  // Before the node completes, m - 1 leaves were appended in full, emitting
  // 2(m-1) - popcount(m-1) nodes (a perfect tree of 2^k leaves has 2^(k+1)-1
  // nodes, summed over the set bits of m - 1). Appending leaf m - 1 then
  // emits the leaf and its ancestors up to and including this node: level
  // nodes before it.
  const uint64_t m = (index + 1) << level;
  return 2 * (m - 1) - static_cast<uint64_t>(std::popcount(m - 1)) + level;
}

Result<CompactRange> CompactRange::Load(uint64_t size, NodeReader& nodes) {
  CompactRange range;
  range.hashes_.reserve(static_cast<size_t>(std::popcount(size)));
  uint64_t begin = 0;
  for (uint64_t rest = size; rest != 0;) {
    const auto level = static_cast<uint32_t>(std::bit_width(rest) - 1);
    CUSTODY_ASSIGN_OR_RETURN(Hash h, nodes.GetNode(level, begin >> level));
    range.hashes_.push_back(h);
    begin += uint64_t{1} << level;
    rest -= uint64_t{1} << level;
  }
  range.size_ = size;
  return range;
}

Result<CompactRange> CompactRange::FromHashes(uint64_t size, std::vector<Hash> hashes) {
  const auto want = static_cast<size_t>(std::popcount(size));
  if (hashes.size() != want) {
    return Status::InvalidArgument("a compact range of " + std::to_string(size) + " leaves has " +
                                   std::to_string(want) + " hashes, not " +
                                   std::to_string(hashes.size()));
  }
  CompactRange range;
  range.size_ = size;
  range.hashes_ = std::move(hashes);
  return range;
}

void CompactRange::Append(const Hash& leaf, const NodeVisitor& visit) {
  uint64_t index = size_;
  uint32_t level = 0;
  Hash h = leaf;
  if (visit) visit(level, index, h);
  // An odd index is a right child whose left sibling is the smallest subtree
  // on the frontier: merge them, and keep going while the parent is odd too.
  while ((index & 1) != 0) {
    h = NodeHash(hashes_.back(), h);
    hashes_.pop_back();
    index >>= 1;
    ++level;
    if (visit) visit(level, index, h);
  }
  hashes_.push_back(h);
  ++size_;
}

Hash CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Hash acc = hashes_.back();
  for (auto it = hashes_.rbegin() + 1; it != hashes_.rend(); ++it) acc = NodeHash(*it, acc);
  return acc;
}

Result<Hash> RootAt(uint64_t size, NodeReader& nodes) {
  if (size == 0) return EmptyRoot();
  return AlignedRangeHash(0, size, nodes);
}

Result<Hash> RangeHash(uint64_t begin, uint64_t end, NodeReader& nodes) {
  if (begin >= end) {
    return Status::InvalidArgument("empty leaf range [" + std::to_string(begin) + ", " +
                                   std::to_string(end) + ")");
  }
  const uint64_t size = end - begin;
  if (begin % std::bit_floor(size) == 0) return AlignedRangeHash(begin, end, nodes);
  // An unaligned range is its own tree whose subtrees are not stored ones:
  // split it as MTH does (k = largest power of two < size) and recurse.
  const uint64_t k = std::bit_floor(size - 1);
  CUSTODY_ASSIGN_OR_RETURN(const Hash left, RangeHash(begin, begin + k, nodes));
  CUSTODY_ASSIGN_OR_RETURN(const Hash right, RangeHash(begin + k, end, nodes));
  return NodeHash(left, right);
}

Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size, NodeReader& nodes) {
  if (index >= size) {
    return Status::InvalidArgument("no inclusion proof for leaf " + std::to_string(index) +
                                   ": the tree has " + std::to_string(size) + " leaves");
  }
  std::vector<Hash> proof;
  proof.reserve(ShapeOf(index, size - 1).length());
  CUSTODY_RETURN_IF_ERROR(AppendPath(0, index, size, nodes, proof));
  return proof;
}

Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to, NodeReader& nodes) {
  if (from == 0 || from > to) {
    return Status::InvalidArgument("no consistency proof from size " + std::to_string(from) +
                                   " to size " + std::to_string(to) + ": need 0 < from <= to");
  }
  std::vector<Hash> proof;
  if (from == to) return proof;
  // SUBPROOF(m, D[n], true) descends like PATH toward the last leaf of the
  // old tree and stops at the largest perfect subtree ending at m (node
  // (level, index) below). It is PATH of that node, preceded by the node
  // itself unless it is the whole old tree (m a power of two: the verifier
  // already holds its root, the `b` flag of SUBPROOF).
  const auto level = static_cast<uint32_t>(std::countr_zero(from));
  const uint64_t index = (from - 1) >> level;
  proof.reserve(ShapeOf(index, (to - 1) >> level).length() + 1);
  if (index != 0) {
    CUSTODY_ASSIGN_OR_RETURN(const Hash h, nodes.GetNode(level, index));
    proof.push_back(h);
  }
  CUSTODY_RETURN_IF_ERROR(AppendPath(level, index, to, nodes, proof));
  return proof;
}

Result<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf,
                                    std::span<const Hash> proof) {
  if (index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(index) + " is not in a tree of " +
                                   std::to_string(size) + " leaves");
  }
  // The RFC's loop rejects a wrong length too, but only as "sn is not 0";
  // checking up front says what the length should have been.
  const size_t want = ShapeOf(index, size - 1).length();
  if (proof.size() != want) return WrongLength("inclusion proof", proof.size(), want);

  // RFC 9162 §2.1.3.2, steps 2-5.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return Status::Corruption("inclusion proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      ShiftToSetBit(fn, sn);
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::Corruption("inclusion proof is too short");
  return r;
}

Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                       const Hash& root) {
  CUSTODY_ASSIGN_OR_RETURN(const Hash computed, RootFromInclusionProof(index, size, leaf, proof));
  if (computed != root) return RootMismatch("inclusion proof root", computed, root);
  return Status::Ok();
}

Status VerifyConsistency(uint64_t from, uint64_t to, const Hash& root_from, const Hash& root_to,
                         std::span<const Hash> proof) {
  if (from > to) {
    return Status::InvalidArgument("consistency from size " + std::to_string(from) +
                                   " to the smaller size " + std::to_string(to));
  }
  // Every tree extends the empty one, so such a proof would show nothing;
  // transparency-dev/merkle rejects it and so do we (even from 0 to 0).
  if (from == 0) return Status::InvalidArgument("consistency proof from the empty tree");
  if (from == to) {
    if (!proof.empty()) {
      return WrongLength("consistency proof between equal sizes", proof.size(), 0);
    }
    if (root_from != root_to) {
      return Status::Corruption("equal sizes but different roots: " + HashToHex(root_from) +
                                " and " + HashToHex(root_to));
    }
    return Status::Ok();
  }

  const int shift = std::countr_zero(from);
  const bool from_is_power_of_two = std::has_single_bit(from);
  const size_t want =
      ShapeOf((from - 1) >> shift, (to - 1) >> shift).length() + (from_is_power_of_two ? 0 : 1);
  if (proof.size() != want) return WrongLength("consistency proof", proof.size(), want);

  // RFC 9162 §2.1.4.2. Step 2 prepends first_hash when `from` is a power of
  // two; taking it as the seed instead saves copying the proof.
  std::span<const Hash> path = proof;
  Hash seed = root_from;
  if (!from_is_power_of_two) {
    seed = path.front();
    path = path.subspan(1);
  }
  uint64_t fn = from - 1;
  uint64_t sn = to - 1;
  while ((fn & 1) != 0) {  // step 4
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = seed;
  Hash sr = seed;
  for (const Hash& c : path) {
    if (sn == 0) return Status::Corruption("consistency proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      ShiftToSetBit(fn, sn);
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::Corruption("consistency proof is too short");
  if (fr != root_from) return RootMismatch("old root", fr, root_from);
  if (sr != root_to) return RootMismatch("new root", sr, root_to);
  return Status::Ok();
}

void MemoryTree::AppendLeaf(const Hash& leaf) {
  range_.Append(leaf, [this](uint32_t level, uint64_t index, const Hash& hash) {
    if (levels_.size() <= level) levels_.resize(level + 1);
    levels_[level].push_back(hash);  // nodes of a level complete in index order
  });
}

Result<Hash> MemoryTree::GetNode(uint32_t level, uint64_t index) {
  if (level >= levels_.size() || index >= levels_[level].size()) {
    return Status::NotFound("node (level " + std::to_string(level) + ", index " +
                            std::to_string(index) + ") is not in the tree of " +
                            std::to_string(size()) + " leaves");
  }
  return levels_[level][index];
}

}  // namespace custody::ledger
