#include "custody/ledger/hash.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

#include "custody/schema/encoding.h"

namespace custody::ledger {
namespace {

// One digest context per thread: EVP_MD_CTX allocation and the provider
// lookup cost more than hashing a 500-byte entry.
class DigestContext {
 public:
  DigestContext() : ctx_(EVP_MD_CTX_new()), md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
    if (ctx_ == nullptr || md_ == nullptr) std::abort();
  }
  ~DigestContext() {
    EVP_MD_free(md_);
    EVP_MD_CTX_free(ctx_);
  }
  DigestContext(const DigestContext&) = delete;
  DigestContext& operator=(const DigestContext&) = delete;

  // SHA-256 over the concatenation of up to three byte ranges.
  Hash Digest(const void* a, size_t an, const void* b = nullptr, size_t bn = 0,
              const void* c = nullptr, size_t cn = 0) {
    Hash out;
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, a, an) != 1 ||
        (bn > 0 && EVP_DigestUpdate(ctx_, b, bn) != 1) ||
        (cn > 0 && EVP_DigestUpdate(ctx_, c, cn) != 1) ||
        EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != kHashSize) {
      std::abort();  // OpenSSL cannot fail here short of memory corruption
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
  EVP_MD* md_;
};

DigestContext& ThreadContext() {
  thread_local DigestContext ctx;
  return ctx;
}

}  // namespace

Hash Sha256(std::span<const uint8_t> data) { return ThreadContext().Digest(data.data(), data.size()); }

Hash Sha256(std::string_view data) { return ThreadContext().Digest(data.data(), data.size()); }

const Hash& EmptyRoot() {
  static const Hash kEmpty = Sha256(std::string_view());
  return kEmpty;
}

Hash LeafHash(std::span<const uint8_t> entry) {
  static constexpr uint8_t kLeafPrefix = 0x00;
  return ThreadContext().Digest(&kLeafPrefix, 1, entry.data(), entry.size());
}

Hash LeafHash(std::string_view entry) {
  return LeafHash(std::span(reinterpret_cast<const uint8_t*>(entry.data()), entry.size()));
}

Hash NodeHash(const Hash& left, const Hash& right) {
  static constexpr uint8_t kNodePrefix = 0x01;
  return ThreadContext().Digest(&kNodePrefix, 1, left.data(), kHashSize, right.data(), kHashSize);
}

Hash NodeHash(std::span<const uint8_t> left, std::span<const uint8_t> right) {
  static constexpr uint8_t kNodePrefix = 0x01;
  return ThreadContext().Digest(&kNodePrefix, 1, left.data(), left.size(), right.data(),
                                right.size());
}

std::string HashToBase64(const Hash& h) { return schema::Base64Encode(h); }

std::string HashToHex(const Hash& h) { return schema::HexEncode(h); }

Result<Hash> HashFromBase64(std::string_view text) {
  Hash h;
  if (schema::Base64DecodeTo(text, h)) return h;
  CUSTODY_ASSIGN_OR_RETURN(auto bytes, schema::Base64Decode(text));
  return Status::InvalidArgument("hash is " + std::to_string(bytes.size()) + " bytes, want 32");
}

}  // namespace custody::ledger
