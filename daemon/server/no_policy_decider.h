// NoPolicyDecider: the Decider in force when the config names no policy
// file. Every event is recorded with no rule hits; the ledger still records
// (once) a `policy` entry for the empty policy, so an auditor can see that
// no boundary rules were in force for those events.
//
// Approvals are evidence even without a policy: OnRecordCommitted keeps the
// approval registry up to date from "approval" / "approval-revocation"
// records exactly as policy::Engine does, so GET /v1/approvals lists them and
// a later start with a policy finds them in the ledger.
//
// Thread safety: Decide and the batch hooks are stateless; the registry is
// internally locked (approvals.h).
#ifndef CUSTODY_DAEMON_SERVER_NO_POLICY_DECIDER_H_
#define CUSTODY_DAEMON_SERVER_NO_POLICY_DECIDER_H_

#include <string>

#include "daemon/policy/approvals.h"
#include "daemon/policy/decider.h"

namespace custody::daemon {

class NoPolicyDecider final : public policy::Decider {
 public:
  NoPolicyDecider();

  std::string PolicySha256() const override { return sha256_; }
  // {"rules":[],"sha256":"<sha of the empty text>","source":"","text":""}
  std::string PolicyEntryBody() const override { return body_; }
  void BeginBatch() override {}
  // {"hits":[],"policy_sha256":"<hex>"}
  policy::Decision Decide(const schema::Event& event) override;
  void CommitBatch() override {}
  void RollbackBatch() override {}
  // Registers approvals and applies revocations (other kinds are ignored).
  // A record that does not parse or does not apply is logged and skipped.
  void OnRecordCommitted(std::string_view kind, const boost::json::value& body,
                         uint64_t seq) override;

  policy::ApprovalRegistry& approvals() { return approvals_; }

 private:
  policy::ApprovalRegistry approvals_;
  std::string sha256_;
  std::string body_;
  std::string decision_;
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_NO_POLICY_DECIDER_H_
