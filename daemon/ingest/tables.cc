#include "daemon/ingest/tables.h"

namespace custody::daemon {

schema::Result<Tables> Tables::Open(ledger::Ledger& ledger) {
  Tables t;
  const std::pair<const char*, ledger::Table*> all[] = {
      {"idempotency", &t.idempotency}, {"idx_subject", &t.idx_subject},
      {"idx_actor", &t.idx_actor},     {"idx_system", &t.idx_system},
      {"idx_category", &t.idx_category}, {"idx_country", &t.idx_country},
      {"alerts", &t.alerts},           {"alert_outbox", &t.alert_outbox},
      {"daemon_meta", &t.daemon_meta}};
  for (const auto& [name, table] : all) {
    CUSTODY_ASSIGN_OR_RETURN(*table, ledger.OpenTable(name));
  }
  return t;
}

void AppendBe64(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

void AppendBe32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t ReadBe64(std::string_view b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(b[i]);
  return v;
}

uint32_t ReadBe32(std::string_view b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(b[i]);
  return v;
}

std::string IndexKey(std::string_view value, uint64_t seq) {
  std::string key;
  key.reserve(value.size() + 9);
  key.append(value);
  key.push_back('\0');
  AppendBe64(seq, &key);
  return key;
}

std::string SubjectIndexPrefix(std::string_view ref, uint64_t epoch) {
  std::string key;
  key.reserve(ref.size() + 13);
  AppendBe32(static_cast<uint32_t>(epoch), &key);
  key.append(ref);
  key.push_back('\0');
  return key;
}

std::string SubjectIndexKey(std::string_view ref, uint64_t seq) {
  std::string key = SubjectIndexPrefix(ref, seq >> kSubjectEpochBits);
  AppendBe64(seq, &key);
  return key;
}

std::string IdempotencyKey(std::string_view producer, std::string_view event_id) {
  std::string key;
  key.reserve(producer.size() + event_id.size() + 1);
  key.append(producer);
  key.push_back('\0');
  key.append(event_id);
  return key;
}

std::string AlertKey(uint64_t seq, uint32_t hit) {
  std::string key;
  AppendBe64(seq, &key);
  AppendBe32(hit, &key);
  return key;
}

}  // namespace custody::daemon
