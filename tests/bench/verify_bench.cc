// Offline verification speed against the floor of reading the same bytes:
// builds a ledger of access entries (~500-byte event bodies with decisions
// naming a policy, as custodyd writes them), exports a bundle, then in each
// round times `sha256sum entries.ndjson`, the custody-verify binary and
// VerifyBundle in this process, one after the other. Prints the best,
// median and worst of the rounds; asserts nothing but the verdicts.
//
//   verify_bench [--entries N] [--from S] [--runs R] [--dir DIR] [--keep]
//                [--verify PATH] [--bundle DIR --key VERIFIER_KEY]
//
// --from: export entries [S, N) (an incremental audit's bundle: the
//   verifier extends the prefix's compact range one leaf at a time).
// --dir: work directory (default $TMPDIR/custody-verify-bench, removed
//   afterwards unless --keep); the ledger and bundle are built there.
// --verify: the custody-verify binary (default: the one in this build tree).
// --bundle/--key: time an existing bundle instead of building one.
// Goals (issues 2 and 5): >= 1,000,000 entries/s, within 3x of sha256sum.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "custody/ledger/bundle.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"
#include "custody/ledger/store.h"
#include "custody/ledger/verifier.h"
#include "custody/schema/clock.h"

extern char** environ;

namespace {

using namespace custody;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr uint64_t kBatch = 1000;  // one checkpoint per batch, as custodyd commits

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "verify_bench: %s\n", what.c_str());
  std::exit(1);
}

// A ~500-byte canonical event body shaped like a real access event
// (members in canonical order).
std::string Body(uint64_t i) {
  std::string b = R"({"activity":"read","actor":{"country":"US","id":"emp-)" +
                  std::to_string(i % 977) + R"(","type":"human"},"attributes":{"note":")";
  b += std::string(120, 'x');
  b += R"("},"data":{"categories":["contact.email","identity.name"],"record_count":1},)"
       R"("event_id":"evt-)" +
       std::to_string(i) +
       R"(","origin":{"country":"US","system":"us-crm"},"outcome":"allowed","subjects":{"count":1,)"
       R"("jurisdictions":{"US":1},"refs":["ps1:0f3a9c1d2e4b5a69788796a5b4c3d2e1"]},)"
       R"("target":{"country":"US","id":"users","system":"us-crm","type":"database"},)"
       R"("time":"2026-05-04T09:00:00Z"})";
  return b;
}

// The decision custodyd records with an access entry; one in a hundred hits a rule.
std::string Decision(uint64_t i, const std::string& policy_sha) {
  std::string hits;
  if (i % 100 == 0) {
    hits = R"({"reason":"personal data leaves its region","rule":"residency-us",)"
           R"("severity":"high","version":3})";
  }
  return R"({"hits":[)" + hits + R"(],"lifted":[],"policy_sha256":")" + policy_sha +
         R"(","policy_version":"2026-05-01"})";
}

// Builds a ledger of `n` entries in `dir` (a policy entry, then access
// entries) and exports it to `bundle`. Returns the verifier key.
std::string BuildBundle(const std::string& dir, const std::string& bundle, uint64_t n,
                        uint64_t from) {
  ledger::LedgerOptions o;
  o.dir = dir;
  o.origin = "bench.example/log";
  o.initial_map_size = 1ull << 30;
  auto opened = ledger::Ledger::Open(o);
  if (!opened.ok()) Die("open: " + opened.status().ToString());
  std::unique_ptr<ledger::Ledger> log = std::move(opened).value();
  const std::string policy_text = "rule residency-us: personal data stays in its region";
  const std::string policy_sha = ledger::HashToHex(ledger::Sha256(policy_text));
  const auto t0 = Clock::now();
  for (uint64_t first = 0; first < n; first += kBatch) {
    std::vector<ledger::PendingEntry> batch(std::min(kBatch, n - first));
    for (uint64_t k = 0; k < batch.size(); ++k) {
      const uint64_t i = first + k;
      auto& e = batch[k];
      e.producer = "us-crm-gateway";
      e.received_at = schema::FromUnixMicros(1777885200000000LL + static_cast<int64_t>(i) * 1000);
      if (i == 0) {
        e.kind = "policy";
        e.body = R"({"sha256":")" + policy_sha + R"(","text":")" + policy_text + R"("})";
      } else {
        e.kind = "access";
        e.body = Body(i);
        e.decision = Decision(i, policy_sha);
      }
    }
    if (auto r = log->AppendBatch(batch); !r.ok()) Die("append: " + r.status().ToString());
  }
  std::printf("built a ledger of %llu entries in %.1f s\n", static_cast<unsigned long long>(n),
              Seconds(t0, Clock::now()));
  ledger::ExportOptions eo;
  eo.all_checkpoints = true;
  eo.first_seq = from;
  if (auto s = ledger::ExportBundle(*log, bundle, eo); !s.ok()) Die("export: " + s.ToString());
  return log->verifier_key().ToString();
}

// Runs `argv` with stdout to /dev/null and returns its exit status.
int Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) Die("cannot run " + argv[0] + ": " + std::strerror(err));
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) Die("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct Timings {
  std::string name;
  std::vector<double> seconds;
};

void Report(const std::vector<Timings>& all, uint64_t entries, uint64_t bytes) {
  const double floor = *std::min_element(all[0].seconds.begin(), all[0].seconds.end());
  std::printf("\n%-22s %8s %8s %8s %12s %9s %10s\n", "", "best s", "median", "worst", "entries/s",
              "MB/s", "vs sha256");
  for (Timings t : all) {
    std::sort(t.seconds.begin(), t.seconds.end());
    const double best = t.seconds.front();
    std::printf("%-22s %8.3f %8.3f %8.3f %12.0f %9.0f %9.2fx\n", t.name.c_str(), best,
                t.seconds[t.seconds.size() / 2], t.seconds.back(), entries / best,
                bytes / best / 1e6, best / floor);
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 1000000, from = 0;
  int runs = 3;
  bool keep = false;
  std::string dir, verify_bin, bundle, key;
#ifdef CUSTODY_VERIFY_BIN
  verify_bin = CUSTODY_VERIFY_BIN;
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--entries")
      n = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--from")
      from = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--runs")
      runs = std::max(1, std::atoi(value().c_str()));
    else if (a == "--dir")
      dir = value();
    else if (a == "--keep")
      keep = true;
    else if (a == "--verify")
      verify_bin = value();
    else if (a == "--bundle")
      bundle = value();
    else if (a == "--key")
      key = value();
    else
      Die("unknown argument " + a + " (see the header of verify_bench.cc)");
  }
  if (verify_bin.empty()) Die("give --verify PATH (custody-verify is not in this build)");
  if (bundle.empty() != key.empty()) Die("--bundle and --key go together");
  const bool own_dir = dir.empty() && bundle.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/custody-verify-bench";
  }
  if (bundle.empty()) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    bundle = dir + "/bundle";
    key = BuildBundle(dir + "/ledger", bundle, n, from);
  }
  const std::string entries_file = bundle + "/entries.ndjson";
  const uint64_t bytes = fs::file_size(entries_file);
  {
    // Every tool reads from the page cache: warm it once.
    std::ifstream in(entries_file, std::ios::binary);
    std::vector<char> buf(1 << 20);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    }
  }
  ledger::EnsureSodium();
  auto parsed_key = ledger::VerifierKey::Parse(key);
  if (!parsed_key.ok()) Die("bad key: " + parsed_key.status().ToString());
  ledger::VerifyOptions options;
  options.key = *parsed_key;

  std::vector<Timings> all = {
      {"sha256sum", {}}, {"custody-verify", {}}, {"VerifyBundle (in-proc)", {}}};
  uint64_t entries = 0;
  for (int round = 0; round < runs; ++round) {
    auto t0 = Clock::now();
    if (Spawn({"sha256sum", entries_file}) != 0) Die("sha256sum failed");
    all[0].seconds.push_back(Seconds(t0, Clock::now()));
    t0 = Clock::now();
    if (Spawn({verify_bin, "-q", "--key", key, bundle}) != 0) Die(verify_bin + " did not verify");
    all[1].seconds.push_back(Seconds(t0, Clock::now()));
    t0 = Clock::now();
    auto r = ledger::VerifyBundle(bundle, options);
    all[2].seconds.push_back(Seconds(t0, Clock::now()));
    if (!r.ok() || !r->ok) Die("VerifyBundle: " + (r.ok() ? r->Summary() : r.status().ToString()));
    entries = r->entries;
    std::printf("round %d: sha256sum %.3f s, custody-verify %.3f s, in-process %.3f s\n", round + 1,
                all[0].seconds.back(), all[1].seconds.back(), all[2].seconds.back());
  }
  std::printf("\n%llu entries, %.1f MB, %u hardware threads, %d rounds\n",
              static_cast<unsigned long long>(entries), bytes / 1e6,
              std::thread::hardware_concurrency(), runs);
  Report(all, entries, bytes);
  if (own_dir && !keep) fs::remove_all(dir);
  return 0;
}
