#!/usr/bin/env bash
# Builds Tacit's installable packages with Tauri's bundler: a .deb and an AppImage, each with the
# app (its desktop entry and icon, registered as the handler of tacit:// invitation links) and
# the `tacit` command-line tool beside it (/usr/bin/tacit). Installs what the build needs first
# (Debian packages as root, otherwise it prints the apt-get line), like scripts/run.sh.
#
#   scripts/package.sh              # both
#   scripts/package.sh deb          # only the .deb (appimage: only the AppImage)
#
# The packages land in target/package/release/bundle/{deb,appimage}/: a build of its own,
# without debug info and stripped (the release build keeps line tables for profiles; with them
# the two binaries took 540 MB, stripped 76 MB). The AppImage bundler fetches its
# tools (linuxdeploy and its GTK plugin) from GitHub on first use; where only package registries
# are reachable it stops there, and the .deb is still built. Then: sudo apt install ./Tacit_*.deb
# (scripts/check-package.sh installs the .deb here and opens the installed app under Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

bundles="${1:-deb,appimage}"
need_rust
need_debs "${TAURI_PACKAGES[@]}" file
need_node
npm_install
npm run build --workspace ui
export CARGO_TARGET_DIR="$PWD/target/package" CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
# The CLI first: the bundles take it from there (tauri.conf.json, bundle.linux.*.files).
cargo build --release --locked -p tacit-cli --bin tacit
status=0
for b in ${bundles//,/ }; do
    # One bundle at a time, so that an AppImage that cannot fetch its tools leaves the .deb.
    if ! npx --no-install tauri build --ci --bundles "$b" --config '{"bundle":{"active":true}}'; then
        echo "tacit: the $b bundle failed (above)" >&2
        status=1
    fi
done
echo "tacit: packages:" >&2
find target/package/release/bundle -maxdepth 2 -type f \( -name '*.deb' -o -name '*.AppImage' \) -printf '  %p (%s bytes)\n' >&2 || true
exit "$status"
