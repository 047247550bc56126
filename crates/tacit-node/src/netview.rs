//! The network as the sync engine last saw it: listen addresses, connected peers, and which
//! spaces each session shares and is still exchanging. The engine writes it; status, listings
//! and tickets read it.

use std::collections::{BTreeMap, BTreeSet};

use tacit_core::{MemberId, SpaceId};

use crate::api::{PeerInfo, SyncState, Traffic};

/// One connected peer.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerEntry {
    /// The member whose device it is, when its peer id is a member key.
    pub(crate) member: Option<MemberId>,
    /// Remote addresses of its connections.
    pub(crate) addrs: Vec<String>,
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
    /// Where it listens.
    pub(crate) listen: Vec<String>,
    /// Connected peers by peer id.
    pub(crate) peers: BTreeMap<String, PeerEntry>,
}

impl NetView {
    /// The addresses this node tells others to reach it at (tickets): where it listens.
    pub(crate) fn advertised(&self) -> Vec<String> {
        self.listen.clone()
    }

    /// Connected peers, for `status` and `peers`.
    pub(crate) fn peers(&self) -> Vec<PeerInfo> {
        self.peers
            .iter()
            .map(|(peer, e)| PeerInfo {
                peer: peer.clone(),
                member: e.member,
                addrs: e.addrs.clone(),
                spaces: e.spaces.iter().copied().collect(),
                traffic: e.traffic,
            })
            .collect()
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
