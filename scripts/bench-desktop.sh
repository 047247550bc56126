#!/usr/bin/env bash
# Launch benchmark of the desktop app (prints figures, asserts nothing): time from launch to the
# first paint of the note list, and memory after 10 s idle, on a home of 10,000 notes, beside a
# bare Tauri window built in the same run (benches/desktop-launch). Goal: within 1.3× of the bare
# window. Also the first launch after an upgrade that rebuilds the search index: its first paint
# (goal: no later than a normal launch) and when it is searchable again.
#
# Builds the UI and both release binaries, makes the bench home once (cached in
# target/bench-home-$BENCH_NOTES), then runs benches/desktop-launch/measure.py under one Xvfb.
# Environment: BENCH_NOTES (10000), BENCH_RUNS (5), BENCH_IDLE (seconds, 10).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_rust
need_packages xvfb:Xvfb python3:python3 npm:npm
if [ ! -r /usr/share/dict/words ]; then
    echo "bench: /usr/share/dict/words is missing; install it: apt-get install wamerican" >&2
    exit 1
fi

notes=${BENCH_NOTES:-10000}
runs=${BENCH_RUNS:-5}
idle=${BENCH_IDLE:-10}
target=${CARGO_TARGET_DIR:-target}

echo "bench: building the UI" >&2
npm run build --workspace ui

# Both with Tauri's custom-protocol feature (assets embedded, what `tauri build` does).
echo "bench: building release binaries (about 13 minutes from cold)" >&2
cargo build --release -p tacit-desktop -p tacit-bench-bare-window \
    --features tacit-desktop/custom-protocol,tacit-bench-bare-window/custom-protocol

home="$target/bench-home-$notes"
# A home made before the search index existed is made again, with its index.
if [ -d "$home" ] && [ ! -d "$home/index" ]; then
    rm -rf "$home"
fi
# Made under another name and renamed when complete, so an interrupted run is not reused.
if [ ! -d "$home" ]; then
    echo "bench: making a home of $notes notes in $home (once)" >&2
    rm -rf "$home.partial"
    "$target/release/make_home" "$home.partial" "$notes"
    mv "$home.partial" "$home"
fi
# As this build leaves it (its database migrated, its index in step), so that the measured
# launches open the home rather than upgrade it; the upgrade is measured on its own.
"$target/release/make_home" --refresh "$home"

# The app starts its network: loopback only and no mDNS (mDNS multicasts on the machine's
# interfaces), as in the tests.
export TACIT_NO_MDNS=1 TACIT_LISTEN=/ip4/127.0.0.1/tcp/0
exec python3 benches/desktop-launch/measure.py \
    --bare "$target/release/bare-window" \
    --tacit "$target/release/tacit-desktop" \
    --home "$home" --runs "$runs" --idle "$idle"
