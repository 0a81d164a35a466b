#!/usr/bin/env bash
# Pacing against a limiter nobody here wrote: nginx's limit_req (one limit for every client,
# limit_req_status 429, no Retry-After) in front of the stand-in API, which then enforces
# nothing (`standin --nginx LIMIT`, backoff_standin::nginx). COUNT messages fired at once by
# the SMS example, one case after the other, each against a fresh stand-in and nginx:
#
#   told the rate   --rate RATE: the client's pacer a margin under RATE (politely::pace::
#                   under_limit: 2 % of each interval, at least 5 ms; HEADROOM=PERCENT for
#                   another), burst 1
#   adaptive        --adaptive: the limit is not told, the pacer learns it from the answers
#   no pacing       --no-pace: backoff only (expo + full jitter, 1 s doubling, capped at 32 s)
#
# each with no burst (`RATEr/s`) and with `RATEr/s burst=5 nodelay`. Prints one markdown table:
# elapsed, its ratio to the ideal (the time nginx's limit allows from the first request to the
# last: (COUNT-1)/RATE with no burst, (COUNT-6)/RATE with burst=5 nodelay, which lets 6 through
# at once), requests, responses 429 by the client's count and by nginx's access log, the
# messages the stand-in delivered and the duplicates it saw; then, for each case, the gaps
# between the first requests at nginx and the closest two it let through.
#
#   scripts/realworld.sh                    # 60 messages at 1r/s: about 9 minutes
#   RATE=10 scripts/realworld.sh
#   RATE=10 scripts/realworld.sh told       # only the cases named: told, adaptive, no-pace
#   BUSY=2 scripts/realworld.sh told        # with two CPU-bound processes running
#   HEADROOM=5 RATE=10 scripts/realworld.sh told
#   RUNS=10 LIMITS=plain RATE=10 scripts/realworld.sh told   # 10 runs, no burst only
#
# Release builds of the example and of the `standin` binary; nginx from NGINX, PATH or
# /usr/sbin/nginx (`apt-get install nginx-light`); curl. Uses CARGO_TARGET_DIR if set; leaves
# each case's output and nginx access log in target/realworld/.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60}
RATE=${RATE:-1}
BUSY=${BUSY:-0}
HEADROOM=${HEADROOM:-}
BURST=5
RUNS=${RUNS:-1}
LIMITS=${LIMITS:-both}
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(told adaptive no-pace)
for k in "${kinds[@]}"; do
    case $k in
        told | adaptive | no-pace) ;;
        *) echo "usage: [COUNT=N] [RATE=R] [BUSY=N] [HEADROOM=PERCENT] [RUNS=N] [LIMITS=both|plain|burst] $0 [told] [adaptive] [no-pace]" >&2; exit 2 ;;
    esac
done
limits=()
case $LIMITS in
    both) limits=("${RATE}r/s" "${RATE}r/s burst=$BURST nodelay") ;;
    plain) limits=("${RATE}r/s") ;;
    burst) limits=("${RATE}r/s burst=$BURST nodelay") ;;
    *) echo "LIMITS is both, plain or burst" >&2; exit 2 ;;
esac
command -v curl >/dev/null || { echo "$0 needs curl" >&2; exit 2; }

cargo build --release --quiet --example sms -p examples
cargo build --release --quiet -p backoff-standin --bin standin
target=${CARGO_TARGET_DIR:-target}
standin="$target/release/standin"
logs="$target/realworld"
rm -rf "$logs"
mkdir -p "$logs"

server_pid=
busy_pids=()
key=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "$key" ]; then rm -f "$key"; fi
}
trap cleanup EXIT
trap 'echo "$0: failed at line $LINENO" >&2' ERR
for _ in $(seq "$BUSY"); do
    sh -c 'while :; do :; done' &
    busy_pids+=($!)
done

# The value of `NAME=` in the stand-in's output.
field() { sed -n "s/^$1=//p" "$2" | sed -n 1p; }

# Starts a stand-in behind nginx with limit_req $1, its output in $2 (a file of its own: the
# shell truncates it only once the stand-in's process is under way); sets server_pid,
# nginx_url, standin_url, access_log, and the key (made by the first stand-in, reused by the
# others).
start() {
    local out=$2
    if [ -n "$key" ]; then
        VONAGE_PRIVATE_KEY=$key "$standin" --addr 127.0.0.1:0 --nginx "$1" >"$out" 2>&1 &
    else
        env -u VONAGE_PRIVATE_KEY "$standin" --addr 127.0.0.1:0 --nginx "$1" >"$out" 2>&1 &
    fi
    server_pid=$!
    for _ in $(seq 600); do
        if grep -q '^NGINX_ACCESS_LOG=' "$out"; then break; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if ! grep -q '^NGINX_ACCESS_LOG=' "$out"; then
        echo "the stand-in behind nginx did not start:" >&2
        cat "$out" >&2
        exit 1
    fi
    nginx_url=$(field NGINX_URL "$out")
    standin_url=$(field STANDIN_URL "$out")
    access_log=$(field NGINX_ACCESS_LOG "$out")
    app_id=$(field VONAGE_APPLICATION_ID "$out")
    if [ -z "$key" ]; then key=$(field VONAGE_PRIVATE_KEY "$out"); fi
}

stop() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

rows=()
notes=()
# One case: label, limit_req, ideal seconds, then the example's flags.
run() {
    local label=$1 limit=$2 ideal=$3
    shift 3
    local name="$label $limit"
    name=${name// /-}
    name=${name//[^a-zA-Z0-9=-]/}
    start "$limit" "$logs/$name.standin.out"
    echo "running ($label, limit_req $limit): cargo run --release --example sms -- --base-url $nginx_url --count $COUNT $*" >&2
    local status=0
    VONAGE_APPLICATION_ID=$app_id VONAGE_PRIVATE_KEY=$key \
        cargo run --release --quiet --example sms -- \
        --base-url "$nginx_url" --count "$COUNT" "$@" \
        >"$logs/$name.out" 2>"$logs/$name.err" || status=$?
    local summary stats
    summary=$(grep '^summary:' "$logs/$name.out" || true)
    if [ -z "$summary" ]; then
        echo "$label: no summary (exit status $status)" >&2
        cat "$logs/$name.out" "$logs/$name.err" >&2
        exit 1
    fi
    stats=$(curl -s "$standin_url/stats")
    cp "$access_log" "$logs/$name.access.log"
    stop
    value() { echo "$summary" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    json() { echo "$stats" | grep -o "\"$1\":[0-9]*" | sed -n '1s/.*://p'; }
    local elapsed attempts r429 nginx_429 nginx_requests
    elapsed=$(value elapsed_s)
    attempts=$(value attempts)
    r429=$(value rejected_429)
    nginx_requests=$(awk '$4 == "POST"' "$logs/$name.access.log" | wc -l)
    nginx_429=$(awk '$4 == "POST" && $3 == 429' "$logs/$name.access.log" | wc -l)
    rows+=("$(printf '| %s | `%s` | %.1f | %.3f (of %.1f s) | %d (nginx %d) | %d | %d | %d of %d | %d |' \
        "$label" "$limit" "$elapsed" "$(awk -v e="$elapsed" -v i="$ideal" 'BEGIN { print e / i }')" "$ideal" \
        "$attempts" "$nginx_requests" "$r429" "$nginx_429" \
        "$(json delivered)" "$COUNT" "$(json duplicates)")")
    # When each request came to nginx ($msec less $request_time), in arrival order.
    notes+=("$(awk '$4 == "POST" { printf "%.3f %s\n", $1 - $2, $3 }' "$logs/$name.access.log" |
        sort -n | awk -v label="$label" -v limit="$limit" '
            { t[NR] = $1; s[NR] = $2 }
            END {
                first = ""
                for (i = 2; i <= NR && i <= 4; i++) first = first sprintf(" %.0f%s", (t[i] - t[i-1]) * 1000, s[i] == 429 ? "(429)" : "")
                min = -1
                for (i = 1; i <= NR; i++) if (s[i] != 429) {
                    if (prev != "" && (min < 0 || t[i] - prev < min)) min = t[i] - prev
                    prev = t[i]
                }
                refused = ""; n = 0
                for (i = 3; i <= NR && n < 4; i++) if (s[i] == 429 && s[i-1] != 429) {
                    refused = refused sprintf(" %.0f then %.0f;", (t[i-1] - t[i-2]) * 1000, (t[i] - t[i-1]) * 1000)
                    n++
                }
                printf "%s, `%s`: first gaps at nginx (ms):%s; closest two let through: %.0f ms apart", label, limit, first, min * 1000
                if (refused != "") printf "; gaps before the first refusals after a pass (ms):%s", refused
            }')")
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
for limit in "${limits[@]}"; do
    if [ "$limit" = "${RATE}r/s" ]; then at_once=1; else at_once=$((1 + BURST)); fi
    ideal=$(awk -v n="$COUNT" -v a="$at_once" -v r="$RATE" 'BEGIN { print (n - a) / r }')
    for k in "${kinds[@]}"; do
        for r in $(seq "$RUNS"); do
            nth=
            if [ "$RUNS" -gt 1 ]; then nth=" (run $r)"; fi
            case $k in
                told) run "told the rate$nth" "$limit" "$ideal" --rate "$RATE" ${HEADROOM:+--headroom "$HEADROOM"} ;;
                adaptive) run "adaptive$nth" "$limit" "$ideal" --adaptive ;;
                no-pace) run "no pacing$nth" "$limit" "$ideal" --no-pace ;;
            esac
        done
    done
done

nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')
echo
echo "$COUNT messages fired at once through $version limit_req at ${RATE}r/s; $(date -u '+%Y-%m-%d %H:%M UTC'); release build"
echo "$(nproc) CPUs, $BUSY CPU-bound processes beside; load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) after"
echo
echo "| case | nginx limit_req | elapsed s | x ideal | requests | 429 (client) | 429 (nginx log) | delivered | duplicates |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
printf -- '- %s\n' "${notes[@]}"
