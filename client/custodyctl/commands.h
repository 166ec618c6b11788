// The subcommands. Each Add*Command registers its CLI11 subcommand (flags,
// help text with an example) on `root` and appends what runs when it is
// chosen. Implementations live in cmd_<name>.cc.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_COMMANDS_H_
#define CUSTODY_CLIENT_CUSTODYCTL_COMMANDS_H_

#include <vector>

#include "client/custodyctl/context.h"

namespace custody::client {

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
