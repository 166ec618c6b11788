// The seam between the ingest pipeline and the boundary policy engine.
//
// The appender thread asks a Decider for the decision on every access event,
// in log order, inside the LMDB transaction that appends it. Decisions are
// recorded in the entry (`decision`), and every hit becomes an alert record
// committed in the same transaction.
//
// Threading: every method is called on the appender thread only, except
// where noted. Decide() may change rolling-window state; the appender brackets
// each transaction with BeginBatch() and CommitBatch() / RollbackBatch() so
// that a transaction that fails (or is replayed after the map grew) leaves no
// trace in that state.
#ifndef CUSTODY_DAEMON_POLICY_DECIDER_H_
#define CUSTODY_DAEMON_POLICY_DECIDER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "custody/schema/event.h"

namespace custody::daemon::policy {

enum class Severity { kInfo = 0, kLow, kMedium, kHigh, kCritical };
std::string_view SeverityName(Severity s);                 // "info" .. "critical"
bool ParseSeverity(std::string_view name, Severity* out);

// One rule that matched an event.
struct Hit {
  std::string rule;          // rule id, e.g. "gov-id-in-chat"
  int64_t version = 1;       // the rule's version
  Severity severity = Severity::kInfo;
  std::string reason;        // one human line
  // The approval the event named (context.approval_id), if any, and what
  // became of it: "applied" never appears here (an applied approval lifts
  // the rule, so there is no hit); otherwise "not-liftable", "unknown",
  // "revoked", "expired", "not-yet-valid", "out-of-scope: <field>".
  std::string approval_id;
  std::string approval_status;
};

struct Decision {
  // Canonical JSON object text for the entry's `decision` member:
  // {"hits":[...],"lifted":[...],"policy_sha256":"<hex>","policy_version":...}
  // It must contain "policy_sha256" naming the policy in force and "hits".
  std::string json;
  std::vector<Hit> hits;
};

class Decider {
 public:
  virtual ~Decider() = default;

  // SHA-256 (hex) and canonical body of the policy that decides the open
  // batch (after BeginBatch(); before the first batch, the one that will).
  // Right after BeginBatch() the appender records a `policy` entry with this
  // body, in the same transaction, whenever the sha differs from the last
  // recorded one, so every decision names a policy recorded before it. The
  // body must be a canonical JSON object with at least
  // {"sha256": "<hex>", "text": "..."}. Appender thread only.
  virtual std::string PolicySha256() const = 0;
  virtual std::string PolicyEntryBody() const = 0;

  virtual void BeginBatch() = 0;
  virtual Decision Decide(const schema::Event& event) = 0;
  virtual void CommitBatch() = 0;
  virtual void RollbackBatch() = 0;

  // Called after a record entry (kind "approval", "approval-revocation", ...)
  // committed at `seq` with body `body`, so the engine can update its state.
  virtual void OnRecordCommitted(std::string_view kind, const boost::json::value& body,
                                 uint64_t seq) = 0;
};

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_DECIDER_H_
