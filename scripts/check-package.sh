#!/usr/bin/env bash
# Checks the packages scripts/package.sh built on this machine, each on a fresh home:
#  - the .deb: installed with apt (which brings its dependencies); the `tacit` CLI on the PATH,
#    the desktop entry registered for tacit:// links, the installed app opening under Xvfb (its
#    control socket answers the CLI, a screenshot is saved);
#  - the AppImage: its CLI (as `Tacit.AppImage cli` and through a link named tacit), its
#    desktop entry, the WebKitGTK and GTK it carries (every library found, which ones come from
#    the system), and the app it holds opening under Xvfb the same way with the system's
#    WebKitGTK hidden. Mounted with FUSE where FUSE works, else with --appimage-extract-and-run.
# Not part of CI: it needs a release build and changes the machine's packages. Root.
#
#   scripts/check-package.sh [deb|appimage|all] [--remove]   (all: each one that was built)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "tacit: run as root (it installs the .deb with apt)" >&2
    exit 1
fi
which="${1:-all}"
remove=
for a in "$@"; do [ "$a" = --remove ] && remove=1; done
[ "$which" = --remove ] && which=all
deb=$(ls -t target/package/release/bundle/deb/*.deb 2>/dev/null | head -n 1 || true)
appimage=$(ls -t target/package/release/bundle/appimage/*.AppImage 2>/dev/null | head -n 1 || true)
case "$which" in
deb) appimage= ;;
appimage) deb= ;;
all) ;;
*) echo "tacit: check deb, appimage or all, not $which" >&2; exit 1 ;;
esac
if [ "$which" != appimage ] && [ -z "$deb" ]; then
    echo "tacit: no .deb in target/package/release/bundle/deb; build it with: scripts/package.sh deb" >&2
    exit 1
fi
if [ "$which" = appimage ] && [ -z "$appimage" ]; then
    echo "tacit: no AppImage in target/package/release/bundle/appimage; build it with: scripts/package.sh appimage" >&2
    exit 1
fi
# libfuse2: what the AppImage's runtime mounts itself with.
need_debs xvfb xauth imagemagick libfuse2

fail() { echo "tacit: FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

# opens APP (a command) on a fresh home under Xvfb, loopback only, no mDNS; writes a note
# through CLI (a command) while it runs; saves a screenshot to SHOT.
opens() {
    local app="$1" cli="$2" shot="$3" home="$work/home-$4"
    $cli --home "$home" init --name "Package Check" --org "Tacit" >/dev/null
    mkdir -p "$(dirname "$shot")"
    xvfb-run -a -s "-screen 0 1280x800x24" sh -c '
        "$0" --home "$1" --listen /ip4/127.0.0.1/tcp/0 --no-mdns >"$2/app-$4.log" 2>&1 &
        app=$!
        i=0
        until [ -S "$1/tacit.sock" ] || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
        sleep 3
        import -window root "$3"
        kill $app; wait $app || true
    ' "$app" "$home" "$work" "$shot" "$4" &
    pid=$!
    for _ in $(seq 1 600); do [ -S "$home/tacit.sock" ] && break; sleep 0.1; done
    [ -S "$home/tacit.sock" ] || { cat "$work/app-$4.log" >&2; fail "the $4 app did not open its home"; }
    $cli --home "$home" note new --title "Written while the $4 app runs" >/dev/null
    $cli --home "$home" status >"$work/status-$4.txt"
    head -n 3 "$work/status-$4.txt"
    wait "$pid" || true
    pid=
}

if [ -n "$deb" ]; then
    pkg=$(dpkg-deb -f "$deb" Package)
    echo "tacit: installing $deb ($pkg $(dpkg-deb -f "$deb" Version))" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
    echo "tacit: installed files:" >&2
    dpkg -L "$pkg" | grep -E -e '^/usr/bin/.' -e '^/usr/share/applications/.' -e '^/usr/share/icons/.*\.png$' >&2
    [ "$(command -v tacit)" = /usr/bin/tacit ] || fail "tacit is not /usr/bin/tacit"
    tacit --version
    app=$(dpkg -L "$pkg" | grep '^/usr/bin/' | grep -v '^/usr/bin/tacit$' | head -n 1 || true)
    [ -x "$app" ] || fail "no app binary in the package"
    desktop=$(dpkg -L "$pkg" | grep '/usr/share/applications/.*\.desktop$' | head -n 1 || true)
    [ -n "$desktop" ] || fail "no desktop entry"
    grep -q 'x-scheme-handler/tacit' "$desktop" || fail "$desktop does not handle tacit:// links"
    grep -q '^Exec=.* %u$' "$desktop" || fail "$desktop does not pass the link to the app (Exec needs %u)"
    echo "tacit: app $app, desktop entry $desktop (handles tacit://)" >&2
    shot="${SHOT:-target/screenshots/installed-app.png}"
    opens "$app" tacit "$shot" deb
    echo "tacit: PASS: the .deb installs, the installed app opens (screenshot: $shot)" >&2
    if [ -n "$remove" ]; then
        apt-get remove -y -qq "$pkg" >/dev/null
        echo "tacit: removed $pkg" >&2
    fi
fi

if [ -n "$appimage" ]; then
    appimage=$(readlink -f "$appimage")
    echo "tacit: the AppImage $appimage ($(stat -c %s "$appimage") bytes)" >&2
    # Mounted (FUSE), as on a desktop, when this machine can; else extracted and run.
    if "$appimage" cli --version >/dev/null 2>"$work/mount.log"; then
        echo "tacit: the AppImage runs mounted with FUSE" >&2
    else
        echo "tacit: FUSE does not work here ($(tail -n 1 "$work/mount.log")); running it extracted" >&2
        export APPIMAGE_EXTRACT_AND_RUN=1
    fi
    version=$("$appimage" cli --version) || fail "Tacit.AppImage cli --version failed"
    echo "tacit: Tacit.AppImage cli --version: $version" >&2
    ln -s "$appimage" "$work/tacit"
    [ "$("$work/tacit" --version)" = "$version" ] || fail "a link named tacit is not the CLI"
    (cd "$work" && env -u APPIMAGE_EXTRACT_AND_RUN "$appimage" --appimage-extract >/dev/null) || fail "the AppImage does not extract"
    root="$work/squashfs-root"
    for f in AppRun .DirIcon usr/bin/tacit; do
        [ -e "$root/$f" ] || fail "the AppImage has no $f"
    done
    desktop=$(ls "$root"/*.desktop 2>/dev/null | head -n 1 || true)
    [ -n "$desktop" ] || fail "the AppImage has no desktop entry at its root"
    grep -q 'x-scheme-handler/tacit' "$desktop" || fail "its desktop entry does not handle tacit:// links"
    echo "tacit: the AppImage holds AppRun, its icon, the CLI and a desktop entry for tacit://" >&2
    # WebKitGTK and GTK as it carries them: every library the app and WebKit's web process need
    # is found, and found inside it but for those left to the system.
    lib="$root/usr/lib/x86_64-linux-gnu"
    [ -e "$lib/libwebkit2gtk-4.1.so.0" ] && [ -x "$lib/webkit2gtk-4.1/WebKitWebProcess" ] ||
        fail "the AppImage does not carry WebKitGTK and its helper processes"
    app_bin=$(ls "$root/usr/bin" | grep -vx tacit | head -n 1)
    for elf in "$root/usr/bin/$app_bin" "$lib/webkit2gtk-4.1/WebKitWebProcess"; do
        LD_LIBRARY_PATH="$lib" ldd "$elf" >"$work/ldd.txt"
        ! grep -q 'not found' "$work/ldd.txt" || { cat "$work/ldd.txt" >&2; fail "$(basename "$elf") lacks libraries"; }
        echo "tacit: $(basename "$elf"): $(grep -c "$root" "$work/ldd.txt") libraries from the AppImage, $(grep '=> /' "$work/ldd.txt" | grep -vc "$root") from the system:" \
            "$(grep '=> /' "$work/ldd.txt" | grep -v "$root" | awk '{print $1}' | tr '\n' ' ')" >&2
    done
    echo "tacit: the AppImage is $(du -sh "$root" | cut -f1) unpacked" >&2
    rm -rf "$root"
    # The app it holds opens with the system's WebKitGTK hidden (a mount namespace of its own,
    # where the system's WebKitGTK libraries are empty files and its helper directory empty).
    cat >"$work/without-system-webkit" <<'HIDE'
#!/bin/sh
exec unshare -m sh -c '
    for f in /usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0 /usr/lib/x86_64-linux-gnu/libjavascriptcoregtk-4.1.so.0; do
        [ -e "$f" ] && mount --bind /dev/null "$(readlink -f "$f")"
    done
    [ -d /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1 ] && mount -t tmpfs tmpfs /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1
    exec "$0" "$@"' "$APP" "$@"
HIDE
    chmod 755 "$work/without-system-webkit"
    shot="${SHOT_APPIMAGE:-target/screenshots/appimage-app.png}"
    export APP="$appimage"
    opens "$work/without-system-webkit" "$work/tacit" "$shot" appimage
    echo "tacit: PASS: the AppImage runs the CLI and opens the app with the system's WebKitGTK hidden (screenshot: $shot)" >&2
fi
