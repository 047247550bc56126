//! Connection slots kept for members: inbound connections from strangers (peers that are not in
//! the member set the node layer gives, [`crate::Net::set_members`]) are capped, so that no number
//! of strangers can take the slots of members.
//!
//! A small [`NetworkBehaviour`] that refuses a connection in
//! `handle_established_inbound_connection` (after the handshake, when the peer id is known) and
//! counts in `on_swarm_event`, which the swarm calls right after a connection was accepted by every
//! behaviour, so a connection refused further down is never counted.

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    fmt,
    task::{Context, Poll},
};

use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm, behaviour::ConnectionEstablished, dummy,
    },
};

/// Caps the inbound connections of strangers at `max_strangers`.
pub(crate) struct Gate {
    members: HashSet<PeerId>,
    max_strangers: u32,
    /// Every established inbound connection and its peer (bounded by the connection limits).
    inbound: HashMap<ConnectionId, PeerId>,
}

impl Gate {
    pub(crate) fn new(max_strangers: u32) -> Self {
        Self {
            members: HashSet::new(),
            max_strangers,
            inbound: HashMap::new(),
        }
    }

    /// Replaces the member set. Connections already up stay; the count of strangers follows the
    /// new set at once.
    pub(crate) fn set_members(&mut self, members: HashSet<PeerId>) {
        self.members = members;
    }

    /// Inbound connections of peers that are not members.
    pub(crate) fn strangers(&self) -> usize {
        self.inbound
            .values()
            .filter(|p| !self.members.contains(p))
            .count()
    }
}

/// Why a stranger's connection was refused (shows in the refused side's logs and errors).
#[derive(Debug)]
struct StrangerLimit {
    max: u32,
}

impl fmt::Display for StrangerLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this node already holds {} connections from peers that are not members of its spaces; \
             the remaining slots are kept for members",
            self.max
        )
    }
}

impl std::error::Error for StrangerLimit {}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if !self.members.contains(&peer) && self.strangers() >= self.max_strangers as usize {
            return Err(ConnectionDenied::new(StrangerLimit {
                max: self.max_strangers,
            }));
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) if endpoint.is_listener() => {
                self.inbound.insert(connection_id, peer_id);
            }
            FromSwarm::ConnectionClosed(closed) => {
                self.inbound.remove(&closed.connection_id);
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

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
