#include "spawn_custodyd.h"

#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace custody::bench {

std::string Sha256Hex(const std::string& s) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

SpawnedDaemon SpawnCustodyd(const std::string& exe, const std::string& name,
                            const std::string& token, const std::string& policy,
                            const std::string& extra_toml) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + name + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(2);
  }
  SpawnedDaemon d;
  d.dir = templ;
  const std::string config = templ + "/custodyd.toml", port_file = templ + "/port";
  {
    std::ofstream cfg(config);
    cfg << "listen = \"127.0.0.1:0\"\n"
        << "data_dir = \"" << templ << "/data\"\n"
        << "origin = \"" << name << ".example/log\"\n"
        << "log_level = \"warn\"\n";
    if (!policy.empty()) cfg << "policy = \"" << policy << "\"\n";
    cfg << "[[token]]\nname = \"bench\"\nrole = \"producer\"\nsha256 = \"" << Sha256Hex(token)
        << "\"\n"
        << extra_toml;
  }
  std::string path = exe;
  char* argv[] = {path.data(),
                  const_cast<char*>("--config"),
                  const_cast<char*>(config.c_str()),
                  const_cast<char*>("--port-file"),
                  const_cast<char*>(port_file.c_str()),
                  nullptr};
  if (posix_spawn(&d.pid, exe.c_str(), nullptr, nullptr, argv, environ) != 0) {
    std::perror("spawn custodyd");
    std::exit(2);
  }
  for (int i = 0; i < 300; ++i) {
    std::ifstream pf(port_file);
    int port = 0;
    if (pf >> port && port > 0) {
      d.port = static_cast<uint16_t>(port);
      return d;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "%s: custodyd did not start (no port file)\n", name.c_str());
  ::kill(d.pid, SIGKILL);
  std::exit(2);
}

void StopCustodyd(const SpawnedDaemon& d) {
  std::ifstream status("/proc/" + std::to_string(d.pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM", 0) == 0 || line.rfind("VmRSS", 0) == 0) {
      std::printf("custodyd %s\n", line.c_str());
    }
  }
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(d.dir + "/data/ledger/data.mdb", ec);
  if (!ec) std::printf("custodyd data.mdb %.1f MiB\n", bytes / 1048576.0);
  std::fflush(stdout);
  ::kill(d.pid, SIGTERM);
  int st = 0;
  ::waitpid(d.pid, &st, 0);
  std::filesystem::remove_all(d.dir, ec);
}

}  // namespace custody::bench
