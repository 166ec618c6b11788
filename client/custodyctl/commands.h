// The subcommands. Each Add*Command registers its CLI11 subcommand (flags,
// help text with an example) on `root` and appends what runs when it is
// chosen. Implementations live in cmd_<name>.cc.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_COMMANDS_H_
#define CUSTODY_CLIENT_CUSTODYCTL_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/custodyctl/context.h"

namespace custody::client {

// For unsigned options and arguments: CLI11 reads "-1" into a uint64_t as
// 2^64-1 (prove -1 asked for seq 18446744073709551615), so a sign is refused
// up front; CLI11 names the option in the usage error.
inline CLI::Validator NotNegative() {
  return CLI::Validator(
      [](std::string& s) {
        return !s.empty() && s.front() == '-' ? std::string("must not be negative")
                                              : std::string();
      },
      "", "NotNegative");
}

// For options whose empty value would silently mean "not given" (--since "").
inline CLI::Validator NotEmpty() {
  return CLI::Validator(
      [](std::string& s) { return s.empty() ? std::string("must not be empty") : std::string(); },
      "", "NotEmpty");
}

void AddSendCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);    // cmd_send.cc
void AddQueryCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);   // cmd_query.cc
void AddTailCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);    // cmd_query.cc
void AddAlertsCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);  // cmd_alerts.cc
void AddApprovalsCommand(CLI::App& root, Context& ctx,
                         std::vector<Command>* out);  // cmd_approvals.cc
void AddCheckpointCommand(CLI::App& root, Context& ctx,
                          std::vector<Command>* out);                            // cmd_verify.cc
void AddProveCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);   // cmd_verify.cc
void AddExportCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);  // cmd_export.cc
void AddKeygenCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);  // cmd_keys.cc
void AddTokenCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);   // cmd_keys.cc
void AddPolicyCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);  // cmd_policy.cc
void AddStatusCommand(CLI::App& root, Context& ctx, std::vector<Command>* out);  // cmd_status.cc

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_COMMANDS_H_
