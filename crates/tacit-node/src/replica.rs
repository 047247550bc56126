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
