// Evaluating compiled conditions (rule.h) against one event, and explaining
// a match in one human line. Internal to the policy engine.
//
// EventView derives, once per event, what several rules look at (country
// indexes, enum indexes, and on first use the category x pattern bits), so
// each condition is a few integer operations or a binary search. Nothing here
// allocates except the explanation functions, which run only on a hit.
//
// Not thread-safe: an EventView belongs to one evaluation on one thread.
#ifndef CUSTODY_DAEMON_POLICY_MATCHER_H_
#define CUSTODY_DAEMON_POLICY_MATCHER_H_

#include <span>
#include <string>
#include <vector>

#include "custody/schema/event.h"
#include "daemon/policy/policy.h"
#include "daemon/policy/rule.h"

namespace custody::daemon::policy {

class EventView {
 public:
  // `scratch` must hold at least schema::kMaxCategories masks and outlive the
  // view; its contents are overwritten on first use.
  EventView(const Policy& policy, const schema::Event& event, std::span<PatternMask> scratch);

  const schema::Event& event() const { return event_; }
  const Policy& policy() const { return policy_; }
  int actor_country() const { return actor_cc_; }
  int target_country() const { return target_cc_; }
  int origin_country() const { return origin_cc_; }  // -1 without an origin
  int actor_type() const { return actor_type_; }     // index into schema::kActorTypes or -1
  int target_type() const { return target_type_; }   // index into schema::kTargetTypes or -1

  // Bit p of CategoryBits(i) is set when policy().patterns()[p] matches
  // event().categories[i]; Union() is the OR over every category.
  const PatternMask& CategoryBits(size_t i) {
    EnsureCategories();
    return bits_[i];
  }
  const PatternMask& CategoryUnion() {
    EnsureCategories();
    return union_;
  }
  size_t category_count() const { return ncat_; }

 private:
  void EnsureCategories();

  const Policy& policy_;
  const schema::Event& event_;
  std::span<PatternMask> bits_;
  PatternMask union_;
  size_t ncat_;
  bool categories_ready_ = false;
  int actor_cc_, target_cc_, origin_cc_, actor_type_, target_type_;
};

// True when the event satisfies `c`.
bool Matches(const Condition& c, EventView& view);
// True when the event satisfies every condition of `conditions` (true for none).
bool MatchesAll(std::span<const Condition> conditions, EventView& view);
// A rule's conditions without its window: `match` holds and no `allow`
// group does.
bool RuleMatches(const Rule& rule, EventView& view);

// The amount an event adds to a window of `spec`.
int64_t WindowAmount(const WindowSpec& spec, const schema::Event& event);
// The window key of `event` under `spec`, written into `*key` (reused
// buffer; no allocation once it has grown).
void WindowKey(const WindowSpec& spec, const schema::Event& event, std::string* key);

// The one-line reason for a hit of `rule` on the event: the rule's summary,
// then a fact per condition that held ("target.type chat_channel in
// [chat_channel]"), and for a windowed rule the window's sum (`window_sum`).
std::string Explain(const Rule& rule, EventView& view, int64_t window_sum, bool sample_window);

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_MATCHER_H_
