#include "client/custodyctl/render.h"

#include <boost/json/serialize.hpp>

#include "custody/schema/json_canon.h"

namespace custody::client {

namespace json = boost::json;

std::string Str(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Num(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return "";
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return "";
}

const json::object* Obj(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr ? v->if_object() : nullptr;
}

namespace {

std::string Join(const json::value* array, std::string_view sep) {
  std::string out;
  if (array == nullptr || !array->is_array()) return out;
  for (const json::value& v : array->as_array()) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += sep;
    out += std::string(v.as_string());
  }
  return out;
}

std::string Party(const json::object* p, std::string_view id_member) {
  if (p == nullptr) return "?";
  std::string out = Str(*p, id_member);
  const std::string type = id_member == "system" ? Str(*p, "type") : "";
  if (!type.empty()) out += " " + type;
  const std::string country = Str(*p, "country");
  if (!country.empty()) out += " (" + country + ")";
  return out;
}

std::string Short(std::string s, size_t n) { return s.size() > n ? s.substr(0, n) + "…" : s; }

// Rule ids of the hits in an access entry's decision.
std::string HitRules(const json::object& entry, bool* critical) {
  *critical = false;
  const json::object* d = Obj(entry, "decision");
  const json::value* hits = d ? d->if_contains("hits") : nullptr;
  std::string out;
  if (hits == nullptr || !hits->is_array()) return out;
  for (const json::value& h : hits->as_array()) {
    if (!h.is_object()) continue;
    if (!out.empty()) out += ",";
    out += Str(h.as_object(), "rule");
    if (Str(h.as_object(), "severity") == "critical") *critical = true;
  }
  return out;
}

}  // namespace

std::string EntrySummary(const json::object& entry) {
  const std::string kind = Str(entry, "kind");
  const json::object* body = Obj(entry, "body");
  if (body == nullptr) return kind;
  if (kind == "access") {
    std::string s = Str(*body, "activity") + " " + Party(Obj(*body, "actor"), "id") + " -> " +
                    Party(Obj(*body, "target"), "system");
    if (const json::object* data = Obj(*body, "data")) {
      s += " " + Join(data->if_contains("categories"), ",");
      const std::string n = Num(*data, "record_count");
      if (!n.empty()) s += " x" + n;
    }
    const std::string event_id = Str(*body, "event_id");
    if (!event_id.empty()) s += " [" + event_id + "]";
    return s;
  }
  if (kind == "policy")
    return "policy " + Short(Str(*body, "sha256"), 12) + " " + Str(*body, "source");
  if (kind == "approval") {
    return "approval " + Str(*body, "approval_id") + " by " + Str(*body, "granted_by") + " (" +
           Str(*body, "valid_from") + " .. " + Str(*body, "valid_until") + ")";
  }
  if (kind == "approval-revocation") {
    return "revoked " + Str(*body, "approval_id") + " by " + Str(*body, "revoked_by") + ": " +
           Str(*body, "reason");
  }
  return Short(json::serialize(*body), 80);
}

void PrintEntryTable(Context& ctx, const std::vector<std::string>& entries, bool header,
                     std::vector<size_t>* widths) {
  Table t({"SEQ", "RECEIVED", "KIND", "PRODUCER", "ALERTS", "SUMMARY"});
  for (const std::string& bytes : entries) {
    auto v = schema::ParseJson(bytes);
    if (!v.ok() || !v->is_object()) {
      t.AddRow({"?", "", "(unparseable)", "", "", Short(bytes, 60)});
      continue;
    }
    const json::object& e = v->as_object();
    bool critical = false;
    std::string rules = HitRules(e, &critical);
    t.AddRow({Num(e, "seq"), Str(e, "received_at"), Str(e, "kind"), Str(e, "producer"), rules,
              EntrySummary(e)},
             {Style::kNone, Style::kDim, Style::kNone, Style::kNone,
              critical ? Style::kBoldRed : Style::kRed, Style::kNone});
  }
  if (!header && t.rows() == 0) return;
  t.Print(ctx.term(), stdout, header, widths);
}

void PrintEntries(Context& ctx, const std::vector<std::string>& entries, std::string_view member,
                  const std::optional<std::string>& next_cursor, bool with_cursor) {
  switch (ctx.format()) {
    case Format::kNdjson:
      for (const auto& e : entries) PrintLine(e);
      return;
    case Format::kJson: {
      std::string doc = "{\"" + std::string(member) + "\":[";
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) doc += ',';
        doc += entries[i];
      }
      doc += ']';
      if (with_cursor) {
        doc += ",\"next_cursor\":";
        if (next_cursor) {
          schema::AppendJsonString(*next_cursor, &doc);
        } else {
          doc += "null";
        }
      }
      doc += '}';
      PrintLine(doc);
      return;
    }
    case Format::kTable:
      if (entries.empty()) {
        std::fputs("(no entries)\n", stderr);
        return;
      }
      PrintEntryTable(ctx, entries, true);
      return;
  }
}

void PrintAlertTable(Context& ctx, const std::vector<std::string>& alerts, bool header,
                     std::vector<size_t>* widths) {
  Table t({"TIME", "SEVERITY", "RULE", "SEQ", "ACTOR", "TARGET", "REASON"});
  for (const std::string& text : alerts) {
    auto v = schema::ParseJson(text);
    if (!v.ok() || !v->is_object()) continue;
    const json::object& a = v->as_object();
    const std::string severity = Str(a, "severity");
    std::string reason = Str(a, "reason");
    const std::string approval = Str(a, "approval_id");
    if (!approval.empty())
      reason += " [approval " + approval + ": " + Str(a, "approval_status") + "]";
    t.AddRow({Str(a, "time"), severity, Str(a, "rule"), Num(a, "seq"), Str(a, "actor"),
              Str(a, "target_system"), reason},
             {Style::kNone, SeverityStyle(severity)});
  }
  t.Print(ctx.term(), stdout, header, widths);
}

// SEQ RECEIVED KIND PRODUCER ALERTS SUMMARY / TIME SEVERITY RULE SEQ ACTOR TARGET REASON
std::vector<size_t> EntryStreamWidths() { return {6, 27, 6, 12, 14, 0}; }
std::vector<size_t> AlertStreamWidths() { return {20, 8, 26, 6, 10, 12, 0}; }

}  // namespace custody::client
