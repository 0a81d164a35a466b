#!/usr/bin/env bash
# Adaptive pacing against a limit the client is not told: 60 SMS fired at once through the
# example's embedded stand-in API (a token bucket, burst 1), the client pacing with
# `--adaptive` (politely::Pacer::adaptive(): `--rate` is the stand-in's alone), and through
# nginx's `limit_req` in front of a stand-in that enforces nothing (`standin --nginx LIMIT`, as
# scripts/realworld.sh runs it). Six cases, run in parallel (each its own stand-in on an
# ephemeral port):
#
#   no headers      the stand-in at 1 request/s; 429s and Retry-After only
#   ietf headers    the same, stating its limit in RateLimit-Policy / RateLimit
#   x headers       the same, in X-RateLimit-Limit / -Remaining / -Reset
#   limit drops     2 requests/s for 20 s, then 1/s (--rate 2 --rate-schedule 20:1), no headers
#   nginx 1r/s      limit_req rate=1r/s: no Retry-After, no headers
#   nginx burst=5   limit_req rate=1r/s burst=5 nodelay: 6 at once from rest (--burst 6 for
#                   the ideal: the stand-in's burst counts what passes at once)
#
# The nginx cases need nginx (NGINX, PATH or /usr/sbin/nginx) and curl; without them they are
# skipped with a line on stderr. Their requests and 429s are nginx's access log's.
#
# Prints one table (elapsed, the ideal time, their ratio, requests, 429s, the goals' bounds and
# the verdict, the AWS SDK's adaptive mode for reference) and draws each case's send rate over
# time against the server's limit (examples/adaptive_chart) to target/charts/adaptive.svg, or
# to OUT (scripts/charts.sh gives OUT=docs/adaptive.svg).
#
#   scripts/adaptive.sh              # about 1.5 minutes
#   COUNT=30 scripts/adaptive.sh
#   SERIAL=1 scripts/adaptive.sh     # one case after the other (about 6 minutes)
#
# Builds the examples unoptimised (dev profile), as the other scripts do. Exits 1 when a case
# misses its bounds. Uses CARGO_TARGET_DIR if set; leaves each case's output and JSON in
# target/adaptive/.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60}
SERIAL=${SERIAL:-}

cargo build --quiet --example sms --example adaptive_chart
cargo build --quiet -p backoff-standin --bin standin
target=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$target/charts/adaptive.svg}
mkdir -p "$(dirname "$OUT")"
sms="$target/debug/examples/sms"
standin="$target/debug/standin"
chart="$target/debug/examples/adaptive_chart"
# Each case's output and --stats-json file stay here for a look after the run.
logs="$target/adaptive"
rm -rf "$logs"
mkdir -p "$logs"

# label|nginx limit_req (or -)|the example's flags
cases=(
    "no headers|-|--rate 1"
    "ietf headers|-|--rate 1 --rate-headers ietf"
    "x headers|-|--rate 1 --rate-headers x"
    "2/s, then 1/s from 20 s|-|--rate 2 --rate-schedule 20:1"
)
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ -x "$nginx_bin" ] && command -v curl >/dev/null; then
    cases+=(
        "nginx 1r/s|1r/s|--rate 1 --burst 1"
        "nginx 1r/s, burst 5 nodelay|1r/s burst=5 nodelay|--rate 1 --burst 6"
    )
else
    echo "no nginx or no curl: the nginx cases are skipped" >&2
fi

run() { # index, label, nginx limit (or -), then the example's flags
    local i=$1 label=$2 limit=$3
    shift 3
    if [ "$limit" != - ]; then
        run_nginx "$i" "$label" "$limit" "$@"
        return
    fi
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

# The value of `NAME=` in a stand-in's output.
field() { sed -n "s/^$1=//p" "$2" | sed -n 1p; }

# One case through nginx: a stand-in behind `limit_req $limit`, the example against nginx, then
# the stand-in's counts and nginx's access log written into the run's JSON as the embedded
# stand-in's would be (requests, 429s, arrivals), for the table and the chart.
run_nginx() {
    local i=$1 label=$2 limit=$3
    shift 3
    local out="$logs/$i.standin.out"
    env -u VONAGE_PRIVATE_KEY "$standin" --addr 127.0.0.1:0 --nginx "$limit" >"$out" 2>&1 &
    local server=$!
    for _ in $(seq 600); do
        if grep -q '^NGINX_ACCESS_LOG=' "$out" || ! kill -0 "$server" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if ! grep -q '^NGINX_ACCESS_LOG=' "$out"; then
        echo "$label: the stand-in behind nginx did not start" >&2
        cat "$out" >&2
        kill "$server" 2>/dev/null || true
        return 1
    fi
    local url standin_url access_log key
    url=$(field NGINX_URL "$out")
    standin_url=$(field STANDIN_URL "$out")
    access_log=$(field NGINX_ACCESS_LOG "$out")
    key=$(field VONAGE_PRIVATE_KEY "$out")
    echo "running ($label): sms --adaptive --count $COUNT --base-url NGINX $*" >&2
    local status=0
    VONAGE_APPLICATION_ID=$(field VONAGE_APPLICATION_ID "$out") VONAGE_PRIVATE_KEY=$key \
        "$sms" --adaptive --count "$COUNT" --base-url "$url" "$@" --stats-json "$logs/$i.json" \
        >"$logs/$i.out" 2>"$logs/$i.err" || status=$?
    local stats
    stats=$(curl -s "$standin_url/stats")
    cp "$access_log" "$logs/$i.access.log"
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$key"
    if [ ! -s "$logs/$i.json" ]; then
        echo "$label: no stats (exit status $status)" >&2
        cat "$logs/$i.out" "$logs/$i.err" >&2
        return 1
    fi
    json() { echo "$stats" | grep -o "\"$1\":[0-9]*" | sed -n '1s/.*://p'; }
    # When each request came to nginx ($msec less $request_time), from the first one on.
    local observed
    observed=$(awk '$4 == "POST" { printf "%.3f %s\n", $1 - $2, $3 }' "$logs/$i.access.log" |
        sort -n | awk -v delivered="$(json delivered)" -v duplicates="$(json duplicates)" \
            -v rate="${limit%%r/s*}" '
            NR == 1 { t0 = $1 }
            { n++; refused += ($2 == 429); a = a sep sprintf("{\"t_s\":%.3f,\"status\":%d}", $1 - t0, $2); sep = "," }
            END {
                printf "{\"requests\":%d,\"throttled\":%d,\"delivered\":%d,\"duplicates\":%d,", n, refused, delivered, duplicates
                printf "\"limits\":[{\"from_s\":0,\"rate\":%s}],\"arrivals\":[%s]}", rate, a
            }')
    sed -i "s|\"standin\": null|\"standin\": $observed|" "$logs/$i.json"
}

pids=()
for i in "${!cases[@]}"; do
    IFS='|' read -r label limit flags <<<"${cases[$i]}"
    # shellcheck disable=SC2086 # the flags are words
    if [ -n "$SERIAL" ]; then
        run "$i" "$label" "$limit" $flags
    else
        run "$i" "$label" "$limit" $flags &
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
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $COUNT messages per case, $( [ -n "$SERIAL" ] && echo serial || echo "the ${#cases[@]} cases in parallel"), dev build:"
"$chart" "$OUT" "${args[@]}"
