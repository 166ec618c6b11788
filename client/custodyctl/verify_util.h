// Checkpoint verification shared by checkpoint, prove, export and status.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_VERIFY_UTIL_H_
#define CUSTODY_CLIENT_CUSTODYCTL_VERIFY_UTIL_H_

#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "client/custodyctl/context.h"
#include "custody/ledger/checkpoint.h"

namespace custody::client {

struct VerifiedCheckpoint {
  std::string note;  // the signed note as served
  ledger::Checkpoint cp;
  ledger::VerifierKey key;
  bool pinned = false;  // the key came from the user, not the server
};

// GET /v1/checkpoint (or, with `max_size`, the newest checkpoint signed at
// or below it) and verify it with Context::VerifierKey: Corruption when the
// signature or the origin does not verify.
Result<VerifiedCheckpoint> FetchVerifiedCheckpoint(Context& ctx,
                                                   std::optional<uint64_t> max_size = std::nullopt);

struct TrustCheck {
  bool checked = false;      // a trusted checkpoint existed and was checked
  std::string trusted_file;  // where it came from
  uint64_t trusted_size = 0;
  std::string how;  // "same size and root", "consistency proof of N hashes", ...
};

// With a trusted checkpoint (`explicit_file`, else the saved one for the
// origin, if any): verifies its signature with the same key, then that
// `latest` extends it -- equal roots at equal sizes, otherwise
// GET /v1/proof/consistency and ledger::VerifyConsistency. Corruption for a
// rollback (latest smaller) or a fork (proof fails); InvalidArgument when
// `explicit_file` cannot be read.
Result<TrustCheck> CheckAgainstTrusted(Context& ctx, const VerifiedCheckpoint& latest,
                                       const std::string& explicit_file);

std::string TrustText(const TrustCheck& t);
boost::json::value TrustJson(const TrustCheck& t);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_VERIFY_UTIL_H_
