#include "ledger/ledger_test_util.h"

#include <cstdio>
#include <cstdlib>

#include "custody/schema/clock.h"

namespace custody::ledger::testutil {

PendingEntry NoteEntry(uint64_t i, size_t pad) {
  PendingEntry e;
  e.kind = "note";
  e.producer = "tester";
  e.received_at = schema::FromUnixMicros(1777885200000000LL + static_cast<int64_t>(i));
  e.body = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(pad, 'x') + "\"}";
  return e;
}

std::vector<PendingEntry> NoteBatch(uint64_t first, size_t count, size_t pad) {
  std::vector<PendingEntry> batch;
  batch.reserve(count);
  for (size_t k = 0; k < count; ++k) batch.push_back(NoteEntry(first + k, pad));
  return batch;
}

std::unique_ptr<Ledger> OpenLedgerOrDie(const std::string& dir, uint64_t initial_map,
                                        uint64_t max_map) {
  LedgerOptions o;
  o.dir = dir;
  o.origin = "test.example/log";
  o.initial_map_size = initial_map;
  o.max_map_size = max_map;
  auto l = Ledger::Open(o);
  if (!l.ok()) {
    std::fprintf(stderr, "open ledger %s: %s\n", dir.c_str(), l.status().ToString().c_str());
    std::abort();
  }
  return std::move(l).value();
}

}  // namespace custody::ledger::testutil
