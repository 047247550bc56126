//! The app's state, its Tauri commands, and its life from launch to exit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tacit_node::core::ProfileEdit;
use tacit_node::{
    Client, ControlServer, ErrorKind, Identity, Node, NodeError, Request, Response, WireError,
};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::{Mutex, broadcast};
use tracing::{info, warn};
use ts_rs::TS;

/// The main window's label (the capability in `capabilities/default.json` names it).
const MAIN_WINDOW: &str = "main";
/// The window starts hidden and is shown when the UI has painted, so that nobody sees an empty
/// frame; if the UI never says so (a broken build), it is shown after this long anyway.
const SHOW_ANYWAY_AFTER: Duration = Duration::from_secs(3);
/// The event carrying each node [`tacit_node::Event`] to the UI.
const NODE_EVENT: &str = "node-event";
/// The event telling the UI it missed node events and must reload what it shows.
const NODE_LAGGED: &str = "node-lagged";

/// What the window shows: the first-run screen, the app, or why the home cannot be opened.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppState {
    /// The home was never initialised: ask for a name and organisation.
    FirstRun {
        /// The home directory.
        home: String,
    },
    /// The node runs.
    Ready {
        /// The home directory.
        home: String,
        /// This home's member and profile.
        identity: Identity,
    },
    /// The home cannot be opened (held by `tacit serve`, corrupt, unreadable…).
    Failed {
        /// The home directory.
        home: String,
        /// What went wrong and what to do.
        error: WireError,
    },
}

/// The running node and the control socket it serves.
struct Running {
    node: Node,
    control: Option<ControlServer>,
}

enum Phase {
    /// The node is being opened while the window starts.
    Opening(tauri::async_runtime::JoinHandle<Opened>),
    FirstRun,
    Ready(Running),
    Failed(WireError),
    Stopped,
}

/// The app's managed state.
pub struct Shell {
    home: PathBuf,
    phase: Mutex<Phase>,
    app: std::sync::OnceLock<AppHandle>,
    launched: Instant,
    painted: AtomicBool,
}

impl Shell {
    /// The phase, once the node has been opened (waiting for that if needed). Opening's
    /// outcome is acted on here, once: node events start flowing to the window, or, when
    /// another window has this home, the app exits.
    async fn settled(&self) -> tokio::sync::MutexGuard<'_, Phase> {
        let mut phase = self.phase.lock().await;
        if let Phase::Opening(_) = &*phase {
            let opened = match std::mem::replace(&mut *phase, Phase::Stopped) {
                Phase::Opening(opening) => opening.await,
                other => Ok(Opened::Phase(other)),
            };
            *phase = match opened {
                Ok(Opened::Phase(p)) => p,
                Ok(Opened::RaisedOther) => {
                    info!(
                        "Tacit is already open on {}; raised its window",
                        self.home.display()
                    );
                    if let Some(app) = self.app.get() {
                        app.exit(0);
                    }
                    Phase::Stopped
                }
                Err(e) => Phase::Failed(
                    NodeError::Internal(format!("opening the home failed: {e}")).to_wire(),
                ),
            };
            match &*phase {
                Phase::Ready(r) => {
                    if let Some(app) = self.app.get() {
                        watch_node(app, &r.node);
                    }
                }
                Phase::Failed(e) => {
                    warn!(
                        "cannot open the home {}: {}",
                        self.home.display(),
                        e.message
                    )
                }
                _ => {}
            }
        }
        phase
    }

    async fn node(&self) -> Result<Node, WireError> {
        match &*self.settled().await {
            Phase::Opening(_) => {
                Err(NodeError::Internal("the home is still opening".into()).to_wire())
            }
            Phase::Ready(r) => Ok(r.node.clone()),
            Phase::FirstRun => Err(wire(
                ErrorKind::NotInitialised,
                "this home is not set up yet; finish the first-run screen",
            )),
            Phase::Failed(e) => Err(e.clone()),
            Phase::Stopped => Err(NodeError::Stopped.to_wire()),
        }
    }

    async fn state(&self) -> AppState {
        let home = self.home.display().to_string();
        let node = match &*self.settled().await {
            Phase::Opening(_) | Phase::Stopped => {
                return AppState::Failed {
                    home,
                    error: NodeError::Stopped.to_wire(),
                };
            }
            Phase::FirstRun => return AppState::FirstRun { home },
            Phase::Failed(error) => {
                return AppState::Failed {
                    home,
                    error: error.clone(),
                };
            }
            Phase::Ready(r) => r.node.clone(),
        };
        match node.whoami().await {
            Ok(identity) => AppState::Ready { home, identity },
            Err(e) => AppState::Failed {
                home,
                error: e.to_wire(),
            },
        }
    }
}

fn wire(kind: ErrorKind, message: &str) -> WireError {
    WireError {
        kind,
        message: message.to_owned(),
    }
}

/// What the window should show now. The page has its styles by the time it asks, so the
/// window is shown here: mapping it overlaps with the UI reading its first screen.
#[tauri::command]
async fn app_state(app: AppHandle, shell: tauri::State<'_, Shell>) -> Result<AppState, WireError> {
    let ms = shell.launched.elapsed().as_millis() as u64;
    tracing::debug!(ms, "the UI asks for the app state");
    let state = shell.state().await;
    if !matches!(*shell.phase.lock().await, Phase::Stopped) {
        show_main(&app);
    }
    Ok(state)
}

/// First run: initialises the home with this profile and starts its node.
#[tauri::command]
async fn init(
    app: AppHandle,
    shell: tauri::State<'_, Shell>,
    name: String,
    org: String,
) -> Result<AppState, WireError> {
    {
        let mut phase = shell.settled().await;
        if matches!(*phase, Phase::FirstRun) {
            let profile = ProfileEdit {
                name: Some(name),
                org: Some(org).filter(|o| !o.trim().is_empty()),
                ..ProfileEdit::default()
            };
            let (node, report) = Node::init(&shell.home, profile)
                .await
                .map_err(|e| e.to_wire())?;
            info!(home = %report.home, member = %report.member, "home initialised");
            let running = serve(node).await;
            watch_node(&app, &running.node);
            *phase = Phase::Ready(running);
        }
    }
    Ok(shell.state().await)
}

/// Runs one request on the node: every UI action goes through here.
#[tauri::command]
async fn execute(shell: tauri::State<'_, Shell>, request: Request) -> Result<Response, WireError> {
    let node = shell.node().await?;
    node.execute(request).await.map_err(|e| e.to_wire())
}

/// The first screen has painted (its data read and two frames drawn in the shown window): log
/// the launch time (once), the figure `scripts/bench-desktop.sh` reads.
#[tauri::command]
fn ui_painted(app: AppHandle, shell: tauri::State<'_, Shell>) {
    if !shell.painted.swap(true, Ordering::Relaxed) {
        let ms = shell.launched.elapsed().as_secs_f64() * 1000.0;
        info!("first paint {ms:.1} ms after launch");
    }
    show_main(&app);
}

fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
    }
}

/// Starts the control socket for `node`; the app works without it (the CLI then says the home
/// is in use), so a failure is logged, not fatal.
async fn serve(node: Node) -> Running {
    let control = match ControlServer::start(node.clone()).await {
        Ok(c) => Some(c),
        Err(e) => {
            warn!("cannot serve the control socket; `tacit` commands will not reach this app: {e}");
            None
        }
    };
    Running { node, control }
}

/// Forwards node events to the UI, and raises the window when a second launch asks.
fn watch_node(app: &AppHandle, node: &Node) {
    let mut events = node.subscribe();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let _ = handle.emit(NODE_EVENT, &event);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!("the UI missed {n} node events; it reloads");
                    let _ = handle.emit(NODE_LAGGED, n);
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let mut activations = node.on_activate();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) = activations.recv().await {
            if let Some(w) = handle.get_webview_window(MAIN_WINDOW) {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }
    });
}

/// What opening the home gives: a phase to start in, or "another window already has it".
enum Opened {
    Phase(Phase),
    RaisedOther,
}

async fn open(home: PathBuf) -> Opened {
    let home = home.as_path();
    match Node::open(home).await {
        Ok(node) => Opened::Phase(Phase::Ready(serve(node).await)),
        Err(e) => match e.kind() {
            ErrorKind::NotInitialised => Opened::Phase(Phase::FirstRun),
            ErrorKind::InUse => {
                // Another process holds the home. If it is this app, bring its window forward.
                if let Ok(Some(mut client)) = Client::connect(home).await
                    && let Ok(Response::Activated { window: true }) =
                        client.execute(&Request::Activate).await
                {
                    return Opened::RaisedOther;
                }
                Opened::Phase(Phase::Failed(e.to_wire()))
            }
            _ => Opened::Phase(Phase::Failed(e.to_wire())),
        },
    }
}

/// SIGTERM and SIGINT (logout, `kill`, Ctrl-C in a terminal) exit the app the same way as
/// closing its window: the node writes what is pending and stops.
fn exit_on_signal(app: AppHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            warn!("cannot watch for SIGTERM/SIGINT; they will stop the app without a clean exit");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        info!("signal received; exiting");
        app.exit(0);
    });
}

/// Runs the app on `home` until its last window closes.
pub fn run(home: PathBuf) -> ExitCode {
    let launched = Instant::now();
    // The node opens (SQLite checks, the profile) while the webview starts.
    let opening = tauri::async_runtime::spawn(open(home.clone()));
    let shell = Shell {
        home,
        phase: Mutex::new(Phase::Opening(opening)),
        app: std::sync::OnceLock::new(),
        launched,
        painted: AtomicBool::new(false),
    };
    let built = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            app_state, init, execute, ui_painted
        ])
        .setup(move |app| {
            let _ = shell.app.set(app.handle().clone());
            app.manage(shell);
            // Act on the opening as soon as it is done, whether or not the UI has asked yet.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                drop(handle.state::<Shell>().settled().await);
            });
            // Light or dark follows the GTK theme (WebKitGTK's prefers-color-scheme);
            // `GTK_THEME=Adwaita:dark` forces dark.
            WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
                .title("Tacit")
                .inner_size(1280.0, 800.0)
                .min_inner_size(1024.0, 700.0)
                .visible(false)
                .build()?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(SHOW_ANYWAY_AFTER).await;
                show_main(&handle);
            });
            exit_on_signal(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: cannot start the window: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            let shell = app.state::<Shell>();
            tauri::async_runtime::block_on(async {
                let mut phase = std::mem::replace(&mut *shell.phase.lock().await, Phase::Stopped);
                if let Phase::Opening(opening) = phase {
                    // Closed before the home finished opening: stop the node it opened.
                    phase = match opening.await {
                        Ok(Opened::Phase(p)) => p,
                        _ => Phase::Stopped,
                    };
                }
                if let Phase::Ready(running) = phase {
                    if let Some(control) = running.control {
                        control.stop().await;
                    }
                    running.node.shutdown().await;
                    info!("node stopped");
                }
            });
        }
    });
    ExitCode::SUCCESS
}
