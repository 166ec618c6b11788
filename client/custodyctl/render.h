// Rendering ledger entries and alerts for people (table rows) and programs
// (JSON / NDJSON), shared by query, tail, alerts and prove.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_RENDER_H_
#define CUSTODY_CLIENT_CUSTODYCTL_RENDER_H_

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/custodyctl/context.h"

namespace custody::client {

// One entry's human summary: "read  emp-us-1 (US) -> us-crm database (US)
// contact.email x1" for access entries, "policy 3f2a..." and the like for
// records.
std::string EntrySummary(const boost::json::object& entry);

// Prints entries (entry bytes) in the context's format:
//   table   SEQ RECEIVED KIND PRODUCER SUMMARY ALERTS
//   json    {"<member>":[entries...],"next_cursor":...}   (next_cursor only if given)
//   ndjson  the entry bytes, one per line
void PrintEntries(Context& ctx, const std::vector<std::string>& entries, std::string_view member,
                  const std::optional<std::string>& next_cursor, bool with_cursor);
// The table part alone (used by tail -f for each new batch; `header` once;
// `widths` keeps a stream's columns aligned, see Table::Print).
void PrintEntryTable(Context& ctx, const std::vector<std::string>& entries, bool header,
                     std::vector<size_t>* widths = nullptr);

// Alerts (canonical alert JSON text) as a table:
//   TIME SEVERITY RULE SEQ ACTOR TARGET REASON
void PrintAlertTable(Context& ctx, const std::vector<std::string>& alerts, bool header,
                     std::vector<size_t>* widths = nullptr);

// Column widths that fit typical rows, to start a follow stream with.
std::vector<size_t> EntryStreamWidths();
std::vector<size_t> AlertStreamWidths();

// Member helpers tolerant of missing or mistyped members.
std::string Str(const boost::json::object& o, std::string_view name);
std::string Num(const boost::json::object& o, std::string_view name);
const boost::json::object* Obj(const boost::json::object& o, std::string_view name);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_RENDER_H_
