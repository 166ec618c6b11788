// Ed25519 signing keys for checkpoints, in the C2SP signed-note key formats.
//
//   key id        = first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public key)
//   verifier key  = "<name>+<8 hex digits of key id>+<base64(0x01 || 32-byte public key)>"
//   signer key    = "PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>"
// (golang.org/x/mod/sumdb/note and C2SP signed-note use exactly these.)
//
// A SigningKey keeps its secret in sodium_malloc'd memory, mprotect'ed
// PROT_NONE except for the instant of signing (or while a ReadableHold
// lives); it cannot be copied or
// formatted, so it can never reach a log line. sodium_init() must have been
// called (the programs' main does it; EnsureSodium() does it for tests, and
// Generate / FromSignerString / Load call EnsureSodium() themselves).
//
// Thread safety: VerifierKey is a value. SigningKey::Sign is safe to call from
// several threads at once (the unprotect/protect pair is reference-counted
// under a mutex); moving a SigningKey is not.
#ifndef CUSTODY_LEDGER_KEYS_H_
#define CUSTODY_LEDGER_KEYS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "custody/schema/result.h"

namespace custody::ledger {

using schema::Result;
using schema::Status;

inline constexpr uint8_t kAlgEd25519 = 0x01;
using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

// Initialises libsodium once; aborts if it cannot (no usable randomness).
void EnsureSodium();

// The C2SP key id of an Ed25519 key named `name`.
uint32_t KeyId(std::string_view name, const PublicKey& public_key);

// True when `name` is a valid note key name: non-empty, no '+', no Unicode
// spaces, valid UTF-8. Also false for control characters below U+0020
// (which no valid note can contain anyway).
bool IsValidKeyName(std::string_view name);

struct VerifierKey {
  std::string name;
  uint32_t key_id = 0;
  PublicKey public_key{};

  // Parses "<name>+<hex id>+<base64(0x01||pk)>". InvalidArgument saying which
  // part is wrong, including a key id that does not match name and key. The
  // id may be upper or lower case hex (as in note.go); ToString writes lower.
  static Result<VerifierKey> Parse(std::string_view text);
  std::string ToString() const;
  // Ok when `signature` is a valid Ed25519 signature of `message` by this key.
  bool Verify(std::string_view message, std::span<const uint8_t> signature) const;

  friend bool operator==(const VerifierKey&, const VerifierKey&) = default;
};

class SigningKey {
 public:
  // A fresh random key named `name` (the log's origin).
  static Result<SigningKey> Generate(std::string_view name);
  // Parses a "PRIVATE+KEY+..." signer key string. InvalidArgument saying
  // which part is wrong (never echoing the secret part).
  static Result<SigningKey> FromSignerString(std::string_view text);
  // Loads a key file written by Save. PermissionDenied when the file is
  // readable or writable by group or others (mode wider than 0600), naming
  // the file and the chmod that fixes it; NotFound / IOError / InvalidArgument
  // otherwise.
  static Result<SigningKey> Load(const std::string& path);

  SigningKey(SigningKey&& other) noexcept;
  SigningKey& operator=(SigningKey&& other) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  // Writes the signer string and "\n" to `path`, created with mode 0600
  // (O_EXCL: never overwrites; AlreadyExists if `path` exists) and fsync'ed
  // together with its directory. On a write error the new file is removed.
  Status Save(const std::string& path) const;

  const VerifierKey& verifier() const { return verifier_; }
  const std::string& name() const { return verifier_.name; }

  // Ed25519 signature of `message` (deterministic, RFC 8032).
  Signature Sign(std::string_view message) const;

  // While one of these lives, the secret stays readable (not PROT_NONE)
  // between signatures. Each Sign() otherwise makes the page readable and
  // then inaccessible again, and removing access flushes the TLB of every
  // core the process runs on: at ~1000 signatures a second (one per group
  // commit) that was half the cost of signing and interrupted the other
  // threads. A signer holds one during a burst of work and drops it when
  // idle. Movable; the SigningKey must outlive it. Thread-safe with Sign().
  class ReadableHold {
   public:
    ReadableHold();  // holds nothing
    ReadableHold(ReadableHold&&) noexcept;
    ReadableHold& operator=(ReadableHold&&) noexcept;
    ~ReadableHold();
    explicit operator bool() const { return reader_ != nullptr; }

   private:
    friend class SigningKey;
    struct Reader;
    std::unique_ptr<Reader> reader_;
  };
  ReadableHold KeepReadable() const;

 private:
  struct Secret;  // sodium_malloc'd 64-byte libsodium secret key
  SigningKey(std::unique_ptr<Secret> secret, VerifierKey verifier);

  std::unique_ptr<Secret> secret_;
  VerifierKey verifier_;
};

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_KEYS_H_
