#!/usr/bin/env bash
# Side by side: COUNT POSTs fired at once through examples/fetch by each client, against a
# stand-in Messages API at RATE request/s, burst 1. Three tables; name them to pick (default
# `faults`):
#
#   faults   the stand-in failing at random (30 % accepted then the connection dropped, 10 %
#            answered only after the client's timeout, 10 % `500`, 5 % reset before anything is
#            done; the same seeded draws for every row), one row per client:
#              reqwest-retry    reqwest-retry's documented ExponentialBackoff, RETRIES retries
#              reqwest built-in reqwest's ClientBuilder::retry for the host: errors, 429 and 5xx
#                               retried up to RETRIES times, within its default budget
#              backoff only     politely's middleware, no pacer (expo, full jitter, Retry-After)
#              told the rate    politely's middleware, --rate RATE (a margin under it)
#              adaptive         politely's middleware, --adaptive
#              no key           politely's middleware, --rate RATE, no idempotency key: a POST
#                               is retried only after a 429 (the failed are named on stderr)
#   pair     no faults; two fetch processes at once, COUNT/2 POSTs each, sharing one pace
#            through Redis (`--redis $REDIS_URL --redis-key K`, a key of the row's own): told the
#            rate, and adaptive. Needs REDIS_URL and builds fetch with the `redis` feature.
#   nginx    no faults; nginx's `limit_req rate=RATEr/s` (429, no Retry-After) in front of the
#            stand-in, which then enforces nothing (`standin --nginx`): reqwest-retry, reqwest
#            built-in, politely told the rate, politely adaptive. Requests and 429s are nginx's
#            (its access log).
#
# The politely rows but one send `--idempotency-key auto` (the middleware adds a key, so a
# dropped POST is retried and the stand-in sends it on once); the other two clients add no key
# and retry POSTs anyway. Each row runs against a stand-in of its own; the counts are the
# stand-in's (`GET /stats`) or nginx's: requests, responses 429, messages delivered twice,
# messages lost (never delivered), and what the client reported failed (with the failed
# requests' indices on its stderr, kept in the logs). Each table is printed in markdown, with
# the goals judged where the issue sets them:
#
#   told the rate  elapsed at most 1.05 x (COUNT-1)/RATE, at most 2 responses 429
#   adaptive       elapsed at most 1.15 x (COUNT-1)/RATE, at most 10 % of requests refused
#   under faults   with a key: none lost, none delivered twice
#   no key         each message sent once, and again only after a 429; none delivered twice
#
# (Under faults the time bound does not apply: every retry takes a slot of the limit.)
#
#   scripts/compare.sh                      # faults: 60 POSTs at 1 request/s, about 11 minutes
#   PARALLEL=1 scripts/compare.sh faults pair nginx   # every row at once: about 4 minutes
#   COUNT=20 RATE=2 scripts/compare.sh nginx
#
# Uses CARGO_TARGET_DIR if set (debug builds); needs curl, jq, openssl (to sign the stand-in's
# JWT), nginx for `nginx` (NGINX, PATH or /usr/sbin/nginx) and a Redis for `pair`. Leaves each
# row's output in $CARGO_TARGET_DIR/compare/.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60}
RATE=${RATE:-1}
TIMEOUT=${TIMEOUT:-5}
SLOW=${SLOW:-10}
RETRIES=${RETRIES:-5}
MAX_TIME=${MAX_TIME:-120}
SEED=${SEED:-1}
PARALLEL=${PARALLEL:-0}
tables=("$@")
[[ ${#tables[@]} -gt 0 ]] || tables=(faults)
for t in "${tables[@]}"; do
    case $t in
        faults | pair | nginx) ;;
        *) echo "usage: [COUNT=N] [RATE=R] [PARALLEL=1] $0 [faults] [pair] [nginx]" >&2; exit 2 ;;
    esac
done
target=${CARGO_TARGET_DIR:-target}
for t in "${tables[@]}"; do
    if [[ $t == pair && -z ${REDIS_URL:-} ]]; then
        echo "the pair table needs REDIS_URL (e.g. redis://127.0.0.1:6379/)" >&2
        exit 2
    fi
done

cargo build --quiet -p backoff-standin --bin standin
# The `redis` feature only adds `--redis`: the same client for every table.
cargo build --quiet -p examples --features redis --example fetch
standin="$target/debug/standin"
fetch="$target/debug/examples/fetch"
logs="$target/compare"
rm -rf "$logs"
mkdir -p "$logs"
key=
# Every stand-in's pid (rows may run in background jobs), for the cleanup.
touch "$logs/pids"
cleanup() {
    while read -r p; do kill "$p" 2>/dev/null || true; done <"$logs/pids"
    if [[ -n $key ]]; then rm -f "$key"; fi
}
trap cleanup EXIT

# The value of `NAME=` in a stand-in's output.
field() { sed -n "s/^$1=//p" "$2" | sed -n 1p; }

# The first stand-in makes the key pair, and the JWT (valid for an hour) is signed once.
key=$(mktemp)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
app=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
claims=$(printf '{"application_id":"%s","iat":%d,"exp":%d,"jti":"compare"}' \
    "$app" "$now" $((now + 3600)) | b64url)
signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$key" | b64url)
token="$header.$claims.$signature"

faults=(--fault accept-then-drop=0.3 --fault "slow=0.1:$SLOW" --fault 500=0.1 --fault reset=0.05)

# Starts a stand-in for row $1 (`faults`, `plain` or `nginx`), its output in $logs/$2.standin;
# prints `URL STATS_URL ACCESS_LOG PID` (the URL clients send to, where its stats are, nginx's
# access log or `-`).
start() {
    local kind=$1 out="$logs/$2.standin"
    local flags=(--addr 127.0.0.1:0)
    case $kind in
        faults) flags+=(--rate "$RATE" --burst 1 "${faults[@]}" --fault-seed "$SEED") ;;
        plain) flags+=(--rate "$RATE" --burst 1) ;;
        nginx) flags+=(--nginx "${RATE}r/s") ;;
    esac
    VONAGE_APPLICATION_ID=$app VONAGE_PRIVATE_KEY=$key "$standin" "${flags[@]}" >"$out" 2>&1 &
    local pid=$! ready='stand-in Messages API at'
    [[ $kind == nginx ]] && ready='^NGINX_ACCESS_LOG='
    for _ in $(seq 300); do
        grep -q "$ready" "$out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q "$ready" "$out"; then
        echo "the stand-in ($kind) did not start:" >&2
        cat "$out" >&2
        return 1
    fi
    local url
    url=$(sed -n 's/.*stand-in Messages API at \(http:[^ ]*\).*/\1/p' "$out")
    if [[ $kind == nginx ]]; then
        echo "$(field NGINX_URL "$out") $(field STANDIN_URL "$out") $(field NGINX_ACCESS_LOG "$out") $pid"
    else
        echo "$url $url - $pid"
    fi
}

# The body of request {i} of client $1 (a number: distinct recipients per client).
data() {
    printf '{"from":{"type":"sms","number":"15550100"},"to":{"type":"sms","number":"1555%s{i}00"},"message":{"content":{"type":"text","text":"%s {i}"}}}' "$1" "$1"
}

# Runs fetch for row $1 (its log name) as client $2 (a number) with fetch's flags after;
# prints its summary line; the failed requests' lines stay in $logs/$1.$2.err.
fetch_one() {
    local name=$1 who=$2
    shift 2
    local status=0
    "$fetch" --timeout "$TIMEOUT" --data "$(data "$who")" \
        --header "Authorization: Bearer $token" --header 'Content-Type: application/json' \
        "$@" >"$logs/$name.$who.out" 2>"$logs/$name.$who.err" || status=$?
    if ! grep '^summary:' "$logs/$name.$who.out"; then
        echo "$name: no summary from fetch (exit status $status)" >&2
        cat "$logs/$name.$who.err" >&2
        return 1
    fi
}

value() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | sed -n 1p; }

# One row: table, label, goal (told, adaptive, keyed or -), processes (1 or 2), fetch's flags.
# Writes the markdown row to $logs/<row>.row.
row() {
    local table=$1 label=$2 goal=$3 procs=$4
    shift 4
    local name="$table-${label//[^a-zA-Z0-9]/}"
    local kind=$table
    [[ $table == pair ]] && kind=plain
    local url stats_url access pid
    read -r url stats_url access pid < <(start "$kind" "$name") || true
    if [[ -z ${pid:-} ]]; then return 1; fi
    echo "$pid" >>"$logs/pids"
    echo "running ($table): fetch --timeout $TIMEOUT $* URL${procs:+ x$procs}" >&2
    local summaries=() who
    if [[ $procs == 2 ]]; then
        local half=$((COUNT / 2)) budget="compare-$name-$$-$RANDOM"
        fetch_one "$name" 1 --count "$half" "$@" --redis "$REDIS_URL" --redis-key "$budget" \
            "$url/v0.1/messages" >"$logs/$name.1.summary" &
        local first=$!
        fetch_one "$name" 2 --count $((COUNT - half)) "$@" --redis "$REDIS_URL" \
            --redis-key "$budget" "$url/v0.1/messages" >"$logs/$name.2.summary"
        wait "$first"
        summaries=("$(cat "$logs/$name.1.summary")" "$(cat "$logs/$name.2.summary")")
    else
        summaries=("$(fetch_one "$name" 1 --count "$COUNT" "$@" "$url/v0.1/messages")")
    fi
    for who in "${!summaries[@]}"; do echo "    $label: ${summaries[$who]}" >&2; done
    # Under faults, the replies delayed past the timeout land later: let them.
    [[ $table == faults ]] && sleep $((SLOW + 2))
    local stats requests r429 elapsed=0 failed=0
    stats=$(curl -fsS "$stats_url/stats")
    echo "$stats" >"$logs/$name.stats.json"
    # nginx's directory, its logs with it, goes when the stand-in stops: copy the log first.
    [[ $table == nginx ]] && cp "$access" "$logs/$name.access.log"
    kill "$pid" 2>/dev/null || true
    for who in "${!summaries[@]}"; do
        elapsed=$(awk -v a="$elapsed" -v b="$(value "${summaries[$who]}" elapsed_s)" 'BEGIN { print (b > a) ? b : a }')
        failed=$((failed + $(value "${summaries[$who]}" failed)))
    done
    if [[ $table == nginx ]]; then
        requests=$(awk '$4 == "POST"' "$logs/$name.access.log" | wc -l)
        r429=$(awk '$4 == "POST" && $3 == 429' "$logs/$name.access.log" | wc -l)
    else
        requests=$(jq -r .requests <<<"$stats")
        r429=$(jq -r .throttled <<<"$stats")
    fi
    local delivered twice
    delivered=$(jq -r .delivered <<<"$stats")
    twice=$(jq -r .duplicates <<<"$stats")
    awk -v label="$label" -v goal="$goal" -v e="$elapsed" -v n="$COUNT" -v rate="$RATE" \
        -v req="$requests" -v r429="$r429" -v del="$delivered" -v twice="$twice" \
        -v failed="$failed" -v timed="$([[ $table == faults ]] && echo 0 || echo 1)" 'BEGIN {
            ideal = (n - 1) / rate
            lost = n - (del - twice)
            verdict = "-"
            if (goal == "told" && timed) verdict = (e <= 1.05 * ideal && r429 <= 2) ? "met" : "not met"
            if (goal == "told" && !timed) verdict = (r429 <= 2 && lost == 0 && twice == 0) ? "met" : "not met"
            if (goal == "adaptive" && timed) verdict = (e <= 1.15 * ideal && r429 <= 0.10 * req) ? "met" : "not met"
            if (goal == "adaptive" && !timed) verdict = (r429 <= 0.10 * req && lost == 0 && twice == 0) ? "met" : "not met"
            if (goal == "keyed") verdict = (lost == 0 && twice == 0) ? "met" : "not met"
            # Without a key: each message sent once, and again only after a 429.
            if (goal == "nokey") verdict = (req - r429 == n && twice == 0) ? "met" : "not met"
            ratio = timed ? sprintf("%.3f", e / ideal) : "-"
            printf "| %s | %.1f | %s | %d | %d | %d | %d | %d | %s |\n", label, e, ratio,
                req, r429, twice, lost, failed, verdict
        }' >"$logs/$name.row"
    echo "$logs/$name.row"
}

# Runs the rows of a table (one per line of $1: label|goal|procs|flags) one after another, or
# at once with PARALLEL=1; prints the table.
table() {
    local table=$1 spec=$2 note=$3
    local files=() jobs=() label goal procs flags
    while IFS='|' read -r label goal procs flags; do
        [[ -z $label ]] && continue
        local name="$table-${label//[^a-zA-Z0-9]/}"
        files+=("$logs/$name.row")
        # shellcheck disable=SC2086 # the flags are words
        if [[ $PARALLEL == 1 ]]; then
            row "$table" "$label" "$goal" "$procs" $flags >/dev/null &
            jobs+=($!)
        else
            row "$table" "$label" "$goal" "$procs" $flags >/dev/null
        fi
    done <<<"$spec"
    for j in "${jobs[@]}"; do wait "$j"; done
    {
        echo
        echo "$note"
        echo
        echo "| client | elapsed s | x (COUNT-1)/RATE | requests | responses 429 | delivered twice | lost | failed (client) | goal |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
        cat "${files[@]}"
    } >"$logs/$table.table"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M')
keyed="--idempotency-key auto --max-time $MAX_TIME"
retry="reqwest-retry 0.9 (\`ExponentialBackoff\`, $RETRIES retries)"
builtin="reqwest 0.13 built-in retry ($RETRIES retries)"
table_pids=()
for t in "${tables[@]}"; do
    case $t in
        faults) spec="$retry|-|1|--client reqwest-retry --max-retries $RETRIES
$builtin|-|1|--client reqwest-builtin --max-retries $RETRIES
politely, backoff only|keyed|1|$keyed
politely, told the rate (\`--rate $RATE\`)|told|1|$keyed --rate $RATE
politely, adaptive (\`--adaptive\`)|adaptive|1|$keyed --adaptive
politely, told the rate, no key (\`--rate $RATE\`)|nokey|1|--max-time $MAX_TIME --rate $RATE"
            note="faults: $COUNT POSTs at once; stand-in: $RATE request/s, burst 1; faults: accept-then-drop 30 %, slow ${SLOW} s 10 %, 500 10 %, reset 5 % (seed $SEED, each row its own stand-in); client timeout ${TIMEOUT} s" ;;
        pair) spec="politely, two processes, told the rate (\`--rate $RATE --redis\`)|told|2|$keyed --rate $RATE
politely, two processes, adaptive (\`--adaptive --redis\`)|adaptive|2|$keyed --adaptive"
            note="pair: $COUNT POSTs at once, $((COUNT / 2)) from each of two fetch processes sharing one Redis key; stand-in: $RATE request/s, burst 1; no faults" ;;
        nginx) spec="$retry|-|1|--client reqwest-retry --max-retries $RETRIES
$builtin|-|1|--client reqwest-builtin --max-retries $RETRIES
politely, told the rate (\`--rate $RATE\`)|told|1|$keyed --rate $RATE
politely, adaptive (\`--adaptive\`)|adaptive|1|$keyed --adaptive"
            note="nginx: $COUNT POSTs at once through $(${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)} -v 2>&1 | sed 's/^nginx version: //') \`limit_req rate=${RATE}r/s\` (429, no Retry-After) in front of the stand-in; no faults; requests and 429s from nginx's access log" ;;
    esac
    if [[ $PARALLEL == 1 ]]; then
        table "$t" "$spec" "$note" &
        table_pids+=($!)
    else
        table "$t" "$spec" "$note"
    fi
done
for p in "${table_pids[@]}"; do wait "$p"; done

echo
echo "scripts/compare.sh ${tables[*]}: COUNT=$COUNT RATE=$RATE PARALLEL=$PARALLEL; $started UTC to $(date -u '+%H:%M') UTC; $(nproc) CPUs; load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "goals: told the rate at most 1.05 x (COUNT-1)/RATE and at most 2 responses 429; adaptive at most 1.15 x and at most 10 % of requests refused; under faults (no time bound) none lost, none delivered twice; no key: requests = COUNT + 429s, none delivered twice"
for t in "${tables[@]}"; do cat "$logs/$t.table"; done
