//! The shared spaces a home holds, as the node keeps them in memory: each one's signed
//! membership ops and their fold ([`Shared`]), loaded from the store at start
//! ([`load_all`]), and the members the network keeps slots for ([`publish_members`]).

use std::collections::BTreeMap;

use tacit_core::{MemberId, Membership, SignedOp, SpaceError, SpaceId};
use tacit_store::{SpaceRow, Store};
use tracing::warn;

use crate::base::NodeInfo;

/// A shared space held by this home: its row, its signed ops and their fold.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) row: SpaceRow,
    pub(crate) ops: Vec<SignedOp>,
    pub(crate) membership: Membership,
    /// Made by an older Tacit: its documents are kept, but it no longer syncs (its ops are of
    /// the previous format, which this version does not trust).
    pub(crate) legacy: bool,
}

impl Shared {
    /// The space with `ops`, each held once (a joiner's set comes from frames that may repeat
    /// an op, its own join among them: held twice, it made the ops digest differ from every
    /// other member's until a restart, and each session exchanged op hashes for nothing).
    pub(crate) fn new(row: SpaceRow, mut ops: Vec<SignedOp>) -> Self {
        let mut seen = std::collections::HashSet::new();
        ops.retain(|o| seen.insert(o.hash()));
        let membership = Membership::fold(row.id, ops.iter());
        Self {
            row,
            ops,
            membership,
            legacy: false,
        }
    }

    /// Adds ops not held yet; true when the set grew.
    pub(crate) fn add(&mut self, new: impl IntoIterator<Item = SignedOp>) -> bool {
        let mut grew = false;
        for op in new {
            let hash = op.hash();
            if !self.ops.iter().any(|o| o.hash() == hash) {
                self.ops.push(op);
                grew = true;
            }
        }
        if grew {
            self.membership = Membership::fold(self.row.id, self.ops.iter());
        }
        grew
    }

    pub(crate) fn op_bytes(&self) -> Vec<Vec<u8>> {
        self.ops.iter().map(|o| o.to_bytes()).collect()
    }
}

/// Records every member of every space in `spaces` where the network can see them.
pub(crate) fn publish_members(info: &NodeInfo, spaces: &BTreeMap<SpaceId, Shared>) {
    let all: std::collections::HashSet<MemberId> = spaces
        .values()
        .filter(|s| !s.legacy && s.membership.is_member(&info.member))
        .flat_map(|s| s.membership.members().keys().copied())
        .collect();
    if let Ok(mut m) = info.members.lock()
        && *m != all
    {
        *m = all;
        info.members_changed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The shared spaces recorded in the store, with their ops. A space whose ops cannot be read
/// is left out (and logged): the rest of the home still works.
pub(crate) fn load_all(store: &Store) -> BTreeMap<SpaceId, Shared> {
    let rows = match store.spaces() {
        Ok(rows) => rows,
        Err(e) => {
            warn!("cannot read the spaces: {e}");
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    for row in rows.into_iter().filter(|r| !r.personal) {
        match store.ops(row.id) {
            Ok(raw) => {
                let decoded: Vec<Result<SignedOp, SpaceError>> =
                    raw.iter().map(|b| SignedOp::from_bytes(b)).collect();
                let legacy = decoded
                    .iter()
                    .any(|r| matches!(r, Err(SpaceError::Legacy { .. })));
                let ops: Vec<SignedOp> = decoded.into_iter().filter_map(Result::ok).collect();
                if ops.len() < raw.len() && !legacy {
                    warn!(space = %row.id, "{} stored ops do not decode; ignored", raw.len() - ops.len());
                }
                if legacy {
                    warn!(space = %row.id, name = %row.name, "a space made by an older Tacit: its notes are kept, but it no longer syncs; share them again in a new space");
                }
                let mut shared = Shared::new(row, ops);
                shared.legacy = legacy;
                out.insert(shared.row.id, shared);
            }
            Err(e) => warn!(space = %row.id, "cannot read the space's ops: {e}"),
        }
    }
    out
}
