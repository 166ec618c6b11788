#include "daemon/policy/sample.h"

#include <boost/json/object.hpp>

#include "custody/schema/json_canon.h"
#include "daemon/policy/engine.h"

namespace custody::daemon::policy {

namespace json = boost::json;

schema::Status LoadSampleApprovals(std::string_view text, const std::string& source,
                                   ApprovalRegistry* registry) {
  auto v = schema::ParseJson(text);
  if (!v.ok()) return schema::Status::InvalidArgument(source + ": " + v.status().message());
  json::array list;
  if (v->is_array()) {
    list = v->as_array();
  } else {
    list.push_back(*v);
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::vector<schema::FieldError> errors;
    auto a = ParseApproval(list[i], &errors);
    if (!a) {
      std::string msg = source + "[" + std::to_string(i) + "] is not a valid approval:";
      for (const auto& e : errors) msg += "\n  " + e.pointer + ": " + e.message;
      return schema::Status::InvalidArgument(msg);
    }
    schema::Status st = registry->Register(std::move(*a), 0);
    if (!st.ok()) return st.Annotate(source + "[" + std::to_string(i) + "]");
  }
  return schema::Status::Ok();
}

schema::Result<std::vector<SampleResult>> EvaluateSampleText(const Policy& policy,
                                                             std::string_view text,
                                                             const std::string& source,
                                                             const ApprovalRegistry* approvals) {
  // NDJSON unless the whole text is one JSON document (an object or array).
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool ndjson =
      first != std::string_view::npos && text[first] == '{' && !schema::ParseJson(text).ok();
  schema::ParsedBatch batch = schema::ParseEventBatch(text, ndjson, 1000000);
  if (!batch.ok()) {
    std::string msg = source + " holds invalid events:";
    for (const auto& e : batch.errors) msg += "\n  " + e.pointer + ": " + e.message;
    return schema::Status::InvalidArgument(msg);
  }
  std::vector<SampleResult> out;
  out.reserve(batch.events.size());
  for (const schema::Event& e : batch.events) {
    out.push_back({e.event_id, EvaluateSample(policy, e, approvals)});
  }
  return out;
}

std::string DescribeSample(const SampleResult& r) {
  std::string line = r.event_id + ": ";
  if (r.decision.hits.empty()) line += "no hits";
  for (size_t i = 0; i < r.decision.hits.size(); ++i) {
    const Hit& h = r.decision.hits[i];
    line +=
        (i ? "; " : "") + h.rule + " (" + std::string(SeverityName(h.severity)) + "): " + h.reason;
    if (!h.approval_id.empty()) {
      line += " [approval " + h.approval_id + ": " + h.approval_status + "]";
    }
  }
  return line;
}

json::array SampleResultsJson(const std::vector<SampleResult>& results) {
  json::array out;
  for (const SampleResult& r : results) {
    json::object o;
    o["event_id"] = r.event_id;
    auto decision = schema::ParseJson(r.decision.json);
    o["decision"] = decision.ok() ? *decision : json::value(nullptr);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace custody::daemon::policy
