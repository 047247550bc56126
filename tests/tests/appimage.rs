//! The AppImage that `scripts/appimage.sh` makes from a `.deb` (`scripts/package.sh` runs it on
//! the `.deb` Tauri's bundler built). Here it is made from a small `.deb` of the same layout
//! whose app and CLI are shell scripts, so that CI checks the AppImage's assembly without a
//! release build; `scripts/check-package.sh` checks the real one. The AppImage is run extracted
//! (`APPIMAGE_EXTRACT_AND_RUN=1`): FUSE may be missing where the tests run.
//!
//! One more is made from the same `.deb` with its app a small C program linked with WebKitGTK,
//! so that the AppImage carries WebKitGTK and GTK as the real one does, and the program shows
//! which WebKitGTK it loaded.
//!
//! Needs Linux on x86_64 (the runtime's architecture; skipped with the reason printed
//! otherwise), `dpkg-deb`, `mksquashfs`, `curl`, `glib-compile-schemas`, and `cc` with
//! WebKitGTK 4.1's development files (`scripts/test.sh` installs them), and crates.io, where the
//! AppImage runtime comes from.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = "9.8.7";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/appimage.sh")
}

fn supported() -> bool {
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        for tool in ["dpkg-deb", "mksquashfs", "curl"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .expect("sh runs");
            assert!(
                found.status.success(),
                "{tool} is missing: install dpkg, squashfs-tools and curl (scripts/test.sh does)"
            );
        }
        true
    } else {
        eprintln!("skipped: the AppImage runtime is for Linux on x86_64");
        false
    }
}

fn write(path: &Path, bytes: &[u8], executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("the directory is made");
    std::fs::write(path, bytes).expect("the file is written");
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A `.deb` laid out as Tauri's bundler lays out Tacit's: the app, the CLI (unless `with_cli`
/// is false), the desktop entry handling tacit:// links, the icon.
fn deb(dir: &Path, with_cli: bool) -> PathBuf {
    build_deb(&tree(dir, with_cli), dir)
}

/// The tree of [`deb`]'s package, in `dir/tree`.
fn tree(dir: &Path, with_cli: bool) -> PathBuf {
    let tree = dir.join("tree");
    write(
        &tree.join("usr/bin/tacit-desktop"),
        b"#!/bin/sh\necho \"app: $*\"\n",
        true,
    );
    if with_cli {
        write(
            &tree.join("usr/bin/tacit"),
            b"#!/bin/sh\necho \"cli: $*\"\n",
            true,
        );
    }
    write(
        &tree.join("usr/share/applications/Tacit.desktop"),
        b"[Desktop Entry]\nType=Application\nName=Tacit\nExec=tacit-desktop %u\nIcon=tacit-desktop\nMimeType=x-scheme-handler/tacit\n",
        false,
    );
    write(
        &tree.join("usr/share/icons/hicolor/32x32/apps/tacit-desktop.png"),
        b"\x89PNG\r\n\x1a\n not a real image",
        false,
    );
    let control = format!(
        "Package: tacit\nVersion: {VERSION}\nArchitecture: amd64\nMaintainer: Tacit\nDescription: the AppImage test's package\n"
    );
    write(&tree.join("DEBIAN/control"), control.as_bytes(), false);
    tree
}

/// `dir/tacit.deb`, built from `tree`.
fn build_deb(tree: &Path, dir: &Path) -> PathBuf {
    let deb = dir.join("tacit.deb");
    let built = Command::new("dpkg-deb")
        .arg("--build")
        .arg("--root-owner-group")
        .arg(tree)
        .arg(&deb)
        .output()
        .expect("dpkg-deb runs");
    assert!(built.status.success(), "dpkg-deb: {built:?}");
    deb
}

fn make(deb: &Path, out: &Path) -> Output {
    Command::new("bash")
        .arg(script())
        .arg(deb)
        .arg(out)
        .output()
        .expect("scripts/appimage.sh runs")
}

/// A temporary directory with a `.deb` made in it (with the CLI or not), and what
/// `scripts/appimage.sh` did with it, writing into `out/` there.
fn made_from_deb(with_cli: bool) -> (tempfile::TempDir, PathBuf, Output) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let deb = deb(dir.path(), with_cli);
    let out = dir.path().join("out");
    let made = make(&deb, &out);
    (dir, out, made)
}

fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("APPIMAGE_EXTRACT_AND_RUN", "1")
        .output()
        .expect("the AppImage runs");
    assert!(out.status.success(), "{program:?} {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Extracts `image` in `dir` (as desktops and AppImage tools read it): its root.
fn extract(image: &Path, dir: &Path) -> PathBuf {
    let extracted = Command::new(image)
        .arg("--appimage-extract")
        .current_dir(dir)
        .env_remove("APPIMAGE_EXTRACT_AND_RUN")
        .output()
        .expect("the AppImage extracts");
    assert!(extracted.status.success(), "{extracted:?}");
    dir.join("squashfs-root")
}

#[test]
fn the_appimage_made_from_the_deb_opens_the_app_and_is_the_cli_as_cli_or_through_a_link_named_tacit()
 {
    if !supported() {
        return;
    }
    let (dir, out, made) = made_from_deb(true);
    assert!(made.status.success(), "scripts/appimage.sh: {made:?}");
    let image = out.join(format!("Tacit_{VERSION}_x86_64.AppImage"));
    assert!(image.is_file(), "no {image:?}");

    // Run as it is: the app, given the arguments (a tacit:// link, as the desktop entry passes).
    assert_eq!(run(&image, &["tacit://join/abc"]), "app: tacit://join/abc");
    // `cli`: the command-line tool, without the word.
    assert_eq!(run(&image, &["cli", "--version"]), "cli: --version");
    // Through a link named tacit: the command-line tool.
    let link = dir.path().join("tacit");
    std::os::unix::fs::symlink(&image, &link).expect("the link is made");
    assert_eq!(run(&link, &["status", "--json"]), "cli: status --json");

    // Its root, as desktops and AppImage tools read it.
    let root = extract(&image, dir.path());
    for file in [
        "AppRun",
        "tacit-desktop.png",
        "usr/bin/tacit",
        "usr/bin/tacit-desktop",
    ] {
        assert!(root.join(file).is_file(), "the AppImage has no {file}");
    }
    assert_eq!(
        std::fs::read_link(root.join(".DirIcon")).expect(".DirIcon is a link"),
        Path::new("tacit-desktop.png")
    );
    let desktop =
        std::fs::read_to_string(root.join("Tacit.desktop")).expect("a desktop entry at the root");
    assert!(desktop.contains("x-scheme-handler/tacit"), "{desktop}");
}

/// An app that links WebKitGTK, as Tacit's does: it says where it runs, with which arguments,
/// and where the WebKitGTK library it loaded lies (from its memory map).
const WEBKIT_APP: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char cwd[4096], line[8192];
    printf("app in %s:", getcwd(cwd, sizeof cwd) ? cwd : "?");
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    FILE *maps = fopen("/proc/self/maps", "r");
    while (maps && fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');
        if (path && strstr(path, "libwebkit2gtk-4.1.so")) { printf("webkit %s", path); break; }
    }
    return 0;
}
"#;

#[test]
fn an_app_that_links_webkitgtk_runs_with_the_webkitgtk_the_appimage_carries() {
    if !supported() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The test's package, its app a program linked with WebKitGTK (the CI installs its
    // development files with the app's build dependencies).
    let tree = tree(dir.path(), true);
    let mut cc = Command::new("cc")
        .args(["-x", "c", "-", "-o"])
        .arg(tree.join("usr/bin/tacit-desktop"))
        .args(["-Wl,--no-as-needed", "-lwebkit2gtk-4.1"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("cc runs");
    std::io::Write::write_all(
        &mut cc.stdin.take().expect("cc's input"),
        WEBKIT_APP.as_bytes(),
    )
    .expect("the program is given to cc");
    assert!(
        cc.wait().expect("cc ends").success(),
        "cc cannot link with WebKitGTK 4.1 (libwebkit2gtk-4.1-dev, which scripts/test.sh installs)"
    );
    let deb_path = build_deb(&tree, dir.path());
    let out = dir.path().join("out");
    let made = make(&deb_path, &out);
    assert!(made.status.success(), "scripts/appimage.sh: {made:?}");
    let said = String::from_utf8_lossy(&made.stderr);
    assert!(said.contains("carrying WebKitGTK, GTK and"), "{said}");
    let image = out.join(format!("Tacit_{VERSION}_x86_64.AppImage"));

    // The app starts in the AppImage's usr/ (where WebKitGTK looks for its helper processes),
    // with its arguments, and the WebKitGTK it loaded is the one inside the AppImage.
    let ran = run(&image, &["tacit://join/abc"]);
    let mut lines = ran.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.ends_with("/usr: tacit://join/abc") && !first.starts_with("app in /usr:"),
        "{ran}"
    );
    let webkit = lines.next().unwrap_or_default();
    let at = first
        .strip_prefix("app in ")
        .and_then(|s| s.strip_suffix(": tacit://join/abc"))
        .expect("where the app ran");
    assert!(
        webkit.starts_with(&format!(
            "webkit {at}/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so"
        )),
        "the app loaded another WebKitGTK: {ran}"
    );
    // The CLI is started as before: no change to its directory or libraries.
    assert_eq!(run(&image, &["cli", "--version"]), "cli: --version");

    let lib = extract(&image, dir.path()).join("usr/lib/x86_64-linux-gnu");
    for file in [
        "webkit2gtk-4.1/WebKitWebProcess",
        "webkit2gtk-4.1/WebKitNetworkProcess",
        "libjavascriptcoregtk-4.1.so.0",
        "libgtk-3.so.0",
        "../../share/glib-2.0/schemas/gschemas.compiled",
    ] {
        assert!(
            lib.join(file).exists(),
            "the AppImage does not carry {file}"
        );
    }
    for left in [
        "libc.so.6",
        "libGL.so.1",
        "libX11.so.6",
        "libstdc++.so.6",
        "webkit2gtk-4.1/MiniBrowser",
    ] {
        assert!(!lib.join(left).exists(), "the AppImage carries {left}");
    }
    // WebKitGTK looks for its helpers relative to the working directory.
    let webkit = std::fs::read(lib.join("libwebkit2gtk-4.1.so.0")).expect("the library reads");
    let has = |needle: &[u8]| webkit.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"././/lib/x86_64-linux-gnu/webkit2gtk-4.1"));
    assert!(!has(b"/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1"));
}

#[test]
fn a_deb_without_the_cli_makes_no_appimage() {
    if !supported() {
        return;
    }
    let (dir, out, made) = made_from_deb(false);
    assert!(!made.status.success(), "it made one: {made:?}");
    let said = String::from_utf8_lossy(&made.stderr);
    assert!(said.contains("lacks the app, the CLI"), "{said}");
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "it left {left:?}");
    // Nor from a file that is not there.
    let made = make(&dir.path().join("missing.deb"), &out);
    assert!(!made.status.success());
    assert!(String::from_utf8_lossy(&made.stderr).contains("no .deb"));
}
