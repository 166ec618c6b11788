// Engine: the boundary policy engine -- the Decider the ingest pipeline
// calls for every access event -- plus dry-run evaluation.
//
// Decide(event) evaluates every rule of the policy in force, in file order:
//   1. events whose outcome is "denied" or "error" moved no data: no rule
//      sees them and they count toward no window;
//   2. a rule matches when all its `match` conditions hold and none of its
//      `allow` groups does;
//   3. a windowed rule then adds the event's amount to its rolling window
//      (per actor, or actor and target, over the events' own times) and
//      fires only when the sum over (t - duration, t] exceeds the threshold;
//   4. a firing rule is a hit -- unless the rule is liftable, the event
//      names an approval in context.approval_id, and that approval applies
//      (approvals.h), in which case the rule is listed as lifted instead.
// Every hit carries the rule, its version, its severity, a one-line reason,
// and -- when the event named an approval -- the approval and why it did not
// apply ("not-liftable", "unknown", "revoked", "expired", "not-yet-valid",
// "out-of-scope: <field>").
//
// Decision::json is canonical JSON (RFC 8785):
//   {"hits":[{"approval_id"?,"approval_status"?,"reason","rule","severity","version"}...],
//    "lifted":[{"approval_id","reason","rule","severity","version"}...],
//    "policy_sha256":"<hex>", "policy_version"?:"<[policy] version>"}
// hits and lifted in rule (file) order. Equal inputs give equal bytes.
//
// Threading. The Decider methods, Replay and DryRun run on the appender
// thread only (PolicySha256() and PolicyEntryBody() among them). SetPolicy,
// Reload, policy() and approvals() may be called from any thread. The approval registry is
// internally locked (HTTP threads may List() it while the appender decides).
//
// Policy reloads: SetPolicy() stages the new policy; it takes effect at the
// next BeginBatch() (or the next Decide()/Replay() outside a batch), so one
// batch is always decided under one policy. PolicySha256()/PolicyEntryBody()
// report the policy deciding the open batch, so the appender records the
// `policy` entry for a new one at the start of the batch that first uses it
// (never a batch earlier or later: a reload racing with a batch must not
// leave decisions naming a policy the log has not recorded yet). Rolling-window state is
// kept for every rule whose id and matching behaviour (match, allow, window)
// are unchanged; a new or changed windowed rule starts with empty windows.
//
// Restarts. The windows live in memory; after a restart, before deciding new
// events, feed Replay() the access events of the ledger in log order: every
// entry received (received_at) within the last policy()->replay_horizon() is
// enough for events that arrive in real time; replaying more (or all) is
// harmless, only slower, since what is too old is forgotten as on the live
// path. Select by received_at, not by the events' own times: those may be far
// in the past (backfills, replayed test scenarios). Register approvals and
// revocations the same way, through OnRecordCommitted() in log order.
#ifndef CUSTODY_DAEMON_POLICY_ENGINE_H_
#define CUSTODY_DAEMON_POLICY_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/clock.h"
#include "custody/schema/event.h"
#include "daemon/policy/approvals.h"
#include "daemon/policy/decider.h"
#include "daemon/policy/policy.h"
#include "daemon/policy/rule.h"
#include "daemon/policy/window.h"

namespace custody::daemon::policy {

class Engine final : public Decider {
 public:
  // `policy` must not be null. `clock` bounds window memory (see window.h);
  // it may be null (nothing is ever forgotten) and otherwise must outlive
  // the engine. Decisions never depend on the clock.
  Engine(std::shared_ptr<const Policy> policy, schema::Clock* clock);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- Decider ---------------------------------------------------------
  std::string PolicySha256() const override;
  std::string PolicyEntryBody() const override;
  // Opens a batch: adopts a staged policy, then journals window changes.
  void BeginBatch() override;
  // Decides `event` (see above). Outside a batch, window changes are final.
  Decision Decide(const schema::Event& event) override;
  // Keeps the batch's window changes.
  void CommitBatch() override;
  // Undoes every window change since BeginBatch(): the windows are exactly
  // as they were. (Approvals are not affected: they change only through
  // OnRecordCommitted, after a commit.)
  void RollbackBatch() override;
  // kind "approval": registers ParseApproval(body) recorded at `seq`;
  // kind "approval-revocation": applies ParseRevocation(body).
  // Other kinds are ignored. A body that does not parse, a duplicate id or
  // a revocation of an unknown / revoked approval changes nothing and is
  // counted in record_errors() (the HTTP layer pre-checks, so this means a
  // race or a hand-made record).
  void OnRecordCommitted(std::string_view kind, const boost::json::value& body,
                         uint64_t seq) override;

  // --- policy --------------------------------------------------------------
  // Stages `policy` (not null) to take effect at the next batch. Any thread.
  void SetPolicy(std::shared_ptr<const Policy> policy);
  // Loads the file; on success stages it (SetPolicy) and returns Ok, on
  // failure returns the error and keeps the policy in force. Diagnostics
  // (warnings too) are appended to `*diagnostics` (may be null). Any thread.
  Status Reload(const std::filesystem::path& path, std::vector<Diagnostic>* diagnostics);
  // The staged policy if any, else the one in force. Any thread (for the
  // policy deciding the open batch, use PolicySha256() on the appender).
  std::shared_ptr<const Policy> policy() const;

  ApprovalRegistry& approvals() { return approvals_; }
  const ApprovalRegistry& approvals() const { return approvals_; }
  uint64_t record_errors() const { return record_errors_.load(std::memory_order_relaxed); }
  std::string last_record_error() const;

  // --- restart and dry runs ------------------------------------------------
  // Feeds one past access event to the rolling windows (no decision, no
  // approvals). Appender thread, before new events are decided.
  void Replay(const schema::Event& event);
  // The decision Decide() would return now, changing nothing (the window
  // sums include the event). Appender thread only (reads the windows).
  Decision DryRun(const schema::Event& event) const;

  struct WindowStats {
    size_t keys = 0;
    size_t buckets = 0;
  };
  WindowStats window_stats() const;  // appender thread

 private:
  struct State;
  void AdoptStaged();

  schema::Clock* clock_;
  ApprovalRegistry approvals_;
  std::unique_ptr<State> state_;  // appender thread only
  bool in_batch_ = false;
  std::vector<PatternMask> scratch_;
  std::string key_scratch_;

  mutable std::mutex mu_;                  // guards current_, staged_, last_record_error_
  std::shared_ptr<const Policy> current_;  // == state_->policy
  std::shared_ptr<const Policy> staged_;
  std::atomic<bool> has_staged_{false};
  std::atomic<uint64_t> record_errors_{0};
  std::string last_record_error_;
};

// Evaluates `event` against `policy` alone, changing nothing: windows hold
// only this event (a windowed rule fires when the event by itself exceeds the
// threshold, and its reason says so), and approvals come from `approvals`
// (may be null: every named approval is then "unknown"). Thread-safe. For
// `custodyd --check-policy FILE` and POST /v1/policy/evaluate.
Decision EvaluateSample(const Policy& policy, const schema::Event& event,
                        const ApprovalRegistry* approvals);

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_ENGINE_H_
