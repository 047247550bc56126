//! The vocabulary between sync sessions and the actor: what a session asks of the documents and
//! memberships the actor owns, and what the actor tells every session (local changes to push,
//! membership changes to offer).
//!
//! Sessions do the network I/O and the parallel work (loading received documents and checking
//! their signatures); the actor does everything that reads or changes the store, in order,
//! through the same group commit as a user's requests.

use std::collections::BTreeSet;
use std::sync::Arc;

use std::collections::HashMap;

use tacit_core::{
    ChangeSig, Doc, DocId, Kind, MemberId, NewChange, OpHash, SpaceId, Summary, Ticket, unsigned,
};

use tacit_net::recon::{Diff, Part};
use tacit_net::wire::{SpaceOffer, WholeDoc};

use crate::error::NodeError;

/// A sync session, numbered by the engine.
pub(crate) type SessionId = u64;

/// An Automerge sync message with the signatures of the changes it carries.
pub(crate) type SignedSync = (Vec<u8>, Vec<ChangeSig>);

/// A whole document received from a peer and checked off the actor's thread: it loads, its
/// changes are listed with their signatures checked, and what the index needs is read.
pub(crate) struct Loaded {
    pub(crate) id: DocId,
    /// The document, loaded (the actor keeps it in its cache once stored).
    pub(crate) doc: Doc,
    /// The bytes as received.
    pub(crate) data: Vec<u8>,
    pub(crate) summary: Summary,
    /// Every change of the document.
    pub(crate) changes: Vec<NewChange>,
    /// The signatures received with it.
    pub(crate) sigs: Vec<ChangeSig>,
    /// Changes without a valid signature by their author (checked in the space's scope, or in
    /// the profile scope for a profile).
    pub(crate) unsigned: BTreeSet<[u8; 32]>,
    /// What the index holds of it (read here, off the actor's thread).
    pub(crate) entry: Option<tacit_search::Entry>,
    /// What each member did in it (read here too).
    pub(crate) contributions: Option<Vec<tacit_core::people::Contribution>>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("id", &self.id)
            .field("changes", &self.changes.len())
            .field("unsigned", &self.unsigned.len())
            .finish_non_exhaustive()
    }
}

/// A session's request to the actor.
#[derive(Debug)]
pub(crate) enum ReplicaReq {
    /// The spaces to offer `peer`: those where it is a member in this node's view.
    Offers { peer: MemberId },
    /// The hashes of every op of `space`, if `peer` is a member of it.
    OpHashes { space: SpaceId, peer: MemberId },
    /// The ops of `space` among `hashes` (all of them when `None`), if `peer` is a member of it
    /// or was removed from it (the ops tell it so).
    Ops {
        space: SpaceId,
        peer: MemberId,
        hashes: Option<Vec<OpHash>>,
    },
    /// Ops received from `peer` for a space this node holds (others are ignored).
    AddOps {
        space: SpaceId,
        peer: MemberId,
        ops: Vec<Vec<u8>>,
    },
    /// A joiner's signed join op: admit it if it answers a usable invitation.
    Admit {
        space: SpaceId,
        peer: MemberId,
        op: Vec<u8>,
    },
    /// Signs this member's join op for a ticket.
    JoinOp { ticket: Box<Ticket> },
    /// The admitting member's ops arrived: record the space if they make this member a member.
    JoinComplete {
        ticket: Box<Ticket>,
        join: Vec<u8>,
        ops: Vec<Vec<u8>>,
    },
    /// The first reconciliation step for a space.
    ReconStart { space: SpaceId },
    /// Reconciliation steps from a peer.
    Recon {
        space: SpaceId,
        peer: MemberId,
        parts: Vec<Part>,
    },
    /// Whole documents of a space, for a member.
    Fetch {
        space: SpaceId,
        peer: MemberId,
        ids: Vec<DocId>,
        /// Documents the session sent already, with the heads hash they had: one still at it
        /// is not read again (a peer asking for it again gains nothing).
        served: Vec<(DocId, tacit_net::recon::HeadsHash)>,
    },
    /// Whole documents received and checked.
    Put {
        space: SpaceId,
        peer: MemberId,
        docs: Vec<Loaded>,
        origin: SessionId,
    },
    /// Changes to one document pushed live by a peer.
    Apply {
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        data: Vec<u8>,
        sigs: Vec<ChangeSig>,
        /// Changes the bytes hold without a signature (found off the actor): taken only if
        /// the document holds them already.
        unsigned: Vec<[u8; 32]>,
        origin: SessionId,
    },
    /// The next Automerge sync message for a document in this session.
    SyncOut {
        session: SessionId,
        space: SpaceId,
        id: DocId,
        /// The peer's heads hash, from reconciliation: primes a new sync state.
        theirs: Option<tacit_net::recon::HeadsHash>,
    },
    /// An Automerge sync message from the peer; the reply is the next message.
    SyncIn {
        session: SessionId,
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        msg: Vec<u8>,
        sigs: Vec<ChangeSig>,
        /// As for [`ReplicaReq::Apply`].
        unsigned: Vec<[u8; 32]>,
    },
    /// The session ended: forget its sync states.
    EndSession { session: SessionId },
    /// A peer was seen at these addresses. They are written to the address book only when
    /// `member` (the engine found the peer a member, and its limit on writes let them through:
    /// [`crate::sync::addrs::Booking`]) and the actor finds it one; otherwise they are kept in
    /// memory, bounded, and written once the peer becomes a member.
    SeenAt {
        peer: String,
        addrs: Vec<String>,
        member: bool,
    },
    /// The address book and the members to reach.
    Reconnect,
}

pub(crate) use tacit_net::session::Applied;

/// The actor's answer to a [`ReplicaReq`].
#[derive(Debug)]
pub(crate) enum ReplicaReply {
    Offers(Vec<SpaceOffer>),
    OpHashes(Vec<OpHash>),
    Ops(Vec<Vec<u8>>),
    /// Ops were added; `changed` when the membership changed, `missing` the ops this node
    /// still lacks (deps of what it holds).
    OpsAdded {
        changed: bool,
        missing: Vec<OpHash>,
    },
    Admitted,
    JoinOp(Vec<u8>),
    Joined {
        space: SpaceId,
        name: String,
    },
    Part(Part),
    Recon {
        replies: Vec<Part>,
        diff: Diff,
    },
    /// Whole documents with their heads hash (those served already as they are left out).
    Docs(Vec<(WholeDoc, tacit_net::recon::HeadsHash)>),
    /// Documents stored; `refused` were not, `later` wait for membership ops.
    Put {
        refused: usize,
        later: Vec<DocId>,
    },
    Applied(Applied),
    /// The next sync message with the signatures of the changes it carries (`None`: nothing to
    /// say, among others when this node now holds the heads the peer's message said the peer
    /// holds; see the session's `Reply::Sync`); `later` when the received one named membership
    /// ops this node lacks.
    Sync {
        msg: Option<SignedSync>,
        later: bool,
    },
    Done,
    Reconnect(Vec<(String, Vec<String>)>),
}

impl ReplicaReply {
    /// A sync message to send (`None`: nothing to say).
    pub(crate) fn sync(msg: Option<SignedSync>) -> Self {
        ReplicaReply::Sync { msg, later: false }
    }

    /// The reply in the session machine's terms (the engine's own replies, which no session
    /// asks for, as `Done`).
    pub(crate) fn into_session(self) -> tacit_net::session::Reply {
        use tacit_net::session::Reply;
        match self {
            ReplicaReply::Offers(o) => Reply::Offers(o),
            ReplicaReply::OpHashes(h) => Reply::OpHashes(h),
            ReplicaReply::Ops(o) => Reply::Ops(o),
            ReplicaReply::OpsAdded { changed, missing } => Reply::OpsAdded { changed, missing },
            ReplicaReply::Admitted => Reply::Admitted,
            ReplicaReply::Joined { space, name } => Reply::Joined { space, name },
            ReplicaReply::Part(p) => Reply::Part(p),
            ReplicaReply::Recon { replies, diff } => Reply::Recon { replies, diff },
            ReplicaReply::Docs(d) => Reply::Docs(d),
            ReplicaReply::Put { refused, later } => Reply::Stored { refused, later },
            ReplicaReply::Applied(a) => Reply::Applied(a),
            ReplicaReply::Sync { msg, later } => Reply::Sync { msg, later },
            ReplicaReply::Done | ReplicaReply::JoinOp(_) | ReplicaReply::Reconnect(_) => {
                Reply::Done
            }
        }
    }
}

/// What the actor tells every session.
#[derive(Debug, Clone)]
pub(crate) enum Replicated {
    /// A document of a shared space changed: push `data` (Automerge bytes) with its signatures
    /// to its members, except to the session it came from.
    Change {
        space: SpaceId,
        id: DocId,
        data: Arc<Vec<u8>>,
        sigs: Arc<Vec<ChangeSig>>,
        origin: Option<SessionId>,
    },
    /// A space's membership changed: offer again; `ops` is its whole op set, for peers that
    /// are no longer offered the space to learn why.
    Membership {
        space: SpaceId,
        ops: Arc<Vec<Vec<u8>>>,
    },
    /// This node's stored copy of a document of `space` does not load (a damaged disk): each
    /// session of the space asks its peer for the whole document, which replaces it.
    Repair { space: SpaceId, id: DocId },
}

/// A document's listing, its search entry (notes and questions) and its contributions.
pub(crate) type DocParts = (
    Summary,
    Option<tacit_search::Entry>,
    Option<Vec<tacit_core::people::Contribution>>,
);

/// A live note's [`DocParts`] from one read of its fields (`view`: the note, its body
/// included), as [`doc_parts`] gives them reading the fields again for each (checked against it
/// in debug builds). `changes`: every change of the note.
pub(crate) fn note_parts(
    doc: &mut Doc,
    view: tacit_core::NoteView,
    changes: &[tacit_core::NewChange],
    space: SpaceId,
    heads: [u8; 8],
) -> Result<DocParts, tacit_core::CoreError> {
    let summary = view.summary();
    let contributions = tacit_core::people::note_contributions(&view, changes);
    let entry =
        tacit_search::Entry::of_note(view, space, u64::from_be_bytes(heads), doc.attachments()?);
    let parts = (summary, Some(entry), Some(contributions));
    debug_assert_eq!(
        Some(&parts),
        doc_parts(doc, changes, space, heads).ok().as_ref()
    );
    Ok(parts)
}

/// A document's [`DocParts`], each read from it.
pub(crate) fn doc_parts(
    doc: &mut Doc,
    changes: &[tacit_core::NewChange],
    space: SpaceId,
    heads: [u8; 8],
) -> Result<DocParts, tacit_core::CoreError> {
    let summary = doc.summary()?;
    let entry = tacit_search::Entry::from_doc(doc, space, heads)
        .ok()
        .flatten();
    let contributions = doc.contributions_with(changes).ok();
    Ok((summary, entry, contributions))
}

/// Loads and checks a whole document received for `space`, off the actor's thread: it loads,
/// and which of its changes lack their author's signature.
pub(crate) fn load_whole(
    d: WholeDoc,
    space: SpaceId,
    me: MemberId,
) -> Result<Loaded, tacit_core::CoreError> {
    let mut doc = Doc::load(d.id, [d.data.as_slice()], me)?;
    let changes = doc.changes_since(&[]);
    let heads = doc.heads_hash();
    // The space is set by the actor (a document received for one space is only written there).
    let unset = SpaceId::from_bytes([0; 16]);
    // A live note (most of a first sync) is read once, body included, for its listing, search
    // entry and contributions alike; anything else, or a note whose view does not read, each
    // on its own.
    let note = if doc.kind()? == Kind::Note && !doc.is_deleted()? {
        doc.note().ok()
    } else {
        None
    };
    let (summary, entry, contributions) = match note {
        Some(view) => note_parts(&mut doc, view, &changes, unset, heads)?,
        None => doc_parts(&mut doc, &changes, unset, heads)?,
    };
    let scope = tacit_core::scope_of(summary.kind, space);
    let by_hash: HashMap<[u8; 32], ChangeSig> = d.sigs.iter().map(|s| (s.hash, *s)).collect();
    let bad = unsigned(scope, d.id, &changes, &by_hash);
    Ok(Loaded {
        id: d.id,
        doc,
        data: d.data,
        summary,
        changes,
        sigs: d.sigs,
        unsigned: bad,
        entry,
        contributions,
    })
}

/// Inflated bytes of received documents being loaded at once in the whole node (every session's
/// loads together): a few documents at the per-document limit
/// ([`tacit_core::chunks::MAX_INFLATED_BYTES`]), or thousands of ordinary notes. What a loaded
/// document costs grows with what it inflates to (an Automerge document, its body read out, its
/// bytes), so this bounds what peers' `Docs` frames make the node hold while they load, however
/// many sessions send them; a load past it waits for others to be handed to the actor.
pub(crate) const LOADING_BYTES: usize = 256 * 1024 * 1024;

/// Received documents are loaded and handed to the actor in batches of about this many inflated
/// bytes (a document larger than it alone): a frame of small notes is one batch, as it always
/// was, and a frame of large documents no longer holds all of them loaded at once.
pub(crate) const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// A `Docs` frame's documents, each with the bytes it inflates to, counted before any of them
/// loads (streamed, nothing kept): the frame is refused as a whole when they inflate past
/// [`tacit_net::wire::MAX_DOCS_INFLATED`] together or one of them past
/// [`tacit_core::chunks::MAX_INFLATED_BYTES`] (no honest node sends such a frame; the session
/// ends), and counting stops there. A document that is not Automerge data is left out (it
/// would not load).
pub(crate) fn measure_frame(docs: Vec<WholeDoc>) -> Result<Vec<(WholeDoc, u64)>, NodeError> {
    use tacit_core::chunks::{ChunkError, MAX_INFLATED_BYTES, check_inflation};
    use tacit_net::wire::MAX_DOCS_INFLATED;
    let mut total: u64 = 0;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let left = MAX_DOCS_INFLATED - total;
        match check_inflation(&d.data, left.min(MAX_INFLATED_BYTES)) {
            Ok(n) => {
                total += n;
                out.push((d, n));
            }
            Err(ChunkError::TooLarge) if left > MAX_INFLATED_BYTES => {
                return Err(NodeError::Invalid(format!(
                    "document {} inflates past {} MiB",
                    d.id,
                    MAX_INFLATED_BYTES / (1024 * 1024)
                )));
            }
            Err(ChunkError::TooLarge) => {
                return Err(NodeError::Invalid(format!(
                    "a frame of {} documents that inflate past {} MiB together",
                    out.len() + 1,
                    MAX_DOCS_INFLATED / (1024 * 1024)
                )));
            }
            Err(ChunkError::Malformed(why)) => {
                tracing::debug!(id = %d.id, "a received document is not Automerge data: {why}");
            }
        }
    }
    Ok(out)
}

/// Measured documents in batches of about [`BATCH_BYTES`] inflated bytes, in order.
pub(crate) fn batches(measured: Vec<(WholeDoc, u64)>) -> Vec<Vec<(WholeDoc, u64)>> {
    let mut out: Vec<Vec<(WholeDoc, u64)>> = Vec::new();
    let mut size = 0;
    for (d, n) in measured {
        match out.last_mut() {
            Some(batch) if size + n <= BATCH_BYTES => batch.push((d, n)),
            _ => {
                size = 0;
                out.push(vec![(d, n)]);
            }
        }
        size += n;
    }
    out
}

/// What a batch of measured documents holds while it loads, in bytes: what they inflate to and
/// their bytes as received.
pub(crate) fn loading_cost(batch: &[(WholeDoc, u64)]) -> u64 {
    batch
        .iter()
        .map(|(d, n)| n.saturating_add(d.data.len() as u64))
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable as _;

    /// Automerge bytes of a document holding `mib` MiB of one letter: a few KiB deflated.
    fn inflating(mib: usize) -> Vec<u8> {
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "body", "a".repeat(mib * 1024 * 1024))
            .unwrap();
        doc.save()
    }

    fn whole(data: &[u8]) -> WholeDoc {
        WholeDoc {
            id: DocId::random(),
            data: data.to_vec(),
            sigs: Vec::new(),
        }
    }

    #[test]
    fn a_frame_inflating_past_its_budget_is_refused_before_anything_loads() {
        let big = inflating(48);
        assert!(big.len() < 1024 * 1024, "{} bytes", big.len());
        // Two fit (96 MiB), with small ones and one that is no Automerge data (left out).
        let small = inflating(0);
        let frame = vec![
            whole(&big),
            whole(&big),
            whole(&small),
            whole(b"junk"),
            whole(&small),
        ];
        let measured = measure_frame(frame).unwrap();
        assert_eq!(measured.len(), 4);
        assert!(measured[0].1 >= 48 * 1024 * 1024);
        // A third is past 128 MiB together, although each is under the limit of one.
        let frame = vec![whole(&big), whole(&big), whole(&big)];
        let err = measure_frame(frame).unwrap_err();
        assert!(err.to_string().contains("together"), "{err}");
        // Loaded in batches: a large document alone, small ones together.
        let batched = batches(measured);
        assert_eq!(batched.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 2]);
        assert!(loading_cost(&batched[1]) >= 48 * 1024 * 1024);
        assert!(loading_cost(&batched[2]) < 64 * 1024);
        let smalls: Vec<(WholeDoc, u64)> = (0..100).map(|_| (whole(&small), 1000)).collect();
        assert_eq!(batches(smalls).len(), 1);
    }
}
