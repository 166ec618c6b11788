#include "daemon/ingest/query.h"

#include <boost/json.hpp>
#include <limits>

#include "custody/ledger/entry.h"
#include "custody/schema/encoding.h"
#include "custody/schema/event.h"

namespace custody::daemon {
namespace {

// Entries examined per request before returning a partial page with a
// cursor: bounds the work one query can cause.
constexpr size_t kMaxExamined = 200000;
constexpr size_t kMaxLimit = 1000;

std::string_view Str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

const boost::json::object* Obj(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

bool HasString(const boost::json::object* o, std::string_view array_key, std::string_view want) {
  if (o == nullptr) return false;
  const auto* v = o->if_contains(array_key);
  if (v == nullptr || !v->is_array()) return false;
  for (const auto& s : v->as_array()) {
    if (s.is_string() && s.as_string() == want) return true;
  }
  return false;
}

bool MatchesCategory(const boost::json::object* data, const std::string& pattern) {
  if (data == nullptr) return false;
  const auto* v = data->if_contains("categories");
  if (v == nullptr || !v->is_array()) return false;
  for (const auto& s : v->as_array()) {
    if (s.is_string() && schema::CategoryMatches(pattern, s.as_string())) return true;
  }
  return false;
}

// True when the access entry body matches every filter of `q`.
bool Matches(const boost::json::object& body, const EventQuery& q) {
  const auto* actor = Obj(body, "actor");
  const auto* target = Obj(body, "target");
  const auto* origin = Obj(body, "origin");
  if (q.subject_ref && !HasString(Obj(body, "subjects"), "refs", *q.subject_ref)) return false;
  if (q.actor && (actor == nullptr || Str(*actor, "id") != *q.actor)) return false;
  if (q.system && (target == nullptr || Str(*target, "system") != *q.system)) return false;
  if (q.category && !MatchesCategory(Obj(body, "data"), *q.category)) return false;
  if (q.country) {
    const bool any = (actor && Str(*actor, "country") == *q.country) ||
                     (target && Str(*target, "country") == *q.country) ||
                     (origin && Str(*origin, "country") == *q.country);
    if (!any) return false;
  }
  if (q.since || q.until) {
    auto t = schema::ParseRfc3339(Str(body, "time"));
    if (!t.ok()) return false;
    if (q.since && *t < *q.since) return false;
    if (q.until && *t >= *q.until) return false;
  }
  return true;
}

// Picks the most selective index the query allows, or none (scan entries).
std::optional<std::pair<ledger::Table, std::string>> ChooseIndex(const Tables& t,
                                                                 const EventQuery& q) {
  if (q.actor) return std::make_pair(t.idx_actor, *q.actor);
  if (q.system) return std::make_pair(t.idx_system, *q.system);
  if (q.category && q.category->find('*') == std::string::npos) {
    return std::make_pair(t.idx_category, *q.category);
  }
  if (q.country) return std::make_pair(t.idx_country, *q.country);
  return std::nullopt;
}

// Walks seqs newest first below `below`, calling `visit(seq)` until it
// returns false or the candidates run out.
template <typename Visit>
Status WalkIndex(ledger::ReadView& view, ledger::Table table, const std::string& value,
                 uint64_t below, Visit visit) {
  CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor c, view.NewCursor(table));
  const std::string prefix = value + std::string(1, '\0');
  CUSTODY_ASSIGN_OR_RETURN(bool found, c.Seek(IndexKey(value, below)));
  if (found) {
    CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
  } else {
    CUSTODY_ASSIGN_OR_RETURN(found, c.SeekLast());
  }
  while (found && c.key().size() == prefix.size() + 8 && c.key().starts_with(prefix)) {
    if (!visit(ReadBe64(c.key().substr(prefix.size())))) break;
    CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
  }
  return Status::Ok();
}

// WalkIndex over the epoch-prefixed subject index: newest epoch first.
template <typename Visit>
Status WalkSubjectIndex(ledger::ReadView& view, ledger::Table table, const std::string& ref,
                        uint64_t below, Visit visit) {
  if (below == 0) return Status::Ok();
  CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor c, view.NewCursor(table));
  bool go_on = true;
  auto wrapped = [&](uint64_t seq) { return go_on = visit(seq); };
  for (uint64_t epoch = (below - 1) >> kSubjectEpochBits; go_on; --epoch) {
    const std::string prefix = SubjectIndexPrefix(ref, epoch);
    std::string start = prefix;
    AppendBe64(below, &start);
    CUSTODY_ASSIGN_OR_RETURN(bool found, c.Seek(start));
    if (found) {
      CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
    } else {
      CUSTODY_ASSIGN_OR_RETURN(found, c.SeekLast());
    }
    while (found && c.key().size() == prefix.size() + 8 && c.key().starts_with(prefix)) {
      if (!wrapped(ReadBe64(c.key().substr(prefix.size())))) break;
      CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
    }
    if (epoch == 0) break;
  }
  return Status::Ok();
}

}  // namespace

Result<EventPage> QueryEvents(ledger::Ledger& ledger, const Tables& tables,
                              const EventQuery& query) {
  if (query.limit == 0 || query.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit));
  }
  if (query.category && !schema::IsValidCategoryPattern(*query.category)) {
    return Status::InvalidArgument("category \"" + *query.category +
                                   "\" is not a category or a prefix pattern like gov_id.*");
  }
  CUSTODY_ASSIGN_OR_RETURN(ledger::ReadView view, ledger.Read());
  EventPage page;
  const uint64_t below = std::min<uint64_t>(query.cursor.value_or(view.size()), view.size());
  size_t examined = 0;
  uint64_t last_examined = below;
  Status error;
  // As for alerts: once the page is full the walk goes on only to learn
  // whether another match follows, so a next_cursor never leads to an empty
  // page (unless the scan budget runs out first).
  std::optional<uint64_t> full_at;
  auto visit = [&](uint64_t seq) -> bool {
    last_examined = seq;
    if (++examined > kMaxExamined) {
      page.next_cursor = full_at ? *full_at : seq + 1;
      return false;
    }
    auto bytes = view.Entry(seq);
    if (!bytes.ok()) {
      error = bytes.status();
      return false;
    }
    auto entry = ledger::DecodeEntry(*bytes);
    if (!entry.ok()) {
      error = entry.status().Annotate("entry " + std::to_string(seq));
      return false;
    }
    if (entry->kind != "access" || !Matches(entry->body.as_object(), query)) return true;
    if (full_at) {
      page.next_cursor = *full_at;
      return false;
    }
    page.entries.emplace_back(*bytes);
    if (page.entries.size() == query.limit) full_at = seq;
    return true;
  };
  if (query.subject_ref) {
    CUSTODY_RETURN_IF_ERROR(
        WalkSubjectIndex(view, tables.idx_subject, *query.subject_ref, below, visit));
  } else if (auto index = ChooseIndex(tables, query)) {
    CUSTODY_RETURN_IF_ERROR(WalkIndex(view, index->first, index->second, below, visit));
  } else {
    for (uint64_t seq = below; seq > 0 && visit(seq - 1);) --seq;
  }
  CUSTODY_RETURN_IF_ERROR(error);
  (void)last_examined;
  return page;
}

bool IsAlertCursor(std::string_view cursor) {
  auto raw = schema::HexDecode(cursor);
  return raw.ok() && raw->size() == 12;
}

Result<AlertPage> QueryAlerts(ledger::Ledger& ledger, const Tables& tables,
                              const AlertQuery& query) {
  if (query.limit == 0 || query.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit));
  }
  std::string start;  // exclusive upper bound key
  if (query.cursor) {
    auto raw = schema::HexDecode(*query.cursor);
    if (!raw.ok() || raw->size() != 12) {
      return Status::InvalidArgument("cursor \"" + *query.cursor +
                                     "\" is not a next_cursor value from this API");
    }
    start.assign(raw->begin(), raw->end());
  }
  CUSTODY_ASSIGN_OR_RETURN(ledger::ReadView view, ledger.Read());
  CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor c, view.NewCursor(tables.alerts));
  bool found;
  if (start.empty()) {
    CUSTODY_ASSIGN_OR_RETURN(found, c.SeekLast());
  } else {
    CUSTODY_ASSIGN_OR_RETURN(found, c.Seek(start));
    if (found) {
      CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
    } else {
      CUSTODY_ASSIGN_OR_RETURN(found, c.SeekLast());
    }
  }
  AlertPage page;
  size_t examined = 0;
  auto key_hex = [&c] {
    return schema::HexEncode(
        std::span(reinterpret_cast<const uint8_t*>(c.key().data()), c.key().size()));
  };
  // Once the page is full, the scan goes on only to learn whether another
  // match follows: a next_cursor means there is more (or the scan budget ran
  // out first), never an empty page.
  std::optional<std::string> full_at;
  while (found) {
    if (c.key().size() != 12) return Status::Corruption("alerts table has a malformed key");
    const uint64_t seq = ReadBe64(c.key());
    if (query.from_seq && seq < *query.from_seq) break;
    if (++examined > kMaxExamined) {
      page.next_cursor = full_at ? *full_at : key_hex();
      break;
    }
    boost::system::error_code ec;
    boost::json::value alert = boost::json::parse(c.value(), ec);
    if (ec || !alert.is_object()) return Status::Corruption("alert " + std::to_string(seq));
    const auto& a = alert.as_object();
    policy::Severity severity = policy::Severity::kInfo;
    policy::ParseSeverity(Str(a, "severity"), &severity);
    bool keep = severity >= query.min_severity && (!query.rule || Str(a, "rule") == *query.rule);
    if (keep && query.since) {
      auto t = schema::ParseRfc3339(Str(a, "time"));
      keep = t.ok() && *t >= *query.since;
    }
    if (keep && full_at) {
      page.next_cursor = *full_at;
      break;
    }
    if (keep) {
      page.alerts.emplace_back(c.value());
      if (page.alerts.size() == query.limit) full_at = key_hex();
    }
    CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
  }
  return page;
}

}  // namespace custody::daemon
