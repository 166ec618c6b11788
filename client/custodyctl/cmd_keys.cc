// custodyctl keygen and token hash: offline helpers for setting up custodyd.

#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>

#include "client/custodyctl/commands.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

struct KeygenOptions {
  std::string name, out, pub;
};

Status RunKeygen(Context& ctx, const KeygenOptions& opt) {
  if (!ledger::IsValidKeyName(opt.name)) {
    return Status::InvalidArgument("--name \"" + opt.name +
                                   "\" is not a valid key name (non-empty, no '+', no spaces); "
                                   "use the log's origin, e.g. example.com/custody");
  }
  CUSTODY_ASSIGN_OR_RETURN(ledger::SigningKey key, ledger::SigningKey::Generate(opt.name));
  Status saved = key.Save(opt.out);
  if (!saved.ok()) {
    return saved.code() == schema::Code::kAlreadyExists
               ? Status::InvalidArgument(opt.out + " already exists; keys are never overwritten")
               : saved;
  }
  const std::string verifier = key.verifier().ToString();
  if (!opt.pub.empty()) CUSTODY_RETURN_IF_ERROR(WriteFileAtomic(opt.pub, verifier + "\n"));
  if (ctx.format() != Format::kTable) {
    json::object o;
    o["signer_key_file"] = opt.out;
    o["verifier_key"] = verifier;
    o["name"] = opt.name;
    PrintLine(json::serialize(o));
  } else {
    PrintLine(verifier);
    std::fprintf(stderr,
                 "wrote the signer key to %s (mode 0600); the line above is the verifier key:\n"
                 "publish it by a channel other than the log itself (auditors need it).\n"
                 "custodyd uses <data_dir>/ledger/signing.key; place it there before the first "
                 "start with origin = \"%s\".\n",
                 opt.out.c_str(), opt.name.c_str());
  }
  return Status::Ok();
}

struct TokenOptions {
  bool generate = false;
  std::string name, role;
};

// Reads one line from stdin without echoing it when stdin is a terminal.
std::string ReadSecretLine() {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios old{};
  if (tty) {
    std::fputs("token: ", stderr);
    if (::tcgetattr(STDIN_FILENO, &old) == 0) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::fputc('\n', stderr);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Status RunTokenHash(Context& ctx, const TokenOptions& opt) {
  if (opt.name.empty() != opt.role.empty()) {
    return Status::InvalidArgument("give --name and --role together (or neither)");
  }
  std::string token;
  if (opt.generate) {
    ledger::EnsureSodium();
    unsigned char bytes[32];
    randombytes_buf(bytes, sizeof bytes);
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, bytes, sizeof bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bytes, sizeof bytes);
    token = std::string("ctk_") + b64;
  } else {
    token = ReadSecretLine();
    if (token.empty()) return Status::InvalidArgument("no token on stdin (or use --generate)");
    for (unsigned char c : token) {
      if (c <= ' ' || c == 0x7f) {
        return Status::InvalidArgument(
            "the token contains spaces or control characters; a bearer token cannot");
      }
    }
  }
  const std::string hex = ledger::HashToHex(ledger::Sha256(token));
  if (ctx.format() != Format::kTable) {
    json::object o;
    if (opt.generate) o["token"] = token;
    o["sha256"] = hex;
    if (!opt.name.empty()) {
      o["name"] = opt.name;
      o["role"] = opt.role;
    }
    PrintLine(json::serialize(o));
    return Status::Ok();
  }
  if (opt.generate) {
    // On stderr so that stdout can be pasted into the config without the secret.
    std::fprintf(stderr,
                 "bearer token (shown once; give it to the client, store only the hash):\n"
                 "  %s\n",
                 token.c_str());
  }
  if (!opt.name.empty()) {
    std::printf("[[token]]\nname = \"%s\"\nrole = \"%s\"\n", opt.name.c_str(), opt.role.c_str());
  }
  std::printf("sha256 = \"%s\"\n", hex.c_str());
  return Status::Ok();
}

}  // namespace

void AddKeygenCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<KeygenOptions>();
  CLI::App* cmd = root.add_subcommand(
      "keygen", "Create an Ed25519 checkpoint signing key file and print its verifier key");
  cmd->add_option("--name", opt->name, "the key name: the log's origin")->required();
  cmd->add_option("--out", opt->out, "the signer key file to create (mode 0600, never overwritten)")
      ->required();
  cmd->add_option("--pub", opt->pub, "also write the verifier key to this file");
  cmd->footer(
      "Offline; needs no server. Key formats are those of C2SP signed notes.\n\n"
      "Example:\n"
      "  custodyctl keygen --name example.com/custody --out signing.key --pub log.pub");
  out->push_back({cmd, [&ctx, opt] { return RunKeygen(ctx, *opt); }});
}

void AddTokenCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  CLI::App* cmd = root.add_subcommand("token", "Bearer token helpers");
  cmd->require_subcommand(1);
  auto opt = std::make_shared<TokenOptions>();
  CLI::App* hash = cmd->add_subcommand(
      "hash", "Print the sha256 line for custodyd's [[token]] table (token read from stdin)");
  hash->add_flag("--generate", opt->generate,
                 "generate a random token instead (printed once, on stderr)");
  hash->add_option("--name", opt->name, "also print the [[token]] header with this name");
  hash->add_option("--role", opt->role, "with --name: producer, reader or admin")
      ->check(CLI::IsMember({"producer", "reader", "admin"}));
  hash->footer(
      "custodyd stores only SHA-256 hashes of tokens. Offline; needs no server.\n\n"
      "Examples:\n"
      "  custodyctl token hash --generate --name crm-export --role producer >> custodyd.toml\n"
      "  printf %s \"$TOKEN\" | custodyctl token hash");
  out->push_back({hash, [&ctx, opt] { return RunTokenHash(ctx, *opt); }});
  cmd->footer("Example:\n  custodyctl token hash --generate");
}

}  // namespace custody::client
