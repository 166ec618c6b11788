// custodyctl's command line: global options, the subcommands, exit codes.
// main() is RunCli(); tests drive the built program itself.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_APP_H_
#define CUSTODY_CLIENT_CUSTODYCTL_APP_H_

namespace custody::client {

// Parses argv, runs the chosen subcommand, prints any failure to stderr as
// "custodyctl: <message>", and returns the exit code (context.h).
// Catches every exception CLI11 or toml++ may throw.
int RunCli(int argc, char** argv);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_APP_H_
