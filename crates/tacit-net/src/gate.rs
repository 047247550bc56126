//! Connection slots kept for members. Strangers (peers that are not in the member set the node
//! layer gives, [`crate::Net::set_members`]) share a small budget, so that no number of them can
//! take the slots of members:
//!
//! - **Inbound**: at most `max_stranger_connections`, and of those at most
//!   `max_stranger_connections_per_ip` from one source (an IPv4 address, an IPv6 /64). When the
//!   slots are full, a newcomer takes the slot of the oldest stranger connection of the source
//!   holding the most, if that connection is past `stranger_eviction_age` and its peer is not
//!   joining ([`crate::Net::set_joining`]); else it is refused. So peer ids, which cost nothing,
//!   do not add up: filling the slots takes many addresses, a source that holds more than others
//!   loses first, and a joiner keeps its slot while it joins.
//! - **Outbound to peers found on the LAN** ([`Lan`]): a few new peers a minute, a few addresses
//!   each, on the LAN at the announcing host's address; and at most `max_lan_strangers`
//!   connections to those that are not members (dials tagged by [`Gate::lan_dial`]).
//!
//! A small [`NetworkBehaviour`] that refuses a connection in `handle_established_*_connection`
//! (after the handshake, when the peer id is known) and counts in `on_swarm_event`, which the
//! swarm calls right after a connection was accepted by every behaviour, so a connection refused
//! further down is never counted. An evicted connection is closed from `poll` and counted as gone
//! at once.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    convert::Infallible,
    fmt,
    net::IpAddr,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    multiaddr::Protocol,
    swarm::{
        CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, DialFailure, FromSwarm,
        ListenFailure, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
        behaviour::ConnectionEstablished, dummy,
    },
};

use crate::{limits::Limits, path::relay_in_addr};

/// Where a stranger's inbound connection comes from: what the per-source cap counts and what
/// eviction compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// A direct connection from this IPv4 address, or from this IPv6 /64 (the address with its
    /// last 64 bits zero: one host is given a whole /64).
    Ip(IpAddr),
    /// Connections through this relay (`None` when its peer id is not in the address). The
    /// relay hides the address behind it, and bounds what one address asks of it.
    Relay(Option<PeerId>),
    /// No IP address in the connection's addresses.
    Unknown,
}

impl Source {
    /// The source of an inbound connection from its local and remote addresses.
    pub(crate) fn of(local: &Multiaddr, remote: &Multiaddr) -> Source {
        let relayed = [local, remote]
            .iter()
            .any(|a| a.iter().any(|p| p == Protocol::P2pCircuit));
        if relayed {
            return Source::Relay(relay_in_addr(local).or_else(|| relay_in_addr(remote)));
        }
        match remote.iter().next() {
            Some(Protocol::Ip4(ip)) => Source::Ip(IpAddr::V4(ip)),
            Some(Protocol::Ip6(ip)) => Source::Ip(match ip.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(ip) & !u128::from(u64::MAX)).into()),
            }),
            _ => Source::Unknown,
        }
    }

    fn is_loopback(&self) -> bool {
        matches!(self, Source::Ip(ip) if ip.is_loopback())
    }
}

/// The gate's numbers, from [`Limits`].
#[derive(Debug, Clone)]
pub(crate) struct Caps {
    /// Inbound stranger connections in all (a relay server's client budget included).
    pub(crate) max_strangers: u32,
    /// Inbound stranger connections from one source (see [`Source`]).
    pub(crate) per_source: u32,
    /// Whether `per_source` counts loopback sources.
    pub(crate) cap_loopback: bool,
    /// How old a stranger connection must be before a newcomer may take its slot.
    pub(crate) eviction_age: Duration,
    /// Outbound connections to peers found on the LAN that are not members.
    pub(crate) max_lan: u32,
}

impl Caps {
    /// The caps of a node with `limits`; a relay server (`relay_clients` > 0) has room for its
    /// clients on top, and lets one address hold as many as it may reserve in a burst.
    pub(crate) fn new(limits: &Limits, relay_clients: u32) -> Caps {
        let per_source_extra = if relay_clients > 0 {
            limits.relay_rate_burst_per_ip
        } else {
            0
        };
        Caps {
            max_strangers: limits
                .max_stranger_connections
                .saturating_add(relay_clients),
            per_source: limits
                .max_stranger_connections_per_ip
                .saturating_add(per_source_extra),
            cap_loopback: limits.per_ip_cap_on_loopback,
            eviction_age: limits.stranger_eviction_age,
            max_lan: limits.max_lan_strangers,
        }
    }
}

/// An inbound connection and where it came from.
#[derive(Debug, Clone)]
struct Inbound {
    peer: PeerId,
    source: Source,
    since: Instant,
    /// Order of arrival, for connections counted at the same instant.
    seq: u64,
}

/// Caps strangers' connections (see the module doc).
pub(crate) struct Gate {
    members: HashSet<PeerId>,
    /// Peers that are not members yet but are joining: their connections are never evicted.
    joining: HashSet<PeerId>,
    caps: Caps,
    /// Every established inbound connection (bounded by the connection limits).
    inbound: HashMap<ConnectionId, Inbound>,
    next_seq: u64,
    /// Inbound connections evicted and not closed yet: no longer counted, never chosen again.
    evicted: HashSet<ConnectionId>,
    /// Evicted connections for `poll` to close.
    to_close: VecDeque<(PeerId, ConnectionId)>,
    /// Dials of peers found on the LAN still under way (bounded by `max_pending_outgoing`).
    lan_dials: HashSet<ConnectionId>,
    /// Established connections that a LAN dial made, and their peers (at most `max_lan` of
    /// strangers; members' are not counted).
    lan: HashMap<ConnectionId, PeerId>,
    waker: Option<Waker>,
}

/// Why a connection was refused (shows in the refused side's logs and errors).
#[derive(Debug)]
enum Refusal {
    Full { max: u32 },
    Source { source: Source, max: u32 },
    Lan { max: u32 },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Full { max } => write!(
                f,
                "this node already holds {max} connections from peers that are not members of \
                 its spaces, none of which may be replaced yet; the remaining slots are kept \
                 for members"
            ),
            Refusal::Source { source, max } => write!(
                f,
                "this node already holds {max} connections from peers that are not members of \
                 its spaces from the same source ({source:?}); try again later"
            ),
            Refusal::Lan { max } => write!(
                f,
                "this node already holds {max} connections to peers found on the LAN that are \
                 not members of its spaces"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl Gate {
    pub(crate) fn new(caps: Caps) -> Self {
        Self {
            members: HashSet::new(),
            joining: HashSet::new(),
            caps,
            inbound: HashMap::new(),
            next_seq: 0,
            evicted: HashSet::new(),
            to_close: VecDeque::new(),
            lan_dials: HashSet::new(),
            lan: HashMap::new(),
            waker: None,
        }
    }

    /// Replaces the member set. Connections already up stay; the count of strangers follows the
    /// new set at once.
    pub(crate) fn set_members(&mut self, members: HashSet<PeerId>) {
        self.members = members;
    }

    /// Replaces the set of peers that are joining (never evicted).
    pub(crate) fn set_joining(&mut self, joining: HashSet<PeerId>) {
        self.joining = joining;
    }

    /// Whether `peer` is a member.
    pub(crate) fn is_member(&self, peer: &PeerId) -> bool {
        self.members.contains(peer)
    }

    /// Inbound connections of peers that are not members (evicted ones not counted).
    pub(crate) fn strangers(&self) -> usize {
        self.stranger_conns().count()
    }

    fn stranger_conns(&self) -> impl Iterator<Item = (&ConnectionId, &Inbound)> {
        self.inbound
            .iter()
            .filter(|(id, c)| !self.evicted.contains(id) && !self.members.contains(&c.peer))
    }

    /// Decides on an inbound connection of `peer` from `source` at `now`: accepted (when the
    /// slots are full, by evicting another: queued for `poll` to close) or refused.
    fn admit_inbound(
        &mut self,
        peer: &PeerId,
        source: Source,
        now: Instant,
    ) -> Result<(), Refusal> {
        if self.members.contains(peer) {
            return Ok(());
        }
        let mut per_source: HashMap<Source, u32> = HashMap::new();
        let mut total = 0u32;
        for (_, c) in self.stranger_conns() {
            *per_source.entry(c.source).or_default() += 1;
            total += 1;
        }
        let capped = match source {
            Source::Relay(_) => false,
            s if s.is_loopback() => self.caps.cap_loopback,
            _ => true,
        };
        if capped && per_source.get(&source).copied().unwrap_or(0) >= self.caps.per_source {
            return Err(Refusal::Source {
                source,
                max: self.caps.per_source,
            });
        }
        if total < self.caps.max_strangers {
            return Ok(());
        }
        // Full: the oldest connection of the source holding the most, among those old enough
        // and not joining.
        let victim = self
            .stranger_conns()
            .filter(|(_, c)| {
                !self.joining.contains(&c.peer)
                    && now.saturating_duration_since(c.since) >= self.caps.eviction_age
            })
            .max_by_key(|(_, c)| {
                let held = per_source.get(&c.source).copied().unwrap_or(0);
                (held, std::cmp::Reverse((c.since, c.seq)))
            })
            .map(|(id, c)| (*id, c.peer));
        let Some((id, victim)) = victim else {
            return Err(Refusal::Full {
                max: self.caps.max_strangers,
            });
        };
        tracing::debug!(%victim, newcomer = %peer, ?source, "stranger slots full: evicting the oldest stranger connection of the fullest source");
        self.evicted.insert(id);
        self.to_close.push_back((victim, id));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// Counts an established inbound connection.
    fn inbound_established(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        source: Source,
        now: Instant,
    ) {
        self.next_seq += 1;
        self.inbound.insert(
            id,
            Inbound {
                peer,
                source,
                since: now,
                seq: self.next_seq,
            },
        );
    }

    fn closed(&mut self, id: ConnectionId) {
        self.inbound.remove(&id);
        self.evicted.remove(&id);
        self.lan_dials.remove(&id);
        self.lan.remove(&id);
    }

    /// Connections to peers found on the LAN that are not members, established or being dialled.
    fn lan_strangers(&self) -> usize {
        self.lan
            .values()
            .filter(|p| !self.members.contains(p))
            .count()
    }

    /// Whether a dial of `peer`, found on the LAN, fits the budget now.
    pub(crate) fn lan_room(&self, peer: &PeerId) -> bool {
        self.members.contains(peer)
            || self.lan_strangers() + self.lan_dials.len() < self.caps.max_lan as usize
    }

    /// [`Caps::max_lan`].
    pub(crate) fn max_lan(&self) -> u32 {
        self.caps.max_lan
    }

    /// Tags the dial `id` as one of a peer found on the LAN: its connection counts against the
    /// LAN budget while its peer is not a member.
    pub(crate) fn lan_dial(&mut self, id: ConnectionId) {
        self.lan_dials.insert(id);
    }

    /// A tagged dial that did not start.
    pub(crate) fn lan_dial_dropped(&mut self, id: ConnectionId) {
        self.lan_dials.remove(&id);
    }

    fn admit_outbound(&mut self, id: ConnectionId, peer: &PeerId) -> Result<(), Refusal> {
        if self.lan_dials.contains(&id)
            && !self.members.contains(peer)
            && self.lan_strangers() >= self.caps.max_lan as usize
        {
            self.lan_dials.remove(&id);
            return Err(Refusal::Lan {
                max: self.caps.max_lan,
            });
        }
        Ok(())
    }

    fn outbound_established(&mut self, id: ConnectionId, peer: PeerId) {
        if self.lan_dials.remove(&id) {
            self.lan.insert(id, peer);
        }
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.admit_inbound(&peer, Source::of(local, remote), Instant::now())
            .map_err(ConnectionDenied::new)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.admit_outbound(id, &peer)
            .map_err(ConnectionDenied::new)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                if endpoint.is_listener() {
                    let source = match endpoint {
                        libp2p::core::ConnectedPoint::Listener {
                            local_addr,
                            send_back_addr,
                        } => Source::of(local_addr, send_back_addr),
                        libp2p::core::ConnectedPoint::Dialer { .. } => Source::Unknown,
                    };
                    self.inbound_established(connection_id, peer_id, source, Instant::now());
                } else {
                    self.outbound_established(connection_id, peer_id);
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. })
            | FromSwarm::DialFailure(DialFailure { connection_id, .. })
            | FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.closed(connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some((peer_id, id)) = self.to_close.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(id),
            });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Which peers found on the LAN (mDNS) are passed on to be dialled, and at which addresses.
/// mDNS answers are anyone's to send on the LAN, each naming as many peer ids and addresses as
/// fit: members are always passed on, other peers at most `per_minute` new ones a minute, each
/// with at most `max_addrs` addresses from [`lan_addrs`].
pub(crate) struct Lan {
    per_minute: usize,
    max_addrs: usize,
    /// Peers that are not members passed on within the last minute, oldest first (at most
    /// `per_minute`).
    recent: VecDeque<(Instant, PeerId)>,
}

/// The window `Lan::per_minute` counts over.
const LAN_WINDOW: Duration = Duration::from_secs(60);

impl Lan {
    pub(crate) fn new(limits: &Limits) -> Lan {
        Lan {
            per_minute: limits.max_lan_peers_per_minute as usize,
            max_addrs: limits.max_lan_addrs_per_peer,
            recent: VecDeque::new(),
        }
    }

    /// Of what one mDNS event found (peer and address pairs), the peers to dial and their
    /// addresses, in the order found. `is_member` says which peers are members.
    pub(crate) fn plan(
        &mut self,
        now: Instant,
        found: Vec<(PeerId, Multiaddr)>,
        is_member: impl Fn(&PeerId) -> bool,
    ) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut by_peer: Vec<(PeerId, Vec<Multiaddr>)> = Vec::new();
        for (peer, addr) in found {
            match by_peer.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, addrs)) => addrs.push(addr),
                None => by_peer.push((peer, vec![addr])),
            }
        }
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= LAN_WINDOW)
        {
            self.recent.pop_front();
        }
        let mut plan = Vec::new();
        for (peer, addrs) in by_peer {
            let addrs = lan_addrs(&peer, &addrs, self.max_addrs);
            if addrs.is_empty() {
                tracing::debug!(%peer, "found on the LAN at no address on the LAN; not dialled");
                continue;
            }
            if !is_member(&peer) && !self.recent.iter().any(|(_, p)| *p == peer) {
                if self.recent.len() >= self.per_minute {
                    tracing::debug!(%peer, "found on the LAN past this minute's budget of peers that are not members; not dialled");
                    continue;
                }
                self.recent.push_back((now, peer));
            }
            plan.push((peer, addrs));
        }
        plan
    }
}

/// The addresses of `peer` found on the LAN that are worth a dial, at most `max`: a TCP or QUIC
/// address (nothing else, no relay circuit) at a LAN or loopback IP (private, link-local,
/// unique-local, loopback: never a global one), at the IP of the first such address (mDNS puts
/// the announcing host's address in every address it found: one announcement, one host), without
/// the trailing `/p2p/` (which must name `peer`).
pub(crate) fn lan_addrs(peer: &PeerId, found: &[Multiaddr], max: usize) -> Vec<Multiaddr> {
    let mut out: Vec<Multiaddr> = Vec::new();
    let mut host: Option<IpAddr> = None;
    for addr in found {
        if out.len() >= max {
            break;
        }
        let mut parts = addr.iter();
        let ip = match parts.next() {
            Some(Protocol::Ip4(ip)) => IpAddr::V4(ip),
            Some(Protocol::Ip6(ip)) => IpAddr::V6(ip),
            _ => continue,
        };
        if !is_lan_ip(ip) || host.is_some_and(|h| h != ip) {
            continue;
        }
        let mut clean = Multiaddr::empty().with(Protocol::from(ip));
        let transport_ok = match (parts.next(), parts.next()) {
            (Some(Protocol::Tcp(port)), next) if port != 0 => {
                clean.push(Protocol::Tcp(port));
                match next {
                    None => true,
                    Some(Protocol::P2p(p)) => p == *peer && parts.next().is_none(),
                    _ => false,
                }
            }
            (Some(Protocol::Udp(port)), Some(Protocol::QuicV1)) if port != 0 => {
                clean.push(Protocol::Udp(port));
                clean.push(Protocol::QuicV1);
                match parts.next() {
                    None => true,
                    Some(Protocol::P2p(p)) => p == *peer && parts.next().is_none(),
                    _ => false,
                }
            }
            _ => false,
        };
        if transport_ok && !out.contains(&clean) {
            host = Some(ip);
            out.push(clean);
        }
    }
    out
}

/// Whether `ip` is on a LAN or this host: never routed on the Internet.
fn is_lan_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_lan_ip(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    // fc00::/7, unique local
                    || first & 0xfe00 == 0xfc00
                    // fe80::/10, link-local
                    || first & 0xffc0 == 0xfe80
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max: u32, per_source: u32) -> Caps {
        Caps {
            max_strangers: max,
            per_source,
            cap_loopback: false,
            eviction_age: Duration::from_secs(10),
            max_lan: 2,
        }
    }

    fn ip(text: &str) -> Source {
        Source::Ip(text.parse().expect("an IP"))
    }

    /// A gate and a clock, driven as the swarm does: decide, then count what was accepted.
    struct Rig {
        gate: Gate,
        now: Instant,
        next_id: usize,
    }

    impl Rig {
        fn new(caps: Caps) -> Rig {
            Rig {
                gate: Gate::new(caps),
                now: Instant::now(),
                next_id: 0,
            }
        }

        fn later(&mut self, by: Duration) {
            self.now += by;
        }

        /// A stranger with a fresh peer id connects from `source`: its connection and peer, or
        /// the refusal.
        fn connect(&mut self, source: Source) -> Result<(ConnectionId, PeerId), Refusal> {
            self.connect_as(PeerId::random(), source)
        }

        fn connect_as(
            &mut self,
            peer: PeerId,
            source: Source,
        ) -> Result<(ConnectionId, PeerId), Refusal> {
            self.gate.admit_inbound(&peer, source, self.now)?;
            self.next_id += 1;
            let id = ConnectionId::new_unchecked(self.next_id);
            self.gate.inbound_established(id, peer, source, self.now);
            Ok((id, peer))
        }

        /// The connections the gate asked to close (and closes them, as the swarm would).
        fn evicted(&mut self) -> Vec<ConnectionId> {
            let ids: Vec<ConnectionId> = self.gate.to_close.drain(..).map(|(_, id)| id).collect();
            for id in &ids {
                self.gate.closed(*id);
            }
            ids
        }
    }

    #[test]
    fn one_address_holds_at_most_its_share_of_the_stranger_slots() {
        let mut rig = Rig::new(caps(32, 4));
        let attacker = ip("192.168.1.66");
        let held = (0..100).filter(|_| rig.connect(attacker).is_ok()).count();
        assert_eq!(held, 4, "fresh peer ids from one address");
        assert!(matches!(
            rig.connect(attacker),
            Err(Refusal::Source { max: 4, .. })
        ));
        // Another address still gets in, and members are never counted.
        assert!(rig.connect(ip("192.168.1.7")).is_ok());
        let member = PeerId::random();
        rig.gate.set_members(HashSet::from([member]));
        for _ in 0..8 {
            assert!(rig.connect_as(member, attacker).is_ok(), "a member");
        }
        assert_eq!(rig.gate.strangers(), 5);
        assert!(rig.evicted().is_empty());
    }

    #[test]
    fn an_ipv6_host_counts_as_one_source_for_its_whole_slash_64() {
        let mut rig = Rig::new(caps(32, 4));
        let mut held = 0;
        for i in 1..=20u16 {
            let remote: Multiaddr = format!("/ip6/2001:db8:1:2::{i:x}/tcp/4001")
                .parse()
                .unwrap();
            let source = Source::of(&"/ip6/::/tcp/1".parse().unwrap(), &remote);
            held += usize::from(rig.connect(source).is_ok());
        }
        assert_eq!(held, 4, "addresses of one /64");
        let other: Multiaddr = "/ip6/2001:db8:1:3::1/tcp/4001".parse().unwrap();
        let source = Source::of(&"/ip6/::/tcp/1".parse().unwrap(), &other);
        assert!(rig.connect(source).is_ok(), "another /64");
        let mapped: Multiaddr = "/ip6/::ffff:192.0.2.1/tcp/1".parse().unwrap();
        assert_eq!(
            Source::of(&Multiaddr::empty(), &mapped),
            ip("192.0.2.1"),
            "an IPv4-mapped address is its IPv4 address"
        );
    }

    #[test]
    fn loopback_is_capped_only_when_asked() {
        let mut rig = Rig::new(caps(32, 4));
        let lo = ip("127.0.0.1");
        assert_eq!((0..10).filter(|_| rig.connect(lo).is_ok()).count(), 10);
        let mut rig = Rig::new(Caps {
            cap_loopback: true,
            ..caps(32, 4)
        });
        assert_eq!((0..10).filter(|_| rig.connect(lo).is_ok()).count(), 4);
    }

    #[test]
    fn full_slots_go_to_a_newcomer_by_evicting_the_oldest_stranger() {
        let mut rig = Rig::new(caps(4, 4));
        let mut first = Vec::new();
        for i in 1..=4 {
            first.push(rig.connect(ip(&format!("10.0.0.{i}"))).expect("room").0);
            rig.later(Duration::from_secs(1));
        }
        // Too young to be evicted: the newcomer is refused.
        assert!(matches!(
            rig.connect(ip("10.0.0.9")),
            Err(Refusal::Full { max: 4 })
        ));
        rig.later(Duration::from_secs(10));
        let (newcomer, _) = rig.connect(ip("10.0.0.9")).expect("evicts the oldest");
        assert_eq!(rig.evicted(), vec![first[0]], "the oldest goes");
        assert_eq!(rig.gate.strangers(), 4);
        // The newcomer keeps its slot while it is young: the next evicts the next oldest.
        rig.connect(ip("10.0.0.10"))
            .expect("evicts the second oldest");
        assert_eq!(rig.evicted(), vec![first[1]]);
        assert!(rig.gate.inbound.contains_key(&newcomer));
    }

    #[test]
    fn eviction_takes_from_the_source_holding_the_most_not_from_an_honest_joiner() {
        let mut rig = Rig::new(caps(8, 4));
        // The honest joiner came first: the oldest connection of all.
        let (joiner, _) = rig.connect(ip("192.168.1.20")).expect("room");
        rig.later(Duration::from_secs(1));
        // The attacker fills the rest from three addresses, 4 + 2 + 1.
        let mut heavy = Vec::new();
        for _ in 0..4 {
            heavy.push(rig.connect(ip("192.168.1.66")).expect("room").0);
            rig.later(Duration::from_secs(1));
        }
        for _ in 0..2 {
            rig.connect(ip("192.168.1.67")).expect("room");
        }
        rig.connect(ip("192.168.1.68")).expect("room");
        rig.later(Duration::from_secs(30));
        // New attacker connections from fresh addresses evict, over and over: each takes the
        // oldest of the source holding the most (.66 until it holds as few as .67), never the
        // older connection of the joiner, whose address holds one. Only an attacker holding
        // one slot per address, as many addresses as slots, reaches the joiner's (by then a
        // member: admitted within `eviction_age`).
        for (round, want) in heavy.iter().take(3).enumerate() {
            rig.connect(ip(&format!("192.168.1.{}", 100 + round)))
                .expect("evicts");
            assert_eq!(rig.evicted(), vec![*want], "round {round}");
            rig.later(Duration::from_secs(30));
        }
        rig.connect(ip("192.168.1.103")).expect("evicts");
        let gone = rig.evicted();
        assert_eq!(gone.len(), 1);
        assert_ne!(gone[0], heavy[3], ".67 holds two, .66 one now");
        assert!(rig.gate.inbound.contains_key(&joiner), "the joiner stays");
    }

    #[test]
    fn a_joining_peer_is_never_evicted() {
        let mut rig = Rig::new(caps(2, 4));
        let (joiner_conn, joiner) = rig.connect(ip("10.0.0.1")).expect("room");
        rig.gate.set_joining(HashSet::from([joiner]));
        rig.later(Duration::from_secs(1));
        let (other, _) = rig.connect(ip("10.0.0.2")).expect("room");
        rig.later(Duration::from_secs(60));
        rig.connect(ip("10.0.0.3"))
            .expect("evicts the one not joining");
        assert_eq!(rig.evicted(), vec![other]);
        rig.later(Duration::from_secs(60));
        rig.connect(ip("10.0.0.4"))
            .expect("evicts the previous newcomer");
        assert!(rig.gate.inbound.contains_key(&joiner_conn));
        // Only joiners left: a newcomer is refused.
        let mut rig = Rig::new(caps(1, 4));
        let (_, joiner) = rig.connect(ip("10.0.0.1")).expect("room");
        rig.gate.set_joining(HashSet::from([joiner]));
        rig.later(Duration::from_secs(60));
        assert!(matches!(
            rig.connect(ip("10.0.0.2")),
            Err(Refusal::Full { .. })
        ));
    }

    #[test]
    fn relayed_strangers_are_one_source_per_relay_and_not_capped_per_address() {
        let relay = PeerId::random();
        let local: Multiaddr = format!("/ip4/203.0.113.10/tcp/4001/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap();
        let remote: Multiaddr = format!("/p2p/{}", PeerId::random()).parse().unwrap();
        let source = Source::of(&local, &remote);
        assert_eq!(source, Source::Relay(Some(relay)));
        let mut rig = Rig::new(caps(8, 4));
        let relayed: Vec<ConnectionId> = (0..6)
            .map(|_| rig.connect(source).expect("room").0)
            .collect();
        let direct = rig.connect(ip("192.0.2.1")).expect("room").0;
        rig.later(Duration::from_secs(30));
        rig.connect(ip("192.0.2.2")).expect("room");
        // Full: the relay holds the most, so its oldest goes before the older direct ones.
        rig.connect(ip("192.0.2.3")).expect("evicts");
        assert_eq!(rig.evicted(), vec![relayed[0]]);
        assert!(rig.gate.inbound.contains_key(&direct));
    }

    #[test]
    fn a_relay_server_lets_one_address_hold_its_burst_of_clients() {
        let limits = Limits::default();
        let caps = Caps::new(&limits, limits.relay_max_clients);
        assert_eq!(
            caps.per_source,
            limits.max_stranger_connections_per_ip + limits.relay_rate_burst_per_ip
        );
        assert_eq!(
            Caps::new(&limits, 0).per_source,
            limits.max_stranger_connections_per_ip
        );
    }

    #[test]
    fn outbound_connections_to_lan_strangers_stay_within_their_budget() {
        let mut gate = Gate::new(caps(32, 4));
        let member = PeerId::random();
        gate.set_members(HashSet::from([member]));
        let mut established = Vec::new();
        for i in 1..=2 {
            let peer = PeerId::random();
            assert!(gate.lan_room(&peer));
            let id = ConnectionId::new_unchecked(i);
            gate.lan_dial(id);
            gate.admit_outbound(id, &peer).expect("within the budget");
            gate.outbound_established(id, peer);
            established.push(id);
        }
        let peer = PeerId::random();
        assert!(!gate.lan_room(&peer), "no room for a third stranger");
        assert!(gate.lan_room(&member), "members are not counted");
        // A dial already under way is refused at its handshake.
        let id = ConnectionId::new_unchecked(10);
        gate.lan_dial(id);
        assert!(matches!(
            gate.admit_outbound(id, &peer),
            Err(Refusal::Lan { max: 2 })
        ));
        // Untagged dials (a ticket's address, a member, a relay) are not counted.
        let untagged = ConnectionId::new_unchecked(11);
        gate.admit_outbound(untagged, &peer)
            .expect("not a LAN dial");
        // A closed connection makes room.
        gate.closed(established[0]);
        assert!(gate.lan_room(&peer));
    }

    fn addr(text: &str) -> Multiaddr {
        text.parse().expect("a multiaddr")
    }

    #[test]
    fn only_lan_addresses_at_the_announcing_host_are_dialled() {
        let peer = PeerId::random();
        let other = PeerId::random();
        let found = vec![
            addr("/ip4/8.8.8.8/tcp/4001"),      // global: a reflection
            addr("/dns4/example.com/tcp/4001"), // a name
            addr(&format!("/ip4/192.168.1.5/tcp/4001/p2p/{other}")), // another peer's
            addr("/ip4/192.168.1.5/tcp/0"),     // no port
            addr("/ip4/192.168.1.5/tcp/4001/ws"), // not TCP or QUIC
            addr(&format!(
                "/ip4/192.168.1.5/tcp/4001/p2p/{other}/p2p-circuit/p2p/{peer}"
            )),
            addr(&format!("/ip4/192.168.1.5/tcp/4001/p2p/{peer}")),
            addr(&format!("/ip4/192.168.1.5/udp/4001/quic-v1/p2p/{peer}")),
            addr("/ip4/192.168.1.9/tcp/4001"), // another host on the LAN
            addr("/ip4/192.168.1.5/tcp/4001"), // the same again
            addr("/ip4/192.168.1.5/tcp/4002"),
            addr("/ip4/192.168.1.5/tcp/4003"),
            addr("/ip4/192.168.1.5/tcp/4004"),
        ];
        assert_eq!(
            lan_addrs(&peer, &found, 4),
            vec![
                addr("/ip4/192.168.1.5/tcp/4001"),
                addr("/ip4/192.168.1.5/udp/4001/quic-v1"),
                addr("/ip4/192.168.1.5/tcp/4002"),
                addr("/ip4/192.168.1.5/tcp/4003"),
            ]
        );
        for lan in ["10.1.2.3", "172.16.0.1", "127.0.0.1", "169.254.1.1"] {
            let a = addr(&format!("/ip4/{lan}/tcp/1"));
            assert_eq!(lan_addrs(&peer, std::slice::from_ref(&a), 4), vec![a]);
        }
        for lan in ["::1", "fd12::1", "fe80::1"] {
            let a = addr(&format!("/ip6/{lan}/tcp/1"));
            assert_eq!(lan_addrs(&peer, std::slice::from_ref(&a), 4), vec![a]);
        }
        for global in [
            "/ip6/2001:db8::1/tcp/1",
            "/ip4/100.64.0.1/tcp/1",
            "/ip4/0.0.0.0/tcp/1",
        ] {
            assert!(lan_addrs(&peer, &[addr(global)], 4).is_empty(), "{global}");
        }
    }

    #[test]
    fn a_few_new_lan_peers_a_minute_are_dialled_and_members_always() {
        let limits = Limits {
            max_lan_peers_per_minute: 3,
            max_lan_addrs_per_peer: 2,
            ..Limits::default()
        };
        let mut lan = Lan::new(&limits);
        let member = PeerId::random();
        let start = Instant::now();
        // One announcement with 50 fresh peer ids, 32 addresses each, and a member.
        let mut found = Vec::new();
        let strangers: Vec<PeerId> = (0..50).map(|_| PeerId::random()).collect();
        for peer in &strangers {
            for port in 0..32 {
                found.push((
                    *peer,
                    addr(&format!("/ip4/192.168.1.66/tcp/{}", 4000 + port)),
                ));
            }
        }
        found.push((member, addr("/ip4/192.168.1.5/tcp/4001")));
        let plan = lan.plan(start, found.clone(), |p| *p == member);
        let peers: Vec<PeerId> = plan.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            peers,
            vec![strangers[0], strangers[1], strangers[2], member]
        );
        assert!(plan.iter().all(|(_, a)| a.len() <= 2), "{plan:?}");
        // Within the minute: the same peers again (new addresses) pass, new ones do not.
        let again = lan.plan(start + Duration::from_secs(30), found.clone(), |p| {
            *p == member
        });
        let peers: Vec<PeerId> = again.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            peers,
            vec![strangers[0], strangers[1], strangers[2], member]
        );
        // A minute on, three more.
        let later: Vec<(PeerId, Multiaddr)> = found
            .into_iter()
            .filter(|(p, _)| !strangers[..3].contains(p))
            .collect();
        let plan = lan.plan(start + Duration::from_secs(61), later, |p| *p == member);
        let peers: Vec<PeerId> = plan.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            peers,
            vec![strangers[3], strangers[4], strangers[5], member]
        );
    }
}
