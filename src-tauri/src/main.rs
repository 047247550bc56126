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
//! Markdown folders: `import_folder` and `export_folder` (`vault.rs`) run [`tacit_vault`] in this
//! process, on a blocking thread, sending the node the same requests the CLI's `tacit import` and
//! `tacit export` send; how far they are goes to the window as `vault-progress` events.
//!
//! A second launch on the same home finds it locked, asks the first to raise its window
//! (`Request::Activate` over the control socket, with the `tacit://join/…` link it was opened
//! with, if any) and exits.
//!
//! Launch order, so that the first paint waits for as little as possible: the node opens while
//! the webview starts; the window stays hidden until the UI has read its first screen (mapping
//! it holds the main thread that carries every answer to the UI), then maps while the UI builds
//! that screen; the node's background work (the search index catching up with the store, a
//! rebuild after an upgrade) starts after the first paint. `TACIT_LOG=debug` logs each step in
//! ms after launch, the UI's own steps included. On a machine without a GPU render node the
//! windows paint without GPU compositing (`render.rs`: there it is software OpenGL, slower
//! than painting directly).
//!
//! The network starts once the node is open: it listens on `--listen` (repeatable) or
//! `TACIT_LISTEN` (comma-separated multiaddrs), default every interface on a free port over TCP
//! and QUIC; `--no-mdns` or `TACIT_NO_MDNS=1` stop LAN discovery. If it cannot start, the app
//! works on this device and says why nothing is shared.
//!
//! Members of a space write the notes a window shows, so a window never leaves the app's own
//! pages (`navigation.rs`: any other navigation is refused, whatever starts it), and an
//! attachment is opened with the desktop's handler only when its bytes are of the type its name
//! says (`content.rs`); the copies made to open them are removed a day later, at a launch.
//!
//! Invitation links, `tacit://join/<ticket>`: the scheme is declared in `tauri.conf.json` (for
//! bundles) and, after the first paint, registered with the desktop (Linux: a `.desktop` handler
//! and `xdg-mime`, through tauri-plugin-deep-link) when it is not already. A link opens the app
//! as `tacit-desktop tacit://join/…`: the window opens the join dialog with it (a second launch
//! hands it to the running window), and nothing is joined until the person presses Join.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod app;
mod attachments;
mod bindings;
mod capture;
mod content;
mod navigation;
mod render;
mod vault;

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
    /// Where to listen for peers (repeatable) [default: /ip4/0.0.0.0/tcp/0 and
    /// /ip4/0.0.0.0/udp/0/quic-v1]
    #[arg(
        long = "listen",
        value_name = "MULTIADDR",
        env = "TACIT_LISTEN",
        value_delimiter = ','
    )]
    listen: Vec<String>,
    /// Do not find or announce peers on the LAN by mDNS (it multicasts on every interface)
    #[arg(long, env = "TACIT_NO_MDNS", value_parser = clap::builder::FalseyValueParser::new())]
    no_mdns: bool,
    /// Use this relay, e.g. /ip4/203.0.113.10/tcp/4001/p2p/12D3Koo… (repeat for more, or
    /// comma-separated in TACIT_RELAYS; kept in the home, and listed in Settings)
    #[arg(
        long = "use-relay",
        value_name = "MULTIADDR",
        env = tacit_node::RELAYS_ENV,
        value_delimiter = ','
    )]
    use_relay: Vec<String>,
    /// An invitation link (`tacit://join/…`) to offer in the join dialog
    #[arg(value_name = "LINK")]
    link: Option<String>,
}

/// The allocator: jemalloc gives back what a peak used, where glibc's malloc kept it (a node
/// under the hostile benchmark held 175 MB at rest with 10–30 MB in use; with jemalloc, 69 MB).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TACIT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // jemalloc purges freed memory as the process allocates; its background thread does it on a
    // timer too, so that a process gone idle (a window in the background, `tacit serve` at
    // night) gives memory back.
    #[cfg(not(target_env = "msvc"))]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!("the allocator's background thread did not start: {e}");
    }
    let args = Args::parse();
    let home = match tacit_node::resolve_home(args.home) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listen = args
        .listen
        .into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>();
    let listen = if listen.is_empty() {
        app::DEFAULT_LISTEN
            .iter()
            .map(|a| (*a).to_owned())
            .collect()
    } else {
        listen
    };
    app::run(app::Options {
        home,
        net: tacit_node::NetOptions {
            listen,
            mdns: !args.no_mdns,
            relays: args.use_relay,
            ..tacit_node::NetOptions::default()
        },
        link: args.link,
    })
}
