// NoPolicyDecider: the Decider in force when the config names no policy
// file. Every event is recorded with no rule hits; the ledger still records
// (once) a `policy` entry for the empty policy, so an auditor can see that
// no boundary rules were in force for those events.
//
// Thread safety: stateless apart from constants; safe from any thread.
#ifndef CUSTODY_DAEMON_SERVER_NO_POLICY_DECIDER_H_
#define CUSTODY_DAEMON_SERVER_NO_POLICY_DECIDER_H_

#include <string>

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
  void OnRecordCommitted(std::string_view, const boost::json::value&, uint64_t) override {}

 private:
  std::string sha256_;
  std::string body_;
  std::string decision_;
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_NO_POLICY_DECIDER_H_
