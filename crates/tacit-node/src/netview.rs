//! The network as the sync engine last saw it: listen addresses, reachability, relays, connected
//! peers and the path to each, and which spaces each session shares and is still exchanging. The
//! engine writes it; status, listings and tickets read it.

use std::collections::{BTreeMap, BTreeSet};

use tacit_core::{MemberId, SpaceId};

use crate::api::{NetStatus, PeerInfo, RelayState, SyncState, Traffic, Via};

/// One connected peer.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerEntry {
    /// The member whose device it is, when its peer id is a member key.
    pub(crate) member: Option<MemberId>,
    /// Remote addresses of its connections.
    pub(crate) addrs: Vec<String>,
    /// The relay of the best path to it (its peer id); `None` while a direct connection is up.
    pub(crate) relay: Option<String>,
    /// Spaces both sides offered in the session.
    pub(crate) spaces: BTreeSet<SpaceId>,
    /// Spaces still being exchanged.
    pub(crate) syncing: BTreeSet<SpaceId>,
    /// The session's traffic.
    pub(crate) traffic: Traffic,
}

/// See the module doc.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetView {
    /// Whether the node has a network at all.
    pub(crate) running: bool,
    /// Where it listens (circuit addresses are in `network.relays`).
    pub(crate) listen: Vec<String>,
    /// Reachability, external addresses and relays.
    pub(crate) network: NetStatus,
    /// Connected peers by peer id.
    pub(crate) peers: BTreeMap<String, PeerEntry>,
    /// Members whose last sync session ended as hostile, with what they did: shown on the
    /// members list, so that an owner can see whom to remove.
    pub(crate) hostile: BTreeMap<MemberId, String>,
}

impl NetView {
    /// The addresses this node tells others to reach it at (tickets, and the addresses members
    /// share): confirmed external addresses, then listen addresses, then the circuit addresses
    /// of the relays holding a slot for it. Never anyone else's. Loopback and unspecified
    /// listen addresses are left out when there are others (they only help on this machine).
    pub(crate) fn advertised(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |a: &str| {
            if !out.iter().any(|o| o == a) {
                out.push(a.to_owned());
            }
        };
        for a in &self.network.external_addrs {
            push(a);
        }
        let listen: Vec<&String> = self.listen.iter().filter(|a| !is_circuit(a)).collect();
        let outside: Vec<&&String> = listen.iter().filter(|a| !is_local_only(a)).collect();
        if outside.is_empty() {
            listen.iter().for_each(|a| push(a));
        } else {
            outside.iter().for_each(|a| push(a));
        }
        for relay in &self.network.relays {
            if relay.state == RelayState::Reserved
                && let Some(circuit) = &relay.detail
            {
                push(circuit);
            }
        }
        out
    }

    /// The reachability, external addresses and relays.
    pub(crate) fn network(&self) -> NetStatus {
        self.network.clone()
    }

    /// Connected peers, for `status` and `peers`.
    pub(crate) fn peers(&self) -> Vec<PeerInfo> {
        self.peers
            .iter()
            .map(|(peer, e)| PeerInfo {
                peer: peer.clone(),
                member: e.member,
                via: if e.relay.is_some() {
                    Via::Relayed
                } else {
                    Via::Direct
                },
                relay: e.relay.clone(),
                addrs: e.addrs.clone(),
                spaces: e.spaces.iter().copied().collect(),
                traffic: e.traffic,
            })
            .collect()
    }

    /// How `member`'s device is connected: directly when any of its connections is direct.
    pub(crate) fn via(&self, member: MemberId) -> Option<Via> {
        let mut found = None;
        for e in self.peers.values().filter(|e| e.member == Some(member)) {
            if e.relay.is_none() {
                return Some(Via::Direct);
            }
            found = Some(Via::Relayed);
        }
        found
    }

    /// Why a member is not connected, in words that say what to do: no network; behind a NAT
    /// with no relay; the member's addresses unknown; or simply not reachable now.
    pub(crate) fn why_not(&self, known_addrs: bool) -> String {
        use crate::api::Reachability;
        if !self.running {
            return "offline: this app's network is not running".into();
        }
        let reserved = self
            .network
            .relays
            .iter()
            .any(|r| r.state == RelayState::Reserved);
        if self.network.reachability == Reachability::Private && !reserved {
            return if self.network.relays.is_empty() {
                "behind a NAT, no relay known — add one in Settings".into()
            } else {
                "behind a NAT, and no relay holds a slot for this device — see Settings".into()
            };
        }
        if known_addrs {
            "not reachable now: their device is off or offline; tried again every minute".into()
        } else {
            "no address known for them yet: they reach you when they next come online".into()
        }
    }

    /// Members whose device is connected.
    pub(crate) fn connected_members(&self) -> BTreeSet<MemberId> {
        self.peers.values().filter_map(|e| e.member).collect()
    }

    /// How many connected peers share `space`, and its sync state.
    pub(crate) fn space_state(&self, space: SpaceId) -> (u32, SyncState) {
        let sharing: Vec<&PeerEntry> = self
            .peers
            .values()
            .filter(|e| e.spaces.contains(&space))
            .collect();
        let n = u32::try_from(sharing.len()).unwrap_or(u32::MAX);
        let state = if sharing.is_empty() {
            SyncState::Offline
        } else if sharing.iter().any(|e| e.syncing.contains(&space)) {
            SyncState::Syncing
        } else {
            SyncState::UpToDate
        };
        (n, state)
    }
}

/// Whether a multiaddr goes through a relay.
pub(crate) fn is_circuit(addr: &str) -> bool {
    addr.contains("/p2p-circuit")
}

/// Whether a multiaddr can only be dialled from this machine (loopback) or names no address at
/// all (unspecified).
fn is_local_only(addr: &str) -> bool {
    ["/ip4/127.", "/ip6/::1/", "/ip4/0.0.0.0/", "/ip6/::/"]
        .iter()
        .any(|p| addr.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RelayInfo, RelaySource};

    fn relay(state: RelayState, detail: Option<&str>) -> RelayInfo {
        RelayInfo {
            peer: "R".into(),
            addr: "/ip4/203.0.113.10/tcp/4001/p2p/R".into(),
            state,
            detail: detail.map(str::to_owned),
            source: RelaySource::Configured,
        }
    }

    #[test]
    fn tickets_list_external_then_listen_then_circuit_addresses() {
        let circuit = "/ip4/203.0.113.10/tcp/4001/p2p/R/p2p-circuit/p2p/ME";
        let view = NetView {
            running: true,
            listen: vec![
                "/ip4/127.0.0.1/tcp/4001".into(),
                "/ip4/192.168.1.2/tcp/4001".into(),
                "/ip4/192.168.1.2/udp/4001/quic-v1".into(),
            ],
            hostile: BTreeMap::new(),
            network: NetStatus {
                external_addrs: vec!["/ip4/198.51.100.2/tcp/4001".into()],
                relays: vec![
                    relay(RelayState::Reserved, Some(circuit)),
                    relay(RelayState::Refused, Some("the relay is full")),
                ],
                ..NetStatus::default()
            },
            ..NetView::default()
        };
        assert_eq!(
            view.advertised(),
            vec![
                "/ip4/198.51.100.2/tcp/4001",
                "/ip4/192.168.1.2/tcp/4001",
                "/ip4/192.168.1.2/udp/4001/quic-v1",
                circuit,
            ]
        );
    }

    #[test]
    fn a_node_on_loopback_only_advertises_loopback() {
        let view = NetView {
            listen: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            ..NetView::default()
        };
        assert_eq!(view.advertised(), vec!["/ip4/127.0.0.1/tcp/4001"]);
    }
}
