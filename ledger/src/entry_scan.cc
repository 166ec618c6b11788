#include "entry_scan.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <forward_list>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "custody/schema/clock.h"
#include "custody/schema/json_canon.h"

namespace custody::ledger {
namespace {

constexpr int kMaxDepth = 64;

// For the few functions on the per-byte path, where a call costs as much as
// the work.
#if defined(__GNUC__)
#define CUSTODY_SCAN_INLINE [[gnu::always_inline]] inline
#define CUSTODY_SCAN_NOINLINE [[gnu::noinline]]
#else
#define CUSTODY_SCAN_INLINE inline
#define CUSTODY_SCAN_NOINLINE
#endif

// Bytes a string cannot hold literally or that need a closer look: '"',
// '\\', control characters and non-ASCII (UTF-8 to validate).
inline bool IsSpecial(unsigned char c) { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80; }

// Returns the first position >= p whose byte IsSpecial, or s.size(). String
// content is mostly plain ASCII and this is the verifier's inner loop, so it
// tests sixteen bytes per step with SSE2 (baseline on x86-64), or eight with
// SWAR elsewhere, and finishes byte by byte near the end of the input.
CUSTODY_SCAN_INLINE size_t SkipPlain(std::string_view s, size_t p) {
  const char* d = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (p + 16 <= n) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + p));
    // The compare is signed, so bytes >= 0x80 (negative) count as < 0x20 too.
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, backslash)),
                     _mm_cmplt_epi8(w, space));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
    if (mask != 0) return p + static_cast<size_t>(std::countr_zero(mask));
    p += 16;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  while (p + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, d + p, 8);
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t slash = w ^ (kOnes * '\\');
    // A byte is special if it is zero after the xor (quote/backslash),
    // below 0x20, or has its high bit set.
    const uint64_t special = ((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash) |
                             ((w - kOnes * 0x20) & ~w) | w;
    if ((special & kHigh) != 0) break;
    p += 8;
  }
  while (p < n && !IsSpecial(static_cast<unsigned char>(d[p]))) ++p;
  return p;
}

// The standard base64 alphabet's digit values; 0x80 marks every other byte.
constexpr std::array<uint8_t, 256> kBase64Digit = [] {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::array<uint8_t, 256> t{};
  t.fill(0x80);
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = i;
  return t;
}();

// Decodes `text` when it is the canonical base64 of 32 bytes: 43 digits, the
// last with its two low bits clear, then one '='. That is exactly what
// HashFromBase64 accepts; this is that check unrolled for the one length,
// because every entry's prev goes through it.
bool DecodeHashBase64(std::string_view text, Hash* out) {
  if (text.size() != 44 || text[43] != '=') return false;
  const auto* t = reinterpret_cast<const uint8_t*>(text.data());
  uint8_t bad = 0;
  for (size_t i = 0, o = 0; i < 40; i += 4, o += 3) {
    const uint8_t a = kBase64Digit[t[i]], b = kBase64Digit[t[i + 1]], c = kBase64Digit[t[i + 2]],
                  d = kBase64Digit[t[i + 3]];
    bad |= a | b | c | d;
    const uint32_t w = uint32_t{a} << 18 | uint32_t{b} << 12 | uint32_t{c} << 6 | d;
    (*out)[o] = static_cast<uint8_t>(w >> 16);
    (*out)[o + 1] = static_cast<uint8_t>(w >> 8);
    (*out)[o + 2] = static_cast<uint8_t>(w);
  }
  const uint8_t a = kBase64Digit[t[40]], b = kBase64Digit[t[41]], c = kBase64Digit[t[42]];
  bad |= a | b | c;
  if ((bad & 0x80) != 0 || (c & 3) != 0) return false;
  const uint32_t w = uint32_t{a} << 18 | uint32_t{b} << 12 | uint32_t{c} << 6;
  (*out)[30] = static_cast<uint8_t>(w >> 16);
  (*out)[31] = static_cast<uint8_t>(w >> 8);
  return true;
}

// RFC 8785 member order (JsonKeyLess). Byte order is UTF-16 order unless the
// first difference is between a lead byte 0xEE/0xEF and a four-byte lead;
// member names are nearly always ASCII, so compare bytes inline and leave
// only that case to JsonKeyLess.
inline bool KeyLess(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i == n) return a.size() < b.size();
  const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
  if (x < 0xEE && y < 0xEE) return x < y;
  return schema::JsonKeyLess(a, b);
}

// What the caller wants captured while scanning an object's members.
enum class Capture { kNone, kBody, kDecision };

// Scans one entry. The scanning functions return false after Fail has
// recorded the first violation, rather than returning a Status: a Status
// holds a std::string, which every one of the hundred-odd calls per entry
// would construct, move and destroy.
class Scanner {
 public:
  Scanner(std::string_view s, ScannedEntry* out) : s_(s), out_(out) {}

  // Scans the envelope at the start of the input; with `whole`, it must be
  // the whole input.
  bool Envelope(bool whole);
  size_t position() const { return p_; }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string_view why) {
    error_ = "entry is not canonical JSON at byte " + std::to_string(p_) + ": ";
    error_ += why;
    return false;
  }
  bool At(char c) const { return p_ < s_.size() && s_[p_] == c; }
  bool LookingAt(std::string_view text) const {
    return s_.size() - p_ >= text.size() &&
           std::memcmp(s_.data() + p_, text.data(), text.size()) == 0;
  }

  bool Value(int depth);
  bool Object(int depth, Capture capture);
  bool MemberValue(int depth, Capture capture, std::string_view key);
  bool Array(int depth, uint32_t* count);
  // Scans a string. When `value` is non-null it receives the string's value:
  // a view into the input when it has no escapes (the common case),
  // otherwise decoded into `*buffer`, or when that is null into a string
  // the scanner keeps until it is destroyed.
  bool String(std::string_view* value, std::string* buffer);
  bool RestOfString(size_t start, std::string_view* value, std::string* buffer);
  bool Escape(std::string* decoded);
  bool Integer(int64_t* value);
  bool Literal(std::string_view word);
  // The envelope's `"name":` and `,`.
  bool Member(std::string_view name);
  bool Comma();

  std::string_view s_;
  size_t p_ = 0;
  ScannedEntry* out_;
  std::string prev_buffer_;  // prev's text, should it have (invalid) escapes
  // Decoded member names that had escapes (rare), where their views stay
  // valid while later names are read and compared.
  std::forward_list<std::string> decoded_;
  std::string error_;
};

CUSTODY_SCAN_INLINE bool Scanner::String(std::string_view* value, std::string* buffer) {
  if (!At('"')) return Fail("expected a string");
  const size_t start = p_ + 1;
  p_ = SkipPlain(s_, start);
  if (p_ < s_.size() && s_[p_] == '"') {  // plain ASCII: nothing to decode
    if (value) *value = s_.substr(start, p_ - start);
    ++p_;
    return true;
  }
  return RestOfString(start, value, buffer);
}

// Continues a string whose content starts at `start`, from p_ (a special
// byte or the end of the input). Out of line, to keep String's common path
// small.
CUSTODY_SCAN_NOINLINE bool Scanner::RestOfString(size_t start, std::string_view* value,
                                                 std::string* buffer) {
  bool decoding = false;  // an escape was seen: the value is built in *buffer
  size_t run = start;     // first byte not yet copied to *buffer
  while (p_ < s_.size()) {
    const auto c = static_cast<unsigned char>(s_[p_]);
    if (c == '"') {
      if (value && decoding) {
        buffer->append(s_.data() + run, p_ - run);
        *value = *buffer;
      } else if (value) {
        *value = s_.substr(start, p_ - start);
      }
      ++p_;
      return true;
    }
    if (c < 0x20) return Fail("raw control character in a string (must be escaped)");
    if (c == '\\') {
      if (value && !decoding) {
        if (buffer == nullptr) buffer = &decoded_.emplace_front();
        buffer->clear();
        decoding = true;
      }
      if (decoding) buffer->append(s_.data() + run, p_ - run);
      if (!Escape(decoding ? buffer : nullptr)) return false;
      run = p_;
    } else if (c >= 0x80) {
      // Multi-byte UTF-8: validate the whole run of non-ASCII bytes at once.
      size_t q = p_;
      while (q < s_.size() && static_cast<unsigned char>(s_[q]) >= 0x80) ++q;
      if (!schema::IsValidUtf8(s_.substr(p_, q - p_))) return Fail("invalid UTF-8");
      p_ = q;
    }
    p_ = SkipPlain(s_, p_);
  }
  return Fail("unterminated string");
}

// An escape at p_ ('\\'), which must be the one RFC 8785 writes; its value
// is appended to `*decoded` when non-null.
bool Scanner::Escape(std::string* decoded) {
  if (p_ + 1 >= s_.size()) return Fail("truncated escape");
  const char e = s_[p_ + 1];
  char value;
  switch (e) {
    case '"': value = '"'; break;
    case '\\': value = '\\'; break;
    case 'b': value = '\b'; break;
    case 'f': value = '\f'; break;
    case 'n': value = '\n'; break;
    case 'r': value = '\r'; break;
    case 't': value = '\t'; break;
    case 'u': {
      // Canonical only for control characters without a short form, in
      // lower-case hex: \u00XX.
      if (p_ + 6 > s_.size() || s_[p_ + 2] != '0' || s_[p_ + 3] != '0') {
        return Fail("\\u escape of a character that must appear literally");
      }
      auto hex = [](char h) {
        return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
      };
      const int hi = hex(s_[p_ + 4]), lo = hex(s_[p_ + 5]);
      if (hi < 0 || lo < 0) return Fail("\\u escape must use lower-case hex");
      const int v = hi << 4 | lo;
      if (v >= 0x20 || v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t') {
        return Fail("\\u escape where RFC 8785 uses a literal or a short escape");
      }
      if (decoded) decoded->push_back(static_cast<char>(v));
      p_ += 6;
      return true;
    }
    default: return Fail("escape \\" + std::string(1, e) + " is not canonical");
  }
  if (decoded) decoded->push_back(value);
  p_ += 2;
  return true;
}

bool Scanner::Integer(int64_t* value) {
  bool negative = false;
  if (At('-')) {
    negative = true;
    ++p_;
  }
  if (p_ >= s_.size() || s_[p_] < '0' || s_[p_] > '9') return Fail("expected a number");
  if (s_[p_] == '0' && p_ + 1 < s_.size() && s_[p_ + 1] >= '0' && s_[p_ + 1] <= '9') {
    return Fail("leading zero");
  }
  int64_t v = 0;
  while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
    v = v * 10 + (s_[p_] - '0');
    if (v > schema::kMaxSafeInteger) return Fail("integer beyond 2^53-1");
    ++p_;
  }
  if (At('.') || At('e') || At('E')) return Fail("non-integer number");
  if (negative && v == 0) return Fail("-0 is not canonical");
  if (value) *value = negative ? -v : v;
  return true;
}

bool Scanner::Literal(std::string_view word) {
  if (!LookingAt(word)) return Fail("invalid literal");
  p_ += word.size();
  return true;
}

bool Scanner::Array(int depth, uint32_t* count) {
  ++p_;  // '['
  uint32_t n = 0;
  if (At(']')) {
    ++p_;
    if (count) *count = 0;
    return true;
  }
  for (;;) {
    if (!Value(depth + 1)) return false;
    ++n;
    if (At(',')) {
      ++p_;
      continue;
    }
    if (At(']')) {
      ++p_;
      if (count) *count = n;
      return true;
    }
    return Fail("expected ',' or ']'");
  }
}

bool Scanner::Object(int depth, Capture capture) {
  ++p_;  // '{'
  if (At('}')) {
    ++p_;
    return true;
  }
  std::string_view prev_key, key;
  for (bool first = true;; first = false) {
    if (!String(&key, nullptr)) return false;
    if (!first && !KeyLess(prev_key, key)) {
      return Fail(prev_key == key ? "duplicate member \"" + std::string(key) + "\""
                                  : "members not sorted (\"" + std::string(key) + "\" after \"" +
                                        std::string(prev_key) + "\")");
    }
    if (!At(':')) return Fail("expected ':'");
    ++p_;
    bool ok;
    if (capture != Capture::kNone) {
      ok = MemberValue(depth, capture, key);
    } else if (At('"') && depth + 1 <= kMaxDepth) {
      ok = String(nullptr, nullptr);  // most values: spare them Value's call
    } else {
      ok = Value(depth + 1);
    }
    if (!ok) return false;
    prev_key = key;
    if (At(',')) {
      ++p_;
      continue;
    }
    if (At('}')) {
      ++p_;
      return true;
    }
    return Fail("expected ',' or '}'");
  }
}

// A member value of body or decision, capturing the fields the verifier needs.
bool Scanner::MemberValue(int depth, Capture capture, std::string_view key) {
  if (capture == Capture::kBody && key == "sha256" && At('"')) {
    return String(&out_->body_sha256, &out_->body_sha256_buffer);
  }
  if (capture == Capture::kDecision && key == "policy_sha256" && At('"')) {
    return String(&out_->decision_policy, &out_->decision_policy_buffer);
  }
  if (capture == Capture::kDecision && key == "hits" && At('[')) {
    return Array(depth + 1, &out_->decision_hits);
  }
  return Value(depth + 1);
}

bool Scanner::Value(int depth) {
  if (depth > kMaxDepth) return Fail("nested too deeply");
  if (p_ >= s_.size()) return Fail("unexpected end");
  switch (s_[p_]) {
    case '{': return Object(depth, Capture::kNone);
    case '[': return Array(depth, nullptr);
    case '"': return String(nullptr, nullptr);
    case 't': return Literal("true");
    case 'f': return Literal("false");
    case 'n': return Literal("null");
    default: return Integer(nullptr);
  }
}

bool Scanner::Member(std::string_view name) {
  const size_t need = name.size() + 3;  // "name":
  if (s_.size() - p_ < need || s_[p_] != '"' ||
      std::memcmp(s_.data() + p_ + 1, name.data(), name.size()) != 0 ||
      s_[p_ + 1 + name.size()] != '"' || s_[p_ + 2 + name.size()] != ':') {
    return Fail("expected member \"" + std::string(name) + "\"");
  }
  p_ += need;
  return true;
}

bool Scanner::Comma() {
  if (!At(',')) return Fail("expected ','");
  ++p_;
  return true;
}

bool Scanner::Envelope(bool whole) {
  // The members of a canonical envelope, in their (fixed) order.
  if (!At('{')) return Fail("an entry is a JSON object");
  ++p_;
  if (!Member("body")) return false;
  if (!At('{')) return Fail("\"body\" must be an object");
  if (!Object(1, Capture::kBody) || !Comma()) return false;
  if (LookingAt("\"decision\":")) {
    if (!Member("decision")) return false;
    if (!At('{')) return Fail("\"decision\" must be an object");
    if (!Object(1, Capture::kDecision)) return false;
    out_->has_decision = true;
    if (!Comma()) return false;
  }
  if (!Member("kind") || !String(&out_->kind, &out_->kind_buffer) || !Comma()) return false;
  std::string_view prev;
  if (!Member("prev") || !String(&prev, &prev_buffer_)) return false;
  if (!DecodeHashBase64(prev, &out_->prev)) {
    return Fail("\"prev\" is not the base64 of a 32-byte hash");
  }
  if (!Comma() || !Member("producer") || !String(nullptr, nullptr) || !Comma()) return false;
  if (!Member("received_at") || !String(&out_->received_at, &out_->received_at_buffer)) {
    return false;
  }
  if (!schema::ParseRfc3339(out_->received_at).ok()) return Fail("\"received_at\" is not RFC 3339");
  if (!Comma() || !Member("seq")) return false;
  int64_t seq = 0;
  if (!Integer(&seq)) return false;
  if (seq < 0) return Fail("negative seq");
  out_->seq = static_cast<uint64_t>(seq);
  if (!Comma() || !Member("v")) return false;
  int64_t v = 0;
  if (!Integer(&v)) return false;
  if (v != 1) return Fail("unsupported entry version " + std::to_string(v));
  if (!At('}')) return Fail("unexpected member after \"v\"");
  ++p_;
  if (whole && p_ != s_.size()) return Fail("trailing bytes after the entry");
  return true;
}

// Clears `out`'s fields; its buffers keep their capacity.
void Reset(ScannedEntry* out) {
  out->seq = 0;
  out->prev = Hash{};
  out->kind = out->received_at = out->body_sha256 = out->decision_policy = std::string_view();
  out->has_decision = false;
  out->decision_hits = 0;
}

}  // namespace

Status ScanEntry(std::string_view bytes, ScannedEntry* out) {
  Reset(out);
  Scanner scanner(bytes, out);
  if (!scanner.Envelope(/*whole=*/true)) return Status::Corruption(scanner.error());
  return Status::Ok();
}

Status ScanEntryPrefix(std::string_view text, ScannedEntry* out, size_t* length) {
  Reset(out);
  Scanner scanner(text, out);
  if (!scanner.Envelope(/*whole=*/false)) return Status::Corruption(scanner.error());
  *length = scanner.position();
  return Status::Ok();
}

}  // namespace custody::ledger
