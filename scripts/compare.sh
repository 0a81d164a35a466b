#!/usr/bin/env bash
# Side by side, one run: one stand-in Messages API at RATE request/s, burst 1, failing at random
# (30 % accepted then the connection dropped, 10 % answered only after the client's timeout,
# 10 % `500`, 5 % reset before anything is done), and COUNT POSTs fired at once at it by each
# client in turn through examples/fetch:
#
#   reqwest-retry    reqwest-retry's documented ExponentialBackoff, RETRIES retries
#   reqwest built-in reqwest's ClientBuilder::retry for the host: errors, 429 and 5xx retried
#                    up to RETRIES times, within its default budget (20 % extra load)
#   backoff only     politely's middleware, no pacer (expo, full jitter, Retry-After honoured)
#   told the rate    politely's middleware, --rate RATE
#   adaptive         politely's middleware, --adaptive
#
# The politely rows send `--idempotency-key auto` (the middleware adds a key, so a dropped
# POST is retried and the stand-in sends it on once); the other two clients add no key and
# retry POSTs anyway. Each row's counts are the stand-in's (`GET /stats`, before and after):
# requests that reached it, responses 429, messages delivered twice, and messages lost (never
# delivered). Prints a markdown table.
#
#   scripts/compare.sh                 # 60 POSTs at 1 request/s: about 8 to 10 minutes
#   COUNT=20 RATE=2 scripts/compare.sh
#
# Uses CARGO_TARGET_DIR if set; needs curl, jq and openssl (to sign the stand-in's JWT).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60}
RATE=${RATE:-1}
TIMEOUT=${TIMEOUT:-5}
SLOW=${SLOW:-10}
RETRIES=${RETRIES:-5}
MAX_TIME=${MAX_TIME:-120}
SEED=${SEED:-1}
target=${CARGO_TARGET_DIR:-target}

cargo build --quiet -p backoff-standin --bin standin
cargo build --quiet -p examples --example fetch
logs=$(mktemp -d)
standin_pid=
cleanup() {
    if [[ -n $standin_pid ]]; then kill "$standin_pid" 2>/dev/null || true; fi
    if [[ -n ${key:-} ]]; then rm -f "$key"; fi
    rm -rf "$logs"
}
trap cleanup EXIT

faults=(--fault accept-then-drop=0.3 --fault "slow=0.1:$SLOW" --fault 500=0.1 --fault reset=0.05)
"$target/debug/standin" --addr 127.0.0.1:0 --rate "$RATE" --burst 1 "${faults[@]}" \
    --fault-seed "$SEED" >"$logs/standin.out" 2>&1 &
standin_pid=$!
for _ in $(seq 100); do
    grep -q 'stand-in Messages API at' "$logs/standin.out" && break
    sleep 0.1
done
url=$(sed -n 's/.*stand-in Messages API at \(http:[^ ]*\).*/\1/p' "$logs/standin.out")
key=$(sed -n 's/^VONAGE_PRIVATE_KEY=//p' "$logs/standin.out")
app=$(sed -n 's/^VONAGE_APPLICATION_ID=//p' "$logs/standin.out")
if [[ -z $url || -z $key ]]; then
    echo "the stand-in did not start:" >&2
    cat "$logs/standin.out" >&2
    exit 1
fi
grep 'stand-in Messages API at' "$logs/standin.out" >&2

# The stand-in's RS256 application JWT, valid for an hour.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
claims=$(printf '{"application_id":"%s","iat":%d,"exp":%d,"jti":"compare"}' \
    "$app" "$now" $((now + 3600)) | b64url)
signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$key" | b64url)
token="$header.$claims.$signature"

stat() { curl -fsS "$url/stats" | jq -r "[.requests, .throttled, .delivered, .duplicates] | @tsv"; }

rows=()
run() { # label, tag (distinct texts per row), then fetch's flags
    local label=$1 tag=$2
    shift 2
    local data
    data=$(printf '{"from":{"type":"sms","number":"15550100"},"to":{"type":"sms","number":"155502{i}00"},"message":{"content":{"type":"text","text":"%s {i}"}}}' "$tag")
    local before after
    before=$(stat)
    echo "running: fetch --count $COUNT --timeout $TIMEOUT $* URL" >&2
    local status=0
    "$target/debug/examples/fetch" --count "$COUNT" --timeout "$TIMEOUT" --data "$data" \
        --header "Authorization: Bearer $token" --header 'Content-Type: application/json' \
        "$@" "$url/v0.1/messages" >"$logs/$tag.out" 2>"$logs/$tag.err" || status=$?
    local summary
    summary=$(grep '^summary:' "$logs/$tag.out" || true)
    if [[ -z $summary ]]; then
        echo "$label: no summary (exit status $status)" >&2
        cat "$logs/$tag.err" >&2
        exit 1
    fi
    echo "    $summary" >&2
    # The replies delayed past the timeout land later: let them, and the bucket refill.
    sleep $((SLOW + 2))
    after=$(stat)
    local elapsed failed
    elapsed=$(sed -n 's/.*elapsed_s=\([0-9.]*\).*/\1/p' <<<"$summary")
    failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$summary")
    rows+=("$(paste <(echo "$before" | tr '\t' '\n') <(echo "$after" | tr '\t' '\n') |
        awk -v label="$label" -v elapsed="$elapsed" -v failed="$failed" -v count="$COUNT" '
        { d[NR] = $2 - $1 }
        END {
            # d: requests, 429s, deliveries, deliveries beyond the first
            printf "| %s | %.1f | %d | %d | %d | %d | %d |", label, elapsed, d[1], d[2], d[4],
                count - (d[3] - d[4]), failed
        }')")
}

run "reqwest-retry 0.9 (\`ExponentialBackoff\`, $RETRIES retries)" retry \
    --client reqwest-retry --max-retries "$RETRIES"
run "reqwest 0.13 built-in retry ($RETRIES retries)" builtin \
    --client reqwest-builtin --max-retries "$RETRIES"
run "politely, backoff only" backoff --idempotency-key auto --max-time "$MAX_TIME"
run "politely, told the rate (\`--rate $RATE\`)" paced \
    --idempotency-key auto --max-time "$MAX_TIME" --rate "$RATE"
run "politely, adaptive (\`--adaptive\`)" adaptive \
    --idempotency-key auto --max-time "$MAX_TIME" --adaptive

echo
echo "$COUNT POSTs at once; stand-in: $RATE request/s, burst 1; faults: accept-then-drop 30 %," \
    "slow ${SLOW} s 10 %, 500 10 %, reset 5 % (seed $SEED); client timeout ${TIMEOUT} s"
echo
echo "| client | elapsed s | requests | responses 429 | delivered twice | lost | failed (client) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
