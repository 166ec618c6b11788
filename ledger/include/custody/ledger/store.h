// Ledger: the verifiable log in an LMDB environment.
//
// One Ledger owns one data directory:
//   <dir>/data.mdb, lock.mdb   LMDB environment
//   <dir>/signing.key          Ed25519 signer key (0600), created on first open
// and these LMDB sub-databases:
//   entries      seq (native uint64)       -> canonical entry bytes
//   nodes        NodeKey(level, index)     -> 32-byte complete-subtree hash, for
//                                           levels >= 2 (format custody-ledger-2;
//                                           lower ones are hashed from entries when
//                                           read) or every level (custody-ledger-1)
//   checkpoints  tree size (native uint64) -> signed checkpoint note
//   meta         name                      -> value (format, origin, verifier key)
// Callers (the daemon) add their own tables with OpenTable and write them in
// the same transaction as the entries they describe, so an event, its index
// rows and its alert outbox rows commit together or not at all.
//
// Writes: one writer. Write() runs a function inside one LMDB write
// transaction that may append entries and write tables; on success the tree
// is extended, a checkpoint for the new size is signed and stored in the same
// transaction, and the transaction is committed with fsync. Only then does
// Write() return, with the signed checkpoint. (Ed25519 signatures are
// deterministic, so a signature over a tree that failed to commit is never
// observable: nothing leaves the process before the commit.)
//
// Durability: every Write() that returned ok survives kill -9 and power loss
// (LMDB's default durable commit). A Write() that failed changed nothing;
// one that failed for want of space (a full disk, a quota, a file size
// limit) is Unavailable and says which, other I/O failures are IOError.
//
// Map size: the environment starts at `initial_map_size` and doubles when a
// write hits MDB_MAP_FULL, up to `max_map_size`; beyond that Write() returns
// Unavailable and the ledger is unchanged. Growing waits for readers to leave
// (readers hold a shared lock for the life of their ReadView).
//
// Thread safety: Write() may be called from several threads; LMDB's writer
// lock serialises them (custodyd appends from one appender thread, and its
// alert dispatcher uses Write() only to clear delivered outbox rows). Reads
// (ReadView, proofs, LatestCheckpoint, size) from any number of threads,
// concurrently with the writer; each ReadView is a consistent snapshot.
#ifndef CUSTODY_LEDGER_STORE_H_
#define CUSTODY_LEDGER_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"
#include "custody/ledger/merkle.h"

namespace custody::ledger {

struct LedgerOptions {
  std::string dir;                       // created (0700) if missing and !read_only
  std::string origin;                    // the log's name; required to create a ledger
  bool read_only = false;                // open an existing ledger for reading only
  bool create_if_missing = true;
  uint64_t initial_map_size = 64ull << 20;
  uint64_t max_map_size = 1ull << 40;
  unsigned max_tables = 32;              // sub-databases the caller may add
  // Keep up to this much zero-filled space past the data in data.mdb (an
  // eighth of the data, at least 1 MiB; topped up when half is used, 1 MiB
  // at a time by a thread of the ledger between commits), so that commits
  // do not grow the file (store.cc FillSlackStep).
  // 0: never; the file grows with every commit that adds pages.
  uint64_t preallocate_max = 0;
};

// A handle to a caller-defined table (an LMDB named database). Keys compare
// as byte strings (use big-endian integers for numeric order).
struct Table {
  uint32_t dbi = 0;
};

class Ledger;

// A cursor over one table inside a ReadView or WriteTxn. Valid while the
// transaction lives; key() and value() point into the map and are valid only
// until the next cursor move or the end of the transaction.
class Cursor {
 public:
  Cursor(Cursor&&) noexcept;
  Cursor& operator=(Cursor&&) noexcept;
  ~Cursor();

  // Positions at the first key >= `key`. False (not an error) if none.
  Result<bool> Seek(std::string_view key);
  Result<bool> SeekFirst();
  Result<bool> SeekLast();
  Result<bool> Next();
  Result<bool> Prev();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  friend class ReadView;
  friend class WriteTxn;
  explicit Cursor(void* cursor) : cursor_(cursor) {}
  Result<bool> Move(int op, std::string_view key = {});
  void* cursor_;  // MDB_cursor*
  std::string_view key_, value_;
};

// A read-only snapshot. Short-lived: an open ReadView pins old pages and
// blocks map growth, so take one per request and drop it.
class ReadView {
 public:
  ReadView(ReadView&&) noexcept;
  ReadView& operator=(ReadView&&) noexcept;
  ~ReadView();

  // Number of entries in this snapshot.
  uint64_t size() const { return size_; }

  // The bytes of entry `seq`, valid until the view ends. NotFound past the end.
  Result<std::string_view> Entry(uint64_t seq);
  // The stored signed checkpoint for exactly `size`, NotFound if none.
  Result<std::string_view> CheckpointAt(uint64_t size);
  // The stored checkpoint with the largest size <= `size` (NotFound if none),
  // and that size in *found. O(log n).
  Result<std::string_view> CheckpointAtOrBelow(uint64_t size, uint64_t* found);
  // The latest stored checkpoint in this snapshot (NotFound on an empty log).
  Result<std::string_view> LatestCheckpoint();

  // Calls `fn(size, note)` for each stored checkpoint in increasing size.
  Status ForEachCheckpoint(const std::function<Status(uint64_t, std::string_view)>& fn);

  Result<Hash> RootAt(uint64_t size);
  // The RFC 9162 compact range (frontier) of the first `size` entries:
  // what an export bundle that starts at seq `size` carries.
  Result<CompactRange> CompactRangeAt(uint64_t size);
  Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size);
  Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to);

  // Caller tables.
  Result<std::optional<std::string_view>> Get(Table table, std::string_view key);
  Result<Cursor> NewCursor(Table table);
  // A cursor over the entries table (keys are native-endian uint64 seq).
  Result<Cursor> NewEntryCursor();

 private:
  friend class Ledger;
  struct Impl;
  explicit ReadView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint64_t size_ = 0;
};

// The write transaction given to a Write() function.
class WriteTxn {
 public:
  // Appends one entry: assigns the next seq, encodes the envelope with the
  // right prev, stores it and its new tree nodes. Returns the seq.
  Result<uint64_t> Append(const PendingEntry& entry);
  // The bytes of the last entry appended in this transaction.
  std::string_view last_entry() const { return last_entry_; }
  // Entries in the log including those appended so far in this transaction.
  uint64_t size() const;
  // The bytes of entry `seq` (< size()), committed or appended in this
  // transaction; valid until the next Append/Put/Delete. NotFound beyond
  // the end.
  Result<std::string_view> Entry(uint64_t seq);

  Status Put(Table table, std::string_view key, std::string_view value);
  Status Delete(Table table, std::string_view key);  // NotFound if absent
  Result<std::optional<std::string_view>> Get(Table table, std::string_view key);
  Result<Cursor> NewCursor(Table table);

 private:
  friend class Ledger;
  struct State;
  explicit WriteTxn(State* state) : state_(state) {}
  State* state_;
  std::string last_entry_;
};

// What a successful Write() committed.
struct CommitInfo {
  uint64_t first_seq = 0;   // seq of the first entry appended (== old size)
  uint64_t size = 0;        // tree size after the commit
  Hash root{};
  std::string checkpoint;   // the signed note for `size` (empty if nothing was appended
                            // and the log is empty)
};

class Ledger {
 public:
  // Opens (or creates) the ledger in options.dir. Creating needs a non-empty
  // origin; opening checks that the key file, the stored origin and verifier
  // key agree, and that the latest checkpoint matches the stored tree
  // (Corruption otherwise: the ledger refuses to start on a damaged log).
  static Result<std::unique_ptr<Ledger>> Open(const LedgerOptions& options);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Opens or creates a caller table named `name`. Call before concurrent use.
  Result<Table> OpenTable(const std::string& name);

  // Runs `work` in one write transaction, then extends the tree, signs and
  // stores the checkpoint and commits durably. `work` may run more than once
  // (after the map grew); it must have no effects outside the WriteTxn.
  // If `work` fails, nothing is written and its Status is returned.
  // Unavailable when the map is full at max_map_size or the disk is full.
  Result<CommitInfo> Write(const std::function<Status(WriteTxn&)>& work);

  // Write() appending each entry of `batch` in order.
  Result<CommitInfo> AppendBatch(std::span<const PendingEntry> batch);

  // Keeps the signing key readable between commits while the hold lives
  // (SigningKey::ReadableHold): for a writer in a burst of commits; drop it
  // when idle. The Ledger must outlive it. Empty for a read-only ledger.
  SigningKey::ReadableHold KeepSigningKeyReadable() const;

  // A consistent read snapshot.
  Result<ReadView> Read();

  // Committed entries / latest checkpoint (cheap, no transaction).
  uint64_t size() const;
  std::string LatestCheckpoint() const;
  Hash LatestRoot() const;

  const std::string& origin() const;
  const VerifierKey& verifier_key() const;
  const std::string& dir() const;
  uint64_t map_size() const;

 private:
  friend class ReadView;
  friend class WriteTxn;
  struct Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_STORE_H_
