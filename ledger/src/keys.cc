#include "custody/ledger/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <utility>
#include <vector>

#include "custody/ledger/hash.h"
#include "custody/schema/encoding.h"
#include "utf8.h"

namespace custody::ledger {
namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == std::tuple_size_v<PublicKey>);
static_assert(crypto_sign_BYTES == std::tuple_size_v<Signature>);
static_assert(crypto_sign_SEEDBYTES == 32);

constexpr size_t kEncodedKeySize = 1 + 32;  // algorithm byte || 32-byte key or seed
// A signer string is ~60 bytes plus the name; anything this large is not a key file.
constexpr off_t kMaxKeyFileSize = 4096;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "custody: %s\n", what);
  std::abort();
}

// sodium_malloc'd scratch bytes for anything derived from a secret (file
// contents, the base64 seed); zeroed and freed on destruction.
class SecureBytes {
 public:
  explicit SecureBytes(size_t size)
      : data_(static_cast<char*>(sodium_malloc(size == 0 ? 1 : size))), size_(size) {
    if (data_ == nullptr) Die("sodium_malloc failed");
  }
  ~SecureBytes() { sodium_free(data_); }
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  char* data() { return data_; }
  size_t size() const { return size_; }
  std::string_view view(size_t n) const { return {data_, n}; }

 private:
  char* data_;
  size_t size_;
};

std::string KeyIdHex(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

// Exactly 8 hex digits. Either case, as golang.org/x/mod/sumdb/note accepts;
// the id is checked against name and key anyway, so there is no second
// meaning to hide behind a second spelling.
bool ParseKeyIdHex(std::string_view text, uint32_t* id) {
  if (text.size() != 8) return false;
  uint32_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v << 4 | static_cast<uint32_t>(d);
  }
  *id = v;
  return true;
}

// Splits off the text before the first '+' (like note.go's chop). False when
// there is no '+'.
bool Chop(std::string_view* rest, std::string_view* before) {
  const size_t plus = rest->find('+');
  if (plus == std::string_view::npos) return false;
  *before = rest->substr(0, plus);
  rest->remove_prefix(plus + 1);
  return true;
}

// Checks the parts shared by verifier and signer strings: name, hex id and
// base64(0x01 || 32 bytes). *key receives the decoded bytes (algorithm byte
// first), which the caller must wipe, even on error, when they are a seed.
// `what` names the string in errors; the base64 text itself is never echoed
// (it may be a secret).
Status ParseKeyParts(std::string_view what, std::string_view name, std::string_view hex,
                     std::string_view b64, uint32_t* id, std::vector<uint8_t>* key) {
  if (!IsValidKeyName(name)) {
    return Status::InvalidArgument(std::string(what) +
                                   ": invalid key name (must be non-empty UTF-8 without "
                                   "'+', spaces or control characters)");
  }
  if (!ParseKeyIdHex(hex, id)) {
    return Status::InvalidArgument(std::string(what) + ": key id must be 8 hex digits");
  }
  auto decoded = schema::Base64Decode(b64);
  if (!decoded.ok()) {
    return Status::InvalidArgument(std::string(what) + ": key is not canonical base64 (" +
                                   decoded.status().message() + ")");
  }
  *key = std::move(decoded).value();
  if (key->empty()) return Status::InvalidArgument(std::string(what) + ": key is empty");
  if ((*key)[0] != kAlgEd25519) {
    char alg[5];
    std::snprintf(alg, sizeof alg, "0x%02x", (*key)[0]);
    return Status::InvalidArgument(std::string(what) + ": unknown key algorithm " + alg +
                                   " (want 0x01, Ed25519)");
  }
  if (key->size() != kEncodedKeySize) {
    return Status::InvalidArgument(std::string(what) + ": Ed25519 key is " +
                                   std::to_string(key->size() - 1) + " bytes, want 32");
  }
  return Status::Ok();
}

Status KeyIdMismatch(std::string_view what, uint32_t got, uint32_t want) {
  return Status::InvalidArgument(std::string(what) + ": key id " + KeyIdHex(got) +
                                 " does not match name and key (want " + KeyIdHex(want) + ")");
}

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

Status SyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno(err, "fsync " + dir);
  return Status::Ok();
}

}  // namespace

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) Die("sodium_init failed (no usable source of randomness?)");
  });
}

uint32_t KeyId(std::string_view name, const PublicKey& public_key) {
  std::string buf;
  buf.reserve(name.size() + 2 + public_key.size());
  buf.append(name);
  buf.push_back('\n');
  buf.push_back(static_cast<char>(kAlgEd25519));
  buf.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  const Hash h = Sha256(buf);
  return uint32_t{h[0]} << 24 | uint32_t{h[1]} << 16 | uint32_t{h[2]} << 8 | uint32_t{h[3]};
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    char32_t r;
    size_t n;
    if (!internal::DecodeUtf8(name.substr(i), &r, &n)) return false;
    // Control characters are not spaces to Go, but a name holding one could
    // never appear in a valid note, so refuse it up front.
    if (r == '+' || r < 0x20 || internal::IsUnicodeSpace(r)) return false;
    i += n;
  }
  return true;
}

// --- VerifierKey ---

Result<VerifierKey> VerifierKey::Parse(std::string_view text) {
  constexpr std::string_view kWhat = "verifier key";
  std::string_view rest = text;
  std::string_view name;
  std::string_view hex;
  if (!Chop(&rest, &name) || !Chop(&rest, &hex)) {
    return Status::InvalidArgument(
        "verifier key: want <name>+<8 hex digit key id>+<base64 key>, found fewer than 3 "
        "'+'-separated parts");
  }
  VerifierKey key;
  std::vector<uint8_t> pk;
  CUSTODY_RETURN_IF_ERROR(ParseKeyParts(kWhat, name, hex, rest, &key.key_id, &pk));
  key.name = std::string(name);
  std::memcpy(key.public_key.data(), pk.data() + 1, key.public_key.size());
  const uint32_t want = KeyId(key.name, key.public_key);
  if (want != key.key_id) return KeyIdMismatch(kWhat, key.key_id, want);
  return key;
}

std::string VerifierKey::ToString() const {
  uint8_t encoded[kEncodedKeySize];
  encoded[0] = kAlgEd25519;
  std::memcpy(encoded + 1, public_key.data(), public_key.size());
  return name + "+" + KeyIdHex(key_id) + "+" + schema::Base64Encode(encoded);
}

bool VerifierKey::Verify(std::string_view message, std::span<const uint8_t> signature) const {
  if (signature.size() != crypto_sign_BYTES) return false;
  EnsureSodium();
  return crypto_sign_verify_detached(signature.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), public_key.data()) == 0;
}

// --- SigningKey ---

// The 64-byte libsodium secret key (seed || public key) in sodium_malloc
// memory. `readers` counts the uses in flight (Sign, Save): the first to start
// makes the page readable, the last to finish makes it inaccessible again, so
// concurrent signers never re-protect the page under each other.
struct SigningKey::Secret {
  Secret() : key(static_cast<unsigned char*>(sodium_malloc(crypto_sign_SECRETKEYBYTES))) {
    if (key == nullptr) Die("sodium_malloc failed");
  }
  ~Secret() { sodium_free(key); }  // sodium_free unprotects and zeroes first
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  void Protect() {
    if (sodium_mprotect_noaccess(key) != 0) Die("sodium_mprotect_noaccess failed");
  }

  // Keeps the key readable for its lifetime.
  class Reader {
   public:
    explicit Reader(Secret& s) : s_(s) {
      std::lock_guard<std::mutex> lock(s_.mu);
      if (s_.readers++ == 0 && sodium_mprotect_readonly(s_.key) != 0) {
        Die("sodium_mprotect_readonly failed");
      }
    }
    ~Reader() {
      std::lock_guard<std::mutex> lock(s_.mu);
      if (--s_.readers == 0) s_.Protect();
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    const unsigned char* key() const { return s_.key; }

   private:
    Secret& s_;
  };

  unsigned char* const key;
  std::mutex mu;
  int readers = 0;  // guarded by mu
};

SigningKey::SigningKey(std::unique_ptr<Secret> secret, VerifierKey verifier)
    : secret_(std::move(secret)), verifier_(std::move(verifier)) {}

SigningKey::SigningKey(SigningKey&& other) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&& other) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Generate(std::string_view name) {
  EnsureSodium();
  if (!IsValidKeyName(name)) {
    return Status::InvalidArgument(
        "key name must be non-empty UTF-8 without '+', spaces or control characters");
  }
  auto secret = std::make_unique<Secret>();
  VerifierKey verifier;
  verifier.name = std::string(name);
  crypto_sign_keypair(verifier.public_key.data(), secret->key);
  secret->Protect();
  verifier.key_id = KeyId(verifier.name, verifier.public_key);
  return SigningKey(std::move(secret), std::move(verifier));
}

Result<SigningKey> SigningKey::FromSignerString(std::string_view text) {
  constexpr std::string_view kWhat = "signer key";
  EnsureSodium();
  std::string_view rest = text;
  std::string_view priv;
  std::string_view key_word;
  std::string_view name;
  std::string_view hex;
  if (!Chop(&rest, &priv) || !Chop(&rest, &key_word) || priv != "PRIVATE" || key_word != "KEY") {
    return Status::InvalidArgument("signer key: does not start with PRIVATE+KEY+");
  }
  if (!Chop(&rest, &name) || !Chop(&rest, &hex)) {
    return Status::InvalidArgument(
        "signer key: want PRIVATE+KEY+<name>+<8 hex digit key id>+<base64 seed>, found fewer "
        "than 5 '+'-separated parts");
  }
  uint32_t id = 0;
  std::vector<uint8_t> seed;
  Status parsed = ParseKeyParts(kWhat, name, hex, rest, &id, &seed);
  if (!parsed.ok()) {
    sodium_memzero(seed.data(), seed.size());
    return parsed;
  }
  auto secret = std::make_unique<Secret>();
  VerifierKey verifier;
  verifier.name = std::string(name);
  verifier.key_id = id;
  crypto_sign_seed_keypair(verifier.public_key.data(), secret->key, seed.data() + 1);
  sodium_memzero(seed.data(), seed.size());
  secret->Protect();
  const uint32_t want = KeyId(verifier.name, verifier.public_key);
  if (want != id) return KeyIdMismatch(kWhat, id, want);
  return SigningKey(std::move(secret), std::move(verifier));
}

Result<SigningKey> SigningKey::Load(const std::string& path) {
  EnsureSodium();  // sodium_malloc below needs an initialised libsodium
  // O_NONBLOCK: a FIFO planted at `path` must not hang open(); it fails S_ISREG below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such key file");
    if (err == EACCES) {
      return Status::PermissionDenied(path + ": cannot open key file: " + std::strerror(err));
    }
    return Status::FromErrno(err, "open " + path);
  }
  // The mode is checked on the open descriptor, before any secret byte is read.
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "stat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": key file is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied(path + ": key file mode " + mode +
                                    " is too open; run chmod 600 " + path);
  }
  if (st.st_size > kMaxKeyFileSize) {
    ::close(fd);
    return Status::InvalidArgument(path + ": too large to be a key file");
  }
  SecureBytes buf(static_cast<size_t>(kMaxKeyFileSize) + 1);
  size_t len = 0;
  while (len < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "read " + path);
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  if (len > static_cast<size_t>(kMaxKeyFileSize)) {
    return Status::InvalidArgument(path + ": too large to be a key file");
  }
  std::string_view text = buf.view(len);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  auto key = FromSignerString(text);
  if (!key.ok()) return key.status().Annotate(path);
  return key;
}

Status SigningKey::Save(const std::string& path) const {
  if (secret_ == nullptr) return Status::FailedPrecondition("Save of a moved-from SigningKey");
  const std::string prefix =
      "PRIVATE+KEY+" + verifier_.name + "+" + KeyIdHex(verifier_.key_id) + "+";
  // Assemble the whole file in protected memory: prefix, base64(0x01||seed), "\n".
  const size_t b64_len = sodium_base64_ENCODED_LEN(kEncodedKeySize, sodium_base64_VARIANT_ORIGINAL);
  SecureBytes raw(kEncodedKeySize);
  SecureBytes file(prefix.size() + b64_len);
  {
    Secret::Reader reader(*secret_);
    raw.data()[0] = static_cast<char>(kAlgEd25519);
    std::memcpy(raw.data() + 1, reader.key(), crypto_sign_SEEDBYTES);  // sk = seed || pk
  }
  std::memcpy(file.data(), prefix.data(), prefix.size());
  sodium_bin2base64(file.data() + prefix.size(), b64_len,
                    reinterpret_cast<const unsigned char*>(raw.data()), kEncodedKeySize,
                    sodium_base64_VARIANT_ORIGINAL);
  const size_t size = prefix.size() + b64_len;  // b64_len counts the NUL we overwrite
  file.data()[size - 1] = '\n';

  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return Status::AlreadyExists(path + ": already exists; refusing to overwrite a key file");
    }
    return Status::FromErrno(err, "create " + path);
  }
  const auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());  // ours: O_EXCL created it
    return Status::FromErrno(err, std::string(what) + " " + path);
  };
  if (!WriteAll(fd, file.data(), size)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Status::FromErrno(err, "close " + path);
  }
  return SyncDirectoryOf(path);
}

struct SigningKey::ReadableHold::Reader {
  explicit Reader(Secret& s) : reader(s) {}
  Secret::Reader reader;
};

SigningKey::ReadableHold::ReadableHold() = default;
SigningKey::ReadableHold::ReadableHold(ReadableHold&&) noexcept = default;
SigningKey::ReadableHold& SigningKey::ReadableHold::operator=(ReadableHold&&) noexcept = default;
SigningKey::ReadableHold::~ReadableHold() = default;

SigningKey::ReadableHold SigningKey::KeepReadable() const {
  if (secret_ == nullptr) Die("KeepReadable on a moved-from SigningKey");
  ReadableHold hold;
  hold.reader_ = std::make_unique<ReadableHold::Reader>(*secret_);
  return hold;
}

Signature SigningKey::Sign(std::string_view message) const {
  if (secret_ == nullptr) Die("Sign on a moved-from SigningKey");
  Signature sig;
  Secret::Reader reader(*secret_);
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), reader.key());
  return sig;
}

}  // namespace custody::ledger
