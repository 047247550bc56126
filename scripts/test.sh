#!/usr/bin/env bash
# Runs every Tacit test: the UI's type check and unit tests, the Rust workspace's tests (unit,
# CLI end to end, crash and corruption tests, the generated TypeScript bindings being current),
# then the desktop app's end-to-end tests through WebDriver under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_rust
need_packages procps:kill
need_debs "${TAURI_PACKAGES[@]}" "${E2E_PACKAGES[@]}" "${NET_TEST_PACKAGES[@]}" \
    "${APPIMAGE_PACKAGES[@]}"
need_node
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export FORCE_COLOR=0 NO_COLOR=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
step() { "$@" 2>&1 | tee -a "$log" || status=1; }

npm_install
step npm run check --workspace ui
step npm test --workspace ui
# The app embeds the built UI, so the UI is built before the Rust workspace.
npm run build --workspace ui
cargo build --workspace --bins --locked
step cargo test --workspace --locked "$@"
if ! command -v tauri-driver >/dev/null 2>&1; then
    cargo install tauri-driver --locked --version 2.1.0
fi
step npm test --workspace tacit-e2e

# One closing line for the whole run: Rust's test binaries, then Vitest's summaries.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     /^ *Tests +[0-9]/ { for (k = 2; k < NF; k++) {
         if ($(k+1) ~ /^passed/) p += $k; if ($(k+1) ~ /^failed/) f += $k; if ($(k+1) ~ /^skipped/) i += $k } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"
