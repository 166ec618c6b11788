#include "daemon/server/auth.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "custody/ledger/hash.h"

namespace custody::daemon {

bool RoleAllows(Role role, Access access) {
  switch (access) {
    case Access::kPublic:
      return true;
    case Access::kAppend:
      return role == Role::kProducer || role == Role::kAdmin;
    case Access::kRead:
      return role == Role::kReader || role == Role::kAdmin;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

Authenticator::Authenticator(std::vector<TokenConfig> tokens)
    : tokens_(std::make_shared<const TokenSet>(std::move(tokens))) {}

void Authenticator::Replace(std::vector<TokenConfig> tokens) {
  auto fresh = std::make_shared<const TokenSet>(std::move(tokens));
  std::lock_guard lock(mu_);
  tokens_ = std::move(fresh);
}

std::shared_ptr<const Authenticator::TokenSet> Authenticator::Snapshot() const {
  std::lock_guard lock(mu_);
  return tokens_;
}

size_t Authenticator::size() const { return Snapshot()->size(); }

Result<Principal> Authenticator::Authenticate(std::string_view authorization) const {
  if (authorization.empty()) {
    return Status::Unauthenticated(
        "missing Authorization header; send Authorization: Bearer <token>");
  }
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                  [](char a, char b) { return a == (b | 0x20); })) {
    return Status::Unauthenticated("Authorization must be \"Bearer <token>\"");
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return Status::Unauthenticated("empty bearer token");

  const ledger::Hash presented = ledger::Sha256(token);
  auto tokens = Snapshot();
  const TokenConfig* match = nullptr;
  for (const TokenConfig& t : *tokens) {
    // Every hash is compared, whatever matched before.
    bool equal = CRYPTO_memcmp(presented.data(), t.sha256.data(), presented.size()) == 0;
    if (equal) match = &t;
  }
  if (match == nullptr) return Status::Unauthenticated("unknown bearer token");
  return Principal{match->name, match->role};
}

}  // namespace custody::daemon
