#include "custody/schema/json_canon.h"

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

#include <boost/json/parser.hpp>

namespace custody::schema {
namespace {

// RFC 8785 §3.2.3: member names sort by their UTF-16 code units. UTF-8
// byte order is code point order, which differs from UTF-16 order only
// between U+E000..U+FFFF (lead bytes 0xEE, 0xEF) and the supplementary planes
// (lead bytes 0xF0..0xF4, UTF-16 surrogates 0xD800..). The first differing
// byte decides: a continuation byte differs only under equal lead bytes, where
// byte order is right; a lead byte pair from those two groups flips.
bool Utf16Less(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  const auto* pa = reinterpret_cast<const uint8_t*>(a.data());
  const auto* pb = reinterpret_cast<const uint8_t*>(b.data());
  size_t i = 0;
  while (i < n && pa[i] == pb[i]) ++i;
  if (i == n) return a.size() < b.size();
  const uint8_t x = pa[i], y = pb[i];
  const bool x_high_bmp = x == 0xEE || x == 0xEF, y_high_bmp = y == 0xEE || y == 0xEF;
  if (x_high_bmp && y >= 0xF0) return false;
  if (x >= 0xF0 && y_high_bmp) return true;
  return x < y;
}

// The path from the root to the value being written, turned into an
// RFC 6901 pointer only when there is an error to report.
struct PathToken {
  std::string_view key;  // when !is_index
  size_t index = 0;      // when is_index
  bool is_index = false;
};
using Path = std::vector<PathToken>;

std::string Pointer(const Path& path) {
  std::string out;
  for (const PathToken& t : path) {
    out += '/';
    if (t.is_index) {
      out += std::to_string(t.index);
      continue;
    }
    for (char c : t.key) {
      if (c == '~') out += "~0";
      else if (c == '/') out += "~1";
      else out += c;
    }
  }
  return out;
}

Status Fail(const Path& path, const std::string& why) {
  const std::string pointer = Pointer(path);
  return Status::InvalidArgument((pointer.empty() ? std::string("/") : pointer) + ": " + why);
}

void AppendInt(int64_t n, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out->append(buf, r.ptr);
}

Status Append(const boost::json::value& v, std::string* out, Path* path) {
  switch (v.kind()) {
    case boost::json::kind::null: *out += "null"; return Status::Ok();
    case boost::json::kind::bool_: *out += v.get_bool() ? "true" : "false"; return Status::Ok();
    case boost::json::kind::int64: {
      const int64_t n = v.get_int64();
      if (n > kMaxSafeInteger || n < -kMaxSafeInteger) {
        return Fail(*path, "integer outside +/-(2^53-1)");
      }
      AppendInt(n, out);
      return Status::Ok();
    }
    case boost::json::kind::uint64: {
      const uint64_t n = v.get_uint64();
      if (n > static_cast<uint64_t>(kMaxSafeInteger)) {
        return Fail(*path, "integer outside +/-(2^53-1)");
      }
      AppendInt(static_cast<int64_t>(n), out);
      return Status::Ok();
    }
    case boost::json::kind::double_:
      return Fail(*path, "non-integer numbers are not allowed (use an integer or a string)");
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      if (!IsValidUtf8(s)) return Fail(*path, "string is not valid UTF-8");
      AppendJsonString(s, out);
      return Status::Ok();
    }
    case boost::json::kind::array: {
      *out += '[';
      size_t index = 0;
      for (const auto& element : v.get_array()) {
        if (index > 0) *out += ',';
        path->push_back({{}, index, true});
        CUSTODY_RETURN_IF_ERROR(Append(element, out, path));
        path->pop_back();
        ++index;
      }
      *out += ']';
      return Status::Ok();
    }
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      // Small objects (every object custody writes) sort on the stack.
      constexpr size_t kInline = 16;
      const boost::json::key_value_pair* inline_members[kInline];
      std::vector<const boost::json::key_value_pair*> heap_members;
      const boost::json::key_value_pair** members = inline_members;
      if (obj.size() > kInline) {
        heap_members.resize(obj.size());
        members = heap_members.data();
      }
      size_t n = 0;
      for (const auto& kv : obj) {
        if (!IsValidUtf8(kv.key())) return Fail(*path, "member name is not valid UTF-8");
        members[n++] = &kv;
      }
      std::sort(members, members + n,
                [](auto* a, auto* b) { return Utf16Less(a->key(), b->key()); });
      *out += '{';
      for (size_t i = 0; i < n; ++i) {
        if (i > 0) {
          if (members[i]->key() == members[i - 1]->key()) {
            return Fail(*path, "duplicate member \"" + std::string(members[i]->key()) + "\"");
          }
          *out += ',';
        }
        AppendJsonString(members[i]->key(), out);
        *out += ':';
        path->push_back({std::string_view(members[i]->key().data(), members[i]->key().size()), 0,
                         false});
        CUSTODY_RETURN_IF_ERROR(Append(members[i]->value(), out, path));
        path->pop_back();
      }
      *out += '}';
      return Status::Ok();
    }
  }
  return Status::Internal("unknown JSON kind");
}

}  // namespace

bool JsonKeyLess(std::string_view a, std::string_view b) { return Utf16Less(a, b); }

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  *out += '"';
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        *out += "\\u00";
        *out += kHex[c >> 4];
        *out += kHex[c & 15];
    }
  }
  out->append(s.data() + run, s.size() - run);
  *out += '"';
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) { ++i; continue; }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return false;  // overlong
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status AppendCanonicalJson(const boost::json::value& value, std::string* out) {
  Path path;
  path.reserve(8);
  return Append(value, out, &path);
}

Result<std::string> CanonicalJson(const boost::json::value& value) {
  std::string out;
  CUSTODY_RETURN_IF_ERROR(AppendCanonicalJson(value, &out));
  return out;
}

Result<boost::json::value> ParseJson(std::string_view text) {
  boost::json::parser parser;
  boost::system::error_code ec;
  const size_t consumed = parser.write(text.data(), text.size(), ec);
  if (ec) {
    return Status::InvalidArgument("invalid JSON at byte " + std::to_string(consumed) + ": " +
                                   ec.message());
  }
  return parser.release();
}

}  // namespace custody::schema
