// Ledger benchmark: durable AppendBatch throughput, proof generation at
// 1M entries, and verification speed. Prints figures; asserts nothing.
//
//   ledger_bench [--entries N] [--dir DIR]
// DIR defaults to a fresh directory under $TMPDIR (removed afterwards); it
// must be on the disk whose fsync you want to measure.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "custody/ledger/bundle.h"
#include "custody/ledger/merkle.h"
#include "custody/ledger/store.h"
#include "custody/ledger/verifier.h"
#include "custody/schema/clock.h"

namespace {

using namespace custody;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A ~500-byte canonical body shaped like a real access event.
std::string Body(uint64_t i) {
  // Members in canonical (sorted) order.
  std::string b = R"({"activity":"read","actor":{"country":"US","id":"emp-)" +
                  std::to_string(i % 977) + R"(","type":"human"},"attributes":{"note":")";
  b += std::string(120, 'x');
  b += R"("},"data":{"categories":["contact.email","identity.name"],"record_count":1},)"
       R"("event_id":"evt-)" + std::to_string(i) +
       R"(","origin":{"country":"US","system":"us-crm"},"outcome":"allowed","subjects":{"count":1,)"
       R"("jurisdictions":{"US":1},"refs":["ps1:0f3a9c1d2e4b5a69788796a5b4c3d2e1"]},)"
       R"("target":{"country":"US","id":"users","system":"us-crm","type":"database"},)"
       R"("time":"2026-05-04T09:00:00Z"})";
  return b;
}

std::vector<ledger::PendingEntry> Batch(uint64_t first, size_t n) {
  std::vector<ledger::PendingEntry> v(n);
  for (size_t k = 0; k < n; ++k) {
    v[k].kind = "note";
    v[k].producer = "bench";
    v[k].received_at = schema::FromUnixMicros(1777885200000000LL + first + k);
    v[k].body = Body(first + k);
  }
  return v;
}

std::unique_ptr<ledger::Ledger> Open(const std::string& dir) {
  ledger::LedgerOptions o;
  o.dir = dir;
  o.origin = "bench.example/log";
  o.initial_map_size = 1ull << 30;
  auto l = ledger::Ledger::Open(o);
  if (!l.ok()) {
    std::fprintf(stderr, "open: %s\n", l.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(l).value();
}

long RssMiB() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

void BenchAppend(const std::string& dir, size_t batch, size_t total) {
  std::filesystem::remove_all(dir);
  auto ledger = Open(dir);
  std::vector<std::vector<ledger::PendingEntry>> batches;
  for (size_t i = 0; i < total; i += batch) batches.push_back(Batch(i, batch));
  std::vector<double> lat;
  const auto t0 = Clock::now();
  for (const auto& b : batches) {
    const auto s = Clock::now();
    auto r = ledger->AppendBatch(b);
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    lat.push_back(Seconds(s, Clock::now()) * 1e3);
  }
  const double secs = Seconds(t0, Clock::now());
  std::sort(lat.begin(), lat.end());
  const auto bytes = std::filesystem::file_size(std::filesystem::path(dir) / "data.mdb");
  std::printf(
      "append  batch=%-5zu entries=%-8zu %10.0f entries/s  %8.0f commits/s  commit p50=%.2f ms "
      "p99=%.2f ms  %.0f bytes/entry on disk\n",
      batch, total, total / secs, batches.size() / secs, lat[lat.size() / 2],
      lat[lat.size() * 99 / 100], static_cast<double>(bytes) / total);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t big = 1000000;
  std::string base;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--entries") big = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--dir") base = argv[i + 1];
  }
  const bool own_dir = base.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    base = std::string(tmp && *tmp ? tmp : "/tmp") + "/custody-ledger-bench";
  }
  std::filesystem::create_directories(base);

  BenchAppend(base + "/b1", 1, 2000);
  BenchAppend(base + "/b100", 100, 200000);
  BenchAppend(base + "/b1000", 1000, big);

  // Proofs at 1M entries (the ledger of the batch-1000 run).
  auto ledger = Open(base + "/b1000");
  const uint64_t n = ledger->size();
  std::optional<ledger::ReadView> view;
  view.emplace(std::move(ledger->Read()).value());
  std::mt19937_64 rng(1);
  constexpr int kProofs = 100000;
  std::vector<double> lat;
  lat.reserve(kProofs);
  auto t0 = Clock::now();
  for (int i = 0; i < kProofs; ++i) {
    const uint64_t index = rng() % n;
    const auto s = Clock::now();
    auto p = view->InclusionProof(index, n);
    lat.push_back(Seconds(s, Clock::now()) * 1e6);
    if (!p.ok()) return 1;
  }
  double secs = Seconds(t0, Clock::now());
  std::sort(lat.begin(), lat.end());
  std::printf("inclusion proof at %llu entries: mean %.2f us  p50 %.2f us  p99 %.2f us\n",
              static_cast<unsigned long long>(n), secs / kProofs * 1e6, lat[kProofs / 2],
              lat[kProofs * 99 / 100]);
  lat.clear();
  t0 = Clock::now();
  for (int i = 0; i < kProofs; ++i) {
    const uint64_t from = 1 + rng() % (n - 1);
    const auto s = Clock::now();
    auto p = view->ConsistencyProof(from, n);
    lat.push_back(Seconds(s, Clock::now()) * 1e6);
    if (!p.ok()) return 1;
  }
  secs = Seconds(t0, Clock::now());
  std::sort(lat.begin(), lat.end());
  std::printf("consistency proof to %llu entries: mean %.2f us  p50 %.2f us  p99 %.2f us\n",
              static_cast<unsigned long long>(n), secs / kProofs * 1e6, lat[kProofs / 2],
              lat[kProofs * 99 / 100]);
  view.reset();  // end the read txn before the ledger closes
  const auto key = ledger->verifier_key();

  // Verification: a bundle and the data dir.
  std::filesystem::remove_all(base + "/bundle");
  ledger::ExportOptions eo;
  eo.all_checkpoints = true;
  t0 = Clock::now();
  if (auto s = ledger::ExportBundle(*ledger, base + "/bundle", eo); !s.ok()) {
    std::fprintf(stderr, "export: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("export of %llu entries: %.2f s\n", static_cast<unsigned long long>(n),
              Seconds(t0, Clock::now()));
  ledger.reset();
  ledger::VerifyOptions vo;
  vo.key = key;
  t0 = Clock::now();
  auto r = ledger::VerifyBundle(base + "/bundle", vo);
  secs = Seconds(t0, Clock::now());
  if (!r.ok() || !r->ok) {
    std::fprintf(stderr, "verify failed: %s\n", r.ok() ? r->Summary().c_str() : r.status().ToString().c_str());
    return 1;
  }
  std::printf("verify bundle: %llu entries, %llu checkpoints in %.2f s = %.0f entries/s\n",
              static_cast<unsigned long long>(r->entries),
              static_cast<unsigned long long>(r->checkpoints), secs, r->entries / secs);
  t0 = Clock::now();
  r = ledger::VerifyDataDir(base + "/b1000", vo);
  secs = Seconds(t0, Clock::now());
  if (!r.ok() || !r->ok) return 1;
  std::printf("verify data dir: %llu entries in %.2f s = %.0f entries/s\n",
              static_cast<unsigned long long>(r->entries), secs, r->entries / secs);
  std::printf("max RSS %ld MiB\n", RssMiB());
  if (own_dir) std::filesystem::remove_all(base);
  return 0;
}
