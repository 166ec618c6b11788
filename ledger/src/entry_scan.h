// A single-pass check that entry bytes are canonical (RFC 8785) JSON with
// the entry envelope's exact members, extracting the fields the verifier
// needs. It never builds a DOM and allocates only for strings with escapes:
// the verifier runs it on every entry of a log at over a million entries a
// second.
#ifndef CUSTODY_LEDGER_ENTRY_SCAN_H_
#define CUSTODY_LEDGER_ENTRY_SCAN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "custody/ledger/hash.h"

namespace custody::ledger {

// The fields ScanEntry extracts. The string views point into the scanned
// bytes, or, for a string written with escapes, into this object's own
// buffers; they are valid until the bytes go away or the next ScanEntry
// into this object. Reuse one ScannedEntry across entries: its buffers keep
// their capacity, so a scan does not allocate. Not copyable (a copy's
// views would point into the original's buffers).
struct ScannedEntry {
  ScannedEntry() = default;
  ScannedEntry(const ScannedEntry&) = delete;
  ScannedEntry& operator=(const ScannedEntry&) = delete;

  uint64_t seq = 0;
  Hash prev{};
  std::string_view kind;
  std::string_view received_at;
  bool has_decision = false;
  std::string_view body_sha256;      // body.sha256 when it is a string (policy entries)
  std::string_view decision_policy;  // decision.policy_sha256 when it is a string
  uint32_t decision_hits = 0;        // length of decision.hits when it is an array

  // Decoded text of the fields above that had escapes.
  std::string kind_buffer, received_at_buffer, body_sha256_buffer, decision_policy_buffer;
};

// Ok when `bytes` is a canonical entry envelope: valid UTF-8 JSON with no
// insignificant whitespace, members sorted by UTF-16 code units, strings
// escaped exactly as RFC 8785 requires, integers only (|n| <= 2^53-1, no
// "-0"), and the top-level members body (object), decision (object,
// optional), kind, prev (base64 of 32 bytes), producer, received_at (RFC
// 3339), seq, v (== 1). Corruption naming the first violation otherwise
// (`*out` is then partly filled and should not be used).
// Thread-safe for distinct `out` objects.
Status ScanEntry(std::string_view bytes, ScannedEntry* out);

// ScanEntry for an entry at the start of `text`, which may go on after it
// (the rest of a file). Ok with `*length` set to the entry's length when
// text[0, *length) is a canonical envelope; the bytes after it are not
// examined. A canonical entry holds no raw control character, so when
// text[*length] is '\n' the entry is exactly the first line of `text`. The
// failure message may differ from ScanEntry's for the same line; to report
// one, scan the line itself.
Status ScanEntryPrefix(std::string_view text, ScannedEntry* out, size_t* length);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_ENTRY_SCAN_H_
