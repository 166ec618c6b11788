// A [[token]] as the config would hold it, for tests that build an
// Authenticator directly: `secret` is the bearer token, stored as its SHA-256.
#ifndef CUSTODY_TESTS_DAEMON_TOKEN_TEST_UTIL_H_
#define CUSTODY_TESTS_DAEMON_TOKEN_TEST_UTIL_H_

#include <algorithm>
#include <string>
#include <string_view>

#include "custody/ledger/hash.h"
#include "daemon/config/config.h"

namespace custody::daemon::test {

inline TokenConfig Token(std::string name, Role role, std::string_view secret) {
  TokenConfig t;
  t.name = std::move(name);
  t.role = role;
  const ledger::Hash h = ledger::Sha256(secret);
  std::copy(h.begin(), h.end(), t.sha256.begin());
  return t;
}

}  // namespace custody::daemon::test

#endif  // CUSTODY_TESTS_DAEMON_TOKEN_TEST_UTIL_H_
