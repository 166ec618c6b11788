// A child process for the durability test: appends batches to the ledger in
// argv[1] forever, printing "acked <size>" after each AppendBatch returns.
// The test kills it with SIGKILL at a random moment.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "ledger/ledger_test_util.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s LEDGER_DIR SEED\n", argv[0]);
    return 2;
  }
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  // Every other seed with data.mdb preallocation as custodyd runs it, so
  // kills also land in the middle of a zero fill.
  custody::ledger::LedgerOptions o;
  o.dir = argv[1];
  o.origin = "test.example/log";
  o.initial_map_size = 1 << 20;
  o.max_map_size = 1ull << 32;
  o.preallocate_max = rng() % 2 == 0 ? 4 << 20 : 0;
  auto opened = custody::ledger::Ledger::Open(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "open ledger %s: %s\n", argv[1], opened.status().ToString().c_str());
    return 1;
  }
  auto ledger = std::move(opened).value();
  for (;;) {
    const size_t count = 1 + rng() % 100;
    auto r = ledger->AppendBatch(custody::ledger::testutil::NoteBatch(ledger->size(), count, 200));
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
      return 1;
    }
    const std::string line = "acked " + std::to_string(r->size) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
  }
}
