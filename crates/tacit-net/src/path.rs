//! libp2p-stream, wrapped for two jobs: direct connections before relayed ones, and a real queue
//! for inbound sync streams.
//!
//! # Inbound streams
//!
//! libp2p-stream hands inbound streams over a channel that holds one stream not yet taken, and
//! drops (resets) any other that arrives in that moment: a burst of members opening sync streams
//! at once lost some. [`Streams`] wraps each connection's handler and takes the inbound streams
//! of [`SYNC_PROTOCOL`](crate::SYNC_PROTOCOL) into a queue of its own
//! (`INBOUND_STREAM_QUEUE` in `transport`), before libp2p-stream sees them. Outbound streams,
//! and the list of protocols a connection accepts, stay libp2p-stream's.
//!
//! # Direct before relayed
//!
//! libp2p-stream opens an outbound stream on a connection it picks at random among the peer's
//! connections it has been told about (`FromSwarm::ConnectionEstablished` and `ConnectionClosed`),
//! and cannot be told which to prefer. [`Streams`] wraps it and, while a peer has a direct
//! connection, tells it that the peer's relayed connections have closed (and that they are back
//! when the last direct connection closes). The relayed connection itself stays up: streams
//! already on it (a sync session begun before the hole punch) go on, inbound streams on it are
//! still accepted, and once it carries no stream it closes after the idle timeout
//! ([`crate::Limits::idle_timeout`]) — or earlier when the relay's circuit limits end it. So a
//! stream opened while a direct connection exists always goes direct, and the relayed one fades
//! out without cutting anything.
//!
//! This relies on libp2p-stream 0.5 keeping its list of connections from those two swarm events
//! only (checked in its `behaviour.rs` and `shared.rs`); the loopback test
//! `streams_opened_after_the_hole_punch_survive_the_relay` would catch a change.

use std::{
    collections::HashMap,
    task::{Context, Poll},
};

use libp2p::{
    Multiaddr, PeerId, Stream, StreamProtocol,
    core::{ConnectedPoint, Endpoint, transport::PortUse},
    multiaddr::Protocol,
    swarm::{
        ConnectionClosed, ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent,
        ConnectionId, FromSwarm, NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
        behaviour::ConnectionEstablished,
        handler::{ConnectionEvent, FullyNegotiatedInbound},
    },
};
use tokio::sync::mpsc;
use tracing::warn;

/// libp2p-stream's connection handler.
type Inner = <libp2p_stream::Behaviour as NetworkBehaviour>::ConnectionHandler;

/// libp2p-stream, shown only the direct connections of a peer that has any, with inbound sync
/// streams taken into `inbound`.
pub(crate) struct Streams {
    inner: libp2p_stream::Behaviour,
    /// Where each connection's handler puts inbound streams of `protocol`.
    inbound: mpsc::Sender<(PeerId, Stream)>,
    protocol: StreamProtocol,
    /// Every established connection: its endpoint and whether libp2p-stream is told it is closed.
    /// Bounded by the connection limits.
    peers: HashMap<PeerId, HashMap<ConnectionId, Conn>>,
}

struct Conn {
    endpoint: ConnectedPoint,
    hidden: bool,
    /// Closing because it stopped answering: never shown again.
    abandoned: bool,
}

impl Streams {
    pub(crate) fn new(
        inner: libp2p_stream::Behaviour,
        protocol: StreamProtocol,
        inbound: mpsc::Sender<(PeerId, Stream)>,
    ) -> Self {
        Self {
            inner,
            inbound,
            protocol,
            peers: HashMap::new(),
        }
    }

    fn tap(&self, peer: PeerId, inner: Inner) -> TapHandler {
        TapHandler {
            inner,
            peer,
            protocol: self.protocol.clone(),
            inbound: self.inbound.clone(),
        }
    }

    /// The wrapped behaviour (for `new_control`).
    pub(crate) fn inner(&self) -> &libp2p_stream::Behaviour {
        &self.inner
    }

    /// Hides a connection that is closing because it stopped answering: a graceful close over a
    /// cut link can take minutes (its unsent data waits for TCP to give up), and meanwhile
    /// libp2p-stream would still open streams on it, which fail at once.
    pub(crate) fn abandon(&mut self, peer: PeerId, id: ConnectionId) {
        if let Some(conn) = self.peers.get_mut(&peer).and_then(|c| c.get_mut(&id)) {
            conn.abandoned = true;
            self.update(peer);
        }
    }

    /// Hides the relayed connections of `peer` from libp2p-stream while it has a direct one, and
    /// shows them again when it has none; hides abandoned connections for good.
    fn update(&mut self, peer: PeerId) {
        let Some(conns) = self.peers.get_mut(&peer) else {
            return;
        };
        let has_direct = conns
            .values()
            .any(|c| !c.abandoned && !c.endpoint.is_relayed());
        let mut visible = conns.values().filter(|c| !c.hidden).count();
        for (id, conn) in conns.iter_mut() {
            let hide = conn.abandoned || (conn.endpoint.is_relayed() && has_direct);
            if conn.hidden == hide {
                continue;
            }
            conn.hidden = hide;
            tracing::debug!(%peer, connection = %id, hidden = hide, abandoned = conn.abandoned, "connection shown to libp2p-stream");
            if hide {
                visible -= 1;
                self.inner
                    .on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
                        peer_id: peer,
                        connection_id: *id,
                        endpoint: &conn.endpoint,
                        cause: None,
                        remaining_established: visible,
                    }));
            } else {
                self.inner.on_swarm_event(FromSwarm::ConnectionEstablished(
                    ConnectionEstablished {
                        peer_id: peer,
                        connection_id: *id,
                        endpoint: &conn.endpoint,
                        failed_addresses: &[],
                        other_established: visible,
                    },
                ));
                visible += 1;
            }
        }
    }
}

impl NetworkBehaviour for Streams {
    type ConnectionHandler = TapHandler;
    type ToSwarm = <libp2p_stream::Behaviour as NetworkBehaviour>::ToSwarm;

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self
            .inner
            .handle_established_inbound_connection(id, peer, local, remote)?;
        Ok(self.tap(peer, inner))
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self
            .inner
            .handle_established_outbound_connection(id, peer, addr, role, port_use)?;
        Ok(self.tap(peer, inner))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.inner.on_swarm_event(event);
                self.peers.entry(e.peer_id).or_default().insert(
                    e.connection_id,
                    Conn {
                        endpoint: e.endpoint.clone(),
                        hidden: false,
                        abandoned: false,
                    },
                );
                self.update(e.peer_id);
            }
            FromSwarm::ConnectionClosed(e) => {
                // For a hidden connection libp2p-stream hears "closed" twice; it only removes the
                // connection from a map, so the second time is a no-op.
                self.inner.on_swarm_event(event);
                if let Some(conns) = self.peers.get_mut(&e.peer_id) {
                    conns.remove(&e.connection_id);
                    if conns.is_empty() {
                        self.peers.remove(&e.peer_id);
                    }
                }
                self.update(e.peer_id);
            }
            other => self.inner.on_swarm_event(other),
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer, id, event);
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}

/// libp2p-stream's handler of one connection, with inbound streams of the sync protocol taken
/// into the queue instead of libp2p-stream's one-slot channel.
pub(crate) struct TapHandler {
    inner: Inner,
    peer: PeerId,
    protocol: StreamProtocol,
    inbound: mpsc::Sender<(PeerId, Stream)>,
}

impl ConnectionHandler for TapHandler {
    type FromBehaviour = <Inner as ConnectionHandler>::FromBehaviour;
    type ToBehaviour = <Inner as ConnectionHandler>::ToBehaviour;
    type InboundProtocol = <Inner as ConnectionHandler>::InboundProtocol;
    type OutboundProtocol = <Inner as ConnectionHandler>::OutboundProtocol;
    type InboundOpenInfo = <Inner as ConnectionHandler>::InboundOpenInfo;
    type OutboundOpenInfo = <Inner as ConnectionHandler>::OutboundOpenInfo;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        self.inner.listen_protocol()
    }

    fn connection_keep_alive(&self) -> bool {
        self.inner.connection_keep_alive()
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<
        ConnectionHandlerEvent<Self::OutboundProtocol, Self::OutboundOpenInfo, Self::ToBehaviour>,
    > {
        self.inner.poll(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::ToBehaviour>> {
        self.inner.poll_close(cx)
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        self.inner.on_behaviour_event(event);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: (stream, protocol),
                ..
            }) if protocol == self.protocol => {
                // Full: the swarm task is that far behind; dropping resets the stream and the
                // peer retries later.
                if let Err(mpsc::error::TrySendError::Full(_)) =
                    self.inbound.try_send((self.peer, stream))
                {
                    warn!(peer = %self.peer, "too many inbound sync streams waiting; dropping one");
                }
            }
            other => self.inner.on_connection_event(other),
        }
    }
}

/// The relay of a relayed connection as its addresses show it: the `/p2p/RELAY` before
/// `/p2p-circuit` (a dialled circuit address has it; an inbound circuit's local address may not,
/// see [`relay_address_of`]).
pub(crate) fn relay_in_addr(addr: &Multiaddr) -> Option<PeerId> {
    let mut last_peer = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(peer) => last_peer = Some(peer),
            Protocol::P2pCircuit => return last_peer,
            _ => {}
        }
    }
    None
}

/// The address of the relay in a circuit address: everything before `/p2p-circuit`, without a
/// trailing `/p2p/…`. Matches the remote address of the direct connection to the relay.
pub(crate) fn relay_address_of(addr: &Multiaddr) -> Multiaddr {
    let mut out = Multiaddr::empty();
    for p in addr.iter() {
        if p == Protocol::P2pCircuit {
            break;
        }
        out.push(p);
    }
    without_peer(&out)
}

/// `addr` without a trailing `/p2p/…`.
pub(crate) fn without_peer(addr: &Multiaddr) -> Multiaddr {
    let mut out = addr.clone();
    if matches!(out.iter().last(), Some(Protocol::P2p(_))) {
        out.pop();
    }
    out
}

/// The peer of a `…/p2p/PEER` address.
pub(crate) fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use libp2p::{Multiaddr, PeerId};

    use super::{peer_of, relay_address_of, relay_in_addr, without_peer};

    fn addr(text: &str) -> Multiaddr {
        text.parse().expect("a valid multiaddr")
    }

    #[test]
    fn the_relay_of_a_circuit_address_is_the_peer_before_p2p_circuit() {
        let relay = PeerId::random();
        let target = PeerId::random();
        let dialled = addr(&format!(
            "/ip4/203.0.113.10/tcp/4001/p2p/{relay}/p2p-circuit/p2p/{target}"
        ));
        assert_eq!(relay_in_addr(&dialled), Some(relay));
        assert_eq!(
            relay_address_of(&dialled),
            addr("/ip4/203.0.113.10/tcp/4001")
        );
        assert_eq!(peer_of(&dialled), Some(target));
        // An inbound circuit's local address names no relay: it is found by address.
        let inbound = addr("/ip4/203.0.113.10/tcp/4001/p2p-circuit");
        assert_eq!(relay_in_addr(&inbound), None);
        assert_eq!(
            relay_address_of(&inbound),
            addr("/ip4/203.0.113.10/tcp/4001")
        );
        // A direct address is no circuit.
        assert_eq!(
            relay_in_addr(&addr(&format!("/ip4/192.0.2.2/tcp/1/p2p/{target}"))),
            None
        );
        assert_eq!(
            without_peer(&addr(&format!("/ip4/192.0.2.2/tcp/1/p2p/{target}"))),
            addr("/ip4/192.0.2.2/tcp/1")
        );
    }
}
