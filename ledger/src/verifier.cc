#include "custody/ledger/verifier.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>

#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/merkle.h"
#include "custody/ledger/store.h"
#include "custody/schema/encoding.h"
#include "entry_scan.h"

namespace custody::ledger {
namespace {

// Leaves are processed in aligned chunks of 2^kChunkLevels: a chunk's
// complete subtrees are perfect subtrees of the whole tree, so the workers
// that hash a chunk's entries also build its inner nodes, and the
// sequential walk needs only O(log n) work per checkpoint.
constexpr uint32_t kChunkLevels = 12;
constexpr uint64_t kChunk = uint64_t{1} << kChunkLevels;

enum class KindCode : uint8_t { kOther, kAccess, kPolicy };

// What the parallel pass learns about one entry (kept small: one per entry).
struct EntryInfo {
  Hash prev{};
  uint64_t seq = 0;
  Hash policy{};         // policy entry: body.sha256; access entry: decision.policy_sha256
  uint32_t hits = 0;
  KindCode kind = KindCode::kOther;
  bool policy_ok = false;  // the hex sha above was present and well formed
  bool bad = false;        // envelope error, text in Chunk::errors
};

// One chunk's results.
struct Chunk {
  std::vector<std::vector<Hash>> levels;  // levels[l][k]: complete nodes inside the chunk
  std::vector<std::pair<uint64_t, std::string>> errors;  // (seq position, message)
  std::vector<std::pair<std::string, uint64_t>> kinds;   // kind -> count
};

bool DecodeHexHash(std::string_view hex, Hash* out) {
  if (hex.size() != 64) return false;
  auto v = schema::HexDecode(hex);
  if (!v.ok()) return false;
  std::copy(v->begin(), v->end(), out->begin());
  return true;
}

void CountKind(Chunk& chunk, const std::string& kind) {
  for (auto& [k, n] : chunk.kinds) {
    if (k == kind) {
      ++n;
      return;
    }
  }
  chunk.kinds.emplace_back(kind, 1);
}

void InspectChunk(std::span<const std::string_view> entries, uint64_t first, EntryInfo* infos,
                  Chunk* chunk, ScannedEntry* scratch) {
  chunk->levels.assign(1, {});
  auto& leaves = chunk->levels[0];
  leaves.reserve(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    const std::string_view bytes = entries[k];
    leaves.push_back(LeafHash(bytes));
    EntryInfo& info = infos[k];
    if (Status s = ScanEntry(bytes, scratch); !s.ok()) {
      info.bad = true;
      chunk->errors.emplace_back(first + k, s.message());
      continue;
    }
    info.seq = scratch->seq;
    info.prev = scratch->prev;
    info.hits = scratch->decision_hits;
    if (scratch->kind == "access") {
      info.kind = KindCode::kAccess;
      info.policy_ok = DecodeHexHash(scratch->decision_policy, &info.policy);
    } else if (scratch->kind == "policy") {
      info.kind = KindCode::kPolicy;
      info.policy_ok = DecodeHexHash(scratch->body_sha256, &info.policy);
    }
    CountKind(*chunk, scratch->kind);
  }
  // Complete inner nodes of this (aligned) chunk.
  for (uint32_t l = 1; l <= kChunkLevels && chunk->levels[l - 1].size() >= 2; ++l) {
    const auto& below = chunk->levels[l - 1];
    std::vector<Hash> level(below.size() / 2);
    for (size_t i = 0; i < level.size(); ++i) level[i] = NodeHash(below[2 * i], below[2 * i + 1]);
    chunk->levels.push_back(std::move(level));
  }
}

// Serves complete-subtree hashes from the chunks (levels <= kChunkLevels)
// and from a tree over whole-chunk roots (levels above).
class ChunkNodes final : public NodeReader {
 public:
  ChunkNodes(const std::vector<Chunk>& chunks, MemoryTree& upper)
      : chunks_(chunks), upper_(upper) {}
  Result<Hash> GetNode(uint32_t level, uint64_t index) override {
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
  const std::vector<Chunk>& chunks_;
  MemoryTree& upper_;
};

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

std::string ReceivedAt(std::string_view bytes) {
  auto d = DecodeEntry(bytes);
  return d.ok() ? d->received_at : std::string();
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
  out << "OK: " << entries << " entries, " << checkpoints << " checkpoints (latest covers "
      << latest_checkpoint_size << "), " << policies << " policies, " << alerts << " alerts";
  if (!first_time.empty()) out << ", " << first_time << " .. " << last_time;
  return out.str();
}

Result<VerifyReport> VerifyEntries(std::span<const std::string_view> entries,
                                   std::span<const NamedCheckpoint> checkpoints,
                                   const VerifyOptions& options) {
  if (options.key.name.empty()) return Status::InvalidArgument("a verifier key is required");
  VerifyReport report;
  const uint64_t n = entries.size();

  // Checkpoints first: signatures, origin, and sizes within the log.
  std::vector<ParsedCheckpoint> cps;
  for (const NamedCheckpoint& named : checkpoints) {
    auto cp = OpenCheckpoint(named.note, options.key, options.key.name);
    if (!cp.ok()) {
      return Fail(report, std::nullopt, named.name,
                  "signature or format invalid: " + cp.status().message());
    }
    cps.push_back({named.name, std::move(cp).value()});
  }
  std::stable_sort(cps.begin(), cps.end(),
                   [](const auto& a, const auto& b) { return a.cp.size < b.cp.size; });
  std::optional<ParsedCheckpoint> trusted;
  if (options.trusted_checkpoint) {
    auto cp = OpenCheckpoint(*options.trusted_checkpoint, options.key, options.key.name);
    if (!cp.ok()) {
      return Fail(report, std::nullopt, "trusted", "trusted checkpoint does not verify: " +
                                                       cp.status().message());
    }
    trusted = ParsedCheckpoint{"trusted", std::move(cp).value()};
  }

  // Parallel pass: hash, scan and build each chunk's subtrees.
  std::vector<EntryInfo> infos(n);
  std::vector<Chunk> chunks((n + kChunk - 1) / kChunk);
  {
    unsigned threads = options.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<size_t>(threads, chunks.size()));
    std::atomic<size_t> next{0};
    auto worker = [&] {
      ScannedEntry scratch;
      for (size_t c; (c = next.fetch_add(1)) < chunks.size();) {
        const uint64_t first = c * kChunk;
        const size_t len = static_cast<size_t>(std::min<uint64_t>(kChunk, n - first));
        InspectChunk(entries.subspan(first, len), first, &infos[first], &chunks[c], &scratch);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }

  // Sequential walk: chain, order, policies, checkpoints.
  MemoryTree upper;  // over whole-chunk roots
  ChunkNodes nodes(chunks, upper);
  std::set<Hash> policies;
  size_t next_cp = 0;
  auto leaf = [&](uint64_t i) -> const Hash& { return chunks[i / kChunk].levels[0][i % kChunk]; };
  // Checks every checkpoint of `size` (and the trusted one) against the
  // recomputed root. Only computes a root when some checkpoint needs it.
  auto check_checkpoints = [&](uint64_t size) -> std::optional<VerifyReport> {
    const bool wanted = (next_cp < cps.size() && cps[next_cp].cp.size == size) ||
                        (trusted && trusted->cp.size == size);
    if (!wanted) return std::nullopt;
    Hash root = EmptyRoot();
    if (size > 0) {
      auto r = RootAt(size, nodes);
      if (!r.ok()) return Fail(report, size - 1, std::nullopt, r.status().message());
      root = *r;
    }
    const std::optional<uint64_t> last =
        size == 0 ? std::nullopt : std::optional<uint64_t>(size - 1);
    while (next_cp < cps.size() && cps[next_cp].cp.size == size) {
      const auto& p = cps[next_cp];
      if (p.cp.root != root) {
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
    if (trusted && trusted->cp.size == size && trusted->cp.root != root) {
      return Fail(report, last, "trusted",
                  "the log is not consistent with the trusted checkpoint at size " +
                      std::to_string(size) + " (a fork or a rewritten history)");
    }
    return std::nullopt;
  };
  if (auto f = check_checkpoints(0)) return *f;
  for (uint64_t i = 0; i < n; ++i) {
    const EntryInfo& e = infos[i];
    if (e.bad) {
      for (const auto& [seq, message] : chunks[i / kChunk].errors) {
        if (seq == i) return Fail(report, i, std::nullopt, message);
      }
    }
    if (e.seq != i) {
      return Fail(report, i, std::nullopt,
                  "line " + std::to_string(i + 1) + " holds seq " + std::to_string(e.seq) +
                      ", expected " + std::to_string(i) +
                      ": entries are missing, duplicated or out of order");
    }
    const Hash& expected_prev = i == 0 ? EmptyRoot() : leaf(i - 1);
    if (e.prev != expected_prev) {
      const uint64_t culprit = i == 0 ? 0 : i - 1;
      return Fail(report, culprit, std::nullopt,
                  i == 0 ? std::string("entry 0's prev is not the empty-tree hash")
                         : "entry " + std::to_string(i - 1) +
                               " does not hash to the prev recorded in entry " +
                               std::to_string(i) + ": entry " + std::to_string(i - 1) +
                               " (or entry " + std::to_string(i) + "'s prev) was altered");
    }
    if (e.kind == KindCode::kPolicy) {
      ++report.policies;
      if (e.policy_ok) policies.insert(e.policy);
    } else if (e.kind == KindCode::kAccess) {
      if (!e.policy_ok) {
        return Fail(report, i, std::nullopt,
                    "access entry has no decision.policy_sha256 (64 hex digits)");
      }
      if (!policies.contains(e.policy)) {
        return Fail(report, i, std::nullopt,
                    "access entry's decision names policy " + HashToHex(e.policy) +
                        ", which no earlier policy entry recorded");
      }
      report.alerts += e.hits;
    }
    if ((i + 1) % kChunk == 0) upper.AppendLeaf(chunks[i / kChunk].levels[kChunkLevels][0]);
    if (auto f = check_checkpoints(i + 1)) return *f;
    if (options.progress && (i + 1) % 65536 == 0) options.progress(i + 1, n);
  }
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
  report.entries = n;
  if (n > 0) {
    CUSTODY_ASSIGN_OR_RETURN(report.root, RootAt(n, nodes));
  } else {
    report.root = EmptyRoot();
  }
  for (const Chunk& c : chunks) {
    for (const auto& [kind, count] : c.kinds) report.kinds[kind] += count;
  }
  if (n > 0) {
    report.first_time = ReceivedAt(entries.front());
    report.last_time = ReceivedAt(entries.back());
  }
  report.ok = true;
  return report;
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
      // MAP_POPULATE: fault the whole file in at once rather than page by
      // page inside the (single-threaded) line split.
      void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
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

Result<std::string> ReadSmallFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<VerifyReport> VerifyBundle(const std::string& dir, const VerifyOptions& options) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return Status::NotFound(dir + " is not a directory");
  CUSTODY_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open((root / "entries.ndjson").string()));
  const std::string_view data = file.view();
  std::vector<std::string_view> entries;
  entries.reserve(data.size() / 400 + 1);
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) {
      VerifyReport r;
      return Fail(r, entries.size(), std::nullopt,
                  "entries.ndjson line " + std::to_string(entries.size() + 1) +
                      " has no final newline (truncated file?)");
    }
    entries.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
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
      CUSTODY_ASSIGN_OR_RETURN(std::string note, ReadSmallFile(p));
      checkpoints.push_back({"checkpoints/" + p.filename().string(), std::move(note)});
    }
  }
  if (checkpoints.empty()) {
    return Status::NotFound(dir + "/checkpoints holds no signed checkpoint");
  }
  return VerifyEntries(entries, checkpoints, options);
}

Result<VerifyReport> VerifyDataDir(const std::string& dir, const VerifyOptions& options) {
  LedgerOptions lo;
  lo.dir = dir;
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
