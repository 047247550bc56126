//! Tacit's desktop app: a thin Tauri 2 shell over [`tacit_node::Node`].
//!
//! The shell owns the window and nothing else. It opens the home's node (the same home the CLI
//! uses), serves the control socket so that `tacit` commands work while the window is open,
//! forwards node events to the UI, and stops the node when the app exits. Every UI action is a
//! [`Request`] passed to [`Node::execute`]: logic that a CLI user would need lives in the crates.
//!
//! ```text
//! UI ──invoke("execute", Request)──▶ shell ──▶ Node ──▶ actor ──▶ store
//! UI ◀──"node-event" (Event)───────── shell ◀── Node::subscribe()
//! tacit CLI ──socket──▶ ControlServer ──▶ Node      (one process per home)
//! ```
//!
//! A second launch on the same home finds it locked, asks the first to raise its window
//! (`Request::Activate` over the control socket) and exits.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod app;
mod bindings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Tacit: your working notes and your teams' questions and answers.
#[derive(Parser, Debug)]
#[command(name = "tacit-desktop", version)]
struct Args {
    /// The home directory (default: $TACIT_HOME, else the platform data directory).
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TACIT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let home = match tacit_node::resolve_home(args.home) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    app::run(home)
}
