#include "custody/ledger/entry.h"

#include <boost/json/parser.hpp>

#include "custody/schema/json_canon.h"

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

namespace {

Status Bad(const std::string& why) { return Status::Corruption("entry " + why); }

}  // namespace

Result<DecodedEntry> DecodeEntry(std::string_view bytes) {
  boost::json::parser parser;
  boost::system::error_code ec;
  parser.write(bytes.data(), bytes.size(), ec);
  if (ec) return Bad("is not valid JSON: " + ec.message());
  boost::json::value root = parser.release();
  if (!root.is_object()) return Bad("is not a JSON object");
  auto& obj = root.as_object();

  DecodedEntry out;
  size_t expected_members = 7;
  const auto* v = obj.if_contains("v");
  if (v == nullptr || !v->is_int64() || v->as_int64() != kEntryVersion) {
    return Bad("has no \"v\":1 (unsupported version)");
  }
  const auto* seq = obj.if_contains("seq");
  if (seq == nullptr || !(seq->is_int64() || seq->is_uint64()) ||
      (seq->is_int64() && seq->as_int64() < 0)) {
    return Bad("has no integer \"seq\"");
  }
  out.seq = seq->is_int64() ? static_cast<uint64_t>(seq->as_int64()) : seq->as_uint64();
  auto string_member = [&](const char* name, std::string* dst) -> Status {
    const auto* m = obj.if_contains(name);
    if (m == nullptr || !m->is_string()) return Bad(std::string("has no string \"") + name + "\"");
    dst->assign(m->as_string().data(), m->as_string().size());
    return Status::Ok();
  };
  CUSTODY_RETURN_IF_ERROR(string_member("kind", &out.kind));
  CUSTODY_RETURN_IF_ERROR(string_member("producer", &out.producer));
  CUSTODY_RETURN_IF_ERROR(string_member("received_at", &out.received_at));
  std::string prev_text;
  CUSTODY_RETURN_IF_ERROR(string_member("prev", &prev_text));
  auto prev = HashFromBase64(prev_text);
  if (!prev.ok()) return Bad("\"prev\" is not a base64 SHA-256 hash");
  out.prev = *prev;
  if (!schema::ParseRfc3339(out.received_at).ok()) return Bad("\"received_at\" is not RFC 3339");
  const auto* body = obj.if_contains("body");
  if (body == nullptr || !body->is_object()) return Bad("has no object \"body\"");
  out.body = *body;
  if (const auto* decision = obj.if_contains("decision")) {
    if (!decision->is_object()) return Bad("\"decision\" is not an object");
    out.decision = *decision;
    ++expected_members;
  }
  if (obj.size() != expected_members) return Bad("has unexpected members");
  auto canonical = schema::CanonicalJson(root);
  if (!canonical.ok()) return Bad("is not canonical: " + canonical.status().message());
  if (*canonical != bytes) return Bad("is not in canonical form (RFC 8785)");
  return out;
}

}  // namespace custody::ledger
