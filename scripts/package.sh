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
# which a machine that reaches only package registries cannot. So the AppImage is assembled
# here from the .deb's tree (what Tauri's bundler put there), an AppRun, and the AppImage
# runtime (the executable head of every AppImage), which comes from crates.io (the `appimage`
# crate ships it; its checksum is pinned below). Like the .deb, it uses the system's WebKitGTK
# 4.1 and GTK 3 (on Debian and Ubuntu: libwebkit2gtk-4.1-0); it does not carry them. It runs
# mounted with FUSE (libfuse2), or with --appimage-extract-and-run (or
# APPIMAGE_EXTRACT_AND_RUN=1) where FUSE is missing. Run through a link named `tacit`, or as
# `Tacit.AppImage cli ...`, it is the command-line tool.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# The AppImage runtime: the `appimage` crate 0.4.0 on crates.io (MIT OR Apache-2.0) ships
# AppImageKit's type 2 runtime as assets/runtime-x86_64. The crate's SHA-256 is the registry's
# own (index.crates.io lists it as the version's cksum).
APPIMAGE_CRATE_URL=https://static.crates.io/crates/appimage/appimage-0.4.0.crate
APPIMAGE_CRATE_SHA256=567a4da6b94a2ac20a27620933c80fc14cf475b5fe7d7b137d20eb237d6b1920

appimage_runtime() {
    local dir="$CARGO_TARGET_DIR/appimage-runtime"
    local runtime="$dir/runtime-x86_64"
    if [ ! -s "$runtime" ]; then
        mkdir -p "$dir"
        curl -fsSL --retry 3 -o "$dir/appimage.crate" "$APPIMAGE_CRATE_URL" || return 1
        if ! echo "$APPIMAGE_CRATE_SHA256  $dir/appimage.crate" | sha256sum -c --quiet -; then
            echo "tacit: the appimage crate's checksum is not the registry's; not using it" >&2
            rm -f "$dir/appimage.crate"
            return 1
        fi
        tar -xzf "$dir/appimage.crate" -C "$dir" --strip-components=2 \
            appimage-0.4.0/assets/runtime-x86_64 || return 1
        rm -f "$dir/appimage.crate"
    fi
    echo "$runtime"
}

appimage_from_deb() {
    if [ "$(uname -m)" != x86_64 ]; then
        echo "tacit: the AppImage runtime here is for x86_64 only" >&2
        return 1
    fi
    local deb runtime version out app desktop icon appdir
    deb=$(ls -t target/package/release/bundle/deb/*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || { echo "tacit: no .deb to make the AppImage from" >&2; return 1; }
    runtime=$(appimage_runtime) || return 1
    version=$(dpkg-deb -f "$deb" Version)
    appdir="$CARGO_TARGET_DIR/appimage/Tacit.AppDir"
    rm -rf "$appdir"
    mkdir -p "$appdir"
    dpkg-deb -x "$deb" "$appdir"
    app=$(cd "$appdir" && ls usr/bin | grep -vx tacit | head -n 1)
    desktop=$(cd "$appdir" && ls usr/share/applications/*.desktop | head -n 1)
    icon=$(cd "$appdir" && ls -S usr/share/icons/hicolor/*/apps/*.png | head -n 1)
    if [ -z "$app" ] || [ -z "$desktop" ] || [ -z "$icon" ] || [ ! -x "$appdir/usr/bin/tacit" ]; then
        echo "tacit: the .deb lacks the app, the CLI, its desktop entry or its icon" >&2
        return 1
    fi
    # The AppImage's root: AppRun, the desktop entry and the icon (.DirIcon too).
    cat >"$appdir/AppRun" <<APPRUN
#!/bin/sh
# Tacit's AppImage: the app, or the tacit command-line tool when run through a link named
# tacit (the runtime sets ARGV0) or as "Tacit.AppImage cli ...".
here=\$(dirname "\$(readlink -f "\$0")")
export PATH="\$here/usr/bin:\$PATH"
if [ "\$(basename "\${ARGV0:-}")" = tacit ]; then
    exec "\$here/usr/bin/tacit" "\$@"
fi
if [ "\${1:-}" = cli ]; then
    shift
    exec "\$here/usr/bin/tacit" "\$@"
fi
exec "\$here/usr/bin/$app" "\$@"
APPRUN
    chmod 755 "$appdir/AppRun"
    cp "$appdir/$desktop" "$appdir/"
    cp "$appdir/$icon" "$appdir/$(basename "$icon")"
    ln -sf "$(basename "$icon")" "$appdir/.DirIcon"
    out="target/package/release/bundle/appimage/Tacit_${version}_x86_64.AppImage"
    mkdir -p "$(dirname "$out")"
    rm -f "$out" "$out.squashfs"
    mksquashfs "$appdir" "$out.squashfs" -root-owned -noappend -quiet -comp gzip >/dev/null || return 1
    cat "$runtime" "$out.squashfs" >"$out"
    rm -f "$out.squashfs"
    chmod 755 "$out"
    echo "tacit: AppImage $out (from $(basename "$deb"))" >&2
}

bundles="${1:-deb,appimage}"
need_rust
need_debs "${TAURI_PACKAGES[@]}" file
case ",$bundles," in *,appimage,*) need_debs squashfs-tools curl ;; esac
need_node
npm_install
npm run build --workspace ui
export CARGO_TARGET_DIR="$PWD/target/package" CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
# The CLI first: the .deb takes it from there (tauri.conf.json, bundle.linux.deb.files).
cargo build --release --locked -p tacit-cli --bin tacit
status=0
# The AppImage is made from the .deb: it is built first when only the AppImage is asked for.
tauri_bundles=deb
case ",$bundles," in *,deb,* | *,appimage,*) ;; *) tauri_bundles= ;; esac
for b in $tauri_bundles; do
    if ! npx --no-install tauri build --ci --bundles "$b" --config '{"bundle":{"active":true}}'; then
        echo "tacit: the $b bundle failed (above)" >&2
        status=1
    fi
done
case ",$bundles," in
*,appimage,*)
    if [ "$status" -eq 0 ] && ! appimage_from_deb; then
        echo "tacit: the AppImage failed (above)" >&2
        status=1
    fi
    ;;
esac
echo "tacit: packages:" >&2
find target/package/release/bundle -maxdepth 2 -type f \( -name '*.deb' -o -name '*.AppImage' \) -printf '  %p (%s bytes)\n' >&2 || true
exit "$status"
