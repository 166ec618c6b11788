// TOML -> Policy. The grammar is documented in docs/policy.md; this file is
// its only implementation. toml++ does the syntax; everything here is the
// meaning: which keys exist, what types they take, what each value may be,
// and the compilation into the flat structures of rule.h.
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <span>
#include <tuple>

#include "custody/schema/event.h"
#include "custody/schema/json_canon.h"
#include "daemon/policy/policy.h"

namespace custody::daemon::policy {
namespace {

constexpr size_t kMaxPolicyBytes = 4u << 20;
constexpr size_t kMaxRuleIdBytes = 128;

struct Where {
  uint32_t line = 0, column = 0;
};
Where At(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }
Where At(const toml::node& n) { return At(n.source()); }

std::string_view TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Join(std::span<const std::string_view> options) {
  std::string out;
  for (std::string_view o : options) {
    if (!out.empty()) out += ", ";
    out += o;
  }
  return out;
}

// "did you mean 'severity'?" when one option is close, else the whole list.
std::string Suggest(std::string_view got, std::span<const std::string_view> options) {
  std::string_view best;
  size_t best_d = SIZE_MAX;
  for (std::string_view o : options) {
    const size_t d = EditDistance(got, o);
    if (d < best_d) best_d = d, best = o;
  }
  if (best_d <= std::max<size_t>(1, got.size() / 3)) return "did you mean " + Quote(best) + "?";
  // A shared stem ("records" / "record_count") is as telling as a typo.
  for (std::string_view o : options) {
    size_t common = 0;
    while (common < got.size() && common < o.size() && got[common] == o[common]) ++common;
    if (common >= 4) return "did you mean " + Quote(o) + "?";
  }
  return "expected one of: " + Join(options);
}

const std::vector<std::string_view>& ActivityNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (schema::Activity a : schema::kAllActivities) v.push_back(schema::ActivityName(a));
    return v;
  }();
  return names;
}

// One value of a set as written, with where it was written (inside [lists]
// when it came from a list).
struct Item {
  std::string value;
  Where where;
};

// The values of a set-valued key after list expansion.
struct Values {
  std::vector<Item> items;
  std::string display;  // "@name" or "[a, b]"
  Where where;
};

enum class Kind { kEnum, kCountry, kString, kRange };

struct FieldInfo {
  Field field;
  Kind kind;
  bool optional;  // the event may lack the value (then `present` is allowed)
  std::span<const std::string_view> names;  // kEnum
};

struct ListDef {
  const toml::node* node = nullptr;
  Where where;
  enum class State { kNew, kResolving, kDone } state = State::kNew;
  bool ok = true;
  bool used = false;
  std::vector<Item> items;
};

constexpr std::string_view kTopKeys[] = {"policy", "lists", "rule"};
constexpr std::string_view kPolicyKeys[] = {"name", "version", "description"};
constexpr std::string_view kRuleKeys[] = {"id",
                                          "version",
                                          "severity",
                                          "description",
                                          "summary",
                                          "liftable_by_approval",
                                          "unless_approved",
                                          "match",
                                          "allow",
                                          "window"};
constexpr std::string_view kMatchKeys[] = {"activity", "categories", "record_count",
                                           "subjects", "actor",      "target",
                                           "origin",   "purpose",    "countries"};
constexpr std::string_view kSubjectsKeys[] = {"jurisdictions", "count"};
constexpr std::string_view kActorKeys[] = {"id", "type", "country", "entity"};
constexpr std::string_view kTargetKeys[] = {"system", "type", "id", "country", "audience_size"};
constexpr std::string_view kOriginKeys[] = {"system", "country"};
constexpr std::string_view kSetKeys[] = {"in", "not_in"};
constexpr std::string_view kOptionalSetKeys[] = {"in", "not_in", "present"};
constexpr std::string_view kRangeKeys[] = {"min", "max"};
constexpr std::string_view kCategoryKeys[] = {"any", "all", "none"};
constexpr std::string_view kJurisdictionKeys[] = {"in", "not_in", "min"};
constexpr std::string_view kCountriesKeys[] = {"any_of", "all_of", "in", "not_in"};
constexpr std::string_view kParties[] = {"actor", "target", "origin"};
constexpr std::string_view kWindowKeys[] = {"duration", "exceeds",    "sum",
                                            "per",      "resolution", "late_tolerance"};
constexpr std::string_view kMeasures[] = {"record_count", "subject_count", "events"};
constexpr std::string_view kWindowPer[] = {"actor", "target"};
constexpr std::string_view kSeverities[] = {"info", "low", "medium", "high", "critical"};

bool IsRuleId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRuleIdBytes) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(id[0])) return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return lower_or_digit(c) || c == '-' || c == '_' || c == '.'; });
}

// Cheap tests first: a rule usually fails on an enum or a country, and the
// category x pattern comparison is then never made.
int Cost(const Condition& c) {
  switch (c.field) {
    case Field::kActivity:
    case Field::kActorType:
    case Field::kTargetType:
    case Field::kActorCountry:
    case Field::kTargetCountry:
    case Field::kOriginCountry:
    case Field::kRecordCount:
    case Field::kSubjectCount:
    case Field::kTargetAudience:
      return 0;
    case Field::kCountries:
      return 1;
    case Field::kActorId:
    case Field::kActorEntity:
    case Field::kTargetSystem:
    case Field::kTargetId:
    case Field::kOriginSystem:
    case Field::kPurpose:
      return 2;
    case Field::kJurisdictions:
      return 3;
    case Field::kCategories:
      return 4;
  }
  return 5;
}

void SortByCost(std::vector<Condition>* conditions) {
  std::stable_sort(conditions->begin(), conditions->end(),
                   [](const Condition& a, const Condition& b) { return Cost(a) < Cost(b); });
}

bool IsListName(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

class PolicyCompiler {
 public:
  PolicyCompiler(std::string_view text, std::string source) : text_(text), source_(source) {
    policy_.reset(new Policy());
    policy_->text_ = std::string(text);
    policy_->source_ = std::move(source);
  }

  Result<std::shared_ptr<const Policy>> Run(std::vector<Diagnostic>* out);

 private:
  // --- diagnostics --------------------------------------------------------
  void Report(Diagnostic::Level level, Where w, std::string msg, std::string hint) {
    diags_.push_back({level, source_, w.line, w.column, std::move(msg), std::move(hint)});
  }
  void Error(Where w, std::string msg, std::string hint = {}) {
    Report(Diagnostic::Level::kError, w, std::move(msg), std::move(hint));
  }
  void Warn(Where w, std::string msg, std::string hint = {}) {
    Report(Diagnostic::Level::kWarning, w, std::move(msg), std::move(hint));
  }
  void WrongType(const toml::node& n, std::string_view what, std::string_view expected,
                 std::string hint = {}) {
    Error(At(n),
          std::string(what) + " is " + std::string(TypeName(n)) + "; expected " +
              std::string(expected),
          std::move(hint));
  }

  // Reports every key of `t` that is not in `allowed` (or `reported`, a key
  // the caller reports with its own message). `what` names the table.
  void CheckKeys(const toml::table& t, std::span<const std::string_view> allowed,
                 std::string_view what, std::string_view reported = {}) {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      if (!reported.empty() && k.str() == reported) continue;
      Error(At(k.source()), "unknown key " + Quote(k.str()) + " in " + std::string(what),
            Suggest(k.str(), allowed));
    }
  }

  // --- typed getters (report type errors; nullptr / nullopt when absent or wrong)
  const std::string* GetString(const toml::table& t, std::string_view key, std::string_view ctx) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_string()) {
      WrongType(*n, std::string(ctx) + " " + std::string(key), "a string");
      return nullptr;
    }
    return &n->as_string()->get();
  }
  std::optional<int64_t> GetInt(const toml::table& t, std::string_view key, std::string_view ctx) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) {
      WrongType(*n, std::string(ctx) + " " + std::string(key), "an integer");
      return std::nullopt;
    }
    return n->as_integer()->get();
  }
  std::optional<bool> GetBool(const toml::table& t, std::string_view key, std::string_view ctx) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      WrongType(*n, std::string(ctx) + " " + std::string(key), "true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // --- lists --------------------------------------------------------------
  void CollectLists(const toml::node& node);
  bool ResolveList(const std::string& name, Where ref, std::vector<Item>* out);
  // Reads a set value: "value", "@list", or an array of strings where
  // "@list" elements are spliced in. False (after reporting) on errors.
  bool GetValues(const toml::node& n, std::string_view ctx, Values* out);

  // --- rules --------------------------------------------------------------
  void CompileRule(const toml::table& t);
  void CompileMatch(const toml::table& t, const std::string& ctx, std::vector<Condition>* out);
  void CompileSet(const FieldInfo& info, const toml::node& n, const std::string& ctx,
                  std::vector<Condition>* out);
  void CompileSetValues(const FieldInfo& info, Op op, const Values& values, const std::string& ctx,
                        std::vector<Condition>* out);
  void CompileRange(Field field, const toml::node& n, const std::string& ctx,
                    std::vector<Condition>* out);
  void CompileCategories(const toml::node& n, const std::string& ctx, std::vector<Condition>* out);
  void CompileJurisdictions(const toml::node& n, const std::string& ctx,
                            std::vector<Condition>* out);
  void CompileCountries(const toml::node& n, const std::string& ctx, std::vector<Condition>* out);
  void CompileOneCountries(const toml::table& t, const std::string& ctx,
                           std::vector<Condition>* out);
  void CompileSubTable(const toml::node& n, std::string_view name,
                       std::span<const std::string_view> keys, const std::string& ctx,
                       std::vector<Condition>* out);
  std::optional<WindowSpec> CompileWindow(const toml::node& n, const std::string& ctx);
  std::optional<std::chrono::microseconds> GetDuration(const toml::table& t, std::string_view key,
                                                       std::string_view ctx);
  size_t InternPattern(std::string_view text);
  static std::string Fingerprint(const Rule& r, const std::vector<CategoryPattern>& patterns);

  std::string_view text_;
  std::string source_;
  std::shared_ptr<Policy> policy_;
  std::vector<Diagnostic> diags_;
  std::map<std::string, ListDef, std::less<>> lists_;
  std::vector<std::string> resolving_;  // list names being resolved (cycle detection)
  std::map<std::string, Where, std::less<>> rule_ids_;
};

// ---------------------------------------------------------------------------

void PolicyCompiler::CollectLists(const toml::node& node) {
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    WrongType(node, "[lists]", "a table of name = [values]",
              "write [lists] then lines like countries_of_concern = [\"CN\", \"RU\"]");
    return;
  }
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    if (!IsListName(name)) {
      Error(At(k.source()),
            "list name " + Quote(name) +
                " has characters other than letters, "
                "digits, '_' and '-'",
            "rename it, e.g. countries_of_concern");
      continue;
    }
    if (!v.is_array()) {
      WrongType(v, "list " + Quote(name), "an array of strings",
                "write " + name + " = [\"a\", \"b\"]");
      continue;
    }
    ListDef def;
    def.node = &v;
    def.where = At(k.source());
    lists_.emplace(name, def);
  }
}

bool PolicyCompiler::ResolveList(const std::string& name, Where ref, std::vector<Item>* out) {
  auto it = lists_.find(name);
  if (it == lists_.end()) {
    std::vector<std::string_view> names;
    for (const auto& [n, d] : lists_) names.push_back(n);
    Error(ref, "unknown list " + Quote("@" + name),
          names.empty() ? "define it under [lists]: " + name + " = [...]"
                        : "define it under [lists], or " + Suggest(name, names));
    return false;
  }
  ListDef& def = it->second;
  def.used = true;
  if (def.state == ListDef::State::kResolving) {
    std::string chain;
    auto start = std::find(resolving_.begin(), resolving_.end(), name);
    for (auto s = start; s != resolving_.end(); ++s) chain += "@" + *s + " -> ";
    chain += "@" + name;
    Error(ref, "list " + Quote(name) + " refers to itself (" + chain + ")",
          "remove the reference that closes the cycle");
    def.ok = false;
    return false;
  }
  if (def.state == ListDef::State::kNew) {
    def.state = ListDef::State::kResolving;
    resolving_.push_back(name);
    std::vector<Item> items;
    bool ok = true;
    for (const toml::node& el : *def.node->as_array()) {
      if (!el.is_string()) {
        WrongType(el, "an element of list " + Quote(name), "a string");
        ok = false;
        continue;
      }
      const std::string& s = el.as_string()->get();
      if (s.starts_with("@")) {
        ok = ResolveList(s.substr(1), At(el), &items) && ok;
      } else {
        items.push_back({s, At(el)});
      }
    }
    resolving_.pop_back();
    // Re-find: recursion may not invalidate map iterators, but be explicit.
    ListDef& d = lists_.find(name)->second;
    d.items = std::move(items);
    d.ok = d.ok && ok;
    d.state = ListDef::State::kDone;
  }
  const ListDef& d = lists_.find(name)->second;
  out->insert(out->end(), d.items.begin(), d.items.end());
  return d.ok;
}

bool PolicyCompiler::GetValues(const toml::node& n, std::string_view ctx, Values* out) {
  out->where = At(n);
  constexpr size_t kDisplayItems = 6;
  if (n.is_string()) {
    const std::string& s = n.as_string()->get();
    if (s.starts_with("@")) {
      out->display = s;
      return ResolveList(s.substr(1), At(n), &out->items);
    }
    out->items.push_back({s, At(n)});
    out->display = "[" + s + "]";
    return true;
  }
  if (!n.is_array()) {
    WrongType(n, std::string(ctx), "a list of strings, a string, or \"@list_name\"");
    return false;
  }
  bool ok = true;
  size_t shown = 0;
  out->display = "[";
  for (const toml::node& el : *n.as_array()) {
    if (!el.is_string()) {
      WrongType(el, "an element of " + std::string(ctx), "a string");
      ok = false;
      continue;
    }
    const std::string& s = el.as_string()->get();
    if (shown < kDisplayItems) {
      if (shown > 0) out->display += ", ";
      out->display += s;
    } else if (shown == kDisplayItems) {
      out->display += ", ...";
    }
    ++shown;
    if (s.starts_with("@")) {
      ok = ResolveList(s.substr(1), At(el), &out->items) && ok;
    } else {
      out->items.push_back({s, At(el)});
    }
  }
  out->display += "]";
  return ok;
}

// ---------------------------------------------------------------------------

size_t PolicyCompiler::InternPattern(std::string_view text) {
  std::vector<CategoryPattern>& pats = policy_->patterns_;
  for (size_t i = 0; i < pats.size(); ++i) {
    if (pats[i].text == text) return i;
  }
  CategoryPattern p;
  p.text = std::string(text);
  if (text == "*") {
    p.kind = CategoryPattern::Kind::kEverything;
  } else if (text.ends_with(".*")) {
    p.kind = CategoryPattern::Kind::kSubtree;
    p.stem = std::string(text.substr(0, text.size() - 2));
  } else {
    p.kind = CategoryPattern::Kind::kExact;
    p.stem = std::string(text);
  }
  pats.push_back(std::move(p));
  return pats.size() - 1;
}

void PolicyCompiler::CompileSetValues(const FieldInfo& info, Op op, const Values& values,
                                      const std::string& ctx, std::vector<Condition>* out) {
  Condition c;
  c.field = info.field;
  c.op = op;
  c.display = values.display;
  const std::string field(FieldName(info.field));
  bool any_valid = false;
  std::set<std::string> strings;
  for (const Item& item : values.items) {
    switch (info.kind) {
      case Kind::kEnum: {
        auto it = std::find(info.names.begin(), info.names.end(), item.value);
        if (it == info.names.end()) {
          Warn(
              item.where,
              Quote(item.value) + " is not a valid " + field + " (" + ctx + "); it can never match",
              Suggest(item.value, info.names));
          break;
        }
        c.mask |= 1u << (it - info.names.begin());
        any_valid = true;
        break;
      }
      case Kind::kCountry: {
        const int idx = CountryIndex(item.value);
        if (idx < 0) {
          Warn(item.where,
               Quote(item.value) + " is not a two-letter country code (" + ctx + ", " + field +
                   "); it can never match",
               "use ISO 3166-1 alpha-2 codes such as \"US\", \"DE\"");
          break;
        }
        c.countries.Add(idx);
        any_valid = true;
        break;
      }
      case Kind::kString:
        if (item.value.empty()) {
          Warn(item.where, "empty string in " + field + " (" + ctx + "); it can never match",
               "remove it");
          break;
        }
        strings.insert(item.value);
        any_valid = true;
        break;
      case Kind::kRange:
        break;
    }
  }
  c.strings.assign(strings.begin(), strings.end());
  if (!any_valid && op == Op::kIn) {
    Warn(values.where,
         ctx + " can never match: " + field + " must be in " +
             (values.items.empty() ? "an empty list" : "a list with no valid value"),
         "add values or remove the condition");
  }
  out->push_back(std::move(c));
}

void PolicyCompiler::CompileSet(const FieldInfo& info, const toml::node& n, const std::string& ctx,
                                std::vector<Condition>* out) {
  const std::string field(FieldName(info.field));
  if (!n.is_table()) {
    Values values;
    if (GetValues(n, field, &values)) CompileSetValues(info, Op::kIn, values, ctx, out);
    return;
  }
  const toml::table& t = *n.as_table();
  std::span<const std::string_view> keys = info.optional
                                               ? std::span<const std::string_view>(kOptionalSetKeys)
                                               : std::span<const std::string_view>(kSetKeys);
  CheckKeys(t, keys, field + " (" + ctx + ")");
  if (t.empty()) {
    Error(At(n), field + " (" + ctx + ") is an empty table",
          "write " + field + " = [\"...\"] or { in = [...] } / { not_in = [...] }");
    return;
  }
  if (const toml::node* in = t.get("in")) {
    Values values;
    if (GetValues(*in, field + ".in", &values)) CompileSetValues(info, Op::kIn, values, ctx, out);
  }
  if (const toml::node* not_in = t.get("not_in")) {
    Values values;
    if (GetValues(*not_in, field + ".not_in", &values)) {
      CompileSetValues(info, Op::kNotIn, values, ctx, out);
    }
  }
  if (info.optional) {
    if (std::optional<bool> present = GetBool(t, "present", field)) {
      Condition c;
      c.field = info.field;
      c.op = Op::kPresent;
      c.flag = *present;
      out->push_back(std::move(c));
    }
  }
}

void PolicyCompiler::CompileRange(Field field, const toml::node& n, const std::string& ctx,
                                  std::vector<Condition>* out) {
  const std::string name(FieldName(field));
  if (!n.is_table()) {
    WrongType(n, name + " (" + ctx + ")", "a table { min = N, max = N }",
              "write " + name + " = { min = 1000 }");
    return;
  }
  const toml::table& t = *n.as_table();
  CheckKeys(t, kRangeKeys, name + " (" + ctx + ")");
  Condition c;
  c.field = field;
  c.op = Op::kRange;
  const std::optional<int64_t> min = GetInt(t, "min", name);
  const std::optional<int64_t> max = GetInt(t, "max", name);
  if (!t.get("min") && !t.get("max")) {
    Error(At(n), name + " (" + ctx + ") has neither min nor max",
          "write " + name + " = { min = N } and/or max = N");
    return;
  }
  bool ok = true;
  for (const auto& [key, v] : {std::pair{"min", min}, std::pair{"max", max}}) {
    if (v && *v < 0) {
      Error(At(*t.get(key)), name + " " + key + " is negative (" + std::to_string(*v) + ")",
            "counts are >= 0");
      ok = false;
    }
  }
  if (!ok) return;
  if (min) c.min = *min;
  if (max) c.max = *max;
  c.display = "[" + (min ? std::to_string(*min) : std::string("0")) + ", " +
              (max ? std::to_string(*max) : std::string("inf")) + "]";
  if (c.min > c.max) {
    Warn(At(n),
         ctx + " can never match: " + name + " min " + std::to_string(c.min) +
             " is greater than max " + std::to_string(c.max),
         "swap them or fix one");
  }
  out->push_back(std::move(c));
}

void PolicyCompiler::CompileCategories(const toml::node& n, const std::string& ctx,
                                       std::vector<Condition>* out) {
  auto compile = [&](Op op, const toml::node& value, std::string_view what) {
    Values values;
    if (!GetValues(value, what, &values)) return;
    Condition c;
    c.field = Field::kCategories;
    c.op = op;
    c.display = values.display;
    for (const Item& item : values.items) {
      if (!schema::IsValidCategoryPattern(item.value)) {
        std::string hint =
            "a pattern is \"*\", a category such as \"contact.email\", or a "
            "category followed by \".*\"; categories start with ";
        hint += Join(schema::kCategoryPrefixes);
        std::string first = item.value.substr(0, item.value.find('.'));
        if (!first.empty() && first != "*") {
          hint = Suggest(first, schema::kCategoryPrefixes) + " " + hint;
        }
        Warn(item.where,
             Quote(item.value) + " is not a category pattern custody knows (" + ctx +
                 "); it can never match",
             hint);
        continue;
      }
      const size_t idx = InternPattern(item.value);
      if (idx >= kMaxCategoryPatterns) {
        Error(item.where,
              "more than " + std::to_string(kMaxCategoryPatterns) +
                  " distinct category patterns in the policy",
              "use broader patterns such as \"contact.*\"");
        return;
      }
      c.patterns.set(idx);
    }
    if (c.patterns.none() && op != Op::kNone) {
      Warn(values.where,
           ctx + " can never match: categories." + std::string(what) + " has no valid pattern",
           "add patterns or remove the condition");
    }
    out->push_back(std::move(c));
  };
  if (!n.is_table()) {
    compile(Op::kAny, n, "categories");
    return;
  }
  const toml::table& t = *n.as_table();
  CheckKeys(t, kCategoryKeys, "categories (" + ctx + ")");
  if (t.empty()) {
    Error(At(n), "categories (" + ctx + ") is an empty table",
          "write categories = { any = [...] } (or all / none)");
  }
  if (const toml::node* v = t.get("any")) compile(Op::kAny, *v, "any");
  if (const toml::node* v = t.get("all")) compile(Op::kAll, *v, "all");
  if (const toml::node* v = t.get("none")) compile(Op::kNone, *v, "none");
}

void PolicyCompiler::CompileJurisdictions(const toml::node& n, const std::string& ctx,
                                          std::vector<Condition>* out) {
  static constexpr FieldInfo kInfo{Field::kJurisdictions, Kind::kCountry, false, {}};
  if (!n.is_table()) {
    Values values;
    if (!GetValues(n, "subjects.jurisdictions", &values)) return;
    CompileSetValues(kInfo, Op::kIn, values, ctx, out);
    out->back().min = 1;
    return;
  }
  const toml::table& t = *n.as_table();
  CheckKeys(t, kJurisdictionKeys, "subjects.jurisdictions (" + ctx + ")");
  int64_t min = 1;
  if (std::optional<int64_t> m = GetInt(t, "min", "subjects.jurisdictions")) {
    if (*m < 1) {
      Error(At(*t.get("min")),
            "subjects.jurisdictions min is " + std::to_string(*m) + "; it must be at least 1",
            "min is the number of subjects needed; remove it for \"at least one\"");
    } else {
      min = *m;
    }
  }
  if (!t.get("in") && !t.get("not_in")) {
    Error(At(n), "subjects.jurisdictions (" + ctx + ") needs in or not_in",
          "write subjects.jurisdictions = { in = [\"US\"], min = 100 }");
    return;
  }
  for (auto [key, op] : {std::pair{"in", Op::kIn}, std::pair{"not_in", Op::kNotIn}}) {
    const toml::node* v = t.get(key);
    if (v == nullptr) continue;
    Values values;
    if (!GetValues(*v, std::string("subjects.jurisdictions.") + key, &values)) continue;
    CompileSetValues(kInfo, op, values, ctx, out);
    out->back().min = min;
  }
}

void PolicyCompiler::CompileOneCountries(const toml::table& t, const std::string& ctx,
                                         std::vector<Condition>* out) {
  CheckKeys(t, kCountriesKeys, "countries (" + ctx + ")");
  const toml::node* any_of = t.get("any_of");
  const toml::node* all_of = t.get("all_of");
  if ((any_of == nullptr) == (all_of == nullptr)) {
    Error(At(t), "countries (" + ctx + ") needs exactly one of any_of or all_of",
          "write countries = { any_of = [\"actor\", \"target\"], not_in = [\"US\"] }");
    return;
  }
  const toml::node& parties_node = any_of ? *any_of : *all_of;
  Values parties;
  if (!GetValues(parties_node, any_of ? "countries.any_of" : "countries.all_of", &parties)) return;
  uint32_t mask = 0;
  for (const Item& p : parties.items) {
    auto it = std::find(std::begin(kParties), std::end(kParties), p.value);
    if (it == std::end(kParties)) {
      Error(p.where, Quote(p.value) + " is not a party whose country custody knows",
            Suggest(p.value, kParties));
      return;
    }
    mask |= 1u << (it - std::begin(kParties));
  }
  if (mask == 0) {
    Error(At(parties_node), "countries (" + ctx + ") names no party",
          "list some of \"actor\", \"target\", \"origin\"");
    return;
  }
  if (!t.get("in") && !t.get("not_in")) {
    Error(At(t), "countries (" + ctx + ") needs in or not_in",
          "write countries = { any_of = [\"actor\", \"target\"], in = \"@countries_of_concern\" }");
    return;
  }
  static constexpr FieldInfo kInfo{Field::kCountries, Kind::kCountry, false, {}};
  for (auto [key, op] : {std::pair{"in", Op::kIn}, std::pair{"not_in", Op::kNotIn}}) {
    const toml::node* v = t.get(key);
    if (v == nullptr) continue;
    Values values;
    if (!GetValues(*v, std::string("countries.") + key, &values)) continue;
    CompileSetValues(kInfo, op, values, ctx, out);
    out->back().mask = mask;
    out->back().all_parties = all_of != nullptr;
  }
}

void PolicyCompiler::CompileCountries(const toml::node& n, const std::string& ctx,
                                      std::vector<Condition>* out) {
  if (n.is_table()) {
    CompileOneCountries(*n.as_table(), ctx, out);
    return;
  }
  if (n.is_array()) {
    for (const toml::node& el : *n.as_array()) {
      if (!el.is_table()) {
        WrongType(el, "an element of countries", "a table { any_of = [...], in = [...] }");
        continue;
      }
      CompileOneCountries(*el.as_table(), ctx, out);
    }
    return;
  }
  WrongType(n, "countries (" + ctx + ")", "a table or an array of tables",
            "write countries = { any_of = [\"actor\", \"target\"], not_in = [\"US\"] }");
}

void PolicyCompiler::CompileSubTable(const toml::node& n, std::string_view name,
                                     std::span<const std::string_view> keys, const std::string& ctx,
                                     std::vector<Condition>* out) {
  if (!n.is_table()) {
    WrongType(n, std::string(name) + " (" + ctx + ")", "a table",
              "write " + std::string(name) + ".<field> = ... or " + std::string(name) +
                  " = { <field> = ... }");
    return;
  }
  const toml::table& t = *n.as_table();
  CheckKeys(t, keys, std::string(name) + " (" + ctx + ")");
  static const std::vector<std::string_view> actor_types(schema::kActorTypes.begin(),
                                                         schema::kActorTypes.end());
  static const std::vector<std::string_view> target_types(schema::kTargetTypes.begin(),
                                                          schema::kTargetTypes.end());
  for (auto&& [k, v] : t) {
    const std::string_view key = k.str();
    std::optional<FieldInfo> info;
    if (name == "actor") {
      if (key == "id") info = FieldInfo{Field::kActorId, Kind::kString, false, {}};
      if (key == "type") info = FieldInfo{Field::kActorType, Kind::kEnum, false, actor_types};
      if (key == "country") info = FieldInfo{Field::kActorCountry, Kind::kCountry, false, {}};
      if (key == "entity") info = FieldInfo{Field::kActorEntity, Kind::kString, true, {}};
    } else if (name == "target") {
      if (key == "system") info = FieldInfo{Field::kTargetSystem, Kind::kString, false, {}};
      if (key == "type") info = FieldInfo{Field::kTargetType, Kind::kEnum, false, target_types};
      if (key == "id") info = FieldInfo{Field::kTargetId, Kind::kString, true, {}};
      if (key == "country") info = FieldInfo{Field::kTargetCountry, Kind::kCountry, false, {}};
      if (key == "audience_size") {
        CompileRange(Field::kTargetAudience, v, ctx, out);
        continue;
      }
    } else if (name == "origin") {
      if (key == "system") info = FieldInfo{Field::kOriginSystem, Kind::kString, true, {}};
      if (key == "country") info = FieldInfo{Field::kOriginCountry, Kind::kCountry, true, {}};
    } else if (name == "subjects") {
      if (key == "jurisdictions") CompileJurisdictions(v, ctx, out);
      if (key == "count") CompileRange(Field::kSubjectCount, v, ctx, out);
      continue;
    }
    if (info) CompileSet(*info, v, ctx, out);
  }
}

void PolicyCompiler::CompileMatch(const toml::table& t, const std::string& ctx,
                                  std::vector<Condition>* out) {
  if (const toml::node* outcome = t.get("outcome")) {
    Error(At(*outcome), "there is no outcome condition (" + ctx + ")",
          "remove it: rules never see events whose outcome is denied or error, since they "
          "moved no data");
  }
  CheckKeys(t, kMatchKeys, "the conditions of " + ctx, "outcome");
  static const std::vector<std::string_view> activities = ActivityNames();
  for (auto&& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "activity") {
      CompileSet({Field::kActivity, Kind::kEnum, false, activities}, v, ctx, out);
    } else if (key == "categories") {
      CompileCategories(v, ctx, out);
    } else if (key == "record_count") {
      CompileRange(Field::kRecordCount, v, ctx, out);
    } else if (key == "purpose") {
      CompileSet({Field::kPurpose, Kind::kString, true, {}}, v, ctx, out);
    } else if (key == "countries") {
      CompileCountries(v, ctx, out);
    } else if (key == "subjects") {
      CompileSubTable(v, "subjects", kSubjectsKeys, ctx, out);
    } else if (key == "actor") {
      CompileSubTable(v, "actor", kActorKeys, ctx, out);
    } else if (key == "target") {
      CompileSubTable(v, "target", kTargetKeys, ctx, out);
    } else if (key == "origin") {
      CompileSubTable(v, "origin", kOriginKeys, ctx, out);
    }
  }
}

std::optional<std::chrono::microseconds> PolicyCompiler::GetDuration(const toml::table& t,
                                                                     std::string_view key,
                                                                     std::string_view ctx) {
  const std::string* s = GetString(t, key, ctx);
  if (s == nullptr) return std::nullopt;
  Result<std::chrono::microseconds> d = ParseDuration(*s);
  if (!d.ok()) {
    Error(At(*t.get(key)), std::string(ctx) + " " + std::string(key) + ": " + d.status().message(),
          "write a duration such as \"24h\", \"30m\", \"7d\"");
    return std::nullopt;
  }
  return *d;
}

std::optional<WindowSpec> PolicyCompiler::CompileWindow(const toml::node& n,
                                                        const std::string& ctx) {
  if (!n.is_table()) {
    WrongType(n, "window (" + ctx + ")", "a table",
              "write [rule.window] with duration = \"24h\" and exceeds = 10000");
    return std::nullopt;
  }
  const toml::table& t = *n.as_table();
  const std::string what = "window (" + ctx + ")";
  CheckKeys(t, kWindowKeys, what);
  WindowSpec w;
  bool ok = true;
  if (!t.get("duration")) {
    Error(At(n), what + " has no duration", "add duration = \"24h\"");
    ok = false;
  } else if (auto d = GetDuration(t, "duration", "window")) {
    if (d->count() <= 0) {
      Error(At(*t.get("duration")), "window duration must be greater than zero",
            "write e.g. duration = \"24h\"");
      ok = false;
    }
    w.duration = *d;
  } else {
    ok = false;
  }
  if (!t.get("exceeds")) {
    Error(At(n), what + " has no exceeds threshold",
          "add exceeds = N (the rule fires when the window's sum is greater than N)");
    ok = false;
  } else if (auto e = GetInt(t, "exceeds", "window")) {
    if (*e < 0) {
      Error(At(*t.get("exceeds")), "window exceeds is negative",
            "use 0 to fire on the first counted event");
      ok = false;
    }
    w.exceeds = *e;
  } else {
    ok = false;
  }
  if (const std::string* m = GetString(t, "sum", "window")) {
    if (*m == "record_count") {
      w.measure = WindowSpec::Measure::kRecordCount;
    } else if (*m == "subject_count") {
      w.measure = WindowSpec::Measure::kSubjectCount;
    } else if (*m == "events") {
      w.measure = WindowSpec::Measure::kEvents;
    } else {
      Error(At(*t.get("sum")), "window sum " + Quote(*m) + " is not a measure",
            Suggest(*m, kMeasures));
      ok = false;
    }
  } else if (t.get("sum")) {
    ok = false;
  }
  if (const toml::node* per = t.get("per")) {
    Values values;
    if (GetValues(*per, "window.per", &values)) {
      w.per_actor = false;
      for (const Item& item : values.items) {
        if (item.value == "actor") {
          w.per_actor = true;
        } else if (item.value == "target") {
          w.per_target = true;
        } else {
          Error(item.where, Quote(item.value) + " is not a window key",
                Suggest(item.value, kWindowPer));
          ok = false;
        }
      }
    } else {
      ok = false;
    }
  }
  w.late_tolerance = w.duration;
  if (t.get("resolution")) {
    if (auto r = GetDuration(t, "resolution", "window")) {
      w.resolution = *r;
    } else {
      ok = false;
    }
  }
  if (t.get("late_tolerance")) {
    if (auto l = GetDuration(t, "late_tolerance", "window")) {
      w.late_tolerance = *l;
    } else {
      ok = false;
    }
  }
  if (ok && w.resolution > w.duration) {
    Error(At(*t.get("resolution")),
          "window resolution " + FormatDuration(w.resolution) + " is longer than its duration " +
              FormatDuration(w.duration),
          "use a resolution well below the duration (default 0s: exact)");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return w;
}

void PolicyCompiler::CompileRule(const toml::table& t) {
  Rule rule;
  rule.line = t.source().begin.line;
  std::string ctx = "rule at line " + std::to_string(rule.line);
  bool ok = true;

  if (const std::string* id = GetString(t, "id", "rule")) {
    if (!IsRuleId(*id)) {
      Error(At(*t.get("id")), "rule id " + Quote(*id) + " is not a valid id",
            "use 1..128 lower-case letters, digits, '-', '_' or '.', starting with a letter or "
            "digit, e.g. \"gov-id-in-chat\"");
      ok = false;
    } else if (auto [it, inserted] = rule_ids_.emplace(*id, At(*t.get("id"))); !inserted) {
      Error(At(*t.get("id")),
            "duplicate rule id " + Quote(*id) + " (first defined at line " +
                std::to_string(it->second.line) + ")",
            "rule ids must be unique; rename one, or bump `version` of the original instead");
      ok = false;
    }
    rule.id = *id;
    ctx = "rule " + Quote(*id);
  } else {
    if (!t.get("id")) Error(At(t), "rule has no id", "add id = \"some-rule-name\"");
    ok = false;
  }
  CheckKeys(t, kRuleKeys, ctx);

  if (std::optional<int64_t> v = GetInt(t, "version", ctx)) {
    if (*v < 1 || *v > schema::kMaxSafeInteger) {
      Error(At(*t.get("version")), ctx + " version is " + std::to_string(*v),
            "versions are integers >= 1; bump it whenever the rule's meaning changes");
      ok = false;
    }
    rule.version = *v;
  } else {
    if (!t.get("version")) {
      Error(At(t), ctx + " has no version",
            "add version = 1 (and bump it whenever the rule's meaning changes)");
    }
    ok = false;
  }

  if (const std::string* s = GetString(t, "severity", ctx)) {
    if (!ParseSeverity(*s, &rule.severity)) {
      Error(At(*t.get("severity")), ctx + " severity " + Quote(*s) + " is not a severity",
            Suggest(*s, kSeverities));
      ok = false;
    }
  } else {
    if (!t.get("severity")) {
      Error(At(t), ctx + " has no severity",
            "add severity = \"info\" | \"low\" | \"medium\" | \"high\" | \"critical\"");
    }
    ok = false;
  }

  if (const std::string* d = GetString(t, "description", ctx)) rule.description = *d;
  if (const std::string* s = GetString(t, "summary", ctx)) {
    if (s->find_first_of("\r\n") != std::string::npos) {
      Error(At(*t.get("summary")), ctx + " summary spans several lines",
            "a summary starts a one-line reason; put longer text in description");
      ok = false;
    }
    rule.summary = *s;
  }

  const std::optional<bool> liftable = GetBool(t, "liftable_by_approval", ctx);
  const std::optional<bool> unless = GetBool(t, "unless_approved", ctx);
  if (liftable && unless && *liftable != *unless) {
    Error(At(*t.get("unless_approved")),
          ctx + " sets liftable_by_approval and unless_approved differently",
          "they are the same setting; keep one");
    ok = false;
  }
  rule.liftable = liftable.value_or(unless.value_or(false));

  if (const toml::node* m = t.get("match")) {
    if (!m->is_table()) {
      WrongType(*m, ctx + " match", "a table", "write [rule.match] after the rule's keys");
      ok = false;
    } else {
      CompileMatch(*m->as_table(), ctx, &rule.match);
      if (m->as_table()->empty()) {
        Warn(At(*m),
             ctx +
                 " has no conditions: it matches every event (except denied or error "
                 "ones)",
             "add conditions under [rule.match]");
      }
    }
  } else {
    Error(At(t), ctx + " has no match table",
          "add [rule.match] with conditions (write match = {} to match every event)");
    ok = false;
  }

  if (const toml::node* a = t.get("allow")) {
    auto one = [&](const toml::node& n, size_t i) {
      if (!n.is_table()) {
        WrongType(n, ctx + " allow", "a table of conditions",
                  "write [[rule.allow]] followed by conditions");
        ok = false;
        return;
      }
      std::vector<Condition> group;
      CompileMatch(*n.as_table(), ctx + " allow #" + std::to_string(i + 1), &group);
      if (group.empty()) {
        Warn(At(n),
             ctx + " allow #" + std::to_string(i + 1) +
                 " has no conditions: it allows every event, so the rule never fires",
             "add conditions or remove the allow block");
      }
      rule.allow.push_back(std::move(group));
    };
    if (a->is_array()) {
      size_t i = 0;
      for (const toml::node& el : *a->as_array()) one(el, i++);
    } else {
      one(*a, 0);
    }
  }

  if (const toml::node* w = t.get("window")) {
    rule.window = CompileWindow(*w, ctx);
    if (!rule.window) ok = false;
  }

  SortByCost(&rule.match);
  for (std::vector<Condition>& group : rule.allow) SortByCost(&group);
  if (ok) policy_->rules_.push_back(std::move(rule));
}

std::string PolicyCompiler::Fingerprint(const Rule& r,
                                        const std::vector<CategoryPattern>& patterns) {
  std::string fp;
  auto cond = [&](const Condition& c) {
    fp += std::string(FieldName(c.field)) + "/" + std::to_string(static_cast<int>(c.op)) + "/" +
          std::to_string(c.mask) + "/" + (c.all_parties ? "all" : "any") + "/" +
          (c.flag ? "1" : "0") + "/" + std::to_string(c.min) + "/" + std::to_string(c.max) + "/";
    for (int i = 0; i < 676; ++i) {
      if (c.countries.Contains(i)) fp += std::to_string(i) + ",";
    }
    fp += "/";
    for (const std::string& s : c.strings) fp += std::to_string(s.size()) + ":" + s;
    fp += "/";
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (c.patterns.test(i)) fp += patterns[i].text + ",";
    }
    fp += ";";
  };
  fp += "match{";
  for (const Condition& c : r.match) cond(c);
  fp += "}";
  for (const auto& group : r.allow) {
    fp += "allow{";
    for (const Condition& c : group) cond(c);
    fp += "}";
  }
  if (r.window) {
    const WindowSpec& w = *r.window;
    fp += "window{" + std::string(MeasureName(w.measure)) + "/" + (w.per_actor ? "a" : "") +
          (w.per_target ? "t" : "") + "/" + std::to_string(w.duration.count()) + "/" +
          std::to_string(w.exceeds) + "/" + std::to_string(w.resolution.count()) + "/" +
          std::to_string(w.late_tolerance.count()) + "}";
  }
  return fp;
}

Result<std::shared_ptr<const Policy>> PolicyCompiler::Run(std::vector<Diagnostic>* out) {
  toml::table root;
  if (text_.size() > kMaxPolicyBytes) {
    Error({},
          "policy is " + std::to_string(text_.size()) + " bytes; at most " +
              std::to_string(kMaxPolicyBytes) + " are allowed",
          "use lists and broader patterns to shorten it");
  } else {
    try {
      root = toml::parse(text_, source_);
    } catch (const toml::parse_error& e) {
      Error(At(e.source()), "TOML syntax: " + std::string(e.description()),
            "see https://toml.io; strings need quotes, lists are [\"a\", \"b\"], each rule "
            "starts with [[rule]]");
    }
  }
  const bool parsed = diags_.empty();

  if (parsed) {
    CheckKeys(root, kTopKeys, "the policy file");
    if (const toml::node* p = root.get("policy")) {
      if (!p->is_table()) {
        WrongType(*p, "policy", "a table", "write [policy] then name = \"...\"");
      } else {
        const toml::table& t = *p->as_table();
        CheckKeys(t, kPolicyKeys, "[policy]");
        if (const std::string* s = GetString(t, "name", "[policy]")) policy_->name_ = *s;
        if (const toml::node* v = t.get("version")) {
          if (v->is_string()) {
            policy_->version_ = v->as_string()->get();
          } else if (v->is_integer()) {
            policy_->version_ = std::to_string(v->as_integer()->get());
          } else {
            WrongType(*v, "[policy] version", "a string or an integer");
          }
        }
        (void)GetString(t, "description", "[policy]");
      }
    }
    if (const toml::node* l = root.get("lists")) CollectLists(*l);
    if (const toml::node* r = root.get("rule")) {
      if (r->is_array()) {
        for (const toml::node& el : *r->as_array()) {
          if (!el.is_table()) {
            WrongType(el, "a rule", "a table", "start each rule with [[rule]]");
            continue;
          }
          CompileRule(*el.as_table());
        }
      } else {
        WrongType(*r, "rule", "an array of tables",
                  "start each rule with [[rule]] (double brackets), not [rule]");
      }
    }
    for (const auto& [name, def] : lists_) {
      if (!def.used) {
        Warn(def.where, "list " + Quote(name) + " is never used",
             "reference it as \"@" + name + "\" or remove it");
      }
    }
    if (!root.get("rule")) {
      Warn({1, 1}, "the policy has no rules: no event will ever raise an alert",
           "add rules with [[rule]]");
    }
  }

  // Position order, errors and warnings interleaved; a list element used by
  // several rules is reported once per distinct message.
  std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  std::vector<Diagnostic> unique;
  for (Diagnostic& d : diags_) {
    const bool dup = std::any_of(unique.begin(), unique.end(), [&](const Diagnostic& u) {
      return u.line == d.line && u.column == d.column && u.message == d.message;
    });
    if (!dup) unique.push_back(std::move(d));
  }
  diags_ = std::move(unique);
  if (out != nullptr) out->insert(out->end(), diags_.begin(), diags_.end());

  size_t errors = 0;
  std::string message;
  for (const Diagnostic& d : diags_) {
    if (!d.is_error()) continue;
    ++errors;
    message += "\n" + d.ToString();
  }
  if (errors > 0) {
    return Status::InvalidArgument("policy " + source_ + " has " + std::to_string(errors) +
                                   (errors == 1 ? " error:" : " errors:") + message);
  }

  for (const Diagnostic& d : diags_) policy_->warnings_.push_back(d);
  for (Rule& r : policy_->rules_) {
    r.fingerprint = Fingerprint(r, policy_->patterns_);
    if (r.window) {
      policy_->replay_horizon_ =
          std::max(policy_->replay_horizon_, r.window->duration + r.window->late_tolerance);
    }
  }
  policy_->sha256_ = Sha256Hex(text_);
  return std::shared_ptr<const Policy>(std::move(policy_));
}

Result<std::shared_ptr<const Policy>> Policy::Parse(std::string_view text, std::string source,
                                                    std::vector<Diagnostic>* diagnostics) {
  PolicyCompiler compiler(text, std::move(source));
  return compiler.Run(diagnostics);
}

}  // namespace custody::daemon::policy
