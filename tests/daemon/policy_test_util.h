// Helpers shared by the policy engine tests (tests/daemon/policy_*.cc,
// approvals_test.cc): events from JSON, policies from TOML, rule ids from
// decisions, and a settable clock.
#ifndef CUSTODY_TESTS_DAEMON_POLICY_TEST_UTIL_H_
#define CUSTODY_TESTS_DAEMON_POLICY_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/clock.h"
#include "custody/schema/event.h"
#include "custody/schema/json_canon.h"
#include "daemon/policy/decider.h"
#include "daemon/policy/policy.h"

namespace custody::daemon::policy {

// gtest prints diagnostics as the compiler-style line.
inline void PrintTo(const Diagnostic& d, std::ostream* os) { *os << d.ToString(); }

}  // namespace custody::daemon::policy

namespace custody::daemon::policy::test {

// A valid read of one US subject's e-mail address by a US human in a US
// database at 2026-05-04T09:00:00Z. Tests override what they exercise.
inline constexpr std::string_view kBaseEvent = R"({
  "event_id": "e-1", "time": "2026-05-04T09:00:00Z", "activity": "read",
  "actor": {"type": "human", "id": "emp-1", "country": "US"},
  "target": {"system": "crm", "type": "database", "country": "US"},
  "data": {"categories": ["contact.email"], "record_count": 1},
  "subjects": {"count": 1, "jurisdictions": {"US": 1}}
})";

inline boost::json::value JsonOrDie(std::string_view text) {
  schema::Result<boost::json::value> v = schema::ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString() << "\n" << text;
  return v.ok() ? *v : boost::json::value();
}

// kBaseEvent with `overrides` (a JSON object) merged in: a top-level member
// that is an object in both is merged one level deep, anything else
// replaces; a null member removes the base member.
inline schema::Event MakeEvent(std::string_view overrides = "{}") {
  boost::json::object base = JsonOrDie(kBaseEvent).as_object();
  const boost::json::value over = JsonOrDie(overrides);
  for (const auto& kv : over.as_object()) {
    if (kv.value().is_null()) {
      base.erase(kv.key());
    } else if (kv.value().is_object() && base.contains(kv.key()) && base[kv.key()].is_object()) {
      for (const auto& inner : kv.value().as_object()) {
        if (inner.value().is_null()) {
          base[kv.key()].as_object().erase(inner.key());
        } else {
          base[kv.key()].as_object()[inner.key()] = inner.value();
        }
      }
    } else {
      base[kv.key()] = kv.value();
    }
  }
  std::vector<schema::FieldError> errors;
  std::optional<schema::Event> e = schema::ParseEvent(base, &errors);
  std::string why;
  for (const auto& err : errors) why += err.pointer + ": " + err.message + "\n";
  EXPECT_TRUE(e.has_value()) << why << boost::json::serialize(base);
  return e.value_or(schema::Event{});
}

inline std::shared_ptr<const Policy> MustParse(std::string_view toml,
                                               std::vector<Diagnostic>* diags = nullptr) {
  std::vector<Diagnostic> local;
  schema::Result<std::shared_ptr<const Policy>> p =
      Policy::Parse(toml, "test.toml", diags != nullptr ? diags : &local);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : nullptr;
}

inline std::vector<std::string> RuleIds(const Decision& d) {
  std::vector<std::string> ids;
  for (const Hit& h : d.hits) ids.push_back(h.rule);
  return ids;
}

inline boost::json::object DecisionObject(const Decision& d) {
  return JsonOrDie(d.json).as_object();
}

class FakeClock : public schema::Clock {
 public:
  explicit FakeClock(schema::TimePoint t) : now_(t) {}
  schema::TimePoint Now() const override { return now_; }
  void Set(schema::TimePoint t) { now_ = t; }
  void Advance(std::chrono::microseconds d) { now_ += d; }

 private:
  schema::TimePoint now_;
};

inline schema::TimePoint T(std::string_view rfc3339) {
  schema::Result<schema::TimePoint> t = schema::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? *t : schema::TimePoint{};
}

}  // namespace custody::daemon::policy::test

#endif  // CUSTODY_TESTS_DAEMON_POLICY_TEST_UTIL_H_
