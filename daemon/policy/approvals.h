// Approvals: scoped, time-bounded permissions that lift liftable rules, and
// the registry that holds them.
//
// An approval is registered by POST /v1/approvals (admin), which appends a
// ledger record of kind "approval" whose body is ApprovalBody(approval); a
// revocation is a record of kind "approval-revocation" with body
// RevocationBody(revocation). The registry is rebuilt from those records
// (Engine::OnRecordCommitted), so the ledger is its only store.
//
// Approval JSON (exactly the shape of shared/scenarios/approvals.json):
//   {
//     "approval_id":  id                        (1..256 bytes, no control characters)
//     "granted_by":   id
//     "legal_basis":  text                      (1..1024 bytes, no control characters)
//     "scope": {                                (required; every member optional)
//       "categories":            [category pattern, ...]  ("contact.*", "contact.email", "*")
//       "subject_jurisdictions": [CC, ...]
//       "actor_countries":       [CC, ...]
//       "target_countries":      [CC, ...]
//       "purposes":              [id, ...]
//       "actors":                [id, ...]      (actor ids)
//       "target_systems":        [id, ...]
//     }
//     "valid_from":   RFC 3339 date-time
//     "valid_until":  RFC 3339 date-time        (>= valid_from; both inclusive)
//   }
// Each scope list holds 1..1000 values (an empty list would match nothing:
// omit the member to restrict nothing). Unknown members are errors; an
// optional member given as null is absent. Country codes are upper-cased.
//
// Revocation JSON: {"approval_id": id, "revoked_by": id, "reason": text}.
//
// Matching (shared/scenarios/README.md, normative) -- an approval named by
// an event's context.approval_id lifts a liftable rule's hit when:
//   - it exists and has not been revoked (a revocation applies to every event
//     decided after it is committed, whatever the event's own time);
//   - valid_from <= event time <= valid_until;
//   - for each scope member present: every personal category of the event
//     matches one of `categories` (schema::CategoryMatches); every subject
//     jurisdiction with a count above 0 is in `subject_jurisdictions`; the
//     actor's country is in `actor_countries`; the target's country is in
//     `target_countries`; context.purpose is present and in `purposes`; the
//     actor id is in `actors`; the target system is in `target_systems`.
// Checks run in that order and the first failure is the verdict.
#ifndef CUSTODY_DAEMON_POLICY_APPROVALS_H_
#define CUSTODY_DAEMON_POLICY_APPROVALS_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/clock.h"
#include "custody/schema/event.h"
#include "custody/schema/result.h"

namespace custody::daemon::policy {

using schema::Result;
using schema::Status;

inline constexpr size_t kMaxScopeValues = 1000;
inline constexpr size_t kMaxLegalBasisBytes = 1024;
inline constexpr size_t kMaxReasonBytes = 1024;

struct ApprovalScope {
  // nullopt: the member is absent and restricts nothing. Otherwise sorted,
  // unique, non-empty.
  std::optional<std::vector<std::string>> categories;
  std::optional<std::vector<std::string>> subject_jurisdictions;
  std::optional<std::vector<std::string>> actor_countries;
  std::optional<std::vector<std::string>> target_countries;
  std::optional<std::vector<std::string>> purposes;
  std::optional<std::vector<std::string>> actors;
  std::optional<std::vector<std::string>> target_systems;
  bool operator==(const ApprovalScope&) const = default;
};

struct Approval {
  std::string approval_id;
  std::string granted_by;
  std::string legal_basis;
  ApprovalScope scope;
  schema::TimePoint valid_from{};
  schema::TimePoint valid_until{};
  bool operator==(const Approval&) const = default;
};

struct Revocation {
  std::string approval_id;
  std::string revoked_by;
  std::string reason;
  bool operator==(const Revocation&) const = default;
};

// Validates approval JSON (see above). Returns the Approval, or appends every
// problem to `*errors` (RFC 6901 pointers relative to `json`, e.g.
// "/scope/categories/1") and returns nullopt. `errors` must not be null.
std::optional<Approval> ParseApproval(const boost::json::value& json,
                                      std::vector<schema::FieldError>* errors);
std::optional<Revocation> ParseRevocation(const boost::json::value& json,
                                          std::vector<schema::FieldError>* errors);

// The normalised ledger bodies (times as RFC 3339 UTC, countries upper case,
// scope lists sorted and unique; absent scope members omitted). Parsing a
// body gives back an equal value.
boost::json::object ApprovalBody(const Approval& a);
boost::json::object RevocationBody(const Revocation& r);

// Why an approval did or did not apply to an event.
struct ApprovalVerdict {
  enum class Kind { kApplies, kUnknown, kRevoked, kExpired, kNotYetValid, kOutOfScope };
  Kind kind = Kind::kUnknown;
  std::string field;   // kOutOfScope: the scope member ("categories", "purposes", ...)
  std::string detail;  // one human clause: "expired at <time>", "financial.card is not
                       // covered by its categories", "does not exist", ...

  bool applies() const { return kind == Kind::kApplies; }
  // "applied", "unknown", "revoked", "expired", "not-yet-valid",
  // "out-of-scope: <field>" -- the Hit::approval_status spelling.
  std::string StatusText() const;
};

// Time and scope checks of `a` for `e` (not existence, not revocation).
ApprovalVerdict CheckApproval(const Approval& a, const schema::Event& e);

enum class ApprovalState { kActive, kNotYetValid, kExpired, kRevoked };
std::string_view ApprovalStateName(ApprovalState s);  // "active", "not-yet-valid", ...

// The approvals in force. Thread-safe: every method locks an internal mutex
// (the appender registers and evaluates; HTTP threads list and pre-check).
class ApprovalRegistry {
 public:
  struct Entry {
    Approval approval;
    uint64_t seq = 0;  // ledger seq of the approval record
    std::optional<Revocation> revocation;
    uint64_t revoked_seq = 0;                      // ledger seq of the revocation record
    ApprovalState state = ApprovalState::kActive;  // at the time List/Get was given
  };

  // Adds `a` recorded at `seq`. AlreadyExists when its id is taken (the first
  // registration stays in force; approvals are immutable -- revoke and
  // register a new id instead).
  Status Register(Approval a, uint64_t seq);
  // Marks the approval revoked. NotFound for an unknown id,
  // FailedPrecondition when it is already revoked.
  Status Revoke(Revocation r, uint64_t seq);

  // Pre-checks for the HTTP layer (so a request that would be refused after
  // being recorded is refused before): the same errors as Register / Revoke.
  Status CheckRegister(const Approval& a) const;
  Status CheckRevoke(const Revocation& r) const;

  // The verdict on `approval_id` for event `e`.
  ApprovalVerdict Evaluate(std::string_view approval_id, const schema::Event& e) const;

  // Every approval, in registration (seq) order, with its state at `now`.
  std::vector<Entry> List(schema::TimePoint now) const;
  std::optional<Entry> Get(std::string_view approval_id, schema::TimePoint now) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> by_id_;
};

// The JSON of one listed approval for GET /v1/approvals: ApprovalBody plus
// "state", "seq", and when revoked "revocation": {"revoked_by","reason","seq"}.
boost::json::object ApprovalEntryJson(const ApprovalRegistry::Entry& e);

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_APPROVALS_H_
