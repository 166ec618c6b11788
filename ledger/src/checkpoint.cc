#include "custody/ledger/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "custody/schema/encoding.h"
#include "utf8.h"

namespace custody::ledger {
namespace {

constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // U+2014 em dash, space
constexpr size_t kMaxSignatures = 100;                    // as golang.org/x/mod/sumdb/note

Status CheckNoteBytes(std::string_view what, std::string_view s) {
  const size_t bad = internal::FindInvalidNoteByte(s);
  if (bad == std::string_view::npos) return Status::Ok();
  char detail[64];
  const auto b = static_cast<unsigned char>(s[bad]);
  if (b < 0x20) {
    std::snprintf(detail, sizeof detail, "control character 0x%02x at byte %zu", b, bad);
  } else {
    std::snprintf(detail, sizeof detail, "invalid UTF-8 at byte %zu", bad);
  }
  return Status::InvalidArgument(std::string(what) + ": " + detail +
                                 " (only UTF-8 text and '\\n' are allowed)");
}

std::string KeyLabel(std::string_view name, uint32_t id) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", id);
  return std::string(name) + "+" + hex;
}

// Parses "\u2014 <name> <base64(id || sig)>" (without its '\n'); `n` is the
// 1-based line number within the signature block, for errors.
Result<NoteSignature> ParseSignatureLine(std::string_view line, size_t n) {
  const std::string where = "signed note: signature line " + std::to_string(n);
  if (!line.starts_with(kSigPrefix)) {
    return Status::InvalidArgument(where + ": does not start with an em dash (U+2014) and a space");
  }
  line.remove_prefix(kSigPrefix.size());
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) {
    return Status::InvalidArgument(where + ": want \"<key name> <base64 signature>\"");
  }
  const std::string_view name = line.substr(0, space);
  const std::string_view b64 = line.substr(space + 1);
  if (!IsValidKeyName(name)) return Status::InvalidArgument(where + ": invalid key name");
  auto raw = schema::Base64Decode(b64);
  if (!raw.ok()) return raw.status().Annotate(where);
  if (raw->size() < 5) {
    return Status::InvalidArgument(where + ": signature too short for a key id and a signature");
  }
  NoteSignature sig;
  sig.name = std::string(name);
  const std::vector<uint8_t>& bytes = *raw;
  sig.key_id = uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
               uint32_t{bytes[3]};
  sig.signature.assign(bytes.begin() + 4, bytes.end());
  return sig;
}

Status CheckNoteText(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return Status::InvalidArgument("note text must end in a newline");
  }
  return CheckNoteBytes("note text", text);
}

// Canonical decimal uint64: "0" or a non-zero digit followed by digits.
bool ParseSize(std::string_view s, uint64_t* out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

}  // namespace

Result<SignedNote> ParseNote(std::string_view note) {
  CUSTODY_RETURN_IF_ERROR(CheckNoteBytes("signed note", note));
  // The text ends at the last blank line (C2SP: text MAY contain empty lines).
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return Status::InvalidArgument("signed note: no blank line before the signatures");
  }
  SignedNote out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return Status::InvalidArgument("signed note: no signature lines");
  if (sigs.back() != '\n') {
    return Status::InvalidArgument("signed note: last signature line does not end in a newline");
  }
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');  // found: sigs ends in '\n'
    if (out.signatures.size() == kMaxSignatures) {
      return Status::InvalidArgument("signed note: more than " + std::to_string(kMaxSignatures) +
                                     " signatures");
    }
    CUSTODY_ASSIGN_OR_RETURN(NoteSignature sig,
                             ParseSignatureLine(sigs.substr(0, nl), out.signatures.size() + 1));
    out.signatures.push_back(std::move(sig));
    sigs.remove_prefix(nl + 1);
  }
  return out;
}

Result<std::string> SignNote(std::string_view text, const SigningKey& key) {
  CUSTODY_RETURN_IF_ERROR(CheckNoteText(text));
  const Signature sig = key.Sign(text);
  const uint32_t id = key.verifier().key_id;
  std::vector<uint8_t> raw = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                              static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  raw.insert(raw.end(), sig.begin(), sig.end());
  std::string out(text);
  out += '\n';
  out += kSigPrefix;
  out += key.name();
  out += ' ';
  out += schema::Base64Encode(raw);
  out += '\n';
  return out;
}

Result<SignedNote> OpenNote(std::string_view note, std::span<const VerifierKey> verifiers) {
  CUSTODY_ASSIGN_OR_RETURN(SignedNote parsed, ParseNote(note));
  SignedNote out;
  out.text = std::move(parsed.text);
  std::set<std::pair<std::string, uint32_t>> verified;
  size_t unknown = 0;
  for (NoteSignature& sig : parsed.signatures) {
    const auto matches = [&](const VerifierKey& v) {
      return v.name == sig.name && v.key_id == sig.key_id;
    };
    const auto n = std::count_if(verifiers.begin(), verifiers.end(), matches);
    if (n == 0) {
      ++unknown;  // C2SP: MUST ignore signatures from unknown keys
      continue;
    }
    if (n > 1) {
      return Status::InvalidArgument("ambiguous key " + KeyLabel(sig.name, sig.key_id) +
                                     ": given more than once among the verifier keys");
    }
    if (!verified.emplace(sig.name, sig.key_id).second) continue;  // repeated signature
    const VerifierKey& v = *std::find_if(verifiers.begin(), verifiers.end(), matches);
    if (!v.Verify(out.text, sig.signature)) {
      return Status::Corruption("signed note: signature by " + KeyLabel(sig.name, sig.key_id) +
                                " does not verify");
    }
    out.signatures.push_back(std::move(sig));
  }
  if (out.signatures.empty()) {
    return Status::Corruption("signed note: no signature from a known key (" +
                              std::to_string(unknown) + " from unknown keys)");
  }
  return out;
}

std::string Checkpoint::ToText() const {
  std::string out = origin;
  out += '\n';
  out += std::to_string(size);
  out += '\n';
  out += HashToBase64(root);
  out += '\n';
  for (const std::string& ext : extensions) {
    out += ext;
    out += '\n';
  }
  return out;
}

Result<Checkpoint> Checkpoint::Parse(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return Status::InvalidArgument("checkpoint: text does not end in a newline");
  }
  CUSTODY_RETURN_IF_ERROR(CheckNoteBytes("checkpoint", text));
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) {
    return Status::InvalidArgument(
        "checkpoint: want at least 3 lines (origin, size, root hash), "
        "got " +
        std::to_string(lines.size()));
  }
  Checkpoint cp;
  if (lines[0].empty()) return Status::InvalidArgument("checkpoint line 1 (origin): empty");
  cp.origin = std::string(lines[0]);
  if (!ParseSize(lines[1], &cp.size)) {
    return Status::InvalidArgument(
        "checkpoint line 2 (tree size): not a canonical decimal uint64 (digits only, no leading "
        "zeros)");
  }
  auto root = HashFromBase64(lines[2]);
  if (!root.ok()) return root.status().Annotate("checkpoint line 3 (root hash)");
  cp.root = *root;
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return Status::InvalidArgument("checkpoint line " + std::to_string(i + 1) +
                                     " (extension): empty");
    }
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

Result<std::string> SignCheckpoint(const Checkpoint& checkpoint, const SigningKey& key) {
  const std::string text = checkpoint.ToText();
  // A field holding '\n' (or an empty origin or extension) would sign a text
  // that reads back as a different checkpoint.
  auto back = Checkpoint::Parse(text);
  if (!back.ok()) return back.status().Annotate("cannot sign");
  if (!(*back == checkpoint)) {
    return Status::InvalidArgument("cannot sign: a checkpoint field contains a newline");
  }
  return SignNote(text, key);
}

Result<Checkpoint> OpenCheckpoint(std::string_view note, const VerifierKey& key,
                                  std::optional<std::string_view> expected_origin) {
  CUSTODY_ASSIGN_OR_RETURN(SignedNote opened, OpenNote(note, std::span(&key, 1)));
  CUSTODY_ASSIGN_OR_RETURN(Checkpoint cp, Checkpoint::Parse(opened.text));
  if (expected_origin.has_value() && cp.origin != *expected_origin) {
    return Status::InvalidArgument("checkpoint origin \"" + cp.origin +
                                   "\" is not the expected \"" + std::string(*expected_origin) +
                                   "\"");
  }
  return cp;
}

}  // namespace custody::ledger
