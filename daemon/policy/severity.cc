#include <array>

#include "daemon/policy/decider.h"

namespace custody::daemon::policy {
namespace {

constexpr std::array<std::string_view, 5> kSeverityNames = {"info", "low", "medium", "high",
                                                            "critical"};

}  // namespace

std::string_view SeverityName(Severity s) {
  const auto i = static_cast<size_t>(s);
  return i < kSeverityNames.size() ? kSeverityNames[i] : std::string_view("?");
}

bool ParseSeverity(std::string_view name, Severity* out) {
  for (size_t i = 0; i < kSeverityNames.size(); ++i) {
    if (kSeverityNames[i] == name) {
      *out = static_cast<Severity>(i);
      return true;
    }
  }
  return false;
}

}  // namespace custody::daemon::policy
