#!/usr/bin/env bash
# Every overhead and footprint table in one run, release builds, side by side:
#   1. criterion (benches/overhead.rs): first try and fails-twice-then-succeeds, async and sync,
#      hand-written loop / backon / #[backoff] / builder on the same body and no-op sleep;
#      median times and the ratios the issue sets as goals, checked;
#   2. benches/footprint.rs: future sizes, memory per retrying task (heap and RSS), failed
#      attempts per second of 100,000 retrying tasks;
#   3. scripts/compile_time.sh: 100 annotated fns against 100 hand loops.
# Prints the machine's load average first (the figures move with it) and the total time last.
#
#   scripts/bench.sh                  # everything (about 3.5-6 minutes on 2 cores)
#   scripts/bench.sh --no-compile     # skip the compile-time study
set -euo pipefail
cd "$(dirname "$0")/.."
compile=true
for arg in "$@"; do
    case $arg in
        --no-compile) compile=false ;;
        *) echo "usage: $0 [--no-compile]" >&2; exit 2 ;;
    esac
done
export CARGO_TERM_COLOR=never
t0=$(date +%s)
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "rustc $(rustc --version | cut -d' ' -f2)"
echo

cargo bench -q --bench overhead --bench footprint --no-run 2>/dev/null
log=target/bench-overhead.log
cargo bench -q --bench overhead >"$log" 2>&1 || { cat "$log"; exit 1; }
python3 - <<'PY'
import json, os

def ns(group, name):
    path = f"target/criterion/{group}/{name}/new/estimates.json"
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]

def cell(v):
    return "" if v is None else f"{v:.1f} ns"

print("Overhead (criterion medians, same body and no-op sleep for every contender)")
print()
print("| fn | path | direct call | hand-written loop | `#[backoff]` | builder | `backon` |"
      " `#[backoff]` / hand | `#[backoff]` / `backon` | builder / hand | builder / `backon` |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
verdicts = []
for kind in ["async", "sync", "sync_opaque"]:
    for path, label in [("first_try", "succeeds first try"),
                        ("two_retries", "fails twice, then succeeds")]:
        g = f"{kind}_{path}"
        d, h, a, b, k = (ns(g, n) for n in ["direct", "hand_written", "attribute", "builder", "backon"])
        r = lambda x, y: "" if x is None or y is None else f"{x / y:.2f}x"
        shown = {"sync_opaque": "sync, body not inlined"}.get(kind, kind)
        print(f"| {shown} | {label} | {cell(d)} | {cell(h)} | {cell(a)} | {cell(b)} | {cell(k)} |"
              f" {r(a, h)} | {r(a, k)} | {r(b, h)} | {r(b, k)} |")
        for who, v in [("#[backoff]", a), ("builder", b)]:
            if path == "first_try":
                goals = [("hand-written loop", h, 1.5)]
            else:
                goals = [("backon", k, 0.9), ("hand-written loop", h, 2.0)]
            for peer, p, limit in goals:
                if v is None or p is None:
                    continue
                ok = v / p <= limit
                verdicts.append(f"{'meets' if ok else 'MISSES'}: {shown} {label}, {who} "
                                f"{v / p:.2f}x {peer} (goal <= {limit}x)")
print()
print("Goals:")
for v in verdicts:
    print(f"- {v}")
PY
echo
cargo bench -q --bench footprint 2>/dev/null
echo
if $compile; then
    scripts/compile_time.sh
    echo
fi
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - t0)) s"
