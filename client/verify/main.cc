// custody-verify: the auditor's offline verifier. Links only the ledger and
// schema libraries: no HTTP, no network.
//
//   custody-verify --key VERIFIER_KEY [--trusted-checkpoint FILE] BUNDLE_DIR
//   custody-verify --key-file FILE --data-dir DIR
// Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "custody/ledger/keys.h"
#include "custody/ledger/verifier.h"
#include "custody/schema/json_canon.h"

namespace {

using custody::ledger::VerifierKey;
using custody::ledger::VerifyOptions;
using custody::ledger::VerifyReport;

constexpr int kValid = 0, kInvalid = 1, kUsage = 2;

// Reads `path` whole; on failure returns false with the reason (strerror:
// "No such file or directory", "Permission denied") in *why.
bool ReadFile(const std::string& path, std::string* out, std::string* why) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *why = std::strerror(errno);
    return false;
  }
  out->clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) *why = std::strerror(err);  // e.g. "Is a directory"
  return !failed;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A progress bar on stderr when it is a terminal. The verifier reports while
// its threads hash and check the entries, every 65536 entries or so.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void Update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    open_ = done != total;
    const int width = 40;
    const int filled = static_cast<int>(width * done / total);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %llu/%llu entries %.0f/s", filled,
                 "########################################", width - filled, "",
                 static_cast<int>(100 * done / total), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), secs > 0 ? done / secs : 0.0);
    if (done == total) std::fprintf(stderr, "\n");
  }
  // Ends the bar's line when verification stopped short of the end (a
  // failure), so that the report does not continue it.
  void Finish() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }

 private:
  bool enabled_;
  bool open_ = false;  // a bar is drawn and its line not ended
  std::chrono::steady_clock::time_point start_;
};

// On failure only `valid`, `failure` and `seconds`: the counts, times and
// root describe a verified log, and the verifier stopped before it had one
// (placeholders such as an all-zero root would read as facts).
std::string JsonReport(const VerifyReport& r, double seconds) {
  boost::json::object o;
  o["valid"] = r.ok;
  if (!r.ok) {
    boost::json::object f;
    if (r.bad_seq) f["seq"] = *r.bad_seq;
    if (r.bad_checkpoint) f["checkpoint"] = *r.bad_checkpoint;
    f["reason"] = r.reason;
    o["failure"] = f;
    o["seconds"] = seconds;
    return boost::json::serialize(o);
  }
  o["first_seq"] = r.first_seq;
  o["entries"] = r.entries;
  o["checkpoints"] = r.checkpoints;
  o["latest_checkpoint_size"] = r.latest_checkpoint_size;
  o["policies"] = r.policies;
  o["prior_policies"] = r.prior_policies;
  o["alerts"] = r.alerts;
  boost::json::object kinds;
  for (const auto& [k, n] : r.kinds) kinds[k] = n;
  o["kinds"] = kinds;
  o["first_time"] = r.first_time;
  o["last_time"] = r.last_time;
  o["root"] = custody::ledger::HashToBase64(r.root);
  o["seconds"] = seconds;
  return boost::json::serialize(o);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "custody-verify: check a custody ledger offline with nothing but its public key.\n\n"
      "Recomputes every entry's hash chain, the Merkle root at every signed checkpoint,\n"
      "every checkpoint signature, and consistency with an earlier trusted checkpoint.\n\n"
      "Examples:\n"
      "  custody-verify --key 'custody.example/log+1a2b3c4d+AbC...' ./bundle\n"
      "  custody-verify --key-file log.pub --trusted-checkpoint last-audit.txt ./bundle\n"
      "  custody-verify --key-file log.pub --data-dir /var/lib/custody-copy\n\n"
      "Exit status: 0 valid, 1 invalid (the first bad seq or checkpoint is printed), 2 usage or "
      "I/O error."};
  std::string key_text, key_file, trusted_file, data_dir, bundle_dir, output = "text";
  unsigned threads = 0;
  bool quiet = false;
  app.add_option("--key", key_text, "verifier key: <name>+<hex key id>+<base64 key>");
  app.add_option("--key-file", key_file, "file holding the verifier key (one line)");
  app.add_option("--trusted-checkpoint", trusted_file,
                 "a signed checkpoint from an earlier audit; the log must extend it");
  app.add_option("--data-dir", data_dir,
                 "verify a COPY of custodyd's data_dir or of its ledger/ directory (read-only)");
  app.add_option("bundle", bundle_dir, "export bundle directory (entries.ndjson, checkpoints/)");
  app.add_option("-o,--output", output, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--threads", threads, "hashing threads (default: one per core)");
  app.add_flag("-q,--quiet", quiet, "no progress bar");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;
  }
  if (key_text.empty() == key_file.empty()) {
    std::cerr << "custody-verify: give exactly one of --key or --key-file (see --help)\n";
    return kUsage;
  }
  if (bundle_dir.empty() == data_dir.empty()) {
    std::cerr << "custody-verify: give exactly one of BUNDLE_DIR or --data-dir DIR (see --help)\n";
    return kUsage;
  }
  std::string why;
  if (!key_file.empty() && !ReadFile(key_file, &key_text, &why)) {
    std::cerr << "custody-verify: cannot read key file " << key_file << ": " << why << "\n";
    return kUsage;
  }
  auto key = VerifierKey::Parse(Trim(key_text));
  if (!key.ok()) {
    std::cerr << "custody-verify: bad verifier key: " << key.status().message() << "\n";
    return kUsage;
  }
  custody::ledger::EnsureSodium();
  VerifyOptions options;
  options.key = *key;
  options.threads = threads;
  if (!trusted_file.empty()) {
    std::string note;
    if (!ReadFile(trusted_file, &note, &why)) {
      std::cerr << "custody-verify: cannot read trusted checkpoint " << trusted_file << ": "
                << why << "\n";
      return kUsage;
    }
    options.trusted_checkpoint = note;
  }
  Progress progress(!quiet && output == "text" && ::isatty(STDERR_FILENO));
  options.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };

  const auto start = std::chrono::steady_clock::now();
  auto report = data_dir.empty() ? custody::ledger::VerifyBundle(bundle_dir, options)
                                 : custody::ledger::VerifyDataDir(data_dir, options);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.Finish();
  if (!report.ok()) {
    // The message only: status code names ("not_found:") mean nothing to an
    // auditor.
    std::cerr << "custody-verify: " << report.status().message() << "\n";
    return kUsage;
  }
  if (output == "json") {
    std::cout << JsonReport(*report, secs) << "\n";
  } else {
    std::cout << report->Summary() << "\n";
    if (report->ok) {
      std::cout << "root " << custody::ledger::HashToBase64(report->root) << " verified in "
                << secs << " s\n";
    }
  }
  return report->ok ? kValid : kInvalid;
}
