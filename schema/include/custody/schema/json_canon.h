// Canonical JSON (RFC 8785, JCS) for everything custody writes to the ledger.
//
// The ledger hashes bytes, so every entry must have exactly one spelling.
// We produce RFC 8785 output for the subset of JSON custody stores:
//   - object members sorted by their names' UTF-16 code units;
//   - no insignificant whitespace;
//   - strings as UTF-8, escaping only '"', '\\' and U+0000..U+001F
//     (\b \t \n \f \r, otherwise \u00xx in lower-case hex);
//   - numbers are integers only, with |n| <= 2^53 - 1 (so every JSON
//     implementation reads them exactly); any double is rejected.
// Because every control character is escaped, canonical output never holds a
// raw newline: one entry is one NDJSON line.
//
// Thread safety: pure functions.
#ifndef CUSTODY_SCHEMA_JSON_CANON_H_
#define CUSTODY_SCHEMA_JSON_CANON_H_

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "custody/schema/result.h"

namespace custody::schema {

inline constexpr int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1

// Appends the canonical form of `value` to `*out`. InvalidArgument (with a
// JSON pointer to the offending value) for a double, an integer out of the
// safe range, or a string that is not valid UTF-8. On error `*out` holds a
// partial serialisation and must be discarded.
Status AppendCanonicalJson(const boost::json::value& value, std::string* out);

// The canonical form of `value`, or why it has none.
Result<std::string> CanonicalJson(const boost::json::value& value);

// Appends `s` as a JSON string literal (quotes included) with RFC 8785
// escaping. `s` must be valid UTF-8 (see IsValidUtf8); it is not checked.
void AppendJsonString(std::string_view s, std::string* out);

// RFC 8785 member order: true when member name `a` sorts before `b` by
// UTF-16 code units. Both must be valid UTF-8.
bool JsonKeyLess(std::string_view a, std::string_view b);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Parses `text` as JSON (strict: no comments, no trailing commas, valid
// UTF-8). InvalidArgument with the byte offset of the first error.
Result<boost::json::value> ParseJson(std::string_view text);

}  // namespace custody::schema

#endif  // CUSTODY_SCHEMA_JSON_CANON_H_
