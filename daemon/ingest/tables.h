// The daemon's LMDB tables (sub-databases of the ledger environment) and
// their key encodings. Everything here is derived from the ledger and could
// be rebuilt from it; it is written in the same transaction as the entries
// so it is never behind.
//
//   idempotency   producer '\0' event_id               -> be64 seq
//   idx_subject   be32 epoch, ref '\0' be64 seq        -> ""   (epoch = seq >> kSubjectEpochBits)
//   idx_actor     actor id '\0' be64 seq               -> ""
//   idx_system    target system '\0' be64 seq          -> ""
//   idx_category  category '\0' be64 seq               -> ""
//   idx_country   country '\0' be64 seq (actor, target and origin countries)
//   alerts        be64 seq be32 hit index              -> alert JSON
//   alert_outbox  sink name '\0' be64 seq be32 hit     -> "" (pending deliveries)
//   daemon_meta   name                                 -> value ("policy_sha256", and
//                 "record:" be64 seq -> kind for every record entry: approvals,
//                 revocations; replayed into the policy engine at startup;
//                 "policy_entry:" be64 seq -> "" for every policy entry, which
//                 export bundles that start later must carry)
#ifndef CUSTODY_DAEMON_INGEST_TABLES_H_
#define CUSTODY_DAEMON_INGEST_TABLES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "custody/ledger/store.h"

namespace custody::daemon {

using schema::Result;
using schema::Status;

struct Tables {
  ledger::Table idempotency, idx_subject, idx_actor, idx_system, idx_category, idx_country,
      alerts, alert_outbox, daemon_meta;

  // Opens (creating) every table. Call once before the Ingestor starts.
  static schema::Result<Tables> Open(ledger::Ledger& ledger);
};

inline constexpr std::string_view kRecordKeyPrefix = "record:";
inline constexpr std::string_view kPolicyEntryKeyPrefix = "policy_entry:";
// Set once every policy entry of the log is under kPolicyEntryKeyPrefix.
inline constexpr std::string_view kPolicyEntriesIndexedKey = "policy_entries_indexed";

// "policy_entry:<be64 seq>"
std::string PolicyEntryKey(uint64_t seq);

// Indexes the log's policy entries under kPolicyEntryKeyPrefix if a data
// dir written before that index existed has not been indexed yet (one scan
// of the log, once). Call at start-up, before anything appends.
Status IndexPolicyEntries(ledger::Ledger& ledger, const Tables& tables);

// The seqs of the policy entries in `view`, in log order.
Result<std::vector<uint64_t>> PolicyEntrySeqs(ledger::ReadView& view, const Tables& tables);

// Big-endian fixed-width integers: byte order equals numeric order.
void AppendBe64(uint64_t v, std::string* out);
void AppendBe32(uint32_t v, std::string* out);
uint64_t ReadBe64(std::string_view bytes);  // first 8 bytes
uint32_t ReadBe32(std::string_view bytes);  // first 4 bytes

// "<value>\0<be64 seq>"
std::string IndexKey(std::string_view value, uint64_t seq);

// Subject pseudonyms are random, so an index keyed by them alone would
// dirty one random B-tree page per event and turn every group commit into
// megabytes of scattered writes. Prefixing the key with the seq's epoch
// keeps each commit's inserts inside the current epoch's small subtree; a
// query by subject seeks once per epoch (newest first), which costs about a
// microsecond per 4096 entries of log.
inline constexpr int kSubjectEpochBits = 12;
// "<be32 epoch><ref>\0<be64 seq>"
std::string SubjectIndexKey(std::string_view ref, uint64_t seq);
// "<be32 epoch><ref>\0": the prefix of one epoch's rows for `ref`.
std::string SubjectIndexPrefix(std::string_view ref, uint64_t epoch);
std::string IdempotencyKey(std::string_view producer, std::string_view event_id);
std::string AlertKey(uint64_t seq, uint32_t hit);

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_INGEST_TABLES_H_
