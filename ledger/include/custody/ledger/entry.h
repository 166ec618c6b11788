// Ledger entries: the envelope every event, approval, policy or record is
// wrapped in before it is hashed into the log.
//
// An entry is one RFC 8785 canonical JSON object (see json_canon.h) with
// exactly these members, in this (sorted) order:
//   body         the normalised event or record (a JSON object)
//   decision     only on `access` entries: the policy decision
//   kind         "access", "approval", "policy", "alert-state", "key", "erasure", ...
//   prev         base64 leaf hash of entry seq-1; for seq 0, SHA-256 of nothing
//   producer     who submitted it (a token name, or "custodyd" for the log's own records)
//   received_at  RFC 3339 UTC with microseconds, when custodyd accepted it
//   seq          0-based index in the log
//   v            1
// docs/ledger-format.md is the normative description.
//
// Thread safety: pure functions over values.
#ifndef CUSTODY_LEDGER_ENTRY_H_
#define CUSTODY_LEDGER_ENTRY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "custody/ledger/hash.h"
#include "custody/schema/clock.h"

namespace custody::ledger {

inline constexpr int kEntryVersion = 1;

// An entry before it has a place in the log.
struct PendingEntry {
  std::string kind;
  std::string producer;
  schema::TimePoint received_at;
  // Canonical JSON text of an object (the caller canonicalises, typically on
  // its own thread, so the single appender thread only concatenates).
  std::string body;
  // Canonical JSON text of the decision object, or empty for no decision.
  std::string decision;
};

// Appends the canonical bytes of `entry` at `seq` with predecessor hash
// `prev` to `*out`. `kind` and `producer` must be valid UTF-8 (they are
// escaped); `body` and `decision` are spliced in verbatim and must already be
// canonical.
void EncodeEntry(uint64_t seq, const Hash& prev, const PendingEntry& entry, std::string* out);

// An entry read back and checked.
struct DecodedEntry {
  uint64_t seq = 0;
  Hash prev{};
  std::string kind;
  std::string producer;
  std::string received_at;
  boost::json::value body;
  boost::json::value decision;  // null when absent
};

// Parses `bytes` as an entry and checks its envelope: valid JSON, exactly the
// members above with the right types, v == 1, a 32-byte prev, and that the
// bytes are the canonical form (re-encoding gives the same bytes).
// Corruption saying which rule failed.
Result<DecodedEntry> DecodeEntry(std::string_view bytes);

// Whether the entry `bytes` (canonical, as EncodeEntry writes it) has exactly
// `body` (canonical JSON) as its body. Body is the first member in canonical
// order, so this is a prefix comparison: no parse.
bool EntryBodyIs(std::string_view bytes, std::string_view body);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_ENTRY_H_
