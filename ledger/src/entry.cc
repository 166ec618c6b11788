#include "custody/ledger/entry.h"

#include <boost/json/parser.hpp>

#include "custody/schema/json_canon.h"
#include "entry_scan.h"

namespace custody::ledger {

void EncodeEntry(uint64_t seq, const Hash& prev, const PendingEntry& entry, std::string* out) {
  // Members in RFC 8785 order: body, decision, kind, prev, producer,
  // received_at, seq, v. All names are ASCII so byte order is UTF-16 order.
  out->reserve(out->size() + entry.body.size() + entry.decision.size() + entry.producer.size() +
               160);
  out->append("{\"body\":");
  out->append(entry.body);
  if (!entry.decision.empty()) {
    out->append(",\"decision\":");
    out->append(entry.decision);
  }
  out->append(",\"kind\":");
  schema::AppendJsonString(entry.kind, out);
  out->append(",\"prev\":\"");
  out->append(HashToBase64(prev));
  out->append("\",\"producer\":");
  schema::AppendJsonString(entry.producer, out);
  out->append(",\"received_at\":\"");
  out->append(schema::FormatRfc3339Micros(entry.received_at));
  out->append("\",\"seq\":");
  out->append(std::to_string(seq));
  out->append(",\"v\":1}");
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
