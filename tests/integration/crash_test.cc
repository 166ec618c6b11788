// custodyd under load and under kill -9: every acknowledged event survives,
// a full queue answers 503 without writing half a request, and the ledger
// verifies after every restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <boost/json.hpp>

#include "custody/ledger/entry.h"
#include "custody/ledger/store.h"
#include "custody/ledger/verifier.h"
#include "testing/daemon_harness.h"
#include "testing/status_matchers.h"

namespace custody::testing {
namespace {

using namespace std::chrono_literals;

std::string AccessEvent(const std::string& id) {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:00:00Z","activity":"read","actor":{"type":"service","id":"crm-sync","country":"US"},)"
         R"("target":{"system":"us-crm","type":"database","country":"US"},)"
         R"("data":{"categories":["contact.email"],"record_count":1},)"
         R"("subjects":{"count":1,"jurisdictions":{"US":1},"ids":["user:)" + id + R"("]}})";
}

// Acknowledged (event_id -> seq) pairs, filled by many client threads.
struct Acks {
  std::mutex mu;
  std::map<std::string, uint64_t> seq_of;
  std::atomic<uint64_t> rejected_503{0};
  std::string last_503_body;  // guarded by mu
  void Record(const std::string& body) {
    auto v = boost::json::parse(body);
    std::lock_guard lock(mu);
    for (const auto& r : v.at("results").as_array()) {
      seq_of[std::string(r.at("event_id").as_string())] = r.at("seq").to_number<uint64_t>();
    }
  }
};

// Sends events from `threads` clients until `stop`; records every 200.
void Load(uint16_t port, int threads, int batch, const std::string& tag, std::atomic<bool>* stop,
          Acks* acks) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([=] {
      HttpClient client(port, 5s);
      for (int n = 0; !stop->load(); ++n) {
        std::string body;
        for (int k = 0; k < batch; ++k) {
          body += AccessEvent(tag + "-" + std::to_string(t) + "-" + std::to_string(n) + "-" +
                              std::to_string(k)) + "\n";
        }
        HttpResult r = client.Post("/v1/events", body, "application/x-ndjson", kProducerToken);
        if (r.status == 200) {
          acks->Record(r.body);
        } else if (r.status == 503) {
          ++acks->rejected_503;
          {
            std::lock_guard lock(acks->mu);
            acks->last_503_body = r.body;
          }
          EXPECT_FALSE(r.header("retry-after").empty());
          EXPECT_NE(r.header("content-type").find("problem+json"), std::string::npos);
          std::this_thread::sleep_for(2ms);
        } else if (r.status == 0) {
          std::this_thread::sleep_for(5ms);  // the daemon is gone (kill -9): keep trying
        } else {
          ADD_FAILURE() << "HTTP " << r.status << ": " << r.body;
          return;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
}

// Opens a copy-free read-only view of the stopped daemon's ledger and checks
// that every acknowledged event sits at its acknowledged seq, and that the
// whole ledger verifies.
void CheckLedger(const std::string& data_dir, const Acks& acks) {
  ledger::LedgerOptions o;
  o.dir = data_dir + "/ledger";
  o.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto ledger, ledger::Ledger::Open(o));
  ASSERT_OK_AND_ASSIGN(ledger::ReadView view, ledger->Read());
  for (const auto& [event_id, seq] : acks.seq_of) {
    ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(seq));
    ASSERT_OK_AND_ASSIGN(ledger::DecodedEntry entry, ledger::DecodeEntry(bytes));
    ASSERT_EQ(entry.body.at("event_id").as_string(), event_id) << "seq " << seq;
  }
  ledger::VerifyOptions vo;
  vo.key = ledger->verifier_key();
  ASSERT_OK_AND_ASSIGN(ledger::VerifyReport report, ledger::VerifyDataDir(o.dir, vo));
  EXPECT_TRUE(report.ok) << report.Summary();
}

// A full disk, simulated by a file size limit (writes past it fail with
// EFBIG as they would with ENOSPC; custodyd ignores SIGXFSZ): commits fail
// and are answered 503 with nothing half-written, the daemon stays up and
// serves reads, and after a restart with space again every acknowledged
// event is there and appending works.
TEST(CrashTest, FullDiskAnswers503AndLosesNothing) {
  DaemonOptions options;
  options.command_prefix = {"/usr/bin/prlimit", "--fsize=" + std::to_string(24 << 20), "--"};
  DaemonHarness daemon(options);
  ASSERT_TRUE(daemon.Start()) << daemon.last_error();
  Acks acks;
  std::atomic<bool> stop{false};
  std::thread load([&] { Load(daemon.port(), 4, 50, "full", &stop, &acks); });
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (acks.rejected_503 < 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  load.join();
  ASSERT_GE(acks.rejected_503.load(), 100u) << "the file size limit was never reached";
  ASSERT_GT(acks.seq_of.size(), 1000u);
  EXPECT_TRUE(daemon.Signal(0)) << "custodyd died at the file size limit";
  EXPECT_EQ(daemon.Client().Get("/v1/checkpoint").status, 200);
  EXPECT_NE(daemon.Log().find("file size limit"), std::string::npos);
  const int code = daemon.Stop();
  EXPECT_GE(code, 0);
  EXPECT_LT(code, 128) << "custodyd was killed by a signal";
  CheckLedger(daemon.data_dir(), acks);

  daemon.options().command_prefix.clear();
  ASSERT_TRUE(daemon.Start()) << daemon.last_error();
  HttpResult r = daemon.Client().Post("/v1/events", AccessEvent("after-space"), "application/json",
                                      kProducerToken);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(daemon.Stop(), 0);
  std::printf("full disk: %zu acknowledged events all present, %llu answered 503\n",
              acks.seq_of.size(), static_cast<unsigned long long>(acks.rejected_503.load()));
}

TEST(CrashTest, KillNineDuringLoadKeepsEveryAcknowledgedEvent) {
  DaemonHarness daemon;
  Acks acks;
  std::mt19937 rng(7);
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(daemon.Start()) << daemon.last_error();
    std::atomic<bool> stop{false};
    std::thread load([&] {
      Load(daemon.port(), 6, 1 + round % 3 * 20, "r" + std::to_string(round), &stop, &acks);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 350));
    daemon.Kill();  // SIGKILL mid-load
    stop = true;
    load.join();
  }
  ASSERT_GT(acks.seq_of.size(), 100u);
  CheckLedger(daemon.data_dir(), acks);
  // After a last restart, resending an acknowledged event is a duplicate
  // with its original seq: the idempotency map survived every crash too.
  ASSERT_TRUE(daemon.Start()) << daemon.last_error();
  HttpClient client = daemon.Client();
  const auto& [event_id, seq] = *acks.seq_of.begin();
  HttpResult r = client.Post("/v1/events", AccessEvent(event_id), "application/json", kProducerToken);
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = boost::json::parse(r.body);
  EXPECT_TRUE(v.at("results").at(0).at("duplicate").as_bool());
  EXPECT_EQ(v.at("results").at(0).at("seq").to_number<uint64_t>(), seq);
  EXPECT_EQ(daemon.Stop(), 0);
  std::printf("kill -9: %d rounds, %zu acknowledged events all present, ledger verifies\n",
              kRounds, acks.seq_of.size());
}

TEST(CrashTest, FullQueueAnswers503AndWritesNothingHalfway) {
  DaemonOptions options;
  options.ingest = {"queue_capacity = 40", "batch_size = 20"};
  DaemonHarness daemon(options);
  ASSERT_TRUE(daemon.Start()) << daemon.last_error();
  Acks acks;
  std::atomic<bool> stop{false};
  std::thread load([&] { Load(daemon.port(), 12, 20, "q", &stop, &acks); });
  std::this_thread::sleep_for(1500ms);
  stop = true;
  load.join();
  EXPECT_GT(acks.rejected_503.load(), 0u) << "the queue never filled";
  // One clear sentence: what, that nothing was written, when to retry.
  const std::string detail(
      boost::json::parse(acks.last_503_body).at("detail").as_string().c_str());
  EXPECT_THAT(detail, ::testing::MatchesRegex(
                          "the ingest queue is full \\([0-9]+ events waiting\\); nothing was "
                          "appended; retry after [0-9]+ s"));
  const uint64_t acked = acks.seq_of.size();
  ASSERT_EQ(daemon.Stop(), 0);
  CheckLedger(daemon.data_dir(), acks);
  // Nothing but acknowledged events (and the policy entry) was appended: a
  // refused request left no trace.
  ledger::LedgerOptions o;
  o.dir = daemon.data_dir() + "/ledger";
  o.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto ledger, ledger::Ledger::Open(o));
  EXPECT_EQ(ledger->size(), acked + 1);
  std::printf("full queue: %llu requests refused with 503, %llu events acknowledged\n",
              static_cast<unsigned long long>(acks.rejected_503.load()),
              static_cast<unsigned long long>(acked));
}

}  // namespace
}  // namespace custody::testing
