// Export bundles: what an auditor receives.
//
//   <dir>/entries.ndjson        entry bytes of seq [S, size), one per line, each + '\n'
//   <dir>/checkpoints/<size>.txt signed checkpoint notes (zero-padded size, 20 digits,
//                                so that names sort by size)
//   <dir>/log.json              {"origin","verifier_key","size","format":"custody-bundle-1"}
//                                and, when S > 0, "first_seq", "prefix" and
//                                "prior_policies" (verifier.h LogPrefix)
//   <dir>/prior-policies.ndjson (S > 0 only) the policy entries before S
// docs/ledger-format.md section 5 specifies it. S is 0 for a whole log; a
// bundle from S > 0 (an incremental audit) is checked from S on, the
// entries before S standing in as the compact range of their tree.
#ifndef CUSTODY_LEDGER_BUNDLE_H_
#define CUSTODY_LEDGER_BUNDLE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "custody/ledger/store.h"
#include "custody/ledger/verifier.h"

namespace custody::ledger {

struct ExportOptions {
  // Export entries [first_seq, size); size 0 means the latest checkpoint's.
  uint64_t first_seq = 0;
  uint64_t size = 0;
  // Also write every stored checkpoint from first_seq to `size` (not just
  // the one for `size`).
  bool all_checkpoints = true;
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Writes a bundle of `ledger` into `dir` (created; must not exist or be
// empty). The bundle's last checkpoint is the stored one for exactly `size`.
// NotFound when no checkpoint exists for `size`.
Status ExportBundle(Ledger& ledger, const std::string& dir, const ExportOptions& options);

// log.json and what it says about the entries before the bundle.
struct BundleLog {
  std::string origin;
  std::string verifier_key;
  uint64_t size = 0;
  LogPrefix prefix;  // first_seq 0: a whole log, nothing else
};

// Writes log.json and, when prefix.first_seq > 0, prior-policies.ndjson
// (durably: each file is fsync'ed).
Status WriteBundleLog(const std::string& dir, const BundleLog& log);

// Reads log.json and prior-policies.ndjson. A log.json without first_seq is
// a whole-log bundle (first_seq 0); InvalidArgument naming the file and
// member for anything malformed, NotFound without log.json.
Result<BundleLog> ReadBundleLog(const std::string& dir);

// The prefix a bundle of `view` starting at `first_seq` and ending at
// `size` carries: the compact range of [0, first_seq) and every policy
// entry before first_seq with its inclusion proof in the tree of `size`.
// `policy_seqs` are those entries' seqs if the caller indexes them;
// without it the entries before first_seq are scanned.
Result<LogPrefix> BuildLogPrefix(ReadView& view, uint64_t first_seq, uint64_t size,
                                 const std::vector<uint64_t>* policy_seqs = nullptr);

// The file name (under checkpoints/) of the checkpoint for `size`.
std::string CheckpointFileName(uint64_t size);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_BUNDLE_H_
