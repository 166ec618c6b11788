// Helpers shared by the ledger tests: deterministic entries and ledgers.
#ifndef CUSTODY_TESTS_LEDGER_LEDGER_TEST_UTIL_H_
#define CUSTODY_TESTS_LEDGER_LEDGER_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "custody/ledger/entry.h"
#include "custody/ledger/store.h"

namespace custody::ledger::testutil {

// A `note` entry whose canonical body is {"i":<i>,"pad":"<pad bytes>"}.
PendingEntry NoteEntry(uint64_t i, size_t pad = 16);

// A batch of `count` NoteEntry values numbered from `first`.
std::vector<PendingEntry> NoteBatch(uint64_t first, size_t count, size_t pad = 16);

// Opens (creating) a ledger named "test.example/log" in `dir`.
std::unique_ptr<Ledger> OpenLedgerOrDie(const std::string& dir, uint64_t initial_map = 1 << 20,
                                        uint64_t max_map = 1ull << 32);

}  // namespace custody::ledger::testutil

#endif  // CUSTODY_TESTS_LEDGER_LEDGER_TEST_UTIL_H_
