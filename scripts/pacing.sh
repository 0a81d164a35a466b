#!/usr/bin/env bash
# Paced versus backoff only: sends one batch of SMS through the example's embedded stand-in API
# (a token bucket of RATE requests/s, burst 1) in each mode, one after the other, and prints a
# table of elapsed time, its ratio to the physical limit ((COUNT-1)/RATE) and the 429s.
#
#   scripts/pacing.sh            # 60 messages at 1 request/s: about 4 minutes
#   COUNT=30 RATE=10 scripts/pacing.sh
#   scripts/pacing.sh --all      # also backoff only with Retry-After honoured (unpaced)
#
# Modes (see examples/sms/main.rs):
#   paced         the client's own politely::Pacer at RATE less 2 % headroom; Retry-After
#                 honoured, else expo + full jitter
#   backoff only  --no-pace: every message fired at once, each 429 waited out with expo + full
#                 jitter (1 s doubling, capped at 32 s), Retry-After ignored: the article's recipe
#   Retry-After   --no-pace --retry-after on (with --all): unpaced, but each 429 waits what the
#                 server asks, unjittered
#
# Exits 1 when the paced run misses its targets: at most 1.05 times the physical limit and at
# most 3 responses 429. Uses CARGO_TARGET_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60}
RATE=${RATE:-1}
BURST=1
all=false
for arg in "$@"; do
    case $arg in
        --all) all=true ;;
        *) echo "usage: [COUNT=N] [RATE=R] $0 [--all]" >&2; exit 2 ;;
    esac
done

cargo build --quiet --example sms
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run() { # name, then the example's flags
    local name=$1
    shift
    echo "running: cargo run --example sms -- --count $COUNT --rate $RATE --burst $BURST $*" >&2
    local status=0
    cargo run --quiet --example sms -- --count "$COUNT" --rate "$RATE" --burst "$BURST" "$@" \
        >"$logs/$name.out" 2>"$logs/$name.err" || status=$?
    grep -v '^summary:' "$logs/$name.out" | sed 's/^/    /' >&2
    if ! grep -q '^summary:' "$logs/$name.out"; then
        echo "$name: no summary (exit status $status)" >&2
        cat "$logs/$name.err" >&2
        exit 1
    fi
}

run paced
run backoff --no-pace
if $all; then
    run retry_after --no-pace --retry-after on
fi

date=$(date -u '+%Y-%m-%d %H:%M UTC')
awk -v count="$COUNT" -v rate="$RATE" -v burst="$BURST" -v date="$date" -v all="$all" '
    function field(line, key,    n, parts, i, kv) {
        n = split(line, parts, " ")
        for (i = 1; i <= n; i++) {
            split(parts[i], kv, "=")
            if (kv[1] == key) return kv[2]
        }
        return ""
    }
    FNR == 1 { file++ }
    /^summary:/ { summary[file] = $0 }
    END {
        limit = (count - burst) / rate
        printf "%d messages, stand-in at %s request/s, burst %d: physical limit %.1f s (%s)\n\n", \
            count, rate, burst, limit, date
        printf "| %-45s | %9s | %8s | %5s | %8s | %8s | %5s |\n", \
            "mode", "elapsed_s", "x limit", "429s", "429s/msg", "attempts", "sent"
        printf "|%s|%s|%s|%s|%s|%s|%s|\n", "-----------------------------------------------", \
            "----------:", "---------:", "------:", "---------:", "---------:", "------:"
        names[1] = "paced (pacer, Retry-After)"
        names[2] = "backoff only (--no-pace)"
        names[3] = "Retry-After only (--no-pace --retry-after on)"
        fail = 0
        for (f = 1; f <= file; f++) {
            s = summary[f]
            elapsed = field(s, "elapsed_s"); r429 = field(s, "rejected_429")
            printf "| %-45s | %9.2f | %8.3f | %5d | %8.2f | %8d | %5s |\n", \
                names[f], elapsed, elapsed / limit, r429, r429 / count, \
                field(s, "attempts"), field(s, "sent") "/" count
            if (f == 1 && (elapsed / limit > 1.05 || r429 > 3)) fail = 1
        }
        printf "\npaced target (<= 1.05 x limit, <= 3 responses 429): %s\n", fail ? "MISSED" : "met"
        exit fail
    }
' "$logs/paced.out" "$logs/backoff.out" $($all && echo "$logs/retry_after.out")
