// Export bundles: what an auditor receives.
//
//   <dir>/entries.ndjson        entry bytes of seq [0, size), one per line, each + '\n'
//   <dir>/checkpoints/<size>.txt signed checkpoint notes (zero-padded size, 20 digits,
//                                so that names sort by size)
//   <dir>/log.json              {"origin","verifier_key","size","format":"custody-bundle-1"}
// docs/ledger-format.md specifies it. A bundle always starts at seq 0: the
// hash chain and the tree can only be checked from the beginning.
#ifndef CUSTODY_LEDGER_BUNDLE_H_
#define CUSTODY_LEDGER_BUNDLE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "custody/ledger/store.h"

namespace custody::ledger {

struct ExportOptions {
  // Export entries [0, size); 0 means the latest checkpoint's size.
  uint64_t size = 0;
  // Also write every stored checkpoint at or below `size` (not just the one
  // for `size`).
  bool all_checkpoints = true;
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Writes a bundle of `ledger` into `dir` (created; must not exist or be
// empty). The bundle's last checkpoint is the stored one for exactly `size`.
// NotFound when no checkpoint exists for `size`.
Status ExportBundle(Ledger& ledger, const std::string& dir, const ExportOptions& options);

// Writes log.json for a bundle.
Status WriteBundleLogJson(const std::string& dir, const std::string& origin,
                          const std::string& verifier_key, uint64_t size);

// The file name (under checkpoints/) of the checkpoint for `size`.
std::string CheckpointFileName(uint64_t size);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_BUNDLE_H_
