// The offline verifier: recomputes everything an auditor must not take on
// trust, from the entry bytes, the signed checkpoints and the public key.
//
// Checks, in this order of precedence for each entry (the first failure in
// log order is reported):
//   1. entry i parses as a canonical entry envelope (entry.h);
//   2. its seq is i (no gaps, no duplicates, no reordering);
//   3. its prev is the leaf hash of entry i-1 (SHA-256 of nothing for i = 0);
//   4. an `access` entry's decision names a policy (decision.policy_sha256)
//      recorded by an earlier `policy` entry (body.sha256);
// and for the checkpoints:
//   5. every checkpoint is a C2SP signed note verified by the key, with the
//      key's name as origin;
//   6. every checkpoint's root equals the root recomputed over the first
//      `size` entries, no checkpoint is beyond the last entry, and the newest
//      covers every entry (entries after it are signed by nobody);
//   7. a trusted checkpoint from an earlier audit is consistent with the log
//      (same root at its size; a log shorter than it has been rolled back).
// Because every checkpoint is recomputed from the same entry sequence, all
// verified checkpoints are mutually consistent; a checkpoint signed for a
// forked log fails (6).
//
// Hashing, parsing, checks 1-3, the checkpoint signatures and the tree's
// inner nodes run on `threads` threads; a sequential walk then visits only
// what needs the log's order (failed entries, policy and access entries,
// checkpoint roots), so the first failure in log order is reported whatever
// order the threads finish in.
#ifndef CUSTODY_LEDGER_VERIFIER_H_
#define CUSTODY_LEDGER_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"

namespace custody::ledger {

struct VerifyOptions {
  VerifierKey key;
  // A signed checkpoint from an earlier audit (note text), if any.
  std::optional<std::string> trusted_checkpoint;
  // Called now and then, from the thread that called Verify*, with (entries
  // hashed and checked so far, total): every 65536 entries or so while the
  // threads work (always done < total), then once with (total, total) after
  // the last entry's checks; a failure found before that skips this call.
  // VerifyBundle does not count the lines before it starts, so until that
  // last call its total is an estimate from the bytes read so far.
  std::function<void(uint64_t, uint64_t)> progress;
  unsigned threads = 0;  // 0: one per core; the calling thread is one of them
};

// What a bundle that starts at seq `first_seq` > 0 (custodyctl export
// --from) carries about the entries before it, none of it trusted:
//   - `range`, the RFC 9162 compact range of [0, first_seq) (one hash per set
//     bit of first_seq, largest subtree first). The verifier appends the
//     bundle's leaves to it, so every recomputed root, and with it every
//     checkpoint signature check, depends on each of these hashes: a forged
//     one fails (6) at the first checkpoint.
//   - `policies`, the `policy` entries before first_seq (byte-exact), each
//     with its RFC 9162 inclusion proof in the tree of the bundle's final
//     size, so that check (4) holds for access entries that name a policy
//     recorded before the bundle starts. Every proof is checked against the
//     recomputed final root.
// Checks (2) and (3) start at first_seq: entry first_seq's prev cannot be
// checked without entry first_seq - 1 (the tree still covers its bytes). A
// checkpoint smaller than first_seq cannot be checked and fails; a trusted
// checkpoint smaller than first_seq is a usage error (export from it).
struct LogPrefix {
  struct PriorPolicy {
    uint64_t seq = 0;
    std::string entry;        // the entry's bytes, no newline
    std::vector<Hash> proof;  // inclusion of `entry` at `seq` in the tree of the final size
  };
  uint64_t first_seq = 0;
  std::vector<Hash> range;
  std::vector<PriorPolicy> policies;
};

// A named signed checkpoint: `name` is how failures refer to it (a file
// name in a bundle, "checkpoint@<size>" in a data dir).
struct NamedCheckpoint {
  std::string name;
  std::string note;
};

struct VerifyReport {
  bool ok = false;
  // On failure: the first bad entry and/or checkpoint, and why.
  std::optional<uint64_t> bad_seq;
  std::optional<std::string> bad_checkpoint;
  std::string reason;

  uint64_t first_seq = 0;  // the first entry's seq (LogPrefix::first_seq)
  uint64_t entries = 0;    // entries checked: seq first_seq .. first_seq + entries - 1
  uint64_t checkpoints = 0;
  uint64_t latest_checkpoint_size = 0;
  std::map<std::string, uint64_t> kinds;  // entries per kind
  uint64_t policies = 0;                  // `policy` entries
  uint64_t prior_policies = 0;            // LogPrefix::policies
  uint64_t alerts = 0;                    // rule hits recorded in decisions
  std::string first_time, last_time;      // received_at of the first and last entry
  Hash root{};                            // root over all entries (prefix included)

  // "OK: ..." summary or "FAIL: seq N: reason".
  std::string Summary() const;
};

// Verifies `entries` (entry bytes, in log order) against `checkpoints`.
// With a `prefix`, entries[0] is entry prefix->first_seq. Verification
// failures are reported in the VerifyReport (ok = false); the Result fails
// only for bad options (no key; a prefix range of the wrong length; a
// trusted checkpoint below the prefix).
Result<VerifyReport> VerifyEntries(std::span<const std::string_view> entries,
                                   std::span<const NamedCheckpoint> checkpoints,
                                   const VerifyOptions& options, const LogPrefix* prefix = nullptr);

// Verifies an export bundle directory: entries.ndjson (one entry per line,
// each ending in '\n'), checkpoints/*.txt (signed notes), log.json (its
// prefix members, see bundle.h, and its size, which must be the bundle's:
// they are checked, not trusted). A missing or empty checkpoints/ is a
// verification failure when there are entries.
// IOError / NotFound / InvalidArgument for a bundle that cannot be read
// (missing files, a line that is not an entry is a verification failure).
// entries.ndjson is memory-mapped and cut into byte ranges that the threads
// split into lines as they check them.
Result<VerifyReport> VerifyBundle(const std::string& dir, const VerifyOptions& options);

// Verifies a copy of a custodyd ledger directory, opened read-only (no lock
// file is written). `dir` is the LMDB environment (holding data.mdb) or a
// custodyd data_dir whose ledger/ holds it; NotFound naming both paths when
// neither does.
Result<VerifyReport> VerifyDataDir(const std::string& dir, const VerifyOptions& options);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_VERIFIER_H_
