// Read-side queries over the daemon's indexes: events and alerts, newest
// first, with opaque cursors for paging.
//
// Each call takes its own short ledger::ReadView, so results are a
// consistent snapshot. Thread safety: any thread.
#ifndef CUSTODY_DAEMON_INGEST_QUERY_H_
#define CUSTODY_DAEMON_INGEST_QUERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custody/ledger/store.h"
#include "custody/schema/clock.h"
#include "daemon/ingest/tables.h"
#include "daemon/policy/decider.h"

namespace custody::daemon {

using schema::Result;
using schema::Status;

struct EventQuery {
  std::optional<std::string> subject_ref;  // already pseudonymised (Pseudonymizer::Ref)
  std::optional<std::string> actor;        // actor id
  std::optional<std::string> category;     // exact category, or a prefix pattern "gov_id.*"
  std::optional<std::string> system;       // target system
  std::optional<std::string> country;      // actor, target or origin country
  std::optional<schema::TimePoint> since;  // event time >= since
  std::optional<schema::TimePoint> until;  // event time < until
  size_t limit = 100;                      // at most 1000
  std::optional<uint64_t> cursor;          // only entries with seq < cursor
};

struct EventPage {
  std::vector<std::string> entries;  // entry bytes, newest first
  std::optional<uint64_t> next_cursor;
};

// InvalidArgument for a bad limit or pattern.
Result<EventPage> QueryEvents(ledger::Ledger& ledger, const Tables& tables,
                              const EventQuery& query);

struct AlertQuery {
  std::optional<schema::TimePoint> since;  // event time >= since
  policy::Severity min_severity = policy::Severity::kInfo;
  std::optional<std::string> rule;
  size_t limit = 100;
  std::optional<std::string> cursor;  // opaque, from next_cursor
  // Only alerts of entries with seq >= from_seq (used by follow streams).
  std::optional<uint64_t> from_seq;
};

struct AlertPage {
  // Alert objects {"alert_id","seq","event_id","rule","severity","reason",
  // "time","producer",...} as canonical JSON text, newest first.
  std::vector<std::string> alerts;
  std::optional<std::string> next_cursor;
};

// Whether `cursor` has the shape of an AlertPage::next_cursor (the HTTP
// layer names the parameter when it does not).
bool IsAlertCursor(std::string_view cursor);

Result<AlertPage> QueryAlerts(ledger::Ledger& ledger, const Tables& tables,
                              const AlertQuery& query);

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_INGEST_QUERY_H_
