#!/usr/bin/env bash
# Adaptive pacing against a limit the client is not told: 60 SMS fired at once through the
# example's embedded stand-in API (a token bucket, burst 1), the client pacing with
# `--adaptive` (politely::Pacer::adaptive(): `--rate` is the stand-in's alone). Four cases, run
# in parallel (each its own stand-in on an ephemeral port):
#
#   no headers      the stand-in at 1 request/s; 429s and Retry-After only
#   ietf headers    the same, stating its limit in RateLimit-Policy / RateLimit
#   x headers       the same, in X-RateLimit-Limit / -Remaining / -Reset
#   limit drops     2 requests/s for 20 s, then 1/s (--rate 2 --rate-schedule 20:1), no headers
#
# Prints one table (elapsed, the ideal time, their ratio, requests, 429s, issue 11's bounds and
# the verdict, the AWS SDK's adaptive mode for reference) and draws each case's send rate over
# time against the server's limit (examples/adaptive_chart) to target/charts/adaptive.svg, or
# to OUT (scripts/charts.sh gives OUT=docs/adaptive.svg).
#
#   scripts/adaptive.sh              # about 1.5 minutes
#   COUNT=30 scripts/adaptive.sh
#   SERIAL=1 scripts/adaptive.sh     # one case after the other (about 4 minutes)
#
# Builds the examples unoptimised (dev profile), as the other scripts do. Exits 1 when a case
# misses its bounds. Uses CARGO_TARGET_DIR if set; leaves each case's output and JSON in
# target/adaptive/.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60}
SERIAL=${SERIAL:-}

cargo build --quiet --example sms --example adaptive_chart
target=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$target/charts/adaptive.svg}
mkdir -p "$(dirname "$OUT")"
sms="$target/debug/examples/sms"
chart="$target/debug/examples/adaptive_chart"
# Each case's output and --stats-json file stay here for a look after the run.
logs="$target/adaptive"
rm -rf "$logs"
mkdir -p "$logs"

cases=(
    "no headers|--rate 1"
    "ietf headers|--rate 1 --rate-headers ietf"
    "x headers|--rate 1 --rate-headers x"
    "2/s, then 1/s from 20 s|--rate 2 --rate-schedule 20:1"
)

run() { # index, label, then the example's flags
    local i=$1 label=$2
    shift 2
    echo "running ($label): sms --adaptive --count $COUNT --burst 1 $*" >&2
    local status=0
    "$sms" --adaptive --count "$COUNT" --burst 1 "$@" --stats-json "$logs/$i.json" \
        >"$logs/$i.out" 2>"$logs/$i.err" || status=$?
    if [ ! -s "$logs/$i.json" ]; then
        echo "$label: no stats (exit status $status)" >&2
        cat "$logs/$i.out" "$logs/$i.err" >&2
        return 1
    fi
}

pids=()
for i in "${!cases[@]}"; do
    label=${cases[$i]%%|*}
    flags=${cases[$i]#*|}
    # shellcheck disable=SC2086 # the flags are words
    if [ -n "$SERIAL" ]; then
        run "$i" "$label" $flags
    else
        run "$i" "$label" $flags &
        pids+=($!)
    fi
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
[ "$failed" = 0 ] || exit 1

for i in "${!cases[@]}"; do
    label=${cases[$i]%%|*}
    grep -E '^(learned rate|at .* take)' "$logs/$i.out" | sed "s#^#    $label: #" >&2
done

args=()
for i in "${!cases[@]}"; do
    args+=("${cases[$i]%%|*}=$logs/$i.json")
done
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $COUNT messages per case, $( [ -n "$SERIAL" ] && echo serial || echo 'the 4 cases in parallel'), dev build:"
"$chart" "$OUT" "${args[@]}"
