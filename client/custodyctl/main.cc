// custodyctl: the operator's and investigator's client for custodyd.
// Everything lives in the custody_client library (app.h); see --help.
#include "client/custodyctl/app.h"

int main(int argc, char** argv) { return custody::client::RunCli(argc, argv); }
