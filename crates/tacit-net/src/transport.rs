//! The libp2p swarm, owned by one task, and [`Net`], the cloneable handle that talks to it.
//!
//! ```text
//!  Net (cloneable) ── Command + oneshot reply ──▶ ┌ swarm task ─────────────┐ ── NetEvent ──▶ receiver
//!  Net::open_stream ── libp2p-stream Control ───▶ │ Swarm<Behaviour>,       │
//!                                                 │ connection table, dials │
//!                                                 └─────────────────────────┘
//! ```
//!
//! The task never blocks on its event receiver: events wait in a small outbox, and while the outbox
//! is full the task stops taking events from the swarm (back-pressure to the network) but keeps
//! answering commands, so a caller that awaits a command while not reading events cannot deadlock
//! it.
//!
//! # Behind NATs
//!
//! Two members behind different NATs meet through a relay and then, usually, directly:
//!
//! ```text
//!  A (NAT) ──reserve──▶ relay ◀──dial circuit── B (NAT)      1. A holds a reservation; its circuit
//!  A ◀════ relayed connection (Noise inside) ════▶ B            address …/p2p/RELAY/p2p-circuit/p2p/A
//!  A ◀──── DCUtR: both dial at once (TCP, QUIC) ───▶ B          is a listen address
//!  A ◀════════════ direct connection ══════════════▶ B      2. B dials it: `Connected { relayed }`
//!                                                           3. hole punch: `HolePunch`, `PathChanged`
//! ```
//!
//! - **AutoNAT (v1)** asks connected peers and the configured relays to dial us back
//!   ([`Net::reachability`], [`NetEvent::Reachability`]); every node also answers such probes, within
//!   [`Limits::autonat_max_probes`]. Only dialled-back addresses (and the operator's
//!   [`NetConfig::external_addrs`], and UPnP mappings) are external addresses.
//! - **Relay client**: while reachability is not `Public`, the node listens on a circuit of each
//!   relay ([`NetConfig::relays`], [`Net::add_relay`]); libp2p renews the reservation before it ends.
//!   A refused or lost reservation is reported in words ([`RelayState`]) and asked again after
//!   [`Limits::relay_retry`]; once the node is `Public` it drops its reservations.
//! - **Relay server** ([`NetConfig::relay_server`]): circuit relay v2 within the `relay_*` limits.
//!   Circuits carry Noise-encrypted connections end to end; the relay sees peer ids and byte counts.
//! - **DCUtR** upgrades a relayed connection to a direct one. Streams opened while a direct
//!   connection exists go over it (see the `path` module); the relayed one closes once idle.
//! - **Strangers**: inbound connections from peers outside [`Net::set_members`] are capped at
//!   [`Limits::max_stranger_connections`] (a relay server's clients have their own budget,
//!   [`Limits::relay_max_clients`]), [`Limits::max_stranger_connections_per_ip`] of them from
//!   one address; when they are full a newcomer evicts the oldest stranger of the address holding
//!   the most (see the `gate` module). Peers found on the LAN by mDNS are passed on a few a
//!   minute ([`Limits::max_lan_peers_per_minute`]) at a few LAN addresses each, and
//!   [`Net::dial_lan`] keeps connections to those that are not members within
//!   [`Limits::max_lan_strangers`].
//! - **UPnP** ([`NetConfig::upnp`], off by default) asks the LAN's router to map the listen ports.
//!   Not tested here: no test network has an IGD gateway.

use std::{
    collections::{HashMap, HashSet, VecDeque, hash_map::Entry},
    error::Error as StdError,
    fmt, io,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use futures::StreamExt as _;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder, autonat,
    connection_limits::{self, ConnectionLimits},
    core::{
        ConnectedPoint,
        transport::{ListenerId, TransportError},
    },
    dcutr, identify, mdns,
    multiaddr::Protocol,
    noise, ping, relay,
    swarm::{
        ConnectionId, DialError, ListenError, NetworkBehaviour, SwarmEvent,
        behaviour::toggle::Toggle,
        dial_opts::{DialOpts, PeerCondition},
    },
    tcp, upnp, yamux,
};
use tokio::{
    sync::{Semaphore, mpsc, oneshot},
    time::Instant,
};
use tracing::{debug, info, warn};

use crate::{
    codec::FrameError,
    gate::{Caps, Gate, Lan},
    identity::keypair,
    limits::Limits,
    nat::{ConnectionInfo, Reachability, RelayInfo, RelayState},
    path::{Streams, peer_of, relay_address_of, relay_in_addr, without_peer},
    sibling::Siblings,
};

/// The protocol of the sync stream.
pub const SYNC_PROTOCOL: &str = "/tacit/sync/1";

/// The protocol of attachment transfers: one stream per blob asked for (see the node's `blobs`
/// module for the messages).
pub const BLOB_PROTOCOL: &str = "/tacit/blob/2";

/// How many times a stream is asked for when the connection asked closes first (see
/// `Net::open`).
const OPEN_ATTEMPTS: u32 = 4;

/// The pause before a stream is asked for again (then four times as long each time).
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// The identify protocol version Tacit nodes announce.
pub const IDENTIFY_PROTOCOL: &str = "/tacit/id/1";

/// Commands waiting for the swarm task. Callers await a free slot, so a flood of calls slows the
/// callers instead of growing a queue; 64 covers a burst of dials on start.
const COMMAND_CAPACITY: usize = 64;

/// Events the receiver has not taken yet. Enough for a burst of connections and identify replies;
/// beyond it the swarm task waits for the receiver (see the module doc).
const EVENT_CAPACITY: usize = 256;

/// Events the swarm task holds while the event channel is full. While it holds this many it takes
/// no more events from the swarm.
const OUTBOX_CAPACITY: usize = 64;

/// Inbound sync streams waiting for the swarm task to pass them on (libp2p-stream's own channel
/// holds one; see the `path` module). 32 covers a burst of members reconnecting at once; beyond
/// it a stream is dropped (the peer sees it reset and retries).
const INBOUND_STREAM_QUEUE: usize = 32;

/// `open_stream` calls in flight at once. Each holds a slot in libp2p-stream's queue of a
/// connection; sync opens one stream per connection, so 32 is ample.
const MAX_OPENING_STREAMS: usize = 32;

/// How long `Net::start` waits for its listeners to report an address. Binding is immediate for a
/// specific IP; for an unspecified IP (0.0.0.0) libp2p first lists the interfaces.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `shutdown` lets connections close cleanly before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Addresses passed on per `Identified` event. A peer's own list is input we do not control; a
/// real node has a handful. (A LAN neighbour's, from mDNS, are cut to
/// [`Limits::max_lan_addrs_per_peer`].)
const MAX_ADDRS_PER_PEER: usize = 32;

/// Peers whose addresses identify remembers for dialling by peer id (libp2p's default).
const IDENTIFY_CACHE_SIZE: usize = 100;

/// How often the swarm task looks for relays to ask (again). The retry delay itself is
/// [`Limits::relay_retry`]; this only sets how late after it the retry may come.
const RELAY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// After a failed hole punch (DCUtR gives up after three dials), the wait before trying again
/// over a fresh relayed connection; doubled after every failure up to [`PUNCH_RETRY_MAX`]. The
/// punch depends on both sides' packets crossing in time, which a loaded machine or a lossy
/// path can miss more than three times in a row; a circuit is also limited in time and bytes,
/// so staying relayed for good is not an option.
const PUNCH_RETRY_FIRST: Duration = Duration::from_secs(10);

/// The longest wait between two hole punch rounds to the same peer.
const PUNCH_RETRY_MAX: Duration = Duration::from_secs(600);

/// The wait after one of `wait` has not brought a direct connection.
fn next_punch_wait(wait: Duration) -> Duration {
    (wait * 2).min(PUNCH_RETRY_MAX)
}

/// AutoNAT: how long a dial-back request may take (libp2p's default; the dial-back itself is
/// bounded by [`Limits::dial_timeout`]).
const AUTONAT_TIMEOUT: Duration = Duration::from_secs(30);

/// AutoNAT: a status is certain after this many probes agree (libp2p's default). A first answer
/// already sets the status; confidence only stretches the delay to the next probe.
const AUTONAT_CONFIDENCE_MAX: usize = 3;

/// AutoNAT: addresses of one peer a server dials back (libp2p's default; a node has a handful).
const AUTONAT_MAX_PEER_ADDRESSES: usize = 16;

/// What the network layer reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The device key cannot be used as a libp2p identity.
    #[error("the device key is not a usable Ed25519 key: {0}")]
    Key(String),
    /// The libp2p stack could not be assembled.
    #[error("cannot set up the network: {0}")]
    Setup(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address from the configuration.
        addr: Multiaddr,
        /// Why, and what to do.
        reason: String,
    },
    /// A dial failed.
    #[error("cannot connect to {target}: {reason}")]
    Dial {
        /// The address or peer dialled.
        target: String,
        /// Why.
        reason: String,
    },
    /// A dial did not complete within the dial timeout.
    #[error(
        "cannot connect to {target}: no connection within {} s; check that the peer runs and the address is reachable",
        after.as_secs()
    )]
    DialTimeout {
        /// The address or peer dialled.
        target: String,
        /// The timeout.
        after: Duration,
    },
    /// A sync stream could not be opened.
    #[error("cannot open a sync stream to {peer}: {reason}")]
    OpenStream {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// Reading or writing a frame failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A relay address cannot be used.
    #[error("cannot use relay {addr}: {reason}")]
    Relay {
        /// The address given.
        addr: Multiaddr,
        /// Why, and what to do.
        reason: String,
    },
    /// The network task has stopped.
    #[error("the network has shut down")]
    Shutdown,
}

/// How to start the network.
#[derive(Clone)]
pub struct NetConfig {
    /// The home's Ed25519 device-key secret; the libp2p identity is its key pair.
    pub secret: [u8; 32],
    /// Addresses to listen on; empty means do not listen.
    pub listen: Vec<Multiaddr>,
    /// Whether to announce and discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// Connection, stream and frame bounds.
    pub limits: Limits,
    /// Serve circuit relay v2 (and answer AutoNAT probes, as every node does) for nodes behind
    /// NATs, within the `relay_*` limits. A relay only forwards Noise-encrypted streams between
    /// two peers: it learns their peer ids and traffic volume, never a space or a note. It needs
    /// a public address in `external_addrs` (or one confirmed by AutoNAT) before it accepts
    /// reservations.
    pub relay_server: bool,
    /// Relays to reserve a slot on while this node is not publicly reachable; each ends in
    /// `/p2p/PEER` (e.g. `/ip4/203.0.113.10/tcp/4001/p2p/12D3Koo…`).
    pub relays: Vec<Multiaddr>,
    /// Addresses the operator declares public (e.g. the public IP and port of a host running a
    /// relay); reported as external at once, without waiting for AutoNAT.
    pub external_addrs: Vec<Multiaddr>,
    /// AutoNAT: only probe with, and answer probes from, peers at global IP addresses. True for
    /// real use (a LAN peer cannot tell whether we are reachable from the Internet); false in
    /// tests whose "public" addresses are loopback or documentation ranges (203.0.113.0/24…).
    pub autonat_only_global_ips: bool,
    /// Ask the LAN's router over UPnP IGD to forward our listen ports. Off by default: most
    /// organisations' routers have it off, and it opens ports without anyone seeing it.
    pub upnp: bool,
}

impl NetConfig {
    /// A configuration that does not listen, with mDNS off, no relays and the default limits.
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret,
            listen: Vec::new(),
            mdns: false,
            limits: Limits::default(),
            relay_server: false,
            relays: Vec::new(),
            external_addrs: Vec::new(),
            autonat_only_global_ips: true,
            upnp: false,
        }
    }
}

impl fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetConfig")
            .field("secret", &"<redacted>")
            .field("listen", &self.listen)
            .field("mdns", &self.mdns)
            .field("limits", &self.limits)
            .field("relay_server", &self.relay_server)
            .field("relays", &self.relays)
            .field("external_addrs", &self.external_addrs)
            .field("autonat_only_global_ips", &self.autonat_only_global_ips)
            .field("upnp", &self.upnp)
            .finish()
    }
}

/// What happens on the network, in order, from [`Net::start`]'s receiver.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetEvent {
    /// A listener has bound this address.
    Listening {
        /// The address (without `/p2p/`).
        addr: Multiaddr,
    },
    /// The first connection to a peer is up.
    Connected {
        /// The peer.
        peer: PeerId,
        /// The peer's address on that connection.
        addr: Multiaddr,
        /// Whether we dialled.
        outbound: bool,
        /// The relay the connection goes through; `None` for a direct connection.
        relayed: Option<PeerId>,
    },
    /// The best path to a connected peer changed: a direct connection came up next to a relayed
    /// one (`relayed: None`, usually a hole punch), or the last direct one closed while a relayed
    /// one remains (`relayed: Some(relay)`). Streams opened from now on use this path.
    PathChanged {
        /// The peer.
        peer: PeerId,
        /// The relay of the path; `None` when direct.
        relayed: Option<PeerId>,
        /// The peer's address on a connection of that path, read as the path changed (the
        /// connection may close soon after, when it duplicated another).
        addr: Multiaddr,
    },
    /// A hole punch (DCUtR) on a relayed connection ended.
    HolePunch {
        /// The peer.
        peer: PeerId,
        /// `Ok` when a direct connection came up; otherwise why not (the relayed connection
        /// stays and keeps working).
        result: Result<(), String>,
    },
    /// AutoNAT's verdict, or the confirmed external addresses, changed.
    Reachability {
        /// Whether this node can be dialled from outside.
        reachability: Reachability,
        /// Confirmed external addresses (never circuit addresses; see [`Net::external_addrs`]).
        external_addrs: Vec<Multiaddr>,
    },
    /// A relay's reservation changed state (reserved, refused and why, unreachable and why).
    Relay {
        /// The relay.
        relay: PeerId,
        /// Its new state.
        state: RelayState,
    },
    /// The last connection to a peer has closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer told us (identify) where it listens.
    Identified {
        /// The peer.
        peer: PeerId,
        /// Its listen addresses as it reports them (at most 32).
        listen_addrs: Vec<Multiaddr>,
    },
    /// mDNS found a peer on the LAN: a member, or one of the few others passed on per minute
    /// ([`Limits::max_lan_peers_per_minute`]). Dial it with [`Net::dial_lan`].
    Discovered {
        /// The peer.
        peer: PeerId,
        /// Its TCP and QUIC addresses on the LAN, at the announcing host's address (at most
        /// [`Limits::max_lan_addrs_per_peer`]).
        addrs: Vec<Multiaddr>,
    },
    /// A peer opened a sync stream ([`SYNC_PROTOCOL`]).
    IncomingStream {
        /// The peer.
        peer: PeerId,
        /// The stream.
        stream: libp2p::Stream,
    },
}

/// A handle to the running network. Clones share it; [`Net::shutdown`] stops it for all.
#[derive(Clone)]
pub struct Net {
    inner: Arc<Inner>,
}

struct Inner {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    opening: Semaphore,
    limits: Limits,
    /// Inbound [`BLOB_PROTOCOL`] streams, until the node takes them ([`Net::blob_streams`]).
    blob_streams: std::sync::Mutex<Option<libp2p_stream::IncomingStreams>>,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("peer_id", &self.inner.peer_id)
            .finish_non_exhaustive()
    }
}

enum Command {
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    },
    DialPeer {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    DialLan {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    Connected {
        reply: oneshot::Sender<Vec<(PeerId, Vec<ConnectionInfo>)>>,
    },
    SetMembers {
        members: HashSet<PeerId>,
        reply: oneshot::Sender<()>,
    },
    SetJoining {
        peers: HashSet<PeerId>,
        reply: oneshot::Sender<()>,
    },
    Strangers {
        reply: oneshot::Sender<usize>,
    },
    AddRelay {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    RemoveRelay {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    Relays {
        reply: oneshot::Sender<Vec<RelayInfo>>,
    },
    Reachability {
        reply: oneshot::Sender<(Reachability, Vec<Multiaddr>)>,
    },
    Disconnect {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

impl Net {
    /// Starts the network: builds the swarm, binds every listen address and returns once each has
    /// reported its address, or with [`NetError::Listen`] for the first that failed ("cannot
    /// listen on …: address in use …"). The receiver yields [`NetEvent`]s, starting with
    /// `Listening`; read it steadily (see the module doc for what happens when it is not).
    pub async fn start(cfg: NetConfig) -> Result<(Net, mpsc::Receiver<NetEvent>), NetError> {
        let keypair = keypair(cfg.secret).map_err(|e| NetError::Key(e.to_string()))?;
        let peer_id = keypair.public().to_peer_id();
        let mut relays = Vec::new();
        for addr in &cfg.relays {
            relays.push(relay_target(addr, peer_id)?);
        }
        if relays.len() > cfg.limits.max_relays {
            return Err(NetError::Setup(format!(
                "{} relays configured, at most {} are used at once (Limits::max_relays); drop some",
                relays.len(),
                cfg.limits.max_relays
            )));
        }
        if cfg.relay_server && cfg.external_addrs.is_empty() {
            warn!(
                "relay server without an external address: it accepts reservations only once \
                 AutoNAT confirms a public address; give the host's public address to be sure"
            );
        }
        let (inbound, incoming) = mpsc::channel(INBOUND_STREAM_QUEUE);
        let mut swarm = build_swarm(keypair, &cfg, inbound)?;
        let NetConfig {
            listen,
            limits,
            external_addrs,
            ..
        } = cfg;

        let mut control = swarm.behaviour().stream.inner().new_control();
        let accepting = control
            .accept(StreamProtocol::new(SYNC_PROTOCOL))
            .map_err(|e| NetError::Setup(format!("registering {SYNC_PROTOCOL}: {e}")))?;
        let blob_streams = control
            .accept(StreamProtocol::new(BLOB_PROTOCOL))
            .map_err(|e| NetError::Setup(format!("registering {BLOB_PROTOCOL}: {e}")))?;

        let mut waiting: HashMap<ListenerId, Multiaddr> = HashMap::new();
        for addr in listen {
            check_port_free(&addr)?;
            match swarm.listen_on(addr.clone()) {
                Ok(id) => {
                    waiting.insert(id, addr);
                }
                Err(e) => {
                    return Err(NetError::Listen {
                        reason: listen_reason(&e),
                        addr,
                    });
                }
            }
        }

        let (commands_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
        let (events, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let mut task = Task {
            swarm,
            commands,
            events,
            events_open: true,
            outbox: VecDeque::new(),
            incoming,
            _accepting: accepting,
            dials: HashMap::new(),
            peer_waiters: HashMap::new(),
            connections: HashMap::new(),
            relays: HashMap::new(),
            relay_retry: limits.relay_retry,
            max_relays: limits.max_relays,
            reported: (Reachability::Unknown, Vec::new()),
            punch_retries: HashMap::new(),
            abandoned: HashSet::new(),
            lan: Lan::new(&limits),
        };
        task.await_listeners(waiting).await?;
        // After the listeners are bound, so that dials to relays reuse the listen port (a NAT
        // then maps the same port for every peer, which hole punching needs).
        for addr in external_addrs {
            task.swarm.add_external_address(without_peer(&addr));
        }
        for (peer, addr) in relays {
            task.add_relay(peer, addr);
        }
        task.check_reachability();
        tokio::spawn(task.run());

        let net = Net {
            inner: Arc::new(Inner {
                peer_id,
                commands: commands_tx,
                control,
                opening: Semaphore::new(MAX_OPENING_STREAMS),
                limits,
                blob_streams: std::sync::Mutex::new(Some(blob_streams)),
            }),
        };
        debug!(%peer_id, "network started");
        Ok((net, events_rx))
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// The addresses the listeners have bound (empty after shutdown), circuit addresses
    /// (`…/p2p/RELAY/p2p-circuit`) of reserved relays included: those are listen addresses too,
    /// and each is also reported as [`NetEvent::Listening`].
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.request(|reply| Command::ListenAddrs { reply })
            .await
            .unwrap_or_default()
    }

    /// Dials an address and returns the peer that answered, once the connection is up on this
    /// side (the remote may still refuse it, e.g. by its own limits: `Disconnected` then follows).
    /// Fails after [`Limits::dial_timeout`] at the latest.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        let after = self.inner.limits.dial_timeout;
        let target = addr.to_string();
        let request = self.request(|reply| Command::Dial { addr, reply });
        match tokio::time::timeout(after, request).await {
            Ok(result) => result?,
            Err(_) => Err(NetError::DialTimeout { target, after }),
        }
    }

    /// Connects to a known peer at any of `addrs` (or, if empty, at addresses libp2p already knows
    /// from identify or mDNS). Returns at once if already connected.
    pub async fn dial_peer(&self, peer: PeerId, addrs: Vec<Multiaddr>) -> Result<(), NetError> {
        let after = self.inner.limits.dial_timeout;
        let request = self.request(|reply| Command::DialPeer { peer, addrs, reply });
        match tokio::time::timeout(after, request).await {
            Ok(result) => result?,
            Err(_) => Err(NetError::DialTimeout {
                target: format!("peer {peer}"),
                after,
            }),
        }
    }

    /// Connects to a peer found on the LAN ([`NetEvent::Discovered`]) at exactly `addrs` (none
    /// of those mDNS or identify know besides). Returns at once if already connected. While
    /// the peer is not a member its connection counts against [`Limits::max_lan_strangers`]: a
    /// dial past that budget fails at once, and one that meets a full budget when it connects is
    /// closed.
    pub async fn dial_lan(&self, peer: PeerId, addrs: Vec<Multiaddr>) -> Result<(), NetError> {
        let after = self.inner.limits.dial_timeout;
        let request = self.request(|reply| Command::DialLan { peer, addrs, reply });
        match tokio::time::timeout(after, request).await {
            Ok(result) => result?,
            Err(_) => Err(NetError::DialTimeout {
                target: format!("peer {peer}"),
                after,
            }),
        }
    }

    /// The connected peers with each of their connections: the remote address and whether it is
    /// direct or through which relay.
    pub async fn connected(&self) -> Vec<(PeerId, Vec<ConnectionInfo>)> {
        self.request(|reply| Command::Connected { reply })
            .await
            .unwrap_or_default()
    }

    /// Sets the peers that are members of this node's spaces. Inbound connections from any other
    /// peer are capped at [`Limits::max_stranger_connections`], so strangers can never take the
    /// slots of members. The node layer calls this whenever memberships change; until the first
    /// call every peer is a stranger.
    pub async fn set_members(&self, members: HashSet<PeerId>) {
        let _ = self
            .request(|reply| Command::SetMembers { members, reply })
            .await;
    }

    /// Sets the peers that are not members but are joining: those this node joins a space
    /// through, and those it admitted before the member set says so. Their connections are never
    /// evicted to make room for another stranger (see [`Limits::stranger_eviction_age`]).
    pub async fn set_joining(&self, peers: HashSet<PeerId>) {
        let _ = self
            .request(|reply| Command::SetJoining { peers, reply })
            .await;
    }

    /// The inbound connections of peers that are not members, now.
    pub async fn stranger_connections(&self) -> usize {
        self.request(|reply| Command::Strangers { reply })
            .await
            .unwrap_or_default()
    }

    /// Whether this node can be dialled from outside, as AutoNAT last found.
    pub async fn reachability(&self) -> Reachability {
        self.request(|reply| Command::Reachability { reply })
            .await
            .map(|(r, _)| r)
            .unwrap_or_default()
    }

    /// The confirmed external addresses: those AutoNAT had dialled back, those UPnP mapped, and
    /// those given in [`NetConfig::external_addrs`]. Circuit addresses are not among them (see
    /// [`Net::listen_addrs`] and [`Net::relays`]).
    pub async fn external_addrs(&self) -> Vec<Multiaddr> {
        self.request(|reply| Command::Reachability { reply })
            .await
            .map(|(_, a)| a)
            .unwrap_or_default()
    }

    /// Uses one more relay (`…/p2p/PEER`): a slot is reserved on it while this node is not
    /// publicly reachable. Returns once registered; the reservation's progress comes as
    /// [`NetEvent::Relay`] and in [`Net::relays`]. Adding a relay already used replaces its
    /// address.
    pub async fn add_relay(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.request(|reply| Command::AddRelay { addr, reply })
            .await?
    }

    /// Stops using a relay: its reservation is dropped (the connection to it closes when idle).
    /// Returns whether it was in use.
    pub async fn remove_relay(&self, peer: PeerId) -> bool {
        self.request(|reply| Command::RemoveRelay { peer, reply })
            .await
            .unwrap_or(false)
    }

    /// The relays in use and where each reservation stands.
    pub async fn relays(&self) -> Vec<RelayInfo> {
        self.request(|reply| Command::Relays { reply })
            .await
            .unwrap_or_default()
    }

    /// Closes every connection to `peer`.
    pub async fn disconnect(&self, peer: PeerId) {
        let _ = self
            .request(|reply| Command::Disconnect { peer, reply })
            .await;
    }

    /// Opens a [`SYNC_PROTOCOL`] stream to `peer`, dialling it first if not connected (at addresses
    /// libp2p knows from identify or mDNS). When the peer has a direct connection the stream goes
    /// over it, never over a relayed one (see the `path` module); otherwise over a relayed one.
    pub async fn open_stream(&self, peer: PeerId) -> Result<libp2p::Stream, NetError> {
        if self.inner.commands.is_closed() {
            return Err(NetError::Shutdown);
        }
        let _slot = self
            .inner
            .opening
            .acquire()
            .await
            .map_err(|_| NetError::Shutdown)?;
        self.open(peer, SYNC_PROTOCOL).await
    }

    /// Opens a `protocol` stream to `peer`, within the stream-opening time. A stream asked of a
    /// connection that closes before it opens is asked again of another connection to the peer
    /// (at most [`OPEN_ATTEMPTS`] in all): after a hole punch over TCP and QUIC at once, each
    /// side keeps the connection that came up first on its side and drops the other, which may
    /// be the one the other side had just picked for a stream.
    async fn open(&self, peer: PeerId, protocol: &'static str) -> Result<libp2p::Stream, NetError> {
        let open_error = |reason: String| NetError::OpenStream { peer, reason };
        let after = self.inner.limits.open_stream_timeout;
        let deadline = tokio::time::Instant::now() + after;
        let mut control = self.inner.control.clone();
        let mut attempt = 1;
        loop {
            let open = control.open_stream(peer, StreamProtocol::new(protocol));
            match tokio::time::timeout_at(deadline, open).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(libp2p_stream::OpenStreamError::Io(e)))
                    if e.kind() == io::ErrorKind::ConnectionReset && attempt < OPEN_ATTEMPTS =>
                {
                    debug!(%peer, protocol, error = %e, "the connection closed before the stream opened; asking again");
                    // Until the swarm has seen the connection close, it would be picked again.
                    let pause = OPEN_RETRY_PAUSE * 4u32.pow(attempt - 1);
                    attempt += 1;
                    tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + pause))
                        .await;
                }
                Ok(Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(p))) => {
                    return Err(open_error(format!(
                        "the peer does not speak {p} (not a Tacit node, or another version)"
                    )));
                }
                Ok(Err(e)) => return Err(open_error(error_chain(&e))),
                Err(_) => {
                    return Err(open_error(format!(
                        "no stream within {} s",
                        after.as_secs()
                    )));
                }
            }
        }
    }

    /// The inbound [`BLOB_PROTOCOL`] streams: `Some` the first time only. libp2p-stream holds
    /// one stream not yet taken and resets others arriving in that moment; the asking peer
    /// then tries again.
    pub fn blob_streams(&self) -> Option<libp2p_stream::IncomingStreams> {
        self.inner
            .blob_streams
            .lock()
            .ok()
            .and_then(|mut s| s.take())
    }

    /// Opens a [`BLOB_PROTOCOL`] stream to a connected `peer` (direct before relayed, as
    /// [`Net::open_stream`]).
    pub async fn open_blob_stream(&self, peer: PeerId) -> Result<libp2p::Stream, NetError> {
        if self.inner.commands.is_closed() {
            return Err(NetError::Shutdown);
        }
        self.open(peer, BLOB_PROTOCOL).await
    }

    /// Closes all connections and stops the network task. Later calls on any clone fail with
    /// [`NetError::Shutdown`] (or return nothing).
    pub async fn shutdown(&self) {
        let _ = self.request(|reply| Command::Shutdown { reply }).await;
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(command(reply))
            .await
            .map_err(|_| NetError::Shutdown)?;
        answer.await.map_err(|_| NetError::Shutdown)
    }
}

/// The protocols of a node. `limits` and `gate` come first: the derived behaviour asks its parts
/// in field order, and a connection they refuse must be refused before the others (libp2p-stream,
/// the relay, AutoNAT) attach state to it.
#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    gate: Gate,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    relay_client: relay::client::Behaviour,
    relay: Toggle<relay::Behaviour>,
    dcutr: dcutr::Behaviour,
    autonat: autonat::v1::Behaviour,
    upnp: Toggle<upnp::tokio::Behaviour>,
    siblings: Siblings,
    stream: Streams,
}

/// Circuit relay v2 server settings from the limits.
fn relay_config(limits: &Limits) -> relay::Config {
    let burst = NonZeroU32::new(limits.relay_rate_burst_per_ip).unwrap_or(NonZeroU32::MIN);
    relay::Config {
        max_reservations: limits.relay_max_reservations,
        max_reservations_per_peer: limits.relay_max_reservations_per_peer,
        reservation_duration: limits.relay_reservation_duration,
        reservation_rate_limiters: Vec::new(),
        max_circuits: limits.relay_max_circuits,
        max_circuits_per_peer: limits.relay_max_circuits_per_peer,
        max_circuit_duration: limits.relay_max_circuit_duration,
        max_circuit_bytes: limits.relay_max_circuit_bytes,
        circuit_src_rate_limiters: Vec::new(),
    }
    .reservation_rate_per_ip(burst, limits.relay_rate_refill_per_ip)
    .circuit_src_per_ip(burst, limits.relay_rate_refill_per_ip)
}

/// AutoNAT v1. libp2p 0.57 also has v2, but its client tests each address once and never again
/// (a failed address stays failed, a confirmed one is never re-checked, expired addresses are
/// ignored), gives no overall verdict, and its server has no configurable rate limits. v1 keeps a
/// verdict with a confidence, probes again on a schedule (so a laptop that moves between networks
/// notices), and bounds the dial-backs a server does. v1's old weakness, a false "public" when the
/// dial-back reused the hole-punched port, is gone in 0.57: its server dials back from a new port
/// and never to circuit addresses.
fn autonat_config(limits: &Limits, only_global_ips: bool) -> autonat::v1::Config {
    autonat::v1::Config {
        timeout: AUTONAT_TIMEOUT,
        boot_delay: limits.autonat_boot_delay,
        refresh_interval: limits.autonat_refresh_interval,
        retry_interval: limits.autonat_retry_interval,
        throttle_server_period: limits.autonat_retry_interval,
        use_connected: true,
        confidence_max: AUTONAT_CONFIDENCE_MAX,
        max_peer_addresses: AUTONAT_MAX_PEER_ADDRESSES,
        throttle_clients_global_max: limits.autonat_max_probes,
        throttle_clients_peer_max: limits.autonat_max_probes_per_peer,
        throttle_clients_period: limits.autonat_throttle_period,
        only_global_ips,
    }
}

fn build_swarm(
    keypair: libp2p::identity::Keypair,
    cfg: &NetConfig,
    inbound: mpsc::Sender<(PeerId, libp2p::Stream)>,
) -> Result<Swarm<Behaviour>, NetError> {
    let limits = &cfg.limits;
    let peer_id = keypair.public().to_peer_id();
    let mdns = if cfg.mdns {
        let behaviour = mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
            .map_err(|e| NetError::Setup(format!("cannot start mDNS: {e}")))?;
        Some(behaviour)
    } else {
        None
    };
    // A relay server's clients get their own budget on top of the member slots.
    let relay_clients = if cfg.relay_server {
        limits.relay_max_clients
    } else {
        0
    };
    let connection_limits = ConnectionLimits::default()
        .with_max_established(Some(limits.max_established.saturating_add(relay_clients)))
        .with_max_established_per_peer(Some(limits.max_established_per_peer))
        .with_max_pending_incoming(Some(limits.max_pending_incoming))
        .with_max_pending_outgoing(Some(limits.max_pending_outgoing));
    let caps = Caps::new(limits, relay_clients);
    let mut yamux_config = yamux::Config::default();
    yamux_config.set_max_num_streams(limits.max_streams_per_connection as usize);
    let relayed_yamux = yamux_config.clone();
    let max_streams = limits.max_streams_per_connection;
    let idle = limits.idle_timeout;
    let negotiating = limits.max_negotiating_inbound_streams;
    let agent = format!("tacit/{}", env!("CARGO_PKG_VERSION"));
    let relay_server = cfg.relay_server.then(|| relay_config(limits));
    let autonat = autonat_config(limits, cfg.autonat_only_global_ips);
    let with_upnp = cfg.upnp;

    let builder = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            move || yamux_config,
        )
        .map_err(|e| NetError::Setup(format!("cannot set up Noise: {e}")))?
        .with_quic_config(|mut c| {
            c.max_concurrent_stream_limit = max_streams;
            c
        })
        // Circuits are upgraded with Noise end to end: the relay sees ciphertext only.
        .with_relay_client(noise::Config::new, move || relayed_yamux)
        .map_err(|e| {
            NetError::Setup(format!("cannot set up Noise for relayed connections: {e}"))
        })?;
    let Ok(builder) = builder.with_behaviour(|key, relay_client| Behaviour {
        limits: connection_limits::Behaviour::new(connection_limits),
        gate: Gate::new(caps),
        identify: identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                .with_agent_version(agent)
                .with_push_listen_addr_updates(true)
                .with_cache_size(IDENTIFY_CACHE_SIZE),
        ),
        // libp2p's defaults: a ping every 15 s, 20 s to answer. A failed ping closes the
        // connection (see `on_behaviour_event`), which is how a dead TCP connection is noticed.
        ping: ping::Behaviour::new(ping::Config::new()),
        mdns: Toggle::from(mdns),
        relay_client,
        relay: Toggle::from(relay_server.map(|c| relay::Behaviour::new(peer_id, c))),
        dcutr: dcutr::Behaviour::new(peer_id),
        autonat: autonat::v1::Behaviour::new(peer_id, autonat),
        upnp: Toggle::from(with_upnp.then(upnp::tokio::Behaviour::default)),
        siblings: Siblings::default(),
        stream: Streams::new(
            libp2p_stream::Behaviour::new(),
            StreamProtocol::new(SYNC_PROTOCOL),
            inbound,
        ),
    });
    Ok(builder
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(idle)
                .with_max_negotiating_inbound_streams(negotiating)
        })
        .with_connection_timeout(limits.dial_timeout)
        .build())
}

/// Checks a relay address (`…/p2p/PEER`, not a circuit, not this node) and splits off its peer.
fn relay_target(addr: &Multiaddr, local: PeerId) -> Result<(PeerId, Multiaddr), NetError> {
    let error = |reason: &str| NetError::Relay {
        addr: addr.clone(),
        reason: reason.to_owned(),
    };
    if addr.iter().any(|p| p == Protocol::P2pCircuit) {
        return Err(error(
            "that is a circuit address; give the relay's own address, e.g. /ip4/203.0.113.10/tcp/4001/p2p/RELAY_PEER_ID",
        ));
    }
    let peer = peer_of(addr).ok_or_else(|| {
        error("a relay address must end in /p2p/RELAY_PEER_ID (the peer id the relay prints at start)")
    })?;
    if peer == local {
        return Err(error("that is this node itself"));
    }
    Ok((peer, addr.clone()))
}

/// Makes "address in use" a clear error before libp2p binds. libp2p's TCP listeners set
/// `SO_REUSEPORT`, so a second Tacit process could bind the same TCP port and silently share its
/// connections; and libp2p-quic's bind error loses its `io::ErrorKind` on the way out. A plain
/// bind first (no `SO_REUSEPORT`), released at once, fails if anyone holds the port.
fn check_port_free(addr: &Multiaddr) -> Result<(), NetError> {
    let mut parts = addr.iter();
    let ip: IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    let probe = match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => {
            std::net::TcpListener::bind(SocketAddr::new(ip, port)).map(drop)
        }
        Some(Protocol::Udp(port)) if port != 0 => {
            std::net::UdpSocket::bind(SocketAddr::new(ip, port)).map(drop)
        }
        _ => return Ok(()),
    };
    probe.map_err(|e| NetError::Listen {
        addr: addr.clone(),
        reason: io_reason(&e),
    })
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => {
            "address in use: another process (perhaps another Tacit home) listens there; stop it or choose another port".to_owned()
        }
        io::ErrorKind::AddrNotAvailable => {
            "address not available: this machine has no such IP address".to_owned()
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied: ports below 1024 need privileges; choose a higher port".to_owned()
        }
        _ => e.to_string(),
    }
}

fn listen_reason(e: &TransportError<io::Error>) -> String {
    match e {
        TransportError::MultiaddrNotSupported(_) => {
            "not a supported address (use /ip4|ip6/…/tcp/PORT or /ip4|ip6/…/udp/PORT/quic-v1)"
                .to_owned()
        }
        TransportError::Other(io) => {
            for kind in [
                io::ErrorKind::AddrInUse,
                io::ErrorKind::AddrNotAvailable,
                io::ErrorKind::PermissionDenied,
            ] {
                if has_io_kind(io, kind) {
                    return io_reason(&io::Error::from(kind));
                }
            }
            error_chain(io)
        }
    }
}

/// Whether an `io::Error` of this kind is anywhere in the chain (libp2p wraps transport errors in
/// `io::Error::other` more than once, so look inside those too).
fn has_io_kind(e: &(dyn StdError + 'static), kind: io::ErrorKind) -> bool {
    let mut current = Some(e);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == kind {
                return true;
            }
            if let Some(inner) = io.get_ref()
                && has_io_kind(inner, kind)
            {
                return true;
            }
        }
        current = e.source();
    }
    false
}

/// An error and its sources, "outer: inner: innermost", without repeating a message that the
/// outer one already contains.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e.source();
    while let Some(e) = current {
        let message = e.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        current = e.source();
    }
    text
}

fn dial_reason(e: &DialError) -> String {
    match e {
        DialError::LocalPeerId { .. } => "that address is this node itself".to_owned(),
        DialError::NoAddresses => "no known address for that peer".to_owned(),
        DialError::DialPeerConditionFalse(_) => "already connected or dialling".to_owned(),
        DialError::Aborted => "the dial was aborted".to_owned(),
        DialError::WrongPeerId { obtained, address } => {
            format!("the node at {address} is {obtained}, not the peer expected")
        }
        DialError::Denied { cause } => format!("refused by this node's connection limits: {cause}"),
        DialError::Transport(errors) => match errors.as_slice() {
            [] => "no usable address".to_owned(),
            // One address: the caller's message names it already.
            [(_, e)] => transport_reason(e),
            several => several
                .iter()
                .map(|(addr, e)| format!("{addr}: {}", transport_reason(e)))
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

fn transport_reason(e: &TransportError<io::Error>) -> String {
    match e {
        TransportError::MultiaddrNotSupported(_) => {
            "not a supported address (Tacit speaks /tcp and /udp/…/quic-v1)".to_owned()
        }
        TransportError::Other(io) if has_io_kind(io, io::ErrorKind::ConnectionRefused) => {
            "connection refused: nothing listens there".to_owned()
        }
        TransportError::Other(io) if has_io_kind(io, io::ErrorKind::TimedOut) => {
            "timed out: the address does not answer".to_owned()
        }
        TransportError::Other(io) => error_chain(io),
    }
}

fn listen_error_reason(e: &ListenError) -> String {
    match e {
        ListenError::Denied { cause } => format!("refused by connection limits: {cause}"),
        ListenError::Transport(e) => transport_reason(e),
        ListenError::WrongPeerId { obtained, .. } => format!("unexpected peer {obtained}"),
        ListenError::LocalPeerId { .. } => "it was this node itself".to_owned(),
        ListenError::Aborted => "aborted".to_owned(),
    }
}

/// A `Net::dial` waiting for its connection.
struct PendingDial {
    addr: Multiaddr,
    reply: oneshot::Sender<Result<PeerId, NetError>>,
    /// Whether this is already the second try, from a port of its own (see
    /// [`may_be_simultaneous_open`]).
    new_port: bool,
}

/// Whether a failed dial may have met the remote's own dial to us: with TCP port reuse, two
/// peers that dial each other at the same instant (a node that restarts and redials its peers
/// while one of them dials it) can end up in one simultaneous-open connection on which both act
/// as the dialer, and the handshake fails. A second try from a fresh port cannot meet it.
fn may_be_simultaneous_open(addr: &Multiaddr, error: &DialError) -> bool {
    let tcp = addr.iter().any(|p| matches!(p, Protocol::Tcp(_)))
        && !addr.iter().any(|p| matches!(p, Protocol::P2pCircuit));
    let handshake = match error {
        DialError::Transport(errors) => errors.iter().any(|(_, e)| {
            matches!(e, TransportError::Other(io)
                if !has_io_kind(io, io::ErrorKind::ConnectionRefused)
                    && !has_io_kind(io, io::ErrorKind::TimedOut))
        }),
        _ => false,
    };
    tcp && handshake
}

/// The swarm task's state.
struct Task {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    /// False once the receiver is gone: events are then dropped.
    events_open: bool,
    /// Events waiting for room in `events` (at most `OUTBOX_CAPACITY` plus one swarm event's worth).
    outbox: VecDeque<NetEvent>,
    /// Inbound sync streams, taken by each connection's handler (see the `path` module).
    incoming: mpsc::Receiver<(PeerId, libp2p::Stream)>,
    /// Keeps [`SYNC_PROTOCOL`] registered with libp2p-stream, which announces it and negotiates
    /// it; the streams themselves arrive in `incoming`.
    _accepting: libp2p_stream::IncomingStreams,
    /// `Net::dial` calls waiting for their connection. Bounded by `max_pending_outgoing`: the
    /// connection limits refuse further dials at once, and every dial ends in an established
    /// connection or an error within the connection timeout.
    dials: HashMap<ConnectionId, PendingDial>,
    /// `Net::dial_peer` calls waiting for any connection to their peer (closed senders pruned).
    peer_waiters: HashMap<PeerId, Vec<oneshot::Sender<Result<(), NetError>>>>,
    /// Every established connection (bounded by the connection limits).
    connections: HashMap<PeerId, HashMap<ConnectionId, ConnectionInfo>>,
    /// The relays in use (at most `max_relays`).
    relays: HashMap<PeerId, RelaySlot>,
    /// [`Limits::relay_retry`].
    relay_retry: Duration,
    /// [`Limits::max_relays`].
    max_relays: usize,
    /// The reachability and external addresses last reported in [`NetEvent::Reachability`].
    reported: (Reachability, Vec<Multiaddr>),
    /// Peers reached only through a relay whose hole punch failed: when to try again, and the
    /// wait before that. Only connected peers (bounded by the connection limits).
    punch_retries: HashMap<PeerId, (Instant, Duration)>,
    /// Connections closing because they stopped answering (their pings failed): no longer in
    /// `connections`, hidden from libp2p-stream, and not counted as a link to their peer, which
    /// may be dialled again at once. Bounded by the connection limits (each leaves the set when
    /// libp2p reports it closed).
    abandoned: HashSet<ConnectionId>,
    /// Which peers found on the LAN are passed on, at which addresses.
    lan: Lan,
}

/// A relay in use and its reservation.
struct RelaySlot {
    /// The relay's address, ending in `/p2p/RELAY`.
    addr: Multiaddr,
    /// The circuit listener while a reservation is asked for or held.
    listener: Option<ListenerId>,
    state: RelayState,
    /// When to ask again after a refusal or a lost connection.
    retry_at: Option<Instant>,
    /// The last dial error to the relay, to say why its listener closed.
    last_error: Option<String>,
}

impl Task {
    /// Drives the swarm until every listener has bound an address.
    async fn await_listeners(
        &mut self,
        mut waiting: HashMap<ListenerId, Multiaddr>,
    ) -> Result<(), NetError> {
        let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
        while !waiting.is_empty() {
            let event = match tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await
            {
                Ok(event) => event,
                Err(_) => {
                    let addr = waiting
                        .into_values()
                        .next()
                        .unwrap_or_else(Multiaddr::empty);
                    return Err(NetError::Listen {
                        addr,
                        reason: format!(
                            "no address was bound within {} s",
                            LISTEN_TIMEOUT.as_secs()
                        ),
                    });
                }
            };
            match &event {
                SwarmEvent::NewListenAddr { listener_id, .. } => {
                    waiting.remove(listener_id);
                }
                SwarmEvent::ListenerError { listener_id, error }
                | SwarmEvent::ListenerClosed {
                    listener_id,
                    reason: Err(error),
                    ..
                } => {
                    if let Some(addr) = waiting.remove(listener_id) {
                        return Err(NetError::Listen {
                            addr,
                            reason: listen_reason(&TransportError::Other(io::Error::new(
                                error.kind(),
                                error.to_string(),
                            ))),
                        });
                    }
                }
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason: Ok(()),
                    ..
                } => {
                    if let Some(addr) = waiting.remove(listener_id) {
                        return Err(NetError::Listen {
                            addr,
                            reason: "the listener closed at once".to_owned(),
                        });
                    }
                }
                _ => {}
            }
            self.on_swarm_event(event);
        }
        Ok(())
    }

    async fn run(mut self) {
        let mut relay_check = tokio::time::interval(RELAY_CHECK_INTERVAL);
        relay_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown_reply = loop {
            let outbox_has_room = self.outbox.len() < OUTBOX_CAPACITY;
            tokio::select! {
                _ = relay_check.tick(), if !self.relays.is_empty() || !self.punch_retries.is_empty() => {
                    self.reconcile_relays();
                    self.retry_hole_punches();
                }
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    // Every handle is gone.
                    None => break None,
                },
                // An owned permit, so that the branch's result does not borrow `self`.
                permit = self.events.clone().reserve_owned(), if !self.outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.outbox.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => {
                        debug!("the event receiver is gone; events are dropped from now on");
                        self.events_open = false;
                        self.outbox.clear();
                    }
                },
                event = self.swarm.select_next_some(), if outbox_has_room => self.on_swarm_event(event),
                Some((peer, stream)) = self.incoming.recv(), if outbox_has_room => {
                    debug!(%peer, "inbound sync stream");
                    self.emit(NetEvent::IncomingStream { peer, stream });
                }
            }
        };
        self.close_gracefully().await;
        drop(self.swarm);
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
        debug!("network task stopped");
    }

    /// Closes every connection and gives them a moment to say so to their peers.
    async fn close_gracefully(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while !self.connections.is_empty() {
                let event = self.swarm.select_next_some().await;
                self.on_swarm_event(event);
            }
        })
        .await;
        while let Some(event) = self.outbox.pop_front() {
            if self.events.try_send(event).is_err() {
                break;
            }
        }
    }

    fn emit(&mut self, event: NetEvent) {
        if self.events_open {
            self.outbox.push_back(event);
        }
    }

    /// Starts a `Net::dial`; its reply comes when the connection is up or has failed.
    fn dial(&mut self, dial: PendingDial) {
        let mut opts = DialOpts::unknown_peer_id().address(dial.addr.clone());
        if dial.new_port {
            opts = opts.allocate_new_port();
        }
        let opts = opts.build();
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                debug!(addr = %dial.addr, "dialling");
                self.dials.insert(id, dial);
            }
            Err(e) => {
                debug!(addr = %dial.addr, error = %e, "dial refused at once");
                let _ = dial.reply.send(Err(NetError::Dial {
                    target: dial.addr.to_string(),
                    reason: dial_reason(&e),
                }));
            }
        }
    }

    /// Dials `peer` unless connected, at `addrs` (and, for a dial that is not of a peer found on
    /// the LAN, the addresses identify and mDNS know, or only those when `addrs` is empty);
    /// `reply` is answered when a connection to it is up or the dial failed. A LAN dial is
    /// tagged for the gate's LAN budget.
    fn dial_peer(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        lan: bool,
        reply: oneshot::Sender<Result<(), NetError>>,
    ) {
        if self.connections.contains_key(&peer) {
            let _ = reply.send(Ok(()));
            return;
        }
        // A peer whose only connections are abandoned ones is dialled anyway.
        let condition = if self.swarm.is_connected(&peer) {
            PeerCondition::NotDialing
        } else {
            PeerCondition::DisconnectedAndNotDialing
        };
        let opts = if lan {
            DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(condition)
                .build()
        } else if addrs.is_empty() {
            DialOpts::peer_id(peer).condition(condition).build()
        } else {
            DialOpts::peer_id(peer)
                .addresses(addrs)
                .extend_addresses_through_behaviour()
                .condition(condition)
                .build()
        };
        let id = opts.connection_id();
        if lan {
            self.swarm.behaviour_mut().gate.lan_dial(id);
        }
        let result = self.swarm.dial(opts);
        if lan && result.is_err() {
            // No dial under this id (another one to the peer may be under way).
            self.swarm.behaviour_mut().gate.lan_dial_dropped(id);
        }
        match result {
            // Dialling now, or a dial to it is already under way: wait for either.
            Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {
                let waiters = self.peer_waiters.entry(peer).or_default();
                waiters.retain(|w| !w.is_closed());
                waiters.push(reply);
            }
            Err(e) => {
                let _ = reply.send(Err(NetError::Dial {
                    target: format!("peer {peer}"),
                    reason: dial_reason(&e),
                }));
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Dial { addr, reply } => {
                self.dial(PendingDial {
                    addr,
                    reply,
                    new_port: false,
                });
            }
            Command::DialPeer { peer, addrs, reply } => self.dial_peer(peer, addrs, false, reply),
            Command::DialLan { peer, addrs, reply } => {
                if !self.connections.contains_key(&peer)
                    && !self.swarm.behaviour().gate.lan_room(&peer)
                {
                    let _ = reply.send(Err(NetError::Dial {
                        target: format!("peer {peer}"),
                        reason: format!(
                            "this node already holds or dials {} connections to peers found on \
                             the LAN that are not members of its spaces (Limits::max_lan_strangers)",
                            self.swarm.behaviour().gate.max_lan()
                        ),
                    }));
                    return;
                }
                self.dial_peer(peer, addrs, true, reply);
            }
            Command::Connected { reply } => {
                let list = self
                    .connections
                    .iter()
                    .map(|(peer, conns)| (*peer, conns.values().cloned().collect()))
                    .collect();
                let _ = reply.send(list);
            }
            Command::SetMembers { members, reply } => {
                debug!(members = members.len(), "member set changed");
                self.swarm.behaviour_mut().gate.set_members(members);
                let _ = reply.send(());
            }
            Command::SetJoining { peers, reply } => {
                self.swarm.behaviour_mut().gate.set_joining(peers);
                let _ = reply.send(());
            }
            Command::Strangers { reply } => {
                let _ = reply.send(self.swarm.behaviour().gate.strangers());
            }
            Command::AddRelay { addr, reply } => {
                let result = relay_target(&addr, *self.swarm.local_peer_id()).and_then(|(peer, addr)| {
                    if !self.relays.contains_key(&peer) && self.relays.len() >= self.max_relays {
                        return Err(NetError::Relay {
                            addr,
                            reason: format!(
                                "already {} relays in use (Limits::max_relays); remove one first",
                                self.max_relays
                            ),
                        });
                    }
                    self.add_relay(peer, addr);
                    Ok(())
                });
                let _ = reply.send(result);
            }
            Command::RemoveRelay { peer, reply } => {
                let found = match self.relays.remove(&peer) {
                    Some(slot) => {
                        if let Some(listener) = slot.listener {
                            self.swarm.remove_listener(listener);
                        }
                        self.swarm.behaviour_mut().autonat.remove_server(&peer);
                        true
                    }
                    None => false,
                };
                let _ = reply.send(found);
            }
            Command::Relays { reply } => {
                let mut list: Vec<RelayInfo> = self
                    .relays
                    .iter()
                    .map(|(peer, slot)| RelayInfo {
                        peer: *peer,
                        addr: slot.addr.clone(),
                        state: slot.state.clone(),
                    })
                    .collect();
                list.sort_by_key(|r| r.peer);
                let _ = reply.send(list);
            }
            Command::Reachability { reply } => {
                let _ = reply.send((self.reachability(), self.external_addrs()));
            }
            Command::Disconnect { peer, reply } => {
                let _ = self.swarm.disconnect_peer_id(peer);
                let _ = reply.send(());
            }
            Command::Shutdown { reply } => {
                // Handled in `run`; answer anyway rather than leave a caller waiting.
                let _ = reply.send(());
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                let outbound = endpoint.is_dialer();
                let relayed = self.relay_of(&endpoint);
                debug!(peer = %peer_id, %addr, outbound, ?relayed, "connection established");
                let before = self.path(&peer_id);
                let first = !self.connections.contains_key(&peer_id);
                self.connections.entry(peer_id).or_default().insert(
                    connection_id,
                    ConnectionInfo {
                        addr: addr.clone(),
                        relayed,
                        outbound,
                    },
                );
                self.path_changed(peer_id, before);
                if let Some(dial) = self.dials.remove(&connection_id) {
                    let _ = dial.reply.send(Ok(peer_id));
                }
                for waiter in self.peer_waiters.remove(&peer_id).unwrap_or_default() {
                    let _ = waiter.send(Ok(()));
                }
                if first {
                    self.emit(NetEvent::Connected {
                        peer: peer_id,
                        addr,
                        outbound,
                        relayed,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                ..
            } => {
                debug!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "connection closed");
                // An abandoned connection was counted as gone when it was abandoned.
                if !self.abandoned.remove(&connection_id) {
                    self.forget_connection(peer_id, connection_id);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let reason = dial_reason(&error);
                debug!(peer = ?peer_id, %reason, "dial failed");
                if let Some(slot) = peer_id.and_then(|p| self.relays.get_mut(&p)) {
                    slot.last_error = Some(reason.clone());
                }
                if let Some(dial) = self.dials.remove(&connection_id) {
                    if !dial.new_port && may_be_simultaneous_open(&dial.addr, &error) {
                        debug!(addr = %dial.addr, %reason, "dialling again from a fresh port");
                        self.dial(PendingDial {
                            new_port: true,
                            ..dial
                        });
                    } else {
                        let _ = dial.reply.send(Err(NetError::Dial {
                            target: dial.addr.to_string(),
                            reason: reason.clone(),
                        }));
                    }
                }
                if let Some(peer) = peer_id
                    && !self.connections.contains_key(&peer)
                {
                    for waiter in self.peer_waiters.remove(&peer).unwrap_or_default() {
                        let _ = waiter.send(Err(NetError::Dial {
                            target: format!("peer {peer}"),
                            reason: reason.clone(),
                        }));
                    }
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                debug!(from = %send_back_addr, peer = ?peer_id, reason = %listen_error_reason(&error), "inbound connection failed");
            }
            SwarmEvent::NewListenAddr {
                address,
                listener_id,
            } => {
                debug!(%address, "listening");
                if let Some(relay) = self.relay_of_listener(listener_id) {
                    info!(%relay, circuit = %address, "relay reservation accepted");
                    if let Some(slot) = self.relays.get_mut(&relay) {
                        slot.last_error = None;
                    }
                    self.set_relay_state(
                        relay,
                        RelayState::Reserved {
                            circuit_addr: address.clone(),
                        },
                    );
                }
                self.emit(NetEvent::Listening { addr: address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                debug!(%address, "listen address expired");
            }
            SwarmEvent::ListenerClosed {
                addresses,
                reason,
                listener_id,
            } => {
                if let Some(relay) = self.relay_of_listener(listener_id) {
                    self.on_relay_listener_closed(relay, reason);
                    return;
                }
                match reason {
                    Ok(()) => debug!(?addresses, "listener closed"),
                    Err(e) => warn!(?addresses, error = %e, "listener failed"),
                }
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                debug!(%address, "external address confirmed");
                self.check_reachability();
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                debug!(%address, "external address expired");
                self.check_reachability();
            }
            SwarmEvent::ListenerError { error, .. } => {
                warn!(error = %error, "listener error");
            }
            SwarmEvent::NewExternalAddrCandidate { address } => {
                debug!(%address, "address candidate");
            }
            other => {
                tracing::trace!(event = ?other, "swarm event");
            }
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            // `Pushed` carries this node's own information, pushed to the peer: not the peer's.
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                if info.protocol_version != IDENTIFY_PROTOCOL {
                    debug!(peer = %peer_id, version = %info.protocol_version, agent = %info.agent_version, "peer is not a Tacit node of this version");
                }
                let mut listen_addrs = info.listen_addrs;
                listen_addrs.truncate(MAX_ADDRS_PER_PEER);
                debug!(peer = %peer_id, ?listen_addrs, agent = %info.agent_version, "identified");
                self.emit(NetEvent::Identified {
                    peer: peer_id,
                    listen_addrs,
                });
            }
            BehaviourEvent::Identify(identify::Event::Error { peer_id, error, .. }) => {
                debug!(peer = %peer_id, error = %error, "identify failed");
            }
            BehaviourEvent::Identify(
                identify::Event::Sent { .. } | identify::Event::Pushed { .. },
            ) => {}
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result,
            }) => match result {
                Ok(rtt) => tracing::trace!(%peer, ?rtt, "ping"),
                // A peer that does not speak ping is not a failure; any other failure is: a
                // connection that outlived a cut link fails its pings (its streams cannot even
                // be negotiated) without ever timing out as a whole, and kept open it would
                // stop the peers from dialling each other again once the link heals.
                Err(ping::Failure::Unsupported) => {
                    debug!(%peer, "the peer does not answer pings");
                }
                Err(e) => {
                    warn!(%peer, error = %e, "ping failed; closing the connection");
                    self.abandon(peer, connection);
                }
            },
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let gate = &self.swarm.behaviour().gate;
                let plan = self
                    .lan
                    .plan(std::time::Instant::now(), found, |p| gate.is_member(p));
                for (peer, addrs) in plan {
                    debug!(%peer, ?addrs, "discovered on the LAN");
                    self.emit(NetEvent::Discovered { peer, addrs });
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(gone)) => {
                debug!(?gone, "mDNS records expired");
            }
            BehaviourEvent::Limits(never)
            | BehaviourEvent::Gate(never)
            | BehaviourEvent::Siblings(never) => match never {},
            BehaviourEvent::Stream(()) => {}
            BehaviourEvent::RelayClient(event) => debug!(?event, "relay client"),
            BehaviourEvent::Relay(event) => debug!(?event, "relay server"),
            BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            }) => {
                let result = result.map(|_| ()).map_err(|e| error_chain(&e));
                match &result {
                    Ok(()) => {
                        self.punch_retries.remove(&remote_peer_id);
                        info!(peer = %remote_peer_id, "hole punch succeeded: direct connection")
                    }
                    Err(e) if matches!(self.path(&remote_peer_id), Some(Some(_))) => {
                        let wait = self
                            .punch_retries
                            .get(&remote_peer_id)
                            .map_or(PUNCH_RETRY_FIRST, |(_, w)| next_punch_wait(*w));
                        self.punch_retries
                            .insert(remote_peer_id, (Instant::now() + wait, wait));
                        info!(peer = %remote_peer_id, error = %e, retry_in = ?wait, "hole punch failed; relayed until the next try")
                    }
                    Err(e) => debug!(peer = %remote_peer_id, error = %e, "hole punch failed"),
                }
                self.emit(NetEvent::HolePunch {
                    peer: remote_peer_id,
                    result,
                });
            }
            BehaviourEvent::Autonat(autonat::v1::Event::StatusChanged { old, new }) => {
                info!(?old, ?new, "reachability changed");
                self.check_reachability();
            }
            BehaviourEvent::Autonat(event) => debug!(?event, "autonat"),
            BehaviourEvent::Upnp(event) => match event {
                upnp::Event::GatewayNotFound => info!("no UPnP gateway on this network"),
                upnp::Event::NonRoutableGateway => {
                    info!("the UPnP gateway is itself behind a NAT; port mapping does not help")
                }
                other => info!(event = ?other, "UPnP"),
            },
        }
    }

    /// Whether this node can be dialled from outside, as AutoNAT last found.
    fn reachability(&self) -> Reachability {
        match self.swarm.behaviour().autonat.nat_status() {
            autonat::v1::NatStatus::Public(_) => Reachability::Public,
            autonat::v1::NatStatus::Private => Reachability::Private,
            autonat::v1::NatStatus::Unknown => Reachability::Unknown,
        }
    }

    /// Confirmed external addresses without `/p2p/…`, circuit addresses left out (they are
    /// reported per relay).
    fn external_addrs(&self) -> Vec<Multiaddr> {
        let mut addrs: Vec<Multiaddr> = Vec::new();
        for addr in self.swarm.external_addresses() {
            let addr = without_peer(addr);
            if !addr.iter().any(|p| p == Protocol::P2pCircuit) && !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        addrs
    }

    /// Reports reachability if it changed, and reserves on relays or drops reservations to
    /// match.
    fn check_reachability(&mut self) {
        let now = (self.reachability(), self.external_addrs());
        if now != self.reported {
            self.reported = now.clone();
            self.emit(NetEvent::Reachability {
                reachability: now.0,
                external_addrs: now.1,
            });
        }
        self.reconcile_relays();
    }

    fn add_relay(&mut self, peer: PeerId, addr: Multiaddr) {
        if let Some(old) = self.relays.remove(&peer)
            && let Some(listener) = old.listener
        {
            self.swarm.remove_listener(listener);
        }
        // The relay also answers AutoNAT probes: a node that knows only the relay learns its
        // reachability from it.
        self.swarm
            .behaviour_mut()
            .autonat
            .add_server(peer, Some(without_peer(&addr)));
        self.relays.insert(
            peer,
            RelaySlot {
                addr,
                listener: None,
                state: RelayState::Pending,
                retry_at: None,
                last_error: None,
            },
        );
        self.reconcile_relays();
    }

    /// Tries the hole punch again to the peers whose wait is over and that are still reached
    /// only through a relay: a fresh relayed connection, on which DCUtR starts over (the old
    /// one keeps carrying the session meanwhile and closes when idle).
    fn retry_hole_punches(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .punch_retries
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            let Some(Some(relay)) = self.path(&peer) else {
                self.punch_retries.remove(&peer);
                continue;
            };
            let Some(slot) = self.relays.get(&relay) else {
                // The relay went out of use; a new path will come by the usual reconnects.
                self.punch_retries.remove(&peer);
                continue;
            };
            let circuit = slot
                .addr
                .clone()
                .with(Protocol::P2pCircuit)
                .with(Protocol::P2p(peer));
            if let Some((at, wait)) = self.punch_retries.get_mut(&peer) {
                // The next round's time, should this one fail without a word from DCUtR.
                *at = now + next_punch_wait(*wait);
            }
            // One more relayed connection at most, so that the direct one still fits under
            // `max_established_per_peer`; the last round's spare closes when idle.
            if self.connections.get(&peer).map_or(0, HashMap::len) > 1 {
                continue;
            }
            debug!(%peer, %circuit, "trying the hole punch again over a fresh relayed connection");
            // Through our relay, and the peer's own circuit addresses (identify's), in case it
            // holds its slot on another relay.
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![circuit])
                .extend_addresses_through_behaviour()
                .condition(PeerCondition::Always)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                debug!(%peer, error = %e, "cannot dial through the relay");
            }
        }
    }

    /// Asks relays for a slot while this node is not publicly reachable (those not asked yet,
    /// and those whose retry time has come), and gives the slots up once it is.
    fn reconcile_relays(&mut self) {
        let wanted = self.reachability() != Reachability::Public;
        let now = Instant::now();
        let peers: Vec<PeerId> = self.relays.keys().copied().collect();
        for peer in peers {
            let Some(slot) = self.relays.get_mut(&peer) else {
                continue;
            };
            if wanted {
                if slot.listener.is_some() || slot.retry_at.is_some_and(|t| t > now) {
                    continue;
                }
                let circuit = slot.addr.clone().with(Protocol::P2pCircuit);
                match self.swarm.listen_on(circuit) {
                    Ok(listener) => {
                        debug!(relay = %peer, "asking the relay for a reservation");
                        slot.listener = Some(listener);
                        slot.retry_at = None;
                        self.set_relay_state(peer, RelayState::Pending);
                    }
                    Err(e) => {
                        slot.retry_at = Some(now + self.relay_retry);
                        let reason = listen_reason(&e);
                        self.set_relay_state(peer, RelayState::Unreachable { reason });
                    }
                }
            } else if slot.state != RelayState::NotNeeded {
                slot.retry_at = None;
                if let Some(listener) = slot.listener.take() {
                    self.swarm.remove_listener(listener);
                }
                self.set_relay_state(peer, RelayState::NotNeeded);
            }
        }
    }

    fn set_relay_state(&mut self, relay: PeerId, state: RelayState) {
        let Some(slot) = self.relays.get_mut(&relay) else {
            return;
        };
        if slot.state != state {
            slot.state = state.clone();
            self.emit(NetEvent::Relay { relay, state });
        }
    }

    fn relay_of_listener(&self, listener: ListenerId) -> Option<PeerId> {
        self.relays
            .iter()
            .find(|(_, slot)| slot.listener == Some(listener))
            .map(|(peer, _)| *peer)
    }

    fn on_relay_listener_closed(&mut self, relay: PeerId, reason: Result<(), io::Error>) {
        let retry = self.relay_retry;
        let Some(slot) = self.relays.get_mut(&relay) else {
            return;
        };
        slot.listener = None;
        slot.retry_at = Some(Instant::now() + retry);
        let last_error = slot.last_error.take();
        let state = match reason {
            Err(e) => relay_refusal(&e, retry),
            Ok(()) => RelayState::Unreachable {
                reason: match last_error {
                    Some(e) => format!("cannot connect to the relay: {e}"),
                    None => "the connection to the relay closed".to_owned(),
                },
            },
        };
        warn!(%relay, ?state, "relay reservation lost");
        self.set_relay_state(relay, state);
    }

    /// Closes a connection that stopped answering, and counts it as gone at once: its graceful
    /// close may take minutes over a cut link, and until then the peer would look connected
    /// (never dialled again) and new streams would go over the dead connection.
    fn abandon(&mut self, peer: PeerId, connection: ConnectionId) {
        self.swarm.close_connection(connection);
        let live = self
            .connections
            .get(&peer)
            .is_some_and(|c| c.contains_key(&connection));
        if live && self.abandoned.insert(connection) {
            self.swarm.behaviour_mut().stream.abandon(peer, connection);
            self.forget_connection(peer, connection);
        }
    }

    /// A connection is gone (closed, or abandoned): the peer is disconnected when it was its last.
    fn forget_connection(&mut self, peer: PeerId, connection: ConnectionId) {
        let before = self.path(&peer);
        if let Entry::Occupied(mut conns) = self.connections.entry(peer) {
            conns.get_mut().remove(&connection);
            if conns.get().is_empty() {
                conns.remove();
            }
        }
        self.path_changed(peer, before);
        if before.is_some() && !self.connections.contains_key(&peer) {
            self.punch_retries.remove(&peer);
            self.emit(NetEvent::Disconnected { peer });
        }
    }

    /// The path to `peer` now: `None` when not connected, `Some(None)` when it has a direct
    /// connection, `Some(Some(relay))` when only relayed ones.
    fn path(&self, peer: &PeerId) -> Option<Option<PeerId>> {
        let conns = self.connections.get(peer)?;
        if conns.values().any(|c| c.relayed.is_none()) {
            return Some(None);
        }
        Some(conns.values().filter_map(|c| c.relayed).min())
    }

    fn path_changed(&mut self, peer: PeerId, before: Option<Option<PeerId>>) {
        if let (Some(before), Some(now)) = (before, self.path(&peer))
            && before != now
            && let Some(addr) = self.connections.get(&peer).and_then(|conns| {
                conns
                    .values()
                    .find(|c| c.relayed == now)
                    .map(|c| c.addr.clone())
            })
        {
            info!(%peer, relayed = ?now, %addr, "path changed");
            self.emit(NetEvent::PathChanged {
                peer,
                relayed: now,
                addr,
            });
        }
    }

    /// The relay a connection goes through, `None` for a direct one. A dialled circuit names its
    /// relay (`…/p2p/RELAY/p2p-circuit/…`); an inbound one only has the relay's address, which is
    /// the remote address of our own connection to that relay.
    fn relay_of(&self, endpoint: &ConnectedPoint) -> Option<PeerId> {
        if !endpoint.is_relayed() {
            return None;
        }
        let (local, remote) = match endpoint {
            ConnectedPoint::Dialer { address, .. } => (None, address),
            ConnectedPoint::Listener {
                local_addr,
                send_back_addr,
            } => (Some(local_addr), send_back_addr),
        };
        if let Some(relay) = relay_in_addr(remote).or_else(|| local.and_then(relay_in_addr)) {
            return Some(relay);
        }
        let relay_addr = relay_address_of(local.unwrap_or(remote));
        let found = self
            .connections
            .iter()
            .find(|(_, conns)| {
                conns
                    .values()
                    .any(|c| c.relayed.is_none() && without_peer(&c.addr) == relay_addr)
            })
            .map(|(peer, _)| *peer)
            .or_else(|| {
                self.relays
                    .iter()
                    .find(|(_, slot)| without_peer(&slot.addr) == relay_addr)
                    .map(|(peer, _)| *peer)
            })
            .or_else(|| self.relays.keys().min().copied());
        if found.is_none() {
            warn!(?endpoint, "relayed connection through an unknown relay");
        }
        Some(found.unwrap_or(*self.swarm.local_peer_id()))
    }
}

/// A relay's refusal (the circuit listener closed with an error) in words.
fn relay_refusal(e: &io::Error, retry: Duration) -> RelayState {
    use relay::outbound::hop::{ProtocolViolation, ReserveError};
    let again = format!("asking again in {} s", retry.as_secs());
    match find_in_chain::<ReserveError>(e) {
        Some(ReserveError::ResourceLimitExceeded) => RelayState::Refused {
            reason: format!(
                "the relay is full or rate-limited (resource limit exceeded: it holds all the \
                 reservations its limits allow, or this IP address asked too often); {again}, or \
                 use another relay"
            ),
        },
        Some(ReserveError::Refused) => RelayState::Refused {
            reason: format!(
                "the relay refused the reservation (it does not serve this peer); {again}, or ask \
                 its operator"
            ),
        },
        Some(ReserveError::Unsupported) => RelayState::Refused {
            reason: format!(
                "the peer does not serve relay reservations: it is not a relay server, or it has \
                 no public address yet (start it as a relay with its public address); {again}"
            ),
        },
        Some(ReserveError::Protocol(ProtocolViolation::NoAddressesInReservation)) => {
            RelayState::Refused {
                reason: format!(
                    "the relay has no public address to offer (start it with its public \
                     address); {again}"
                ),
            }
        }
        Some(other) => RelayState::Unreachable {
            reason: format!("the reservation failed: {}; {again}", error_chain(other)),
        },
        None => RelayState::Unreachable {
            reason: format!("{}; {again}", error_chain(e)),
        },
    }
}

/// The first error of type `T` in `e`'s chain, looking inside `io::Error`s too (libp2p wraps
/// transport errors in them).
fn find_in_chain<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref())
            && let Some(found) = find_in_chain::<T>(inner)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}
