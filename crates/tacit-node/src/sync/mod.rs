//! The sync engine: the node's network. It owns the libp2p [`Net`], opens one session per
//! connected peer, dials members it has seen before (with backoff) and peers found by mDNS, and
//! keeps [`crate::netview::NetView`] current for status, listings and tickets.
//!
//! Across NATs (see `tacit-net`'s transport module for the mechanics):
//!
//! - **Relays** come from the person (`--use-relay`, kept in the home) and from the members of
//!   this node's spaces that serve as relays at a public address (they say so in the addresses
//!   members share). While the node is not confirmed public it holds a slot on each, and its
//!   circuit addresses go into its tickets and its address record.
//! - **Members meet each other**: every session tells its peer where the members of the spaces
//!   they share can be reached (signed records, [`addrs`]); the records go into the address book
//!   and the reconnect loop dials them, so members stay connected when the inviter is away.
//! - **Direct before relayed**: a session that began over a relayed connection is started again
//!   once a direct connection is up (usually a DCUtR hole punch), so that sync moves off the
//!   relay instead of running into its circuit limits.
//!
//! Sessions reach the actor through a weak sender: the engine never keeps a stopped node alive.

mod addrs;
mod autofetch;
pub(crate) mod session;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use tacit_core::{DeviceKey, MemberId, SpaceId, Ticket};
use tacit_net::session::{new_stream_replaces, opens_stream};
use tacit_net::wire::{MAX_ADDR_RECORDS, MemberAddrs};
use tacit_net::{Limits, Multiaddr, Net, NetConfig, NetError, NetEvent, PeerId};
use tokio::sync::{Mutex, Notify, broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::api::{
    Event, Reachability, RelayInfo, RelaySource, RelayState, Request, Response, SyncState,
};
use crate::base::{ActorLink, NodeInfo, now_ms};
use crate::error::NodeError;
use crate::netview::{PeerEntry, is_circuit};
use crate::replica::{ReplicaReply, ReplicaReq, Replicated};
use addrs::{AddrBook, BookKey, Booking, Offered, Source, book_order, own_record};
use session::{SessionCmd, SessionCtx};

/// The environment variable that lets AutoNAT probe with peers at any IP address (loopback,
/// private and documentation ranges). For tests in network namespaces only: on a real network a
/// peer on the same LAN cannot tell whether this node is reachable from the Internet.
pub const AUTONAT_ANY_IP_ENV: &str = "TACIT_AUTONAT_ANY_IP";

/// The environment variable with relays to use, comma-separated (as `--use-relay`).
pub const RELAYS_ENV: &str = "TACIT_RELAYS";

/// How a node joins the network.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// Where to listen (multiaddrs); none to only dial out.
    pub listen: Vec<String>,
    /// Whether to find and announce peers on the LAN by mDNS. It multicasts on the machine's
    /// interfaces: off in tests and wherever the LAN is not to be told.
    pub mdns: bool,
    /// Relays to use (multiaddrs ending in `/p2p/PEER_ID`), on top of those kept in the home;
    /// they are kept in the home from now on. A node that does not listen uses none.
    pub relays: Vec<String>,
    /// Serve circuit relay v2 for members behind NATs (`tacit serve --relay`). Needs a public
    /// address: `external_addrs`, or a `listen` address on a public IP with a fixed port.
    pub relay_server: bool,
    /// Addresses this host is reachable at from outside (its public IP and port), declared by
    /// the operator; taken as confirmed without waiting for AutoNAT.
    pub external_addrs: Vec<String>,
    /// Let AutoNAT probe with peers at any IP address, and take documentation ranges as public
    /// ([`AUTONAT_ANY_IP_ENV`]): for tests in network namespaces only.
    pub autonat_any_ip: bool,
    /// Limits on attachments: per-file cap, per-space quota, what is fetched at once, upload rate.
    pub blobs: crate::base::BlobLimits,
    /// The network layer's bounds (connections, strangers, streams, frames); the defaults
    /// unless a test tightens them.
    pub limits: Limits,
}

/// First wait before dialling a member again after a failure; doubled each time.
const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest wait between dials of one member: a member offline costs four dial attempts a
/// minute, and a link that comes back (a healed partition, a laptop back on the network) is
/// used again within this long.
const BACKOFF_MAX: Duration = Duration::from_secs(15);
/// How often the engine looks for members to reconnect to, addresses to share, member relays
/// to use and relayed sessions to move to a direct connection.
const RECONNECT_TICK: Duration = Duration::from_secs(1);
/// How long the larger peer id of two nodes that found each other on the LAN leaves the smaller
/// one to dial first: a LAN dial takes milliseconds, and the wait only delays a dial that the
/// other side could not make (e.g. a node that only dials out).
const LAN_DIAL_HEAD_START: Duration = Duration::from_secs(2);
/// How long the larger peer id of two members that can dial each other leaves the smaller one
/// to dial first when reconnecting. Behind NATs both would otherwise dial each other's circuit
/// address at once: two relayed connections, two hole punches at once over the same ports, which
/// can both fail. The wait only delays a dial the other side cannot make (it knows no address).
const RECONNECT_HEAD_START: Duration = Duration::from_secs(5);
/// How long a join waits for the inviter to answer (and, for a ticket without addresses, for
/// mDNS to find the inviter).
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a join by a ticket without addresses dials the inviter at the addresses mDNS
/// found for it (none until mDNS has found it): a dial to a peer with no known address fails
/// at once, a LAN dial within milliseconds.
const MDNS_JOIN_REDIAL: Duration = Duration::from_secs(1);
/// How long a join leaves the inviter to open the sync stream (when its peer id is the smaller)
/// before the joiner opens it itself.
const JOIN_OPEN_AFTER: Duration = Duration::from_secs(3);
/// How long the side that accepted a connection leaves its dialer to open the sync stream
/// before it opens it itself (when its peer id is the smaller, [`opens_stream`]): the dialer
/// opens at once, and its stream comes within a round trip; one that does not (an older Tacit,
/// which opens by peer id only) is opened from here after this wait.
const ACCEPTED_OPEN_AFTER: Duration = Duration::from_secs(3);
/// How long a join waits for the space's first sync.
const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(300);
/// Received member address records waiting for the engine: a few sessions' worth of `Addrs`
/// messages (each at most [`MAX_ADDR_RECORDS`] records); a session whose records do not fit
/// waits (back-pressure on that peer only).
const ADDRS_QUEUE: usize = 16;
/// Commands waiting for a session (a join, address records); the engine never waits for room.
const SESSION_COMMANDS: usize = 4;
/// How long a new session with a peer waits for the session it replaces (one over a relay) to
/// end. Ending takes a moment (the stream closes); this only bounds a stuck one.
const RETIRE_WAIT: Duration = Duration::from_secs(10);
/// How long a stream a peer opened again waits for the session on its earlier stream to end by
/// itself (the peer lost that one: over a connection that closed, its end is a moment away).
/// Over a connection that broke without a word, this node would notice only when its pings
/// fail, half a minute later: the new stream then replaces the old session.
const HOLD_WAIT: Duration = Duration::from_secs(5);
/// How long a peer whose session ended as hostile gets no session at first; each time again
/// doubles it, up to [`PENALTY_MAX`]. A hostile peer reconnecting at once would otherwise make
/// this node do its session's set-up and checks again and again.
const PENALTY_START: Duration = Duration::from_secs(2);
const PENALTY_MAX: Duration = Duration::from_secs(300);
/// Peers remembered in the penalty box (the soonest to end leaves first past it).
const MAX_PENALTIES: usize = 4096;

/// A running session with one peer.
struct SessionSlot {
    /// The session's number.
    id: u64,
    /// Its commands; dropping the last sender ends the session.
    tx: mpsc::Sender<SessionCmd>,
    /// Whether this node opened the session's stream (else it accepted it).
    opened: bool,
    /// Whether the peer was reached only through a relay when the session began (its stream
    /// then runs over the relayed connection).
    relayed: bool,
    /// Turns true once the session has ended and cleaned up.
    done: watch::Receiver<bool>,
    /// The peer's last connection closed and the peer had none left when that was handled:
    /// the session's stream went with it and the session is ending, so a new stream from the
    /// peer (it reconnected at once) replaces it instead of being refused as a second one.
    stale: bool,
}

/// What the engine shares with the node handle.
pub(crate) struct Engine {
    net: Net,
    sessions: Arc<Mutex<HashMap<PeerId, SessionSlot>>>,
    /// Sessions told to end (to make way for one over a direct connection), until they have.
    retiring: Arc<std::sync::Mutex<HashMap<PeerId, watch::Receiver<bool>>>>,
    session_started: Arc<Notify>,
    /// Peers a join waits for a session with: the engine opens the sync stream to them itself
    /// when none came up, whichever peer id is smaller (each side sees the other as a stranger
    /// until the join is done, so neither would open it again after a lost first stream).
    joining: std::sync::Mutex<HashMap<PeerId, Instant>>,
    /// Peers whose session ended as hostile: no session until the first instant; the second
    /// is the next penalty's length.
    penalties: std::sync::Mutex<HashMap<PeerId, (Instant, Duration)>>,
    info: Arc<NodeInfo>,
    /// Whether mDNS finds peers on the LAN (a join by a ticket without addresses relies on it).
    mdns: bool,
    /// Whether this node serves as a relay.
    relay_server: bool,
    /// Where each relay in use came from.
    relay_sources: std::sync::Mutex<HashMap<PeerId, RelaySource>>,
    /// [`Limits::max_relays`].
    max_relays: usize,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Fetches attachments from members.
    fetcher: crate::blobs::Fetcher,
    /// The blob server and the fetcher of small attachments, stopped with the engine.
    blob_tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Engine {
    /// Whether `peer` gets no session now (its last one ended as hostile, not long ago).
    fn penalized(&self, peer: &PeerId) -> bool {
        self.penalties.lock().is_ok_and(|p| {
            p.get(peer)
                .is_some_and(|(until, _)| Instant::now() < *until)
        })
    }

    /// Whether a session with `peer` runs on a connection that is still up.
    async fn has_live_session(&self, peer: &PeerId) -> bool {
        self.sessions
            .lock()
            .await
            .get(peer)
            .is_some_and(|s| !s.stale)
    }

    /// Keeps `peer` out for a while after its session ended as hostile (`why`); longer each
    /// time. The members list says what it did.
    fn penalize(&self, peer: PeerId, why: &str) {
        if let Some(member) = tacit_net::member_of(&peer)
            && let Ok(mut view) = self.info.net.lock()
        {
            if view.hostile.len() >= MAX_PENALTIES
                && let Some(first) = view.hostile.keys().next().copied()
            {
                view.hostile.remove(&first);
            }
            view.hostile.insert(member, why.to_owned());
        }
        let Ok(mut penalties) = self.penalties.lock() else {
            return;
        };
        let now = Instant::now();
        // A penalty long over (as long again as its length) is forgotten.
        penalties.retain(|_, (until, next)| now < *until + *next);
        if penalties.len() >= MAX_PENALTIES
            && !penalties.contains_key(&peer)
            && let Some(soonest) = penalties
                .iter()
                .min_by_key(|(_, (u, _))| *u)
                .map(|(p, _)| *p)
        {
            penalties.remove(&soonest);
        }
        let wait = penalties
            .get(&peer)
            .map_or(PENALTY_START, |(_, next)| *next);
        penalties.insert(peer, (now + wait, (wait * 2).min(PENALTY_MAX)));
        warn!(%peer, secs = wait.as_secs(), "no sync session with this peer for a while: its last one was hostile");
    }

    /// Starts the network for a node. `opts.relays` are the relays to use (checked with
    /// [`check_relay`]).
    pub(crate) async fn start(
        opts: NetOptions,
        secret: [u8; 32],
        actor: ActorLink,
        info: Arc<NodeInfo>,
        events: broadcast::Sender<Event>,
        replica: broadcast::Sender<Replicated>,
    ) -> Result<Arc<Engine>, NodeError> {
        let listen = parse_addrs(&opts.listen, "listen address")?;
        let mut external_addrs = parse_addrs(&opts.external_addrs, "external address")?;
        if opts.relay_server && external_addrs.is_empty() {
            external_addrs = public_listen_addrs(&listen, opts.autonat_any_ip)?;
        }
        let mut relays = Vec::new();
        for text in &opts.relays {
            let (_, addr) = check_relay(text)?;
            if !relays.contains(&addr) {
                relays.push(addr);
            }
        }
        let configured: HashMap<PeerId, RelaySource> = relays
            .iter()
            .filter_map(tacit_net_peer_of)
            .map(|p| (p, RelaySource::Configured))
            .collect();
        let cfg = NetConfig {
            listen,
            mdns: opts.mdns,
            relay_server: opts.relay_server,
            relays,
            external_addrs,
            autonat_only_global_ips: !opts.autonat_any_ip,
            limits: opts.limits.clone(),
            ..NetConfig::new(secret)
        };
        let max_frame = cfg.limits.max_frame;
        let max_relays = cfg.limits.max_relays;
        let (net, net_rx) = Net::start(cfg).await.map_err(|e| match e {
            NetError::Relay { .. } | NetError::Setup(_) => NodeError::Invalid(e.to_string()),
            e => NodeError::Offline(e.to_string()),
        })?;
        let listen: Vec<String> = net
            .listen_addrs()
            .await
            .iter()
            .map(|a| a.to_string())
            .filter(|a| !is_circuit(a))
            .collect();
        info!(peer = %net.peer_id(), ?listen, mdns = opts.mdns, relay_server = opts.relay_server, "network started");
        let reachability = reachability_of(net.reachability().await);
        let external: Vec<String> = net
            .external_addrs()
            .await
            .iter()
            .map(|a| a.to_string())
            .collect();
        if let Ok(mut view) = info.net.lock() {
            view.running = true;
            view.listen = listen;
            view.network.reachability = reachability;
            view.network.external_addrs = external;
            view.network.relay_server = opts.relay_server;
        }
        let (stop, stopped) = watch::channel(false);
        if let Ok(mut l) = info.blob_limits.lock() {
            *l = opts.blobs;
        }
        let fetcher = crate::blobs::Fetcher::new(
            net.clone(),
            actor.weak(),
            info.blobs.clone(),
            info.blob_limits.clone(),
            events.clone(),
        );
        let serving = tokio::spawn(crate::blobs::serve(
            net.clone(),
            actor.weak(),
            info.blobs.clone(),
            opts.blobs,
            info.clone(),
        ));
        let engine = Arc::new(Engine {
            fetcher,
            blob_tasks: std::sync::Mutex::new(vec![serving]),
            net,
            sessions: Arc::default(),
            retiring: Arc::default(),
            session_started: Arc::new(Notify::new()),
            joining: std::sync::Mutex::default(),
            penalties: std::sync::Mutex::default(),
            info,
            mdns: opts.mdns,
            relay_server: opts.relay_server,
            relay_sources: std::sync::Mutex::new(configured),
            max_relays,
            stop,
            task: std::sync::Mutex::new(None),
        });
        engine.refresh_relays().await;
        let auto_events = events.subscribe();
        let auto_actor = actor.clone();
        let (addrs_tx, addrs_rx) = mpsc::channel(ADDRS_QUEUE);
        let key = DeviceKey::from_secret(secret);
        let run = Runner {
            spawner: Spawner {
                opening: Arc::default(),
                held: Arc::default(),
                engine: engine.clone(),
                actor: actor.clone(),
                events: events.clone(),
                replica,
                max_frame,
                next_session: Arc::new(AtomicU64::new(1)),
                addrs: addrs_tx,
            },
            engine: engine.clone(),
            actor,
            events,
            backoff: HashMap::new(),
            reopen: HashMap::new(),
            members_told: 0,
            joining_told: HashSet::new(),
            key,
            book: AddrBook::default(),
            booking: Booking::default(),
            own: None,
            sent: HashMap::new(),
            space_members: None,
        };
        let task = tokio::spawn(run.run(net_rx, addrs_rx, stopped));
        if let Ok(mut t) = engine.task.lock() {
            *t = Some(task);
        }
        let fetches: std::sync::Weak<dyn autofetch::Fetches> = Arc::downgrade(&engine) as _;
        let auto = tokio::spawn(autofetch::auto_fetch(fetches, auto_events, auto_actor));
        if let Ok(mut tasks) = engine.blob_tasks.lock() {
            tasks.push(auto);
        }
        Ok(engine)
    }

    /// Stops the network: sessions end, connections close.
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        for t in self
            .blob_tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
        {
            t.abort();
        }
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        self.net.shutdown().await;
        if let Ok(mut view) = self.info.net.lock() {
            view.running = false;
            view.peers.clear();
            view.listen.clear();
            view.network = Default::default();
        }
    }

    /// The limits on attachments in force.
    pub(crate) fn blob_limits(&self) -> crate::base::BlobLimits {
        self.fetcher.limits()
    }

    /// Fetches an attachment of `space` from the connected members that hold it (see
    /// [`Fetcher::fetch`](crate::blobs::Fetcher::fetch) for `background`).
    pub(crate) async fn fetch_blob(
        &self,
        space: SpaceId,
        hash: tacit_store::BlobHash,
        size: u64,
        wait_for_member: bool,
        background: bool,
    ) -> Result<crate::blobs::Fetched, NodeError> {
        /// How long a fetch waits for a member to be connected (a node just started dials the
        /// members it knows; sessions come up within a second or two on a LAN).
        const WAIT_FOR_MEMBER: Duration = Duration::from_secs(15);
        let members = self.fetcher.members(space).await;
        let deadline = Instant::now()
            + if wait_for_member {
                WAIT_FOR_MEMBER
            } else {
                Duration::ZERO
            };
        loop {
            let connected: Vec<PeerId> = self.sessions.lock().await.keys().copied().collect();
            let peers: Vec<PeerId> = connected
                .into_iter()
                .filter(|p| tacit_net::member_of(p).is_some_and(|m| members.contains(&m)))
                .collect();
            if !peers.is_empty() || members.is_empty() || Instant::now() >= deadline {
                return self
                    .fetcher
                    .fetch(space, hash, size, &peers, background)
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
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

    /// Uses one more relay (checked with [`check_relay`]), as given by the person.
    pub(crate) async fn add_relay(&self, addr: &str) -> Result<(), NodeError> {
        let (peer, addr) = check_relay(addr)?;
        self.net
            .add_relay(addr)
            .await
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        if let Ok(mut sources) = self.relay_sources.lock() {
            sources.insert(peer, RelaySource::Configured);
        }
        self.refresh_relays().await;
        Ok(())
    }

    /// Stops using a relay; returns whether it was in use.
    pub(crate) async fn remove_relay(&self, peer: PeerId) -> bool {
        let found = self.net.remove_relay(peer).await;
        if let Ok(mut sources) = self.relay_sources.lock() {
            sources.remove(&peer);
        }
        self.refresh_relays().await;
        found
    }

    /// Where a relay in use came from, if it is in use.
    pub(crate) fn relay_source(&self, peer: &PeerId) -> Option<RelaySource> {
        self.relay_sources
            .lock()
            .ok()
            .and_then(|s| s.get(peer).copied())
    }

    /// Reads the relays and their reservations into the network view.
    async fn refresh_relays(&self) {
        let relays = self.net.relays().await;
        let sources = self
            .relay_sources
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let list: Vec<RelayInfo> = relays
            .into_iter()
            .map(|r| {
                let (state, detail) = relay_state_of(r.state);
                RelayInfo {
                    peer: r.peer.to_string(),
                    addr: r.addr.to_string(),
                    state,
                    detail,
                    source: sources
                        .get(&r.peer)
                        .copied()
                        .unwrap_or(RelaySource::Configured),
                }
            })
            .collect();
        if let Ok(mut view) = self.info.net.lock() {
            view.network.relays = list;
        }
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
        let connected = self.has_live_session(&peer).await;
        // Without an address, only mDNS can find the member: it dials the peers it discovers
        // on the LAN, so the session below comes up by itself, or the wait for it times out.
        let by_mdns = !connected && addrs.is_empty();
        if by_mdns && !self.mdns {
            return Err(NodeError::Offline(
                "the ticket carries no address of the inviter, the inviter is not connected and mDNS is off; ask for a ticket from a running Tacit (the app or `tacit serve`)".into(),
            ));
        }
        if !connected && !by_mdns {
            let shown: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            self.net
                .dial_peer(peer, addrs)
                .await
                .map_err(|e| NodeError::Offline(unreachable_inviter(&shown, &e)))?;
        }
        if let Ok(mut joining) = self.joining.lock() {
            joining.insert(peer, Instant::now());
        }
        // The network passes on only a few peers found on the LAN a minute: the inviter is
        // dialled by its id (from the ticket) at the addresses mDNS found, whether or not it
        // was passed on, until the session is up.
        let dialling = by_mdns.then(|| {
            let net = self.net.clone();
            let until = Instant::now() + JOIN_TIMEOUT;
            tokio::spawn(async move {
                while Instant::now() < until {
                    match net.dial_peer(peer, Vec::new()).await {
                        Ok(()) | Err(NetError::Shutdown) => break,
                        Err(_) => tokio::time::sleep(MDNS_JOIN_REDIAL).await,
                    }
                }
            })
        });
        let session = tokio::time::timeout(JOIN_TIMEOUT, self.session_with(peer)).await;
        if let Some(dialling) = dialling {
            dialling.abort();
        }
        if let Ok(mut joining) = self.joining.lock() {
            joining.remove(&peer);
        }
        let session = session
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
        // The session ends when the engine drops its sender (to move it to a direct
        // connection): this copy must not keep it alive.
        drop(session);
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
            if let Some(slot) = self.sessions.lock().await.get(&peer)
                && !slot.stale
            {
                return slot.tx.clone();
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

    /// The relay of the best path to `peer` now: `Some(None)` when direct, `Some(Some(relay))`
    /// when only relayed, `None` when not connected.
    fn path(&self, peer: &PeerId) -> Option<Option<String>> {
        self.info
            .net
            .lock()
            .ok()
            .and_then(|v| v.peers.get(&peer.to_string()).map(|e| e.relay.clone()))
    }

    /// Ends the session with `peer` (to start it again over a direct connection): its slot
    /// goes, which drops the last sender and stops it; once it has ended, its spaces leave the
    /// network view unless a new session took over.
    async fn retire(self: &Arc<Self>, peer: PeerId) {
        let Some(slot) = self.sessions.lock().await.remove(&peer) else {
            return;
        };
        let mut done = slot.done.clone();
        drop(slot);
        if let Ok(mut retiring) = self.retiring.lock() {
            retiring.insert(peer, done.clone());
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(RETIRE_WAIT, done.wait_for(|d| *d)).await;
            if let Ok(mut retiring) = engine.retiring.lock() {
                retiring.remove(&peer);
            }
            if !engine.sessions.lock().await.contains_key(&peer) {
                engine.clear_session_view(peer);
            }
        });
    }

    /// Removes a session's spaces from the network view.
    fn clear_session_view(&self, peer: PeerId) {
        if let Ok(mut view) = self.info.net.lock()
            && let Some(entry) = view.peers.get_mut(&peer.to_string())
        {
            entry.spaces.clear();
            entry.syncing.clear();
        }
    }
}

/// A join's error when the inviter could not be dialled, saying what to do.
fn unreachable_inviter(addrs: &[String], e: &NetError) -> String {
    let circuits: Vec<&String> = addrs.iter().filter(|a| is_circuit(a)).collect();
    if circuits.is_empty() {
        format!(
            "cannot reach the inviter at the ticket's addresses ({}): {e}. The inviter is \
             probably behind a NAT or firewall, and the ticket names no relay to reach it \
             through: ask the inviter to add a relay (`tacit relay add /ip4/…/tcp/…/p2p/…`, or \
             Settings → Relays in the app), wait until `tacit status` shows it reserved, and send \
             a new ticket; or join from the inviter's own network",
            addrs.join(", ")
        )
    } else {
        format!(
            "cannot reach the inviter, neither directly nor through its relay ({}): {e}. Check \
             that the inviter's Tacit is running and its relay is up (`tacit status` on the \
             inviter's side lists its relays), then try again",
            circuits
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Parses multiaddrs given as text, naming what they are in the error.
fn parse_addrs(texts: &[String], what: &str) -> Result<Vec<Multiaddr>, NodeError> {
    texts
        .iter()
        .map(|a| {
            a.parse::<Multiaddr>()
                .map_err(|e| NodeError::Invalid(format!("{what} {a:?}: {e}")))
        })
        .collect()
}

/// Checks a relay's address as given by a person: a multiaddr (not a circuit) that ends in the
/// relay's `/p2p/PEER_ID`.
pub(crate) fn check_relay(text: &str) -> Result<(PeerId, Multiaddr), NodeError> {
    let addr: Multiaddr = text.trim().parse().map_err(|e| {
        NodeError::Invalid(format!(
            "relay address {text:?}: {e}; give it as /ip4/203.0.113.10/tcp/4001/p2p/RELAY_PEER_ID"
        ))
    })?;
    if is_circuit(&addr.to_string()) {
        return Err(NodeError::Invalid(format!(
            "{text} is a circuit address; give the relay's own address, e.g. /ip4/203.0.113.10/tcp/4001/p2p/RELAY_PEER_ID"
        )));
    }
    let peer = tacit_net_peer_of(&addr).ok_or_else(|| {
        NodeError::Invalid(format!(
            "relay address {text} does not end in /p2p/RELAY_PEER_ID: add the peer id the relay printed when it started (`tacit status` on the relay shows it)"
        ))
    })?;
    Ok((peer, addr))
}

/// The peer id an address ends in.
fn tacit_net_peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The listen addresses of a relay server that are public, to announce as its external
/// addresses when none was given; an error saying what to pass when there is none.
fn public_listen_addrs(listen: &[Multiaddr], any_ip: bool) -> Result<Vec<Multiaddr>, NodeError> {
    let public: Vec<Multiaddr> = listen
        .iter()
        .filter(|a| {
            let mut parts = a.iter();
            let ip: Option<IpAddr> = match parts.next() {
                Some(Protocol::Ip4(ip)) => Some(ip.into()),
                Some(Protocol::Ip6(ip)) => Some(ip.into()),
                _ => None,
            };
            let port_fixed = match parts.next() {
                Some(Protocol::Tcp(p)) | Some(Protocol::Udp(p)) => p != 0,
                _ => false,
            };
            ip.is_some_and(|ip| is_public(ip, any_ip)) && port_fixed
        })
        .cloned()
        .collect();
    if public.is_empty() {
        let given: Vec<String> = listen.iter().map(|a| a.to_string()).collect();
        return Err(NodeError::Invalid(format!(
            "serving as a relay needs this host's public address, and none of the listen \
             addresses ({}) is a public IP with a fixed port: pass --external-addr \
             /ip4/PUBLIC_IP/tcp/PORT (the address others dial; repeat it for QUIC, \
             /ip4/PUBLIC_IP/udp/PORT/quic-v1) together with --listen on that port, or --listen \
             /ip4/PUBLIC_IP/tcp/PORT on the public IP itself",
            given.join(", ")
        )));
    }
    Ok(public)
}

/// Whether an IP address is reachable from the Internet (not private, loopback, link-local,
/// shared or reserved). With `any_ip`, documentation and benchmarking ranges count as public
/// (tests in network namespaces use them).
pub(crate) fn is_public(ip: IpAddr, any_ip: bool) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            let documentation = (a, b, c) == (192, 0, 2)
                || (a, b, c) == (198, 51, 100)
                || (a, b, c) == (203, 0, 113);
            let benchmarking = a == 198 && (b & 0xfe) == 18;
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (b & 0xc0) == 64)
                || (a == 192 && b == 0 && c == 0)
                || (!any_ip && (documentation || benchmarking)))
        }
        IpAddr::V6(ip) => {
            let s = ip.segments();
            let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (!any_ip && documentation))
        }
    }
}

fn reachability_of(r: tacit_net::Reachability) -> Reachability {
    match r {
        tacit_net::Reachability::Public => Reachability::Public,
        tacit_net::Reachability::Private => Reachability::Private,
        tacit_net::Reachability::Unknown => Reachability::Unknown,
    }
}

fn relay_state_of(s: tacit_net::RelayState) -> (RelayState, Option<String>) {
    match s {
        tacit_net::RelayState::Pending => (RelayState::Pending, None),
        tacit_net::RelayState::Reserved { circuit_addr } => {
            (RelayState::Reserved, Some(circuit_addr.to_string()))
        }
        tacit_net::RelayState::Refused { reason } => (RelayState::Refused, Some(reason)),
        tacit_net::RelayState::Unreachable { reason } => (RelayState::Unreachable, Some(reason)),
        tacit_net::RelayState::NotNeeded => (RelayState::NotNeeded, None),
        _ => (RelayState::Pending, None),
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
    /// The peers the network was last told are joining ([`Net::set_joining`]).
    joining_told: HashSet<PeerId>,
    /// The device key, to sign this node's address record.
    key: DeviceKey,
    /// Other members' address records.
    book: AddrBook,
    /// Which members' addresses (from their records and from identify) were written to the
    /// store, and which wait to be.
    booking: Booking,
    /// This node's address record as last made.
    own: Option<MemberAddrs>,
    /// Per peer: the session the records went to, and the time of each record it was sent.
    sent: HashMap<PeerId, (u64, HashMap<MemberId, i64>)>,
    /// The members of each shared space, read from the actor, and the member-set generation
    /// they were read at.
    space_members: Option<(u64, HashMap<SpaceId, BTreeSet<MemberId>>)>,
}

/// Starts sessions; cloned into the tasks that open streams.
#[derive(Clone)]
struct Spawner {
    /// Peers whose stream this node is opening now.
    opening: Arc<std::sync::Mutex<HashSet<PeerId>>>,
    /// Streams peers opened again, held until their running session ends ([`Spawner::hold`]).
    held: Arc<std::sync::Mutex<HashMap<PeerId, libp2p::Stream>>>,
    engine: Arc<Engine>,
    actor: ActorLink,
    events: broadcast::Sender<Event>,
    replica: broadcast::Sender<Replicated>,
    max_frame: usize,
    next_session: Arc<AtomicU64>,
    /// Where sessions put the address records their peers send.
    addrs: mpsc::Sender<(PeerId, Vec<MemberAddrs>)>,
}

impl Runner {
    async fn run(
        mut self,
        mut net_rx: mpsc::Receiver<NetEvent>,
        mut addrs_rx: mpsc::Receiver<(PeerId, Vec<MemberAddrs>)>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(RECONNECT_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Sessions say when they start sharing a space: a session over a relay then moves to
        // the direct connection at once, not at the next tick.
        let mut node_events = self.events.subscribe();
        loop {
            tokio::select! {
                ev = net_rx.recv() => match ev {
                    Some(ev) => self.on_event(ev).await,
                    None => break,
                },
                Some((peer, records)) = addrs_rx.recv() => self.on_addrs(peer, records).await,
                ev = node_events.recv() => match ev {
                    Ok(Event::NetworkChanged) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.move_relayed_sessions().await;
                    }
                    // A joiner admitted here is a member from now on: the network keeps its
                    // slot at once, not at the next tick.
                    Ok(Event::SpacesChanged { .. }) => self.tell_members().await,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => self.tick().await,
                _ = stopped.changed() => break,
            }
        }
        self.engine.sessions.lock().await.clear();
    }

    fn my_peer(&self) -> PeerId {
        self.engine.net.peer_id()
    }

    async fn tick(&mut self) {
        self.tell_members().await;
        self.tell_joining().await;
        self.reopen_streams().await;
        self.reconnect().await;
        self.share_addrs().await;
        for (key, addrs) in self.booking.due(std::time::Instant::now()) {
            self.write_booked(key, addrs).await;
        }
        self.use_member_relays().await;
        self.move_relayed_sessions().await;
    }

    async fn on_event(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Listening { addr } => {
                let a = addr.to_string();
                // Circuit addresses are shown with their relay (see `refresh_relays`).
                if !is_circuit(&a)
                    && let Ok(mut view) = self.engine.info.net.lock()
                    && !view.listen.contains(&a)
                {
                    view.listen.push(a);
                }
            }
            NetEvent::Connected {
                peer,
                addr,
                relayed,
                outbound,
            } => {
                debug!(%peer, %addr, ?relayed, "connected");
                // A peer reached after failed dials: the network may be back for the other
                // members that failed too, so they are dialled again at the next tick instead
                // of after their backoff.
                if self.backoff.remove(&peer).is_some() {
                    let now = Instant::now();
                    for (next, _) in self.backoff.values_mut() {
                        *next = (*next).min(now);
                    }
                }
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
                    entry.relay = relayed.map(|r| r.to_string());
                }
                let _ = self.events.send(Event::NetworkChanged);
                // The dialer opens the sync stream as soon as it is connected: the side that
                // accepted the connection learns of it half a round trip later, and its stream
                // would reach the dialer a whole round trip after the connection. The accepting
                // side opens one itself only if none comes (`reopen_streams`).
                if !outbound {
                    let after = Instant::now() + ACCEPTED_OPEN_AFTER;
                    self.reopen.insert(peer, (after, BACKOFF_START));
                } else {
                    self.reopen.remove(&peer);
                    if !self.engine.has_live_session(&peer).await {
                        self.spawner.open(peer);
                    }
                }
            }
            NetEvent::PathChanged { peer, relayed, .. } => {
                if let Ok(mut view) = self.engine.info.net.lock()
                    && let Some(entry) = view.peers.get_mut(&peer.to_string())
                {
                    entry.relay = relayed.map(|r| r.to_string());
                }
                let _ = self.events.send(Event::NetworkChanged);
                if relayed.is_none() {
                    info!(%peer, "direct connection up");
                    self.move_relayed_sessions().await;
                }
            }
            NetEvent::Disconnected { peer } => {
                debug!(%peer, "disconnected");
                {
                    // Only if the peer has no connection now, asked under the sessions' lock:
                    // it may have reconnected before this event was handled, and a session
                    // begun on the new connection has not lost its stream.
                    let mut sessions = self.engine.sessions.lock().await;
                    if let Some(slot) = sessions.get_mut(&peer)
                        && !self
                            .engine
                            .net
                            .connected()
                            .await
                            .iter()
                            .any(|(p, _)| *p == peer)
                    {
                        slot.stale = true;
                    }
                }
                if let Ok(mut view) = self.engine.info.net.lock() {
                    view.peers.remove(&peer.to_string());
                }
                let _ = self.events.send(Event::NetworkChanged);
            }
            NetEvent::Reachability {
                reachability,
                external_addrs,
            } => {
                info!(?reachability, ?external_addrs, "reachability");
                if let Ok(mut view) = self.engine.info.net.lock() {
                    view.network.reachability = reachability_of(reachability);
                    view.network.external_addrs =
                        external_addrs.iter().map(|a| a.to_string()).collect();
                }
                let _ = self.events.send(Event::NetworkChanged);
            }
            NetEvent::Relay { relay, state } => {
                info!(%relay, ?state, "relay");
                self.engine.refresh_relays().await;
                let _ = self.events.send(Event::NetworkChanged);
            }
            NetEvent::Identified { peer, listen_addrs } => {
                let addrs: Vec<String> = listen_addrs.iter().map(|a| a.to_string()).collect();
                // A member can push identify as often as it likes: what it tells reaches the
                // disk within the same limit as its records, counted on its own.
                if let Some(member) = tacit_net::member_of(&peer) {
                    if self.members().contains(&member) {
                        self.book_addrs((member, Source::Identify), addrs).await;
                    } else {
                        self.see_at(member, addrs, false).await;
                    }
                }
            }
            NetEvent::Discovered { peer, addrs } => {
                let connected = self.engine.has_live_session(&peer).await;
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
                    // The network passes on members and a few other peers a minute, at a few
                    // LAN addresses each, and `dial_lan` keeps the connections to those that
                    // are not members within a small budget: LAN announcements are anyone's.
                    debug!(%peer, ?wait, "found on the LAN; dialling");
                    let net = self.engine.net.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(wait).await;
                        if let Err(e) = net.dial_lan(peer, addrs).await {
                            debug!(%peer, "cannot dial a peer found on the LAN: {e}");
                        }
                    });
                }
            }
            NetEvent::IncomingStream { peer, stream } => {
                self.spawner.start(peer, stream, false).await
            }
            _ => {}
        }
    }

    /// Address records a peer sent: kept when they are valid and newer, and when the peer
    /// shares a space with this node (a stranger's records are dropped); their addresses go to
    /// the address book, which the reconnect loop dials.
    async fn on_addrs(&mut self, peer: PeerId, records: Vec<MemberAddrs>) {
        let shares = self.engine.info.net.lock().is_ok_and(|v| {
            v.peers
                .get(&peer.to_string())
                .is_some_and(|e| !e.spaces.is_empty())
        });
        if !shares {
            debug!(%peer, "address records from a peer that shares no space; dropped");
            return;
        }
        let members = self.members();
        let me = self.engine.info.member;
        let now = now_ms();
        for record in records.into_iter().take(MAX_ADDR_RECORDS) {
            if record.member == me {
                continue;
            }
            let book = book_order(&record);
            let member = record.member;
            match self.book.offer(record, |m| members.contains(m), now) {
                Offered::Stored => {
                    debug!(%peer, member = %member.short(), ?book, "member addresses");
                    self.book_addrs((member, Source::Record), book).await;
                }
                Offered::Pending => {
                    debug!(%peer, member = %member.short(), ?book, "addresses of a peer not yet a member");
                    self.see_at(member, book, false).await;
                }
                Offered::Invalid => {
                    debug!(%peer, member = %member.short(), "an invalid address record; dropped")
                }
                Offered::Stale => {}
            }
        }
    }

    /// Writes a member's addresses to the address book, within the limit on such writes
    /// ([`Booking`]): now, later (at a tick), or not at all when they are the ones written.
    async fn book_addrs(&mut self, key: BookKey, addrs: Vec<String>) {
        if let Some(addrs) = self.booking.offer(key, addrs, std::time::Instant::now()) {
            self.write_booked(key, addrs).await;
        }
    }

    /// Writes addresses [`Booking`] let through; a write that fails is forgotten, so that the
    /// next addresses are written at once.
    async fn write_booked(&mut self, key: BookKey, addrs: Vec<String>) {
        if !self.see_at(key.0, addrs, true).await {
            self.booking.forget(&key);
        }
    }

    /// Tells the actor where a peer was seen: to write to the address book when `write` (the
    /// actor keeps them for members only), else to keep in memory until the peer is one.
    /// Whether the actor took them.
    async fn see_at(&self, member: MemberId, addrs: Vec<String>, write: bool) -> bool {
        let Some(peer) = tacit_net::peer_id_of(&member) else {
            return false;
        };
        self.actor
            .ask(ReplicaReq::SeenAt {
                peer: peer.to_string(),
                addrs,
                member: write,
            })
            .await
            .is_ok()
    }

    /// Every member of every space this home is in.
    fn members(&self) -> HashSet<MemberId> {
        self.engine
            .info
            .members
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// The members of `space`, as the actor lists them (cached until the member set changes).
    async fn members_of(&mut self, space: SpaceId) -> BTreeSet<MemberId> {
        let generation = self.engine.info.members_changed.load(Ordering::Relaxed);
        if self
            .space_members
            .as_ref()
            .is_none_or(|(g, _)| *g != generation)
        {
            self.space_members = Some((generation, HashMap::new()));
        }
        if let Some((_, cached)) = &self.space_members
            && let Some(members) = cached.get(&space)
        {
            return members.clone();
        }
        let members: BTreeSet<MemberId> = match self
            .actor
            .request(Request::SpaceShow {
                space: space.to_string(),
            })
            .await
        {
            Ok(Response::Space(detail)) => detail.members.iter().map(|m| m.member).collect(),
            _ => BTreeSet::new(),
        };
        if let Some((_, cached)) = &mut self.space_members {
            cached.insert(space, members.clone());
        }
        members
    }

    /// Makes this node's record again when its addresses changed, and sends each session the
    /// records it has not had: of the members of the spaces it shares, this node's own among
    /// them.
    async fn share_addrs(&mut self) {
        let (advertised, relay) = self
            .engine
            .info
            .net
            .lock()
            .map(|v| {
                (
                    v.advertised(),
                    self.engine.relay_server && !v.network.external_addrs.is_empty(),
                )
            })
            .unwrap_or_default();
        let fresh = own_record(&self.key, &advertised, relay, now_ms(), 0);
        let changed = self
            .own
            .as_ref()
            .is_none_or(|o| o.addrs != fresh.addrs || o.relay != fresh.relay);
        if changed && !fresh.addrs.is_empty() {
            let after = self.own.as_ref().map_or(0, |o| o.at);
            self.own = Some(own_record(&self.key, &advertised, relay, now_ms(), after));
            debug!(addrs = ?fresh.addrs, relay, "this node's addresses changed");
        }
        let sessions: Vec<(PeerId, u64, mpsc::Sender<SessionCmd>)> = self
            .engine
            .sessions
            .lock()
            .await
            .iter()
            .map(|(p, s)| (*p, s.id, s.tx.clone()))
            .collect();
        let live: HashSet<PeerId> = sessions.iter().map(|(p, _, _)| *p).collect();
        self.sent.retain(|p, _| live.contains(p));
        for (peer, id, tx) in sessions {
            let spaces: Vec<SpaceId> = self
                .engine
                .info
                .net
                .lock()
                .ok()
                .and_then(|v| {
                    v.peers
                        .get(&peer.to_string())
                        .map(|e| e.spaces.iter().copied().collect())
                })
                .unwrap_or_default();
            if spaces.is_empty() {
                continue;
            }
            let mut members = BTreeSet::new();
            for space in spaces {
                members.extend(self.members_of(space).await);
            }
            let theirs = tacit_net::member_of(&peer);
            let mut candidates: Vec<MemberAddrs> = self
                .book
                .records()
                .filter(|r| members.contains(&r.member) && Some(r.member) != theirs)
                .cloned()
                .collect();
            if let Some(own) = &self.own {
                candidates.push(own.clone());
            }
            let sent = self
                .sent
                .entry(peer)
                .or_insert_with(|| (id, HashMap::new()));
            if sent.0 != id {
                *sent = (id, HashMap::new());
            }
            let fresh: Vec<MemberAddrs> = candidates
                .into_iter()
                .filter(|r| sent.1.get(&r.member) != Some(&r.at))
                .collect();
            for chunk in fresh.chunks(MAX_ADDR_RECORDS) {
                if tx.try_send(SessionCmd::Addrs(chunk.to_vec())).is_err() {
                    break; // the session is busy or ending: the rest goes next time
                }
                for r in chunk {
                    sent.1.insert(r.member, r.at);
                }
            }
        }
    }

    /// Reserves on members that serve as relays at a public address, while they do and stay
    /// members (a relay server needs none: it has a public address).
    async fn use_member_relays(&mut self) {
        if self.engine.relay_server {
            return;
        }
        let members = self.members();
        let me = self.engine.info.member;
        let wanted: Vec<(PeerId, Multiaddr)> = self
            .book
            .records()
            .filter(|r| r.relay && r.member != me && members.contains(&r.member))
            .filter_map(|r| {
                let peer = tacit_net::peer_id_of(&r.member)?;
                let addr: Multiaddr = r
                    .addrs
                    .iter()
                    .filter(|a| !is_circuit(a))
                    .find_map(|a| a.parse().ok())?;
                let addr = match addr.iter().last() {
                    Some(Protocol::P2p(_)) => addr,
                    _ => addr.with(Protocol::P2p(peer)),
                };
                Some((peer, addr))
            })
            .collect();
        let mut changed = false;
        let in_use: HashMap<PeerId, RelaySource> = self
            .engine
            .relay_sources
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        for (peer, source) in &in_use {
            if *source == RelaySource::Member && !wanted.iter().any(|(p, _)| p == peer) {
                info!(relay = %peer, "a member stopped serving as a relay; no longer used");
                self.engine.net.remove_relay(*peer).await;
                if let Ok(mut s) = self.engine.relay_sources.lock() {
                    s.remove(peer);
                }
                changed = true;
            }
        }
        for (peer, addr) in wanted {
            let count = self
                .engine
                .relay_sources
                .lock()
                .map(|s| s.len())
                .unwrap_or(usize::MAX);
            if self.engine.relay_source(&peer).is_some() || count >= self.engine.max_relays {
                continue;
            }
            match self.engine.net.add_relay(addr.clone()).await {
                Ok(()) => {
                    info!(relay = %addr, "using a member of a shared space as a relay");
                    if let Ok(mut s) = self.engine.relay_sources.lock() {
                        s.insert(peer, RelaySource::Member);
                    }
                    changed = true;
                }
                Err(e) => debug!(relay = %addr, "cannot use a member as a relay: {e}"),
            }
        }
        if changed {
            self.engine.refresh_relays().await;
            let _ = self.events.send(Event::NetworkChanged);
        }
    }

    /// Starts again the sessions that began over a relay once a direct connection to their peer
    /// is up, so that sync moves to it. A session still joining or admitting (no space shared
    /// yet) is left alone until it shares one.
    async fn move_relayed_sessions(&mut self) {
        if !self
            .engine
            .sessions
            .lock()
            .await
            .values()
            .any(|s| s.relayed)
        {
            return;
        }
        let relayed: Vec<PeerId> = self
            .engine
            .sessions
            .lock()
            .await
            .iter()
            .filter(|(_, s)| s.relayed)
            .map(|(p, _)| *p)
            .collect();
        for peer in relayed {
            let ready = self.engine.info.net.lock().is_ok_and(|v| {
                v.peers
                    .get(&peer.to_string())
                    .is_some_and(|e| e.relay.is_none() && !e.spaces.is_empty())
            });
            if !ready {
                continue;
            }
            info!(%peer, "moving the sync session off the relay to the direct connection");
            self.engine.retire(peer).await;
            self.sent.remove(&peer);
            if opens_stream(&self.my_peer(), &peer) {
                self.spawner.open(peer);
            }
        }
    }
}

impl Spawner {
    fn my_peer(&self) -> PeerId {
        self.engine.net.peer_id()
    }

    /// Opens the sync stream to `peer` in the background, unless an open is under way.
    fn open(&self, peer: PeerId) {
        if self.engine.penalized(&peer) {
            return;
        }
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
                Ok(stream) => spawner.start(peer, stream, true).await,
                Err(e) => debug!(%peer, "cannot open a sync stream: {e}"),
            }
        });
    }

    /// Keeps a stream the peer opened again until its running session (`running`) ends, then
    /// starts it; see [`Spawner::start`]. One per peer: a newer one takes the place of the one
    /// held (which closes), and the same wait goes on.
    fn hold(&self, peer: PeerId, stream: libp2p::Stream, mut running: watch::Receiver<bool>) {
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        if held.insert(peer, stream).is_some() {
            debug!(%peer, "the peer opened a sync stream again while one was held; the newer is held");
            return;
        }
        drop(held);
        debug!(%peer, "the peer opened a sync stream again; held until its running session ends");
        let spawner = self.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(HOLD_WAIT, running.wait_for(|d| *d)).await;
            let Some(stream) = spawner.held.lock().ok().and_then(|mut h| h.remove(&peer)) else {
                return;
            };
            // Boxed: `begin` spawns this task, so its future cannot contain itself unboxed.
            let begin: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
                Box::pin(spawner.begin(peer, stream, false, false));
            begin.await;
        });
    }

    /// Runs a session on `stream` (`opened`: this node opened it, else it accepted it), unless
    /// one with `peer` runs already (one per peer). A new stream replaces the running session
    /// when that began over a relay and a direct connection is up now (the peer moved it to the
    /// direct connection), when the peer's connections all closed since it began (the peer
    /// reconnected before the old session had ended), and when both sides opened one at once
    /// (both dialled): then the stream the smaller peer id opened stays, on both sides.
    ///
    /// A stream the peer opens while the session on a stream it opened earlier still runs
    /// means that the peer lost that one (its connection closed or broke, and this node has not
    /// seen it yet, as when the peer reconnects at once): it is held until the running session
    /// ends, then started; a session that still runs after [`HOLD_WAIT`] is replaced by it. One
    /// stream per peer is held, the newest.
    async fn start(&self, peer: PeerId, stream: libp2p::Stream, opened: bool) {
        self.begin(peer, stream, opened, true).await;
    }

    async fn begin(&self, peer: PeerId, stream: libp2p::Stream, opened: bool, may_hold: bool) {
        let Some(member) = tacit_net::member_of(&peer) else {
            debug!(%peer, "a peer whose id is not a member key; no session");
            return;
        };
        if self.engine.penalized(&peer) {
            debug!(%peer, "a sync stream from a peer in the penalty box; closed");
            return;
        }
        let direct_now = self.engine.path(&peer).is_some_and(|r| r.is_none());
        let me = self.my_peer();
        let replaces = {
            let sessions = self.engine.sessions.lock().await;
            match sessions.get(&peer) {
                Some(slot) if slot.stale => {
                    debug!(%peer, "the running session lost its connection; the new stream replaces it");
                    true
                }
                Some(slot) if slot.relayed && direct_now => true,
                Some(slot) if new_stream_replaces(&me, &peer, opened, slot.opened) => {
                    debug!(%peer, "two sync streams opened at once; the smaller peer id's stays");
                    true
                }
                Some(slot) if !opened && !slot.opened => {
                    if may_hold {
                        let running = slot.done.clone();
                        drop(sessions);
                        self.hold(peer, stream, running);
                        return;
                    }
                    debug!(%peer, "the peer's earlier session still runs after the wait; its new stream replaces it");
                    true
                }
                Some(_) => {
                    debug!(%peer, "a second sync stream with a peer; closed");
                    return;
                }
                None => false,
            }
        };
        if replaces {
            debug!(%peer, "a new sync stream replaces the running session");
            self.engine.retire(peer).await;
        }
        let waiting = self
            .engine
            .retiring
            .lock()
            .ok()
            .and_then(|r| r.get(&peer).cloned());
        match waiting {
            // The wait for the session it replaces is off the caller's task: the engine's
            // event loop starts accepted streams and must not stop for it.
            Some(mut done) => {
                let spawner = self.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(RETIRE_WAIT, done.wait_for(|d| *d)).await;
                    spawner.engine.clear_session_view(peer);
                    spawner.install(peer, member, stream, opened).await;
                });
            }
            None => self.install(peer, member, stream, opened).await,
        }
    }

    /// Runs a session on `stream` with `peer` (`member`), unless one has started meanwhile.
    async fn install(&self, peer: PeerId, member: MemberId, stream: libp2p::Stream, opened: bool) {
        let relayed = self.engine.path(&peer).is_some_and(|r| r.is_some());
        let (cmd_tx, cmds) = mpsc::channel(SESSION_COMMANDS);
        let (done_tx, done) = watch::channel(false);
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        {
            let mut sessions = self.engine.sessions.lock().await;
            if sessions.contains_key(&peer) {
                debug!(%peer, "a second sync stream with a peer; closed");
                return;
            }
            sessions.insert(
                peer,
                SessionSlot {
                    id,
                    tx: cmd_tx,
                    opened,
                    relayed,
                    done,
                    stale: false,
                },
            );
        }
        self.engine.session_started.notify_waiters();
        let ctx = SessionCtx {
            id,
            peer,
            member,
            first: tacit_net::session::starts_reconciliation(opened),
            actor: self.actor.clone(),
            replica: self.replica.subscribe(),
            cmds,
            info: self.engine.info.clone(),
            events: self.events.clone(),
            max_frame: self.max_frame,
            addrs: self.addrs.clone(),
        };
        let engine = self.engine.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            debug!(%peer, session = id, relayed, "sync session started");
            match session::run(ctx, stream).await {
                Ok(()) => debug!(%peer, session = id, "sync session ended"),
                Err(e @ session::SessionEnd::End(tacit_net::session::End::Stopped)) => {
                    debug!(%peer, session = id, "sync session closed: {e}")
                }
                Err(session::SessionEnd::End(tacit_net::session::End::Hostile(why))) => {
                    warn!(%peer, session = id, "sync session closed: {why}");
                    engine.penalize(peer, &why);
                }
                Err(e) => warn!(%peer, session = id, "sync session closed: {e}"),
            }
            let current = {
                let mut sessions = engine.sessions.lock().await;
                let current = sessions.get(&peer).is_some_and(|s| s.id == id);
                if current {
                    sessions.remove(&peer);
                }
                current
            };
            // A retired session's view is cleared by whoever retired it, once it is done.
            if current {
                engine.clear_session_view(peer);
            }
            let _ = done_tx.send(true);
            let _ = events.send(Event::NetworkChanged);
        });
    }
}

impl Runner {
    /// Opens the sync stream to connected peers that have no session when this node is the
    /// one to open it again (the smaller peer id): the dialer of a connection that opened none
    /// (an older Tacit), or a stream the peer's libp2p dropped because it arrived together with
    /// another (it keeps one waiting at a time), which ends the session here and leaves the
    /// connection idle.
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
        let members = self.members();
        // Joins whose session has not come up from the other side in a few seconds.
        let joining: HashSet<PeerId> = self
            .engine
            .joining
            .lock()
            .map(|j| {
                j.iter()
                    .filter(|(_, since)| since.elapsed() >= JOIN_OPEN_AFTER)
                    .map(|(p, _)| *p)
                    .collect()
            })
            .unwrap_or_default();
        for peer in connected {
            if self.engine.has_live_session(&peer).await {
                continue;
            }
            // A join waiting for its session opens it whatever the order of peer ids.
            if !joining.contains(&peer) {
                if me >= peer {
                    continue;
                }
                // Only members get a session opened again: a stranger's was closed on purpose.
                if !tacit_net::member_of(&peer).is_some_and(|m| members.contains(&m)) {
                    continue;
                }
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
    /// that changed; address records waiting for their member to become one are booked.
    async fn tell_members(&mut self) {
        let generation = self.engine.info.members_changed.load(Ordering::Relaxed);
        if generation == self.members_told {
            return;
        }
        self.members_told = generation;
        let members = self.members();
        let peers: HashSet<PeerId> = members.iter().filter_map(tacit_net::peer_id_of).collect();
        self.engine.net.set_members(peers).await;
        for record in self.book.refresh(|m| members.contains(m)) {
            self.book_addrs((record.member, Source::Record), book_order(&record))
                .await;
        }
    }

    /// Tells the network which peers that are not members are joining, when that changed: those
    /// this node joins through (a hole punch can bring their connection in as inbound), and
    /// connected peers whose session shares a space (admitted here) before the member set says
    /// so. The network never evicts their connections to make room for another stranger.
    async fn tell_joining(&mut self) {
        let members: HashSet<PeerId> = self
            .members()
            .iter()
            .filter_map(tacit_net::peer_id_of)
            .collect();
        let mut joining: HashSet<PeerId> = self
            .engine
            .joining
            .lock()
            .map(|j| j.keys().copied().collect())
            .unwrap_or_default();
        if let Ok(view) = self.engine.info.net.lock() {
            joining.extend(
                view.peers
                    .iter()
                    .filter(|(_, e)| !e.spaces.is_empty())
                    .filter_map(|(p, _)| p.parse::<PeerId>().ok()),
            );
        }
        joining.retain(|p| !members.contains(p));
        if joining != self.joining_told {
            self.joining_told = joining.clone();
            self.engine.net.set_joining(joining).await;
        }
    }

    /// Dials members this node has seen before and is not connected to, with backoff.
    async fn reconnect(&mut self) {
        let Ok(ReplicaReply::Reconnect(targets)) = self.actor.ask(ReplicaReq::Reconnect).await
        else {
            return;
        };
        let now = Instant::now();
        let me = self.my_peer();
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
            if me > peer && !self.backoff.contains_key(&peer) {
                self.backoff
                    .insert(peer, (now + RECONNECT_HEAD_START, BACKOFF_START));
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

/// The relay limit, for callers that check before the network runs.
pub(crate) fn max_relays() -> usize {
    Limits::default().max_relays
}

impl autofetch::Fetches for Engine {
    fn auto_fetch_limit(&self) -> u64 {
        self.blob_limits().auto_fetch
    }

    fn fetch(
        &self,
        space: SpaceId,
        hash: tacit_store::BlobHash,
        size: u64,
        wait: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send + '_>> {
        Box::pin(async move {
            self.fetch_blob(space, hash, size, wait, true)
                .await
                .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_told_from_private_ones() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for private in [
            "10.1.2.3",
            "192.168.1.2",
            "172.16.0.1",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_public(ip(private), false), "{private}");
        }
        for public in ["1.1.1.1", "2a00:1450::1", "8.8.8.8"] {
            assert!(is_public(ip(public), false), "{public}");
        }
        assert!(!is_public(ip("203.0.113.10"), false));
        assert!(is_public(ip("203.0.113.10"), true));
    }

    #[test]
    fn a_relay_server_without_a_public_address_is_told_what_to_pass() {
        let listen: Vec<Multiaddr> = vec![
            "/ip4/0.0.0.0/tcp/0"
                .parse()
                .unwrap_or_else(|_| Multiaddr::empty()),
            "/ip4/192.168.1.2/tcp/4001"
                .parse()
                .unwrap_or_else(|_| Multiaddr::empty()),
        ];
        let err = public_listen_addrs(&listen, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("--external-addr"), "{err}");
        let public: Vec<Multiaddr> = vec![
            "/ip4/203.0.113.10/tcp/4001"
                .parse()
                .unwrap_or_else(|_| Multiaddr::empty()),
        ];
        assert_eq!(
            public_listen_addrs(&public, true).ok(),
            Some(public.clone())
        );
        assert!(public_listen_addrs(&public, false).is_err());
    }

    #[test]
    fn relay_addresses_must_name_their_peer() {
        assert!(check_relay("/ip4/203.0.113.10/tcp/4001").is_err());
        assert!(check_relay("not an address").is_err());
        let peer = PeerId::random();
        let ok = format!("/ip4/203.0.113.10/tcp/4001/p2p/{peer}");
        assert_eq!(check_relay(&ok).ok().map(|(p, _)| p), Some(peer));
        let circuit = format!("{ok}/p2p-circuit");
        assert!(check_relay(&circuit).is_err());
    }
}
