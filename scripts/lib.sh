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

# need_packages PACKAGE:COMMAND… — installs each missing Debian package (as root), or prints the
# apt-get line to run.
need_packages() {
    local missing=()
    for pair in "$@"; do
        command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tacit: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "tacit: missing packages; run: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}
