#include "custody/ledger/store.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "custody/ledger/merkle.h"
#include "lmdb_util.h"

namespace custody::ledger {
namespace {

constexpr char kKeyFile[] = "signing.key";
constexpr char kProducerSelf[] = "custodyd";

MDB_val IntKey(const size_t* k) { return MDB_val{sizeof(size_t), const_cast<size_t*>(k)}; }

// Data-directory formats (the `format` row of meta). Both keep one record
// per entry in `entries`; they differ in which tree nodes `nodes` holds:
//   custody-ledger-1  every complete node, leaves included (two records per
//                     entry, each 50 bytes of page space for 32 bytes of hash)
//   custody-ledger-2  only nodes at level >= kFirstStoredLevel; the levels
//                     below are recomputed from the entries when read (a
//                     level-1 node from two entries), which cuts the node
//                     records per entry from 2 to 1/2.
// New ledgers are created in format 2; format 1 ledgers are still opened
// and appended to in their own format, so older binaries keep reading them.
constexpr char kFormat1[] = "custody-ledger-1";
constexpr char kFormat2[] = "custody-ledger-2";
constexpr uint32_t kFirstStoredLevel = 2;

// Reads complete-subtree hashes inside `txn`: from the nodes table at levels
// >= first_stored_level, below that recomputed from the entries table.
class LmdbNodeReader final : public NodeReader {
 public:
  LmdbNodeReader(MDB_txn* txn, MDB_dbi entries, MDB_dbi nodes, uint32_t first_stored_level)
      : txn_(txn), entries_(entries), nodes_(nodes), first_stored_level_(first_stored_level) {}

  Result<Hash> GetNode(uint32_t level, uint64_t index) override {
    if (level < first_stored_level_) return Recompute(level, index);
    return Stored(level, index);
  }

  // The node as stored in the nodes table.
  Result<Hash> Stored(uint32_t level, uint64_t index) {
    const size_t key = NodeKey(level, index);
    MDB_val k = IntKey(&key), v;
    int rc = mdb_get(txn_, nodes_, &k, &v);
    if (rc != MDB_SUCCESS) {
      return FromMdb(rc, "node " + std::to_string(level) + "/" + std::to_string(index));
    }
    if (v.mv_size != kHashSize) {
      return Status::Corruption("node " + std::to_string(level) + "/" + std::to_string(index) +
                                " is " + std::to_string(v.mv_size) + " bytes");
    }
    Hash h;
    std::memcpy(h.data(), v.mv_data, kHashSize);
    return h;
  }

  // The node hashed from its 2^level entries (NotFound past the last entry).
  Result<Hash> Recompute(uint32_t level, uint64_t index) {
    if (level == 0) {
      const size_t key = index;
      MDB_val k = IntKey(&key), v;
      int rc = mdb_get(txn_, entries_, &k, &v);
      if (rc != MDB_SUCCESS) return FromMdb(rc, "entry " + std::to_string(index));
      return LeafHash(FromVal(v));
    }
    CUSTODY_ASSIGN_OR_RETURN(const Hash left, Recompute(level - 1, 2 * index));
    CUSTODY_ASSIGN_OR_RETURN(const Hash right, Recompute(level - 1, 2 * index + 1));
    return NodeHash(left, right);
  }

 private:
  MDB_txn* txn_;
  MDB_dbi entries_;
  MDB_dbi nodes_;
  uint32_t first_stored_level_;
};

// The number of entries visible in `txn` (last key + 1).
Result<uint64_t> CountEntries(MDB_txn* txn, MDB_dbi entries) {
  MDB_cursor* c = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_cursor_open(txn, entries, &c), "open cursor"));
  MDB_val k, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  mdb_cursor_close(c);
  if (rc == MDB_NOTFOUND) return uint64_t{0};
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "last entry"));
  if (k.mv_size != sizeof(size_t)) return Status::Corruption("entries table has a bad key");
  size_t last;
  std::memcpy(&last, k.mv_data, sizeof last);
  return uint64_t{last} + 1;
}

// Entry `seq` of a log of `size` entries as `txn` sees it (read or write).
Result<std::string_view> EntryIn(MDB_txn* txn, MDB_dbi entries, uint64_t size, uint64_t seq) {
  if (seq >= size) {
    return Status::NotFound("no entry " + std::to_string(seq) + " (log size " +
                            std::to_string(size) + ")");
  }
  const size_t key = seq;
  MDB_val k = IntKey(&key), v;
  int rc = mdb_get(txn, entries, &k, &v);
  if (rc == MDB_NOTFOUND) return Status::Corruption("entry " + std::to_string(seq) + " is missing");
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "entry"));
  return FromVal(v);
}

}  // namespace

// ---------------------------------------------------------------- Ledger::Impl

// The committed state the next write starts from. Guarded by state_mu.
struct CommittedState {
  CompactRange range;
  Hash last_leaf = EmptyRoot();
  std::string checkpoint;
};

struct Ledger::Impl {
  LedgerOptions options;
  MDB_env* env = nullptr;
  MDB_dbi entries = 0, nodes = 0, checkpoints = 0, meta = 0;
  uint32_t first_stored_level = 0;  // set from the format by InitMeta
  std::optional<SigningKey> key;
  VerifierKey verifier;
  std::string origin;

  // Readers and the writer hold it shared for the life of a transaction;
  // growing the map takes it exclusively (LMDB requires no live txns).
  mutable std::shared_mutex resize_mu;
  std::atomic<uint64_t> map_size{0};

  std::mutex write_mu;  // held for a whole Write()
  mutable std::mutex state_mu;
  CommittedState state;
  std::atomic<uint64_t> size{0};

  // The zero fill of data.mdb's slack (FillSlackStep) runs on its own
  // thread, woken after commits, so that commits do not wait for it.
  std::thread filler;
  std::mutex filler_mu;
  std::condition_variable filler_cv;
  bool filler_wake = false, filler_stop = false;  // guarded by filler_mu
  bool filler_topping_up = false;                 // guarded by write_mu
  uint64_t filler_target_end = 0;                 // of the top-up under way; write_mu

  ~Impl() {
    if (filler.joinable()) {
      {
        std::lock_guard lock(filler_mu);
        filler_stop = true;
      }
      filler_cv.notify_one();
      filler.join();
    }
    if (env != nullptr) mdb_env_close(env);
  }

  Status OpenEnv();
  Status OpenTables();
  Status InitMeta();
  Status LoadState();
  Status Grow();
  uint64_t FillSlackStep();
  Status CommitFailure(int rc);
  void RunFiller();
  void WakeFiller();
};

Status Ledger::Impl::OpenEnv() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(options.dir, ec)) {
    if (options.read_only || !options.create_if_missing) {
      return Status::NotFound("ledger directory " + options.dir + " does not exist");
    }
    fs::create_directories(options.dir, ec);
    if (ec) return Status::IOError("cannot create " + options.dir + ": " + ec.message());
    ::chmod(options.dir.c_str(), 0700);
  }
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_env_create(&env), "env create"));
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_env_set_maxdbs(env, 4 + options.max_tables), "set maxdbs"));
  CUSTODY_RETURN_IF_ERROR(
      FromMdb(mdb_env_set_mapsize(env, options.initial_map_size), "set mapsize"));
  // NOTLS: a ReadView may be created on one thread and used on another.
  // NOLOCK for read-only opens: the verifier reads a copy and must not write
  // even a lock file into it.
  unsigned flags = MDB_NOTLS;
  if (options.read_only) flags |= MDB_RDONLY | MDB_NOLOCK;
  int rc = mdb_env_open(env, options.dir.c_str(), flags, 0600);
  if (rc != MDB_SUCCESS) return FromMdb(rc, "open " + options.dir);
  MDB_envinfo info;
  mdb_env_info(env, &info);
  map_size = info.me_mapsize;
  return Status::Ok();
}

Status Ledger::Impl::OpenTables() {
  MDB_txn* raw = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(
      mdb_txn_begin(env, nullptr, options.read_only ? MDB_RDONLY : 0, &raw), "begin"));
  TxnHandle txn(raw);
  const unsigned create = options.read_only ? 0 : MDB_CREATE;
  auto open = [&](const char* name, unsigned flags, MDB_dbi* dbi) {
    int rc = mdb_dbi_open(txn.get(), name, flags | create, dbi);
    if (rc == MDB_NOTFOUND) {
      return Status::NotFound(options.dir + " is not a custody ledger (no '" + name + "' table)");
    }
    return FromMdb(rc, std::string("open table ") + name);
  };
  CUSTODY_RETURN_IF_ERROR(open("entries", MDB_INTEGERKEY, &entries));
  CUSTODY_RETURN_IF_ERROR(open("nodes", MDB_INTEGERKEY, &nodes));
  CUSTODY_RETURN_IF_ERROR(open("checkpoints", MDB_INTEGERKEY, &checkpoints));
  CUSTODY_RETURN_IF_ERROR(open("meta", 0, &meta));
  // Committing (not aborting) keeps the handles open after the txn ends,
  // read-only or not.
  return txn.Commit();
}

Status Ledger::Impl::InitMeta() {
  MDB_txn* raw = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(
      mdb_txn_begin(env, nullptr, options.read_only ? MDB_RDONLY : 0, &raw), "begin"));
  TxnHandle txn(raw);
  auto get = [&](std::string_view name) -> std::optional<std::string> {
    MDB_val k = ToVal(name), v;
    if (mdb_get(txn.get(), meta, &k, &v) != MDB_SUCCESS) return std::nullopt;
    return std::string(FromVal(v));
  };
  auto put = [&](std::string_view name, std::string_view value) {
    MDB_val k = ToVal(name), v = ToVal(value);
    return FromMdb(mdb_put(txn.get(), meta, &k, &v, 0), "put meta");
  };
  const std::string key_path = (std::filesystem::path(options.dir) / kKeyFile).string();
  std::optional<std::string> format = get("format");
  if (!format) {
    if (options.read_only) return Status::NotFound(options.dir + " holds no custody ledger");
    if (options.origin.empty()) return Status::InvalidArgument("creating a ledger needs an origin");
    auto loaded = SigningKey::Load(key_path);
    if (loaded.status().IsNotFound()) {
      CUSTODY_ASSIGN_OR_RETURN(SigningKey fresh, SigningKey::Generate(options.origin));
      CUSTODY_RETURN_IF_ERROR(fresh.Save(key_path));
      key.emplace(std::move(fresh));
    } else if (!loaded.ok()) {
      return loaded.status();
    } else {
      key.emplace(std::move(loaded).value());
    }
    if (key->name() != options.origin) {
      return Status::InvalidArgument(key_path + " is named \"" + key->name() +
                                     "\" but the origin is \"" + options.origin + "\"");
    }
    CUSTODY_RETURN_IF_ERROR(put("format", kFormat2));
    first_stored_level = kFirstStoredLevel;
    CUSTODY_RETURN_IF_ERROR(put("origin", options.origin));
    CUSTODY_RETURN_IF_ERROR(put("verifier_key", key->verifier().ToString()));
    origin = options.origin;
    verifier = key->verifier();
    return txn.Commit();
  }
  if (*format == kFormat1) {
    first_stored_level = 0;
  } else if (*format == kFormat2) {
    first_stored_level = kFirstStoredLevel;
  } else {
    return Status::Corruption(options.dir + ": unknown ledger format \"" + *format + "\"");
  }
  std::optional<std::string> stored_origin = get("origin");
  std::optional<std::string> stored_verifier = get("verifier_key");
  if (!stored_origin || !stored_verifier) {
    return Status::Corruption(options.dir + ": ledger meta lacks origin or verifier key");
  }
  if (!options.origin.empty() && options.origin != *stored_origin) {
    return Status::InvalidArgument(options.dir + " holds the log \"" + *stored_origin +
                                   "\", not \"" + options.origin + "\"");
  }
  origin = *stored_origin;
  CUSTODY_ASSIGN_OR_RETURN(verifier, VerifierKey::Parse(*stored_verifier));
  if (!options.read_only) {
    CUSTODY_ASSIGN_OR_RETURN(SigningKey loaded, SigningKey::Load(key_path));
    if (!(loaded.verifier() == verifier)) {
      return Status::PermissionDenied(key_path + " is not the key this ledger was created with (" +
                                      verifier.ToString() + ")");
    }
    key.emplace(std::move(loaded));
  }
  return Status::Ok();
}

Status Ledger::Impl::LoadState() {
  MDB_txn* raw = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_txn_begin(env, nullptr, MDB_RDONLY, &raw), "begin"));
  TxnHandle txn(raw);
  CUSTODY_ASSIGN_OR_RETURN(uint64_t n, CountEntries(txn.get(), entries));
  if (options.read_only) {
    // A read-only open serves the verifier, which recomputes everything
    // itself and reports damage entry by entry; refusing to open here would
    // hide where the damage is.
    size = n;
    return Status::Ok();
  }
  LmdbNodeReader reader(txn.get(), entries, nodes, first_stored_level);
  auto range = CompactRange::Load(n, reader);
  if (!range.ok()) return range.status().Annotate("loading the tree at size " + std::to_string(n));
  CommittedState loaded;
  loaded.range = std::move(range).value();
  if (n > 0) {
    CUSTODY_ASSIGN_OR_RETURN(loaded.last_leaf, reader.Recompute(0, n - 1));
    // The newest entries must hash to the stored tree: a cheap check that the
    // tail of the log is intact before we extend it. When the lowest stored
    // node holding the last entry is complete, compare it with the entries
    // under it; otherwise the frontier's last hash is recomputed from those
    // entries and the root check against the signed checkpoint below covers
    // them.
    const uint32_t level = first_stored_level;
    if (n % (uint64_t{1} << level) == 0) {
      const uint64_t index = (n - 1) >> level;
      CUSTODY_ASSIGN_OR_RETURN(const Hash stored, reader.Stored(level, index));
      CUSTODY_ASSIGN_OR_RETURN(const Hash computed, reader.Recompute(level, index));
      if (stored != computed) {
        return Status::Corruption("entries " + std::to_string(index << level) + ".." +
                                  std::to_string(n - 1) + " do not match their stored tree node");
      }
    }
    MDB_cursor* c = nullptr;
    CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_cursor_open(txn.get(), checkpoints, &c), "cursor"));
    MDB_val ck, cv;
    int rc = mdb_cursor_get(c, &ck, &cv, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) return Status::Corruption("log has entries but no checkpoint");
    CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "latest checkpoint"));
    loaded.checkpoint = std::string(FromVal(cv));
    auto cp = OpenCheckpoint(loaded.checkpoint, verifier, origin);
    if (!cp.ok()) return cp.status().Annotate("latest checkpoint");
    if (cp->size != n || cp->root != loaded.range.Root()) {
      return Status::Corruption("latest checkpoint (size " + std::to_string(cp->size) +
                                ") does not match the stored tree (size " + std::to_string(n) +
                                ")");
    }
  }
  std::lock_guard lock(state_mu);
  state = std::move(loaded);
  size = n;
  return Status::Ok();
}

Status Ledger::Impl::Grow() {
  std::unique_lock lock(resize_mu);
  const uint64_t current = map_size.load();
  if (current >= options.max_map_size) {
    return Status::Unavailable("ledger map is full at max_map_size " + std::to_string(current) +
                               " bytes; raise max_map_size");
  }
  const uint64_t next = std::min(current * 2, options.max_map_size);
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_env_set_mapsize(env, next), "grow map"));
  MDB_envinfo info;
  mdb_env_info(env, &info);
  map_size = info.me_mapsize;
  return Status::Ok();
}

// Keeps zero-filled, already-allocated space in data.mdb past LMDB's last
// page, so that commits overwrite written blocks instead of growing the
// file: on ext4 (and xfs) an fdatasync that follows a size change must also
// commit the file system journal, a second device flush per commit.
// LMDB never reads past its last page and writes pages at their own
// offsets, so the zeros are just free space to it. A step writes at most
// 1 MiB, only from the current end of the file, only within the map, and
// only while write_mu is held, so no LMDB write can extend the file at the
// same time; the filler thread then flushes it outside the lock. Failures
// (a full disk) are ignored: the slack is an optimisation, the data intact.
// Returns the bytes written (0: enough slack, or an error).
uint64_t Ledger::Impl::FillSlackStep() {
  MDB_envinfo info;
  MDB_stat st;
  mdb_filehandle_t fd;
  if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &st) != 0 ||
      mdb_env_get_fd(env, &fd) != 0) {
    return 0;
  }
  struct stat file;
  if (::fstat(fd, &file) != 0) return 0;
  const uint64_t used = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  const uint64_t end = static_cast<uint64_t>(file.st_size);
  // Slack proportional to the data (small ledgers stay small), topped up
  // once half of it is used.
  const uint64_t want = std::clamp<uint64_t>(used / 8, 1 << 20, options.preallocate_max);
  if (end >= info.me_mapsize) return 0;
  if (!filler_topping_up) {
    if (end >= used + want / 2) return 0;
    // A top-up fills to where it was asked to when it started: commits
    // meanwhile do not move the goal (they use slack, and a later top-up
    // replaces it), so each one is bounded.
    filler_topping_up = true;
    filler_target_end = std::min<uint64_t>(used + want, info.me_mapsize);
  }
  if (end >= filler_target_end) {
    filler_topping_up = false;
    return 0;
  }
  const uint64_t step = std::min<uint64_t>(uint64_t{1} << 20, filler_target_end - end);
  static const std::array<char, 65536> kZeros{};
  for (uint64_t done = 0; done < step;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), step - done));
    const ssize_t wrote = ::pwrite(fd, kZeros.data(), n, static_cast<off_t>(end + done));
    if (wrote <= 0) {  // ENOSPC and the like: try again after a later commit
      filler_topping_up = false;
      return 0;
    }
    done += static_cast<uint64_t>(wrote);
  }
  return step;
}

// LMDB reports a short page write as EIO: tell a full disk or a file size
// limit, which a writer can wait out (Unavailable), from a real I/O error.
Status Ledger::Impl::CommitFailure(int rc) {
  Status status = FromMdb(rc, "commit");
  if (rc != EIO && rc != ENOSPC && rc != EFBIG && rc != EDQUOT) return status;
  struct statvfs vfs;
  if (::statvfs(options.dir.c_str(), &vfs) == 0) {
    const uint64_t blocks = ::geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail;
    const uint64_t free_bytes = blocks * vfs.f_frsize;
    if (free_bytes < (uint64_t{16} << 20)) {
      return Status::Unavailable("lmdb commit: the disk holding " + options.dir + " is full (" +
                                 std::to_string(free_bytes) +
                                 " bytes free); nothing was written; free space and retry");
    }
  }
  struct rlimit limit;
  mdb_filehandle_t fd;
  struct stat file;
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      mdb_env_get_fd(env, &fd) == 0 && ::fstat(fd, &file) == 0 &&
      static_cast<uint64_t>(file.st_size) + (uint64_t{1} << 20) >= limit.rlim_cur) {
    return Status::Unavailable("lmdb commit: data.mdb reached the file size limit of " +
                               std::to_string(limit.rlim_cur) +
                               " bytes (RLIMIT_FSIZE; LimitFSIZE= in the unit, ulimit -f); "
                               "nothing was written; raise it and retry");
  }
  return status;
}

void Ledger::Impl::RunFiller() {
  mdb_filehandle_t fd;
  if (mdb_env_get_fd(env, &fd) != 0) return;
  for (;;) {
    {
      std::unique_lock lock(filler_mu);
      filler_cv.wait(lock, [&] { return filler_wake || filler_stop; });
      if (filler_stop) return;
      filler_wake = false;
    }
    for (;;) {
      uint64_t wrote;
      {
        // As Write() takes them: the step must not race a commit's pages,
        // nor Grow()'s change of the map size.
        std::lock_guard write_lock(write_mu);
        std::shared_lock resize_lock(resize_mu);
        wrote = FillSlackStep();
      }
      if (wrote == 0) break;
      ::fdatasync(fd);
      std::lock_guard lock(filler_mu);
      if (filler_stop) return;
    }
  }
}

void Ledger::Impl::WakeFiller() {
  if (!filler.joinable()) return;
  {
    std::lock_guard lock(filler_mu);
    filler_wake = true;
  }
  filler_cv.notify_one();
}

// ---------------------------------------------------------------- WriteTxn

struct WriteTxn::State {
  Ledger::Impl* ledger;
  TxnHandle txn;
  CompactRange range;
  Hash last_leaf;
  uint64_t first_seq = 0;
  bool map_full = false;
  std::string scratch;

  Status Check(int rc, std::string_view what) {
    if (rc == MDB_MAP_FULL) map_full = true;
    return FromMdb(rc, what);
  }
};

uint64_t WriteTxn::size() const { return state_->range.size(); }

Result<uint64_t> WriteTxn::Append(const PendingEntry& entry) {
  State& s = *state_;
  const size_t seq = s.range.size();
  s.scratch.clear();
  EncodeEntry(seq, s.last_leaf, entry, &s.scratch);
  const Hash leaf = LeafHash(s.scratch);
  MDB_val k = IntKey(&seq), v = ToVal(s.scratch);
  CUSTODY_RETURN_IF_ERROR(
      s.Check(mdb_put(s.txn.get(), s.ledger->entries, &k, &v, MDB_APPEND), "append entry"));
  Status node_status;
  const uint32_t first_stored = s.ledger->first_stored_level;
  s.range.Append(leaf, [&](uint32_t level, uint64_t index, const Hash& hash) {
    if (level < first_stored || !node_status.ok()) return;
    const size_t key = NodeKey(level, index);
    MDB_val nk = IntKey(&key);
    MDB_val nv{kHashSize, const_cast<uint8_t*>(hash.data())};
    node_status = s.Check(mdb_put(s.txn.get(), s.ledger->nodes, &nk, &nv, MDB_APPEND), "append node");
  });
  CUSTODY_RETURN_IF_ERROR(node_status);
  s.last_leaf = leaf;
  last_entry_.swap(s.scratch);
  return uint64_t{seq};
}

Status WriteTxn::Put(Table table, std::string_view key, std::string_view value) {
  MDB_val k = ToVal(key), v = ToVal(value);
  return state_->Check(mdb_put(state_->txn.get(), table.dbi, &k, &v, 0), "put");
}

Status WriteTxn::Delete(Table table, std::string_view key) {
  MDB_val k = ToVal(key);
  return state_->Check(mdb_del(state_->txn.get(), table.dbi, &k, nullptr), "delete");
}

Result<std::string_view> WriteTxn::Entry(uint64_t seq) {
  return EntryIn(state_->txn.get(), state_->ledger->entries, size(), seq);
}

Result<std::optional<std::string_view>> WriteTxn::Get(Table table, std::string_view key) {
  MDB_val k = ToVal(key), v;
  int rc = mdb_get(state_->txn.get(), table.dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "get"));
  return std::optional<std::string_view>(FromVal(v));
}

Result<Cursor> WriteTxn::NewCursor(Table table) {
  MDB_cursor* c = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_cursor_open(state_->txn.get(), table.dbi, &c), "cursor"));
  return Cursor(c);
}

// ---------------------------------------------------------------- Cursor

Cursor::Cursor(Cursor&& o) noexcept
    : cursor_(std::exchange(o.cursor_, nullptr)), key_(o.key_), value_(o.value_) {}
Cursor& Cursor::operator=(Cursor&& o) noexcept {
  if (this != &o) {
    if (cursor_ != nullptr) mdb_cursor_close(static_cast<MDB_cursor*>(cursor_));
    cursor_ = std::exchange(o.cursor_, nullptr);
    key_ = o.key_;
    value_ = o.value_;
  }
  return *this;
}
Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(static_cast<MDB_cursor*>(cursor_));
}

Result<bool> Cursor::Move(int op, std::string_view key) {
  MDB_val k = ToVal(key), v;
  int rc = mdb_cursor_get(static_cast<MDB_cursor*>(cursor_), &k, &v, static_cast<MDB_cursor_op>(op));
  if (rc == MDB_NOTFOUND) {
    key_ = value_ = {};
    return false;
  }
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "cursor"));
  key_ = FromVal(k);
  value_ = FromVal(v);
  return true;
}
Result<bool> Cursor::Seek(std::string_view key) { return Move(MDB_SET_RANGE, key); }
Result<bool> Cursor::SeekFirst() { return Move(MDB_FIRST); }
Result<bool> Cursor::SeekLast() { return Move(MDB_LAST); }
Result<bool> Cursor::Next() { return Move(MDB_NEXT); }
Result<bool> Cursor::Prev() { return Move(MDB_PREV); }

// ---------------------------------------------------------------- ReadView

struct ReadView::Impl {
  std::shared_lock<std::shared_mutex> resize_lock;
  Ledger::Impl* ledger;
  TxnHandle txn;
};

ReadView::ReadView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReadView::ReadView(ReadView&&) noexcept = default;
ReadView& ReadView::operator=(ReadView&&) noexcept = default;
ReadView::~ReadView() {
  if (impl_) impl_->txn.Abort();  // end the txn before releasing the resize lock
}

Result<std::string_view> ReadView::Entry(uint64_t seq) {
  return EntryIn(impl_->txn.get(), impl_->ledger->entries, size_, seq);
}

Result<std::string_view> ReadView::CheckpointAt(uint64_t size) {
  const size_t key = size;
  MDB_val k = IntKey(&key), v;
  int rc = mdb_get(impl_->txn.get(), impl_->ledger->checkpoints, &k, &v);
  if (rc == MDB_NOTFOUND) return Status::NotFound("no checkpoint for size " + std::to_string(size));
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "checkpoint"));
  return FromVal(v);
}

Result<std::string_view> ReadView::CheckpointAtOrBelow(uint64_t size, uint64_t* found) {
  MDB_cursor* c = nullptr;
  CUSTODY_RETURN_IF_ERROR(
      FromMdb(mdb_cursor_open(impl_->txn.get(), impl_->ledger->checkpoints, &c), "cursor"));
  const size_t key = size;
  MDB_val k = IntKey(&key), v;
  // The first key >= size; if it is not size itself, the one before it.
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  } else if (rc == MDB_SUCCESS && *static_cast<const size_t*>(k.mv_data) != size) {
    rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
  }
  mdb_cursor_close(c);
  if (rc == MDB_NOTFOUND) {
    return Status::NotFound("no checkpoint was signed at or below size " + std::to_string(size));
  }
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "checkpoint"));
  size_t at;
  std::memcpy(&at, k.mv_data, sizeof at);
  *found = at;
  return FromVal(v);
}

Result<std::string_view> ReadView::LatestCheckpoint() {
  MDB_cursor* c = nullptr;
  CUSTODY_RETURN_IF_ERROR(
      FromMdb(mdb_cursor_open(impl_->txn.get(), impl_->ledger->checkpoints, &c), "cursor"));
  MDB_val k, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  mdb_cursor_close(c);
  if (rc == MDB_NOTFOUND) return Status::NotFound("the log is empty: no checkpoint yet");
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "checkpoint"));
  return FromVal(v);
}

Status ReadView::ForEachCheckpoint(const std::function<Status(uint64_t, std::string_view)>& fn) {
  MDB_cursor* c = nullptr;
  CUSTODY_RETURN_IF_ERROR(
      FromMdb(mdb_cursor_open(impl_->txn.get(), impl_->ledger->checkpoints, &c), "cursor"));
  Cursor cursor(c);
  CUSTODY_ASSIGN_OR_RETURN(bool more, cursor.SeekFirst());
  while (more) {
    size_t size;
    if (cursor.key().size() != sizeof size) return Status::Corruption("bad checkpoint key");
    std::memcpy(&size, cursor.key().data(), sizeof size);
    CUSTODY_RETURN_IF_ERROR(fn(size, cursor.value()));
    CUSTODY_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  return Status::Ok();
}

namespace {
Status CheckSize(uint64_t size, uint64_t have) {
  if (size > have) {
    return Status::InvalidArgument("tree size " + std::to_string(size) + " is beyond the log (" +
                                   std::to_string(have) + " entries)");
  }
  return Status::Ok();
}
}  // namespace

Result<Hash> ReadView::RootAt(uint64_t size) {
  CUSTODY_RETURN_IF_ERROR(CheckSize(size, size_));
  LmdbNodeReader reader(impl_->txn.get(), impl_->ledger->entries, impl_->ledger->nodes,
                        impl_->ledger->first_stored_level);
  return ledger::RootAt(size, reader);
}

Result<CompactRange> ReadView::CompactRangeAt(uint64_t size) {
  CUSTODY_RETURN_IF_ERROR(CheckSize(size, size_));
  LmdbNodeReader reader(impl_->txn.get(), impl_->ledger->entries, impl_->ledger->nodes,
                        impl_->ledger->first_stored_level);
  return CompactRange::Load(size, reader);
}

Result<std::vector<Hash>> ReadView::InclusionProof(uint64_t index, uint64_t size) {
  CUSTODY_RETURN_IF_ERROR(CheckSize(size, size_));
  LmdbNodeReader reader(impl_->txn.get(), impl_->ledger->entries, impl_->ledger->nodes,
                        impl_->ledger->first_stored_level);
  return ledger::InclusionProof(index, size, reader);
}

Result<std::vector<Hash>> ReadView::ConsistencyProof(uint64_t from, uint64_t to) {
  CUSTODY_RETURN_IF_ERROR(CheckSize(to, size_));
  LmdbNodeReader reader(impl_->txn.get(), impl_->ledger->entries, impl_->ledger->nodes,
                        impl_->ledger->first_stored_level);
  return ledger::ConsistencyProof(from, to, reader);
}

Result<std::optional<std::string_view>> ReadView::Get(Table table, std::string_view key) {
  MDB_val k = ToVal(key), v;
  int rc = mdb_get(impl_->txn.get(), table.dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "get"));
  return std::optional<std::string_view>(FromVal(v));
}

Result<Cursor> ReadView::NewCursor(Table table) {
  MDB_cursor* c = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_cursor_open(impl_->txn.get(), table.dbi, &c), "cursor"));
  return Cursor(c);
}

Result<Cursor> ReadView::NewEntryCursor() { return NewCursor(Table{impl_->ledger->entries}); }

// ---------------------------------------------------------------- Ledger

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::Open(const LedgerOptions& options) {
  EnsureSodium();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.max_map_size < impl->options.initial_map_size) {
    impl->options.max_map_size = impl->options.initial_map_size;
  }
  CUSTODY_RETURN_IF_ERROR(impl->OpenEnv());
  CUSTODY_RETURN_IF_ERROR(impl->OpenTables());
  CUSTODY_RETURN_IF_ERROR(impl->InitMeta());
  CUSTODY_RETURN_IF_ERROR(impl->LoadState());
  if (!impl->options.read_only && impl->options.preallocate_max > 0) {
    Impl* raw = impl.get();
    raw->filler = std::thread([raw] {
      pthread_setname_np(pthread_self(), "ledger-prealloc");
      raw->RunFiller();
    });
    raw->WakeFiller();  // a ledger opened with too little slack gets it now
  }
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Result<Table> Ledger::OpenTable(const std::string& name) {
  if (name == "entries" || name == "nodes" || name == "checkpoints" || name == "meta") {
    return Status::InvalidArgument("table name \"" + name + "\" is reserved by the ledger");
  }
  const bool ro = impl_->options.read_only;
  // A write transaction, ordered like Write()'s (the slack filler relies on
  // write_mu to keep LMDB from extending the file under it).
  std::unique_lock<std::mutex> write_lock;
  if (!ro) write_lock = std::unique_lock(impl_->write_mu);
  std::shared_lock lock(impl_->resize_mu);
  MDB_txn* raw = nullptr;
  CUSTODY_RETURN_IF_ERROR(
      FromMdb(mdb_txn_begin(impl_->env, nullptr, ro ? MDB_RDONLY : 0, &raw), "begin"));
  TxnHandle txn(raw);
  MDB_dbi dbi;
  int rc = mdb_dbi_open(txn.get(), name.c_str(), ro ? 0 : MDB_CREATE, &dbi);
  if (rc == MDB_NOTFOUND) return Status::NotFound("no table \"" + name + "\"");
  CUSTODY_RETURN_IF_ERROR(FromMdb(rc, "open table " + name));
  CUSTODY_RETURN_IF_ERROR(txn.Commit());  // also for read-only: keeps the handle open
  return Table{dbi};
}

Result<CommitInfo> Ledger::Write(const std::function<Status(WriteTxn&)>& work) {
  Impl& im = *impl_;
  if (im.options.read_only || !im.key) {
    return Status::FailedPrecondition("ledger opened read-only");
  }
  for (;;) {
    bool grow = false;
    Result<CommitInfo> result = [&]() -> Result<CommitInfo> {
      // One writer at a time, from the snapshot of the committed tree to the
      // publication of the new one (LMDB's own writer lock is released by
      // the commit, before the new state is published).
      std::lock_guard write_lock(im.write_mu);
      std::shared_lock lock(im.resize_mu);
      WriteTxn::State st;
      st.ledger = &im;
      MDB_txn* raw = nullptr;
      CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_txn_begin(im.env, nullptr, 0, &raw), "begin write"));
      st.txn = TxnHandle(raw);
      {
        std::lock_guard state_lock(im.state_mu);
        st.range = im.state.range;
        st.last_leaf = im.state.last_leaf;
      }
      st.first_seq = st.range.size();
      WriteTxn txn(&st);
      Status s = work(txn);
      if (st.map_full) {
        grow = true;
        return s.ok() ? Status::Unavailable("map full") : s;
      }
      CUSTODY_RETURN_IF_ERROR(s);

      CommitInfo info;
      info.first_seq = st.first_seq;
      info.size = st.range.size();
      info.root = st.range.Root();
      if (info.size != st.first_seq) {
        Checkpoint cp{im.origin, info.size, info.root, {}};
        CUSTODY_ASSIGN_OR_RETURN(info.checkpoint, SignCheckpoint(cp, *im.key));
        const size_t key = info.size;
        MDB_val k = IntKey(&key), v = ToVal(info.checkpoint);
        Status put = st.Check(mdb_put(st.txn.get(), im.checkpoints, &k, &v, MDB_APPEND),
                              "put checkpoint");
        if (st.map_full) grow = true;
        CUSTODY_RETURN_IF_ERROR(put);
      }
      const int rc = st.txn.CommitRaw();
      if (rc == MDB_MAP_FULL) {
        grow = true;
        return FromMdb(rc, "commit");
      }
      if (rc != MDB_SUCCESS) return im.CommitFailure(rc);

      {
        std::lock_guard state_lock(im.state_mu);
        if (info.size != st.first_seq) {
          im.state.range = std::move(st.range);
          im.state.last_leaf = st.last_leaf;
          im.state.checkpoint = info.checkpoint;
          im.size = info.size;
        } else {
          info.checkpoint = im.state.checkpoint;
        }
      }
      im.WakeFiller();
      return info;
    }();
    if (!grow) return result;
    CUSTODY_RETURN_IF_ERROR(im.Grow());
  }
}

Result<CommitInfo> Ledger::AppendBatch(std::span<const PendingEntry> batch) {
  return Write([&](WriteTxn& txn) -> Status {
    for (const PendingEntry& e : batch) {
      CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append(e));
      (void)seq;
    }
    return Status::Ok();
  });
}

Result<ReadView> Ledger::Read() {
  auto impl = std::make_unique<ReadView::Impl>();
  impl->resize_lock = std::shared_lock(impl_->resize_mu);
  impl->ledger = impl_.get();
  MDB_txn* raw = nullptr;
  CUSTODY_RETURN_IF_ERROR(FromMdb(mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &raw), "begin read"));
  impl->txn = TxnHandle(raw);
  CUSTODY_ASSIGN_OR_RETURN(uint64_t n, CountEntries(raw, impl_->entries));
  ReadView view(std::move(impl));
  view.size_ = n;
  return view;
}

uint64_t Ledger::size() const { return impl_->size.load(); }

std::string Ledger::LatestCheckpoint() const {
  std::lock_guard lock(impl_->state_mu);
  return impl_->state.checkpoint;
}

Hash Ledger::LatestRoot() const {
  std::lock_guard lock(impl_->state_mu);
  return impl_->state.range.Root();
}

const std::string& Ledger::origin() const { return impl_->origin; }
const VerifierKey& Ledger::verifier_key() const { return impl_->verifier; }
SigningKey::ReadableHold Ledger::KeepSigningKeyReadable() const {
  return impl_->key ? impl_->key->KeepReadable() : SigningKey::ReadableHold();
}
const std::string& Ledger::dir() const { return impl_->options.dir; }
uint64_t Ledger::map_size() const { return impl_->map_size.load(); }

}  // namespace custody::ledger
