#!/usr/bin/env bash
# Several workers, one rate limit: WORKERS processes of the SMS example, COUNT messages in all,
# against one stand-in API (`standin`, a token bucket of RATE requests/s, burst 1), first
# pacing through one budget shared in Redis (--redis), then learning the limit together
# through Redis without being told it (--redis --adaptive), then each worker pacing on its own
# at the full rate (its local politely::Pacer). Prints a table: elapsed time, its ratio to the
# physical limit ((COUNT-1)/RATE), the 429s the stand-in answered, and the messages the
# stand-in delivered, lost (never delivered) and duplicated (its GET /stats, before and after
# each run).
#
#   scripts/workers.sh                    # 4 workers x 15 messages at 1 request/s: ~3-5 minutes
#   WORKERS=2 COUNT=20 RATE=10 scripts/workers.sh
#
# Starts its own redis-server (from PATH; persistence off) on a free loopback port and its own
# stand-in on an ephemeral one, and stops both on exit. Needs curl. Exits 1 when the shared
# run misses the targets: at most 1.05 times the physical limit, at most 3 responses
# 429, nothing lost or duplicated. Uses CARGO_TARGET_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-4}
COUNT=${COUNT:-60}
RATE=${RATE:-1}
BURST=1

cargo build --quiet --features redis --example sms
cargo build --quiet -p backoff-standin
logs=$(mktemp -d)
redis_pid=
standin_pid=
cleanup() {
    if [ -n "$standin_pid" ]; then kill "$standin_pid" 2>/dev/null || true; fi
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$logs"
}
trap cleanup EXIT

# redis-server cannot take port 0 (that turns TCP off): try free-looking ports until one answers.
for _ in $(seq 20); do
    redis_port=$((20000 + RANDOM % 40000))
    redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do
        kill -0 "$redis_pid" 2>/dev/null || break # the port was taken
        redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break 2
        sleep 0.1
    done
    kill "$redis_pid" 2>/dev/null || true
    redis_pid=
done
if [ -z "$redis_pid" ]; then
    echo "could not start redis-server" >&2
    exit 1
fi
redis_url="redis://127.0.0.1:$redis_port/"

# One stand-in for every worker of both runs; it prints its key, its id and its URL.
cargo run --quiet -p backoff-standin -- --addr 127.0.0.1:0 --rate "$RATE" --burst "$BURST" \
    >"$logs/standin.out" 2>"$logs/standin.err" &
standin_pid=$!
for _ in $(seq 100); do
    grep -q "^stand-in Messages API at" "$logs/standin.out" 2>/dev/null && break
    sleep 0.1
done
base_url=$(sed -n 's/^stand-in Messages API at \([^ ]*\) .*/\1/p' "$logs/standin.out")
if [ -z "$base_url" ]; then
    echo "the stand-in did not start" >&2
    cat "$logs/standin.out" "$logs/standin.err" >&2
    exit 1
fi
export VONAGE_APPLICATION_ID VONAGE_PRIVATE_KEY
VONAGE_APPLICATION_ID=$(sed -n 's/^VONAGE_APPLICATION_ID=//p' "$logs/standin.out")
VONAGE_PRIVATE_KEY=${VONAGE_PRIVATE_KEY:-$(sed -n 's/^VONAGE_PRIVATE_KEY=//p' "$logs/standin.out")}
echo "redis-server at $redis_url; stand-in at $base_url ($RATE request/s, burst $BURST)" >&2

stat() { # field of the stand-in's GET /stats
    curl -fsS "$base_url/stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2
}

run() { # name, then the example's flags
    local name=$1
    shift
    sleep 2 # the stand-in's bucket refills between runs
    local throttled0 delivered0 duplicates0 status=0
    throttled0=$(stat throttled)
    delivered0=$(stat delivered)
    duplicates0=$(stat duplicates)
    echo "running ($name): sms --workers $WORKERS --count $COUNT --rate $RATE --burst $BURST $*" >&2
    "${CARGO_TARGET_DIR:-target}/debug/examples/sms" --workers "$WORKERS" --count "$COUNT" \
        --rate "$RATE" --burst "$BURST" --base-url "$base_url" --text "workers.sh: $name" "$@" \
        >"$logs/$name.out" 2>"$logs/$name.err" || status=$?
    if ! grep -q '^summary:' "$logs/$name.out"; then
        echo "$name: no summary (exit status $status)" >&2
        cat "$logs/$name.out" "$logs/$name.err" >&2
        exit 1
    fi
    echo "$name $(($(stat throttled) - throttled0)) $(($(stat delivered) - delivered0)) \
$(($(stat duplicates) - duplicates0)) $(grep '^summary:' "$logs/$name.out")" >>"$logs/table"
}

run redis --redis "$redis_url" --redis-key "workers-sh-$$"
run adaptive --redis "$redis_url" --redis-key "workers-sh-adaptive-$$" --adaptive
run local

date=$(date -u '+%Y-%m-%d %H:%M UTC')
awk -v count="$COUNT" -v rate="$RATE" -v burst="$BURST" -v workers="$WORKERS" -v date="$date" '
    function field(key,    i, kv) {
        for (i = 5; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == key) return kv[2]
        }
        return ""
    }
    {
        name[NR] = $1 == "redis" ? "shared through Redis (--redis)" : \
            $1 == "adaptive" ? "learned together (--adaptive)" : "each worker on its own"
        throttled[NR] = $2; delivered[NR] = $3; duplicates[NR] = $4
        elapsed[NR] = field("elapsed_s"); attempts[NR] = field("attempts")
    }
    END {
        limit = (count - burst) / rate
        printf "%d workers, %d messages, one stand-in at %s request/s, burst %d: physical limit %.1f s (%s)\n\n", \
            workers, count, rate, burst, limit, date
        printf "| %-30s | %9s | %7s | %11s | %8s | %4s | %4s | %10s |\n", \
            "pacing", "elapsed_s", "x limit", "429s (stand-in)", "attempts", "sent", "lost", "duplicated"
        printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "--------------------------------", \
            "----------:", "--------:", "----------------:", "---------:", "-----:", "-----:", "-----------:"
        for (i = 1; i <= NR; i++) {
            printf "| %-30s | %9.1f | %7.3f | %15d | %8d | %4d | %4d | %10d |\n", name[i], elapsed[i], \
                elapsed[i] / limit, throttled[i], attempts[i], delivered[i], count - delivered[i], duplicates[i]
        }
        ok = elapsed[1] <= 1.05 * limit && throttled[1] <= 3 && delivered[1] == count && duplicates[1] == 0
        printf "\nshared through Redis: %s (targets: at most 1.05 x the limit, at most 3 responses 429, none lost or duplicated)\n", \
            ok ? "met" : "MISSED"
        exit ok ? 0 : 1
    }
' "$logs/table"
