// C2SP signed notes and tlog checkpoints.
//
// A signed note (https://c2sp.org/signed-note) is UTF-8 text ending in a
// newline, a blank line, then one or more signature lines
//   "\u2014 <key name> <base64(4-byte key id || signature)>\n"
// A checkpoint (https://c2sp.org/tlog-checkpoint) is the note text
//   "<origin>\n<decimal size>\n<base64 root hash>\n[extension lines\n]"
// custody signs its checkpoints with one Ed25519 key whose name is the origin.
//
// Thread safety: pure functions over values.
#ifndef CUSTODY_LEDGER_CHECKPOINT_H_
#define CUSTODY_LEDGER_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"

namespace custody::ledger {

struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::vector<uint8_t> signature;  // without the 4-byte key id
};

struct SignedNote {
  std::string text;                       // the signed text, ending in '\n'
  std::vector<NoteSignature> signatures;  // in the order they appear
};

// Splits a signed note into text and signature lines, strictly per C2SP:
// valid UTF-8, no '\r' or other control characters but '\n', text ends in
// '\n', a blank line before the signatures, every signature line well formed,
// at most 100 signatures. InvalidArgument saying what is wrong.
Result<SignedNote> ParseNote(std::string_view note);

// The note `text` (which must end in '\n' and be valid note text) signed by
// `key`: text + "\n" + signature line.
Result<std::string> SignNote(std::string_view text, const SigningKey& key);

// Parses and verifies `note` against `verifiers`, with the semantics of
// golang.org/x/mod/sumdb/note.Open: signatures from unknown keys are ignored;
// a signature from a known key that does not verify is an error; at least one
// known key must have signed; a signature whose name and id match more than
// one of `verifiers` is an error (ambiguous key; duplicates that no signature
// names are harmless, as in note.Open). Returns the verified text with the
// verified signatures (repeats dropped) in note order. Corruption for a
// signature that does not verify or no known signer; InvalidArgument for
// malformed input or an ambiguous key.
Result<SignedNote> OpenNote(std::string_view note, std::span<const VerifierKey> verifiers);

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // extra lines, without '\n'

  // The checkpoint text "<origin>\n<size>\n<base64 root>\n<ext>\n...".
  std::string ToText() const;

  // Parses checkpoint text strictly (C2SP tlog-checkpoint): non-empty
  // origin, canonical decimal size (no leading zeros, no sign, fits uint64),
  // canonical base64 of exactly 32 bytes, non-empty extension lines, final
  // newline. InvalidArgument naming the line.
  static Result<Checkpoint> Parse(std::string_view text);

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// Signs `checkpoint` with `key` and returns the whole signed note.
// InvalidArgument when the checkpoint would not parse back to itself (empty
// origin or extension, a field holding '\n', text that is not note text).
Result<std::string> SignCheckpoint(const Checkpoint& checkpoint, const SigningKey& key);

// Verifies a signed checkpoint note with `key` and parses its text. When
// `expected_origin` is given, the origin must equal it (InvalidArgument
// otherwise).
Result<Checkpoint> OpenCheckpoint(std::string_view note, const VerifierKey& key,
                                  std::optional<std::string_view> expected_origin = std::nullopt);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_CHECKPOINT_H_
