#include "daemon/policy/matcher.h"

#include <algorithm>

#include "daemon/policy/policy.h"

namespace custody::daemon::policy {
namespace {

template <size_t N>
int IndexIn(const std::array<std::string_view, N>& names, std::string_view v) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == v) return static_cast<int>(i);
  }
  return -1;
}

bool EnumMatches(const Condition& c, int index) {
  const bool in = index >= 0 && (c.mask >> index) & 1u;
  return c.op == Op::kIn ? in : !in;
}

bool CountryMatches(const Condition& c, bool present, int index) {
  switch (c.op) {
    case Op::kIn:
      return present && c.countries.Contains(index);
    case Op::kNotIn:
      return !present || !c.countries.Contains(index);
    case Op::kPresent:
      return present == c.flag;
    default:
      return false;
  }
}

bool StringMatches(const Condition& c, const std::string* value) {
  switch (c.op) {
    case Op::kIn:
      return value != nullptr && std::binary_search(c.strings.begin(), c.strings.end(), *value);
    case Op::kNotIn:
      return value == nullptr || !std::binary_search(c.strings.begin(), c.strings.end(), *value);
    case Op::kPresent:
      return (value != nullptr) == c.flag;
    default:
      return false;
  }
}

bool RangeMatches(const Condition& c, const int64_t* value) {
  return value != nullptr && *value >= c.min && *value <= c.max;
}

const std::string* Opt(const std::optional<std::string>& s) { return s ? &*s : nullptr; }

bool CategoriesMatch(const Condition& c, EventView& v) {
  switch (c.op) {
    case Op::kAny:
      return (v.CategoryUnion() & c.patterns).any();
    case Op::kNone:
      return (v.CategoryUnion() & c.patterns).none();
    case Op::kAll:
      for (size_t i = 0; i < v.category_count(); ++i) {
        if ((v.CategoryBits(i) & c.patterns).none()) return false;
      }
      return v.category_count() > 0;
    default:
      return false;
  }
}

// Subjects from jurisdictions in (kIn) or outside (kNotIn) the set.
int64_t JurisdictionSum(const Condition& c, const schema::Event& e) {
  int64_t sum = 0;
  for (const auto& [cc, n] : e.jurisdictions) {
    if (n <= 0) continue;
    const bool in = c.countries.Contains(CountryIndex(cc));
    if (in == (c.op == Op::kIn)) sum = (sum > INT64_MAX - n) ? INT64_MAX : sum + n;
  }
  return sum;
}

bool PartyHolds(const Condition& c, int index) {
  const bool in = c.countries.Contains(index);
  return c.op == Op::kIn ? in : !in;
}

bool PartiesMatch(const Condition& c, const EventView& v) {
  bool any = false, all = true, seen = false;
  auto test = [&](uint32_t party, bool present, int index) {
    if (!(c.mask & party) || !present) return;
    seen = true;
    const bool holds = PartyHolds(c, index);
    any = any || holds;
    all = all && holds;
  };
  test(kPartyActor, true, v.actor_country());
  test(kPartyTarget, true, v.target_country());
  test(kPartyOrigin, v.event().origin.has_value(), v.origin_country());
  return c.all_parties ? (seen && all) : any;
}

}  // namespace

EventView::EventView(const Policy& policy, const schema::Event& event,
                     std::span<PatternMask> scratch)
    : policy_(policy),
      event_(event),
      bits_(scratch),
      ncat_(std::min(event.categories.size(), scratch.size())),
      actor_cc_(CountryIndex(event.actor.country)),
      target_cc_(CountryIndex(event.target.country)),
      origin_cc_(event.origin ? CountryIndex(event.origin->country) : -1),
      actor_type_(IndexIn(schema::kActorTypes, event.actor.type)),
      target_type_(IndexIn(schema::kTargetTypes, event.target.type)) {}

void EventView::EnsureCategories() {
  if (categories_ready_) return;
  categories_ready_ = true;
  const std::vector<CategoryPattern>& pats = policy_.patterns();
  for (size_t i = 0; i < ncat_; ++i) {
    PatternMask& m = bits_[i];
    m.reset();
    const std::string& cat = event_.categories[i];
    for (size_t p = 0; p < pats.size(); ++p) {
      if (pats[p].Matches(cat)) m.set(p);
    }
    union_ |= m;
  }
}

bool Matches(const Condition& c, EventView& v) {
  const schema::Event& e = v.event();
  switch (c.field) {
    case Field::kActivity:
      return EnumMatches(c, static_cast<int>(e.activity));
    case Field::kActorType:
      return EnumMatches(c, v.actor_type());
    case Field::kTargetType:
      return EnumMatches(c, v.target_type());
    case Field::kActorCountry:
      return CountryMatches(c, true, v.actor_country());
    case Field::kTargetCountry:
      return CountryMatches(c, true, v.target_country());
    case Field::kOriginCountry:
      return CountryMatches(c, e.origin.has_value(), v.origin_country());
    case Field::kActorId:
      return StringMatches(c, &e.actor.id);
    case Field::kActorEntity:
      return StringMatches(c, Opt(e.actor.entity));
    case Field::kTargetSystem:
      return StringMatches(c, &e.target.system);
    case Field::kTargetId:
      return StringMatches(c, Opt(e.target.id));
    case Field::kOriginSystem:
      return StringMatches(c, e.origin ? &e.origin->system : nullptr);
    case Field::kPurpose:
      return StringMatches(c, Opt(e.context.purpose));
    case Field::kTargetAudience:
      return RangeMatches(c, e.target.audience_size ? &*e.target.audience_size : nullptr);
    case Field::kRecordCount:
      return RangeMatches(c, &e.record_count);
    case Field::kSubjectCount:
      return RangeMatches(c, &e.subject_count);
    case Field::kCategories:
      return CategoriesMatch(c, v);
    case Field::kJurisdictions:
      return JurisdictionSum(c, e) >= c.min;
    case Field::kCountries:
      return PartiesMatch(c, v);
  }
  return false;
}

bool MatchesAll(std::span<const Condition> conditions, EventView& view) {
  for (const Condition& c : conditions) {
    if (!Matches(c, view)) return false;
  }
  return true;
}

bool RuleMatches(const Rule& rule, EventView& view) {
  if (!MatchesAll(rule.match, view)) return false;
  for (const std::vector<Condition>& group : rule.allow) {
    if (MatchesAll(group, view)) return false;
  }
  return true;
}

int64_t WindowAmount(const WindowSpec& spec, const schema::Event& event) {
  switch (spec.measure) {
    case WindowSpec::Measure::kRecordCount:
      return event.record_count;
    case WindowSpec::Measure::kSubjectCount:
      return event.subject_count;
    case WindowSpec::Measure::kEvents:
      return 1;
  }
  return 0;
}

void WindowKey(const WindowSpec& spec, const schema::Event& event, std::string* key) {
  // Ids hold no control characters (schema::ParseEvent), so these
  // separators cannot be forged by an id.
  key->clear();
  if (spec.per_actor) key->append(event.actor.id);
  if (spec.per_target) {
    key->push_back('\x1e');
    key->append(event.target.system);
    key->push_back('\x1f');
    if (event.target.id) key->append(*event.target.id);
  }
}

// ---------------------------------------------------------------------------
// Explanations (only on hits). Each Fact appends one clause to `out`.

namespace {

std::string_view InOrNot(Op op) { return op == Op::kIn ? " in " : " not in "; }

void PartyFacts(const Condition& c, const EventView& v, std::string* out) {
  const schema::Event& e = v.event();
  bool first = true;
  auto fact = [&](uint32_t party, std::string_view name, bool present, const std::string* country,
                  int index) {
    if (!(c.mask & party) || !present || !PartyHolds(c, index)) return;
    if (!first) out->append(c.all_parties ? " and " : ", ");
    first = false;
    out->append(name).append(" country ").append(*country).append(InOrNot(c.op)).append(c.display);
  };
  fact(kPartyActor, "actor", true, &e.actor.country, v.actor_country());
  fact(kPartyTarget, "target", true, &e.target.country, v.target_country());
  fact(kPartyOrigin, "origin", e.origin.has_value(), e.origin ? &e.origin->country : nullptr,
       v.origin_country());
}

void Fact(const Condition& c, EventView& v, std::string* out) {
  const schema::Event& e = v.event();
  const std::string_view field = FieldName(c.field);
  auto set_fact = [&](std::string_view value, bool present) {
    out->append(field);
    if (c.op == Op::kPresent && present) {
      out->push_back(' ');
      out->append(value).append(" present");
    } else if (!present) {
      out->append(" absent");
    } else {
      out->push_back(' ');
      out->append(value).append(InOrNot(c.op)).append(c.display);
    }
  };
  auto opt = [&](const std::optional<std::string>& s) { set_fact(s ? *s : "", s.has_value()); };
  auto range_fact = [&](int64_t value) {
    out->append(field).push_back(' ');
    out->append(std::to_string(value)).append(" in ").append(c.display);
  };
  switch (c.field) {
    case Field::kActivity:
      return set_fact(schema::ActivityName(e.activity), true);
    case Field::kActorType:
      return set_fact(e.actor.type, true);
    case Field::kTargetType:
      return set_fact(e.target.type, true);
    case Field::kActorCountry:
      return set_fact(e.actor.country, true);
    case Field::kTargetCountry:
      return set_fact(e.target.country, true);
    case Field::kOriginCountry:
      return set_fact(e.origin ? e.origin->country : "", e.origin.has_value());
    case Field::kActorId:
      return set_fact(e.actor.id, true);
    case Field::kActorEntity:
      return opt(e.actor.entity);
    case Field::kTargetSystem:
      return set_fact(e.target.system, true);
    case Field::kTargetId:
      return opt(e.target.id);
    case Field::kOriginSystem:
      return set_fact(e.origin ? e.origin->system : "", e.origin.has_value());
    case Field::kPurpose:
      return opt(e.context.purpose);
    case Field::kTargetAudience:
      return range_fact(e.target.audience_size.value_or(0));
    case Field::kRecordCount:
      return range_fact(e.record_count);
    case Field::kSubjectCount:
      return range_fact(e.subject_count);
    case Field::kCategories: {
      if (c.op == Op::kNone) {
        out->append("no category in ").append(c.display);
        return;
      }
      size_t n = 0;
      for (size_t i = 0; i < v.category_count(); ++i) n += (v.CategoryBits(i) & c.patterns).any();
      out->append(c.op == Op::kAll ? "every category (" : (n == 1 ? "category " : "categories "));
      bool first = true;
      for (size_t i = 0; i < v.category_count(); ++i) {
        if ((v.CategoryBits(i) & c.patterns).none()) continue;
        if (!first) out->append(", ");
        first = false;
        out->append(e.categories[i]);
      }
      out->append(c.op == Op::kAll ? ") in " : " in ").append(c.display);
      return;
    }
    case Field::kJurisdictions: {
      out->append("subjects ");
      bool first = true;
      for (const auto& [cc, n] : e.jurisdictions) {
        if (n > 0 && c.countries.Contains(CountryIndex(cc)) == (c.op == Op::kIn)) {
          if (!first) out->append(", ");
          first = false;
          out->append(cc).push_back(':');
          out->append(std::to_string(n));
        }
      }
      out->append(InOrNot(c.op)).append(c.display);
      if (c.min > 1) out->append(" (at least ").append(std::to_string(c.min)).push_back(')');
      return;
    }
    case Field::kCountries:
      return PartyFacts(c, v, out);
  }
}

}  // namespace

std::string Explain(const Rule& rule, EventView& view, int64_t window_sum, bool sample_window) {
  std::string out;
  out.reserve(192);
  out.append(rule.summary);
  bool first = true;
  auto sep = [&]() {
    out.append(first ? (rule.summary.empty() ? "" : ": ") : "; ");
    first = false;
  };
  for (const Condition& c : rule.match) {
    sep();
    Fact(c, view, &out);
  }
  if (rule.window) {
    const WindowSpec& w = *rule.window;
    const schema::Event& e = view.event();
    sep();
    out.append(MeasureName(w.measure)).append(" summed");
    if (w.per_actor) out.append(" for actor ").append(e.actor.id);
    if (w.per_target) {
      out.append(w.per_actor ? " and target " : " for target ").append(e.target.system);
      if (e.target.id) out.append("/").append(*e.target.id);
    }
    out.append(" over (t-").append(FormatDuration(w.duration)).append(", t] is ");
    out.append(std::to_string(window_sum)).append(" > ").append(std::to_string(w.exceeds));
    if (sample_window) out.append(" (dry run: this event alone)");
  }
  if (out.empty()) out = "rule " + rule.id + " matched";
  return out;
}

}  // namespace custody::daemon::policy
