#!/usr/bin/env bash
# Runs the Tacit desktop app on this machine: installs what it needs (Debian packages as root,
# otherwise it prints the apt-get line), builds the UI and the app (release; the first build
# takes about 15 minutes on two cores), then opens the app on your home. Pass `--home DIR` to
# use another home than the default data dir. The `tacit` CLI is built beside it and talks to
# the running app.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    # No screen here (neither DISPLAY nor WAYLAND_DISPLAY): the window needs one, so say so
    # before a long build. A virtual display (Xvfb) serves: installed now when root (else the
    # apt-get line is printed), then the exact command to run.
    echo "tacit: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set)" >&2
    need_packages xvfb:xvfb-run xauth:xauth
    echo "tacit: from a desktop session, run scripts/run.sh there; on this machine, open it in a" \
        "virtual display: xvfb-run -a scripts/run.sh $*" >&2
    exit 1
fi

need_rust
need_debs "${TAURI_PACKAGES[@]}" "${LINK_PACKAGES[@]}"
need_node
npm_install
npm run build --workspace ui
cargo build --release --locked -p tacit-desktop -p tacit-cli --features tacit-desktop/custom-protocol
echo "tacit: the CLI is $PWD/target/release/tacit (add it to your PATH)"
exec target/release/tacit-desktop "$@"
