#include "daemon/policy/approvals.h"

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <set>
#include <span>
#include <tuple>

#include "custody/schema/json_canon.h"

namespace custody::daemon::policy {
namespace {

namespace json = boost::json;
using schema::FieldError;

constexpr std::string_view kExpId =
    "a non-empty string of at most 256 bytes without control characters";
constexpr std::string_view kExpText =
    "a non-empty string of at most 1024 bytes without control characters";
constexpr std::string_view kExpTime = "an RFC 3339 date-time such as \"2026-01-01T00:00:00Z\"";
constexpr std::string_view kExpScope =
    "an object {categories?, subject_jurisdictions?, actor_countries?, target_countries?, "
    "purposes?, actors?, target_systems?}";

enum class ValueKind { kCategory, kCountry, kId };

struct ScopeField {
  std::string_view name;
  ValueKind kind;
  std::optional<std::vector<std::string>> ApprovalScope::*member;
};
constexpr std::array<ScopeField, 7> kScopeFields = {{
    {"categories", ValueKind::kCategory, &ApprovalScope::categories},
    {"subject_jurisdictions", ValueKind::kCountry, &ApprovalScope::subject_jurisdictions},
    {"actor_countries", ValueKind::kCountry, &ApprovalScope::actor_countries},
    {"target_countries", ValueKind::kCountry, &ApprovalScope::target_countries},
    {"purposes", ValueKind::kId, &ApprovalScope::purposes},
    {"actors", ValueKind::kId, &ApprovalScope::actors},
    {"target_systems", ValueKind::kId, &ApprovalScope::target_systems},
}};

std::string_view KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "?";
}

std::string Escape(std::string_view key) {  // RFC 6901
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A small validator: records errors with pointers; every check reports and
// returns false on failure.
class Checker {
 public:
  explicit Checker(std::vector<FieldError>* errors) : errors_(errors) {}

  bool failed() const { return failed_; }
  void Error(const std::string& pointer, std::string message) {
    failed_ = true;
    errors_->push_back({pointer, std::move(message)});
  }
  void Expected(const std::string& pointer, std::string_view expect, const json::value& got) {
    Error(pointer, "expected " + std::string(expect) + ", got " + std::string(KindName(got)));
  }

  bool Text(const json::value& v, const std::string& p, size_t max, std::string_view expect,
            std::string* out) {
    if (!v.is_string()) {
      Expected(p, expect, v);
      return false;
    }
    const std::string_view s(v.get_string().data(), v.get_string().size());
    if (s.empty()) {
      Error(p, "empty string; expected " + std::string(expect));
      return false;
    }
    if (s.size() > max) {
      Error(p, "string of " + std::to_string(s.size()) + " bytes is too long; expected " +
                   std::string(expect));
      return false;
    }
    if (!schema::IsValidUtf8(s)) {
      Error(p, "string is not valid UTF-8");
      return false;
    }
    if (HasControl(s)) {
      Error(p, "string contains a control character (U+0000..U+001F or U+007F)");
      return false;
    }
    out->assign(s);
    return true;
  }

  bool Time(const json::value& v, const std::string& p, schema::TimePoint* out) {
    std::string s;
    if (!Text(v, p, 64, kExpTime, &s)) return false;
    Result<schema::TimePoint> t = schema::ParseRfc3339(s);
    if (!t.ok()) {
      Error(p, t.status().message() + "; expected " + std::string(kExpTime));
      return false;
    }
    *out = *t;
    return true;
  }

  // Walks `o`'s members: unknown ones are errors; required ones must be
  // there (null counts as missing); optional nulls are skipped.
  template <typename OnField>
  void Walk(const json::object& o, const std::string& p,
            std::span<const std::pair<std::string_view, bool>> fields, OnField&& on_field) {
    for (const json::key_value_pair& kv : o) {
      const std::string_view key(kv.key().data(), kv.key().size());
      auto it =
          std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
      const std::string child = p + "/" + Escape(key);
      if (it == fields.end()) {
        std::string allowed;
        for (const auto& f : fields)
          allowed += (allowed.empty() ? "" : ", ") + std::string(f.first);
        Error(child, "unknown field; allowed: " + allowed);
        continue;
      }
      if (kv.value().is_null() && !it->second) continue;
      on_field(key, kv.value(), child);
    }
    for (const auto& [name, required] : fields) {
      if (!required) continue;
      const json::value* v = o.if_contains(name);
      if (v == nullptr)
        Error(p + "/" + std::string(name), "required field is missing");
      else if (v->is_null())
        Error(p + "/" + std::string(name), "required field is null");
    }
  }

 private:
  std::vector<FieldError>* errors_;
  bool failed_ = false;
};

void ParseScopeList(Checker& c, const ScopeField& f, const json::value& v, const std::string& p,
                    ApprovalScope* scope) {
  std::string expect;
  switch (f.kind) {
    case ValueKind::kCategory:
      expect = "an array of category patterns such as \"contact.*\" or \"contact.email\"";
      break;
    case ValueKind::kCountry:
      expect = "an array of two-letter country codes such as \"US\"";
      break;
    case ValueKind::kId:
      expect = "an array of non-empty strings";
      break;
  }
  if (!v.is_array()) {
    c.Expected(p, expect, v);
    return;
  }
  // An empty list is kept as written: it allows nothing, so the approval
  // is out of scope for every event the field is checked against (an
  // absent field, by contrast, restricts nothing).
  const json::array& a = v.get_array();
  if (a.size() > kMaxScopeValues) {
    c.Error(p, std::to_string(a.size()) + " values; at most " + std::to_string(kMaxScopeValues) +
                   " are allowed");
    return;
  }
  std::set<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string ep = p + "/" + std::to_string(i);
    std::string s;
    if (!c.Text(a[i], ep, schema::kMaxIdBytes, expect, &s)) {
      ok = false;
      continue;
    }
    if (f.kind == ValueKind::kCategory && !schema::IsValidCategoryPattern(s)) {
      c.Error(ep, "\"" + s +
                      "\" is not a category pattern; expected \"*\", a category such as "
                      "\"contact.email\", or a category followed by \".*\" (categories start with "
                      "contact, gov_id, location, financial, health, biometric, identity, "
                      "credentials, telemetry, business or public)");
      ok = false;
      continue;
    }
    if (f.kind == ValueKind::kCountry) {
      if (!schema::IsCountryCode(s)) {
        const std::string_view hint = schema::CountryCodeHint(s);
        c.Error(ep, "\"" + s + "\" is not a country code; expected ISO 3166-1 alpha-2 such as \"US\"" +
                        (hint.empty() ? std::string() : " (did you mean \"" + std::string(hint) + "\"?)"));
        ok = false;
        continue;
      }
      std::transform(s.begin(), s.end(), s.begin(),
                     [](char ch) { return static_cast<char>(ch & ~0x20); });
    }
    values.insert(std::move(s));
  }
  if (ok) scope->*f.member = std::vector<std::string>(values.begin(), values.end());
}

bool In(const std::vector<std::string>& sorted, std::string_view v) {
  return std::binary_search(sorted.begin(), sorted.end(), v);
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

std::optional<Approval> ParseApproval(const json::value& v, std::vector<FieldError>* errors) {
  Checker c(errors);
  if (!v.is_object()) {
    c.Expected("", "an approval object", v);
    return std::nullopt;
  }
  static constexpr std::pair<std::string_view, bool> kFields[] = {
      {"approval_id", true}, {"granted_by", true}, {"legal_basis", true},
      {"scope", true},       {"valid_from", true}, {"valid_until", true}};
  Approval a;
  bool from_ok = false, until_ok = false;
  c.Walk(v.get_object(), "", kFields,
         [&](std::string_view key, const json::value& f, const std::string& p) {
           if (key == "approval_id") c.Text(f, p, schema::kMaxIdBytes, kExpId, &a.approval_id);
           if (key == "granted_by") c.Text(f, p, schema::kMaxIdBytes, kExpId, &a.granted_by);
           if (key == "legal_basis") c.Text(f, p, kMaxLegalBasisBytes, kExpText, &a.legal_basis);
           if (key == "valid_from") from_ok = c.Time(f, p, &a.valid_from);
           if (key == "valid_until") until_ok = c.Time(f, p, &a.valid_until);
           if (key == "scope") {
             if (!f.is_object()) {
               c.Expected(p, kExpScope, f);
               return;
             }
             static constexpr std::pair<std::string_view, bool> kScope[] = {
                 {"categories", false},      {"subject_jurisdictions", false},
                 {"actor_countries", false}, {"target_countries", false},
                 {"purposes", false},        {"actors", false},
                 {"target_systems", false}};
             c.Walk(f.get_object(), p, kScope,
                    [&](std::string_view name, const json::value& list, const std::string& lp) {
                      for (const ScopeField& sf : kScopeFields) {
                        if (sf.name == name) ParseScopeList(c, sf, list, lp, &a.scope);
                      }
                    });
           }
         });
  if (from_ok && until_ok && a.valid_until < a.valid_from) {
    c.Error("/valid_until", "valid_until " + schema::FormatRfc3339(a.valid_until) +
                                " is before valid_from " + schema::FormatRfc3339(a.valid_from) +
                                "; expected valid_from <= valid_until");
  }
  if (c.failed()) return std::nullopt;
  return a;
}

std::optional<Revocation> ParseRevocation(const json::value& v, std::vector<FieldError>* errors) {
  Checker c(errors);
  if (!v.is_object()) {
    c.Expected("", "a revocation object {approval_id, revoked_by, reason}", v);
    return std::nullopt;
  }
  static constexpr std::pair<std::string_view, bool> kFields[] = {
      {"approval_id", true}, {"revoked_by", true}, {"reason", true}};
  Revocation r;
  c.Walk(v.get_object(), "", kFields,
         [&](std::string_view key, const json::value& f, const std::string& p) {
           if (key == "approval_id") c.Text(f, p, schema::kMaxIdBytes, kExpId, &r.approval_id);
           if (key == "revoked_by") c.Text(f, p, schema::kMaxIdBytes, kExpId, &r.revoked_by);
           if (key == "reason") c.Text(f, p, kMaxReasonBytes, kExpText, &r.reason);
         });
  if (c.failed()) return std::nullopt;
  return r;
}

json::object ApprovalBody(const Approval& a) {
  json::object o;
  o["approval_id"] = a.approval_id;
  o["granted_by"] = a.granted_by;
  o["legal_basis"] = a.legal_basis;
  json::object scope;
  for (const ScopeField& f : kScopeFields) {
    const auto& member = a.scope.*f.member;
    if (member) scope[f.name] = ToArray(*member);
  }
  o["scope"] = std::move(scope);
  o["valid_from"] = schema::FormatRfc3339(a.valid_from);
  o["valid_until"] = schema::FormatRfc3339(a.valid_until);
  return o;
}

json::object RevocationBody(const Revocation& r) {
  json::object o;
  o["approval_id"] = r.approval_id;
  o["revoked_by"] = r.revoked_by;
  o["reason"] = r.reason;
  return o;
}

std::string ApprovalVerdict::StatusText() const {
  switch (kind) {
    case Kind::kApplies:
      return "applied";
    case Kind::kUnknown:
      return "unknown";
    case Kind::kRevoked:
      return "revoked";
    case Kind::kExpired:
      return "expired";
    case Kind::kNotYetValid:
      return "not-yet-valid";
    case Kind::kOutOfScope:
      return "out-of-scope: " + field;
  }
  return "unknown";
}

ApprovalVerdict CheckApproval(const Approval& a, const schema::Event& e) {
  using Kind = ApprovalVerdict::Kind;
  if (e.time < a.valid_from) {
    return {Kind::kNotYetValid, "", "is not valid before " + schema::FormatRfc3339(a.valid_from)};
  }
  if (e.time > a.valid_until) {
    return {Kind::kExpired, "", "expired at " + schema::FormatRfc3339(a.valid_until)};
  }
  const ApprovalScope& s = a.scope;
  auto out = [](std::string field, std::string detail) {
    return ApprovalVerdict{Kind::kOutOfScope, std::move(field), std::move(detail)};
  };
  if (s.categories) {
    for (const std::string& cat : e.categories) {
      if (!schema::IsPersonalCategory(cat)) continue;
      const bool covered =
          std::any_of(s.categories->begin(), s.categories->end(),
                      [&](const std::string& p) { return schema::CategoryMatches(p, cat); });
      if (!covered) return out("categories", cat + " is not covered by its categories");
    }
  }
  if (s.subject_jurisdictions) {
    for (const auto& [cc, n] : e.jurisdictions) {
      if (n > 0 && !In(*s.subject_jurisdictions, cc)) {
        return out("subject_jurisdictions",
                   "subjects in " + cc + " are not covered by its subject_jurisdictions");
      }
    }
  }
  if (s.actor_countries && !In(*s.actor_countries, e.actor.country)) {
    return out("actor_countries",
               "actor country " + e.actor.country + " is not in its actor_countries");
  }
  if (s.target_countries && !In(*s.target_countries, e.target.country)) {
    return out("target_countries",
               "target country " + e.target.country + " is not in its target_countries");
  }
  if (s.purposes) {
    if (!e.context.purpose)
      return out("purposes", "the event states no purpose but it limits purposes");
    if (!In(*s.purposes, *e.context.purpose)) {
      return out("purposes", "purpose " + *e.context.purpose + " is not in its purposes");
    }
  }
  if (s.actors && !In(*s.actors, e.actor.id)) {
    return out("actors", "actor " + e.actor.id + " is not in its actors");
  }
  if (s.target_systems && !In(*s.target_systems, e.target.system)) {
    return out("target_systems",
               "target system " + e.target.system + " is not in its target_systems");
  }
  return {Kind::kApplies, "", "applies"};
}

std::string_view ApprovalStateName(ApprovalState s) {
  switch (s) {
    case ApprovalState::kActive:
      return "active";
    case ApprovalState::kNotYetValid:
      return "not-yet-valid";
    case ApprovalState::kExpired:
      return "expired";
    case ApprovalState::kRevoked:
      return "revoked";
  }
  return "?";
}

namespace {

ApprovalState StateAt(const ApprovalRegistry::Entry& e, schema::TimePoint now) {
  if (e.revocation) return ApprovalState::kRevoked;
  if (now < e.approval.valid_from) return ApprovalState::kNotYetValid;
  if (now > e.approval.valid_until) return ApprovalState::kExpired;
  return ApprovalState::kActive;
}

}  // namespace

Status ApprovalRegistry::CheckRegister(const Approval& a) const {
  std::lock_guard lock(mu_);
  if (by_id_.contains(a.approval_id)) {
    return Status::AlreadyExists("approval " + a.approval_id +
                                 " already exists; approvals are immutable: revoke it and "
                                 "register a new approval_id");
  }
  return Status::Ok();
}

Status ApprovalRegistry::Register(Approval a, uint64_t seq) {
  CUSTODY_RETURN_IF_ERROR(CheckRegister(a));
  std::lock_guard lock(mu_);
  std::string id = a.approval_id;
  Entry e;
  e.approval = std::move(a);
  e.seq = seq;
  by_id_.emplace(std::move(id), std::move(e));
  return Status::Ok();
}

Status ApprovalRegistry::CheckRevoke(const Revocation& r) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(r.approval_id);
  if (it == by_id_.end()) {
    return Status::NotFound("approval " + r.approval_id + " does not exist");
  }
  if (it->second.revocation) {
    return Status::FailedPrecondition("approval " + r.approval_id + " is already revoked (by " +
                                      it->second.revocation->revoked_by + ")");
  }
  return Status::Ok();
}

Status ApprovalRegistry::Revoke(Revocation r, uint64_t seq) {
  CUSTODY_RETURN_IF_ERROR(CheckRevoke(r));
  std::lock_guard lock(mu_);
  Entry& e = by_id_.find(r.approval_id)->second;
  e.revocation = std::move(r);
  e.revoked_seq = seq;
  return Status::Ok();
}

ApprovalVerdict ApprovalRegistry::Evaluate(std::string_view approval_id,
                                           const schema::Event& e) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(approval_id);
  if (it == by_id_.end()) {
    return {ApprovalVerdict::Kind::kUnknown, "", "does not exist"};
  }
  if (it->second.revocation) {
    return {ApprovalVerdict::Kind::kRevoked, "",
            "was revoked by " + it->second.revocation->revoked_by + ": " +
                it->second.revocation->reason};
  }
  return CheckApproval(it->second.approval, e);
}

std::vector<ApprovalRegistry::Entry> ApprovalRegistry::List(schema::TimePoint now) const {
  std::vector<Entry> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(by_id_.size());
    for (const auto& [id, e] : by_id_) {
      out.push_back(e);
      out.back().state = StateAt(e, now);
    }
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.seq, a.approval.approval_id) < std::tie(b.seq, b.approval.approval_id);
  });
  return out;
}

std::optional<ApprovalRegistry::Entry> ApprovalRegistry::Get(std::string_view approval_id,
                                                             schema::TimePoint now) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(approval_id);
  if (it == by_id_.end()) return std::nullopt;
  Entry e = it->second;
  e.state = StateAt(e, now);
  return e;
}

size_t ApprovalRegistry::size() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

json::object ApprovalEntryJson(const ApprovalRegistry::Entry& e) {
  json::object o = ApprovalBody(e.approval);
  o["state"] = ApprovalStateName(e.state);
  o["seq"] = static_cast<int64_t>(e.seq);
  if (e.revocation) {
    json::object r;
    r["revoked_by"] = e.revocation->revoked_by;
    r["reason"] = e.revocation->reason;
    r["seq"] = static_cast<int64_t>(e.revoked_seq);
    o["revocation"] = std::move(r);
  }
  return o;
}

}  // namespace custody::daemon::policy
