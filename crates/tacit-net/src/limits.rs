//! The numbers that bound the network layer, in one place.
//!
//! Every field has a default with the reason for its value. A node may tighten them (tests do), and
//! should loosen them only with a reason of the same kind.

use std::time::Duration;

/// Bounds on connections, streams, frames and waits. See [`Limits::default`] for the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Established connections in total, both directions (a relay server has
    /// `relay_max_clients` more, for its clients).
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
    /// Inbound connections from peers that are not members (see
    /// [`Net::set_members`](crate::Net::set_members)), direct or relayed. The rest of
    /// `max_established` stays free for members and for this node's own dials.
    pub max_stranger_connections: u32,
    /// Of `max_stranger_connections`, how many one source may hold: one IPv4 address, or one
    /// IPv6 /64. A newcomer from a source at its cap is refused; relayed connections have no
    /// address of their own to count (their relay bounds each source address, see
    /// `relay_rate_burst_per_ip`). A relay server allows `relay_rate_burst_per_ip` more.
    pub max_stranger_connections_per_ip: u32,
    /// Whether `max_stranger_connections_per_ip` counts loopback sources too. Off by default: a
    /// process on this machine can connect from any of 127.0.0.0/8's 16 million addresses, so a
    /// per-address cap would not bound it. Tests of the cap turn it on and connect from
    /// several 127.0.0.x addresses.
    pub per_ip_cap_on_loopback: bool,
    /// When the stranger slots are full, a newcomer takes the slot of the oldest stranger
    /// connection at least this old (from the source holding the most), unless its peer is
    /// joining ([`Net::set_joining`](crate::Net::set_joining)); when none is that old, the
    /// newcomer is refused.
    pub stranger_eviction_age: Duration,
    /// Peers found on the LAN (mDNS) that are not members: how many new ones are passed on to be
    /// dialled per minute. Members found on the LAN are always passed on.
    pub max_lan_peers_per_minute: u32,
    /// Addresses passed on (and dialled) per peer found on the LAN, from those on the LAN or
    /// loopback at the announcing host's address.
    pub max_lan_addrs_per_peer: usize,
    /// Outbound connections, established or being dialled, to peers found on the LAN that are
    /// not members ([`Net::dial_lan`](crate::Net::dial_lan)).
    pub max_lan_strangers: u32,
    /// Relays a node uses at once ([`NetConfig::relays`](crate::NetConfig::relays) plus
    /// [`Net::add_relay`](crate::Net::add_relay)).
    pub max_relays: usize,
    /// How long a node waits before it asks a relay again after the relay refused a reservation,
    /// could not be reached, or dropped the connection.
    pub relay_retry: Duration,
    /// Relay server: inbound connections from relay clients (strangers), on top of
    /// `max_stranger_connections` and `max_established`, so that clients never take a member's slot.
    pub relay_max_clients: u32,
    /// Relay server: reservations held at once.
    pub relay_max_reservations: usize,
    /// Relay server: reservations of one peer at once.
    pub relay_max_reservations_per_peer: usize,
    /// Relay server: how long a reservation lasts; clients renew it before it ends.
    pub relay_reservation_duration: Duration,
    /// Relay server: circuits relayed at once.
    pub relay_max_circuits: usize,
    /// Relay server: circuits one peer takes part in at once (as source or destination).
    pub relay_max_circuits_per_peer: usize,
    /// Relay server: how long one circuit may last before the relay closes it.
    pub relay_max_circuit_duration: Duration,
    /// Relay server: bytes one circuit may carry (both directions together) before the relay
    /// closes it.
    pub relay_max_circuit_bytes: u64,
    /// Relay server: reservation requests, and separately circuit requests, one IP address may
    /// make in a burst (a token bucket of this size)…
    pub relay_rate_burst_per_ip: u32,
    /// …refilled by one token per this interval.
    pub relay_rate_refill_per_ip: Duration,
    /// AutoNAT: delay after start before the first reachability probe.
    pub autonat_boot_delay: Duration,
    /// AutoNAT: delay between probes while reachability is unknown or not yet certain.
    pub autonat_retry_interval: Duration,
    /// AutoNAT: delay between probes once reachability is certain.
    pub autonat_refresh_interval: Duration,
    /// AutoNAT server: dial-backs done for all peers per `autonat_throttle_period`.
    pub autonat_max_probes: usize,
    /// AutoNAT server: dial-backs done for one peer per `autonat_throttle_period`.
    pub autonat_max_probes_per_peer: usize,
    /// AutoNAT server: the period the two limits above count over.
    pub autonat_throttle_period: Duration,
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
            // A quarter of `max_established`: enough for the peers a node meets before the node
            // layer knows them as members (a joiner with a fresh ticket, LAN neighbours, probes),
            // while 96 slots stay free for members, so 200 strangers can never lock a member out.
            max_stranger_connections: 32,
            // An honest source holds one connection (two while a dial race settles), a NAT
            // with a few joiners behind it a few more. 4 of the 32 means filling the slots
            // takes 8 addresses, and a newcomer evicts from the source holding the most.
            max_stranger_connections_per_ip: 4,
            per_ip_cap_on_loopback: false,
            // A join (connect, join op, admission) takes well under a second on a LAN and a few
            // over a relay; once admitted the joiner is a member. 10 s keeps a newcomer's slot
            // while it joins, so that strangers arriving after it cannot take it, and lets it
            // evict a stranger that has held its slot longer.
            stranger_eviction_age: Duration::from_secs(10),
            // A LAN has a few Tacit nodes that are not members; mDNS announces each once per
            // query (every 5 minutes), so 8 a minute tries 40 of them in that time. A host that
            // announces thousands of peer ids gets 8 dials a minute.
            max_lan_peers_per_minute: 8,
            // A node listens on TCP and QUIC, sometimes over IPv4 and IPv6: 4 addresses reach it.
            max_lan_addrs_per_peer: 4,
            // Connections to LAN peers that are not members only serve to meet an inviter; they
            // close when idle. 8 is the per-minute rate above, and leaves the other 120 slots to
            // members, joins and relays.
            max_lan_strangers: 8,
            // One relay per organisation (or a public one) and a spare; each holds a connection
            // and a renewed reservation, so more would cost without helping.
            max_relays: 8,
            // Long enough not to hammer a full or rate-limited relay (its per-IP bucket refills
            // one token per `relay_rate_refill_per_ip`), short enough that a relay restart is
            // noticed within a minute.
            relay_retry: Duration::from_secs(30),
            // A relay server holds one connection per reservation and one per circuit source:
            // `relay_max_reservations` + `relay_max_circuits` + room for connections that only
            // ask AutoNAT or are about to reserve. 256 fits in the file descriptors and memory of
            // a small public box (each idle connection costs tens of KiB).
            relay_max_clients: 256,
            // An organisation's devices plus a few partner organisations: 128 reservations (an
            // idle reservation is a connection with no traffic but pings).
            relay_max_reservations: 128,
            // A node reserves once per relay; a reconnect before the old connection is noticed
            // dead makes a second. 4 covers that (libp2p's default) and stops one peer from
            // holding the pool.
            relay_max_reservations_per_peer: 4,
            // libp2p's default; the client renews before it ends, so this only bounds how long a
            // vanished client's slot stays taken when its connection is not noticed closed.
            relay_reservation_duration: Duration::from_secs(60 * 60),
            // Circuits are short-lived when hole punching works (seconds until the direct
            // connection is up); when it fails (port-randomising NATs) they carry sync. 32 at
            // once, each bounded in time and bytes below, is what a small box can forward.
            relay_max_circuits: 32,
            // Two members syncing with three others each through the relay, with a spare.
            relay_max_circuits_per_peer: 4,
            // When hole punching fails, sync runs over the circuit: 15 minutes lets a first sync
            // of a large space finish; after that the nodes open a new circuit (and try hole
            // punching again), so a stuck circuit does not hold a slot forever.
            relay_max_circuit_duration: Duration::from_secs(15 * 60),
            // A first sync of 10,000 notes moves about 30 MB; 64 MiB lets it finish over a
            // circuit and bounds what one circuit costs the relay's bandwidth. (libp2p's default,
            // 128 KiB, is meant for hole-punch signalling only.)
            relay_max_circuit_bytes: 64 * 1024 * 1024,
            // An organisation behind one NAT is one IP address: 64 lets all its devices reserve
            // (or open circuits) at once after a restart…
            relay_rate_burst_per_ip: 64,
            // …and after that one more every 10 s (360 an hour) stops a flood from one address.
            relay_rate_refill_per_ip: Duration::from_secs(10),
            // Enough for the relay connections and the first identify exchanges to be up (a probe
            // without a server waits a whole `autonat_retry_interval`).
            autonat_boot_delay: Duration::from_secs(5),
            // libp2p's default: a probe costs the server a dial, so not more often than this
            // while unsure.
            autonat_retry_interval: Duration::from_secs(90),
            // libp2p's default: once sure, check again every 15 minutes (a laptop moves between
            // networks; an inbound connection also counts as evidence in between).
            autonat_refresh_interval: Duration::from_secs(15 * 60),
            // A dial-back is a connection attempt from the server: 30 a minute bounds what a relay
            // spends (and how much it can be used to send SYNs elsewhere)…
            autonat_max_probes: 30,
            // …and a node probes one server every `autonat_retry_interval` at most, so 3 a
            // minute is plenty for one peer.
            autonat_max_probes_per_peer: 3,
            autonat_throttle_period: Duration::from_secs(60),
        }
    }
}
