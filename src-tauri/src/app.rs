//! The app's state, its Tauri commands, and its life from launch to exit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tacit_node::core::{MemberId, ProfileEdit, Role, SpaceId, Ticket};
use tacit_node::{
    Client, ControlServer, ErrorKind, Event, Identity, NetOptions, Node, NodeError, OpenOptions,
    Request, Response, WireError,
};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::{Mutex, broadcast};
use tracing::{info, warn};
use ts_rs::TS;

/// The main window's label (the capability in `capabilities/default.json` names it).
const MAIN_WINDOW: &str = "main";
/// The window starts hidden and is shown when the UI has read its first screen (`show_window`),
/// so that nobody sees an empty frame; if the UI never asks (a broken build), it is shown after
/// this long anyway (and the node's background work, which waits for the first paint, starts).
const SHOW_ANYWAY_AFTER: Duration = Duration::from_secs(3);
/// The event carrying each node [`tacit_node::Event`] to the UI.
const NODE_EVENT: &str = "node-event";
/// The event telling the UI it missed node events and must reload what it shows.
const NODE_LAGGED: &str = "node-lagged";
/// The event telling the UI that a `tacit://join/…` link is waiting ([`take_link`]).
const JOIN_LINK: &str = "join-link";
/// The URL scheme of invitation links (`tacit://join/<ticket>`), also in `tauri.conf.json`.
const LINK_SCHEME: &str = "tacit";
/// Where the app listens when not told: every interface, a free port, TCP and QUIC.
pub const DEFAULT_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"];

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

/// Whether this app takes part in the network (shared spaces, peers).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NetworkState {
    /// Not started yet: the home is opening, or not set up.
    Starting,
    /// Listening and dialling members.
    Running {
        /// Whether peers on the LAN are found by mDNS.
        mdns: bool,
    },
    /// It could not start: everything works on this device, nothing is shared.
    Failed {
        /// Why, and what to do.
        error: String,
    },
}

/// What an invitation says, read before joining (nothing is sent anywhere to read it).
#[derive(Debug, Clone, Serialize, TS)]
pub struct TicketInfo {
    /// The space.
    pub space: SpaceId,
    /// Its name.
    pub name: String,
    /// The role a joiner gets.
    pub role: Role,
    /// When it stops working, ms since the epoch; never when absent.
    pub expires_at: Option<i64>,
    /// Whether it has expired already.
    pub expired: bool,
    /// Who made it.
    pub inviter: MemberId,
}

/// A moment of the UI's launch (its script ran, the app state came, the first screen rendered…),
/// sent with [`ui_painted`] so that the log shows where the first paint's time went.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct UiMark {
    /// What happened.
    pub name: String,
    /// When, ms since the page began loading (`performance.now()`).
    pub at: f64,
}

/// How the app was started: where it listens, and a link to offer.
#[derive(Debug, Clone)]
pub struct Options {
    /// The home directory.
    pub home: PathBuf,
    /// The network's options.
    pub net: NetOptions,
    /// A `tacit://join/…` link (or a bare ticket) the app was opened with.
    pub link: Option<String>,
}

/// The running node and the control socket it serves.
struct Running {
    node: Node,
    control: Option<ControlServer>,
}

/// Where the app is (one value for the whole app: its size does not matter).
#[allow(clippy::large_enum_variant)]
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
    net: NetOptions,
    network: std::sync::Mutex<NetworkState>,
    /// A join link waiting for the UI to take it.
    link: std::sync::Mutex<Option<String>>,
    phase: Mutex<Phase>,
    app: std::sync::OnceLock<AppHandle>,
    launched: Instant,
    painted: AtomicBool,
}

impl Shell {
    /// The home this window serves (private to its person).
    pub(crate) fn home(&self) -> &std::path::Path {
        &self.home
    }

    /// The phase, once the node has been opened (waiting for that if needed). Opening's
    /// outcome is acted on here, once: node events start flowing to the window, or, when
    /// another window has this home, the app exits.
    async fn settled(&self) -> tokio::sync::MutexGuard<'_, Phase> {
        let mut phase = self.phase.lock().await;
        if let Phase::Opening(_) = &*phase {
            let opened = match std::mem::replace(&mut *phase, Phase::Stopped) {
                Phase::Opening(opening) => opening.await,
                other => Ok(Opened::Phase(Box::new(other))),
            };
            *phase = match opened {
                Ok(Opened::Phase(p)) => *p,
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
                        start_network(app, &r.node, self.net.clone());
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

    /// The node, once the home is open and set up; why not otherwise.
    pub(crate) async fn node(&self) -> Result<Node, WireError> {
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

/// What the window should show now.
#[tauri::command]
async fn app_state(shell: tauri::State<'_, Shell>) -> Result<AppState, WireError> {
    let ms = shell.launched.elapsed().as_millis() as u64;
    tracing::debug!(ms, "the UI asks for the app state");
    Ok(shell.state().await)
}

/// The UI has read what its first screen shows: show the window (mapping it overlaps with the
/// UI building that screen). Not before: mapping the window holds the main thread (measured
/// 100–150 ms under Xvfb), and every answer to the UI passes through that thread, so a window
/// shown while the UI reads its first screen makes those reads wait.
#[tauri::command]
async fn show_window(app: AppHandle, shell: tauri::State<'_, Shell>) -> Result<(), WireError> {
    let ms = shell.launched.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(
        at_ms = ms,
        "the UI has its first screen's data; showing the window"
    );
    if !matches!(*shell.phase.lock().await, Phase::Stopped) {
        show_main(&app);
    }
    Ok(())
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
            start_network(&app, &running.node, shell.net.clone());
            *phase = Phase::Ready(running);
        }
    }
    Ok(shell.state().await)
}

/// Runs one request on the node: every UI action goes through here.
#[tauri::command]
async fn execute(shell: tauri::State<'_, Shell>, request: Request) -> Result<Response, WireError> {
    let node = shell.node().await?;
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return node.execute(request).await.map_err(|e| e.to_wire());
    }
    let op = op_name(&request);
    let started = Instant::now();
    let at = shell.launched.elapsed();
    let result = node.execute(request).await.map_err(|e| e.to_wire());
    tracing::debug!(
        op,
        at_ms = at.as_millis() as u64,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    result
}

/// A request's name (`note_list`, `status`…), for the debug log.
fn op_name(request: &Request) -> String {
    let debug = format!("{request:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether the network runs, is starting, or failed (and why).
#[tauri::command]
fn network_state(shell: tauri::State<'_, Shell>) -> NetworkState {
    shell
        .network
        .lock()
        .map(|n| n.clone())
        .unwrap_or(NetworkState::Starting)
}

/// The join link the app was opened with (or handed by a second launch), once.
#[tauri::command]
fn take_link(shell: tauri::State<'_, Shell>) -> Option<String> {
    shell.link.lock().ok().and_then(|mut l| l.take())
}

/// Reads a ticket (`tacit1…` or `tacit://join/…`) to show what joining would do.
#[tauri::command]
fn ticket_info(ticket: String) -> Result<TicketInfo, WireError> {
    let t = Ticket::parse(&ticket).map_err(|e| NodeError::from(e).to_wire())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Ok(TicketInfo {
        expired: t.check_expiry(now).is_err(),
        space: t.space,
        name: t.name,
        role: t.role,
        expires_at: t.expires_at,
        inviter: t.inviter,
    })
}

/// The first screen has painted (its data read and two frames drawn in the shown window): log
/// the launch time (once), the figure `scripts/bench-desktop.sh` reads, and at debug level the
/// UI's own marks on the way (`now` is the page's clock as it sent them); then make `tacit://`
/// links open this app.
#[tauri::command]
fn ui_painted(
    app: AppHandle,
    shell: tauri::State<'_, Shell>,
    marks: Option<Vec<UiMark>>,
    now: Option<f64>,
) {
    if !shell.painted.swap(true, Ordering::Relaxed) {
        let ms = shell.launched.elapsed().as_secs_f64() * 1000.0;
        if let (Some(marks), Some(now)) = (marks, now) {
            // The page's clock started `now` ms before this moment.
            tracing::debug!(at_ms = ms - now, "the page began loading");
            for m in marks {
                tracing::debug!(at_ms = ms - (now - m.at), "UI: {}", m.name);
            }
        }
        info!("first paint {ms:.1} ms after launch");
        // Not before: it runs `xdg-mime`, which the first screen need not wait for.
        register_links(&app);
        start_background(&app);
    }
    show_main(&app);
}

/// Lets the node start the work it held while the window started (the search index catching
/// up with the store: after an upgrade, a rebuild).
fn start_background(app: &AppHandle) {
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Ok(node) = handle.state::<Shell>().node().await {
            node.start_background();
        }
    });
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
        loop {
            let link = match activations.recv().await {
                Ok(link) => link,
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if let Some(w) = handle.get_webview_window(MAIN_WINDOW) {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
            if let Some(link) = link {
                offer_link(&handle, link);
            }
        }
    });
}

/// Keeps `link` for the UI to take and tells it one is waiting: the UI opens the join dialog,
/// and nothing is joined until the person confirms there.
fn offer_link(app: &AppHandle, link: String) {
    let shell = app.state::<Shell>();
    if let Ok(mut slot) = shell.link.lock() {
        *slot = Some(link);
    }
    let _ = app.emit(JOIN_LINK, ());
}

fn set_network(app: &AppHandle, state: NetworkState) {
    if let Ok(mut n) = app.state::<Shell>().network.lock() {
        *n = state;
    }
    // The UI reads the state again on this event.
    let _ = app.emit(NODE_EVENT, &Event::NetworkChanged);
}

/// Starts the network in the background. A failure (a port taken, no interfaces) leaves the
/// app working on this device; the status bar says why nothing is shared.
fn start_network(app: &AppHandle, node: &Node, opts: NetOptions) {
    let node = node.clone();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        let mdns = opts.mdns;
        let listen = opts.listen.join(", ");
        match node.start_network(opts).await {
            Ok(()) => {
                info!(listen = %listen, mdns, "network started");
                set_network(&handle, NetworkState::Running { mdns });
            }
            Err(e) => {
                warn!("the network did not start; sharing is off: {e}");
                let error = format!(
                    "{e} (listening on {listen}; set TACIT_LISTEN or --listen to other addresses)"
                );
                set_network(&handle, NetworkState::Failed { error });
            }
        }
    });
}

/// Whether `cmd` is an executable file in a directory of `$PATH`.
fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(cmd).is_file()))
}

/// Makes `tacit://` links open this app (Linux: a `.desktop` handler in the user's data
/// directory, set as the scheme's default with `xdg-mime`), unless they already do. Runs off
/// the main thread; failing only means links must be pasted.
fn register_links(app: &AppHandle) {
    use tauri_plugin_deep_link::DeepLinkExt;
    let handle = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        // Registering runs these two; without them it can only fail (and log an error).
        let missing: Vec<&str> = ["xdg-mime", "update-desktop-database"]
            .into_iter()
            .filter(|cmd| !on_path(cmd))
            .collect();
        if !missing.is_empty() {
            info!(
                "tacit:// links will not open this app (paste tickets instead): {} not found \
                 (apt-get install xdg-utils desktop-file-utils)",
                missing.join(" and ")
            );
            return;
        }
        let links = handle.deep_link();
        match links.is_registered(LINK_SCHEME) {
            Ok(true) => {}
            _ => match links.register_all() {
                Ok(()) => info!("tacit:// links now open this app"),
                Err(e) => {
                    info!("tacit:// links will not open this app (paste tickets instead): {e}")
                }
            },
        }
    });
}

/// What opening the home gives: a phase to start in, or "another window already has it".
enum Opened {
    /// Boxed: a ready phase holds the node and its control socket, and this is moved around.
    Phase(Box<Phase>),
    RaisedOther,
}

async fn open(home: PathBuf, link: Option<String>) -> Opened {
    let home = home.as_path();
    // The node's background work waits for the first paint (`ui_painted`).
    match Node::open_with(home, OpenOptions::default().deferred()).await {
        Ok(node) => Opened::Phase(Box::new(Phase::Ready(serve(node).await))),
        Err(e) => match e.kind() {
            ErrorKind::NotInitialised => Opened::Phase(Box::new(Phase::FirstRun)),
            ErrorKind::InUse => {
                // Another process holds the home. If it is this app, bring its window forward.
                if let Ok(Some(mut client)) = Client::connect(home).await
                    && let Ok(Response::Activated { window: true }) =
                        client.execute(&Request::Activate { link }).await
                {
                    return Opened::RaisedOther;
                }
                Opened::Phase(Box::new(Phase::Failed(e.to_wire())))
            }
            _ => Opened::Phase(Box::new(Phase::Failed(e.to_wire()))),
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

/// Runs the app until its last window closes.
pub fn run(opts: Options) -> ExitCode {
    let launched = Instant::now();
    let Options { home, net, link } = opts;
    // The node opens (SQLite checks, the profile) while the webview starts.
    let opening = tauri::async_runtime::spawn(open(home.clone(), link.clone()));
    let shell = Shell {
        home,
        net,
        network: std::sync::Mutex::new(NetworkState::Starting),
        link: std::sync::Mutex::new(link),
        phase: Mutex::new(Phase::Opening(opening)),
        app: std::sync::OnceLock::new(),
        launched,
        painted: AtomicBool::new(false),
    };
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            app_state,
            init,
            execute,
            show_window,
            ui_painted,
            network_state,
            take_link,
            ticket_info,
            crate::vault::import_folder,
            crate::vault::export_folder,
            crate::capture::capture_settings,
            crate::capture::set_capture_shortcut,
            crate::capture::open_capture,
            crate::capture::hide_capture,
            crate::attachments::attachment_image,
            crate::attachments::attachment_open,
            crate::attachments::attach_bytes,
            crate::attachments::attach_clipboard_image
        ])
        .setup(move |app| {
            let _ = shell.app.set(app.handle().clone());
            let capture = crate::capture::Capture::load(&shell.home);
            crate::capture::setup(app.handle(), &capture)?;
            app.manage(capture);
            app.manage(shell);
            // Act on the opening as soon as it is done, whether or not the UI has asked yet.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                drop(handle.state::<Shell>().settled().await);
            });
            // Light or dark follows the GTK theme (WebKitGTK's prefers-color-scheme);
            // `GTK_THEME=Adwaita:dark` forces dark.
            // It shows members' notes: it never leaves the app's own pages (`navigation.rs`).
            let navigation = crate::navigation::Navigation::for_app(app.config());
            let main =
                WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
                    .on_navigation(navigation.handler(MAIN_WINDOW))
                    .title("Tacit")
                    .inner_size(1280.0, 800.0)
                    .min_inner_size(1024.0, 700.0)
                    .visible(false)
                    .build()?;
            crate::render::fit(&main);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(SHOW_ANYWAY_AFTER).await;
                // Not again when the UI has painted (it showed the window and started the
                // background work).
                if !handle.state::<Shell>().painted.load(Ordering::Relaxed) {
                    show_main(&handle);
                    start_background(&handle);
                }
            });
            exit_on_signal(app.handle().clone());
            // Copies of attachments opened more than a day ago (they are never needed again).
            let home = app.state::<Shell>().home().to_path_buf();
            tauri::async_runtime::spawn_blocking(move || {
                let removed = crate::attachments::remove_old_copies(&home);
                if removed > 0 {
                    info!("removed {removed} old copies of opened attachments");
                }
            });
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
        // Quick capture's window is hidden, not closed, between captures: it goes with the
        // main window, so that closing the main window quits the app as before.
        if let RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::Destroyed,
            ..
        } = &event
            && label == MAIN_WINDOW
        {
            crate::capture::close(app);
        }
        if let RunEvent::Exit = event {
            let shell = app.state::<Shell>();
            tauri::async_runtime::block_on(async {
                let mut phase = std::mem::replace(&mut *shell.phase.lock().await, Phase::Stopped);
                if let Phase::Opening(opening) = phase {
                    // Closed before the home finished opening: stop the node it opened.
                    phase = match opening.await {
                        Ok(Opened::Phase(p)) => *p,
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
