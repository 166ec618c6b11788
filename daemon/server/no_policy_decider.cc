#include "daemon/server/no_policy_decider.h"

#include <spdlog/spdlog.h>

#include "custody/ledger/hash.h"

namespace custody::daemon {

NoPolicyDecider::NoPolicyDecider()
    : sha256_(ledger::HashToHex(ledger::Sha256(std::string_view()))),
      body_("{\"rules\":[],\"sha256\":\"" + sha256_ + "\",\"source\":\"\",\"text\":\"\"}"),
      decision_("{\"hits\":[],\"policy_sha256\":\"" + sha256_ + "\"}") {}

policy::Decision NoPolicyDecider::Decide(const schema::Event&) {
  return policy::Decision{decision_, {}};
}

void NoPolicyDecider::OnRecordCommitted(std::string_view kind, const boost::json::value& body,
                                        uint64_t seq) {
  std::vector<schema::FieldError> errors;
  schema::Status status;
  if (kind == "approval") {
    if (auto a = policy::ParseApproval(body, &errors)) status = approvals_.Register(*a, seq);
  } else if (kind == "approval-revocation") {
    if (auto r = policy::ParseRevocation(body, &errors)) status = approvals_.Revoke(*r, seq);
  } else {
    return;
  }
  if (!errors.empty()) {
    status =
        schema::Status::InvalidArgument(errors.front().pointer + ": " + errors.front().message);
  }
  if (!status.ok()) {
    spdlog::warn("{} record at seq {} ignored: {}", kind, seq, status.ToString());
  }
}

}  // namespace custody::daemon
