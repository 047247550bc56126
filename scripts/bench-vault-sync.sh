#!/usr/bin/env bash
# First sync of a generated Markdown vault (10,000 notes, about 25 MB) between two `tacit serve`
# processes driven by the CLI, beside two Syncthing instances syncing the same vault as files, in
# the same run, on loopback (prints figures, asserts nothing). Goal: Tacit lists every note at
# least 4.5× sooner than Syncthing has every file.
#
# Installs Syncthing (Debian's package) when root, builds the release `tacit`, makes the vault
# once (cached in target/bench-vault/vault-$BENCH_NOTES), then runs benches/vault-sync/measure.py.
# Environment: BENCH_NOTES (10000), BENCH_RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_rust
need_packages python3:python3 syncthing:syncthing
if [ ! -r /usr/share/dict/words ]; then
    need_debs wamerican
fi

target=${CARGO_TARGET_DIR:-target}
echo "bench: building the release tacit (a few minutes from cold)" >&2
cargo build --release -p tacit-cli

# Loopback only, and no mDNS (it multicasts on the machine's interfaces), as in the tests.
export TACIT_NO_MDNS=1
exec python3 benches/vault-sync/measure.py --tacit "$target/release/tacit" \
    --work "$target/bench-vault" --notes "${BENCH_NOTES:-10000}" --runs "${BENCH_RUNS:-3}"
