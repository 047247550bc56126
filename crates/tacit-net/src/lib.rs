//! Tacit's network layer: libp2p transports (TCP + Noise + Yamux, QUIC), identify, ping, mDNS and
//! connection limits, run by one task behind the [`Net`] handle; the framing of the sync stream
//! ([`codec`]); and the wire types and set reconciliation of the sync protocol ([`wire`],
//! [`recon`]).
//!
//! Members behind NATs reach each other through a circuit relay (v2) that they reserve a slot on
//! while AutoNAT finds them not publicly reachable, then directly once a DCUtR hole punch
//! succeeds; a node can also serve as a relay ([`NetConfig::relay_server`]). [`NetEvent`] says
//! whether each connection is direct or relayed and when the path changes; [`Net::open_stream`]
//! prefers a direct connection. Connection slots are kept for members: strangers (peers outside
//! [`Net::set_members`]) get at most [`Limits::max_stranger_connections`] inbound connections.
//! See the `transport` module for the flow.
//!
//! It moves bytes and reports who is there. It must never decide what to sync or trust a peer's
//! claim about membership: that is `tacit-node`'s job, on top of [`NetEvent`] and
//! [`Net::open_stream`]. Every queue, connection count, stream count, relay slot and frame here
//! has a bound ([`Limits`]), and nothing a peer sends may panic the swarm task. A relay never
//! sees content: circuits carry Noise-encrypted connections end to end.
//!
//! A device is one identity in two encodings: its Ed25519 public key is the member id, and the
//! libp2p [`PeerId`] inlines the same key ([`peer_id_of`], [`member_of`]).

pub mod codec;
mod gate;
mod identity;
mod limits;
mod nat;
mod path;
pub mod recon;
pub mod session;
mod sibling;
mod transport;
pub mod wire;

pub use identity::{member_of, peer_id_of};
pub use libp2p::{Multiaddr, PeerId, Stream};
pub use libp2p_stream::IncomingStreams;
pub use limits::Limits;
pub use nat::{ConnectionInfo, Reachability, RelayInfo, RelayState};
pub use transport::{
    BLOB_PROTOCOL, IDENTIFY_PROTOCOL, Net, NetConfig, NetError, NetEvent, SYNC_PROTOCOL,
};
