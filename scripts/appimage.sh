#!/usr/bin/env bash
# Makes Tacit's AppImage from its .deb: scripts/appimage.sh DEB OUTDIR writes
# OUTDIR/Tacit_<version>_x86_64.AppImage. scripts/package.sh runs it after Tauri's bundler made
# the .deb (Tauri's own AppImage bundler fetches linuxdeploy and its plugins from GitHub, which
# a machine that reaches only package registries cannot).
#
# The AppImage holds the .deb's tree (the app, /usr/bin/tacit, the desktop entry that handles
# tacit:// links, the icon), with AppRun, the desktop entry and the icon at its root, in a
# squashfs image behind the AppImage runtime. Run as it is, it opens the app; run through a
# link named `tacit`, or as `Tacit.AppImage cli ...`, it is the command-line tool.
#
# Unlike the .deb, it carries WebKitGTK 4.1, GTK 3 and every library they need from the build
# machine (bundle_gtk below), so that it runs where they are not installed; only what every
# Linux desktop has, and must come from the system, is left out (glibc, the GPU drivers' GL,
# X11's client libraries, fontconfig and FreeType; see EXCLUDED_LIBS). It needs a glibc at least
# as new as the build machine's, like any AppImage. It mounts itself with FUSE (libfuse2), or
# runs extracted with --appimage-extract-and-run (or APPIMAGE_EXTRACT_AND_RUN=1) where FUSE is
# missing. Needs dpkg-deb, mksquashfs (squashfs-tools), curl and glib-compile-schemas
# (libglib2.0-bin); tests/tests/appimage.rs runs it on a .deb of its own.
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

# Libraries taken from the system, never carried (after AppImage's excludelist): glibc, the C++
# runtime (as new as glibc, where glibc is new enough), the GPU drivers' GL and what they share
# with the system, X11's client libraries, fontconfig and FreeType (with the system's
# configuration and fonts), and a few more every desktop has.
EXCLUDED_LIBS='^(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libmvec|libnsl|libBrokenLocale|libgcc_s|libstdc\+\+|libGL|libEGL|libGLX|libGLdispatch|libOpenGL|libGLESv2|libgbm|libdrm|libglapi|libX11|libX11-xcb|libxcb[-a-z0-9]*|libfontconfig|libfreetype|libexpat|libz|libasound|libgpg-error|libcom_err|libICE|libSM|libusb-1\.0|libuuid)\.so'

# Where Debian keeps the libraries; the AppImage keeps them at the same place under usr/.
SYSTEM_LIB=/usr/lib/x86_64-linux-gnu
# WebKitGTK's helper processes, where the system keeps them; the library names this directory
# (and its injected-bundle/ under it), which bundle_gtk rewrites to a relative one.
WEBKIT_EXEC_DIR=$SYSTEM_LIB/webkit2gtk-4.1

# bundle_gtk APPDIR APP: copies WebKitGTK (its library, helper processes and injected bundle),
# GTK's image loaders and settings schemas, and every library the app and these need (but
# EXCLUDED_LIBS) into APPDIR/usr. Nothing when the app does not link WebKitGTK.
bundle_gtk() {
    local appdir="$1" app="$2" lib="$1$SYSTEM_LIB"
    local pixbuf=gdk-pixbuf-2.0/2.10.0
    # Read whole, not piped to `grep -q`: under pipefail, grep leaving at the first match makes
    # ldd's later writes fail, and the app would be taken for one without WebKitGTK.
    local deps
    deps=$(ldd "$appdir/usr/bin/$app" 2>/dev/null) || true
    [[ $deps == *libwebkit2gtk-4.1.so* ]] || return 0
    [ -d "$WEBKIT_EXEC_DIR" ] || { echo "tacit: no $WEBKIT_EXEC_DIR to carry" >&2; return 1; }
    mkdir -p "$lib/$pixbuf" "$appdir/usr/share/glib-2.0/schemas"
    cp -a "$WEBKIT_EXEC_DIR" "$lib/"
    rm -f "$lib/webkit2gtk-4.1/MiniBrowser"
    if [ -d "$SYSTEM_LIB/$pixbuf/loaders" ]; then
        cp -a "$SYSTEM_LIB/$pixbuf/loaders" "$lib/$pixbuf/"
        # Paths relative to usr/, where AppRun starts the app.
        LC_ALL=C sed "s|\"$SYSTEM_LIB/|\".${SYSTEM_LIB#/usr}/|" \
            "$SYSTEM_LIB/$pixbuf/loaders.cache" >"$lib/$pixbuf/loaders.cache"
    fi
    # Every library the app, WebKit's helpers and the loaders load (ldd lists the whole closure).
    local elf so name n=0
    while IFS= read -r so; do
        name=$(basename "$so")
        if [[ "$name" =~ $EXCLUDED_LIBS ]] || [ -e "$lib/$name" ]; then continue; fi
        cp -L "$so" "$lib/$name"
        n=$((n + 1))
    done < <(
        for elf in "$appdir/usr/bin/$app" "$lib"/webkit2gtk-4.1/WebKit* \
            "$lib"/webkit2gtk-4.1/injected-bundle/*.so "$lib/$pixbuf"/loaders/*.so; do
            [ -f "$elf" ] && ldd "$elf" 2>/dev/null
        done | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u
    )
    # WebKit starts its helpers from the directory compiled into it: made relative (the same
    # length: /usr -> ././), it is found under usr/, where AppRun starts the app.
    local webkit="$lib/libwebkit2gtk-4.1.so.0" relative="././${WEBKIT_EXEC_DIR#/usr}"
    LC_ALL=C sed -i "s|$WEBKIT_EXEC_DIR|$relative|g" "$webkit"
    if LC_ALL=C grep -qF "$WEBKIT_EXEC_DIR" "$webkit" || ! LC_ALL=C grep -qF "$relative" "$webkit"; then
        echo "tacit: could not point WebKitGTK at the helper processes it carries" >&2
        return 1
    fi
    # GTK's own settings (the file chooser's, the colour and emoji choosers'), which it aborts
    # without; the system's schemas are read as well.
    cp /usr/share/glib-2.0/schemas/org.gtk.Settings.*.gschema.xml "$appdir/usr/share/glib-2.0/schemas/"
    glib-compile-schemas "$appdir/usr/share/glib-2.0/schemas" || return 1
    echo "tacit: carrying WebKitGTK, GTK and $n libraries ($(du -sh "$lib" | cut -f1))" >&2
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
    app=$(cd "$appdir" && ls usr/bin 2>/dev/null | grep -vx tacit | head -n 1 || true)
    desktop=$(cd "$appdir" && ls usr/share/applications/*.desktop 2>/dev/null | head -n 1 || true)
    icon=$(cd "$appdir" && ls -S usr/share/icons/hicolor/*/apps/*.png 2>/dev/null | head -n 1 || true)
    if [ -z "$app" ] || [ -z "$desktop" ] || [ -z "$icon" ] || [ ! -x "$appdir/usr/bin/tacit" ]; then
        echo "tacit: the .deb lacks the app, the CLI, its desktop entry or its icon" >&2
        return 1
    fi
    bundle_gtk "$appdir" "$app" || return 1
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
lib="\$here/usr/lib/x86_64-linux-gnu"
if [ -e "\$lib/libwebkit2gtk-4.1.so.0" ]; then
    # WebKitGTK and GTK as carried here (scripts/appimage.sh). What is set here is put back for
    # the programs the app starts (the desktop's handler of an attachment): each variable's
    # value before, if it had one, is in APPIMAGE_ORIGINAL_<name>.
    export TACIT_APPIMAGE_ENV="LD_LIBRARY_PATH GDK_PIXBUF_MODULE_FILE GSETTINGS_SCHEMA_DIR GST_PLUGIN_SYSTEM_PATH_1_0 XDG_DATA_DIRS"
    [ -n "\${LD_LIBRARY_PATH+x}" ] && export APPIMAGE_ORIGINAL_LD_LIBRARY_PATH="\$LD_LIBRARY_PATH"
    [ -n "\${GDK_PIXBUF_MODULE_FILE+x}" ] && export APPIMAGE_ORIGINAL_GDK_PIXBUF_MODULE_FILE="\$GDK_PIXBUF_MODULE_FILE"
    [ -n "\${GSETTINGS_SCHEMA_DIR+x}" ] && export APPIMAGE_ORIGINAL_GSETTINGS_SCHEMA_DIR="\$GSETTINGS_SCHEMA_DIR"
    [ -n "\${GST_PLUGIN_SYSTEM_PATH_1_0+x}" ] && export APPIMAGE_ORIGINAL_GST_PLUGIN_SYSTEM_PATH_1_0="\$GST_PLUGIN_SYSTEM_PATH_1_0"
    [ -n "\${XDG_DATA_DIRS+x}" ] && export APPIMAGE_ORIGINAL_XDG_DATA_DIRS="\$XDG_DATA_DIRS"
    export LD_LIBRARY_PATH="\$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
    export GDK_PIXBUF_MODULE_FILE="\$lib/gdk-pixbuf-2.0/2.10.0/loaders.cache"
    export GSETTINGS_SCHEMA_DIR="\$here/usr/share/glib-2.0/schemas"
    # No GStreamer plugins of the system's (built against another GStreamer).
    export GST_PLUGIN_SYSTEM_PATH_1_0="\$lib/gstreamer-1.0"
    export XDG_DATA_DIRS="\$here/usr/share:\${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
    # WebKit finds its helper processes, and the image loaders are found, from usr/.
    cd "\$here/usr" || exit 1
    exec "\$here/usr/bin/$app" "\$@"
fi
# Made without WebKitGTK (from a .deb whose app does not link it): the system's, and without
# it, say so instead of the loader's error.
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
