//! The numbers that bound the network layer, in one place.
//!
//! Every field has a default with the reason for its value. A node may tighten them (tests do), and
//! should loosen them only with a reason of the same kind.

use std::time::Duration;

/// Bounds on connections, streams, frames and waits. See [`Limits::default`] for the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Established connections in total, both directions.
    pub max_established: u32,
    /// Established connections to one peer.
    pub max_established_per_peer: u32,
    /// Inbound connections still in their handshake (TCP + Noise + Yamux, or QUIC/TLS).
    pub max_pending_incoming: u32,
    /// Outbound dials in progress.
    pub max_pending_outgoing: u32,
    /// Concurrent streams on one connection (Yamux `max_num_streams`, QUIC
    /// `max_concurrent_stream_limit`).
    pub max_streams_per_connection: u32,
    /// Inbound streams of one connection still negotiating their protocol.
    pub max_negotiating_inbound_streams: usize,
    /// How long a connection with no open stream stays up.
    pub idle_timeout: Duration,
    /// How long a dial (and an inbound handshake) may take before it fails.
    pub dial_timeout: Duration,
    /// How long [`Net::open_stream`](crate::Net::open_stream) may take, a dial included.
    pub open_stream_timeout: Duration,
    /// The largest frame on the sync stream, in bytes (see [`crate::codec`]).
    pub max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A home talks to the members of its spaces: an organisation's worth of devices plus a
            // relay or two. 128 is well above that and far below what a 2-core laptop can serve
            // (each connection costs a task, Noise/TLS state and Yamux/QUIC buffers).
            max_established: 128,
            // Two peers dialling each other at the same moment end up with two connections, and a
            // DCUtR hole punch adds a direct connection next to the relayed one before the relayed
            // one closes. 1 would make those races fail; 3 covers them and still stops one peer
            // from taking the whole pool.
            max_established_per_peer: 3,
            // Handshakes cost CPU (Diffie-Hellman, signatures); this caps what a flood of
            // half-open connections can make us spend at once.
            max_pending_incoming: 16,
            // A node dials its address book on start and the addresses a ticket or mDNS gives it;
            // 32 parallel dials is plenty and keeps file descriptors in check.
            max_pending_outgoing: 32,
            // Sync uses one stream per connection; identify, identify push and ping use one each
            // for a moment. 32 leaves room for retries and future protocols without letting a peer
            // open hundreds of streams (Yamux's default is 512, QUIC's 256).
            max_streams_per_connection: 32,
            // libp2p's default is 128; a peer that opens streams and never finishes negotiating
            // them gets 16.
            max_negotiating_inbound_streams: 16,
            // The sync stream keeps a connection to a member open as long as both run; a
            // connection without it (a probe, a failed session) goes after a minute.
            idle_timeout: Duration::from_secs(60),
            // TCP connect + Noise + Yamux, or QUIC's handshake, take milliseconds on a LAN and
            // well under a second across the Internet; 10 s allows for a slow relay and still
            // turns an unreachable address into an error quickly.
            dial_timeout: Duration::from_secs(10),
            // A dial (above) plus protocol negotiation (libp2p allows 10 s for that).
            open_stream_timeout: Duration::from_secs(20),
            // A frame carries one sync message; the largest is an Automerge sync message for one
            // document. 16 MiB holds any note a person writes (attachments are not in documents)
            // and bounds what a peer can make us buffer per stream.
            max_frame: 16 * 1024 * 1024,
        }
    }
}
