// custodyctl checkpoint and prove: fetch what custodyd signs and proves, and
// verify all of it locally (ledger::OpenCheckpoint, VerifyConsistency,
// VerifyInclusion). Nothing the server says is taken on trust but the key,
// and that only when it is not pinned (--key, --key-file, verifier_key).

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "client/custodyctl/verify_util.h"
#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/merkle.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

struct CheckpointOptions {
  std::string trusted;
  bool no_save = false;
};

Status RunCheckpoint(Context& ctx, const CheckpointOptions& opt) {
  CUSTODY_ASSIGN_OR_RETURN(VerifiedCheckpoint latest, FetchVerifiedCheckpoint(ctx));
  CUSTODY_ASSIGN_OR_RETURN(TrustCheck trust, CheckAgainstTrusted(ctx, latest, opt.trusted));
  std::string saved;
  if (!opt.no_save) {
    const std::string path = ctx.TrustedCheckpointPath(latest.cp.origin);
    if (!path.empty()) {
      CUSTODY_RETURN_IF_ERROR(WriteFileAtomic(path, latest.note));
      saved = path;
    }
  }
  if (ctx.format() != Format::kTable) {
    json::object o;
    o["origin"] = latest.cp.origin;
    o["size"] = latest.cp.size;
    o["root"] = ledger::HashToBase64(latest.cp.root);
    o["verifier_key"] = latest.key.ToString();
    o["key_pinned"] = latest.pinned;
    o["signature_verified"] = true;
    o["consistency"] = TrustJson(trust);
    o["saved"] = saved.empty() ? json::value(nullptr) : json::value(saved);
    o["checkpoint"] = latest.note;
    PrintLine(json::serialize(o));
    return Status::Ok();
  }
  KeyValues kv;
  kv.Add("origin", latest.cp.origin);
  kv.Add("size", std::to_string(latest.cp.size));
  kv.Add("root", ledger::HashToBase64(latest.cp.root));
  kv.Add("signature",
         "verified with " + latest.key.ToString() +
             (latest.pinned ? " (pinned)" : " (announced by the server, not pinned)"),
         Style::kGreen);
  kv.Add("consistency", TrustText(trust), trust.checked ? Style::kGreen : Style::kYellow);
  if (!saved.empty()) kv.Add("saved", saved + " (the next run checks the log still extends it)");
  kv.Print(ctx.term());
  return Status::Ok();
}

struct ProveOptions {
  uint64_t seq = 0;
  std::string trusted;
};

Status RunProve(Context& ctx, const ProveOptions& opt) {
  CUSTODY_ASSIGN_OR_RETURN(VerifiedCheckpoint latest, FetchVerifiedCheckpoint(ctx));
  if (opt.seq >= latest.cp.size) {
    return Status::NotFound("seq " + std::to_string(opt.seq) +
                            " is not in the log: the latest signed checkpoint covers " +
                            std::to_string(latest.cp.size) + " entries (0.." +
                            std::to_string(latest.cp.size == 0 ? 0 : latest.cp.size - 1) + ")");
  }
  CUSTODY_ASSIGN_OR_RETURN(TrustCheck trust, CheckAgainstTrusted(ctx, latest, opt.trusted));
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  CUSTODY_ASSIGN_OR_RETURN(std::string body, api->Entries(opt.seq, opt.seq + 1));
  if (body.empty() || body.back() != '\n' || body.find('\n') != body.size() - 1) {
    return Status::Corruption("GET /v1/entries did not return exactly one entry line for seq " +
                              std::to_string(opt.seq));
  }
  const std::string_view bytes(body.data(), body.size() - 1);
  auto entry = ledger::DecodeEntry(bytes);
  if (!entry.ok()) {
    return Status::Corruption("entry " + std::to_string(opt.seq) +
                              " is not a valid entry: " + entry.status().message());
  }
  if (entry->seq != opt.seq) {
    return Status::Corruption("asked for entry " + std::to_string(opt.seq) +
                              " but the entry says seq " + std::to_string(entry->seq));
  }
  const ledger::Hash leaf = ledger::LeafHash(bytes);
  CUSTODY_ASSIGN_OR_RETURN(std::vector<ledger::Hash> proof,
                           api->InclusionProof(opt.seq, latest.cp.size));
  Status included = ledger::VerifyInclusion(opt.seq, latest.cp.size, leaf, proof, latest.cp.root);
  if (!included.ok()) {
    return Status::Corruption("entry " + std::to_string(opt.seq) +
                              " is NOT proven to be in the signed log of size " +
                              std::to_string(latest.cp.size) + ": " + included.message());
  }

  if (ctx.format() != Format::kTable) {
    json::object o;
    o["seq"] = opt.seq;
    o["verified"] = true;
    o["leaf_hash"] = ledger::HashToBase64(leaf);
    json::object cp;
    cp["origin"] = latest.cp.origin;
    cp["size"] = latest.cp.size;
    cp["root"] = ledger::HashToBase64(latest.cp.root);
    cp["verifier_key"] = latest.key.ToString();
    cp["key_pinned"] = latest.pinned;
    cp["note"] = latest.note;
    o["checkpoint"] = cp;
    json::array hashes;
    for (const auto& h : proof) hashes.push_back(json::value(ledger::HashToBase64(h)));
    o["inclusion_proof"] = hashes;
    o["consistency"] = TrustJson(trust);
    auto parsed = schema::ParseJson(bytes);
    o["entry"] = parsed.ok() ? *parsed : json::value(nullptr);
    PrintLine(json::serialize(o));
    return Status::Ok();
  }
  auto parsed = schema::ParseJson(bytes);
  KeyValues kv;
  kv.Add("entry", std::to_string(opt.seq) + "  " + entry->kind + "  " + entry->received_at + "  " +
                      (parsed.ok() && parsed->is_object() ? EntrySummary(parsed->as_object())
                                                          : std::string()));
  kv.Add("leaf hash", ledger::HashToBase64(leaf));
  kv.Add("checkpoint", latest.cp.origin + " size " + std::to_string(latest.cp.size) + " root " +
                           ledger::HashToBase64(latest.cp.root));
  kv.Add("signature",
         "verified with " + latest.key.ToString() +
             (latest.pinned ? " (pinned)" : " (announced by the server, not pinned)"),
         Style::kGreen);
  kv.Add("inclusion",
         "verified: " + std::to_string(proof.size()) +
             "-hash RFC 9162 proof recomputes the signed root",
         Style::kGreen);
  kv.Add("consistency", TrustText(trust), trust.checked ? Style::kGreen : Style::kYellow);
  kv.Print(ctx.term());
  std::printf("%s\n", ctx.term()
                          .Paint("VERIFIED: entry " + std::to_string(opt.seq) +
                                     " is in the signed log, byte for byte",
                                 Style::kGreen)
                          .c_str());
  return Status::Ok();
}

}  // namespace

void AddCheckpointCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<CheckpointOptions>();
  CLI::App* cmd = root.add_subcommand(
      "checkpoint",
      "Fetch the latest signed checkpoint, verify its signature and that the log extends the "
      "checkpoint trusted last time");
  cmd->add_option("--trusted", opt->trusted,
                  "an earlier signed checkpoint the log must extend (default: the one saved by "
                  "the previous run)");
  cmd->add_flag("--no-save", opt->no_save, "do not remember this checkpoint as trusted");
  cmd->footer(
      "The verified checkpoint is saved under ~/.config/custody/checkpoints/; the next run\n"
      "fetches a consistency proof from it to the new one (rollback and fork detection).\n"
      "Pin the key with --key/--key-file or verifier_key in client.toml.\n\n"
      "Examples:\n"
      "  custodyctl checkpoint --key-file log.pub\n"
      "  custodyctl checkpoint --trusted last-audit.txt -o json");
  out->push_back({cmd, [&ctx, opt] { return RunCheckpoint(ctx, *opt); }});
}

void AddProveCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<ProveOptions>();
  CLI::App* cmd = root.add_subcommand(
      "prove",
      "Prove that entry SEQ is in the signed log: fetch it, its inclusion proof and the "
      "checkpoint, and verify all three locally");
  cmd->add_option("seq", opt->seq, "the entry's seq (a receipt's seq)")
      ->required()
      ->check(NotNegative());
  cmd->add_option("--trusted", opt->trusted,
                  "also check the log extends this earlier checkpoint (default: the saved one)");
  cmd->footer(
      "Exit status 0 only when the entry's bytes hash into the root of a checkpoint whose\n"
      "signature verifies; 1 when the seq is not in the log or anything fails to verify.\n\n"
      "Examples:\n"
      "  custodyctl prove 1234\n"
      "  custodyctl prove 1234 --key-file log.pub -o json > proof-1234.json");
  out->push_back({cmd, [&ctx, opt] { return RunProve(ctx, *opt); }});
}

}  // namespace custody::client
