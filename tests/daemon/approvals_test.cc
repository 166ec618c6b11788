// Approvals: validation (FieldErrors with JSON pointers), the normalised
// ledger body, matching exactly as shared/scenarios/README.md states, and the
// registry's states and errors.
#include "daemon/policy/approvals.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "custody/schema/json_canon.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tests/daemon/policy_test_util.h"

namespace custody::daemon::policy {
namespace {

namespace json = boost::json;
using schema::FieldError;
using test::JsonOrDie;
using test::MakeEvent;
using test::T;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every scope member, so that each can be violated on its own by
// kInScopeEvent's variants.
constexpr std::string_view kFull = R"({
  "approval_id": "APR-1", "granted_by": "dpo@example.com", "legal_basis": "SCC",
  "scope": {
    "categories": ["contact.*", "identity.name"],
    "subject_jurisdictions": ["US", "ca"],
    "actor_countries": ["IE"],
    "target_countries": ["US"],
    "purposes": ["customer-support"],
    "actors": ["emp-ie-3"],
    "target_systems": ["us-crm"]
  },
  "valid_from": "2026-01-01T00:00:00Z",
  "valid_until": "2026-06-30T23:59:59Z"
})";

// Satisfies every member of kFull.
constexpr std::string_view kInScope = R"({
  "time": "2026-05-04T09:10:00Z",
  "actor": {"id": "emp-ie-3", "country": "IE"},
  "target": {"system": "us-crm", "country": "US"},
  "data": {"categories": ["contact.phone", "identity.name", "telemetry.session"]},
  "subjects": {"count": 2, "jurisdictions": {"US": 1, "CA": 1, "MX": 0}},
  "context": {"purpose": "customer-support", "approval_id": "APR-1"}
})";

Approval MustApproval(std::string_view text) {
  std::vector<FieldError> errors;
  std::optional<Approval> a = ParseApproval(JsonOrDie(text), &errors);
  for (const auto& e : errors) ADD_FAILURE() << e.pointer << ": " << e.message;
  return a.value_or(Approval{});
}

std::vector<FieldError> ApprovalErrors(std::string_view text) {
  std::vector<FieldError> errors;
  EXPECT_FALSE(ParseApproval(JsonOrDie(text), &errors).has_value()) << text;
  EXPECT_FALSE(errors.empty());
  return errors;
}

// kFull with `member` (a JSON pointer-ish "scope.x" or top-level name)
// replaced by `value` (JSON text), or removed when `value` is empty.
std::string With(std::string_view member, std::string_view value) {
  json::object o = JsonOrDie(kFull).as_object();
  json::object* target = &o;
  std::string name(member);
  if (name.starts_with("scope.")) {
    target = &o["scope"].as_object();
    name = name.substr(6);
  }
  if (value.empty()) {
    target->erase(name);
  } else {
    (*target)[name] = JsonOrDie(value);
  }
  return json::serialize(o);
}

std::string VerdictFor(const Approval& a, std::string_view event_overrides) {
  return CheckApproval(a, MakeEvent(event_overrides)).StatusText();
}

// Event `kInScope` with `overrides` merged (one level deep).
std::string Ev(std::string_view overrides) {
  json::object base = JsonOrDie(kInScope).as_object();
  const json::value over = JsonOrDie(overrides);
  for (const auto& kv : over.as_object()) {
    if (kv.value().is_object() && base.contains(kv.key())) {
      for (const auto& in : kv.value().as_object())
        base[kv.key()].as_object()[in.key()] = in.value();
    } else {
      base[kv.key()] = kv.value();
    }
  }
  return json::serialize(base);
}

// ---------------------------------------------------------------------------
// Validation.

TEST(ApprovalParse, ScenarioApprovalsAreValid) {
  const json::value all = JsonOrDie(
      custody::testing::ReadFileOrDie(custody::testing::ScenariosDir() / "approvals.json"));
  for (const json::value& a : all.as_array()) {
    std::vector<FieldError> errors;
    std::optional<Approval> parsed = ParseApproval(a, &errors);
    ASSERT_TRUE(parsed) << json::serialize(a);
    EXPECT_THAT(errors, IsEmpty());
  }
}

TEST(ApprovalParse, NormalisedBodyRoundTrips) {
  const Approval a = MustApproval(kFull);
  EXPECT_THAT(*a.scope.subject_jurisdictions, ElementsAre("CA", "US"));  // upper, sorted
  EXPECT_FALSE(a.scope == ApprovalScope{});
  const json::object body = ApprovalBody(a);
  std::vector<FieldError> errors;
  std::optional<Approval> back = ParseApproval(body, &errors);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, a);
  ASSERT_OK_AND_ASSIGN(std::string canon, schema::CanonicalJson(body));
  EXPECT_THAT(canon, HasSubstr(R"("subject_jurisdictions":["CA","US"])"));
  EXPECT_THAT(canon, HasSubstr(R"("valid_until":"2026-06-30T23:59:59Z")"));
  // Absent members stay absent.
  const Approval narrow = MustApproval(With("scope", R"({"purposes":["x"]})"));
  EXPECT_EQ(ApprovalBody(narrow).at("scope").as_object().size(), 1u);
}

TEST(ApprovalParse, NullOptionalScopeMemberIsAbsent) {
  const Approval a = MustApproval(With("scope.actors", "null"));
  EXPECT_FALSE(a.scope.actors.has_value());
}

TEST(ApprovalParse, UnknownFieldsAreErrors) {
  auto e = ApprovalErrors(With("note", R"("hi")"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].pointer, "/note");
  EXPECT_THAT(e[0].message, HasSubstr("unknown field; allowed: approval_id, granted_by"));
  e = ApprovalErrors(With("scope.countries", R"(["US"])"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].pointer, "/scope/countries");
  EXPECT_THAT(e[0].message, HasSubstr("target_countries"));
}

TEST(ApprovalParse, MissingAndNullRequiredFields) {
  for (const char* f :
       {"approval_id", "granted_by", "legal_basis", "scope", "valid_from", "valid_until"}) {
    auto e = ApprovalErrors(With(f, ""));
    ASSERT_EQ(e.size(), 1u) << f;
    EXPECT_EQ(e[0].pointer, std::string("/") + f);
    EXPECT_EQ(e[0].message, "required field is missing");
    e = ApprovalErrors(With(f, "null"));
    ASSERT_FALSE(e.empty()) << f;
    EXPECT_EQ(e[0].pointer, std::string("/") + f);
  }
}

TEST(ApprovalParse, BadValuesPointAtTheValue) {
  struct Case {
    std::string member, value, pointer, message;
  };
  const std::vector<Case> cases = {
      {"approval_id", R"("")", "/approval_id", "empty string"},
      {"approval_id", "7", "/approval_id", "expected a non-empty string"},
      {"granted_by", R"("a\u0001b")", "/granted_by", "control character"},
      {"legal_basis", std::string("\"") + std::string(1025, 'x') + "\"", "/legal_basis",
       "too long"},
      {"scope", "[]", "/scope", "expected an object"},
      {"scope.categories", R"(["contact.*", "gov-id.*"])", "/scope/categories/1",
       "not a category pattern"},
      {"scope.categories", R"("contact.*")", "/scope/categories", "expected an array"},
      {"scope.subject_jurisdictions", R"(["USA"])", "/scope/subject_jurisdictions/0",
       "not a country code"},
      {"scope.actor_countries", R"([1])", "/scope/actor_countries/0", "got a number"},
      {"scope.target_countries", R"(["U1"])", "/scope/target_countries/0", "not a country code"},
      {"scope.purposes", R"([""])", "/scope/purposes/0", "empty string"},
      {"scope.actors", R"([null])", "/scope/actors/0", "got null"},
      {"scope.target_systems", "{}", "/scope/target_systems", "expected an array"},
      {"valid_from", R"("yesterday")", "/valid_from", "RFC 3339"},
      {"valid_until", R"("2025-12-31T23:59:59Z")", "/valid_until", "before valid_from"},
  };
  for (const Case& c : cases) {
    auto e = ApprovalErrors(With(c.member, c.value));
    ASSERT_EQ(e.size(), 1u) << c.member << " = " << c.value;
    EXPECT_EQ(e[0].pointer, c.pointer) << c.member;
    EXPECT_THAT(e[0].message, HasSubstr(c.message)) << c.member;
  }
}

TEST(ApprovalParse, EveryProblemIsReported) {
  auto e = ApprovalErrors(R"({"approval_id": "", "scope": {"actors": [7], "x": 1}, "y": 2})");
  std::vector<std::string> pointers;
  for (const auto& f : e) pointers.push_back(f.pointer);
  EXPECT_THAT(pointers, ElementsAre("/approval_id", "/scope/actors/0", "/scope/x", "/y",
                                    "/granted_by", "/legal_basis", "/valid_from", "/valid_until"));
  EXPECT_EQ(ApprovalErrors("[]")[0].pointer, "");
}

TEST(RevocationParse, ValidAndInvalid) {
  std::vector<FieldError> errors;
  auto r = ParseRevocation(
      JsonOrDie(R"({"approval_id":"APR-1","revoked_by":"dpo","reason":"contract ended"})"),
      &errors);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "contract ended");
  EXPECT_EQ(json::serialize(RevocationBody(*r)),
            R"({"approval_id":"APR-1","revoked_by":"dpo","reason":"contract ended"})");
  errors.clear();
  EXPECT_FALSE(ParseRevocation(JsonOrDie(R"({"approval_id":"APR-1","by":"x"})"), &errors));
  std::vector<std::string> pointers;
  for (const auto& f : errors) pointers.push_back(f.pointer);
  EXPECT_THAT(pointers, ElementsAre("/by", "/revoked_by", "/reason"));
}

// ---------------------------------------------------------------------------
// Matching (shared/scenarios/README.md).

TEST(ApprovalMatch, InScopeApplies) {
  const Approval a = MustApproval(kFull);
  const ApprovalVerdict v = CheckApproval(a, MakeEvent(Ev("{}")));
  EXPECT_TRUE(v.applies()) << v.StatusText() << ": " << v.detail;
  EXPECT_EQ(v.StatusText(), "applied");
}

TEST(ApprovalMatch, BothBoundsInclusive) {
  const Approval a = MustApproval(kFull);
  EXPECT_EQ(VerdictFor(a, Ev(R"({"time":"2026-01-01T00:00:00Z"})")), "applied");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"time":"2026-06-30T23:59:59Z"})")), "applied");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"time":"2025-12-31T23:59:59.999999Z"})")), "not-yet-valid");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"time":"2026-06-30T23:59:59.000001Z"})")), "expired");
  // Offsets are honoured: 01:00+02:00 is 23:00Z the day before.
  EXPECT_EQ(VerdictFor(a, Ev(R"({"time":"2026-01-01T01:00:00+02:00"})")), "not-yet-valid");
  const ApprovalVerdict v = CheckApproval(a, MakeEvent(Ev(R"({"time":"2026-07-04T09:10:00Z"})")));
  EXPECT_EQ(v.detail, "expired at 2026-06-30T23:59:59Z");
}

TEST(ApprovalMatch, EachScopeFieldOutOfScope) {
  const Approval a = MustApproval(kFull);
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["contact.phone","financial.card"]}})")),
            "out-of-scope: categories");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"subjects":{"count":2,"jurisdictions":{"US":1,"DE":1}}})")),
            "out-of-scope: subject_jurisdictions");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"actor":{"country":"DE"}})")), "out-of-scope: actor_countries");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"target":{"country":"DE"}})")), "out-of-scope: target_countries");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"context":{"purpose":"marketing"}})")), "out-of-scope: purposes");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"context":{"purpose":null}})")), "out-of-scope: purposes");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"actor":{"id":"emp-ie-4"}})")), "out-of-scope: actors");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"target":{"system":"eu-crm"}})")), "out-of-scope: target_systems");
}

TEST(ApprovalMatch, OnlyPersonalCategoriesMustBeCovered) {
  const Approval a = MustApproval(kFull);
  // telemetry, business, public and credentials are not personal.
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["contact.email","business.deal",
                             "public.post","credentials.token"]}})")),
            "applied");
  // Only non-personal data: nothing to cover.
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["telemetry.cpu"]}})")), "applied");
}

TEST(ApprovalMatch, CategoryPatternsPrefixAndExact) {
  const Approval a = MustApproval(kFull);  // "contact.*", "identity.name"
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["contact"]}})")), "applied");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["contact.email.work"]}})")), "applied");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["identity.name"]}})")), "applied");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["identity.name.first"]}})")),
            "out-of-scope: categories");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"data":{"categories":["identity"]}})")),
            "out-of-scope: categories");
}

TEST(ApprovalMatch, JurisdictionsWithZeroSubjectsDoNotCount) {
  const Approval a = MustApproval(kFull);
  EXPECT_EQ(VerdictFor(a, Ev(R"({"subjects":{"count":1,"jurisdictions":{"US":1,"DE":0}}})")),
            "applied");
  EXPECT_EQ(VerdictFor(a, Ev(R"({"subjects":{"count":0,"jurisdictions":{}}})")), "applied");
}

TEST(ApprovalMatch, AbsentScopeMembersRestrictNothing) {
  const Approval a = MustApproval(With("scope", "{}"));
  EXPECT_EQ(VerdictFor(a, R"({"time":"2026-03-01T00:00:00Z","actor":{"country":"KP"},
                          "data":{"categories":["gov_id.ssn"]},
                          "subjects":{"count":1,"jurisdictions":{"AQ":1}}})"),
            "applied");
}

TEST(ApprovalMatch, EmptyScopeListAllowsNothingItIsCheckedAgainst) {
  // Read literally, "every X is in []" fails for any X: an empty list is
  // accepted as written and puts every event with such an X out of scope.
  const Approval purposes = MustApproval(With("scope.purposes", "[]"));
  EXPECT_EQ(VerdictFor(purposes, Ev("{}")), "out-of-scope: purposes");
  const Approval cats = MustApproval(With("scope.categories", "[]"));
  EXPECT_EQ(VerdictFor(cats, Ev("{}")), "out-of-scope: categories");
  // ...but it restricts nothing where there is nothing to check.
  EXPECT_EQ(VerdictFor(cats, Ev(R"({"data":{"categories":["telemetry.cpu"]}})")), "applied");
  const Approval juris = MustApproval(With("scope.subject_jurisdictions", "[]"));
  EXPECT_EQ(VerdictFor(juris, Ev(R"({"subjects":{"count":0,"jurisdictions":{}}})")), "applied");
  EXPECT_EQ(VerdictFor(juris, Ev("{}")), "out-of-scope: subject_jurisdictions");
  for (const char* field : {"actor_countries", "target_countries", "actors", "target_systems"}) {
    const Approval a = MustApproval(With(std::string("scope.") + field, "[]"));
    EXPECT_EQ(VerdictFor(a, Ev("{}")), std::string("out-of-scope: ") + field);
  }
}

TEST(ApprovalMatch, FirstFailingCheckIsTheVerdict) {
  const Approval a = MustApproval(kFull);
  // Expired and out of scope on two fields: time is checked first...
  EXPECT_EQ(
      VerdictFor(a, Ev(R"({"time":"2027-01-01T00:00:00Z","actor":{"country":"DE","id":"x"}})")),
      "expired");
  // ...then the scope members in README order.
  EXPECT_EQ(VerdictFor(a, Ev(R"({"actor":{"country":"DE","id":"x"}})")),
            "out-of-scope: actor_countries");
}

// ---------------------------------------------------------------------------
// Registry.

TEST(ApprovalRegistry, UnknownRevokedAndStates) {
  ApprovalRegistry r;
  ASSERT_OK(r.Register(MustApproval(kFull), 10));
  const schema::Event in_scope = MakeEvent(Ev("{}"));
  EXPECT_TRUE(r.Evaluate("APR-1", in_scope).applies());
  EXPECT_EQ(r.Evaluate("APR-2", in_scope).StatusText(), "unknown");

  EXPECT_EQ(r.List(T("2025-06-01T00:00:00Z"))[0].state, ApprovalState::kNotYetValid);
  EXPECT_EQ(r.List(T("2026-03-01T00:00:00Z"))[0].state, ApprovalState::kActive);
  EXPECT_EQ(r.List(T("2026-06-30T23:59:59Z"))[0].state, ApprovalState::kActive);
  EXPECT_EQ(r.List(T("2026-07-01T00:00:00Z"))[0].state, ApprovalState::kExpired);

  ASSERT_OK(r.Revoke({"APR-1", "dpo", "breach"}, 11));
  const ApprovalVerdict v = r.Evaluate("APR-1", in_scope);
  EXPECT_EQ(v.StatusText(), "revoked");
  EXPECT_THAT(v.detail, HasSubstr("breach"));
  const auto entry = r.Get("APR-1", T("2026-03-01T00:00:00Z"));
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->state, ApprovalState::kRevoked);
  EXPECT_EQ(entry->revoked_seq, 11u);
  EXPECT_FALSE(r.Get("APR-2", T("2026-03-01T00:00:00Z")));
}

TEST(ApprovalRegistry, DuplicatesAndBadRevocations) {
  ApprovalRegistry r;
  ASSERT_OK(r.Register(MustApproval(kFull), 1));
  Approval other = MustApproval(kFull);
  other.legal_basis = "DPA";
  EXPECT_EQ(r.CheckRegister(other).code(), schema::Code::kAlreadyExists);
  EXPECT_EQ(r.Register(other, 2).code(), schema::Code::kAlreadyExists);
  EXPECT_EQ(r.Get("APR-1", T("2026-03-01T00:00:00Z"))->approval.legal_basis, "SCC");  // first wins
  EXPECT_EQ(r.CheckRevoke({"APR-9", "dpo", "x"}).code(), schema::Code::kNotFound);
  ASSERT_OK(r.CheckRevoke({"APR-1", "dpo", "x"}));
  ASSERT_OK(r.Revoke({"APR-1", "dpo", "x"}, 3));
  EXPECT_EQ(r.Revoke({"APR-1", "dpo", "again"}, 4).code(), schema::Code::kFailedPrecondition);
  EXPECT_EQ(r.size(), 1u);
}

TEST(ApprovalRegistry, ListIsInRegistrationOrderWithJson) {
  ApprovalRegistry r;
  Approval b = MustApproval(kFull);
  b.approval_id = "APR-0";
  ASSERT_OK(r.Register(MustApproval(kFull), 5));
  ASSERT_OK(r.Register(b, 9));
  ASSERT_OK(r.Revoke({"APR-0", "dpo", "x"}, 12));
  const auto list = r.List(T("2026-03-01T00:00:00Z"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].approval.approval_id, "APR-1");
  EXPECT_EQ(list[1].approval.approval_id, "APR-0");
  json::object j0 = ApprovalEntryJson(list[0]);
  EXPECT_EQ(j0["state"], "active");
  EXPECT_EQ(j0["seq"], 5);
  EXPECT_FALSE(j0.contains("revocation"));
  json::object j1 = ApprovalEntryJson(list[1]);
  EXPECT_EQ(j1["state"], "revoked");
  EXPECT_EQ(j1["revocation"].at("seq"), 12);
  EXPECT_EQ(j1["revocation"].at("revoked_by"), "dpo");
  EXPECT_OK(schema::CanonicalJson(j1));
  EXPECT_EQ(ApprovalStateName(ApprovalState::kNotYetValid), "not-yet-valid");
}

}  // namespace
}  // namespace custody::daemon::policy
