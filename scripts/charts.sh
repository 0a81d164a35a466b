#!/usr/bin/env bash
# Regenerates the charts the README shows, docs/*.svg, on purpose: running an example writes
# its chart under target/charts/ and leaves these as they are committed.
#
#   scripts/charts.sh                      # all four (adaptive.sh takes about 1.5 minutes)
#   scripts/charts.sh outage contention    # some
#
# attempts and outage are dev builds (the paused clock makes them quick), contention a release
# build (100 runs per point, as its doc says), adaptive through scripts/adaptive.sh. Uses
# CARGO_TARGET_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."

charts=("$@")
[ "${#charts[@]}" -gt 0 ] || charts=(attempts outage contention adaptive)

for chart in "${charts[@]}"; do
    echo "chart: docs/$chart.svg" >&2
    case $chart in
        attempts)
            # attempts writes a CSV beside its SVG: both go to a scratch directory.
            out=$(mktemp -d)
            cargo run --quiet --example attempts -- --out "$out"
            cp "$out/attempts.svg" docs/attempts.svg
            rm -rf "$out"
            ;;
        outage) cargo run --quiet --example outage -- --chart docs/outage.svg ;;
        contention) cargo run --quiet --release --example contention -- --svg docs/contention.svg ;;
        adaptive) OUT=docs/adaptive.svg scripts/adaptive.sh ;;
        *)
            echo "usage: $0 [attempts] [outage] [contention] [adaptive]" >&2
            exit 2
            ;;
    esac
done
