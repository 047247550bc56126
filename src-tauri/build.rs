//! Declares the app's own commands to Tauri, so that capabilities can grant exactly these.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_state",
        "init",
        "execute",
        "show_window",
        "ui_painted",
        "network_state",
        "take_link",
        "ticket_info",
        "import_folder",
        "export_folder",
        "capture_settings",
        "set_capture_shortcut",
        "open_capture",
        "hide_capture",
        "attachment_image",
        "attachment_open",
        "attach_bytes",
        "attach_clipboard_image",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        // Cargo shows this and stops; there is nothing to build without the manifest.
        panic!("tauri build step failed: {e:#}");
    }
}
