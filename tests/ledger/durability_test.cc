// kill -9 at random points while a child appends: every batch AppendBatch
// returned for must survive, and the reopened ledger must verify.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "custody/ledger/entry.h"
#include "custody/ledger/store.h"
#include "custody/ledger/verifier.h"
#include "ledger/ledger_test_util.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace custody::ledger {
namespace {

// Runs the crash writer for about `run_ms`, SIGKILLs it and returns the
// largest size it reported as acknowledged.
uint64_t RunAndKill(const std::string& dir, uint64_t seed, int run_ms) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const std::string seed_text = std::to_string(seed);
  char* argv[] = {const_cast<char*>(CUSTODY_CRASH_WRITER), const_cast<char*>(dir.c_str()),
                  const_cast<char*>(seed_text.c_str()), nullptr};
  pid_t pid;
  EXPECT_EQ(posix_spawn(&pid, CUSTODY_CRASH_WRITER, &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);

  uint64_t acked = 0;
  std::string pending;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  auto drain = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) return false;
    pending.append(buf, n);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      acked = std::max<uint64_t>(acked, std::stoull(pending.substr(6, nl - 6)));
    }
    return true;
  };
  while (std::chrono::steady_clock::now() < deadline) drain(5);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Anything the child wrote before it died was acknowledged before the kill.
  while (drain(0)) {
  }
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status)) << "crash writer exited on its own: " << status;
  return acked;
}

TEST(Durability, SigkillNeverLosesAcknowledgedBatches) {
  testing::ScopedTempDir dir;
  const std::string path = dir.File("log");
  std::mt19937_64 rng(20261123);
  uint64_t total_acked = 0;
  constexpr int kRounds = 25;
  for (int round = 0; round < kRounds; ++round) {
    const int run_ms = 30 + static_cast<int>(rng() % 250);
    const uint64_t acked = RunAndKill(path, rng(), run_ms);
    auto ledger = testutil::OpenLedgerOrDie(path, 1 << 20, 1ull << 32);
    ASSERT_GE(ledger->size(), acked) << "round " << round << ": acknowledged entries lost";
    ASSERT_GE(ledger->size(), total_acked);
    total_acked = std::max(total_acked, acked);
    // Spot-check acknowledged content: entry i carries body {"i": i}.
    ASSERT_OK_AND_ASSIGN(ReadView view, ledger->Read());
    for (uint64_t seq : {uint64_t{0}, acked / 2, acked == 0 ? 0 : acked - 1}) {
      if (seq >= view.size()) continue;
      ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(seq));
      ASSERT_OK_AND_ASSIGN(DecodedEntry d, DecodeEntry(bytes));
      EXPECT_EQ(d.body.at("i").to_number<uint64_t>(), seq);
    }
    VerifyOptions options;
    options.key = ledger->verifier_key();
    ASSERT_OK_AND_ASSIGN(VerifyReport report, VerifyDataDir(path, options));
    ASSERT_TRUE(report.ok) << "round " << round << ": " << report.Summary();
  }
  EXPECT_GT(total_acked, 0u);
  std::printf("durability: %d kill -9 rounds, %llu entries acknowledged and all present\n",
              kRounds, static_cast<unsigned long long>(total_acked));
}

}  // namespace
}  // namespace custody::ledger
