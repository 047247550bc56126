//! How the webview draws, fitted to the machine.
//!
//! WebKitGTK composites pages with the GPU through OpenGL. On a machine without a GPU render
//! node (a virtual machine, a remote or virtual display such as Xvfb, a thin client) that
//! OpenGL is Mesa's software renderer, and compositing costs more than painting the page
//! directly. Measured under Xvfb on a 2-core machine with a home of 10,000 notes, the first
//! frame after the note list was rendered came 150–210 ms after it with compositing, 1–12 ms
//! without.
//! So where there is no render node the windows paint without it (WebKit's
//! `hardware-acceleration-policy` set to never). Where there is one, WebKit decides as always.
//! `WEBKIT_DISABLE_COMPOSITING_MODE=1` still turns compositing off anywhere.

use tauri::{Runtime, WebviewWindow};

/// Lets `window` paint without GPU compositing when the machine has no GPU to composite with.
pub fn fit<R: Runtime>(window: &WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    if !has_render_node(std::path::Path::new("/dev/dri")) {
        let done = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = webview.inner().settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        match done {
            Ok(()) => tracing::debug!("no GPU render node: the window paints without compositing"),
            Err(e) => tracing::warn!("could not set how the window paints: {e}"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// Whether `dri` (Linux's `/dev/dri`) holds a GPU render node (`renderD128`, …).
#[cfg(target_os = "linux")]
fn has_render_node(dri: &std::path::Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::has_render_node;

    #[test]
    fn a_render_node_is_found_by_its_name() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        assert!(!has_render_node(&dir.path().join("missing")));
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("card0"), b"").expect("a file");
        assert!(
            !has_render_node(dir.path()),
            "a card node alone renders nothing"
        );
        std::fs::write(dir.path().join("renderD128"), b"").expect("a file");
        assert!(has_render_node(dir.path()));
    }
}
