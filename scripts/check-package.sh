#!/usr/bin/env bash
# Installs the .deb that scripts/package.sh built on this machine (as root, with apt, which
# brings its dependencies) and checks the installed Tacit: the `tacit` CLI on the PATH, the
# desktop entry registered for tacit:// links, and the installed app opening under Xvfb on a
# fresh home (its control socket answers the CLI, a screenshot is saved). Not part of CI: it
# needs a release build and changes the machine's packages. `--remove` uninstalls afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "tacit: run as root (it installs the .deb with apt)" >&2
    exit 1
fi
deb=$(ls -t target/package/release/bundle/deb/*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    echo "tacit: no .deb in target/package/release/bundle/deb; build it with: scripts/package.sh deb" >&2
    exit 1
fi
need_debs xvfb xauth imagemagick
pkg=$(dpkg-deb -f "$deb" Package)
echo "tacit: installing $deb ($pkg $(dpkg-deb -f "$deb" Version))" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null

fail() { echo "tacit: FAIL: $*" >&2; exit 1; }
echo "tacit: installed files:" >&2
dpkg -L "$pkg" | grep -E -e '^/usr/bin/.' -e '^/usr/share/applications/.' -e '^/usr/share/icons/.*\.png$' >&2
[ "$(command -v tacit)" = /usr/bin/tacit ] || fail "tacit is not /usr/bin/tacit"
tacit --version
app=$(dpkg -L "$pkg" | grep '^/usr/bin/' | grep -v '^/usr/bin/tacit$' | head -n 1)
[ -x "$app" ] || fail "no app binary in the package"
desktop=$(dpkg -L "$pkg" | grep '/usr/share/applications/.*\.desktop$' | head -n 1)
[ -n "$desktop" ] || fail "no desktop entry"
grep -q 'x-scheme-handler/tacit' "$desktop" || fail "$desktop does not handle tacit:// links"
grep -q '^Exec=.* %u$' "$desktop" || fail "$desktop does not pass the link to the app (Exec needs %u)"
echo "tacit: app $app, desktop entry $desktop (handles tacit://)" >&2

work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
home="$work/home"
tacit --home "$home" init --name "Package Check" --org "Tacit" >/dev/null
shot="${SHOT:-target/screenshots/installed-app.png}"
mkdir -p "$(dirname "$shot")"
# The installed app on that home, loopback only, no mDNS, in its own X display.
xvfb-run -a -s "-screen 0 1280x800x24" sh -c '
    "$0" --home "$1" --listen /ip4/127.0.0.1/tcp/0 --no-mdns >"$2/app.log" 2>&1 &
    app=$!
    i=0
    until [ -S "$1/tacit.sock" ] || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
    sleep 3
    import -window root "$3"
    kill $app; wait $app || true
' "$app" "$home" "$work" "$shot" &
pid=$!
for _ in $(seq 1 600); do [ -S "$home/tacit.sock" ] && break; sleep 0.1; done
[ -S "$home/tacit.sock" ] || { cat "$work/app.log" >&2; fail "the installed app did not open its home"; }
tacit --home "$home" note new --title "Written while the installed app runs" >/dev/null
tacit --home "$home" status | head -n 3
wait "$pid" || true
echo "tacit: PASS: the .deb installs, the installed app opens (screenshot: $shot)" >&2
if [ "${1:-}" = "--remove" ]; then
    apt-get remove -y -qq "$pkg" >/dev/null
    echo "tacit: removed $pkg" >&2
fi
