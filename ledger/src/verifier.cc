#include "custody/ledger/verifier.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "custody/ledger/bundle.h"
#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/merkle.h"
#include "custody/ledger/store.h"
#include "entry_scan.h"
#include "file_util.h"

namespace custody::ledger {
namespace {

// The work is cut twice. Phase 1 hashes and checks blocks: runs of
// consecutive entries. Read from a file, a block is a byte range cut without
// reading the lines first (finding a million newlines was a whole extra pass
// over the file), so the index of a block's first entry is known only once
// every block is done. Phase 2 builds the inner nodes of aligned chunks of
// 2^kChunkLevels leaves: a chunk's complete subtrees are perfect subtrees of
// the whole tree, so the sequential walk needs only O(log n) work per
// checkpoint.
constexpr uint32_t kChunkLevels = 12;
constexpr uint64_t kChunk = uint64_t{1} << kChunkLevels;
constexpr size_t kBlockBytes = size_t{1} << 20;
constexpr size_t kCheckpointsPerTask = 32;
constexpr uint64_t kProgressStep = 65536;

// An entry the sequential walk must look at: one that failed checks 1-3, or
// a policy or access entry (check 4 depends on every entry before it).
// Trivially copyable and small: in a real log most entries are access
// entries, so there is one of these for nearly every entry.
struct Notable {
  enum class What : uint8_t { kBadEnvelope, kBadSeq, kBadPrev, kPolicy, kAccess };
  uint64_t position = 0;  // within its block
  What what = What::kPolicy;
  bool policy_ok = false;  // kPolicy, kAccess: the hex sha below was present and well formed
  uint32_t hits = 0;       // kAccess: length of decision.hits
  uint64_t seq = 0;        // kBadSeq: the seq the entry holds; kBadEnvelope: index in Block::errors
  Hash policy{};           // kPolicy: body.sha256; kAccess: decision.policy_sha256
};

struct Block {
  // Input: the entries, either as a byte range of entries.ndjson that starts
  // at a line start and ends just after a '\n' (from_text), or as the
  // caller's views; and the entry just before the block, if any, for check 3
  // on the block's first entry.
  bool from_text = false;
  std::string_view text;
  std::span<const std::string_view> lines;
  std::optional<std::string_view> before;
  // The block's first entry is the first of a bundle that starts after seq
  // 0: there is no entry before it to check its prev against.
  bool prev_unknown = false;

  // Results.
  uint64_t first = 0;  // index of the first entry; for text, set after phase 1
  std::vector<Hash> leaves;
  std::vector<Notable> notables;    // in log order
  std::vector<std::string> errors;  // why each kBadEnvelope entry is bad
  std::vector<std::pair<std::string, uint64_t>> kinds;  // kind -> count
  std::string_view first_entry, last_entry;
  // Check 2 (seq == index) without knowing `first`: every entry's seq minus
  // its position must equal `origin`, which the first entry that parses (at
  // `origin_at`) sets; the walk then checks origin == first.
  std::optional<uint64_t> origin_at;
  uint64_t origin = 0;
};

// One aligned chunk's complete inner nodes: levels[l][k] for l >= 1.
struct Chunk {
  std::vector<std::vector<Hash>> levels;
};

// Hex digit values, either case (as schema::HexDecode reads them); 0x80
// marks every other byte.
constexpr std::array<uint8_t, 256> kHexDigit = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0x80);
  for (uint8_t i = 0; i < 10; ++i) t['0' + i] = i;
  for (uint8_t i = 0; i < 6; ++i) t['a' + i] = t['A' + i] = static_cast<uint8_t>(10 + i);
  return t;
}();

// 64 hex digits into a hash, as HexDecode would but without its allocation
// and branches: access entries, most of a real log, each carry one.
bool DecodeHexHash(std::string_view hex, Hash* out) {
  if (hex.size() != 2 * kHashSize) return false;
  uint8_t bad = 0;
  for (size_t i = 0; i < kHashSize; ++i) {
    const uint8_t hi = kHexDigit[static_cast<uint8_t>(hex[2 * i])];
    const uint8_t lo = kHexDigit[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return (bad & 0x80) == 0;
}

void CountKind(Block* b, std::string_view kind) {
  for (auto& [k, n] : b->kinds) {
    if (k == kind) {
      ++n;
      return;
    }
  }
  b->kinds.emplace_back(std::string(kind), 1);
}

// Hashes the next entry of `b` and checks it (`scanned` is ScanEntry's
// verdict on it, `e` what it found); `*prev_leaf` is the previous entry's
// leaf hash, and becomes this one's.
void Inspect(std::string_view entry, const Status& scanned, const ScannedEntry& e, Block* b,
             Hash* prev_leaf) {
  const uint64_t k = b->leaves.size();
  b->leaves.push_back(LeafHash(entry));
  if (k == 0) b->first_entry = entry;
  b->last_entry = entry;
  auto note = [&](Notable::What what) -> Notable& {
    Notable& n = b->notables.emplace_back();
    n.position = k;
    n.what = what;
    return n;
  };
  if (!scanned.ok()) {
    note(Notable::What::kBadEnvelope).seq = b->errors.size();
    b->errors.push_back(scanned.message());
  } else {
    if (!b->origin_at) {
      b->origin_at = k;
      b->origin = e.seq - k;  // modulo 2^64, as is the comparison below
    }
    if (e.seq - k != b->origin) {
      note(Notable::What::kBadSeq).seq = e.seq;
    } else if (e.prev != *prev_leaf && !(k == 0 && b->prev_unknown)) {
      note(Notable::What::kBadPrev);
    } else {
      CountKind(b, e.kind);
      if (e.kind == "access") {
        Notable& n = note(Notable::What::kAccess);
        n.policy_ok = DecodeHexHash(e.decision_policy, &n.policy);
        n.hits = e.decision_hits;
      } else if (e.kind == "policy") {
        Notable& n = note(Notable::What::kPolicy);
        n.policy_ok = DecodeHexHash(e.body_sha256, &n.policy);
      }
    }
  }
  *prev_leaf = b->leaves.back();
}

// Phase 1 for one block.
void InspectBlock(Block* b) {
  ScannedEntry scratch;
  Hash prev_leaf = b->before ? LeafHash(*b->before) : EmptyRoot();
  if (!b->from_text) {
    for (std::string_view entry : b->lines) {
      const Status s = ScanEntry(entry, &scratch);
      Inspect(entry, s, scratch, b, &prev_leaf);
    }
    return;
  }
  // The scan finds where each entry ends, so the lines need no search of
  // their own: a canonical entry followed by '\n' is a whole line.
  std::string_view rest = b->text;
  while (!rest.empty()) {
    size_t length = 0;
    Status s = ScanEntryPrefix(rest, &scratch, &length);
    std::string_view entry;
    if (s.ok() && length < rest.size() && rest[length] == '\n') {
      entry = rest.substr(0, length);
      rest.remove_prefix(length + 1);
    } else {
      // Not a canonical entry then '\n': the line is bad, and scanning
      // exactly it gives ScanEntry's message.
      const size_t nl = rest.find('\n');  // always found: the text ends in '\n'
      entry = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      s = ScanEntry(entry, &scratch);
    }
    Inspect(entry, s, scratch, b, &prev_leaf);
  }
}

// The block holding entry `i` of the log (the blocks' `first` set, i < n):
// the last one that starts at or before it.
std::vector<Block>::const_iterator BlockOf(const std::vector<Block>& blocks, uint64_t i) {
  return std::upper_bound(blocks.begin(), blocks.end(), i,
                          [](uint64_t index, const Block& b) { return index < b.first; }) -
         1;
}

// Phase 2 for chunk `c` of a log of `n` entries: its complete inner nodes.
// The leaves stay in the blocks (levels[0] is left empty).
void BuildChunk(uint64_t c, uint64_t n, const std::vector<Block>& blocks, Chunk* chunk) {
  const uint64_t first = c * kChunk, end = std::min(n, first + kChunk);
  auto b = BlockOf(blocks, first);
  uint64_t k = first - b->first;
  auto next_leaf = [&]() -> const Hash& {
    while (k == b->leaves.size()) {
      ++b;
      k = 0;
    }
    return b->leaves[k++];
  };
  chunk->levels.assign(2, {});
  auto& pairs = chunk->levels[1];
  pairs.reserve((end - first) / 2);
  for (uint64_t i = first; i + 1 < end; i += 2) {
    const Hash& left = next_leaf();
    pairs.push_back(NodeHash(left, next_leaf()));
  }
  for (uint32_t l = 2; l <= kChunkLevels && chunk->levels[l - 1].size() >= 2; ++l) {
    const auto& below = chunk->levels[l - 1];
    std::vector<Hash> level(below.size() / 2);
    for (size_t i = 0; i < level.size(); ++i) level[i] = NodeHash(below[2 * i], below[2 * i + 1]);
    chunk->levels.push_back(std::move(level));
  }
}

// Serves complete-subtree hashes: leaves from the blocks, inner nodes up to
// kChunkLevels from the chunks, and above that from a tree over whole-chunk
// roots.
class ChunkNodes final : public NodeReader {
 public:
  ChunkNodes(const std::vector<Block>& blocks, uint64_t n, const std::vector<Chunk>& chunks,
             MemoryTree& upper)
      : blocks_(blocks), n_(n), chunks_(chunks), upper_(upper) {}
  Result<Hash> GetNode(uint32_t level, uint64_t index) override {
    if (level == 0) {
      if (index >= n_) return Status::NotFound("leaf beyond the verified entries");
      const auto b = BlockOf(blocks_, index);
      return b->leaves[index - b->first];
    }
    if (level > kChunkLevels) return upper_.GetNode(level - kChunkLevels, index);
    const uint64_t chunk = index >> (kChunkLevels - level);
    const uint64_t within = index & ((uint64_t{1} << (kChunkLevels - level)) - 1);
    if (chunk >= chunks_.size() || level >= chunks_[chunk].levels.size() ||
        within >= chunks_[chunk].levels[level].size()) {
      return Status::NotFound("node beyond the verified entries");
    }
    return chunks_[chunk].levels[level][within];
  }

 private:
  const std::vector<Block>& blocks_;
  const uint64_t n_;
  const std::vector<Chunk>& chunks_;
  MemoryTree& upper_;
};

// Runs task(0) .. task(count - 1) on up to `threads` threads (0: one per
// core), the calling thread among them, handing tasks out in order.
// `between` runs on the calling thread after each task it ran.
template <typename Task, typename Between>
void RunTasks(unsigned threads, size_t count, const Task& task, const Between& between) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::clamp<size_t>(count, 1, threads));
  std::atomic<size_t> next{0};
  auto work = [&](bool calling) {
    for (size_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < count;) {
      task(t);
      if (calling) between();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work, false);
  work(true);
  for (auto& t : pool) t.join();
}

struct ParsedCheckpoint {
  std::string name;
  Checkpoint cp;
};

VerifyReport Fail(VerifyReport r, std::optional<uint64_t> seq, std::optional<std::string> cp,
                  std::string reason) {
  r.ok = false;
  r.bad_seq = seq;
  r.bad_checkpoint = std::move(cp);
  r.reason = std::move(reason);
  return r;
}

std::string KeyLabel(std::string_view name, uint32_t id) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", id);
  return std::string(name) + "+" + hex;
}

// Why `note` does not open with `key`. When no signature line is by the key,
// names the keys that did sign and the one expected: auditing.md tells the
// auditor to compare key ids, and a rotated or wrong key shows only there.
std::string CheckpointError(std::string_view note, const VerifierKey& key, const Status& status) {
  std::string why = status.message();
  auto parsed = ParseNote(note);
  if (!parsed.ok()) return why;
  std::string signers;
  for (const NoteSignature& sig : parsed->signatures) {
    if (sig.name == key.name && sig.key_id == key.key_id) return why;
    signers += (signers.empty() ? "" : ", ") + KeyLabel(sig.name, sig.key_id);
  }
  return why + ": signed by " + signers + "; expected " + KeyLabel(key.name, key.key_id);
}

std::string ReceivedAt(std::string_view bytes) {
  auto d = DecodeEntry(bytes);
  return d.ok() ? d->received_at : std::string();
}

// VerifyEntries and VerifyBundle: verifies the entries held by `blocks` (in
// log order, phase 1 inputs set) against `checkpoints`.
Result<VerifyReport> VerifyBlocks(std::vector<Block>& blocks,
                                  std::span<const NamedCheckpoint> checkpoints,
                                  const VerifyOptions& options, const LogPrefix* prefix) {
  if (options.key.name.empty()) return Status::InvalidArgument("a verifier key is required");
  VerifyReport report;
  const uint64_t base = prefix == nullptr ? 0 : prefix->first_seq;
  report.first_seq = base;
  if (base > 0 && !blocks.empty()) blocks.front().prev_unknown = true;

  // The trusted checkpoint is opened first so that a bad one spares the
  // entries; a failure of the log's own checkpoints still comes first.
  std::optional<ParsedCheckpoint> trusted;
  std::optional<Status> trusted_error;
  if (options.trusted_checkpoint) {
    auto cp = OpenCheckpoint(*options.trusted_checkpoint, options.key, options.key.name);
    if (cp.ok()) {
      trusted = ParsedCheckpoint{"trusted", std::move(cp).value()};
    } else {
      trusted_error = Status::Corruption(
          CheckpointError(*options.trusted_checkpoint, options.key, cp.status()));
    }
  }

  // Phase 1. The tasks, in order: open (verify) the checkpoints,
  // kCheckpointsPerTask at a time, then inspect the blocks.
  const size_t cp_tasks = (checkpoints.size() + kCheckpointsPerTask - 1) / kCheckpointsPerTask;
  std::vector<std::optional<Checkpoint>> opened(checkpoints.size());
  std::vector<std::string> cp_errors(checkpoints.size());
  {
    // Set when a checkpoint fails: that failure is reported whatever the
    // entries hold, so the blocks not yet started are skipped.
    std::atomic<bool> stop{trusted_error.has_value()};
    // For progress: the total is known for the caller's entries and
    // estimated from the bytes done so far for text.
    std::atomic<uint64_t> entries_done{0}, bytes_done{0};
    std::optional<uint64_t> known_total;
    uint64_t total_bytes = 0;
    if (blocks.empty() || !blocks.front().from_text) {
      known_total = 0;
      for (const Block& b : blocks) *known_total += b.lines.size();
    }
    for (const Block& b : blocks) total_bytes += b.text.size();
    uint64_t reported = 0;
    auto task = [&](size_t t) {
      if (t < cp_tasks) {
        const size_t end = std::min(checkpoints.size(), (t + 1) * kCheckpointsPerTask);
        for (size_t j = t * kCheckpointsPerTask; j < end; ++j) {
          auto cp = OpenCheckpoint(checkpoints[j].note, options.key, options.key.name);
          if (!cp.ok()) {
            cp_errors[j] = CheckpointError(checkpoints[j].note, options.key, cp.status());
            stop.store(true, std::memory_order_relaxed);
            return;  // later ones in this task cannot be the first failure
          }
          opened[j] = std::move(cp).value();
        }
        return;
      }
      if (stop.load(std::memory_order_relaxed)) return;
      Block* b = &blocks[t - cp_tasks];
      InspectBlock(b);
      entries_done.fetch_add(b->leaves.size(), std::memory_order_relaxed);
      bytes_done.fetch_add(b->text.size(), std::memory_order_relaxed);
    };
    auto report_progress = [&] {
      const uint64_t done = entries_done.load(std::memory_order_relaxed);
      if (!options.progress || done < reported + kProgressStep) return;
      uint64_t total;
      if (known_total) {
        total = *known_total;
      } else {
        const uint64_t bytes = bytes_done.load(std::memory_order_relaxed);
        if (bytes == 0) return;
        total = static_cast<uint64_t>(static_cast<double>(done) / static_cast<double>(bytes) *
                                      static_cast<double>(total_bytes));
      }
      if (done >= total) return;  // (total, total) is for the end of the walk
      options.progress(done, total);
      reported = done;
    };
    RunTasks(options.threads, cp_tasks + blocks.size(), task, report_progress);
  }

  // Checkpoints: signatures and origin (the first bad one in the given order).
  std::vector<ParsedCheckpoint> cps;
  cps.reserve(checkpoints.size());
  for (size_t j = 0; j < checkpoints.size(); ++j) {
    if (!opened[j]) {
      return Fail(report, std::nullopt, checkpoints[j].name,
                  "signature or format invalid: " + cp_errors[j]);
    }
    cps.push_back({checkpoints[j].name, std::move(*opened[j])});
  }
  std::stable_sort(cps.begin(), cps.end(),
                   [](const auto& a, const auto& b) { return a.cp.size < b.cp.size; });
  if (trusted_error) {
    return Fail(report, std::nullopt, "trusted",
                "trusted checkpoint does not verify: " + trusted_error->message());
  }
  if (trusted && trusted->cp.size < base) {
    return Status::InvalidArgument(
        "the trusted checkpoint covers " + std::to_string(trusted->cp.size) +
        " entries but the bundle starts at seq " + std::to_string(base) +
        ": it cannot show the log extends it; verify a bundle exported --from " +
        std::to_string(trusted->cp.size) + " or earlier");
  }
  for (const ParsedCheckpoint& p : cps) {
    if (p.cp.size >= base) break;
    return Fail(report, std::nullopt, p.name,
                "checkpoint covers " + std::to_string(p.cp.size) +
                    " entries but the bundle starts at seq " + std::to_string(base) +
                    ": the entries it covers are not in the bundle");
  }

  // What the bundle says about the entries before it: the policies first
  // (their proofs are checked once the final root is known).
  std::set<Hash> policies;
  std::optional<CompactRange> prefix_range;
  if (base > 0) {
    auto range = CompactRange::FromHashes(base, prefix->range);
    if (!range.ok()) {
      return Fail(report, std::nullopt, std::nullopt,
                  "log.json prefix: " + range.status().message());
    }
    prefix_range = std::move(range).value();
    ScannedEntry scratch;
    for (size_t k = 0; k < prefix->policies.size(); ++k) {
      const LogPrefix::PriorPolicy& p = prefix->policies[k];
      const std::string where = "prior-policies.ndjson line " + std::to_string(k + 1) + ": ";
      Hash sha{};
      if (Status st = ScanEntry(p.entry, &scratch); !st.ok()) {
        return Fail(report, p.seq, std::nullopt, where + st.message());
      }
      if (scratch.seq != p.seq || p.seq >= base || scratch.kind != "policy" ||
          !DecodeHexHash(scratch.body_sha256, &sha)) {
        return Fail(report, p.seq, std::nullopt,
                    where + "not a policy entry with seq " + std::to_string(p.seq) +
                        " before the bundle's first seq " + std::to_string(base) + " (kind " +
                        std::string(scratch.kind) + ", seq " + std::to_string(scratch.seq) + ")");
      }
      policies.insert(sha);
      ++report.prior_policies;
    }
  }

  // Where each block starts, then phase 2 (for a whole log: a bundle that
  // starts later extends its prefix's compact range one leaf at a time).
  uint64_t n = base;
  for (Block& b : blocks) {
    b.first = n;
    n += b.leaves.size();
  }
  std::vector<Chunk> chunks(base > 0 ? 0 : (n + kChunk - 1) / kChunk);
  RunTasks(
      options.threads, chunks.size(), [&](size_t c) { BuildChunk(c, n, blocks, &chunks[c]); },
      [] {});
  MemoryTree upper;  // over whole-chunk roots
  for (const Chunk& c : chunks) {
    if (c.levels.size() > kChunkLevels) upper.AppendLeaf(c.levels[kChunkLevels][0]);
  }
  ChunkNodes nodes(blocks, n, chunks, upper);
  // The root at `size` (base <= size <= n; sizes asked in increasing order
  // when there is a prefix).
  auto block_it = blocks.cbegin();
  uint64_t within = 0;
  auto root_at = [&](uint64_t size) -> Result<Hash> {
    if (!prefix_range) return RootAt(size, nodes);
    while (prefix_range->size() < size) {
      while (within == block_it->leaves.size()) {
        ++block_it;
        within = 0;
      }
      prefix_range->Append(block_it->leaves[within++], nullptr);
    }
    if (prefix_range->size() != size) return Status::Internal("roots asked out of order");
    return prefix_range->Root();
  };

  // Sequential walk over the notable entries and the checkpoints, in log
  // order: a checkpoint of size s is checked after entry s-1 and before
  // entry s.
  const Hash* last_policy = nullptr;  // the last one an access entry named (most name the same)
  size_t next_cp = 0;
  bool trusted_checked = !trusted;
  // Checks every checkpoint of `size` (and the trusted one) against the
  // recomputed root.
  auto check_checkpoints = [&](uint64_t size) -> std::optional<VerifyReport> {
    Hash root = EmptyRoot();
    if (size > 0) {
      auto r = root_at(size);
      if (!r.ok()) return Fail(report, size - 1, std::nullopt, r.status().message());
      root = *r;
    }
    // At the bundle's first seq the root is the prefix's alone: no entry of
    // the bundle is to blame.
    const bool prefix_only = base > 0 && size == base;
    const std::optional<uint64_t> last =
        size == 0 || prefix_only ? std::nullopt : std::optional<uint64_t>(size - 1);
    const std::string prefix_why = "the root of log.json's prefix (the " + std::to_string(base) +
                                   " entries before the bundle) does not match";
    while (next_cp < cps.size() && cps[next_cp].cp.size == size) {
      const auto& p = cps[next_cp];
      if (p.cp.root != root) {
        if (prefix_only) {
          return Fail(report, last, p.name,
                      prefix_why + " the checkpoint: the prefix was altered or is another log's");
        }
        return Fail(report, last, p.name,
                    "root at size " + std::to_string(size) +
                        " does not match the checkpoint: entries up to seq " +
                        std::to_string(size == 0 ? 0 : size - 1) +
                        " differ from what was signed (a rewritten tail or a forked log)");
      }
      ++report.checkpoints;
      report.latest_checkpoint_size = size;
      ++next_cp;
    }
    if (!trusted_checked && trusted->cp.size == size) {
      trusted_checked = true;
      if (trusted->cp.root != root && prefix_only) {
        return Fail(report, last, "trusted",
                    prefix_why +
                        " the trusted checkpoint: this bundle does not continue the "
                        "log that was audited (a fork, or an altered prefix)");
      }
      if (trusted->cp.root != root) {
        return Fail(report, last, "trusted",
                    "the log is not consistent with the trusted checkpoint at size " +
                        std::to_string(size) + " (a fork or a rewritten history)");
      }
    }
    return std::nullopt;
  };
  // Checks the checkpoints of every size <= limit not checked yet.
  auto check_checkpoints_through = [&](uint64_t limit) -> std::optional<VerifyReport> {
    for (;;) {
      std::optional<uint64_t> size;
      if (next_cp < cps.size()) size = cps[next_cp].cp.size;
      if (!trusted_checked && (!size || trusted->cp.size < *size)) size = trusted->cp.size;
      if (!size || *size > limit) return std::nullopt;
      if (auto f = check_checkpoints(*size)) return f;
    }
  };
  // Entry b.first + e.position: the checkpoints before it, then its own
  // checks. A failure report, or nullopt to go on.
  auto visit = [&](const Block& b, const Notable& e) -> std::optional<VerifyReport> {
    const uint64_t i = b.first + e.position;
    if (auto f = check_checkpoints_through(i)) return f;
    switch (e.what) {
      case Notable::What::kBadEnvelope: return Fail(report, i, std::nullopt, b.errors[e.seq]);
      case Notable::What::kBadSeq:
        return Fail(report, i, std::nullopt,
                    "line " + std::to_string(i - base + 1) + " holds seq " + std::to_string(e.seq) +
                        ", expected " + std::to_string(i) +
                        ": entries are missing, duplicated or out of order");
      case Notable::What::kBadPrev:
        return Fail(report, i == 0 ? 0 : i - 1, std::nullopt,
                    i == 0 ? std::string("entry 0's prev is not the empty-tree hash")
                           : "entry " + std::to_string(i - 1) +
                                 " does not hash to the prev recorded in entry " +
                                 std::to_string(i) + ": entry " + std::to_string(i - 1) +
                                 " (or entry " + std::to_string(i) + "'s prev) was altered");
      case Notable::What::kPolicy:
        ++report.policies;
        if (e.policy_ok) policies.insert(e.policy);
        return std::nullopt;
      case Notable::What::kAccess:
        if (!e.policy_ok) {
          return Fail(report, i, std::nullopt,
                      "access entry has no decision.policy_sha256 (64 hex digits)");
        }
        if (last_policy == nullptr || *last_policy != e.policy) {
          auto known = policies.find(e.policy);
          if (known == policies.end()) {
            return Fail(report, i, std::nullopt,
                        "access entry's decision names policy " + HashToHex(e.policy) +
                            ", which no earlier policy entry recorded");
          }
          last_policy = &*known;
        }
        report.alerts += e.hits;
        return std::nullopt;
    }
    return std::nullopt;
  };
  for (const Block& b : blocks) {
    // The block's entries agree on where it starts (Block::origin); when
    // that is not where it does start, the first entry that parsed is the
    // first one out of place (those before it failed to parse).
    std::optional<Notable> misplaced;
    if (b.origin_at && b.origin != b.first) {
      misplaced.emplace();
      misplaced->position = *b.origin_at;
      misplaced->what = Notable::What::kBadSeq;
      misplaced->seq = b.origin + *b.origin_at;
    }
    for (const Notable& e : b.notables) {
      if (misplaced && misplaced->position <= e.position) return *visit(b, *misplaced);
      if (auto f = visit(b, e)) return *f;
    }
    if (misplaced) return *visit(b, *misplaced);
  }
  if (auto f = check_checkpoints_through(n)) return *f;
  if (options.progress) options.progress(n, n);
  // Checked after the walk so that a gap inside the log is reported at its
  // own seq rather than as a short log.
  if (next_cp < cps.size()) {
    const auto& p = cps[next_cp];
    return Fail(report, n, p.name,
                "checkpoint covers " + std::to_string(p.cp.size) + " entries but the log ends at " +
                    std::to_string(n) + ": entries " + std::to_string(n) + ".." +
                    std::to_string(p.cp.size - 1) + " are missing (truncated)");
  }
  if (trusted && trusted->cp.size > n) {
    return Fail(report, n, "trusted",
                "the log has " + std::to_string(n) + " entries but a trusted checkpoint covers " +
                    std::to_string(trusted->cp.size) + ": the log was truncated or rolled back");
  }
  if (checkpoints.empty() && n > 0) {
    return Fail(report, std::nullopt, std::nullopt, "no signed checkpoint covers the log");
  }
  // custodyd signs every size it commits, in the same transaction as the
  // entries, and a bundle holds the checkpoint for its size (ledger-format
  // section 5): entries beyond the newest checkpoint were vouched for by no
  // signature, so they may have been appended by anyone.
  if (report.latest_checkpoint_size < n) {
    const uint64_t from = report.latest_checkpoint_size;
    return Fail(report, from, std::nullopt,
                "entries " + std::to_string(from) + ".." + std::to_string(n - 1) +
                    " are not covered by any signed checkpoint (the newest covers " +
                    std::to_string(from) + ")");
  }
  report.entries = n - base;
  if (n > 0) {
    CUSTODY_ASSIGN_OR_RETURN(report.root, root_at(n));
  } else {
    report.root = EmptyRoot();
  }
  if (prefix != nullptr) {
    for (size_t k = 0; k < prefix->policies.size(); ++k) {
      const LogPrefix::PriorPolicy& p = prefix->policies[k];
      if (Status st = VerifyInclusion(p.seq, n, LeafHash(p.entry), p.proof, report.root);
          !st.ok()) {
        return Fail(report, p.seq, std::nullopt,
                    "prior-policies.ndjson line " + std::to_string(k + 1) +
                        ": the policy entry is not in the log at seq " + std::to_string(p.seq) +
                        ": its inclusion proof does not lead to the root at size " +
                        std::to_string(n) + " (" + st.message() + ")");
      }
    }
  }
  for (const Block& b : blocks) {
    for (const auto& [kind, count] : b.kinds) report.kinds[kind] += count;
  }
  if (n > base) {
    auto nonempty = [](const Block& b) { return !b.leaves.empty(); };
    report.first_time =
        ReceivedAt(std::find_if(blocks.begin(), blocks.end(), nonempty)->first_entry);
    report.last_time =
        ReceivedAt(std::find_if(blocks.rbegin(), blocks.rend(), nonempty)->last_entry);
  }
  report.ok = true;
  return report;
}

}  // namespace

std::string VerifyReport::Summary() const {
  std::ostringstream out;
  if (!ok) {
    out << "FAIL: ";
    if (bad_seq) out << "seq " << *bad_seq << ": ";
    if (bad_checkpoint) out << "checkpoint " << *bad_checkpoint << ": ";
    out << reason;
    return out.str();
  }
  out << "OK: " << entries << " entries";
  if (first_seq > 0 && entries > 0) {
    out << " (seq " << first_seq << ".." << first_seq + entries - 1 << ")";
  }
  out << ", " << checkpoints << " checkpoints (latest covers " << latest_checkpoint_size << "), "
      << policies << " policies";
  if (prior_policies > 0) out << " (+" << prior_policies << " before the bundle)";
  out << ", " << alerts << " alerts";
  if (!first_time.empty()) out << ", " << first_time << " .. " << last_time;
  return out.str();
}

Result<VerifyReport> VerifyEntries(std::span<const std::string_view> entries,
                                   std::span<const NamedCheckpoint> checkpoints,
                                   const VerifyOptions& options, const LogPrefix* prefix) {
  std::vector<Block> blocks((entries.size() + kChunk - 1) / kChunk);
  for (size_t c = 0; c < blocks.size(); ++c) {
    const size_t first = c * kChunk;
    blocks[c].lines = entries.subspan(first, std::min<size_t>(kChunk, entries.size() - first));
    if (first > 0) blocks[c].before = entries[first - 1];
  }
  return VerifyBlocks(blocks, checkpoints, options, prefix);
}

namespace {

// A read-only memory map of a whole file.
class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path) {
    MappedFile f;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "stat " + path);
    }
    f.size_ = static_cast<size_t>(st.st_size);
    if (f.size_ > 0) {
      // No MAP_POPULATE: that would map every page from this one thread,
      // while the verifier's threads fault in what they read in parallel.
      void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return Status::FromErrno(err, "mmap " + path);
      }
      ::madvise(p, f.size_, MADV_SEQUENTIAL);
      f.data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return f;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view view() const { return {data_ == nullptr ? "" : data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Cuts `data` (whole lines, the last ending in '\n') into blocks of about
// kBlockBytes, each starting at a line start, reading about a line per
// block.
std::vector<Block> TextBlocks(std::string_view data) {
  std::vector<Block> blocks;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = std::min(data.size(), start + kBlockBytes);
    if (end < data.size()) {  // on to the end of the line holding byte end-1
      const size_t nl = data.find('\n', end - 1);
      end = nl == std::string_view::npos ? data.size() : nl + 1;
    }
    Block& b = blocks.emplace_back();
    b.from_text = true;
    b.text = data.substr(start, end - start);
    if (start > 0) {  // the line ending in the '\n' at start-1
      const size_t nl = start >= 2 ? data.rfind('\n', start - 2) : std::string_view::npos;
      const size_t line = nl == std::string_view::npos ? 0 : nl + 1;
      b.before = data.substr(line, start - 1 - line);
    }
    start = end;
  }
  return blocks;
}

}  // namespace

Result<VerifyReport> VerifyBundle(const std::string& dir, const VerifyOptions& options) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return Status::NotFound(dir + " is not a directory");
  // log.json is optional for a whole log; a bundle that starts later needs
  // what it says about the entries before it.
  std::optional<BundleLog> log;
  if (fs::exists(root / "log.json", ec)) {
    CUSTODY_ASSIGN_OR_RETURN(log, ReadBundleLog(dir));
  }
  const LogPrefix* prefix = log && log->prefix.first_seq > 0 ? &log->prefix : nullptr;
  CUSTODY_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open((root / "entries.ndjson").string()));
  const std::string_view data = file.view();
  if (!data.empty() && data.back() != '\n') {
    const auto complete = static_cast<uint64_t>(std::count(data.begin(), data.end(), '\n'));
    VerifyReport r;
    r.first_seq = prefix == nullptr ? 0 : prefix->first_seq;
    return Fail(r, r.first_seq + complete, std::nullopt,
                "entries.ndjson line " + std::to_string(complete + 1) +
                    " has no final newline (truncated file?)");
  }
  std::vector<NamedCheckpoint> checkpoints;
  const fs::path cp_dir = root / "checkpoints";
  if (fs::is_directory(cp_dir, ec)) {
    std::vector<fs::path> files;
    for (const auto& de : fs::directory_iterator(cp_dir, ec)) {
      if (de.is_regular_file()) files.push_back(de.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      CUSTODY_ASSIGN_OR_RETURN(std::string note, ReadWholeFile(p.string()));
      checkpoints.push_back({"checkpoints/" + p.filename().string(), std::move(note)});
    }
  }
  // No checkpoints is a verdict, not an input error: VerifyBlocks reports
  // that nothing signed covers the entries.
  std::vector<Block> blocks = TextBlocks(data);
  CUSTODY_ASSIGN_OR_RETURN(VerifyReport report,
                           VerifyBlocks(blocks, checkpoints, options, prefix));
  if (!report.ok || !log) return report;
  // log.json is not trusted, but a size that is not the bundle's says that
  // entries (with their checkpoints) were added or removed after export.
  const uint64_t n = report.first_seq + report.entries;
  if (log->size != n) {
    return Fail(report, std::min(n, log->size), std::nullopt,
                "log.json says the log has " + std::to_string(log->size) +
                    " entries but the bundle holds " + std::to_string(n) +
                    " (entries.ndjson and checkpoints/ were cut or extended, or log.json was "
                    "altered)");
  }
  return report;
}

namespace {

// custodyd keeps its LMDB environment in <data_dir>/ledger: an auditor may
// name either that directory (or a copy of it) or the data_dir itself.
Result<std::string> LedgerEnvDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(dir + " is not a directory");
  if (fs::exists(fs::path(dir) / "data.mdb", ec)) return dir;
  const fs::path nested = fs::path(dir) / "ledger";
  if (fs::exists(nested / "data.mdb", ec)) return nested.string();
  return Status::NotFound("no ledger in " + dir + ": looked for " +
                          (fs::path(dir) / "data.mdb").string() + " and " +
                          (nested / "data.mdb").string() +
                          " (give custodyd's data_dir, its ledger/ directory or an mdb_copy "
                          "of it)");
}

}  // namespace

Result<VerifyReport> VerifyDataDir(const std::string& dir, const VerifyOptions& options) {
  LedgerOptions lo;
  CUSTODY_ASSIGN_OR_RETURN(lo.dir, LedgerEnvDir(dir));
  lo.read_only = true;
  lo.create_if_missing = false;
  auto ledger = Ledger::Open(lo);
  if (!ledger.ok()) {
    // A damaged data dir that cannot even be opened is a verification
    // failure when the damage is corruption, an I/O error otherwise.
    if (ledger.status().IsCorruption()) {
      VerifyReport r;
      return Fail(r, std::nullopt, std::nullopt, ledger.status().message());
    }
    return ledger.status();
  }
  CUSTODY_ASSIGN_OR_RETURN(ReadView view, (*ledger)->Read());
  std::vector<std::string_view> entries;
  entries.reserve(view.size());
  CUSTODY_ASSIGN_OR_RETURN(Cursor cursor, view.NewEntryCursor());
  CUSTODY_ASSIGN_OR_RETURN(bool more, cursor.SeekFirst());
  while (more) {
    entries.push_back(cursor.value());
    CUSTODY_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  std::vector<NamedCheckpoint> checkpoints;
  CUSTODY_RETURN_IF_ERROR(view.ForEachCheckpoint([&](uint64_t size, std::string_view note) {
    checkpoints.push_back({"checkpoint@" + std::to_string(size), std::string(note)});
    return Status::Ok();
  }));
  return VerifyEntries(entries, checkpoints, options);
}

}  // namespace custody::ledger
