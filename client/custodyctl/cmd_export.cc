// custodyctl export: download the log into an export bundle (bundle.h,
// docs/ledger-format.md section 5), verifying it while it is written: every
// entry's envelope and canonical form, seq order, the prev chain, and the
// Merkle root at the end against the signed checkpoint (and at the trusted
// checkpoint's size, if there is one). With --from S the bundle starts at
// seq S: the server's compact range of [0, S) seeds the tree (so a wrong one
// fails the root check) and the policy entries before S come with inclusion
// proofs checked against the signed root. A bundle that fails is left as
// entries.ndjson.partial and never gets its checkpoint or log.json.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/verify_util.h"
#include "custody/ledger/bundle.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/merkle.h"

namespace custody::client {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct ExportOpts {
  std::string out;
  uint64_t from = 0;
  std::optional<uint64_t> to;
  uint64_t page = 10000;
  std::string trusted;
  bool quiet = false;
};

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled)
      : enabled_(enabled), start_(std::chrono::steady_clock::now()), last_(start_) {}
  void Update(uint64_t done, uint64_t total, bool final = false) {
    if (!enabled_ || total == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\rexport: %3d%%  %llu/%llu entries  %.0f/s   ",
                 static_cast<int>(100 * done / total), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), secs > 0 ? done / secs : 0.0);
    if (final) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

// A bundle file written through stdio, fsync'ed before it is renamed.
class BundleFile {
 public:
  ~BundleFile() {
    if (f_ != nullptr) std::fclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "wbx");
    if (f_ == nullptr) return Status::FromErrno(errno, "create " + path);
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
    return Status::Ok();
  }
  Status Write(std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
      return Status::FromErrno(errno, "write " + path_);
    }
    return Status::Ok();
  }
  Status CloseAndRename(const std::string& to) {
    std::FILE* f = std::exchange(f_, nullptr);
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) {
      Status st = Status::FromErrno(errno, "flush " + path_);
      std::fclose(f);
      return st;
    }
    if (std::fclose(f) != 0) return Status::FromErrno(errno, "close " + path_);
    if (std::rename(path_.c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "rename " + path_);
    }
    return Status::Ok();
  }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
};

Status PrepareDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    return Status::InvalidArgument(dir + " exists and is not an empty directory; choose a new one");
  }
  fs::create_directories(fs::path(dir) / "checkpoints", ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

// Checks that each prior policy the server sent is a policy entry at its
// seq, included in the signed tree of `size`.
Status CheckPriorPolicies(const ledger::LogPrefix& prefix, uint64_t size,
                          const ledger::Hash& root) {
  for (const ledger::LogPrefix::PriorPolicy& p : prefix.policies) {
    const std::string what = "the policy entry the server sent for seq " + std::to_string(p.seq);
    auto entry = ledger::DecodeEntry(p.entry);
    if (!entry.ok())
      return Status::Corruption(what + " is not an entry: " + entry.status().message());
    if (entry->seq != p.seq || entry->kind != "policy" || p.seq >= prefix.first_seq) {
      return Status::Corruption(what + " is a " + entry->kind + " entry with seq " +
                                std::to_string(entry->seq) + ", not a policy before seq " +
                                std::to_string(prefix.first_seq));
    }
    if (Status st = ledger::VerifyInclusion(p.seq, size, ledger::LeafHash(p.entry), p.proof, root);
        !st.ok()) {
      return Status::Corruption(what + " is not in the signed log: " + st.message());
    }
  }
  return Status::Ok();
}

Status RunExport(Context& ctx, const ExportOpts& opt) {
  if (opt.to && *opt.to == 0) return Status::InvalidArgument("--to must be at least 1");
  if (opt.to && opt.from >= *opt.to) {
    return Status::InvalidArgument("--from " + std::to_string(opt.from) + " must be below --to " +
                                   std::to_string(*opt.to));
  }
  // The checkpoint first: it fixes the size and the root everything must match.
  CUSTODY_ASSIGN_OR_RETURN(VerifiedCheckpoint signed_cp, FetchVerifiedCheckpoint(ctx, opt.to));
  const uint64_t size = signed_cp.cp.size;
  if (size == 0) return Status::NotFound("the log is empty; there is nothing to export");
  if (opt.from >= size) {
    return Status::InvalidArgument("--from " + std::to_string(opt.from) +
                                   " is at or beyond the newest checkpoint's size " +
                                   std::to_string(size) + "; there is nothing to export");
  }
  if (opt.to && size < *opt.to && !opt.quiet) {
    std::fprintf(stderr,
                 "export: no checkpoint was signed at size %llu; the bundle ends at %llu, the "
                 "newest signed below it\n",
                 static_cast<unsigned long long>(*opt.to), static_cast<unsigned long long>(size));
  }

  // A trusted checkpoint from earlier: verified now, compared during the walk.
  std::optional<ledger::Checkpoint> trusted;
  std::string trusted_note, trusted_file = opt.trusted;
  if (trusted_file.empty()) {
    const std::string saved = ctx.TrustedCheckpointPath(signed_cp.cp.origin);
    std::error_code ec;
    if (!saved.empty() && fs::exists(saved, ec)) trusted_file = saved;
  }
  if (!trusted_file.empty()) {
    CUSTODY_ASSIGN_OR_RETURN(trusted_note, ReadInput(trusted_file));
    auto t = ledger::OpenCheckpoint(trusted_note, signed_cp.key, signed_cp.key.name);
    if (!t.ok()) {
      return Status::Corruption("trusted checkpoint " + trusted_file +
                                " does not verify: " + t.status().message());
    }
    if (t->size > size) {
      if (!opt.trusted.empty()) {
        return Status::Corruption("the export ends at " + std::to_string(size) +
                                  " entries but the trusted checkpoint " + trusted_file +
                                  " covers " + std::to_string(t->size) +
                                  " (a rollback, or --to below it)");
      }
      // The saved one is simply newer than the --to asked for: not checkable here.
    } else if (t->size < opt.from) {
      if (!opt.trusted.empty()) {
        return Status::InvalidArgument(
            "the trusted checkpoint " + trusted_file + " covers " + std::to_string(t->size) +
            " entries, before --from " + std::to_string(opt.from) +
            ": a bundle from there cannot show the log extends it; export --from " +
            std::to_string(t->size) + " or lower");
      }
      if (!opt.quiet) {
        std::fprintf(stderr,
                     "export: the saved trusted checkpoint (size %llu) is before --from %llu and "
                     "is not checked\n",
                     static_cast<unsigned long long>(t->size),
                     static_cast<unsigned long long>(opt.from));
      }
    } else {
      trusted = std::move(t).value();
    }
  }

  CUSTODY_RETURN_IF_ERROR(PrepareDir(opt.out));
  const fs::path dir(opt.out);
  const std::string entries_path = (dir / "entries.ndjson").string();
  BundleFile file;
  CUSTODY_RETURN_IF_ERROR(file.Open(entries_path + ".partial"));

  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  ProgressLine progress(!opt.quiet && ctx.term().stderr_tty());
  // The entries before --from, as the server describes them.
  ledger::LogPrefix prefix;
  ledger::CompactRange range;
  if (opt.from > 0) {
    CUSTODY_ASSIGN_OR_RETURN(prefix, api->Prefix(opt.from, size));
    auto seeded = ledger::CompactRange::FromHashes(opt.from, prefix.range);
    if (!seeded.ok()) {
      return Status::Corruption("GET /v1/proof/prefix: " + seeded.status().message());
    }
    range = std::move(seeded).value();
  }
  // Entry `from`'s prev names an entry outside the bundle: unchecked (the
  // signed root covers its bytes).
  std::optional<ledger::Hash> prev;
  if (opt.from == 0) prev = ledger::EmptyRoot();
  uint64_t page = std::max<uint64_t>(1, opt.page);
  uint64_t seq = opt.from;
  auto fail = [&](std::string why) {
    progress.Update(seq - opt.from, size - opt.from, true);
    return Status::Corruption("export stopped at seq " + std::to_string(seq) + ": " + why +
                              "; the partial download is in " + entries_path + ".partial");
  };
  if (trusted && trusted->size == seq && range.Root() != trusted->root) {
    return fail("the server's prefix of " + std::to_string(seq) +
                " entries does not have the root of the trusted checkpoint " + trusted_file +
                " (a fork)");
  }
  while (seq < size) {
    const uint64_t end = std::min(size, seq + page);
    auto body = api->Entries(seq, end);
    if (!body.ok() && body.status().IsInvalidArgument() && page > 1 &&
        body.status().message().find("entries per request") != std::string::npos) {
      page = std::max<uint64_t>(1, page / 2);  // the server caps pages lower than asked
      continue;
    }
    if (!body.ok()) return body.status();
    const std::string& text = *body;
    size_t pos = 0;
    for (uint64_t i = seq; i < end; ++i) {
      const size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) {
        return fail("the server returned " + std::to_string(i - seq) + " entries for " +
                    std::to_string(seq) + ".." + std::to_string(end - 1));
      }
      const std::string_view line(text.data() + pos, nl - pos);
      pos = nl + 1;
      auto entry = ledger::DecodeEntry(line);
      if (!entry.ok()) return fail("not a valid entry: " + entry.status().message());
      if (entry->seq != i) {
        return fail("the entry at position " + std::to_string(i) + " says seq " +
                    std::to_string(entry->seq));
      }
      if (prev && entry->prev != *prev) {
        return fail("its prev is not the leaf hash of entry " + std::to_string(i - 1) +
                    " (the hash chain is broken)");
      }
      prev = ledger::LeafHash(line);
      range.Append(*prev, nullptr);
      seq = i + 1;
      if (trusted && trusted->size == seq && range.Root() != trusted->root) {
        return fail("the root at size " + std::to_string(seq) +
                    " differs from the trusted checkpoint " + trusted_file + " (a fork)");
      }
      CUSTODY_RETURN_IF_ERROR(file.Write(std::string_view(line.data(), line.size() + 1)));
    }
    if (pos != text.size()) return fail("the server returned more entries than asked for");
    progress.Update(seq - opt.from, size - opt.from);
  }
  progress.Update(seq - opt.from, size - opt.from, true);
  if (range.Root() != signed_cp.cp.root) {
    return Status::Corruption(std::string(opt.from > 0
                                              ? "the server's prefix and the downloaded entries"
                                              : "the downloaded entries") +
                              " do not hash to the signed root at size " + std::to_string(size) +
                              "; the partial download is in " + entries_path + ".partial");
  }
  CUSTODY_RETURN_IF_ERROR(CheckPriorPolicies(prefix, size, signed_cp.cp.root));
  CUSTODY_RETURN_IF_ERROR(file.CloseAndRename(entries_path));
  const fs::path cps = dir / "checkpoints";
  CUSTODY_RETURN_IF_ERROR(
      WriteFileAtomic((cps / ledger::CheckpointFileName(size)).string(), signed_cp.note));
  if (trusted && trusted->size != size) {
    CUSTODY_RETURN_IF_ERROR(
        WriteFileAtomic((cps / ledger::CheckpointFileName(trusted->size)).string(), trusted_note));
  }
  const size_t prefix_hashes = prefix.range.size(), prior_policies = prefix.policies.size();
  CUSTODY_RETURN_IF_ERROR(ledger::WriteBundleLog(
      opt.out, {signed_cp.cp.origin, signed_cp.key.ToString(), size, std::move(prefix)}));

  if (ctx.format() != Format::kTable) {
    json::object o;
    o["dir"] = opt.out;
    o["first_seq"] = opt.from;
    o["size"] = size;
    o["root"] = ledger::HashToBase64(signed_cp.cp.root);
    o["verifier_key"] = signed_cp.key.ToString();
    o["key_pinned"] = signed_cp.pinned;
    o["verified"] = true;
    o["trusted_size"] = trusted ? json::value(trusted->size) : json::value(nullptr);
    o["prior_policies"] = prior_policies;
    PrintLine(json::serialize(o));
    return Status::Ok();
  }
  std::printf("exported %llu entries to %s\n", static_cast<unsigned long long>(size - opt.from),
              opt.out.c_str());
  std::printf("verified: canonical entries, seq %llu..%llu without gaps, prev chain, root %s\n",
              static_cast<unsigned long long>(opt.from), static_cast<unsigned long long>(size - 1),
              ledger::HashToBase64(signed_cp.cp.root).c_str());
  if (opt.from > 0) {
    std::printf(
        "          entries 0..%llu as their compact range (%zu hashes), %zu earlier "
        "policy entr%s with inclusion proofs\n",
        static_cast<unsigned long long>(opt.from - 1), prefix_hashes, prior_policies,
        prior_policies == 1 ? "y" : "ies");
  }
  std::printf("          signed by %s%s\n", signed_cp.key.ToString().c_str(),
              signed_cp.pinned ? " (pinned)" : " (announced by the server, not pinned)");
  if (trusted) {
    std::printf("          consistent with the trusted checkpoint of size %llu (%s)\n",
                static_cast<unsigned long long>(trusted->size), trusted_file.c_str());
  }
  if (opt.from > 0) {
    std::printf("auditors: custody-verify --key '%s' --trusted-checkpoint <your checkpoint of "
                "size %llu> %s\n",
                signed_cp.key.ToString().c_str(), static_cast<unsigned long long>(opt.from),
                opt.out.c_str());
  } else {
    std::printf("auditors: custody-verify --key '%s' %s\n", signed_cp.key.ToString().c_str(),
                opt.out.c_str());
  }
  return Status::Ok();
}

}  // namespace

void AddExportCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<ExportOpts>();
  CLI::App* cmd = root.add_subcommand(
      "export",
      "Download the log into an export bundle for auditors, verifying it as it is written");
  cmd->add_option("--out", opt->out, "the bundle directory (new or empty)")->required();
  cmd->add_option("--from", opt->from,
                  "start the bundle at seq S (an incremental audit: the entries before S come as "
                  "their Merkle compact range, earlier policy entries with inclusion proofs)")
      ->capture_default_str()
      ->check(NotNegative());
  cmd->add_option("--to", opt->to,
                  "end the bundle at size N (entries before N), or at the newest checkpoint signed below N "
                  "(default: the latest checkpoint's size)")
      ->check(NotNegative());
  cmd->add_option("--page-size", opt->page, "entries per request")
      ->capture_default_str()
      ->check(NotNegative());
  cmd->add_option("--trusted", opt->trusted,
                  "an earlier checkpoint the log must extend (default: the saved one); it is "
                  "added to the bundle");
  cmd->add_flag("-q,--quiet", opt->quiet, "no progress line");
  cmd->footer(
      "A bundle from seq 0 holds the whole log; --from S starts it at S, for an auditor who\n"
      "verified [0, S) before: custody-verify --trusted-checkpoint with last time's checkpoint\n"
      "(size S) proves the new bundle extends exactly what was audited.\n"
      "Layout: entries.ndjson, checkpoints/<20-digit size>.txt, log.json, and with --from\n"
      "prior-policies.ndjson (docs/ledger-format.md section 5). Entries are public: no token "
      "needed.\n\n"
      "Examples:\n"
      "  custodyctl export --out audit-2026-05 --key-file log.pub\n"
      "  custodyctl export --out audit-2026-06 --from 1048576 --key-file log.pub\n"
      "  custody-verify --key-file log.pub --trusted-checkpoint audit-2026-05/checkpoints/"
      "00000000000001048576.txt audit-2026-06");
  out->push_back({cmd, [&ctx, opt] { return RunExport(ctx, *opt); }});
}

}  // namespace custody::client
