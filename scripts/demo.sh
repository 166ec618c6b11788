#!/usr/bin/env bash
# The main job: build custody, start custodyd on an embedded default data dir
# (build/release/demo, 127.0.0.1:7411), and walk through what it is for:
# events in, a boundary alert out, a proof, an export verified offline.
#
#   scripts/demo.sh            run the demo, then stop custodyd
#   scripts/demo.sh --serve    run the demo and keep custodyd in the foreground
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SERVE=0
[[ "${1:-}" == "--serve" ]] && SERVE=1

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target custodyd custodyctl custody-verify

BIN=$ROOT/build/release
DEMO=$BIN/demo
PORT=${CUSTODY_DEMO_PORT:-7411}
mkdir -p "$DEMO/home"

# Demo tokens, printed below; only their SHA-256 goes into the config.
PRODUCER_TOKEN=demo-producer-token
READER_TOKEN=demo-reader-token
ADMIN_TOKEN=demo-admin-token
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

cat > "$DEMO/custodyd.toml" <<TOML
# Written by scripts/demo.sh: a loopback-only custodyd with demo tokens.
listen = "127.0.0.1:$PORT"
data_dir = "$DEMO/data"
origin = "demo.custody.example/log"
policy = "$ROOT/docs/examples/boundaries.toml"
log_level = "info"

[[token]]
name = "chat-platform"
role = "producer"
sha256 = "$(sha $PRODUCER_TOKEN)"

[[token]]
name = "investigator"
role = "reader"
sha256 = "$(sha $READER_TOKEN)"

[[token]]
name = "dpo"
role = "admin"
sha256 = "$(sha $ADMIN_TOKEN)"
TOML

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting custodyd (config $DEMO/custodyd.toml, data $DEMO/data)"
"$BIN/daemon/custodyd" --config "$DEMO/custodyd.toml" 2> "$DEMO/custodyd.log" &
DAEMON=$!
trap 'kill -TERM $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  HOME="$DEMO/home" "$BIN/client/custodyctl/custodyctl" --server "http://127.0.0.1:$PORT" status >/dev/null 2>&1 && break
  kill -0 $DAEMON 2>/dev/null || { echo "custodyd failed to start:"; cat "$DEMO/custodyd.log"; exit 1; }
  sleep 0.1
done
echo "producer token: $PRODUCER_TOKEN   reader token: $READER_TOKEN   admin token: $ADMIN_TOKEN"
grep -m1 -i "verifier key" "$DEMO/custodyd.log" || true

# custodyctl remembers the last checkpoint it saw (to detect forks and
# rollbacks) under ~/.config/custody; the demo keeps its own beside its data.
ctl() { HOME="$DEMO/home" "$BIN/client/custodyctl/custodyctl" --server "http://127.0.0.1:$PORT" "$@"; }

step "the DPO registers an approval (IE support may read US contact data)"
CUSTODY_TOKEN=$ADMIN_TOKEN ctl approvals add docs/examples/demo-approvals.json || true
CUSTODY_TOKEN=$READER_TOKEN ctl approvals list

step "the chat platform, CRM and analytics jobs report five accesses"
CUSTODY_TOKEN=$PRODUCER_TOKEN ctl send docs/examples/demo-events.ndjson

step "alerts: demo-02 pasted a driver's licence into a chat channel seen by 4,200 staff"
CUSTODY_TOKEN=$READER_TOKEN ctl alerts
grep -i "gov-id-in-chat" "$DEMO/custodyd.log" | head -2 || true

step "an investigator asks who touched user:70002"
CUSTODY_TOKEN=$READER_TOKEN ctl query --subject user:70002

step "the latest signed checkpoint, and a proof that demo-02 is in the log"
ctl checkpoint
SEQ=$(CUSTODY_TOKEN=$READER_TOKEN ctl query --subject user:70002 -o json |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["events"][0]["seq"])')
ctl prove "$SEQ"

step "export the ledger and verify it offline with the public key alone"
rm -rf "$DEMO/bundle"
ctl export --out "$DEMO/bundle"
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verifier_key"])' "$DEMO/bundle/log.json")
"$BIN/client/custody-verify" --key "$KEY" "$DEMO/bundle"

step "a month later: export only what is new and prove it extends the audited log"
# (event ids made unique per run: the demo's data dir outlives a run, and a
# resent event is only a duplicate)
RUN=$(date +%Y%m%dT%H%M%S)
sed "s/\"event_id\":\"\(demo-0[0-9]\)\"/\"event_id\":\"\1-$RUN\"/" docs/examples/demo-later.ndjson |
  CUSTODY_TOKEN=$PRODUCER_TOKEN ctl send -
AUDITED=$(ls "$DEMO/bundle/checkpoints" | tail -1)
FROM=$((10#${AUDITED%.txt}))
rm -rf "$DEMO/bundle-2"
ctl export --out "$DEMO/bundle-2" --from "$FROM" --trusted "$DEMO/bundle/checkpoints/$AUDITED"
"$BIN/client/custody-verify" --key "$KEY" --trusted-checkpoint "$DEMO/bundle/checkpoints/$AUDITED" "$DEMO/bundle-2"

if [[ $SERVE == 1 ]]; then
  step "custodyd keeps running on http://127.0.0.1:$PORT (Ctrl-C to stop)"
  wait $DAEMON
fi
