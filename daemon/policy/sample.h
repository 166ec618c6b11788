// Dry runs of sample events against a policy file, for the two offline
// checkers: `custodyd --check-policy FILE --events F` and `custodyctl policy
// check FILE --events F`. Nothing here touches a ledger or a running daemon.
//
// Thread-safety: plain functions over the caller's objects.
#ifndef CUSTODY_DAEMON_POLICY_SAMPLE_H_
#define CUSTODY_DAEMON_POLICY_SAMPLE_H_

#include <boost/json/array.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/event.h"
#include "custody/schema/status.h"
#include "daemon/policy/approvals.h"
#include "daemon/policy/decider.h"
#include "daemon/policy/policy.h"

namespace custody::daemon::policy {

// Registers the approvals in `text` (one JSON object or an array of them,
// shaped as POST /v1/approvals takes them) into `registry`. `source` names
// the input in errors ("approvals.json[1]: /scope/x: unknown field").
schema::Status LoadSampleApprovals(std::string_view text, const std::string& source,
                                   ApprovalRegistry* registry);

struct SampleResult {
  std::string event_id;
  Decision decision;
};

// Parses `text` as sample events (NDJSON, or one JSON object or array) and
// evaluates each against `policy` alone (EvaluateSample: every window holds
// only the event itself). Invalid events are an InvalidArgument naming
// `source` and each error's JSON pointer; nothing is evaluated then.
schema::Result<std::vector<SampleResult>> EvaluateSampleText(const Policy& policy,
                                                             std::string_view text,
                                                             const std::string& source,
                                                             const ApprovalRegistry* approvals);

// "pub-02: gov-id-in-chat (critical): <reason>; ..." or "pub-01: no hits",
// with the approval considered and its status after each hit that had one.
std::string DescribeSample(const SampleResult& r);

// {"event_id", "decision": <the decision JSON>} per result.
boost::json::array SampleResultsJson(const std::vector<SampleResult>& results);

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_SAMPLE_H_
