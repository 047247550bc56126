//! What a node knows about getting through NATs: its reachability, its relays, the path of each
//! connection.

use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

/// Whether this node can be dialled from outside, as AutoNAT last found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// Another node dialled one of our addresses back: peers can connect directly.
    Public,
    /// Dial-backs failed: this node is behind a NAT or firewall; peers reach it through a relay
    /// (then, often, directly after a hole punch).
    Private,
    /// Not probed yet, or no node to probe with (AutoNAT needs a connected peer or a relay).
    #[default]
    Unknown,
}

impl Reachability {
    /// The lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reachability::Public => "public",
            Reachability::Private => "private",
            Reachability::Unknown => "unknown",
        }
    }
}

/// A relay this node uses, from [`crate::Net::relays`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayInfo {
    /// The relay's peer id.
    pub peer: PeerId,
    /// The relay's address as configured (ends in `/p2p/PEER`).
    pub addr: Multiaddr,
    /// Where the reservation stands.
    pub state: RelayState,
}

/// Where a reservation on a relay stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayState {
    /// Connecting to the relay, or waiting for its answer.
    Pending,
    /// The relay holds a slot for us: peers reach this node at `circuit_addr`. The reservation
    /// is renewed before it ends.
    Reserved {
        /// The circuit address, `…/p2p/RELAY/p2p-circuit/p2p/OUR_PEER_ID`, ready to dial.
        circuit_addr: Multiaddr,
    },
    /// The relay answered and refused; `reason` says why and what to do. Asked again after
    /// [`crate::Limits::relay_retry`].
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// The relay could not be reached, or the connection to it closed. Tried again after
    /// [`crate::Limits::relay_retry`].
    Unreachable {
        /// Why, in words.
        reason: String,
    },
    /// This node is publicly reachable, so it holds no reservation.
    NotNeeded,
}

/// One connection to a peer, from [`crate::Net::connected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The peer's address on this connection (a circuit address when relayed).
    pub addr: Multiaddr,
    /// The relay the connection goes through; `None` for a direct connection.
    pub relayed: Option<PeerId>,
    /// Whether this node dialled (a hole-punched connection counts as dialled on both sides).
    pub outbound: bool,
}

#[cfg(test)]
mod tests {
    use super::Reachability;

    #[test]
    fn reachability_is_lowercase_in_json() -> Result<(), serde_json::Error> {
        for (r, text) in [
            (Reachability::Public, "\"public\""),
            (Reachability::Private, "\"private\""),
            (Reachability::Unknown, "\"unknown\""),
        ] {
            assert_eq!(serde_json::to_string(&r)?, text);
            assert_eq!(serde_json::from_str::<Reachability>(text)?, r);
            assert_eq!(format!("\"{}\"", r.as_str()), text);
        }
        Ok(())
    }
}
