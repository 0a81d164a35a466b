#!/usr/bin/env bash
# Nothing lost, nothing sent twice: sends one batch of SMS through the example's embedded
# stand-in API while it loses answers, resets connections and answers late or with 500, and
# prints the client's and the server's counts side by side.
#
#   scripts/faults.sh                 # 200 messages, 30 % accept-then-drop, 10 % slow past the
#                                     # timeout, 10 % 500, 5 % reset (seed 8): a minute or two
#   COUNT=50 SEED=3 scripts/faults.sh
#
# The example runs with its default retry policy (expo from 1 s, full jitter, 300 s budget),
# paced to the stand-in's RATE (100) requests/s, IN_FLIGHT (20) messages at a time, with a
# TIMEOUT (2 s) request timeout; a slow reply comes after SLOW (3) s. Exits 1 unless every
# message is on the server exactly once and the example exits 0. Uses CARGO_TARGET_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-200}
SEED=${SEED:-8}
RATE=${RATE:-100}
IN_FLIGHT=${IN_FLIGHT:-20}
TIMEOUT=${TIMEOUT:-2}
SLOW=${SLOW:-3}
flags=(--count "$COUNT" --rate "$RATE" --burst 1 --concurrency "$IN_FLIGHT" --timeout "$TIMEOUT"
    --fault accept-then-drop=0.3 --fault "slow=0.1:$SLOW" --fault 500=0.1 --fault reset=0.05
    --fault-seed "$SEED")

cargo build --quiet --example sms
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "running: cargo run --example sms -- ${flags[*]}" >&2
status=0
cargo run --quiet --example sms -- "${flags[@]}" >"$out" 2>/dev/null || status=$?
sed 's/^/    /' "$out" >&2

summary=$(grep '^summary:' "$out") || { echo "no summary (exit status $status)" >&2; exit 1; }
server=$(grep '^stand-in: .* requests, ' "$out")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$summary"; }
sent=$(sed -n 's/^summary: sent=\([0-9]*\) of .*/\1/p' <<<"$summary")
attempts=$(field attempts)
replays=$(field replays)
elapsed=$(field elapsed_s)
requests=$(sed -n 's/^stand-in: \([0-9]*\) requests,.*/\1/p' <<<"$server")
delivered=$(sed -n 's/.*; \([0-9]*\) messages delivered.*/\1/p' <<<"$server")
duplicates=$(sed -n 's/.* messages delivered (\([0-9]*\) duplicates.*/\1/p' <<<"$server")
faults=$(sed -n 's/.*faults: \(.*\), [0-9]* dropped connections.*/\1/p' <<<"$server")
lost=$((COUNT - delivered))

echo
echo "$COUNT messages, $IN_FLIGHT in flight, through 30 % accept-then-drop, 10 % slow ($SLOW s, past the $TIMEOUT s timeout),"
echo "10 % 500 and 5 % reset, seed $SEED ($(date -u '+%Y-%m-%d %H:%M UTC')); faults met: $faults"
echo
echo "| messages | requests sent | requests on the server | deliveries on the server | duplicates | lost | replays seen | summary | exit | elapsed |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
echo "| $COUNT | $attempts | $requests | $delivered | $duplicates | $lost | $replays | sent=$sent of $COUNT | $status | ${elapsed} s |"
if [[ $status -ne 0 || $lost -ne 0 || $duplicates -ne 0 || $sent -ne $COUNT || $delivered -ne $COUNT ]]; then
    echo "FAILED: something was lost or sent twice" >&2
    exit 1
fi
