//! The vocabulary between sync sessions and the actor: what a session asks of the documents and
//! memberships the actor owns, and what the actor tells every session (local changes to push,
//! membership changes to offer).
//!
//! Sessions do the network I/O and the parallel work (loading received documents); the actor
//! does everything that reads or changes the store, in order, through the same group commit as
//! a user's requests.

use std::sync::Arc;

use tacit_core::{ChangeAuthor, DocId, MemberId, SpaceId, Summary, Ticket};
use tacit_net::recon::{Diff, Part};
use tacit_net::wire::{SpaceOffer, WholeDoc};

/// A sync session, numbered by the engine.
pub(crate) type SessionId = u64;

/// A whole document received from a peer and checked off the actor's thread: it loads, and its
/// summary, heads and change authors are known.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) id: DocId,
    pub(crate) data: Vec<u8>,
    pub(crate) summary: Summary,
    pub(crate) heads: [u8; 8],
    pub(crate) authors: Vec<ChangeAuthor>,
    /// What the search index holds of it (read here, off the actor's thread).
    pub(crate) entry: Option<tacit_search::Entry>,
}

/// A session's request to the actor.
#[derive(Debug)]
pub(crate) enum ReplicaReq {
    /// The spaces to offer `peer`: those where it is a member in this node's view.
    Offers { peer: MemberId },
    /// The membership ops of `space`, if `peer` is a member of it (or was removed from it).
    Ops { space: SpaceId, peer: MemberId },
    /// Ops received for a space this node holds (others are ignored).
    AddOps { space: SpaceId, ops: Vec<Vec<u8>> },
    /// A joiner's signed join op: admit it if it answers a usable invitation.
    Admit {
        space: SpaceId,
        peer: MemberId,
        op: Vec<u8>,
    },
    /// Signs this member's join op for a ticket.
    JoinOp { ticket: Box<Ticket> },
    /// The inviter's ops arrived: record the space if they make this member a member.
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
        origin: SessionId,
    },
    /// The next Automerge sync message for a document in this session.
    SyncOut {
        session: SessionId,
        space: SpaceId,
        id: DocId,
    },
    /// An Automerge sync message from the peer; the reply is the next message.
    SyncIn {
        session: SessionId,
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        msg: Vec<u8>,
    },
    /// The session ended: forget its sync states.
    EndSession { session: SessionId },
    /// A peer was seen at these addresses.
    SeenAt { peer: String, addrs: Vec<String> },
    /// The address book and the members to reach.
    Reconnect,
}

/// What applying a peer's changes to one document led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Applied (or nothing new).
    Done,
    /// The document is unknown here and the changes were not a whole document: ask for it.
    Want,
    /// Some changes wait for others this node lacks: run Automerge's sync for it.
    Sync,
    /// Refused: the author may not write, the document belongs elsewhere, or it is malformed.
    Refused,
}

/// The actor's answer to a [`ReplicaReq`].
#[derive(Debug)]
pub(crate) enum ReplicaReply {
    Offers(Vec<SpaceOffer>),
    Ops(Vec<Vec<u8>>),
    OpsAdded,
    Admitted,
    JoinOp(Vec<u8>),
    Joined { space: SpaceId, name: String },
    Part(Part),
    Recon { replies: Vec<Part>, diff: Diff },
    Docs(Vec<WholeDoc>),
    Put { refused: usize },
    Applied(Applied),
    Sync(Option<Vec<u8>>),
    Done,
    Reconnect(Vec<(String, Vec<String>)>),
}

/// What the actor tells every session.
#[derive(Debug, Clone)]
pub(crate) enum Replicated {
    /// A document of a shared space changed: push `data` (Automerge bytes) to its members,
    /// except to the session it came from.
    Change {
        space: SpaceId,
        id: DocId,
        data: Arc<Vec<u8>>,
        origin: Option<SessionId>,
    },
    /// A space's membership changed: offer again; `ops` is its whole op set, for peers that
    /// are no longer offered the space to learn why.
    Membership {
        space: SpaceId,
        ops: Arc<Vec<Vec<u8>>>,
    },
}
