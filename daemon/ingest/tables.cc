#include "daemon/ingest/tables.h"

#include <spdlog/spdlog.h>

#include "custody/ledger/entry.h"

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

std::string PolicyEntryKey(uint64_t seq) {
  std::string key(kPolicyEntryKeyPrefix);
  AppendBe64(seq, &key);
  return key;
}

Status IndexPolicyEntries(ledger::Ledger& ledger, const Tables& tables) {
  std::vector<uint64_t> seqs;
  {
    CUSTODY_ASSIGN_OR_RETURN(ledger::ReadView view, ledger.Read());
    CUSTODY_ASSIGN_OR_RETURN(auto done, view.Get(tables.daemon_meta, kPolicyEntriesIndexedKey));
    if (done) return Status::Ok();
    if (view.size() > 0) {
      spdlog::info("indexing the policy entries of {} entries (once, for export bundles)",
                   view.size());
    }
    CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor cursor, view.NewEntryCursor());
    CUSTODY_ASSIGN_OR_RETURN(bool more, cursor.SeekFirst());
    for (uint64_t seq = 0; more; ++seq) {
      CUSTODY_ASSIGN_OR_RETURN(ledger::DecodedEntry entry, ledger::DecodeEntry(cursor.value()));
      if (entry.kind == "policy") seqs.push_back(seq);
      CUSTODY_ASSIGN_OR_RETURN(more, cursor.Next());
    }
  }
  auto wrote = ledger.Write([&](ledger::WriteTxn& txn) {
    for (uint64_t seq : seqs) {
      CUSTODY_RETURN_IF_ERROR(txn.Put(tables.daemon_meta, PolicyEntryKey(seq), ""));
    }
    return txn.Put(tables.daemon_meta, kPolicyEntriesIndexedKey, "1");
  });
  return wrote.status();
}

Result<std::vector<uint64_t>> PolicyEntrySeqs(ledger::ReadView& view, const Tables& tables) {
  std::vector<uint64_t> seqs;
  CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor c, view.NewCursor(tables.daemon_meta));
  CUSTODY_ASSIGN_OR_RETURN(bool found, c.Seek(kPolicyEntryKeyPrefix));
  while (found && c.key().starts_with(kPolicyEntryKeyPrefix)) {
    seqs.push_back(ReadBe64(c.key().substr(kPolicyEntryKeyPrefix.size())));
    CUSTODY_ASSIGN_OR_RETURN(found, c.Next());
  }
  return seqs;
}

}  // namespace custody::daemon
