#!/usr/bin/env bash
# Runs Tacit on this machine: builds the `tacit` binary (release), initialises the home if it
# is new, then serves it until Ctrl-C. Other terminals then use `tacit note new …` and friends,
# which talk to this node. Pass `--home DIR` to use another home than the default data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_rust
cargo build --release --locked -p tacit-cli
tacit=target/release/tacit
"$tacit" "$@" init --name "${TACIT_NAME:-${USER:-$(id -un)}}"
echo "tacit: the binary is $PWD/$tacit (add it to your PATH); try: tacit note new --title 'First note'"
exec "$tacit" "$@" serve
