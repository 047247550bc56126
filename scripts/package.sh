#!/usr/bin/env bash
# Builds Tacit's installable packages: a .deb with Tauri's bundler, and an AppImage made from
# that .deb's files. Each holds the app (its desktop entry and icon, registered as the handler
# of tacit:// invitation links) and the `tacit` command-line tool beside it. Installs what the
# build needs first (Debian packages as root, otherwise it prints the apt-get line), like
# scripts/run.sh.
#
#   scripts/package.sh              # both
#   scripts/package.sh deb          # only the .deb (appimage: the AppImage, and the .deb it needs)
#
# The packages land in target/package/release/bundle/{deb,appimage}/: a build of its own,
# without debug info and stripped (the release build keeps line tables for profiles; with them
# the two binaries took 540 MB, stripped 76 MB). Then: sudo apt install ./Tacit_*.deb
# (scripts/check-package.sh installs the .deb here, runs the AppImage, and opens both apps
# under Xvfb).
#
# The AppImage: Tauri's own AppImage bundler fetches linuxdeploy and its plugins from GitHub,
# which a machine that reaches only package registries cannot. So scripts/appimage.sh makes it
# from the .deb (see there).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

bundles="${1:-deb,appimage}"
want() { case ",$bundles," in *,"$1",*) return 0 ;; *) return 1 ;; esac; }
for b in ${bundles//,/ }; do
    case "$b" in
    deb | appimage) ;;
    *) echo "tacit: a bundle is deb or appimage, not $b" >&2; exit 2 ;;
    esac
done
need_rust
need_debs "${TAURI_PACKAGES[@]}" file
if want appimage; then need_debs "${APPIMAGE_PACKAGES[@]}"; fi
need_node
npm_install
npm run build --workspace ui
export CARGO_TARGET_DIR="$PWD/target/package" CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
# The CLI first: the .deb takes it from there (tauri.conf.json, bundle.linux.deb.files).
cargo build --release --locked -p tacit-cli --bin tacit
# The .deb (also when only the AppImage is asked for: it is made from the .deb).
npx --no-install tauri build --ci --bundles deb --config '{"bundle":{"active":true}}'
status=0
if want appimage; then
    deb=$(ls -t target/package/release/bundle/deb/*.deb | head -n 1)
    if ! scripts/appimage.sh "$deb" target/package/release/bundle/appimage; then
        echo "tacit: the AppImage failed (above)" >&2
        status=1
    fi
fi
echo "tacit: packages:" >&2
find target/package/release/bundle -maxdepth 2 -type f \( -name '*.deb' -o -name '*.AppImage' \) -printf '  %p (%s bytes)\n' >&2 || true
exit "$status"
