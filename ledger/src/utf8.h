// UTF-8 decoding for note text and key names (private to the ledger).
#ifndef CUSTODY_LEDGER_SRC_UTF8_H_
#define CUSTODY_LEDGER_SRC_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace custody::ledger::internal {

// Decodes the code point at the front of `s` (non-empty) into *rune and its
// length into *size. Returns false, with *size = 1, for a byte that does not
// start a well-formed sequence: a stray continuation byte, a truncated or
// overlong sequence, a surrogate or a value above U+10FFFF (the same
// sequences Go's utf8.DecodeRune rejects).
inline bool DecodeUtf8(std::string_view s, char32_t* rune, size_t* size) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(0);
  *size = 1;
  if (b0 < 0x80) {
    *rune = b0;
    return true;
  }
  size_t n;
  char32_t r;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, r = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, r = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, r = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (s.size() < n) return false;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return false;
    r = (r << 6) | (byte(i) & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return false;
  *rune = r;
  *size = n;
  return true;
}

// Returns the offset of the first byte of `s` that is not valid UTF-8 or is
// an ASCII control character other than '\n', or npos when there is none.
// This is the C2SP signed-note rule for a whole note.
inline size_t FindInvalidNoteByte(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t r;
    size_t n;
    if (!DecodeUtf8(s.substr(i), &r, &n) || (r < 0x20 && r != '\n')) return i;
    i += n;
  }
  return std::string_view::npos;
}

// Go's unicode.IsSpace: the Unicode White_Space property.
inline bool IsUnicodeSpace(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

}  // namespace custody::ledger::internal

#endif  // CUSTODY_LEDGER_SRC_UTF8_H_
