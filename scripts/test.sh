#!/usr/bin/env bash
# Runs every Tacit test: builds the binaries the end-to-end tests drive, then the whole
# workspace's tests (unit, CLI end to end, crash and corruption tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_rust
need_packages procps:kill
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo build --workspace --bins --locked

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"
