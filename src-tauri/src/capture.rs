//! Quick capture: a system-wide shortcut opens a small window from anywhere on the desktop, and
//! typing and Enter saves a note to the chosen space (inline `#tags` count as its tags).
//!
//! The shortcut is held through tauri-plugin-global-shortcut (an X11 key grab on Linux; Wayland
//! offers none, and another app may hold the same keys: the Settings page then says so). It is a
//! setting of this home, in `desktop.json` beside the database, changed on the Settings page;
//! [`DEFAULT_SHORTCUT`] until then, off when set empty. The window is made on first use and
//! hidden, not destroyed, after a note is saved, so that the next capture opens at once; it goes
//! when the main window goes.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};
use tracing::{info, warn};
use ts_rs::TS;

/// The capture window's label (the capability in `capabilities/default.json` names it).
pub const CAPTURE_WINDOW: &str = "capture";
/// The shortcut until the user sets another.
pub const DEFAULT_SHORTCUT: &str = "Ctrl+Alt+N";
/// The desktop app's own settings, in the home.
const SETTINGS_FILE: &str = "desktop.json";

/// The quick capture shortcut as the Settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CaptureSettings {
    /// The shortcut as written (`Ctrl+Alt+N`); empty when quick capture is off.
    pub shortcut: String,
    /// Whether the desktop gave it to Tacit: pressing it anywhere opens the capture window.
    pub active: bool,
    /// Why it is not active, when it is set but not active.
    pub error: Option<String>,
}

/// What `desktop.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    /// The quick capture shortcut; absent means [`DEFAULT_SHORTCUT`], empty means off.
    #[serde(default)]
    capture_shortcut: Option<String>,
}

/// The app's quick capture state (managed by Tauri).
pub struct Capture {
    settings_path: PathBuf,
    state: Mutex<CaptureSettings>,
}

impl Capture {
    /// Reads the setting from `home` (a missing or unreadable file means the default).
    pub fn load(home: &Path) -> Capture {
        let settings_path = home.join(SETTINGS_FILE);
        let stored: Stored = match std::fs::read(&settings_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(path = %settings_path.display(), "the desktop settings are not readable, using the defaults: {e}");
                Stored::default()
            }),
            Err(_) => Stored::default(),
        };
        let shortcut = stored
            .capture_shortcut
            .unwrap_or_else(|| DEFAULT_SHORTCUT.to_owned());
        Capture {
            settings_path,
            state: Mutex::new(CaptureSettings {
                shortcut,
                active: false,
                error: None,
            }),
        }
    }

    /// The setting and whether it is active now.
    pub fn settings(&self) -> CaptureSettings {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set(&self, settings: CaptureSettings) {
        match self.state.lock() {
            Ok(mut s) => *s = settings,
            Err(p) => *p.into_inner() = settings,
        }
    }

    /// Writes the shortcut to `desktop.json` (a new file renamed over the old: never half
    /// written).
    fn save(&self, shortcut: &str) -> Result<(), String> {
        let stored = Stored {
            capture_shortcut: Some(shortcut.to_owned()),
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|e| e.to_string())?;
        let tmp = self.settings_path.with_extension("json.tmp");
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &self.settings_path))
            .map_err(|e| {
                format!(
                    "cannot save the setting in {}: {e}",
                    self.settings_path.display()
                )
            })
    }
}

/// Parses a shortcut as the user writes it, or says why it is not one.
fn parse(shortcut: &str) -> Result<Shortcut, String> {
    Shortcut::from_str(shortcut).map_err(|e| {
        format!("“{shortcut}” is not a shortcut ({e}). Write it as modifiers and a key, such as Ctrl+Alt+N.")
    })
}

/// Grabs `shortcut` on the desktop; the state says whether it worked.
fn register<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> CaptureSettings {
    let mut settings = CaptureSettings {
        shortcut: shortcut.to_owned(),
        active: false,
        error: None,
    };
    if shortcut.is_empty() {
        return settings;
    }
    match parse(shortcut).and_then(|s| {
        app.global_shortcut()
            .register(s)
            .map_err(|e| format!("the desktop did not give Tacit {shortcut}: {e}"))
    }) {
        Ok(()) => {
            info!(shortcut, "quick capture shortcut registered");
            settings.active = true;
        }
        Err(e) => {
            warn!(shortcut, "quick capture shortcut not registered: {e}");
            settings.error = Some(e);
        }
    }
    settings
}

/// Sets up the plugin and grabs the stored shortcut (at launch).
pub fn setup<R: Runtime>(app: &AppHandle<R>, capture: &Capture) -> tauri::Result<()> {
    app.plugin(
        tauri_plugin_global_shortcut::Builder::new()
            .with_handler(|app, _shortcut, event| {
                if event.state == ShortcutState::Pressed {
                    toggle(app);
                }
            })
            .build(),
    )?;
    let shortcut = capture.settings().shortcut;
    capture.set(register(app, &shortcut));
    Ok(())
}

/// Shows the capture window (made on first use), or hides it when it is in front already.
pub fn toggle<R: Runtime>(app: &AppHandle<R>) {
    match app.get_webview_window(CAPTURE_WINDOW) {
        Some(w) if w.is_visible().unwrap_or(false) && w.is_focused().unwrap_or(false) => {
            let _ = w.hide();
        }
        _ => show(app),
    }
}

/// Shows the capture window in front, made on first use.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(CAPTURE_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(
        app,
        CAPTURE_WINDOW,
        WebviewUrl::App("index.html#capture".into()),
    )
    .on_navigation(crate::navigation::Navigation::for_app(app.config()).handler(CAPTURE_WINDOW))
    .title("Quick capture — Tacit")
    .inner_size(560.0, 260.0)
    .min_inner_size(420.0, 200.0)
    .center()
    .always_on_top(true)
    .skip_taskbar(true)
    .focused(true)
    .build();
    match built {
        Ok(w) => crate::render::fit(&w),
        Err(e) => warn!("cannot open the quick capture window: {e}"),
    }
}

/// Closes the capture window (when the main window goes, so that the app exits).
pub fn close<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(CAPTURE_WINDOW) {
        let _ = w.destroy();
    }
}

/// The quick capture shortcut and whether it is active.
#[tauri::command]
pub fn capture_settings(capture: tauri::State<'_, Capture>) -> CaptureSettings {
    capture.settings()
}

/// Sets the quick capture shortcut (empty: off), grabs it and saves it. A shortcut that is not
/// one is refused and changes nothing; one the desktop does not give is saved and reported
/// (it may be free at the next launch).
#[tauri::command]
pub fn set_capture_shortcut(
    app: AppHandle,
    capture: tauri::State<'_, Capture>,
    shortcut: String,
) -> Result<CaptureSettings, String> {
    let shortcut = shortcut.trim().to_owned();
    if !shortcut.is_empty() {
        parse(&shortcut)?;
    }
    let old = capture.settings();
    if old.active
        && let Ok(s) = parse(&old.shortcut)
        && let Err(e) = app.global_shortcut().unregister(s)
    {
        warn!(
            shortcut = old.shortcut,
            "cannot let go of the old shortcut: {e}"
        );
    }
    capture.save(&shortcut)?;
    let now = register(&app, &shortcut);
    capture.set(now.clone());
    Ok(now)
}

/// Opens the quick capture window (the palette's "Quick capture", and the end-to-end tests).
#[tauri::command]
pub fn open_capture(app: AppHandle) {
    show(&app);
}

/// Hides the quick capture window (after a save, or Escape).
#[tauri::command]
pub fn hide_capture(app: AppHandle) {
    if let Some(w) = app.get_webview_window(CAPTURE_WINDOW) {
        let _ = w.hide();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_reads_back_and_a_bad_file_means_the_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Capture::load(dir.path()).settings().shortcut,
            DEFAULT_SHORTCUT
        );
        let c = Capture::load(dir.path());
        c.save("Super+Shift+Space").unwrap();
        assert_eq!(
            Capture::load(dir.path()).settings().shortcut,
            "Super+Shift+Space"
        );
        c.save("").unwrap();
        assert_eq!(Capture::load(dir.path()).settings().shortcut, "", "off");
        std::fs::write(dir.path().join(SETTINGS_FILE), b"{not json").unwrap();
        assert_eq!(
            Capture::load(dir.path()).settings().shortcut,
            DEFAULT_SHORTCUT
        );
    }

    #[test]
    fn shortcuts_parse_as_written_and_nonsense_is_refused() {
        for ok in ["Ctrl+Alt+N", "CmdOrCtrl+Shift+Space", "Super+K", "Alt+F2"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in ["Ctrl+", "Hyper+Banana", "N+Ctrl+Q+R"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("is not a shortcut"), "{e}");
        }
    }
}
