//! A bare Tauri 2 window: the yardstick of Tacit's launch benchmark.
//!
//! It does what the Tacit app does to get a first frame on screen and nothing else: the same
//! Tauri version and features, a 1280×800 window created hidden and shown by the page, a static
//! page, and two commands. On load the page calls `show`; two animation frames later (the frame
//! is on screen) it calls `ready`, and the window logs to stderr `first paint {ms} ms after
//! launch`, counted from the first thing `main` does: the line the Tacit app logs when its note
//! list has painted. `scripts/bench-desktop.sh` runs both.
//!
//! Why `show` comes first: WebKitGTK runs no animation frames in a hidden window, so a page that
//! waits for two frames before asking to be shown waits forever (measured: no line in 15 s).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

/// The window's label (the capability in `capabilities/default.json` names it).
const MAIN_WINDOW: &str = "main";

/// When the process started, and whether the first paint was logged.
struct Launch {
    at: Instant,
    painted: AtomicBool,
}

/// The page has rendered its content: show the window, so that it gets animation frames.
#[tauri::command]
fn show(app: AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
    }
}

/// The page has painted in the shown window: log the time since launch (once).
#[tauri::command]
fn ready(app: AppHandle, launch: tauri::State<'_, Launch>) {
    if !launch.painted.swap(true, Ordering::Relaxed) {
        let ms = launch.at.elapsed().as_secs_f64() * 1000.0;
        eprintln!("first paint {ms:.1} ms after launch");
    }
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
    }
}

fn main() -> ExitCode {
    let launch = Launch {
        at: Instant::now(),
        painted: AtomicBool::new(false),
    };
    let built = tauri::Builder::default()
        .manage(launch)
        .invoke_handler(tauri::generate_handler![show, ready])
        .setup(|app| {
            WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
                .title("bare window")
                .inner_size(1280.0, 800.0)
                .visible(false)
                .build()?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match built {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot start the window: {e}");
            ExitCode::FAILURE
        }
    }
}
