#include "client/custodyctl/verify_util.h"

#include <boost/json/object.hpp>
#include <filesystem>

#include "custody/ledger/merkle.h"

namespace custody::client {

Result<VerifiedCheckpoint> FetchVerifiedCheckpoint(Context& ctx, std::optional<uint64_t> size) {
  VerifiedCheckpoint out;
  CUSTODY_ASSIGN_OR_RETURN(out.key, ctx.VerifierKey(&out.pinned));
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  auto note = api->Checkpoint(size);
  if (!note.ok() && size && note.status().IsInvalidArgument()) {
    return Status::FailedPrecondition(
        "this custodyd serves only its latest checkpoint, so a bundle can only end at the "
        "latest size (drop --to, or upgrade custodyd to serve GET /v1/checkpoint?max_size=N): " +
        note.status().message());
  }
  if (!note.ok()) return note.status();
  out.note = std::move(note).value();
  auto cp = ledger::OpenCheckpoint(out.note, out.key, out.key.name);
  if (!cp.ok()) {
    return Status::Corruption("the server's checkpoint does NOT verify with " + out.key.ToString() +
                              ": " + cp.status().message());
  }
  out.cp = std::move(cp).value();
  if (size && out.cp.size > *size) {
    return Status::Corruption("asked for a checkpoint at or below size " + std::to_string(*size) +
                              ", got size " + std::to_string(out.cp.size));
  }
  return out;
}

Result<TrustCheck> CheckAgainstTrusted(Context& ctx, const VerifiedCheckpoint& latest,
                                       const std::string& explicit_file) {
  TrustCheck t;
  t.trusted_file = explicit_file;
  if (t.trusted_file.empty()) {
    const std::string saved = ctx.TrustedCheckpointPath(latest.cp.origin);
    std::error_code ec;
    if (saved.empty() || !std::filesystem::exists(saved, ec)) return t;
    t.trusted_file = saved;
  }
  CUSTODY_ASSIGN_OR_RETURN(std::string note, ReadInput(t.trusted_file));
  auto trusted = ledger::OpenCheckpoint(note, latest.key, latest.key.name);
  if (!trusted.ok()) {
    return Status::Corruption("trusted checkpoint " + t.trusted_file + " does not verify with " +
                              latest.key.ToString() + ": " + trusted.status().message() +
                              (latest.pinned ? "" : " (has the server's key changed?)"));
  }
  t.checked = true;
  t.trusted_size = trusted->size;
  if (trusted->size > latest.cp.size) {
    return Status::Corruption("ROLLBACK: the server's checkpoint covers " +
                              std::to_string(latest.cp.size) + " entries but the trusted one (" +
                              t.trusted_file + ") already covered " +
                              std::to_string(trusted->size));
  }
  if (trusted->size == latest.cp.size) {
    if (trusted->root != latest.cp.root) {
      return Status::Corruption("FORK: the server's checkpoint and the trusted one (" +
                                t.trusted_file + ") both cover " + std::to_string(trusted->size) +
                                " entries with different roots");
    }
    t.how = "same size and root";
    return t;
  }
  if (trusted->size == 0) {
    t.how = "the trusted checkpoint is of the empty log";
    return t;
  }
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  CUSTODY_ASSIGN_OR_RETURN(std::vector<ledger::Hash> proof,
                           api->ConsistencyProof(trusted->size, latest.cp.size));
  Status st = ledger::VerifyConsistency(trusted->size, latest.cp.size, trusted->root,
                                        latest.cp.root, proof);
  if (!st.ok()) {
    return Status::Corruption("FORK: the log of size " + std::to_string(latest.cp.size) +
                              " does not extend the trusted checkpoint of size " +
                              std::to_string(trusted->size) + " (" + t.trusted_file +
                              "): " + st.message());
  }
  t.how = "consistency proof of " + std::to_string(proof.size()) + " hashes verified";
  return t;
}

std::string TrustText(const TrustCheck& t) {
  if (!t.checked) return "no trusted checkpoint yet (first contact: trust on first use)";
  return "extends the trusted checkpoint of size " + std::to_string(t.trusted_size) + " (" +
         t.trusted_file + "): " + t.how;
}

boost::json::value TrustJson(const TrustCheck& t) {
  if (!t.checked) return nullptr;
  boost::json::object o;
  o["trusted_file"] = t.trusted_file;
  o["trusted_size"] = t.trusted_size;
  o["verified"] = true;
  o["how"] = t.how;
  return o;
}

}  // namespace custody::client
