//! The sync engine: the node's network. It owns the libp2p [`Net`], opens one session per
//! connected peer, dials members it has seen before (with backoff) and peers found by mDNS, and
//! keeps [`crate::netview::NetView`] current for status, listings and tickets.
//!
//! Sessions reach the actor through a weak sender: the engine never keeps a stopped node alive.

mod session;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use tacit_core::{SpaceId, Ticket};
use tacit_net::{Multiaddr, Net, NetConfig, NetEvent, PeerId};
use tokio::sync::{Mutex, Notify, broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::actor::{Msg, NodeInfo};
use crate::api::{Event, SyncState};
use crate::error::NodeError;
use crate::netview::PeerEntry;
use crate::replica::{ReplicaReply, ReplicaReq, Replicated};
use session::{SessionCmd, SessionCtx};

/// How a node joins the network.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// Where to listen (multiaddrs); none to only dial out.
    pub listen: Vec<String>,
    /// Whether to find and announce peers on the LAN by mDNS. It multicasts on the machine's
    /// interfaces: off in tests and wherever the LAN is not to be told.
    pub mdns: bool,
}

/// First wait before dialling a member again after a failure; doubled each time.
const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest wait between dials of one member.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How often the engine looks for members to reconnect to.
const RECONNECT_TICK: Duration = Duration::from_secs(1);
/// How long the larger peer id of two nodes that found each other on the LAN leaves the smaller
/// one to dial first: a LAN dial takes milliseconds, and the wait only delays a dial that the
/// other side could not make (e.g. a node that only dials out).
const LAN_DIAL_HEAD_START: Duration = Duration::from_secs(2);
/// How long a join waits for the inviter to answer (and, for a ticket without addresses, for
/// mDNS to find the inviter).
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a join waits for the space's first sync.
const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// The actor, reached without keeping it alive.
#[derive(Clone)]
pub(crate) struct ActorLink {
    tx: mpsc::WeakSender<Msg>,
}

impl ActorLink {
    pub(crate) fn new(tx: &mpsc::Sender<Msg>) -> Self {
        Self { tx: tx.downgrade() }
    }

    pub(crate) async fn ask(&self, req: ReplicaReq) -> Result<ReplicaReply, NodeError> {
        let tx = self.tx.upgrade().ok_or(NodeError::Stopped)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Msg::Replica(req, reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        drop(tx);
        rx.await.map_err(|_| NodeError::Stopped)?
    }
}

/// What the engine shares with the node handle.
pub(crate) struct Engine {
    net: Net,
    sessions: Arc<Mutex<HashMap<PeerId, mpsc::Sender<SessionCmd>>>>,
    session_started: Arc<Notify>,
    info: Arc<NodeInfo>,
    /// Whether mDNS finds peers on the LAN (a join by a ticket without addresses relies on it).
    mdns: bool,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Engine {
    /// Starts the network for a node.
    pub(crate) async fn start(
        opts: NetOptions,
        secret: [u8; 32],
        actor: ActorLink,
        info: Arc<NodeInfo>,
        events: broadcast::Sender<Event>,
        replica: broadcast::Sender<Replicated>,
    ) -> Result<Arc<Engine>, NodeError> {
        let listen = opts
            .listen
            .iter()
            .map(|a| {
                a.parse::<Multiaddr>()
                    .map_err(|e| NodeError::Invalid(format!("listen address {a:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cfg = NetConfig {
            listen,
            mdns: opts.mdns,
            ..NetConfig::new(secret)
        };
        let max_frame = cfg.limits.max_frame;
        let (net, net_rx) = Net::start(cfg)
            .await
            .map_err(|e| NodeError::Offline(e.to_string()))?;
        let listen: Vec<String> = net
            .listen_addrs()
            .await
            .iter()
            .map(|a| a.to_string())
            .collect();
        info!(peer = %net.peer_id(), ?listen, mdns = opts.mdns, "network started");
        if let Ok(mut view) = info.net.lock() {
            view.running = true;
            view.listen = listen;
        }
        let (stop, stopped) = watch::channel(false);
        let engine = Arc::new(Engine {
            net,
            sessions: Arc::default(),
            session_started: Arc::new(Notify::new()),
            info,
            mdns: opts.mdns,
            stop,
            task: std::sync::Mutex::new(None),
        });
        let run = Runner {
            spawner: Spawner {
                opening: Arc::default(),
                engine: engine.clone(),
                actor: actor.clone(),
                events: events.clone(),
                replica,
                max_frame,
                next_session: Arc::new(AtomicU64::new(1)),
            },
            engine: engine.clone(),
            actor,
            events,
            backoff: HashMap::new(),
            reopen: HashMap::new(),
            members_told: 0,
        };
        let task = tokio::spawn(run.run(net_rx, stopped));
        if let Ok(mut t) = engine.task.lock() {
            *t = Some(task);
        }
        Ok(engine)
    }

    /// Stops the network: sessions end, connections close.
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        self.net.shutdown().await;
        if let Ok(mut view) = self.info.net.lock() {
            view.running = false;
            view.peers.clear();
            view.listen.clear();
        }
    }

    /// Dials a peer; returns its peer id once connected.
    pub(crate) async fn connect(&self, addr: &str) -> Result<String, NodeError> {
        let addr: Multiaddr = addr
            .parse()
            .map_err(|e| NodeError::Invalid(format!("address {addr:?}: {e}")))?;
        let peer = self
            .net
            .dial(addr.clone())
            .await
            .map_err(|e| NodeError::Offline(format!("cannot reach {addr}: {e}")))?;
        Ok(peer.to_string())
    }

    /// Joins a space by ticket: dials the inviter (or, if it cannot be reached or refuses,
    /// the other members whose addresses the ticket carries), sends the join, and waits for
    /// the space's first sync to finish. Any member holding the invitation can admit.
    pub(crate) async fn join(
        &self,
        ticket: Ticket,
        join_op: Vec<u8>,
    ) -> Result<(SpaceId, String), NodeError> {
        let inviter = tacit_net::peer_id_of(&ticket.inviter)
            .ok_or_else(|| NodeError::Invalid("the ticket's inviter is not a device key".into()))?;
        // A ticket names the inviter's own addresses only.
        let mut addrs: Vec<Multiaddr> = Vec::new();
        for text in &ticket.addrs {
            let Ok(mut addr) = text.parse::<Multiaddr>() else {
                continue;
            };
            if let Some(Protocol::P2p(peer)) = addr.iter().last() {
                if peer != inviter {
                    continue;
                }
                addr.pop();
            }
            addrs.push(addr);
        }
        let candidates: Vec<(PeerId, Vec<Multiaddr>)> = vec![(inviter, addrs)];
        let mut first_error = None;
        for (peer, addrs) in candidates {
            match self.join_through(&ticket, &join_op, peer, addrs).await {
                Ok(joined) => return Ok(joined),
                Err(e) => {
                    debug!(%peer, "join through the inviter failed: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        // Any member holding the invitation admits: try the peers this node is connected to
        // (found on the LAN, or dialled by hand) while the inviter is away.
        let connected: Vec<(PeerId, Vec<Multiaddr>)> = self
            .info
            .net
            .lock()
            .map(|v| {
                v.peers
                    .iter()
                    .filter_map(|(p, e)| {
                        let peer = p.parse::<PeerId>().ok()?;
                        let addrs = e.addrs.iter().filter_map(|a| a.parse().ok()).collect();
                        Some((peer, addrs))
                    })
                    .filter(|(p, _)| *p != inviter)
                    .collect()
            })
            .unwrap_or_default();
        for (peer, addrs) in connected {
            match self.join_through(&ticket, &join_op, peer, addrs).await {
                Ok(joined) => return Ok(joined),
                Err(e) => debug!(%peer, "join through a connected peer failed: {e}"),
            }
        }
        Err(first_error.unwrap_or_else(|| {
            NodeError::Offline("no member of the space could be reached".into())
        }))
    }

    /// Joins through one member: dials it, sends the join op on its session, and waits for
    /// the first sync.
    async fn join_through(
        &self,
        ticket: &Ticket,
        join_op: &[u8],
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<(SpaceId, String), NodeError> {
        let connected = self.sessions.lock().await.contains_key(&peer);
        // Without an address, only mDNS can find the member: it dials the peers it discovers
        // on the LAN, so the session below comes up by itself, or the wait for it times out.
        let by_mdns = !connected && addrs.is_empty();
        if by_mdns && !self.mdns {
            return Err(NodeError::Offline(
                "the ticket carries no address of the inviter, the inviter is not connected and mDNS is off; ask for a ticket from a running Tacit (the app or `tacit serve`)".into(),
            ));
        }
        if !connected && !by_mdns {
            self.net.dial_peer(peer, addrs).await.map_err(|e| {
                NodeError::Offline(format!(
                    "cannot reach the inviter at the ticket's addresses: {e}"
                ))
            })?;
        }
        let session = tokio::time::timeout(JOIN_TIMEOUT, self.session_with(peer))
            .await
            .map_err(|_| {
                NodeError::Offline(if by_mdns {
                    format!(
                        "the ticket carries no address of the inviter, and mDNS did not find the inviter on the LAN within {} s; ask for a ticket from a running Tacit (the app or `tacit serve`)",
                        JOIN_TIMEOUT.as_secs()
                    )
                } else {
                    "the inviter connected but never synced".into()
                })
            })?;
        let (reply, rx) = oneshot::channel();
        session
            .send(SessionCmd::Join {
                ticket: Box::new(ticket.clone()),
                op: join_op.to_vec(),
                reply,
            })
            .await
            .map_err(|_| NodeError::Offline("the connection to the inviter closed".into()))?;
        let (space, name) = tokio::time::timeout(JOIN_TIMEOUT, rx)
            .await
            .map_err(|_| NodeError::Offline("the inviter did not answer the join".into()))?
            .map_err(|_| NodeError::Offline("the connection to the inviter closed".into()))??;
        self.wait_synced(space, peer).await;
        Ok((space, name))
    }

    /// The command channel of the session with `peer`, once there is one.
    async fn session_with(&self, peer: PeerId) -> mpsc::Sender<SessionCmd> {
        loop {
            let notified = self.session_started.notified();
            if let Some(tx) = self.sessions.lock().await.get(&peer) {
                return tx.clone();
            }
            notified.await;
        }
    }

    /// Waits until the session with `peer` no longer exchanges `space` (bounded).
    async fn wait_synced(&self, space: SpaceId, peer: PeerId) {
        let deadline = Instant::now() + FIRST_SYNC_TIMEOUT;
        let key = peer.to_string();
        while Instant::now() < deadline {
            let state = self.info.net.lock().ok().and_then(|v| {
                v.peers.get(&key).map(|e| {
                    if !e.spaces.contains(&space) || e.syncing.contains(&space) {
                        SyncState::Syncing
                    } else {
                        SyncState::UpToDate
                    }
                })
            });
            match state {
                Some(SyncState::UpToDate) => return,
                None => return, // disconnected: nothing more to wait for
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        warn!(%space, "the first sync of the space did not finish in time; it goes on in the background");
    }
}

/// The engine's task state.
struct Runner {
    engine: Arc<Engine>,
    actor: ActorLink,
    events: broadcast::Sender<Event>,
    spawner: Spawner,
    /// When each member's device may be dialled again, and the wait after that.
    backoff: HashMap<PeerId, (Instant, Duration)>,
    /// When the sync stream to a connected peer without a session may be opened again.
    reopen: HashMap<PeerId, (Instant, Duration)>,
    /// The generation of the member set the network was last told.
    members_told: u64,
}

/// Starts sessions; cloned into the tasks that open streams.
#[derive(Clone)]
struct Spawner {
    /// Peers whose stream this node is opening now.
    opening: Arc<std::sync::Mutex<std::collections::HashSet<PeerId>>>,
    engine: Arc<Engine>,
    actor: ActorLink,
    events: broadcast::Sender<Event>,
    replica: broadcast::Sender<Replicated>,
    max_frame: usize,
    next_session: Arc<AtomicU64>,
}

impl Runner {
    async fn run(
        mut self,
        mut net_rx: mpsc::Receiver<NetEvent>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(RECONNECT_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = net_rx.recv() => match ev {
                    Some(ev) => self.on_event(ev).await,
                    None => break,
                },
                _ = tick.tick() => self.reconnect().await,
                _ = stopped.changed() => break,
            }
        }
        self.engine.sessions.lock().await.clear();
    }

    fn my_peer(&self) -> PeerId {
        self.engine.net.peer_id()
    }

    async fn on_event(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Listening { addr } => {
                if let Ok(mut view) = self.engine.info.net.lock() {
                    let a = addr.to_string();
                    if !view.listen.contains(&a) {
                        view.listen.push(a);
                    }
                }
            }
            NetEvent::Connected { peer, addr, .. } => {
                debug!(%peer, %addr, "connected");
                self.backoff.remove(&peer);
                self.reopen.remove(&peer);
                if let Ok(mut view) = self.engine.info.net.lock() {
                    let entry = view
                        .peers
                        .entry(peer.to_string())
                        .or_insert_with(|| PeerEntry {
                            member: tacit_net::member_of(&peer),
                            ..PeerEntry::default()
                        });
                    let a = addr.to_string();
                    if !entry.addrs.contains(&a) {
                        entry.addrs.push(a);
                    }
                }
                let _ = self.events.send(Event::NetworkChanged);
                // One stream per pair of peers: the smaller peer id opens it.
                if self.my_peer() < peer && !self.engine.sessions.lock().await.contains_key(&peer) {
                    self.spawner.open(peer);
                }
            }
            NetEvent::Disconnected { peer } => {
                debug!(%peer, "disconnected");
                if let Ok(mut view) = self.engine.info.net.lock() {
                    view.peers.remove(&peer.to_string());
                }
                let _ = self.events.send(Event::NetworkChanged);
            }
            NetEvent::Identified { peer, listen_addrs } => {
                let addrs = listen_addrs.iter().map(|a| a.to_string()).collect();
                let _ = self
                    .actor
                    .ask(ReplicaReq::SeenAt {
                        peer: peer.to_string(),
                        addrs,
                    })
                    .await;
            }
            NetEvent::Discovered { peer, addrs } => {
                let connected = self.engine.sessions.lock().await.contains_key(&peer);
                if !connected && peer != self.my_peer() {
                    // Two nodes on a LAN find each other at the same instant. If both dialled
                    // at once, TCP port reuse could merge the two dials into one
                    // simultaneous-open connection on which both act as the dialer: the
                    // handshake fails, and mDNS does not report the peer again. So the
                    // smaller peer id dials at once, the other only if still unconnected
                    // after a head start (a dial to a connected peer returns at once).
                    let wait = if self.my_peer() < peer {
                        Duration::ZERO
                    } else {
                        LAN_DIAL_HEAD_START
                    };
                    debug!(%peer, ?wait, "found on the LAN; dialling");
                    let net = self.engine.net.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(wait).await;
                        if let Err(e) = net.dial_peer(peer, addrs).await {
                            debug!(%peer, "cannot dial a peer found on the LAN: {e}");
                        }
                    });
                }
            }
            NetEvent::IncomingStream { peer, stream } => self.spawner.start(peer, stream).await,
            _ => {}
        }
    }
}

impl Spawner {
    fn my_peer(&self) -> PeerId {
        self.engine.net.peer_id()
    }

    /// Opens the sync stream to `peer` in the background, unless an open is under way.
    fn open(&self, peer: PeerId) {
        let fresh = self.opening.lock().is_ok_and(|mut o| o.insert(peer));
        if !fresh {
            return;
        }
        let spawner = self.clone();
        tokio::spawn(async move {
            let opened = spawner.engine.net.open_stream(peer).await;
            if let Ok(mut opening) = spawner.opening.lock() {
                opening.remove(&peer);
            }
            match opened {
                Ok(stream) => spawner.start(peer, stream).await,
                Err(e) => debug!(%peer, "cannot open a sync stream: {e}"),
            }
        });
    }

    /// Runs a session on `stream`, unless one with `peer` runs already (one per peer).
    async fn start(&self, peer: PeerId, stream: libp2p::Stream) {
        let Some(member) = tacit_net::member_of(&peer) else {
            debug!(%peer, "a peer whose id is not a member key; no session");
            return;
        };
        let (cmd_tx, cmds) = mpsc::channel(4);
        {
            let mut sessions = self.engine.sessions.lock().await;
            if sessions.contains_key(&peer) {
                debug!(%peer, "a second sync stream with a peer; closed");
                return;
            }
            sessions.insert(peer, cmd_tx);
        }
        self.engine.session_started.notify_waiters();
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let ctx = SessionCtx {
            id,
            peer,
            member,
            first: self.my_peer() < peer,
            actor: self.actor.clone(),
            replica: self.replica.subscribe(),
            cmds,
            info: self.engine.info.clone(),
            events: self.events.clone(),
            max_frame: self.max_frame,
        };
        let sessions = self.engine.sessions.clone();
        let info = self.engine.info.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            debug!(%peer, session = id, "sync session started");
            match session::run(ctx, stream).await {
                Ok(()) => debug!(%peer, session = id, "sync session ended"),
                Err(e @ session::SessionEnd::Stopped) => {
                    debug!(%peer, session = id, "sync session closed: {e}")
                }
                Err(e) => warn!(%peer, session = id, "sync session closed: {e}"),
            }
            sessions.lock().await.remove(&peer);
            if let Ok(mut view) = info.net.lock()
                && let Some(entry) = view.peers.get_mut(&peer.to_string())
            {
                entry.spaces.clear();
                entry.syncing.clear();
            }
            let _ = events.send(Event::NetworkChanged);
        });
    }
}

impl Runner {
    /// Opens the sync stream again to connected peers that have no session although this
    /// node is the one to open it: the peer's libp2p may have dropped an inbound stream that
    /// arrived together with another (it keeps one waiting at a time), which ends the session
    /// here and leaves the connection idle.
    async fn reopen_streams(&mut self) {
        let connected: Vec<PeerId> = self
            .engine
            .info
            .net
            .lock()
            .map(|v| v.peers.keys().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default();
        let me = self.my_peer();
        let now = Instant::now();
        let members = self
            .engine
            .info
            .members
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        for peer in connected {
            if me >= peer || self.engine.sessions.lock().await.contains_key(&peer) {
                continue;
            }
            // Only members get a session opened again: a stranger's was closed on purpose.
            if !tacit_net::member_of(&peer).is_some_and(|m| members.contains(&m)) {
                continue;
            }
            let (next, wait) = self
                .reopen
                .get(&peer)
                .copied()
                .unwrap_or((now, BACKOFF_START));
            if now < next {
                continue;
            }
            self.reopen
                .insert(peer, (now + wait, (wait * 2).min(BACKOFF_MAX)));
            debug!(%peer, "connected without a session; opening the sync stream again");
            self.spawner.open(peer);
        }
    }

    /// Tells the network which peers are members (they keep their connection slots) when
    /// that changed.
    async fn tell_members(&mut self) {
        use std::sync::atomic::Ordering;
        let generation = self.engine.info.members_changed.load(Ordering::Relaxed);
        if generation == self.members_told {
            return;
        }
        self.members_told = generation;
        let peers: std::collections::HashSet<PeerId> = self
            .engine
            .info
            .members
            .lock()
            .map(|m| m.iter().filter_map(tacit_net::peer_id_of).collect())
            .unwrap_or_default();
        self.engine.net.set_members(peers).await;
    }

    /// Dials members this node has seen before and is not connected to, with backoff.
    async fn reconnect(&mut self) {
        self.tell_members().await;
        self.reopen_streams().await;
        let Ok(ReplicaReply::Reconnect(targets)) = self.actor.ask(ReplicaReq::Reconnect).await
        else {
            return;
        };
        let now = Instant::now();
        for (peer, addrs) in targets {
            let Ok(peer) = peer.parse::<PeerId>() else {
                continue;
            };
            let connected = self
                .engine
                .info
                .net
                .lock()
                .map(|v| v.peers.contains_key(&peer.to_string()))
                .unwrap_or(false);
            if connected {
                continue;
            }
            let (next, wait) = self
                .backoff
                .get(&peer)
                .copied()
                .unwrap_or((now, BACKOFF_START));
            if now < next {
                continue;
            }
            self.backoff
                .insert(peer, (now + wait, (wait * 2).min(BACKOFF_MAX)));
            let addrs: Vec<Multiaddr> = addrs.iter().filter_map(|a| a.parse().ok()).collect();
            let net = self.engine.net.clone();
            tokio::spawn(async move {
                if let Err(e) = net.dial_peer(peer, addrs).await {
                    debug!(%peer, "reconnect failed: {e}");
                }
            });
        }
    }
}
