// A single-pass, allocation-light check that entry bytes are canonical
// (RFC 8785) JSON with the entry envelope's exact members, extracting the
// fields the verifier needs. It never builds a DOM: the verifier runs it on
// every entry of a log at over a million entries a second.
#ifndef CUSTODY_LEDGER_ENTRY_SCAN_H_
#define CUSTODY_LEDGER_ENTRY_SCAN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "custody/ledger/hash.h"

namespace custody::ledger {

struct ScannedEntry {
  uint64_t seq = 0;
  Hash prev{};
  std::string kind;
  std::string received_at;
  bool has_decision = false;
  std::string body_sha256;      // body.sha256 when it is a string (policy entries)
  std::string decision_policy;  // decision.policy_sha256 when it is a string
  uint32_t decision_hits = 0;   // length of decision.hits when it is an array
};

// Ok when `bytes` is a canonical entry envelope: valid UTF-8 JSON with no
// insignificant whitespace, members sorted by UTF-16 code units, strings
// escaped exactly as RFC 8785 requires, integers only (|n| <= 2^53-1, no
// "-0"), and the top-level members body (object), decision (object,
// optional), kind, prev (base64 of 32 bytes), producer, received_at (RFC
// 3339), seq, v (== 1). Corruption naming the first violation otherwise.
Status ScanEntry(std::string_view bytes, ScannedEntry* out);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_ENTRY_SCAN_H_
