#include "entry_scan.h"

#include <cstring>

#include "custody/schema/clock.h"
#include "custody/schema/json_canon.h"

namespace custody::ledger {
namespace {

constexpr int kMaxDepth = 64;

// Returns the first position >= p whose byte is '"', '\\', a control
// character or non-ASCII, checking eight bytes at a time (SWAR): string
// content is mostly plain ASCII, and this is the verifier's inner loop.
size_t SkipPlain(std::string_view s, size_t p) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  while (p + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, s.data() + p, 8);
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t slash = w ^ (kOnes * '\\');
    // A byte is "special" if it is zero after the xor (quote/backslash),
    // below 0x20, or has its high bit set.
    const uint64_t special = ((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash) |
                             ((w - kOnes * 0x20) & ~w) | w;
    if ((special & kHigh) != 0) break;
    p += 8;
  }
  while (p < s.size()) {
    const auto c = static_cast<unsigned char>(s[p]);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
    ++p;
  }
  return p;
}

// What the caller wants captured while scanning a value.
enum class Capture { kNone, kBody, kDecision };

class Scanner {
 public:
  Scanner(std::string_view s, ScannedEntry* out) : s_(s), out_(out) {}

  Status Envelope();

 private:
  Status Fail(const std::string& why) const {
    return Status::Corruption("entry is not canonical JSON at byte " + std::to_string(p_) + ": " +
                              why);
  }
  bool At(char c) const { return p_ < s_.size() && s_[p_] == c; }

  Status Value(int depth, Capture capture);
  Status Object(int depth, Capture capture);
  Status Array(int depth, uint32_t* count);
  // Scans a string; `*decoded` receives its value when non-null. `*raw`
  // (if non-null) receives the raw bytes between the quotes when the string
  // has no escapes (the common case), so keys compare without copying.
  Status String(std::string* decoded);
  // A member name: a view into the input when it has no escapes (the
  // common case), otherwise decoded into `*storage`.
  Status Key(std::string* storage, std::string_view* key);
  Status Integer(int64_t* value);
  Status Literal(std::string_view word);

  std::string_view s_;
  size_t p_ = 0;
  ScannedEntry* out_;
  std::string scratch_;
};

Status Scanner::String(std::string* decoded) {
  if (!At('"')) return Fail("expected a string");
  ++p_;
  if (decoded) decoded->clear();
  size_t run = p_;
  while (p_ < s_.size()) {
    const auto c = static_cast<unsigned char>(s_[p_]);
    if (c == '"') {
      if (decoded) decoded->append(s_.data() + run, p_ - run);
      ++p_;
      return Status::Ok();
    }
    if (c < 0x20) return Fail("raw control character in a string (must be escaped)");
    if (c == '\\') {
      if (decoded) decoded->append(s_.data() + run, p_ - run);
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
          // Canonical only for control characters without a short form,
          // in lower-case hex: \u00XX.
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
          run = p_;
          continue;
        }
        default: return Fail("escape \\" + std::string(1, e) + " is not canonical");
      }
      if (decoded) decoded->push_back(value);
      p_ += 2;
      run = p_;
      continue;
    }
    if (c < 0x80) {
      ++p_;
      p_ = SkipPlain(s_, p_);
      continue;
    }
    // Multi-byte UTF-8: find the end of the run of non-ASCII bytes and
    // validate it in one call.
    size_t q = p_;
    while (q < s_.size() && static_cast<unsigned char>(s_[q]) >= 0x80) ++q;
    if (!schema::IsValidUtf8(s_.substr(p_, q - p_))) return Fail("invalid UTF-8");
    p_ = q;
  }
  return Fail("unterminated string");
}

Status Scanner::Key(std::string* storage, std::string_view* key) {
  if (At('"')) {
    const size_t start = p_ + 1;
    const size_t stop = SkipPlain(s_, start);
    if (stop < s_.size() && s_[stop] == '"') {  // plain ASCII, nothing to decode
      *key = s_.substr(start, stop - start);
      p_ = stop + 1;
      return Status::Ok();
    }
  }
  CUSTODY_RETURN_IF_ERROR(String(storage));
  *key = *storage;
  return Status::Ok();
}

Status Scanner::Integer(int64_t* value) {
  const size_t start = p_;
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
  (void)start;
  if (value) *value = negative ? -v : v;
  return Status::Ok();
}

Status Scanner::Literal(std::string_view word) {
  if (s_.substr(p_, word.size()) != word) return Fail("invalid literal");
  p_ += word.size();
  return Status::Ok();
}

Status Scanner::Array(int depth, uint32_t* count) {
  ++p_;  // '['
  uint32_t n = 0;
  if (At(']')) {
    ++p_;
    if (count) *count = 0;
    return Status::Ok();
  }
  for (;;) {
    CUSTODY_RETURN_IF_ERROR(Value(depth + 1, Capture::kNone));
    ++n;
    if (At(',')) {
      ++p_;
      continue;
    }
    if (At(']')) {
      ++p_;
      if (count) *count = n;
      return Status::Ok();
    }
    return Fail("expected ',' or ']'");
  }
}

Status Scanner::Object(int depth, Capture capture) {
  ++p_;  // '{'
  if (At('}')) {
    ++p_;
    return Status::Ok();
  }
  std::string storage[2];
  std::string_view prev_key, key;
  int slot = 0;
  bool first = true;
  for (;;) {
    CUSTODY_RETURN_IF_ERROR(Key(&storage[slot], &key));
    if (!first && !schema::JsonKeyLess(prev_key, key)) {
      return Fail(prev_key == key ? "duplicate member \"" + std::string(key) + "\""
                                  : "members not sorted (\"" + std::string(key) + "\" after \"" +
                                        std::string(prev_key) + "\")");
    }
    first = false;
    if (!At(':')) return Fail("expected ':'");
    ++p_;
    if (capture == Capture::kBody && key == "sha256" && At('"')) {
      CUSTODY_RETURN_IF_ERROR(String(&out_->body_sha256));
    } else if (capture == Capture::kDecision && key == "policy_sha256" && At('"')) {
      CUSTODY_RETURN_IF_ERROR(String(&out_->decision_policy));
    } else if (capture == Capture::kDecision && key == "hits" && At('[')) {
      CUSTODY_RETURN_IF_ERROR(Array(depth + 1, &out_->decision_hits));
    } else {
      CUSTODY_RETURN_IF_ERROR(Value(depth + 1, Capture::kNone));
    }
    prev_key = key;
    slot ^= 1;  // keep prev_key's storage alive while the next key is read
    if (At(',')) {
      ++p_;
      continue;
    }
    if (At('}')) {
      ++p_;
      return Status::Ok();
    }
    return Fail("expected ',' or '}'");
  }
}

Status Scanner::Value(int depth, Capture capture) {
  if (depth > kMaxDepth) return Fail("nested too deeply");
  if (p_ >= s_.size()) return Fail("unexpected end");
  switch (s_[p_]) {
    case '{': return Object(depth, capture);
    case '[': return Array(depth, nullptr);
    case '"': return String(nullptr);
    case 't': return Literal("true");
    case 'f': return Literal("false");
    case 'n': return Literal("null");
    default: return Integer(nullptr);
  }
}

Status Scanner::Envelope() {
  // Fixed member order of a canonical envelope.
  auto member = [&](std::string_view name) -> Status {
    const size_t need = name.size() + 3;  // "name":
    if (s_.size() - p_ < need || s_[p_] != '"' || s_.compare(p_ + 1, name.size(), name) != 0 ||
        s_[p_ + 1 + name.size()] != '"' || s_[p_ + 2 + name.size()] != ':') {
      return Fail("expected member \"" + std::string(name) + "\"");
    }
    p_ += need;
    return Status::Ok();
  };
  auto comma = [&]() -> Status {
    if (!At(',')) return Fail("expected ','");
    ++p_;
    return Status::Ok();
  };
  if (!At('{')) return Fail("an entry is a JSON object");
  ++p_;
  CUSTODY_RETURN_IF_ERROR(member("body"));
  if (!At('{')) return Fail("\"body\" must be an object");
  CUSTODY_RETURN_IF_ERROR(Object(1, Capture::kBody));
  CUSTODY_RETURN_IF_ERROR(comma());
  if (s_.compare(p_, 11, "\"decision\":") == 0) {
    CUSTODY_RETURN_IF_ERROR(member("decision"));
    if (!At('{')) return Fail("\"decision\" must be an object");
    CUSTODY_RETURN_IF_ERROR(Object(1, Capture::kDecision));
    out_->has_decision = true;
    CUSTODY_RETURN_IF_ERROR(comma());
  }
  CUSTODY_RETURN_IF_ERROR(member("kind"));
  CUSTODY_RETURN_IF_ERROR(String(&out_->kind));
  CUSTODY_RETURN_IF_ERROR(comma());
  CUSTODY_RETURN_IF_ERROR(member("prev"));
  CUSTODY_RETURN_IF_ERROR(String(&scratch_));
  auto prev = HashFromBase64(scratch_);
  if (!prev.ok()) return Fail("\"prev\" is not the base64 of a 32-byte hash");
  out_->prev = *prev;
  CUSTODY_RETURN_IF_ERROR(comma());
  CUSTODY_RETURN_IF_ERROR(member("producer"));
  CUSTODY_RETURN_IF_ERROR(String(nullptr));
  CUSTODY_RETURN_IF_ERROR(comma());
  CUSTODY_RETURN_IF_ERROR(member("received_at"));
  CUSTODY_RETURN_IF_ERROR(String(&out_->received_at));
  if (!schema::ParseRfc3339(out_->received_at).ok()) return Fail("\"received_at\" is not RFC 3339");
  CUSTODY_RETURN_IF_ERROR(comma());
  CUSTODY_RETURN_IF_ERROR(member("seq"));
  int64_t seq = 0;
  CUSTODY_RETURN_IF_ERROR(Integer(&seq));
  if (seq < 0) return Fail("negative seq");
  out_->seq = static_cast<uint64_t>(seq);
  CUSTODY_RETURN_IF_ERROR(comma());
  CUSTODY_RETURN_IF_ERROR(member("v"));
  int64_t v = 0;
  CUSTODY_RETURN_IF_ERROR(Integer(&v));
  if (v != 1) return Fail("unsupported entry version " + std::to_string(v));
  if (!At('}')) return Fail("unexpected member after \"v\"");
  ++p_;
  if (p_ != s_.size()) return Fail("trailing bytes after the entry");
  return Status::Ok();
}

}  // namespace

Status ScanEntry(std::string_view bytes, ScannedEntry* out) {
  *out = ScannedEntry();
  Scanner scanner(bytes, out);
  return scanner.Envelope();
}

}  // namespace custody::ledger
