// RFC 6962 / RFC 9162 §2.1.1 hashing: SHA-256 with domain separation.
//
//   empty tree  = SHA-256()
//   leaf hash   = SHA-256(0x00 || entry bytes)
//   node hash   = SHA-256(0x01 || left || right)
//
// SHA-256 comes from OpenSSL's libcrypto, which uses SHA-NI / AVX2 where the
// CPU has them (about 4x libsodium's portable code on this project's
// machines). Thread safety: every function is safe to call from any thread
// (no shared state).
#ifndef CUSTODY_LEDGER_HASH_H_
#define CUSTODY_LEDGER_HASH_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "custody/schema/result.h"

namespace custody::ledger {

using schema::Result;
using schema::Status;

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// SHA-256 of `data`.
Hash Sha256(std::span<const uint8_t> data);
Hash Sha256(std::string_view data);

// SHA-256 of the empty string: the root of the empty tree, and the `prev` of
// entry 0.
const Hash& EmptyRoot();

Hash LeafHash(std::span<const uint8_t> entry);
Hash LeafHash(std::string_view entry);
Hash NodeHash(const Hash& left, const Hash& right);
// The same over children of any length (RFC 6962's definition; used by test vectors).
Hash NodeHash(std::span<const uint8_t> left, std::span<const uint8_t> right);

// Standard padded base64 of the 32 bytes, as used in entries, checkpoints and proofs.
std::string HashToBase64(const Hash& h);
// InvalidArgument unless `text` is canonical base64 of exactly 32 bytes.
Result<Hash> HashFromBase64(std::string_view text);
std::string HashToHex(const Hash& h);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_HASH_H_
