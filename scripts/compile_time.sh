#!/usr/bin/env bash
# Compile time of the attribute: a throwaway crate of N (default 100) `#[backoff]` fns against
# the same N fns written as hand loops (same body, expo waits capped at 60 s, full jitter,
# max_tries 5, max_time 60, tokio sleep). Both crates live in one temporary workspace that
# path-depends on this one, with this repository's Cargo.lock and their own target dir, so their
# dependencies are built once (not timed) and only each crate's own compilation is timed:
#   cold         the crate alone after `cargo clean -p <crate>` (dev profile, then release)
#   incremental  `touch src/lib.rs`, rebuild (dev profile)
# Each build is timed ROUNDS (default 3) times and the fastest kept.
# Prints a markdown table and the attribute/hand ratio. Every fn is made into a
# `Pin<Box<dyn Future>>` in `all()` so its state machine is code-generated, not only checked.
#
#   scripts/compile_time.sh            # N=100
#   N=20 KEEP=1 scripts/compile_time.sh  # keep the temp dir (its path is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
N=${N:-100}
dir=$(mktemp -d "${TMPDIR:-/tmp}/backoff-compile-time.XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$dir"' EXIT; else echo "temp dir: $dir" >&2; fi

cat >"$dir/Cargo.toml" <<TOML
[workspace]
members = ["annotated", "hand"]
resolver = "3"

[workspace.dependencies]
politely = { path = "$root" }
tokio = { version = "1", default-features = false, features = ["time"] }
rand = { version = "0.10", default-features = false, features = ["std", "std_rng", "thread_rng"] }
TOML
cp "$root/Cargo.lock" "$dir/Cargo.lock"

for krate in annotated hand; do
    mkdir -p "$dir/$krate/src"
    cat >"$dir/$krate/Cargo.toml" <<TOML
[package]
name = "$krate"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
politely = { workspace = true }
tokio = { workspace = true }
rand = { workspace = true }
TOML
done

prelude='use std::future::Future;
use std::pin::Pin;

#[derive(Debug)]
pub struct Error(pub u64);

async fn op(x: u64) -> Result<u64, Error> {
    if std::hint::black_box(x) % 3 == 0 { Err(Error(x)) } else { Ok(x) }
}
'
{
    echo "$prelude"
    echo "use politely::backoff;"
    for i in $(seq 0 $((N - 1))); do
        cat <<RS

#[backoff(expo, max_value = 60, max_tries = 5, max_time = 60, jitter = full)]
pub async fn f$i(x: u64) -> Result<u64, Error> {
    op(x + $i).await
}
RS
    done
} >"$dir/annotated/src/lib.rs"

{
    echo "$prelude"
    echo "use std::time::Duration;"
    for i in $(seq 0 $((N - 1))); do
        cat <<RS

pub async fn f$i(x: u64) -> Result<u64, Error> {
    let start = tokio::time::Instant::now();
    let max_time = Duration::from_secs(60);
    let mut tries = 0u32;
    loop {
        tries += 1;
        match op(x + $i).await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let elapsed = start.elapsed();
                if tries >= 5 || elapsed >= max_time {
                    return Err(e);
                }
                let cap = Duration::from_secs(1u64 << (tries - 1).min(6)).min(Duration::from_secs(60));
                let wait = cap.mul_f64(rand::random::<f64>()).min(max_time - elapsed);
                tokio::time::sleep(wait).await;
            }
        }
    }
}
RS
    done
} >"$dir/hand/src/lib.rs"

for krate in annotated hand; do
    {
        echo
        echo "/// Every fn's future as a trait object, so each state machine is code-generated."
        echo "pub fn all() -> Vec<Pin<Box<dyn Future<Output = Result<u64, Error>>>>> {"
        echo "    vec!["
        for i in $(seq 0 $((N - 1))); do echo "        Box::pin(f$i(1)),"; done
        echo "    ]"
        echo "}"
    } >>"$dir/$krate/src/lib.rs"
done

# Its own target dir, kept between runs so the dependencies are built once.
export CARGO_TARGET_DIR="${COMPILE_TARGET_DIR:-$root/target/compile-time}"
# Dependencies first, untimed (both profiles).
(cd "$dir" && cargo build -q --workspace && cargo build -q --release --workspace)

# Seconds of one command, to the millisecond.
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$dir" && "$@" >/dev/null 2>&1)
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l | xargs printf '%.2f'
}

# The smaller of two numbers.
least() { if (( $(echo "$1 < $2" | bc -l) )); then echo "$1"; else echo "$2"; fi; }

# Each build is timed ROUNDS times (default 3), the two crates taking turns, and the fastest
# kept: on a shared machine the noise only ever adds time.
declare -A t
for round in $(seq 1 "${ROUNDS:-3}"); do
    for krate in annotated hand; do
        (cd "$dir" && cargo clean -q -p "$krate")
        cold=$(seconds cargo build -p "$krate")
        touch "$dir/$krate/src/lib.rs"
        touched=$(seconds cargo build -p "$krate")
        (cd "$dir" && cargo clean -q --release -p "$krate")
        release=$(seconds cargo build --release -p "$krate")
        if [ "$round" = 1 ]; then
            t[$krate,cold]=$cold t[$krate,touch]=$touched t[$krate,release]=$release
        else
            t[$krate,cold]=$(least "${t[$krate,cold]}" "$cold")
            t[$krate,touch]=$(least "${t[$krate,touch]}" "$touched")
            t[$krate,release]=$(least "${t[$krate,release]}" "$release")
        fi
    done
done

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
echo "Compile time of $N fns (seconds, fastest of ${ROUNDS:-3}; the crate alone, its dependencies built)"
echo
echo "| build | hand-written loops | \`#[backoff]\` | ratio |"
echo "|---|---|---|---|"
echo "| dev, cold | ${t[hand,cold]} | ${t[annotated,cold]} | $(ratio "${t[annotated,cold]}" "${t[hand,cold]}") |"
echo "| dev, touch + rebuild | ${t[hand,touch]} | ${t[annotated,touch]} | $(ratio "${t[annotated,touch]}" "${t[hand,touch]}") |"
echo "| release, cold | ${t[hand,release]} | ${t[annotated,release]} | $(ratio "${t[annotated,release]}" "${t[hand,release]}") |"
