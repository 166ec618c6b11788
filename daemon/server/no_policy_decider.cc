#include "daemon/server/no_policy_decider.h"

#include "custody/ledger/hash.h"

namespace custody::daemon {

NoPolicyDecider::NoPolicyDecider()
    : sha256_(ledger::HashToHex(ledger::Sha256(std::string_view()))),
      body_("{\"rules\":[],\"sha256\":\"" + sha256_ + "\",\"source\":\"\",\"text\":\"\"}"),
      decision_("{\"hits\":[],\"policy_sha256\":\"" + sha256_ + "\"}") {}

policy::Decision NoPolicyDecider::Decide(const schema::Event&) {
  return policy::Decision{decision_, {}};
}

}  // namespace custody::daemon
