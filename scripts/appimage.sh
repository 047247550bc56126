#!/usr/bin/env bash
# Makes Tacit's AppImage from its .deb: scripts/appimage.sh DEB OUTDIR writes
# OUTDIR/Tacit_<version>_x86_64.AppImage. scripts/package.sh runs it after Tauri's bundler made
# the .deb (Tauri's own AppImage bundler fetches linuxdeploy and its plugins from GitHub, which
# a machine that reaches only package registries cannot).
#
# The AppImage holds the .deb's tree (the app, /usr/bin/tacit, the desktop entry that handles
# tacit:// links, the icon), with AppRun, the desktop entry and the icon at its root, in a
# squashfs image behind the AppImage runtime. Run as it is, it opens the app; run through a
# link named `tacit`, or as `Tacit.AppImage cli ...`, it is the command-line tool. Like the
# .deb, it uses the system's WebKitGTK 4.1 and GTK 3 (on Debian and Ubuntu:
# libwebkit2gtk-4.1-0); it does not carry them. It mounts itself with FUSE (libfuse2), or runs
# extracted with --appimage-extract-and-run (or APPIMAGE_EXTRACT_AND_RUN=1) where FUSE is
# missing. Needs dpkg-deb, mksquashfs (squashfs-tools) and curl; tests/tests/appimage.rs runs it
# on a .deb of its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# The AppImage runtime: the `appimage` crate 0.4.0 on crates.io (MIT OR Apache-2.0) ships
# AppImageKit's type 2 runtime as assets/runtime-x86_64. The crate's SHA-256 is the registry's
# own (index.crates.io lists it as the version's cksum).
APPIMAGE_CRATE_URL=https://static.crates.io/crates/appimage/appimage-0.4.0.crate
APPIMAGE_CRATE_SHA256=567a4da6b94a2ac20a27620933c80fc14cf475b5fe7d7b137d20eb237d6b1920

appimage_runtime() {
    # Kept once fetched (under the build's target directory), put in place whole.
    local dir="${CARGO_TARGET_DIR:-$root/target}/appimage-runtime"
    local runtime="$dir/runtime-x86_64"
    if [ ! -s "$runtime" ]; then
        mkdir -p "$dir"
        curl -fsSL --retry 3 -o "$work/appimage.crate" "$APPIMAGE_CRATE_URL" || return 1
        if ! echo "$APPIMAGE_CRATE_SHA256  $work/appimage.crate" | sha256sum -c --quiet - >/dev/null 2>&1; then
            echo "tacit: the appimage crate from crates.io does not have the registry's checksum; not using it" >&2
            return 1
        fi
        tar -xzf "$work/appimage.crate" -C "$work" --strip-components=2 \
            appimage-0.4.0/assets/runtime-x86_64 || return 1
        mv "$work/runtime-x86_64" "$runtime.$$" && mv "$runtime.$$" "$runtime"
    fi
    echo "$runtime"
}

# appimage_from_deb DEB OUTDIR
appimage_from_deb() {
    if [ "$(uname -m)" != x86_64 ]; then
        echo "tacit: the AppImage runtime here is for x86_64 only" >&2
        return 1
    fi
    local deb="$1" outdir="$2" runtime version out app desktop icon appdir
    [ -f "$deb" ] || { echo "tacit: no .deb to make the AppImage from ($deb)" >&2; return 1; }
    runtime=$(appimage_runtime) || return 1
    version=$(dpkg-deb -f "$deb" Version) || return 1
    appdir="$work/Tacit.AppDir"
    mkdir -p "$appdir"
    dpkg-deb -x "$deb" "$appdir" || return 1
    app=$(cd "$appdir" && ls usr/bin 2>/dev/null | grep -vx tacit | head -n 1)
    desktop=$(cd "$appdir" && ls usr/share/applications/*.desktop 2>/dev/null | head -n 1)
    icon=$(cd "$appdir" && ls -S usr/share/icons/hicolor/*/apps/*.png 2>/dev/null | head -n 1)
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
# The app uses the system's WebKitGTK: without it, say so instead of the loader's error.
webkit=libwebkit2gtk-4.1.so.0
found=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu; do
    [ -e "\$d/\$webkit" ] && found=1 && break
done
if [ -z "\$found" ] && ! /sbin/ldconfig -p 2>/dev/null | grep -q "\$webkit"; then
    echo "Tacit's app needs WebKitGTK 4.1 (\$webkit), which this system lacks." >&2
    echo "On Debian and Ubuntu: sudo apt install libwebkit2gtk-4.1-0" >&2
    echo "The command-line tool works without it: \${APPIMAGE:-\$0} cli --help" >&2
    exit 127
fi
exec "\$here/usr/bin/$app" "\$@"
APPRUN
    chmod 755 "$appdir/AppRun"
    cp "$appdir/$desktop" "$appdir/"
    cp "$appdir/$icon" "$appdir/$(basename "$icon")"
    ln -sf "$(basename "$icon")" "$appdir/.DirIcon"
    out="$outdir/Tacit_${version}_x86_64.AppImage"
    mkdir -p "$outdir"
    mksquashfs "$appdir" "$work/image.squashfs" -root-owned -noappend -quiet -comp gzip >/dev/null || return 1
    # Written beside and renamed: an AppImage that is there is whole.
    cat "$runtime" "$work/image.squashfs" >"$out.part" && chmod 755 "$out.part" && mv "$out.part" "$out"
    echo "tacit: AppImage $out (from $(basename "$deb"))" >&2
}

if [ $# -ne 2 ]; then
    echo "usage: scripts/appimage.sh DEB OUTDIR" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
appimage_from_deb "$1" "$2"
