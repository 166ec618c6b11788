#include "custody/ledger/entry.h"

#include <cstdint>

#include <boost/json/parser.hpp>

#include "custody/schema/json_canon.h"
#include "entry_scan.h"

namespace custody::ledger {
namespace {

// The encoders below write straight into the entry buffer: the single
// appender thread encodes every entry, and the temporaries of
// HashToBase64 / FormatRfc3339Micros / std::to_string cost more than the
// copying. Each writes exactly what those functions write.

// Standard padded base64 of a 32-byte hash: 44 characters.
void AppendHashBase64(const Hash& h, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char buf[44];
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= kHashSize; i += 3) {
    const uint32_t v = (uint32_t{h[i]} << 16) | (uint32_t{h[i + 1]} << 8) | h[i + 2];
    buf[o++] = kAlphabet[v >> 18];
    buf[o++] = kAlphabet[(v >> 12) & 63];
    buf[o++] = kAlphabet[(v >> 6) & 63];
    buf[o++] = kAlphabet[v & 63];
  }
  // 32 = 3 * 10 + 2: two bytes left, one '=' of padding.
  const uint32_t v = (uint32_t{h[i]} << 16) | (uint32_t{h[i + 1]} << 8);
  buf[o++] = kAlphabet[v >> 18];
  buf[o++] = kAlphabet[(v >> 12) & 63];
  buf[o++] = kAlphabet[(v >> 6) & 63];
  buf[o++] = '=';
  out->append(buf, o);
}

void PutDigits(char* at, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// schema::FormatRfc3339Micros, "YYYY-MM-DDTHH:MM:SS.ffffffZ", for years
// 0..9999 (the only ones it writes in four digits); other years go through it.
void AppendTimestamp(schema::TimePoint t, std::string* out) {
  const int64_t us = schema::ToUnixMicros(t);
  constexpr int64_t kDay = 86400000000LL;
  int64_t days = us / kDay;
  int64_t rem = us % kDay;
  if (rem < 0) {
    rem += kDay;
    --days;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, as clock.cc).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  if (y < 0 || y > 9999) {
    out->append(schema::FormatRfc3339Micros(t));
    return;
  }
  const auto secs = static_cast<uint64_t>(rem / 1000000);
  const auto frac = static_cast<uint64_t>(rem % 1000000);
  char buf[27] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0', '0', ':',
                  '0', '0', ':', '0', '0', '.', '0', '0', '0', '0', '0', '0', 'Z'};
  PutDigits(buf, static_cast<uint64_t>(y), 4);
  PutDigits(buf + 5, m, 2);
  PutDigits(buf + 8, d, 2);
  PutDigits(buf + 11, secs / 3600, 2);
  PutDigits(buf + 14, secs / 60 % 60, 2);
  PutDigits(buf + 17, secs % 60, 2);
  PutDigits(buf + 20, frac, 6);
  out->append(buf, sizeof buf);
}

void AppendDecimal(uint64_t v, std::string* out) {
  char buf[20];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out->append(p, static_cast<size_t>(end - p));
}

}  // namespace

void EncodeEntry(uint64_t seq, const Hash& prev, const PendingEntry& entry, std::string* out) {
  // Members in RFC 8785 order: body, decision, kind, prev, producer,
  // received_at, seq, v. All names are ASCII so byte order is UTF-16 order.
  out->reserve(out->size() + entry.body.size() + entry.decision.size() + entry.kind.size() +
               entry.producer.size() + 160);
  out->append("{\"body\":");
  out->append(entry.body);
  if (!entry.decision.empty()) {
    out->append(",\"decision\":");
    out->append(entry.decision);
  }
  out->append(",\"kind\":");
  schema::AppendJsonString(entry.kind, out);
  out->append(",\"prev\":\"");
  AppendHashBase64(prev, out);
  out->append("\",\"producer\":");
  schema::AppendJsonString(entry.producer, out);
  out->append(",\"received_at\":\"");
  AppendTimestamp(entry.received_at, out);
  out->append("\",\"seq\":");
  AppendDecimal(seq, out);
  out->append(",\"v\":1}");
}

bool EntryBodyIs(std::string_view bytes, std::string_view body) {
  constexpr std::string_view kOpen = "{\"body\":";
  return bytes.size() > kOpen.size() + body.size() && bytes.substr(0, kOpen.size()) == kOpen &&
         bytes.substr(kOpen.size(), body.size()) == body &&
         bytes[kOpen.size() + body.size()] == ',';
}

Result<DecodedEntry> DecodeEntry(std::string_view bytes) {
  // The scanner checks canonical form and the envelope; the DOM parse then
  // only has to hand out body and decision.
  ScannedEntry scanned;
  CUSTODY_RETURN_IF_ERROR(ScanEntry(bytes, &scanned));
  boost::json::parser parser;
  boost::system::error_code ec;
  parser.write(bytes.data(), bytes.size(), ec);
  if (ec) return Status::Corruption("entry is not valid JSON: " + ec.message());
  boost::json::value root = parser.release();
  auto& obj = root.as_object();
  DecodedEntry out;
  out.seq = scanned.seq;
  out.prev = scanned.prev;
  out.kind = std::move(scanned.kind);
  out.received_at = std::move(scanned.received_at);
  out.producer = std::string(obj.at("producer").as_string());
  out.body = std::move(obj.at("body"));
  if (auto* d = obj.if_contains("decision")) out.decision = std::move(*d);
  return out;
}

}  // namespace custody::ledger
