#include "daemon/policy/engine.h"

#include "custody/schema/json_canon.h"
#include "daemon/policy/matcher.h"

namespace custody::daemon::policy {
namespace {

enum class Mode { kDecide, kReplay, kDryRun, kSample };

struct Lifted {
  const Rule* rule;
  std::string approval_id;
  std::string reason;
};

// Decision JSON is written directly in RFC 8785 form rather than built as a
// boost::json::object and canonicalised: it is on the appender's hot path
// whenever a rule fires, and its shape is fixed. Canonical by construction:
// every key is ASCII and written in sorted order, integers are the only
// numbers, and strings go through schema::AppendJsonString (RFC 8785
// escaping). Tests check the bytes equal schema::CanonicalJson of them.
void Key(std::string_view k, std::string* out) {
  out->push_back('"');
  out->append(k);
  out->append("\":");
}

void Str(std::string_view v, std::string* out) {
  // Event strings are validated UTF-8 (schema::ParseEvent) and policy text
  // is checked by toml++, so this holds unless an Event was built by hand.
  if (schema::IsValidUtf8(v)) {
    schema::AppendJsonString(v, out);
  } else {
    schema::AppendJsonString("(text not UTF-8)", out);
  }
}

void AppendRuleTail(const Rule& r, std::string_view reason, std::string* out) {
  Key("reason", out);
  Str(reason, out);
  out->push_back(',');
  Key("rule", out);
  Str(r.id, out);
  out->push_back(',');
  Key("severity", out);
  Str(SeverityName(r.severity), out);
  out->push_back(',');
  Key("version", out);
  out->append(std::to_string(r.version));
  out->push_back('}');
}

std::string DecisionJson(const Policy& policy, const std::vector<const Rule*>& hit_rules,
                         const std::vector<Hit>& hits, const std::vector<Lifted>& lifted) {
  std::string out;
  out.reserve(256 + 320 * (hits.size() + lifted.size()));
  out.push_back('{');
  Key("hits", &out);
  out.push_back('[');
  for (size_t i = 0; i < hits.size(); ++i) {
    const Hit& h = hits[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    if (!h.approval_id.empty()) {
      Key("approval_id", &out);
      Str(h.approval_id, &out);
      out.push_back(',');
      Key("approval_status", &out);
      Str(h.approval_status, &out);
      out.push_back(',');
    }
    AppendRuleTail(*hit_rules[i], h.reason, &out);
  }
  out.append("],");
  Key("lifted", &out);
  out.push_back('[');
  for (size_t i = 0; i < lifted.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('{');
    Key("approval_id", &out);
    Str(lifted[i].approval_id, &out);
    out.push_back(',');
    AppendRuleTail(*lifted[i].rule, lifted[i].reason, &out);
  }
  out.append("],");
  Key("policy_sha256", &out);
  Str(policy.sha256(), &out);
  if (!policy.version().empty()) {
    out.push_back(',');
    Key("policy_version", &out);
    Str(policy.version(), &out);
  }
  out.push_back('}');
  return out;
}

std::string EmptyDecisionJson(const Policy& policy) { return DecisionJson(policy, {}, {}, {}); }

int64_t SatAdd(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

// The one evaluation every entry point shares. `windows` is indexed by rule
// (null entries for rules without a window) and may be empty in kSample.
void Evaluate(const Policy& policy, std::span<const std::unique_ptr<WindowTable>> windows,
              const ApprovalRegistry* approvals, const schema::Event& e, Mode mode,
              std::span<PatternMask> scratch, std::string* key, const std::string& empty_json,
              Decision* out) {
  if (e.outcome != schema::Outcome::kAllowed) {
    if (out != nullptr) out->json = empty_json;
    return;
  }
  EventView view(policy, e, scratch);
  std::vector<Lifted> lifted;
  std::vector<const Rule*> hit_rules;      // parallel to out->hits
  std::optional<ApprovalVerdict> verdict;  // one lookup per event, only if needed
  const std::vector<Rule>& rules = policy.rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    if (!RuleMatches(r, view)) continue;
    int64_t sum = 0;
    if (r.window) {
      const int64_t amount = WindowAmount(*r.window, e);
      switch (mode) {
        case Mode::kDecide:
        case Mode::kReplay:
          WindowKey(*r.window, e, key);
          sum = windows[i]->Add(*key, e.time, amount);
          break;
        case Mode::kDryRun:
          WindowKey(*r.window, e, key);
          sum = SatAdd(windows[i]->Sum(*key, e.time), amount);
          break;
        case Mode::kSample:
          sum = amount;
          break;
      }
      if (sum <= r.window->exceeds) continue;
    }
    if (mode == Mode::kReplay) continue;

    Hit h;
    h.rule = r.id;
    h.version = r.version;
    h.severity = r.severity;
    h.reason = Explain(r, view, sum, mode == Mode::kSample);
    if (e.context.approval_id) {
      const std::string& id = *e.context.approval_id;
      h.approval_id = id;
      if (!r.liftable) {
        h.approval_status = "not-liftable";
        h.reason += "; approval " + id + " cannot lift this rule";
      } else {
        if (!verdict) {
          verdict = approvals != nullptr
                        ? approvals->Evaluate(id, e)
                        : ApprovalVerdict{ApprovalVerdict::Kind::kUnknown, "", "does not exist"};
        }
        if (verdict->applies()) {
          lifted.push_back({&r, id, h.reason + "; lifted by approval " + id});
          continue;
        }
        h.approval_status = verdict->StatusText();
        h.reason +=
            "; approval " + id +
            (verdict->kind == ApprovalVerdict::Kind::kOutOfScope ? " out of scope: " : " ") +
            verdict->detail;
      }
    }
    out->hits.push_back(std::move(h));
    hit_rules.push_back(&r);
  }
  if (out == nullptr) return;
  out->json = (out->hits.empty() && lifted.empty())
                  ? empty_json
                  : DecisionJson(policy, hit_rules, out->hits, lifted);
}

}  // namespace

struct Engine::State {
  std::shared_ptr<const Policy> policy;
  std::vector<std::unique_ptr<WindowTable>> windows;  // by rule index
  std::string empty_json;
};

Engine::Engine(std::shared_ptr<const Policy> policy, schema::Clock* clock)
    : clock_(clock), scratch_(schema::kMaxCategories) {
  state_ = std::make_unique<State>();
  state_->policy = policy;
  for (const Rule& r : policy->rules()) {
    state_->windows.push_back(r.window ? std::make_unique<WindowTable>(*r.window, clock_)
                                       : nullptr);
  }
  state_->empty_json = EmptyDecisionJson(*policy);
  current_ = std::move(policy);
}

Engine::~Engine() = default;

void Engine::SetPolicy(std::shared_ptr<const Policy> policy) {
  std::lock_guard lock(mu_);
  staged_ = std::move(policy);
  has_staged_.store(true, std::memory_order_release);
}

Status Engine::Reload(const std::filesystem::path& path, std::vector<Diagnostic>* diagnostics) {
  Result<std::shared_ptr<const Policy>> p = Policy::Load(path, diagnostics);
  if (!p.ok()) return p.status().Annotate("policy reload refused; the previous policy stays");
  SetPolicy(std::move(p).value());
  return Status::Ok();
}

std::shared_ptr<const Policy> Engine::policy() const {
  std::lock_guard lock(mu_);
  return staged_ ? staged_ : current_;
}

std::string Engine::PolicySha256() const { return state_->policy->sha256(); }
std::string Engine::PolicyEntryBody() const { return state_->policy->EntryBody(); }

void Engine::AdoptStaged() {
  if (!has_staged_.load(std::memory_order_acquire)) return;
  std::shared_ptr<const Policy> next;
  {
    std::lock_guard lock(mu_);
    next = std::move(staged_);
    staged_.reset();
    has_staged_.store(false, std::memory_order_relaxed);
  }
  if (!next) return;
  auto state = std::make_unique<State>();
  state->policy = next;
  const std::vector<Rule>& old_rules = state_->policy->rules();
  for (const Rule& r : next->rules()) {
    std::unique_ptr<WindowTable> table;
    if (r.window) {
      for (size_t j = 0; j < old_rules.size(); ++j) {
        if (old_rules[j].id == r.id && old_rules[j].fingerprint == r.fingerprint &&
            state_->windows[j]) {
          table = std::move(state_->windows[j]);
          break;
        }
      }
      if (!table) table = std::make_unique<WindowTable>(*r.window, clock_);
    }
    state->windows.push_back(std::move(table));
  }
  state->empty_json = EmptyDecisionJson(*next);
  state_ = std::move(state);
  std::lock_guard lock(mu_);
  current_ = std::move(next);
}

void Engine::BeginBatch() {
  AdoptStaged();
  in_batch_ = true;
  for (auto& w : state_->windows) {
    if (w) w->Begin();
  }
}

void Engine::CommitBatch() {
  for (auto& w : state_->windows) {
    if (w) w->Commit();
  }
  in_batch_ = false;
}

void Engine::RollbackBatch() {
  for (auto& w : state_->windows) {
    if (w) w->Rollback();
  }
  in_batch_ = false;
}

Decision Engine::Decide(const schema::Event& event) {
  if (!in_batch_) AdoptStaged();
  Decision d;
  Evaluate(*state_->policy, state_->windows, &approvals_, event, Mode::kDecide, scratch_,
           &key_scratch_, state_->empty_json, &d);
  return d;
}

void Engine::Replay(const schema::Event& event) {
  if (!in_batch_) AdoptStaged();
  Evaluate(*state_->policy, state_->windows, nullptr, event, Mode::kReplay, scratch_, &key_scratch_,
           state_->empty_json, nullptr);
}

Decision Engine::DryRun(const schema::Event& event) const {
  std::vector<PatternMask> scratch(schema::kMaxCategories);
  std::string key;
  Decision d;
  Evaluate(*state_->policy, state_->windows, &approvals_, event, Mode::kDryRun, scratch, &key,
           state_->empty_json, &d);
  return d;
}

Engine::WindowStats Engine::window_stats() const {
  WindowStats s;
  for (const auto& w : state_->windows) {
    if (!w) continue;
    s.keys += w->key_count();
    s.buckets += w->bucket_count();
  }
  return s;
}

void Engine::OnRecordCommitted(std::string_view kind, const boost::json::value& body,
                               uint64_t seq) {
  std::vector<schema::FieldError> errors;
  Status status;
  if (kind == "approval") {
    std::optional<Approval> a = ParseApproval(body, &errors);
    if (a) status = approvals_.Register(std::move(*a), seq);
  } else if (kind == "approval-revocation") {
    std::optional<Revocation> r = ParseRevocation(body, &errors);
    if (r) status = approvals_.Revoke(std::move(*r), seq);
  } else {
    return;
  }
  if (!errors.empty()) {
    status = Status::InvalidArgument(errors.front().pointer + ": " + errors.front().message);
  }
  if (status.ok()) return;
  record_errors_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  last_record_error_ = std::string(kind) + " record at seq " + std::to_string(seq) +
                       " ignored: " + status.ToString();
}

std::string Engine::last_record_error() const {
  std::lock_guard lock(mu_);
  return last_record_error_;
}

Decision EvaluateSample(const Policy& policy, const schema::Event& event,
                        const ApprovalRegistry* approvals) {
  std::vector<PatternMask> scratch(schema::kMaxCategories);
  std::string key;
  Decision d;
  Evaluate(policy, {}, approvals, event, Mode::kSample, scratch, &key, EmptyDecisionJson(policy),
           &d);
  return d;
}

}  // namespace custody::daemon::policy
