#!/usr/bin/env python3
"""An independent verifier for custody export bundles.

Written from docs/ledger-format.md alone (no custody code), with the Python 3
standard library only: hashlib for SHA-256/SHA-512 and a pure-Python Ed25519
verifier (RFC 8032 section 5.1.7) for the checkpoint signatures.

    python3 verify_bundle.py --key VERIFIER_KEY [--trusted-checkpoint FILE] BUNDLE_DIR
    python3 verify_bundle.py --key-file log.pub BUNDLE_DIR
    python3 verify_bundle.py --self-test

It checks, as section 6 of the format says: every checkpoint's signature and
strict form; every entry's canonical JSON form and members; seq without gaps;
the prev hash chain; that every access decision names an earlier policy
entry; the Merkle root at every checkpoint size; no checkpoint beyond the
log and none short of it (the newest must cover every entry, and log.json's
size must be the bundle's); and consistency with a trusted checkpoint from an
earlier audit. Signed notes are parsed as strictly as custody does (C2SP: no
control characters, at most 100 signatures, only the first signature by the
key counts). A
bundle that starts after seq 0 (log.json "first_seq") is checked from there on:
its "prefix" compact range seeds the tree and its earlier policy entries must
come with inclusion proofs (section 5).

Exit status: 0 valid, 1 invalid (the first failure is printed with its seq or
checkpoint), 2 usage or I/O error. It is much slower than custody-verify (about
ten thousand entries per second); it exists to show the format is enough.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import sys

# ---------------------------------------------------------------------------
# Ed25519 signature verification, RFC 8032 section 5.1 (reference arithmetic
# in extended homogeneous coordinates). Verification only: no secrets here,
# so constant time does not matter.

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _point_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa = (y1 - x1) * (y2 - x2) % _P
    pb = (y1 + x1) * (y2 + x2) % _P
    pc = t1 * 2 * _D * t2 % _P
    pd = z1 * 2 * z2 % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(s, p):
    q = (0, 1, 1, 0)  # the neutral element
    while s > 0:
        if s & 1:
            q = _point_add(q, p)
        p = _point_add(p, p)
        s >>= 1
    return q


def _point_equal(a, b):
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _point_decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G = (_recover_x(_G_Y, 0), _G_Y, 1, _recover_x(_G_Y, 0) * _G_Y % _P)


def ed25519_verify(public_key, message, signature):
    """True when `signature` is a valid Ed25519 signature of `message`."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _point_decompress(public_key)
    r = _point_decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    return _point_equal(_point_mul(s, _G), _point_add(r, _point_mul(h, a)))


# ---------------------------------------------------------------------------
# Keys and signed notes (section 3; C2SP signed-note).


class Invalid(Exception):
    """A verification failure: `where` is "seq N", "checkpoint NAME" or None."""

    def __init__(self, where, reason):
        super().__init__(reason)
        self.where = where
        self.reason = reason


class UsageError(Exception):
    pass


def b64decode_strict(text):
    """Standard padded base64, canonical only (re-encoding gives `text`)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def key_id(name, public_key):
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + b"\x01" + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def parse_verifier_key(text):
    """"<name>+<8 hex>+<base64(0x01 || 32-byte key)>" -> (name, id, key)."""
    # The name has no '+'; the base64 key may well contain some.
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise UsageError("verifier key must be <name>+<hex key id>+<base64 key>")
    name, hex_id, b64 = parts
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise UsageError("verifier key id must be 8 hex digits")
    raw = b64decode_strict(b64)
    if raw is None or len(raw) != 33 or raw[0] != 0x01:
        raise UsageError("verifier key must hold base64 of 0x01 and a 32-byte Ed25519 key")
    public_key = raw[1:]
    if key_id(name, public_key) != int(hex_id, 16):
        raise UsageError("verifier key id does not match its name and key")
    return name, int(hex_id, 16), public_key


_MAX_SIGNATURES = 100  # C2SP signed-note / golang.org/x/mod/sumdb/note


def open_note(note, key):
    """Verifies a signed note with `key`; returns its text (str)."""
    name, kid, public_key = key
    # C2SP: a note is UTF-8 text with no control character but '\n'. (UTF-8
    # multi-byte sequences hold no byte below 0x80, so byte offsets are exact.)
    for at, b in enumerate(note.encode("utf-8")):
        if b < 0x20 and b != 0x0A:
            raise ValueError("control character 0x%02x at byte %d (only UTF-8 text and '\\n' "
                             "are allowed)" % (b, at))
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("not a signed note (no blank line before the signatures)")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs.endswith("\n"):
        raise ValueError("signature block does not end in a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise ValueError("more than %d signatures" % _MAX_SIGNATURES)
    verified = False
    others = []
    for line in lines:
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m:
            raise ValueError("malformed signature line %r" % line)
        raw = b64decode_strict(m.group(2))
        if raw is None or len(raw) < 5:
            raise ValueError("malformed signature on line %r" % line)
        if m.group(1) != name or int.from_bytes(raw[:4], "big") != kid:
            others.append("%s+%08x" % (m.group(1), int.from_bytes(raw[:4], "big")))
            continue  # another signer: ignored, as note.Open does
        if verified:
            continue  # a repeated signature by the key: only the first one counts, as note.Open
        if not ed25519_verify(public_key, text.encode("utf-8"), raw[4:]):
            raise ValueError("the signature by %s does not verify" % name)
        verified = True
    if not verified:
        raise ValueError("no signature by %s+%08x (signed by %s)"
                         % (name, kid, ", ".join(others) or "nobody"))
    return text


def parse_checkpoint(text, origin):
    """Strict tlog-checkpoint text -> (size, root bytes)."""
    if not text.endswith("\n"):
        raise ValueError("checkpoint text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("checkpoint has fewer than 3 lines")
    if lines[0] != origin:
        raise ValueError("origin %r is not the key's name %r" % (lines[0], origin))
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]) or int(lines[1]) >= 2**64:
        raise ValueError("size %r is not a canonical decimal" % lines[1])
    root = b64decode_strict(lines[2])
    if root is None or len(root) != 32:
        raise ValueError("root is not canonical base64 of 32 bytes")
    if any(not ext for ext in lines[3:]):
        raise ValueError("empty extension line")
    return int(lines[1]), root


# ---------------------------------------------------------------------------
# Canonical JSON (section 1: RFC 8785 as custody writes it).

_MAX_SAFE = 2**53 - 1
_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def _canon_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif c < 0x20:
            out.append(_SHORT_ESCAPES.get(c, "\\u%04x" % c))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if not -_MAX_SAFE <= value <= _MAX_SAFE:
            raise ValueError("integer %d is outside +-(2^53-1)" % value)
        return str(value)
    if isinstance(value, str):
        return _canon_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_canon_string(k) + ":" + canonical(value[k]) for k in keys) + "}"
    raise ValueError("unsupported JSON value")


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate member %r" % k)
        obj[k] = v
    return obj


def _no_fractions(text):
    raise ValueError("number %s is not an integer" % text)


def _no_constants(text):
    raise ValueError("%s is not JSON" % text)


def parse_entry(line):
    """Parses entry bytes and checks that they are the canonical form."""
    try:
        text = line.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_fractions,
                           parse_constant=_no_constants)
        again = canonical(value).encode("utf-8")
    except (UnicodeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise ValueError("not canonical JSON: %s" % e)
    if again != line:
        raise ValueError("not in canonical form (RFC 8785): re-encoding changes the bytes")
    return value


# ---------------------------------------------------------------------------
# The tree (section 2): a compact range of perfect-subtree roots.


def leaf_hash(entry_bytes):
    return hashlib.sha256(b"\x00" + entry_bytes).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class CompactRange:
    def __init__(self, size=0, hashes=()):
        # [(leaf count, hash)], largest subtree first: one per set bit of size.
        counts = [1 << b for b in reversed(range(size.bit_length())) if size >> b & 1]
        if len(counts) != len(hashes):
            raise ValueError("a compact range of %d leaves has %d hashes, not %d"
                             % (size, len(counts), len(hashes)))
        self.stack = list(zip(counts, hashes))

    def append(self, leaf):
        self.stack.append((1, leaf))
        while len(self.stack) >= 2 and self.stack[-1][0] == self.stack[-2][0]:
            (n, right), (_, left) = self.stack.pop(), self.stack.pop()
            self.stack.append((2 * n, node_hash(left, right)))

    def root(self):
        if not self.stack:
            return hashlib.sha256(b"").digest()
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = node_hash(left, h)
        return h


# ---------------------------------------------------------------------------
# The bundle (sections 5 and 6).

_MEMBERS = {"body", "kind", "prev", "producer", "received_at", "seq", "v"}


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def check_entry(i, entry, prev_hash, policies, first=0):
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    members = set(entry)
    expected = _MEMBERS | ({"decision"} if entry.get("kind") == "access" else set())
    if members != expected:
        missing, extra = expected - members, members - expected
        raise ValueError("members differ from the format: missing %s, unexpected %s"
                         % (sorted(missing) or "none", sorted(extra) or "none"))
    if entry["v"] != 1 or isinstance(entry["v"], bool):
        raise ValueError("v is not 1")
    for name in ("kind", "prev", "producer", "received_at"):
        if not isinstance(entry[name], str):
            raise ValueError("%s is not a string" % name)
    if not isinstance(entry["body"], dict):
        raise ValueError("body is not an object")
    seq = entry["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("seq is not an integer")
    if seq != i:
        raise ValueError("line %d holds seq %d, expected %d: entries are missing, duplicated or "
                         "out of order" % (i - first + 1, seq, i))
    # The first entry of a bundle that starts later names an entry outside it.
    if prev_hash is not None and entry["prev"] != base64.b64encode(prev_hash).decode("ascii"):
        if i == 0:
            raise ValueError("entry 0's prev is not SHA-256 of the empty string")
        raise Invalid("seq %d" % (i - 1), "entry %d does not hash to the prev recorded in entry %d "
                      "(entry %d or that prev was altered)" % (i - 1, i, i - 1))
    if entry["kind"] == "policy":
        sha = entry["body"].get("sha256")
        if isinstance(sha, str):
            policies.add(sha)
    elif entry["kind"] == "access":
        decision = entry["decision"]
        sha = decision.get("policy_sha256") if isinstance(decision, dict) else None
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ValueError("access entry has no decision.policy_sha256")
        if sha not in policies:
            raise ValueError("decision names policy %s, which no earlier policy entry recorded" % sha)
        hits = decision.get("hits")
        return len(hits) if isinstance(hits, list) else 0
    return 0


def read_entries(path, first=0):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        n = data.count(b"\n")
        raise Invalid("seq %d" % (first + n), "entries.ndjson line %d has no final newline "
                                              "(truncated?)" % (n + 1))
    return data.split(b"\n")[:-1] if data else []


def read_prefix(bundle):
    """(log.json size or None, first_seq, CompactRange of the entries before it,
    [(seq, entry bytes, proof)])."""
    path = os.path.join(bundle, "log.json")
    if not os.path.exists(path):
        return None, 0, CompactRange(), []
    with open(path, "rb") as f:
        try:
            log = json.loads(f.read().decode("utf-8"))
        except ValueError as e:
            raise UsageError("%s is not JSON: %s" % (path, e))
    size = log.get("size") if isinstance(log, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UsageError('%s: "size" must be a non-negative integer' % path)
    first = log.get("first_seq", 0)
    if first == 0:
        return size, 0, CompactRange(), []
    try:
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise ValueError("first_seq is not a count")
        rng = CompactRange(first, [b64decode_strict(h) for h in log["prefix"]])
        proofs = [(p["seq"], [b64decode_strict(h) for h in p["proof"]])
                  for p in log["prior_policies"]]
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise Invalid(None, "log.json prefix: %s" % e)
    lines = read_entries(os.path.join(bundle, "prior-policies.ndjson"))
    if len(lines) != len(proofs):
        raise Invalid(None, "prior-policies.ndjson has %d lines, log.json lists %d prior policies"
                      % (len(lines), len(proofs)))
    return size, first, rng, [(seq, line, proof) for line, (seq, proof) in zip(lines, proofs)]


def verify_bundle(bundle, key, trusted_note=None):
    """Returns a summary dict; raises Invalid on the first failure."""
    name = key[0]
    checkpoints = {}  # size -> [file names]
    cp_dir = os.path.join(bundle, "checkpoints")
    if not os.path.isdir(bundle):
        raise UsageError("%s is not a directory" % bundle)
    # No checkpoints/ is a verdict (nothing signed covers the entries), below.
    files = []
    if os.path.isdir(cp_dir):
        files = sorted(f for f in os.listdir(cp_dir) if os.path.isfile(os.path.join(cp_dir, f)))
    roots = {}
    for f in files:
        where = "checkpoint checkpoints/" + f
        with open(os.path.join(cp_dir, f), "rb") as fh:
            raw = fh.read()
        try:
            size, root = parse_checkpoint(open_note(raw.decode("utf-8"), key), name)
        except (UnicodeError, ValueError) as e:
            raise Invalid(where, "signature or format invalid: %s" % e)
        checkpoints.setdefault(size, []).append((where, root))
    trusted = None
    if trusted_note is not None:
        try:
            trusted = parse_checkpoint(open_note(trusted_note, key), name)
        except ValueError as e:
            raise Invalid("checkpoint trusted", "trusted checkpoint does not verify: %s" % e)

    log_size, first, rng, prior = read_prefix(bundle)
    entries = read_entries(os.path.join(bundle, "entries.ndjson"), first)
    n = first + len(entries)
    for size in sorted(checkpoints):
        if size < first:
            raise Invalid(checkpoints[size][0][0], "checkpoint covers %d entries but the bundle "
                          "starts at seq %d" % (size, first))
    if trusted is not None and trusted[0] < first:
        raise UsageError("the trusted checkpoint covers %d entries but the bundle starts at seq %d"
                         % (trusted[0], first))
    policies, kinds = set(), {}
    for k, (seq, line, _) in enumerate(prior):
        try:
            entry = parse_entry(line)
            if entry.get("kind") != "policy" or entry.get("seq") != seq or seq >= first:
                raise ValueError("not a policy entry with seq %s before seq %d" % (seq, first))
            check_entry(seq, entry, None, policies)
        except ValueError as e:
            raise Invalid("seq %s" % seq, "prior-policies.ndjson line %d: %s" % (k + 1, e))

    def check_roots(size, rng):
        wanted = size in checkpoints or (trusted is not None and trusted[0] == size)
        if not wanted:
            return
        root = rng.root()
        for where, signed_root in checkpoints.get(size, []):
            if signed_root != root:
                raise Invalid(where, "root at size %d does not match the checkpoint: the entries "
                                     "differ from what was signed (a rewritten log or a fork)" % size)
        if trusted is not None and trusted[0] == size and trusted[1] != root:
            raise Invalid("checkpoint trusted", "the log is not consistent with the trusted "
                                                "checkpoint at size %d (a fork or rewritten history)"
                          % size)

    prev = hashlib.sha256(b"").digest() if first == 0 else None
    alerts = 0
    check_roots(first, rng)
    for i, line in enumerate(entries, first):
        try:
            entry = parse_entry(line)
            alerts += check_entry(i, entry, prev, policies, first)
        except ValueError as e:
            raise Invalid("seq %d" % i, str(e))
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
        prev = leaf_hash(line)
        rng.append(prev)
        check_roots(i + 1, rng)
    # After the walk, so that a gap inside the log is named at its own seq.
    for size in sorted(checkpoints):
        if size > n:
            where = checkpoints[size][0][0]
            raise Invalid(where, "checkpoint covers %d entries but the log ends at %d: entries are "
                                 "missing (truncated)" % (size, n))
    if trusted is not None and trusted[0] > n:
        raise Invalid("checkpoint trusted", "the log has %d entries but the trusted checkpoint covers "
                                            "%d: the log was truncated or rolled back"
                      % (n, trusted[0]))
    if n > 0 and not checkpoints:
        raise Invalid(None, "no signed checkpoint covers the log")
    # Section 5: the bundle holds the checkpoint for its size. Entries after
    # the newest one are vouched for by no signature.
    newest = max(checkpoints) if checkpoints else 0
    if newest < n:
        raise Invalid("seq %d" % newest, "entries %d..%d are not covered by any signed checkpoint "
                                         "(the newest covers %d)" % (newest, n - 1, newest))
    root = rng.root()
    for k, (seq, line, proof) in enumerate(prior):
        if not verify_inclusion(seq, n, leaf_hash(line), proof, root):
            raise Invalid("seq %d" % seq, "prior-policies.ndjson line %d: the policy entry is not in "
                          "the log: its inclusion proof does not lead to the root at size %d"
                          % (k + 1, n))
    if log_size is not None and log_size != n:
        raise Invalid("seq %d" % min(n, log_size),
                      "log.json says the log has %d entries but the bundle holds %d (entries.ndjson "
                      "and checkpoints/ were cut or extended, or log.json was altered)"
                      % (log_size, n))
    return {
        "first_seq": first,
        "entries": n - first,
        "checkpoints": sum(len(v) for v in checkpoints.values()),
        "latest_checkpoint_size": max(checkpoints) if checkpoints else 0,
        "kinds": kinds,
        "policies": kinds.get("policy", 0),
        "prior_policies": len(prior),
        "alerts": alerts,
        "root": base64.b64encode(rng.root()).decode("ascii"),
    }


# ---------------------------------------------------------------------------
# Self-test against published vectors.


def self_test():
    # RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2.
    vectors = [
        ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
         "39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
         "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ]
    for pk, msg, sig in vectors:
        pk, msg, sig = bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)
        assert ed25519_verify(pk, msg, sig), "RFC 8032 vector rejected"
        bad = bytearray(sig)
        bad[10] ^= 1
        assert not ed25519_verify(pk, msg, bytes(bad)), "altered signature accepted"
    # golang.org/x/mod/sumdb/note's example note.
    key = parse_verifier_key("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    # A key whose base64 holds '+' (split on the first two '+' only): sum.golang.org's.
    assert parse_verifier_key("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8"
                              "OuAn8")[1] == 0x033DE0AE
    note = ("If you think cryptography is the answer to your problem,\n"
            "then you don't know what your problem is.\n\n"
            "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
            "qfqdngotpRZb6KE6RyyBwJnAM=\n")
    assert open_note(note, key).startswith("If you think")
    sig_line = note[note.rindex("\u2014"):]
    bad_line = sig_line[:40] + ("B" if sig_line[40] == "A" else "A") + sig_line[41:]  # not the id

    def rejected(text, why):
        try:
            open_note(text, key)
        except ValueError as e:
            assert why in str(e), "%s: %s" % (why, e)
            return
        raise AssertionError("accepted a note that must fail: " + why)

    rejected(note.replace("problem,", "problem;"), "does not verify")
    # The note rules custody's parser (C2SP signed-note) applies.
    rejected(note + sig_line * 100, "more than 100 signatures")
    rejected(note.replace("answer", "ans\rwer"), "control character 0x0d")
    rejected(note + "\u2014 other\x01 " + sig_line.split(" ")[2], "control character 0x01")
    # A repeated signature by the key: only the first one counts.
    assert open_note(note + bad_line, key).startswith("If you think")
    rejected(note[: note.rindex("\u2014")] + bad_line + sig_line, "does not verify")
    assert open_note(note + sig_line * 99, key).startswith("If you think")
    # RFC 6962 trees: the empty tree, and a root built two ways.
    assert CompactRange().root().hex() == hashlib.sha256(b"").hexdigest()
    rng = CompactRange()
    leaves = [leaf_hash(bytes([i])) for i in range(7)]
    for leaf in leaves:
        rng.append(leaf)

    def mth(ls):
        if len(ls) == 1:
            return ls[0]
        k = 1
        while k * 2 < len(ls):
            k *= 2
        return node_hash(mth(ls[:k]), mth(ls[k:]))

    assert rng.root() == mth(leaves)
    # Canonical JSON: sorted by UTF-16 code units, escapes as the format says.
    assert canonical({"b": 1, "a": [True, None, "x\u0001\n/\u007f"], "\U0001F600": 0, "\uffff": 1}) \
        == '{"a":[true,null,"x\\u0001\\n/\u007f"],"b":1,"\U0001F600":0,"\uffff":1}'
    print("self-test OK")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--key", help="verifier key <name>+<hex id>+<base64 key>")
    ap.add_argument("--key-file", help="file holding the verifier key")
    ap.add_argument("--trusted-checkpoint", help="signed checkpoint from an earlier audit")
    ap.add_argument("--json", action="store_true", help="print a JSON report")
    ap.add_argument("--self-test", action="store_true", help="check the crypto against vectors")
    ap.add_argument("bundle", nargs="?", help="export bundle directory")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    try:
        if (args.key is None) == (args.key_file is None) or args.bundle is None:
            raise UsageError("give BUNDLE_DIR and exactly one of --key or --key-file")
        key_text = args.key
        if args.key_file:
            with open(args.key_file, encoding="utf-8") as f:
                key_text = f.read()
        key = parse_verifier_key(key_text)
        trusted = None
        if args.trusted_checkpoint:
            with open(args.trusted_checkpoint, "rb") as f:
                trusted = f.read().decode("utf-8")
        report = verify_bundle(args.bundle, key, trusted)
    except (UsageError, OSError, UnicodeError) as e:
        print("verify_bundle.py: %s" % e, file=sys.stderr)
        return 2
    except Invalid as e:
        if args.json:
            print(json.dumps({"valid": False, "where": e.where, "reason": e.reason}))
        else:
            print("FAIL: %s%s" % ("" if e.where is None else e.where + ": ", e.reason))
        return 1
    if args.json:
        report["valid"] = True
        print(json.dumps(report, sort_keys=True))
    else:
        span = prior = ""
        if report["first_seq"] > 0 and report["entries"] > 0:
            span = " (seq %d..%d)" % (report["first_seq"],
                                      report["first_seq"] + report["entries"] - 1)
        if report["prior_policies"] > 0:
            prior = " (+%d before the bundle)" % report["prior_policies"]
        print(("OK: %(entries)d entries" + span + ", %(checkpoints)d checkpoints (latest covers "
               "%(latest_checkpoint_size)d), %(policies)d policies" + prior +
               ", %(alerts)d alerts, root %(root)s") % report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
