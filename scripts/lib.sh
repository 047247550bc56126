# Shared by the scripts: checks for what Tacit needs, installing Debian packages when root.

# Fails with the exact way to get Rust when cargo is missing (Debian's own is too old).
need_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "tacit: Rust (cargo, 1.89 or newer) is needed: install it with rustup (https://rustup.rs)" >&2
        exit 1
    fi
    need_packages gcc:cc
}

# install_debs PACKAGE… — installs the Debian packages (as root), or prints the apt-get line
# to run and fails.
install_debs() {
    [ $# -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tacit: installing $*" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
    else
        echo "tacit: missing packages; run: sudo apt-get install -y $*" >&2
        exit 1
    fi
}

# need_packages PACKAGE:COMMAND… — installs each missing Debian package (as root), or prints the
# apt-get line to run.
need_packages() {
    local missing=()
    for pair in "$@"; do
        command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
    done
    install_debs "${missing[@]}"
}

# The Debian packages the desktop app builds against and its end-to-end tests run with
# (Tauri 2 on WebKitGTK 4.1; Xvfb and WebKitWebDriver for tests and screenshots; xdotool presses
# the quick capture shortcut as a keyboard would, and drags files; xclip puts an image on the
# clipboard to paste; Python's GTK bindings make the window the files are dragged from).
TAURI_PACKAGES=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
    build-essential pkg-config libssl-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev)
E2E_PACKAGES=(xvfb webkit2gtk-driver xauth imagemagick xdotool xclip python3-gi gir1.2-gtk-3.0)
# the LAN discovery, NAT and partition tests build network namespaces with `ip`, NATs and cuts
# with `nft`, check the topology with `ping`, and (where the kernel has no netem) queue packets
# to the partition test's link shaper with `iptables`
NET_TEST_PACKAGES=(iproute2 nftables iputils-ping iptables)
# what scripts/appimage.sh makes the AppImage with, in scripts/package.sh and in its test: the
# .deb's tree (dpkg-deb), the image (mksquashfs), the AppImage runtime from crates.io (curl),
# GTK's settings schemas it carries (glib-compile-schemas)
APPIMAGE_PACKAGES=(dpkg squashfs-tools curl libglib2.0-bin)
# what registers the app as the handler of tacit:// links
LINK_PACKAGES=(xdg-utils desktop-file-utils)

# need_debs PACKAGE… — installs the Debian packages that are not installed (as root), or
# prints the apt-get line to run.
need_debs() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    install_debs "${missing[@]}"
}

# Node.js 20.19+ and npm build the UI (Vite 8 needs them).
need_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need_debs nodejs npm
    if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
        echo "tacit: Node.js 20.19 or newer is needed to build the UI (found $(node --version));" \
            "install a newer Node.js (https://nodejs.org) and run this again" >&2
        exit 1
    fi
}

# Installs the UI's npm packages exactly as package-lock.json says, unless they already are.
npm_install() {
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund
    fi
}
