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

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    error::Error as StdError,
    fmt, io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt as _;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder,
    connection_limits::{self, ConnectionLimits},
    core::transport::{ListenerId, TransportError},
    identify, mdns,
    multiaddr::Protocol,
    noise, ping,
    swarm::{
        ConnectionId, DialError, ListenError, NetworkBehaviour, SwarmEvent,
        behaviour::toggle::Toggle,
        dial_opts::{DialOpts, PeerCondition},
    },
    tcp, yamux,
};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, warn};

use crate::{codec::FrameError, identity::keypair, limits::Limits};

/// The protocol of the sync stream.
pub const SYNC_PROTOCOL: &str = "/tacit/sync/1";

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

/// `open_stream` calls in flight at once. Each holds a slot in libp2p-stream's queue of a
/// connection; sync opens one stream per connection, so 32 is ample.
const MAX_OPENING_STREAMS: usize = 32;

/// How long `Net::start` waits for its listeners to report an address. Binding is immediate for a
/// specific IP; for an unspecified IP (0.0.0.0) libp2p first lists the interfaces.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `shutdown` lets connections close cleanly before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Addresses passed on per `Identified` / `Discovered` event. A peer's own list (identify) or a
/// LAN neighbour's (mDNS) is input we do not control; a real node has a handful.
const MAX_ADDRS_PER_PEER: usize = 32;

/// Peers whose addresses identify remembers for dialling by peer id (libp2p's default).
const IDENTIFY_CACHE_SIZE: usize = 100;

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
}

impl NetConfig {
    /// A configuration that does not listen, with mDNS off and the default limits.
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret,
            listen: Vec::new(),
            mdns: false,
            limits: Limits::default(),
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
    /// mDNS found a peer on the LAN.
    Discovered {
        /// The peer.
        peer: PeerId,
        /// Its addresses (at most 32).
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
    Connected {
        reply: oneshot::Sender<Vec<(PeerId, Vec<Multiaddr>)>>,
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
        let NetConfig {
            secret,
            listen,
            mdns: with_mdns,
            limits,
        } = cfg;
        let keypair = keypair(secret).map_err(|e| NetError::Key(e.to_string()))?;
        let peer_id = keypair.public().to_peer_id();
        let mut swarm = build_swarm(keypair, with_mdns, &limits)?;

        let mut control = swarm.behaviour().stream.new_control();
        let incoming = control
            .accept(StreamProtocol::new(SYNC_PROTOCOL))
            .map_err(|e| NetError::Setup(format!("registering {SYNC_PROTOCOL}: {e}")))?;

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
            dials: HashMap::new(),
            peer_waiters: HashMap::new(),
            connections: HashMap::new(),
        };
        task.await_listeners(waiting).await?;
        tokio::spawn(task.run());

        let net = Net {
            inner: Arc::new(Inner {
                peer_id,
                commands: commands_tx,
                control,
                opening: Semaphore::new(MAX_OPENING_STREAMS),
                limits,
            }),
        };
        debug!(%peer_id, "network started");
        Ok((net, events_rx))
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// The addresses the listeners have bound (empty after shutdown).
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

    /// The connected peers with the remote address of each of their connections.
    pub async fn connected(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.request(|reply| Command::Connected { reply })
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
    /// libp2p knows from identify or mDNS).
    pub async fn open_stream(&self, peer: PeerId) -> Result<libp2p::Stream, NetError> {
        if self.inner.commands.is_closed() {
            return Err(NetError::Shutdown);
        }
        let open_error = |reason: String| NetError::OpenStream { peer, reason };
        let _slot = self
            .inner
            .opening
            .acquire()
            .await
            .map_err(|_| NetError::Shutdown)?;
        let mut control = self.inner.control.clone();
        let after = self.inner.limits.open_stream_timeout;
        let open = control.open_stream(peer, StreamProtocol::new(SYNC_PROTOCOL));
        match tokio::time::timeout(after, open).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(p))) => Err(open_error(
                format!("the peer does not speak {p} (not a Tacit node, or another version)"),
            )),
            Ok(Err(e)) => Err(open_error(error_chain(&e))),
            Err(_) => Err(open_error(format!(
                "no stream within {} s",
                after.as_secs()
            ))),
        }
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

/// The protocols of a node. `limits` comes first: the derived behaviour asks its parts in field
/// order, and a connection the limits refuse must be refused before libp2p-stream attaches its
/// state to it.
#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    stream: libp2p_stream::Behaviour,
}

fn build_swarm(
    keypair: libp2p::identity::Keypair,
    with_mdns: bool,
    limits: &Limits,
) -> Result<Swarm<Behaviour>, NetError> {
    let peer_id = keypair.public().to_peer_id();
    let mdns = if with_mdns {
        let behaviour = mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
            .map_err(|e| NetError::Setup(format!("cannot start mDNS: {e}")))?;
        Some(behaviour)
    } else {
        None
    };
    let connection_limits = ConnectionLimits::default()
        .with_max_established(Some(limits.max_established))
        .with_max_established_per_peer(Some(limits.max_established_per_peer))
        .with_max_pending_incoming(Some(limits.max_pending_incoming))
        .with_max_pending_outgoing(Some(limits.max_pending_outgoing));
    let mut yamux_config = yamux::Config::default();
    yamux_config.set_max_num_streams(limits.max_streams_per_connection as usize);
    let max_streams = limits.max_streams_per_connection;
    let idle = limits.idle_timeout;
    let negotiating = limits.max_negotiating_inbound_streams;
    let agent = format!("tacit/{}", env!("CARGO_PKG_VERSION"));

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
        });
    let Ok(builder) = builder.with_behaviour(|key| Behaviour {
        limits: connection_limits::Behaviour::new(connection_limits),
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
        stream: libp2p_stream::Behaviour::new(),
    });
    Ok(builder
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(idle)
                .with_max_negotiating_inbound_streams(negotiating)
        })
        .with_connection_timeout(limits.dial_timeout)
        .build())
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

/// The swarm task's state.
struct Task {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    /// False once the receiver is gone: events are then dropped.
    events_open: bool,
    /// Events waiting for room in `events` (at most `OUTBOX_CAPACITY` plus one swarm event's worth).
    outbox: VecDeque<NetEvent>,
    incoming: libp2p_stream::IncomingStreams,
    /// `Net::dial` calls waiting for their connection. Bounded by `max_pending_outgoing`: the
    /// connection limits refuse further dials at once, and every dial ends in an established
    /// connection or an error within the connection timeout.
    dials: HashMap<ConnectionId, (Multiaddr, oneshot::Sender<Result<PeerId, NetError>>)>,
    /// `Net::dial_peer` calls waiting for any connection to their peer (closed senders pruned).
    peer_waiters: HashMap<PeerId, Vec<oneshot::Sender<Result<(), NetError>>>>,
    /// The remote address of every established connection (bounded by `max_established`).
    connections: HashMap<PeerId, HashMap<ConnectionId, Multiaddr>>,
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
        let shutdown_reply = loop {
            let outbox_has_room = self.outbox.len() < OUTBOX_CAPACITY;
            tokio::select! {
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
                Some((peer, stream)) = self.incoming.next(), if outbox_has_room => {
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

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Dial { addr, reply } => {
                let opts = DialOpts::unknown_peer_id().address(addr.clone()).build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        debug!(%addr, "dialling");
                        self.dials.insert(id, (addr, reply));
                    }
                    Err(e) => {
                        debug!(%addr, error = %e, "dial refused at once");
                        let _ = reply.send(Err(NetError::Dial {
                            target: addr.to_string(),
                            reason: dial_reason(&e),
                        }));
                    }
                }
            }
            Command::DialPeer { peer, addrs, reply } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                let opts = if addrs.is_empty() {
                    DialOpts::peer_id(peer)
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build()
                } else {
                    DialOpts::peer_id(peer)
                        .addresses(addrs)
                        .extend_addresses_through_behaviour()
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build()
                };
                match self.swarm.dial(opts) {
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
            Command::Connected { reply } => {
                let list = self
                    .connections
                    .iter()
                    .map(|(peer, conns)| (*peer, conns.values().cloned().collect()))
                    .collect();
                let _ = reply.send(list);
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
                num_established,
                ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                let outbound = endpoint.is_dialer();
                debug!(peer = %peer_id, %addr, outbound, "connection established");
                self.connections
                    .entry(peer_id)
                    .or_default()
                    .insert(connection_id, addr.clone());
                if let Some((_, reply)) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                for waiter in self.peer_waiters.remove(&peer_id).unwrap_or_default() {
                    let _ = waiter.send(Ok(()));
                }
                if num_established.get() == 1 {
                    self.emit(NetEvent::Connected {
                        peer: peer_id,
                        addr,
                        outbound,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                debug!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "connection closed");
                if let Entry::Occupied(mut conns) = self.connections.entry(peer_id) {
                    conns.get_mut().remove(&connection_id);
                    if conns.get().is_empty() {
                        conns.remove();
                    }
                }
                if num_established == 0 {
                    self.emit(NetEvent::Disconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let reason = dial_reason(&error);
                debug!(peer = ?peer_id, %reason, "dial failed");
                if let Some((addr, reply)) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        target: addr.to_string(),
                        reason: reason.clone(),
                    }));
                }
                if let Some(peer) = peer_id
                    && !self.swarm.is_connected(&peer)
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
            SwarmEvent::NewListenAddr { address, .. } => {
                debug!(%address, "listening");
                self.emit(NetEvent::Listening { addr: address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                debug!(%address, "listen address expired");
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => match reason {
                Ok(()) => debug!(?addresses, "listener closed"),
                Err(e) => warn!(?addresses, error = %e, "listener failed"),
            },
            SwarmEvent::ListenerError { error, .. } => {
                warn!(error = %error, "listener error");
            }
            other => {
                tracing::trace!(event = ?other, "swarm event");
            }
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(
                identify::Event::Received { peer_id, info, .. }
                | identify::Event::Pushed { peer_id, info, .. },
            ) => {
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
            BehaviourEvent::Identify(identify::Event::Sent { .. }) => {}
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result,
            }) => match result {
                Ok(rtt) => tracing::trace!(%peer, ?rtt, "ping"),
                Err(ping::Failure::Timeout) => {
                    warn!(%peer, "ping timed out; closing the connection");
                    self.swarm.close_connection(connection);
                }
                Err(e) => debug!(%peer, error = %e, "ping failed"),
            },
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, addr) in found {
                    let addrs = by_peer.entry(peer).or_default();
                    if addrs.len() < MAX_ADDRS_PER_PEER {
                        addrs.push(addr);
                    }
                }
                for (peer, addrs) in by_peer {
                    debug!(%peer, ?addrs, "discovered on the LAN");
                    self.emit(NetEvent::Discovered { peer, addrs });
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(gone)) => {
                debug!(?gone, "mDNS records expired");
            }
            BehaviourEvent::Limits(never) => match never {},
            BehaviourEvent::Stream(()) => {}
        }
    }
}
