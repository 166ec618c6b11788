// Bearer-token authentication and the role rules of DESIGN.md's HTTP API.
//
// The config holds only SHA-256 hashes of tokens. Authenticate() hashes the
// presented token and compares it with every configured hash in constant
// time (no early exit, no hash-table lookup keyed by secret material), so
// response timing does not reveal how much of a guess was right.
//
// Roles: producer may append; reader may query events and alerts; admin may
// do everything. Public routes (log, checkpoint, entries, proofs, metrics,
// health) need no token.
//
// Thread safety: Authenticate() from any thread, concurrently with
// Replace() (SIGHUP reload): each call sees either the old or the new set.
#ifndef CUSTODY_DAEMON_SERVER_AUTH_H_
#define CUSTODY_DAEMON_SERVER_AUTH_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"

namespace custody::daemon {

// What a route requires.
enum class Access { kPublic, kAppend, kRead, kAdmin };

struct Principal {
  std::string name;  // the token's name: the producer id of what it appends
  Role role = Role::kProducer;
};

// True when `role` may use a route that requires `access`.
bool RoleAllows(Role role, Access access);

class Authenticator {
 public:
  explicit Authenticator(std::vector<TokenConfig> tokens);

  // `authorization` is the Authorization header value ("" when absent).
  // Unauthenticated when it is missing, not "Bearer <token>", or names no
  // configured token; the message says which (it never echoes the token).
  Result<Principal> Authenticate(std::string_view authorization) const;

  // Swaps in a new token set (a config reload).
  void Replace(std::vector<TokenConfig> tokens);
  size_t size() const;

 private:
  using TokenSet = std::vector<TokenConfig>;
  std::shared_ptr<const TokenSet> Snapshot() const;

  mutable std::mutex mu_;
  std::shared_ptr<const TokenSet> tokens_;
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_AUTH_H_
