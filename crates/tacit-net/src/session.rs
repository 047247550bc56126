//! One sync session's protocol steps, as a state machine with no I/O and no clock: it takes an
//! [`Input`] (a message from the peer, the answer to its last question, a local change, a
//! command, a tick) and returns the [`Output`]s to carry out in order (messages to send,
//! questions for the node that owns the documents, documents to load, a join's outcome, the
//! session's end).
//!
//! The driver (`tacit-node`'s session task) feeds it: it reads and writes frames, answers each
//! [`Ask`] before it feeds anything else (a session does one thing at a time, as its async
//! form did), loads received documents in parallel and reports them stored
//! ([`Input::Stored`]), and asks for [`Input::Serve`] while the peer reads fast enough. A test
//! or a simulation drives it the same way, without sockets or tasks.
//!
//! What a peer can make a session hold is bounded: documents asked for ([`MAX_SERVING`], each
//! queued once until it is sent), spaces offered ([`MAX_OFFERS_KEPT`]), documents waiting for
//! membership ops ([`MAX_LATER`]), ops asked for once each, ranges asked about
//! ([`crate::recon::MAX_OPEN`]), and refused changes ([`MAX_STRIKES`] before the session ends
//! as hostile). So is what it can make a session do again: a reconciliation part is compared
//! only when it answers a question of this side's or starts an exchange ([`RESTARTS`] at a time,
//! [`MAX_UNASKED`] others settled unread), and each membership op, and the list of their
//! hashes, is sent once per session unless this side's set changed (an op asked for again with
//! `WantOps` is a strike).
//!
//! The flow of one session: both sides say `Hello` with the spaces they offer the peer; a
//! space both offered is *active*: its membership ops are exchanged when their digests differ,
//! its documents are reconciled (one side starts, [`starts_reconciliation`], and sends its first
//! step with its hello), documents one side lacks are sent whole (`Have`/`Want`/`Docs`),
//! documents both hold with different heads run Automerge's sync (`Sync`/`Synced`), and from
//! then on local changes are pushed live (`Change`). When the space's ops change on this side,
//! the new ones are pushed and its documents are reconciled again (a removal can change which
//! documents a side holds).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use sha2::Digest as _;
use tacit_core::{ChangeSig, DocId, OpHash, Screened, SpaceId, Ticket};

use crate::recon::{Asked, Diff, HeadsHash, Part, Prefix, Received};
use crate::wire::{
    MAX_DOCS, MAX_DOCS_INFLATED, MAX_IDS, MAX_OP_HASHES, MAX_OPS, MAX_PARTS, MemberAddrs, Message,
    SpaceOffer, VERSION, WholeDoc,
};

/// Documents fetched per `Docs` frame.
pub const DOCS_PER_FRAME: usize = 64;
/// Documents asked for and not yet sent: a space's worth. A peer asking for more is hostile.
pub const MAX_SERVING: usize = 200_000;
/// Spaces a peer offered that a session remembers (a space is activated when both sides
/// offered it, in either order): far more spaces than anyone shares, and a bound on what a
/// peer offering without end can make this node hold.
pub const MAX_OFFERS_KEPT: usize = 4096;
/// Documents waiting for membership ops, to sync again once they arrive.
pub const MAX_LATER: usize = 4096;
/// Changes refused before they reach the node (forged signatures, malformed bytes) that a
/// session takes before it ends as hostile. An honest node sends none (it keeps none), so a few
/// allow for a bug without letting a peer make this node check forgeries for ever.
pub const MAX_STRIKES: u32 = 8;
/// Pushed changes the node's rules refused (signed, but not the author's to write: a demoted
/// member's, or breaking a claim) that a session takes before it ends as hostile. An honest
/// peer sends a few around a removal or demotion it had not heard of; each costs the node a
/// rebuild of the document, so a peer sending them without end is cut off.
pub const MAX_REFUSED_BY_RULES: u32 = 64;

/// Whether this node, rather than `peer`, opens the sync stream when the dialer of their
/// connection did not (the dialer opens it at once: the other side learns of a connection half a
/// round trip later), and which stream stays when both opened one at once (each dialled the
/// other): one stream per pair of peers, the smaller peer id's. Older nodes (sync protocol 4)
/// open by this rule alone, so they keep syncing with newer ones.
pub fn opens_stream(me: &libp2p::PeerId, peer: &libp2p::PeerId) -> bool {
    me < peer
}

/// Whether a new sync stream with `peer` replaces the one a session runs on (`opened`: this
/// node opened the stream, for each): when both sides opened one at once, the stream the smaller
/// peer id opened stays, so that both sides keep the same one whichever came first.
pub fn new_stream_replaces(
    me: &libp2p::PeerId,
    peer: &libp2p::PeerId,
    new_opened: bool,
    running_opened: bool,
) -> bool {
    let smaller_opened = |opened: bool| opened == opens_stream(me, peer);
    smaller_opened(new_opened) && !smaller_opened(running_opened)
}

/// Whether this side starts reconciliation (a [`Session`]'s `first`), given whether it
/// `opened` the stream: the side that accepted it starts, as it may write as soon as the stream
/// arrives, half a round trip before the opener may (it waits for the protocol's confirmation).
/// Exactly one side of a stream accepted it, so exactly one side starts.
pub fn starts_reconciliation(opened: bool) -> bool {
    !opened
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum End {
    /// The peer said `Bye`, with its reason.
    #[error("the peer closed the session: {0}")]
    Bye(String),
    /// The peer did what no honest node does.
    #[error("{0}")]
    Hostile(String),
    /// This node failed (its store, say): not the peer's doing.
    #[error("{0}")]
    Failed(String),
    /// The session shares no space and joins none.
    #[error("{0}")]
    Idle(String),
    /// The node stopped (or a question could not reach it).
    #[error("the node stopped")]
    Stopped,
}

/// What change bytes are screened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// A push's changes (or whole document).
    Change,
    /// An Automerge sync message.
    Sync,
}

/// A question for the node that owns the documents and memberships (or, for
/// [`Ask::Screen`], work to do off the session's thread). The peer and the session are the
/// driver's to add.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for what they carry
pub enum Ask {
    /// The spaces to offer the peer.
    Offers,
    /// The hashes of every op of a space.
    OpHashes { space: SpaceId },
    /// The ops of a space among `hashes` (all of them when `None`).
    Ops {
        space: SpaceId,
        hashes: Option<Vec<OpHash>>,
    },
    /// Ops received from the peer.
    AddOps { space: SpaceId, ops: Vec<Vec<u8>> },
    /// A joiner's signed join op.
    Admit { space: SpaceId, op: Vec<u8> },
    /// The admitting member's ops arrived (so far): complete this device's join.
    JoinComplete {
        ticket: Box<Ticket>,
        join: Vec<u8>,
        ops: Vec<Vec<u8>>,
    },
    /// The first reconciliation step for a space.
    ReconStart { space: SpaceId },
    /// Reconciliation steps from the peer.
    Recon { space: SpaceId, parts: Vec<Part> },
    /// Whole documents to send; those in `served` still at that heads hash are left out.
    Fetch {
        space: SpaceId,
        ids: Vec<DocId>,
        served: Vec<(DocId, HeadsHash)>,
    },
    /// Changes to one document pushed by the peer (screened).
    Apply {
        space: SpaceId,
        id: DocId,
        data: Vec<u8>,
        sigs: Vec<ChangeSig>,
        unsigned: Vec<[u8; 32]>,
    },
    /// The next Automerge sync message for a document; `theirs` primes a new sync state.
    SyncOut {
        space: SpaceId,
        id: DocId,
        theirs: Option<HeadsHash>,
    },
    /// An Automerge sync message from the peer (screened); the answer is the next message.
    SyncIn {
        space: SpaceId,
        id: DocId,
        msg: Vec<u8>,
        sigs: Vec<ChangeSig>,
        unsigned: Vec<[u8; 32]>,
    },
    /// Screen change bytes before any document sees them (`tacit_core::screen` or
    /// `screen_sync`, in `space`'s scope and the profile scope); answered with
    /// [`Reply::Screened`], which gives the bytes back.
    Screen {
        space: SpaceId,
        id: DocId,
        carrier: Carrier,
        bytes: Vec<u8>,
        sigs: Vec<ChangeSig>,
    },
}

/// What applying a peer's changes to one document led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied (or nothing new).
    Done,
    /// The document is unknown here and the changes were not a whole document: ask for it.
    Want,
    /// Some changes wait for others this node lacks: run Automerge's sync for it.
    Sync,
    /// Some changes name membership ops this node lacks: sync the document again once they
    /// arrive.
    Later,
    /// Refused: the author may not write, the document belongs elsewhere, or it is malformed.
    Refused,
}

/// An answer to an [`Ask`] (or to [`Output::Load`]).
#[derive(Debug)]
#[allow(missing_docs)] // fields named for what they carry
pub enum Reply {
    /// The spaces to offer the peer.
    Offers(Vec<SpaceOffer>),
    /// A space's op hashes.
    OpHashes(Vec<OpHash>),
    /// Signed ops.
    Ops(Vec<Vec<u8>>),
    /// `changed` when the membership changed, `missing` the ops still lacking.
    OpsAdded { changed: bool, missing: Vec<OpHash> },
    /// The joiner was admitted.
    Admitted,
    /// This device joined.
    Joined { space: SpaceId, name: String },
    /// A first reconciliation step.
    Part(Part),
    /// What to answer the peer's reconciliation steps with, and the differences they showed.
    Recon { replies: Vec<Part>, diff: Diff },
    /// Whole documents with their heads hash.
    Docs(Vec<(WholeDoc, HeadsHash)>),
    /// Documents stored; `refused` were not, `later` wait for membership ops.
    Stored { refused: usize, later: Vec<DocId> },
    /// What applying a push led to.
    Applied(Applied),
    /// The next sync message with the signatures of the changes it carries, or `None` when the
    /// document needs nothing more from the peer (among others when, the peer's message applied,
    /// this side holds exactly the heads the peer said it holds: the session then answers
    /// `Synced`, and neither side waits for more); `later` when the received one named
    /// membership ops this node lacks.
    Sync {
        msg: Option<(Vec<u8>, Vec<ChangeSig>)>,
        later: bool,
    },
    /// The screen's verdict, with the bytes and signatures screened.
    Screened {
        verdict: Screened,
        bytes: Vec<u8>,
        sigs: Vec<ChangeSig>,
    },
    /// Done, nothing to say.
    Done,
}

/// Whose doing a failed [`Ask`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Not allowed or not there: skipped.
    Refused,
    /// The node stopped.
    Stopped,
    /// The peer's data is invalid: the session ends as hostile.
    Peer,
    /// This node failed: the session ends.
    Node,
}

/// A failed [`Ask`]: its class, and the error itself (given back to the driver for a join).
#[derive(Debug)]
pub struct AskError {
    /// Whose doing it was.
    pub class: Class,
    /// The error.
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl AskError {
    /// An error of `class`.
    pub fn new(class: Class, error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            class,
            error: error.into(),
        }
    }
}

/// The answer to an [`Ask`].
pub type Answer = Result<Reply, AskError>;

/// How a join this session carried ended.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for what they carry
pub enum JoinOutcome {
    /// This device is a member of `space`, named `name`.
    Joined { space: SpaceId, name: String },
    /// The member refused (its reason).
    Refused(String),
    /// The node could not complete it.
    Failed(AskError),
    /// The session ended first.
    Closed,
    /// The node answered with something else.
    Unexpected,
}

/// What the driver feeds the session.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for what they carry
pub enum Input {
    /// A message from the peer.
    Message(Message),
    /// The answer to the [`Output::Ask`] the session emitted last.
    Answer(Answer),
    /// A change made on this node (or received from another session), to push if its space is
    /// active. The driver leaves out changes that came from this session.
    Local {
        space: SpaceId,
        id: DocId,
        data: Arc<Vec<u8>>,
        sigs: Arc<Vec<ChangeSig>>,
    },
    /// A space's membership changed on this node; `ops` is its whole op set (for a peer that is
    /// no longer offered the space to learn why).
    Membership {
        space: SpaceId,
        ops: Arc<Vec<Vec<u8>>>,
    },
    /// This node's copy of a document does not load: ask the peer for it whole, if the space
    /// is active (the copy that arrives replaces it).
    Repair { space: SpaceId, id: DocId },
    /// The driver missed local changes: offer and reconcile again.
    Lagged,
    /// Join a space through this peer.
    Join { ticket: Box<Ticket>, op: Vec<u8> },
    /// Tell the peer where these members can be reached.
    Addrs(Vec<MemberAddrs>),
    /// Documents of an [`Output::Load`] were loaded and stored (or failed).
    Stored {
        space: SpaceId,
        ids: Vec<DocId>,
        answer: Answer,
    },
    /// The peer reads fast enough: send the next documents queued.
    Serve,
    /// The idle grace passed without a shared space or a join.
    IdleTimeout,
    /// A [`TICK`] passed: the peer may start reconciling each shared space once more.
    Tick,
    /// Whoever asked for the join stopped waiting for it (it timed out): the session no longer
    /// counts as in use for it, and ends after the idle grace unless it shares a space. An
    /// inviter that keeps the join going without admitting this device does not keep the
    /// session.
    JoinGivenUp,
}

/// What the driver carries out, in order.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for what they carry
pub enum Output {
    /// Send a message to the peer.
    Send(Message),
    /// Ask the node; answer with [`Input::Answer`] before feeding anything else. Always the
    /// last output of a step.
    Ask(Ask),
    /// Load these documents (off the session's thread), check them and store them; report with
    /// [`Input::Stored`].
    Load { space: SpaceId, docs: Vec<WholeDoc> },
    /// Address records the peer sent, for the node to check and keep.
    PeerAddrs(Vec<MemberAddrs>),
    /// A join this session carried ended.
    Join(JoinOutcome),
    /// A message of changes was refused (logged by the driver).
    Refused(String),
    /// The session ended; nothing more is emitted.
    End(End),
}

/// Reconciliations of a space the peer may start in a session before it has to wait for more
/// ([`Progress::restarts`]): its first step, and one start again (after a membership change, or
/// when its node fell behind its own changes). One more is allowed each time this node sees the
/// space's membership change in the session (the peer starts again after each, as this side
/// does) and each [`TICK`], up to this many at once. A start past them waits for the next (only
/// the latest is kept): a peer starting again and again with a fingerprint that claims to hold
/// nothing no longer has this side announce its whole set each time.
pub const RESTARTS: u8 = 2;

/// How often the driver feeds [`Input::Tick`]: a peer's start of reconciliation that waited
/// is taken at most this much later. Short, since an honest peer's start may wait too (one
/// after a path change and a join in quick succession): a start held a minute held back a
/// note made meanwhile; a start every 10 s is still far from what a replaying peer wanted.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(10);

/// Parts about ranges this side did not ask about ([`crate::recon::Received::Unasked`]) that a
/// session takes: each is answered with `Same` and compared with nothing. An honest peer sends
/// one only when its answer crosses a new start of this side's, a few in a session; a peer
/// replaying answers is cut off past this.
pub const MAX_UNASKED: usize = 4 * MAX_PARTS;

/// Most characters of a peer's own words (a `Bye` or `JoinRefused` reason) kept: they go to
/// the log and to the user, and a frame may carry 16 MiB of them.
const PEER_WORDS_MAX: usize = 200;

/// A peer's reason as kept: at most [`PEER_WORDS_MAX`] characters, control characters as
/// spaces.
fn peer_words(reason: &str) -> String {
    let mut out: String = reason
        .chars()
        .take(PEER_WORDS_MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if reason.chars().nth(PEER_WORDS_MAX).is_some() {
        out.push('…');
    }
    out
}

/// Per-space progress of the exchange.
#[derive(Debug)]
struct Progress {
    /// Ranges this side asked about and awaits an answer for.
    asked: Asked,
    /// Documents announced (`Have`) or asked for (`Want`) and not yet received.
    wanted: HashSet<DocId>,
    /// Documents in an Automerge sync exchange.
    syncing: HashSet<DocId>,
    /// `Docs` frames being loaded and stored.
    loading: usize,
    /// The peer starts reconciliation and has not yet.
    awaiting_recon: bool,
    /// Reconciliations the peer may still start now ([`RESTARTS`]).
    restarts: u8,
    /// The peer's latest start that came with none left: taken when one is.
    pending: Option<Part>,
    /// This side's first step went out with its hello, before the peer shared the space: the
    /// peer may have ignored it, and its own start then answers it.
    early: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            asked: Asked::default(),
            wanted: HashSet::new(),
            syncing: HashSet::new(),
            loading: 0,
            awaiting_recon: false,
            restarts: RESTARTS,
            pending: None,
            early: false,
        }
    }
}

impl Progress {
    /// Records what `part`, sent, asks about; past [`crate::recon::MAX_OPEN`] ranges the
    /// session ends (no honest exchange asks so many).
    fn ask(&mut self, part: &Part) -> Flow {
        if self.asked.ask(part) {
            Ok(())
        } else {
            Err(End::Hostile(format!(
                "reconciliation asked about more than {} ranges at once",
                crate::recon::MAX_OPEN
            )))
        }
    }

    /// One more start of the peer's is allowed (up to [`RESTARTS`]); a start that waited is
    /// returned, to take now.
    fn refill(&mut self) -> Option<Part> {
        self.restarts = (self.restarts + 1).min(RESTARTS);
        self.pending.take()
    }

    fn busy(&self) -> bool {
        !self.asked.is_empty()
            || !self.wanted.is_empty()
            || !self.syncing.is_empty()
            || self.loading > 0
            || self.awaiting_recon
            || self.pending.is_some()
    }
}

/// A join in progress on this session.
#[derive(Debug)]
struct Joining {
    ticket: Box<Ticket>,
    op: Vec<u8>,
    /// The ops received so far (a large op set comes in several frames).
    ops: Vec<Vec<u8>>,
    /// Ops the node was asked to check so far: each `Ops` frame has it check every op received
    /// before it again.
    checked: usize,
}

/// The most ops a join has the node check, over all the `Ops` frames it takes, before it is
/// given up as hostile: 8 times a space's largest op set ([`tacit_core::MAX_SPACE_OPS`]). An
/// honest inviter sends its ops in frames of up to 10,000 ops or half a frame's bytes, so a
/// space's largest set takes 2 frames and 30,000 checks (with 4 KiB ops, 10 frames and
/// 110,000). One junk op a frame would otherwise have the node check 20,000 ops 20,000 times.
pub const MAX_JOIN_CHECKS: usize = 8 * tacit_core::MAX_SPACE_OPS;

/// A step of work. A step runs with the session's state as it is when its turn comes; one
/// that asks the node waits for the answer (in [`Session::waiting`]) and goes on in
/// [`Session::resume`]. Steps a step leads to run before the steps queued behind it, so the
/// order is that of nested calls.
#[derive(Debug)]
enum Step {
    /// Ask for the offers and say hello.
    Hello,
    /// Send the first reconciliation step of a space with the hello.
    ReconEarly(SpaceId),
    /// The peer offered these spaces.
    TheirOffers(Vec<SpaceOffer>),
    /// Tell the peer every op hash of a space.
    SendOpHashes(SpaceId),
    /// The peer's op hashes: send what it lacks, ask for what this side lacks.
    OnOpHashes { space: SpaceId, theirs: Vec<OpHash> },
    /// Send the peer ops of a space (all when `None`): those it does not hold as far as this
    /// session saw, or, when `asked` (it asked for them with `WantOps`), all of them.
    SendOps {
        space: SpaceId,
        hashes: Option<Vec<OpHash>>,
        asked: bool,
    },
    /// Send the peer the ops of a space it does not hold as far as this session saw.
    PushNewOps(SpaceId),
    /// Ops from the peer, not for a join.
    AddOps { space: SpaceId, ops: Vec<Vec<u8>> },
    /// A joiner's op.
    Admit { space: SpaceId, op: Vec<u8> },
    /// Ops for the join this session carries.
    CompleteJoin(Joining),
    /// Both sides offered a space.
    Activate(SpaceId),
    /// Start reconciling a space.
    StartRecon(SpaceId),
    /// Start reconciling every active space again.
    ReconAll,
    /// Reconciliation steps from the peer.
    Recon { space: SpaceId, parts: Vec<Part> },
    /// Start Automerge's sync of a document.
    SyncOut {
        space: SpaceId,
        id: DocId,
        theirs: Option<HeadsHash>,
    },
    /// Queue documents to send whole.
    QueueDocs { space: SpaceId, ids: Vec<DocId> },
    /// Screen changes, then apply them or sync.
    Screen {
        space: SpaceId,
        id: DocId,
        carrier: Carrier,
        bytes: Vec<u8>,
        sigs: Vec<ChangeSig>,
    },
    SyncIn {
        space: SpaceId,
        id: DocId,
        msg: Vec<u8>,
        sigs: Vec<ChangeSig>,
        unsigned: Vec<[u8; 32]>,
    },
    Apply {
        space: SpaceId,
        id: DocId,
        data: Vec<u8>,
        sigs: Vec<ChangeSig>,
        unsigned: Vec<[u8; 32]>,
    },
    /// What applying a push led to; `any_unsigned` when some of its changes came without a
    /// signature.
    Applied {
        space: SpaceId,
        id: DocId,
        any_unsigned: bool,
    },
    /// Offer again after a membership change.
    Refresh {
        changed: Option<(SpaceId, Arc<Vec<Vec<u8>>>)>,
    },
    /// A space no longer offered: send the ops that say why, stop syncing it.
    Drop {
        space: SpaceId,
        changed: Option<Arc<Vec<Vec<u8>>>>,
    },
    /// Offer the peer these spaces (new, or with changed ops).
    SendOffer(Vec<SpaceOffer>),
    /// Ask the peer for ops this side lacks.
    WantOps { space: SpaceId, hashes: Vec<OpHash> },
    /// After a fresh offer: activate the space if the peer offered it, else send its ops.
    AfterOffer(SpaceOffer),
    /// Send the next documents queued.
    Serve,
    /// An input that came while a step waited (a driver that does not wait): taken in turn.
    Input(Input),
}

/// One sync session's protocol state.
#[derive(Debug)]
pub struct Session {
    /// Whether this side starts reconciliation (see [`starts_reconciliation`]).
    first: bool,
    /// The largest frame the peer takes.
    max_frame: usize,
    /// Spaces this side offered, with its ops digest.
    mine: HashMap<SpaceId, [u8; 32]>,
    /// Spaces the peer offered, with its ops digest.
    theirs: HashMap<SpaceId, [u8; 32]>,
    /// Spaces both offered: reconciled and synced live.
    active: HashMap<SpaceId, Progress>,
    joining: Option<Joining>,
    /// Documents to send, in order, and the set of them (each is queued once).
    serving: VecDeque<(SpaceId, DocId)>,
    queued: HashSet<(SpaceId, DocId)>,
    /// Documents sent whole in this session, with the heads hash they had: one asked for again
    /// unchanged is said to be done with instead of sent again.
    served: HashMap<(SpaceId, DocId), HeadsHash>,
    /// Ops this side asked the peer for in this session (asked once).
    asked_ops: HashSet<OpHash>,
    /// Ops the peer holds, as far as this session saw (listed by it, sent to it, or sent by
    /// it): a membership change sends the peer the new ones at once, before the changes made
    /// under them.
    known_ops: HashMap<SpaceId, HashSet<OpHash>>,
    /// Documents whose changes waited for membership ops.
    later: HashSet<(SpaceId, DocId)>,
    /// Messages of changes refused so far.
    strikes: u32,
    /// Pushes whose changes the rules refused ([`MAX_REFUSED_BY_RULES`]).
    refused_by_rules: u32,
    /// Reconciliation parts about ranges this side did not ask about, so far.
    unasked: usize,
    /// Spaces whose op hashes this side sent, with its ops digest then: the list goes again
    /// only once that set changed (a peer offering again with a wrong digest gets nothing more).
    hashes_sent: HashMap<SpaceId, [u8; 32]>,
    /// Ops the peer asked for (`WantOps`) and was answered about: each is sent at most once per
    /// session in answer to one (an honest peer asks for each once).
    wants_answered: HashSet<(SpaceId, OpHash)>,
    /// The join in progress was given up ([`Input::JoinGivenUp`]): an answer about it that
    /// comes later does not bring it back.
    join_given_up: bool,
    /// Spaces whose first reconciliation step went out with the hello, before they were
    /// active, with that step.
    early: HashMap<SpaceId, Part>,
    /// Spaces whose first reconciliation step the peer sent with its hello before this side
    /// shared them: ignored then, so this side starts reconciling them itself once it does
    /// (the peer takes its early step as sent and waits for the answer).
    missed_early: HashSet<SpaceId>,
    /// The documents of the `Fetch` asked for and not yet answered.
    serving_now: Option<(SpaceId, Vec<DocId>)>,
    /// Steps to run, in order.
    steps: VecDeque<Step>,
    /// The step waiting for the answer to its question.
    waiting: Option<Step>,
    /// What the current call emits.
    out: Vec<Output>,
    ended: bool,
}

type Flow = Result<(), End>;

impl Session {
    /// A session; `first` when this side starts reconciliation, `max_frame` the largest frame
    /// the peer takes. Nothing is sent until [`Session::start`].
    pub fn new(first: bool, max_frame: usize) -> Self {
        Self {
            first,
            max_frame,
            mine: HashMap::new(),
            theirs: HashMap::new(),
            active: HashMap::new(),
            joining: None,
            serving: VecDeque::new(),
            queued: HashSet::new(),
            served: HashMap::new(),
            asked_ops: HashSet::new(),
            known_ops: HashMap::new(),
            later: HashSet::new(),
            strikes: 0,
            refused_by_rules: 0,
            unasked: 0,
            hashes_sent: HashMap::new(),
            wants_answered: HashSet::new(),
            join_given_up: false,
            early: HashMap::new(),
            missed_early: HashSet::new(),
            steps: VecDeque::new(),
            serving_now: None,
            waiting: None,
            out: Vec::new(),
            ended: false,
        }
    }

    /// Starts the session: asks for the offers, then says hello.
    pub fn start(&mut self) -> Vec<Output> {
        self.steps.push_back(Step::Hello);
        self.run()
    }

    /// Takes one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        if self.ended {
            return Vec::new();
        }
        match input {
            Input::Answer(answer) => match self.waiting.take() {
                Some(step) => {
                    let flow = self.resume(step, answer);
                    if let Err(end) = flow {
                        self.end(end);
                        return std::mem::take(&mut self.out);
                    }
                }
                None => {
                    self.end(End::Failed("an answer came to no question".into()));
                    return std::mem::take(&mut self.out);
                }
            },
            input if self.waiting.is_some() => self.steps.push_back(Step::Input(input)),
            input => self.steps.push_front(Step::Input(input)),
        }
        self.run()
    }

    /// Whether the session ended.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Whether the session waits for the answer to a question.
    pub fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// `Docs` frames being loaded and stored.
    pub fn loading(&self) -> usize {
        self.active.values().map(|p| p.loading).sum()
    }

    /// Whether documents are queued to send (the driver feeds [`Input::Serve`] while the peer
    /// reads).
    pub fn has_serving(&self) -> bool {
        !self.serving.is_empty()
    }

    /// Whether the session shares a space or carries a join (else it closes after the idle
    /// grace).
    pub fn in_use(&self) -> bool {
        !self.active.is_empty()
            || self.joining.is_some()
            || (!self.join_given_up && matches!(self.waiting, Some(Step::CompleteJoin(_))))
    }

    /// The spaces both sides share.
    pub fn shared(&self) -> BTreeSet<SpaceId> {
        self.active.keys().copied().collect()
    }

    /// The shared spaces still syncing: ranges, documents or loads outstanding, or documents
    /// queued to send.
    pub fn syncing(&self) -> BTreeSet<SpaceId> {
        let serving: BTreeSet<SpaceId> = self.serving.iter().map(|(s, _)| *s).collect();
        self.active
            .iter()
            .filter(|(s, p)| p.busy() || serving.contains(s))
            .map(|(s, _)| *s)
            .collect()
    }

    /// Whether nothing is outstanding: no step, no question, no load, nothing to send, no
    /// space still syncing.
    pub fn quiet(&self) -> bool {
        self.steps.is_empty()
            && self.waiting.is_none()
            && self.serving.is_empty()
            && self.active.values().all(|p| !p.busy())
    }

    /// What is outstanding, for a log or a failed check: per shared space, the ranges,
    /// documents and loads not yet done.
    pub fn outstanding(&self) -> String {
        let mut spaces: Vec<String> = self
            .active
            .iter()
            .filter(|(_, p)| p.busy())
            .map(|(s, p)| {
                format!(
                    "{s}: {} ranges open, {} wanted, {} syncing, {} loading{}",
                    p.asked.ranges(),
                    p.wanted.len(),
                    p.syncing.len(),
                    p.loading,
                    if p.awaiting_recon {
                        ", awaiting the peer's reconciliation"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        spaces.sort();
        format!(
            "{} steps, {}waiting, {} to serve; {}",
            self.steps.len(),
            if self.waiting.is_some() { "" } else { "not " },
            self.serving.len(),
            spaces.join("; ")
        )
    }

    /// Runs steps until one waits for an answer, none is left, or the session ends.
    fn run(&mut self) -> Vec<Output> {
        while self.waiting.is_none() && !self.ended {
            let Some(step) = self.steps.pop_front() else {
                break;
            };
            if let Err(end) = self.step(step) {
                self.end(end);
            }
        }
        std::mem::take(&mut self.out)
    }

    fn end(&mut self, end: End) {
        if !matches!(end, End::Bye(_) | End::Stopped) {
            self.out.push(Output::Send(Message::Bye {
                reason: end.to_string(),
            }));
        }
        if self.joining.take().is_some() {
            self.out.push(Output::Join(JoinOutcome::Closed));
        }
        if let Some(Step::CompleteJoin(_)) = self.waiting {
            self.out.push(Output::Join(JoinOutcome::Closed));
        }
        self.steps.clear();
        self.waiting = None;
        self.ended = true;
        self.out.push(Output::End(end));
    }

    fn send(&mut self, msg: Message) {
        self.out.push(Output::Send(msg));
    }

    /// Asks the node; `step` goes on with the answer.
    fn ask(&mut self, ask: Ask, step: Step) -> Flow {
        self.out.push(Output::Ask(ask));
        self.waiting = Some(step);
        Ok(())
    }

    /// Changes from the peer for a shared space: screened off the node first, then applied
    /// (see `Step::Screen`); for a space not shared, nothing.
    fn screen_then_apply(
        &mut self,
        space: SpaceId,
        id: DocId,
        carrier: Carrier,
        bytes: Vec<u8>,
        sigs: Vec<ChangeSig>,
    ) {
        if self.active.contains_key(&space) {
            self.then([Step::Screen {
                space,
                id,
                carrier,
                bytes,
                sigs,
            }]);
        }
    }

    /// Queues steps to run next, in this order.
    fn then(&mut self, steps: impl IntoIterator<Item = Step, IntoIter: DoubleEndedIterator>) {
        for s in steps.into_iter().rev() {
            self.steps.push_front(s);
        }
    }

    /// An answer that must be a reply: a refusal is skipped (`None`), anything else that failed
    /// ends the session.
    fn settle(answer: Answer) -> Result<Option<Reply>, End> {
        match answer {
            Ok(r) => Ok(Some(r)),
            Err(e) => match e.class {
                Class::Refused => Ok(None),
                Class::Stopped => Err(End::Stopped),
                Class::Peer => Err(End::Hostile(e.error.to_string())),
                Class::Node => Err(End::Failed(format!(
                    "this node could not serve the session: {}",
                    e.error
                ))),
            },
        }
    }

    fn progress(&mut self, space: SpaceId) -> &mut Progress {
        self.active.entry(space).or_default()
    }

    /// Runs a step up to its question, or to its end.
    fn step(&mut self, step: Step) -> Flow {
        match step {
            Step::Input(input) => self.input(input),
            Step::Hello => self.ask(Ask::Offers, Step::Hello),
            Step::ReconEarly(space) => self.ask(Ask::ReconStart { space }, Step::ReconEarly(space)),
            Step::TheirOffers(spaces) => {
                let mut next = Vec::new();
                for offer in spaces {
                    if self.theirs.len() >= MAX_OFFERS_KEPT
                        && !self.theirs.contains_key(&offer.space)
                    {
                        continue; // a peer offering without end: keep what fits
                    }
                    self.theirs.insert(offer.space, offer.ops_digest);
                    if let Some(mine) = self.mine.get(&offer.space).copied() {
                        if mine != offer.ops_digest {
                            next.push(Step::SendOpHashes(offer.space));
                        }
                        next.push(Step::Activate(offer.space));
                    }
                }
                self.then(next);
                Ok(())
            }
            Step::SendOpHashes(space) => {
                // Sent once while this side's set stays as it is: the peer has it.
                if let Some(digest) = self.mine.get(&space)
                    && self.hashes_sent.get(&space) == Some(digest)
                {
                    return Ok(());
                }
                self.ask(Ask::OpHashes { space }, Step::SendOpHashes(space))
            }
            Step::OnOpHashes { space, theirs } => {
                self.ask(Ask::OpHashes { space }, Step::OnOpHashes { space, theirs })
            }
            Step::SendOps {
                space,
                hashes,
                asked,
            } => {
                let ask = Ask::Ops {
                    space,
                    hashes: hashes.clone(),
                };
                self.ask(
                    ask,
                    Step::SendOps {
                        space,
                        hashes,
                        asked,
                    },
                )
            }
            Step::PushNewOps(space) => self.ask(Ask::OpHashes { space }, Step::PushNewOps(space)),
            Step::AddOps { space, ops } => {
                // Recorded only for a space offered to this peer or synced with it: a peer's
                // ops for any other space are only passed on to the node, which refuses them;
                // kept here, they would cost memory without bound, a new set for each space id
                // the peer makes up.
                if self.mine.contains_key(&space) || self.active.contains_key(&space) {
                    let hashes: Vec<OpHash> = ops.iter().map(|o| op_hash(o)).collect();
                    self.know_ops(space, hashes.iter());
                }
                self.ask(
                    Ask::AddOps { space, ops },
                    Step::AddOps {
                        space,
                        ops: Vec::new(),
                    },
                )
            }
            Step::Admit { space, op } => self.ask(
                Ask::Admit { space, op },
                Step::Admit {
                    space,
                    op: Vec::new(),
                },
            ),
            Step::CompleteJoin(j) => {
                let ask = Ask::JoinComplete {
                    ticket: j.ticket.clone(),
                    join: j.op.clone(),
                    ops: j.ops.clone(),
                };
                self.ask(ask, Step::CompleteJoin(j))
            }
            Step::Activate(space) => {
                if self.active.contains_key(&space) {
                    return Ok(());
                }
                self.active.insert(
                    space,
                    Progress {
                        awaiting_recon: !self.first,
                        ..Progress::default()
                    },
                );
                if self.first {
                    if let Some(part) = self.early.remove(&space) {
                        let progress = self.progress(space);
                        progress.ask(&part)?;
                        progress.early = true;
                    } else {
                        self.then([Step::StartRecon(space)]);
                    }
                } else if self.missed_early.remove(&space) {
                    // The peer waits for an answer to a step this side ignored: a step of this
                    // side's own answers it (a part about a range closes the peer's question
                    // about it).
                    self.progress(space).awaiting_recon = false;
                    self.then([Step::StartRecon(space)]);
                }
                Ok(())
            }
            Step::StartRecon(space) => self.ask(Ask::ReconStart { space }, Step::StartRecon(space)),
            Step::ReconAll => {
                let spaces: Vec<Step> = self.active.keys().map(|s| Step::StartRecon(*s)).collect();
                self.then(spaces);
                Ok(())
            }
            Step::Recon { space, parts } => {
                if !crate::recon::disjoint(&parts) {
                    return Err(End::Hostile(format!(
                        "reconciliation steps for {space} about ranges that overlap"
                    )));
                }
                let Some(progress) = self.active.get_mut(&space) else {
                    // The peer's early step for a space this side does not share (yet).
                    if !self.first
                        && self.theirs.contains_key(&space)
                        && self.missed_early.len() < MAX_OFFERS_KEPT
                        && parts.iter().any(|p| *p.prefix() == Prefix::ROOT)
                    {
                        self.missed_early.insert(space);
                    }
                    return Ok(());
                };
                progress.awaiting_recon = false;
                // Each part is compared only if it answers a question of this side's, or
                // starts a reconciliation the peer may start now; one about a range not asked
                // about (a replayed answer) is settled with `Same` and compared with nothing.
                let mut compare = Vec::new();
                let mut settle = Vec::new();
                for part in parts {
                    match progress.asked.received(&part) {
                        Received::Settles => progress.asked.answered(part.prefix()),
                        Received::Answer => {
                            progress.asked.answered(part.prefix());
                            compare.push(part);
                        }
                        Received::Opening => {
                            if std::mem::take(&mut progress.early) {
                                // The peer starts although this side's first step is out: it
                                // ignored that step (it did not share the space yet), and its
                                // start answers it.
                                progress.asked.answered(&Prefix::ROOT);
                            }
                            if progress.restarts > 0 {
                                progress.restarts -= 1;
                                compare.push(part);
                            } else {
                                // Taken when the next start is allowed (only the latest).
                                progress.pending = Some(part);
                            }
                        }
                        Received::Unasked => settle.push(Part::Same {
                            prefix: *part.prefix(),
                        }),
                        Received::Forbidden => {
                            return Err(End::Hostile(format!(
                                "a reconciliation step for {space} that no exchange sends: {:?}",
                                part.prefix()
                            )));
                        }
                    }
                }
                if !progress.asked.asks_root() {
                    progress.early = false;
                }
                self.unasked += settle.len();
                if self.unasked > MAX_UNASKED {
                    return Err(End::Hostile(format!(
                        "more than {MAX_UNASKED} reconciliation steps about ranges never asked about"
                    )));
                }
                if !settle.is_empty() {
                    self.send(Message::Recon {
                        space,
                        parts: settle,
                    });
                }
                if compare.is_empty() {
                    return Ok(());
                }
                self.ask(
                    Ask::Recon {
                        space,
                        parts: compare,
                    },
                    Step::Recon {
                        space,
                        parts: Vec::new(),
                    },
                )
            }
            Step::SyncOut { space, id, theirs } => self.ask(
                Ask::SyncOut { space, id, theirs },
                Step::SyncOut { space, id, theirs },
            ),
            Step::QueueDocs { space, ids } => self.queue_docs(space, ids),
            Step::Screen {
                space,
                id,
                carrier,
                bytes,
                sigs,
            } => self.ask(
                Ask::Screen {
                    space,
                    id,
                    carrier,
                    bytes,
                    sigs,
                },
                Step::Screen {
                    space,
                    id,
                    carrier,
                    bytes: Vec::new(),
                    sigs: Vec::new(),
                },
            ),
            Step::SyncIn {
                space,
                id,
                msg,
                sigs,
                unsigned,
            } => self.ask(
                Ask::SyncIn {
                    space,
                    id,
                    msg,
                    sigs,
                    unsigned,
                },
                Step::SyncIn {
                    space,
                    id,
                    msg: Vec::new(),
                    sigs: Vec::new(),
                    unsigned: Vec::new(),
                },
            ),
            Step::Apply {
                space,
                id,
                data,
                sigs,
                unsigned,
            } => {
                let any_unsigned = !unsigned.is_empty();
                self.ask(
                    Ask::Apply {
                        space,
                        id,
                        data,
                        sigs,
                        unsigned,
                    },
                    Step::Applied {
                        space,
                        id,
                        any_unsigned,
                    },
                )
            }
            Step::Refresh { changed } => self.ask(Ask::Offers, Step::Refresh { changed }),
            Step::SendOffer(spaces) => {
                self.send(Message::Offer { spaces });
                Ok(())
            }
            Step::WantOps { space, hashes } => {
                self.want_ops(space, hashes);
                Ok(())
            }
            Step::Drop { space, changed } => self.ask(
                Ask::Ops {
                    space,
                    hashes: None,
                },
                Step::Drop { space, changed },
            ),
            Step::AfterOffer(offer) => {
                if let Some(theirs) = self.theirs.get(&offer.space).copied() {
                    let mut next = Vec::new();
                    if theirs != offer.ops_digest {
                        next.push(Step::SendOpHashes(offer.space));
                    }
                    next.push(Step::Activate(offer.space));
                    self.then(next);
                } else {
                    // The peer may not know the space yet (it joined elsewhere): it needs the
                    // ops.
                    self.then([Step::SendOps {
                        space: offer.space,
                        hashes: None,
                        asked: false,
                    }]);
                }
                Ok(())
            }
            Step::Serve => self.serve(),
            // Only a continuation.
            Step::Applied { .. } => Ok(()),
        }
    }

    /// Goes on with a step once its question is answered.
    fn resume(&mut self, step: Step, answer: Answer) -> Flow {
        match step {
            Step::Hello => {
                let offers = match Self::settle(answer)? {
                    Some(Reply::Offers(o)) => o,
                    _ => Vec::new(),
                };
                self.mine = offers.iter().map(|o| (o.space, o.ops_digest)).collect();
                let offered: Vec<SpaceId> = offers.iter().map(|o| o.space).collect();
                self.send(Message::Hello {
                    version: VERSION,
                    spaces: offers,
                });
                // The side that starts reconciliation sends its first step with the hello
                // instead of after the peer's: a round trip less for every reconnect. The peer
                // reads the hello first, and ignores the step for a space it does not share.
                if self.first {
                    self.then(offered.into_iter().map(Step::ReconEarly));
                }
            }
            Step::ReconEarly(space) => {
                if let Some(Reply::Part(part)) = Self::settle(answer)? {
                    self.early.insert(space, part.clone());
                    self.send(Message::Recon {
                        space,
                        parts: vec![part],
                    });
                }
            }
            Step::SendOpHashes(space) => {
                if let Some(Reply::OpHashes(hashes)) = Self::settle(answer)? {
                    if let Some(digest) = self.mine.get(&space).copied() {
                        self.hashes_sent.insert(space, digest);
                    }
                    for chunk in hashes.chunks(MAX_OP_HASHES) {
                        self.send(Message::OpHashes {
                            space,
                            hashes: chunk.to_vec(),
                        });
                    }
                }
            }
            Step::OnOpHashes { space, theirs } => {
                let Some(Reply::OpHashes(mine)) = Self::settle(answer)? else {
                    return Ok(());
                };
                let theirs_set: HashSet<OpHash> = theirs.iter().copied().collect();
                let mine_set: HashSet<OpHash> = mine.iter().copied().collect();
                // Ops sent to the peer in this session (or sent by it) are not sent again: a
                // list that names none of them (`OpHashes` of nothing) brings each op once.
                let known = self.known_ops.get(&space);
                let they_lack: Vec<OpHash> = mine
                    .into_iter()
                    .filter(|h| !theirs_set.contains(h) && !known.is_some_and(|k| k.contains(h)))
                    .collect();
                let i_lack: Vec<OpHash> = theirs
                    .into_iter()
                    .filter(|h| !mine_set.contains(h))
                    .collect();
                if they_lack.is_empty() {
                    self.want_ops(space, i_lack);
                } else {
                    self.then([
                        Step::SendOps {
                            space,
                            hashes: Some(they_lack),
                            asked: false,
                        },
                        Step::WantOps {
                            space,
                            hashes: i_lack,
                        },
                    ]);
                }
            }
            Step::SendOps { space, asked, .. } => {
                if let Some(Reply::Ops(mut ops)) = Self::settle(answer)? {
                    if !asked && let Some(known) = self.known_ops.get(&space) {
                        ops.retain(|o| !known.contains(&op_hash(o)));
                    }
                    if !ops.is_empty() {
                        self.send_ops(space, ops);
                    }
                }
            }
            Step::PushNewOps(space) => {
                let Some(Reply::OpHashes(mine)) = Self::settle(answer)? else {
                    return Ok(());
                };
                let known = self.known_ops.get(&space);
                let new: Vec<OpHash> = mine
                    .into_iter()
                    .filter(|h| !known.is_some_and(|k| k.contains(h)))
                    .collect();
                if !new.is_empty() {
                    self.then([Step::SendOps {
                        space,
                        hashes: Some(new),
                        asked: false,
                    }]);
                }
            }
            Step::AddOps { space, .. } => {
                if let Some(Reply::OpsAdded { changed, missing }) = Self::settle(answer)? {
                    self.want_ops(space, missing);
                    if changed {
                        self.refill(space);
                        self.retry_later(space);
                    }
                }
            }
            Step::Admit { space, .. } => match answer {
                Ok(_) => {
                    // The joiner needs every op to see itself a member (those this session sent
                    // it already, it holds).
                    self.then([Step::SendOps {
                        space,
                        hashes: None,
                        asked: false,
                    }]);
                }
                Err(e) if e.class == Class::Stopped => return Err(End::Stopped),
                Err(e) => self.send(Message::JoinRefused {
                    space,
                    reason: e.error.to_string(),
                }),
            },
            Step::CompleteJoin(j) => match answer {
                Ok(Reply::Joined { space, name }) => {
                    self.out
                        .push(Output::Join(JoinOutcome::Joined { space, name }));
                }
                // Not admitted by what arrived so far: the rest may follow.
                Err(e) if e.class == Class::Refused => {
                    if !self.join_given_up {
                        self.joining = Some(j);
                    }
                }
                Ok(_) => self.out.push(Output::Join(JoinOutcome::Unexpected)),
                Err(e) => self.out.push(Output::Join(JoinOutcome::Failed(e))),
            },
            Step::StartRecon(space) => {
                if let Some(Reply::Part(part)) = Self::settle(answer)? {
                    self.progress(space).ask(&part)?;
                    self.send(Message::Recon {
                        space,
                        parts: vec![part],
                    });
                }
            }
            Step::Recon { space, .. } => {
                let Some(Reply::Recon { replies, diff }) = Self::settle(answer)? else {
                    return Ok(());
                };
                self.recon_reply(space, replies, diff)?;
            }
            Step::SyncOut { space, id, .. } => {
                if let Some(Reply::Sync {
                    msg: Some((msg, sigs)),
                    ..
                }) = Self::settle(answer)?
                {
                    self.progress(space).syncing.insert(id);
                    self.send(Message::Sync {
                        space,
                        id,
                        msg,
                        sigs,
                    });
                }
            }
            Step::Screen {
                space, id, carrier, ..
            } => self.screened(space, id, carrier, answer)?,
            Step::SyncIn { space, id, .. } => match Self::settle(answer)? {
                Some(Reply::Sync {
                    msg: Some((msg, sigs)),
                    ..
                }) => {
                    self.progress(space).syncing.insert(id);
                    self.send(Message::Sync {
                        space,
                        id,
                        msg,
                        sigs,
                    });
                }
                other => {
                    if matches!(other, Some(Reply::Sync { later: true, .. })) {
                        self.note_later(space, id);
                    }
                    self.progress(space).syncing.remove(&id);
                    self.send(Message::Synced { space, id });
                }
            },
            Step::Applied {
                space,
                id,
                any_unsigned,
            } => match Self::settle(answer)? {
                Some(Reply::Applied(Applied::Want)) => self.want_whole(space, id),
                Some(Reply::Applied(Applied::Sync)) => self.then([Step::SyncOut {
                    space,
                    id,
                    theirs: None,
                }]),
                Some(Reply::Applied(Applied::Later)) => self.note_later(space, id),
                Some(Reply::Applied(Applied::Refused)) if any_unsigned => {
                    self.strike(&format!("changes to {id} without their author's signature"))?;
                }
                Some(Reply::Applied(Applied::Refused)) => {
                    self.refused_by_rules += 1;
                    if self.refused_by_rules > MAX_REFUSED_BY_RULES {
                        return Err(End::Hostile(format!(
                            "sent {} pushes of changes the rules refused (the last to {id})",
                            self.refused_by_rules
                        )));
                    }
                }
                _ => {}
            },
            Step::Refresh { changed } => {
                let offers = match Self::settle(answer)? {
                    Some(Reply::Offers(o)) => o,
                    _ => Vec::new(),
                };
                self.refresh(offers, changed);
            }
            Step::Drop { space, changed } => {
                // The ops as they are now, which dropped the space: the broadcast's own may
                // predate it (a second removal made before this session handled the first),
                // and would not tell the peer it was removed. The broadcast's when this node no
                // longer holds the space (it left).
                let current = match Self::settle(answer)? {
                    Some(Reply::Ops(ops)) if !ops.is_empty() => Some(ops),
                    _ => None,
                };
                if let Some(ops) = current.or_else(|| changed.map(|ops| ops.to_vec())) {
                    self.send_ops(space, ops);
                }
                self.active.remove(&space);
            }
            Step::Serve => self.served(answer)?,
            // These never ask.
            Step::Input(_)
            | Step::TheirOffers(_)
            | Step::Activate(_)
            | Step::ReconAll
            | Step::QueueDocs { .. }
            | Step::Apply { .. }
            | Step::SendOffer(_)
            | Step::WantOps { .. }
            | Step::AfterOffer(_) => {}
        }
        Ok(())
    }

    /// Takes an input from the driver.
    fn input(&mut self, input: Input) -> Flow {
        match input {
            Input::Message(msg) => self.message(msg),
            // Answers are taken in `handle`.
            Input::Answer(_) => Err(End::Failed("an answer came to no question".into())),
            Input::Local {
                space,
                id,
                data,
                sigs,
            } => {
                if self.active.contains_key(&space) {
                    self.send(Message::Change {
                        space,
                        id,
                        data: data.to_vec(),
                        sigs: sigs.to_vec(),
                    });
                }
                Ok(())
            }
            Input::Membership { space, ops } => {
                // The peer starts reconciling again once it learns of the change too.
                self.refill(space);
                self.then([Step::Refresh {
                    changed: Some((space, ops)),
                }]);
                Ok(())
            }
            Input::Repair { space, id } => {
                if self.active.contains_key(&space) {
                    self.want_whole(space, id);
                }
                Ok(())
            }
            Input::Lagged => {
                self.then([Step::Refresh { changed: None }, Step::ReconAll]);
                Ok(())
            }
            Input::Join { ticket, op } => {
                let space = ticket.space;
                self.send(Message::Join {
                    space,
                    op: op.clone(),
                });
                self.joining = Some(Joining {
                    ticket,
                    op,
                    ops: Vec::new(),
                    checked: 0,
                });
                self.join_given_up = false;
                Ok(())
            }
            Input::JoinGivenUp => {
                self.joining = None;
                self.join_given_up = true;
                Ok(())
            }
            Input::Addrs(records) => {
                self.send(Message::Addrs { records });
                Ok(())
            }
            Input::Stored { space, ids, answer } => self.stored(space, ids, answer),
            Input::Serve => {
                self.then([Step::Serve]);
                Ok(())
            }
            Input::Tick => {
                let mut spaces: Vec<SpaceId> = self.active.keys().copied().collect();
                spaces.sort_unstable();
                for space in spaces {
                    self.refill(space);
                }
                Ok(())
            }
            Input::IdleTimeout => {
                if self.in_use() {
                    Ok(())
                } else {
                    Err(End::Idle(
                        "the peers share no space; the session is closed".into(),
                    ))
                }
            }
        }
    }

    fn message(&mut self, msg: Message) -> Flow {
        match msg {
            Message::Hello { version, spaces } => {
                if version < VERSION {
                    return Err(End::Hostile(format!(
                        "the peer runs an older Tacit (sync protocol {version}, this node speaks {VERSION}); it must upgrade to sync"
                    )));
                }
                if version > VERSION {
                    return Err(End::Hostile(format!(
                        "the peer runs a newer Tacit (sync protocol {version}, this node speaks {VERSION}); upgrade this one to sync"
                    )));
                }
                self.then([Step::TheirOffers(spaces)]);
            }
            Message::Offer { spaces } => self.then([Step::TheirOffers(spaces)]),
            Message::Join { space, op } => self.then([Step::Admit { space, op }]),
            Message::JoinRefused { space, reason } => {
                let reason = peer_words(&reason);
                if self
                    .joining
                    .as_ref()
                    .is_some_and(|j| j.ticket.space == space)
                {
                    self.joining = None;
                    self.out.push(Output::Join(JoinOutcome::Refused(format!(
                        "the member refused: {reason}"
                    ))));
                }
            }
            Message::OpHashes { space, hashes } => self.then([Step::OnOpHashes {
                space,
                theirs: hashes,
            }]),
            Message::WantOps { space, hashes } => self.want_ops_of_peer(space, hashes)?,
            Message::Ops { space, ops } => {
                if self
                    .joining
                    .as_ref()
                    .is_some_and(|j| j.ticket.space == space)
                    && let Some(mut j) = self.joining.take()
                {
                    j.ops.extend(ops);
                    j.ops.truncate(tacit_core::MAX_SPACE_OPS);
                    j.checked += j.ops.len();
                    if j.checked > MAX_JOIN_CHECKS {
                        self.out.push(Output::Join(JoinOutcome::Refused(
                            "the member kept sending membership ops without admitting this device"
                                .into(),
                        )));
                        return Err(End::Hostile(format!(
                            "more than {MAX_JOIN_CHECKS} ops to check for a join"
                        )));
                    }
                    self.then([Step::CompleteJoin(j)]);
                } else {
                    self.then([Step::AddOps { space, ops }]);
                }
            }
            Message::Recon { space, parts } => self.then([Step::Recon { space, parts }]),
            Message::Have { space, ids } => {
                if self.active.contains_key(&space) {
                    self.expect_docs(space, ids)?;
                }
            }
            Message::Want { space, ids } => {
                if self.active.contains_key(&space) {
                    // An honest node names a document once per `Want`.
                    let distinct: HashSet<&DocId> = ids.iter().collect();
                    if distinct.len() < ids.len() {
                        self.strike("a Want naming a document more than once")?;
                    }
                    self.queue_docs(space, ids)?;
                }
            }
            Message::Docs { space, docs } => {
                if self.active.contains_key(&space) {
                    self.progress(space).loading += 1;
                    self.out.push(Output::Load { space, docs });
                }
            }
            Message::Sync {
                space,
                id,
                msg,
                sigs,
            } => self.screen_then_apply(space, id, Carrier::Sync, msg, sigs),
            Message::Synced { space, id } => {
                if let Some(p) = self.active.get_mut(&space) {
                    p.syncing.remove(&id);
                    p.wanted.remove(&id);
                }
            }
            Message::Change {
                space,
                id,
                data,
                sigs,
            } => self.screen_then_apply(space, id, Carrier::Change, data, sigs),
            Message::Bye { reason } => return Err(End::Bye(peer_words(&reason))),
            Message::Addrs { records } => self.out.push(Output::PeerAddrs(records)),
        }
        Ok(())
    }

    /// The verdict on screened changes: a bomb ends the session; forged or malformed changes
    /// are dropped and counted, and past [`MAX_STRIKES`] end it; what passes goes to the node
    /// (which checks it again, in full).
    fn screened(&mut self, space: SpaceId, id: DocId, carrier: Carrier, answer: Answer) -> Flow {
        let (verdict, bytes, sigs) = match answer {
            Ok(Reply::Screened {
                verdict,
                bytes,
                sigs,
            }) => (verdict, bytes, sigs),
            Ok(_) => return Err(End::Failed("a screen gave no verdict".into())),
            Err(e) => {
                Self::settle(Err(e))?;
                return Ok(());
            }
        };
        let why = match verdict {
            Screened::Fine { unsigned } => {
                self.then([match carrier {
                    Carrier::Sync => Step::SyncIn {
                        space,
                        id,
                        msg: bytes,
                        sigs,
                        unsigned,
                    },
                    Carrier::Change => Step::Apply {
                        space,
                        id,
                        data: bytes,
                        sigs,
                        unsigned,
                    },
                }]);
                return Ok(());
            }
            Screened::Bomb => {
                return Err(End::Hostile(format!(
                    "sent changes to {id} that would inflate past {} MiB",
                    tacit_core::chunks::MAX_INFLATED_BYTES / (1024 * 1024)
                )));
            }
            // Automerge's sync goes no further with a message it cannot read.
            Screened::Malformed if carrier == Carrier::Sync => {
                return Err(End::Hostile(format!(
                    "a sync message for {id} that is not one"
                )));
            }
            Screened::Malformed => "malformed changes".to_owned(),
            Screened::Forged { forged } => {
                format!("{forged} changes without their author's signature")
            }
        };
        self.strike(&format!("{why} for {id}"))?;
        if carrier == Carrier::Sync {
            self.progress(space).syncing.remove(&id);
            self.send(Message::Synced { space, id });
        }
        Ok(())
    }

    /// Counts a message of changes refused as no honest node's; past [`MAX_STRIKES`] the
    /// session ends.
    fn strike(&mut self, why: &str) -> Flow {
        self.strikes += 1;
        self.out.push(Output::Refused(format!(
            "refused {why} ({} so far)",
            self.strikes
        )));
        if self.strikes > MAX_STRIKES {
            return Err(End::Hostile(format!(
                "sent {} messages of changes that could not count (the last: {why})",
                self.strikes
            )));
        }
        Ok(())
    }

    /// The peer may start reconciling `space` once more; a start of its that waited is taken
    /// now.
    fn refill(&mut self, space: SpaceId) {
        if let Some(part) = self.active.get_mut(&space).and_then(Progress::refill) {
            self.then([Step::Recon {
                space,
                parts: vec![part],
            }]);
        }
    }

    fn note_later(&mut self, space: SpaceId, id: DocId) {
        if self.later.len() < MAX_LATER {
            self.later.insert((space, id));
        }
    }

    /// Membership ops arrived: sync again the documents whose changes waited for them.
    fn retry_later(&mut self, space: SpaceId) {
        let mut ids: Vec<DocId> = self
            .later
            .iter()
            .filter(|(s, _)| *s == space)
            .map(|(_, d)| *d)
            .collect();
        ids.sort_unstable();
        for id in ids {
            self.later.remove(&(space, id));
            // Held here: Automerge's sync brings the changes again; not held: ask for it whole.
            self.want_whole(space, id);
        }
    }

    /// Asks the peer for one document whole (the answer is taken as one asked for).
    fn want_whole(&mut self, space: SpaceId, id: DocId) {
        self.progress(space).wanted.insert(id);
        self.send(Message::Want {
            space,
            ids: vec![id],
        });
    }

    /// Records ops the peer holds.
    fn know_ops<'a>(&mut self, space: SpaceId, hashes: impl IntoIterator<Item = &'a OpHash>) {
        let known = self.known_ops.entry(space).or_default();
        for h in hashes {
            if known.len() >= tacit_core::MAX_SPACE_OPS {
                break;
            }
            known.insert(*h);
        }
    }

    /// The peer asks for ops: each is sent in answer once per session (an honest peer asks for
    /// each once); one asked for again gets nothing, and the asking counts as a strike.
    fn want_ops_of_peer(&mut self, space: SpaceId, hashes: Vec<OpHash>) -> Flow {
        let asked = hashes.len();
        let fresh: Vec<OpHash> = hashes
            .into_iter()
            .filter(|h| {
                self.wants_answered.len() < MAX_OP_HASHES && self.wants_answered.insert((space, *h))
            })
            .collect();
        if fresh.len() < asked {
            self.strike(&format!(
                "a WantOps for {} ops of {space} it asked for already",
                asked - fresh.len()
            ))?;
        }
        if !fresh.is_empty() {
            self.then([Step::SendOps {
                space,
                hashes: Some(fresh),
                asked: true,
            }]);
        }
        Ok(())
    }

    /// Asks the peer for ops this side lacks, each once per session.
    fn want_ops(&mut self, space: SpaceId, hashes: Vec<OpHash>) {
        let fresh: Vec<OpHash> = hashes
            .into_iter()
            .filter(|h| self.asked_ops.len() < MAX_OP_HASHES && self.asked_ops.insert(*h))
            .collect();
        for chunk in fresh.chunks(MAX_OP_HASHES) {
            self.send(Message::WantOps {
                space,
                hashes: chunk.to_vec(),
            });
        }
    }

    /// Sends ops in frames that stay under the limits (a removal with a large cut is near a
    /// megabyte).
    fn send_ops(&mut self, space: SpaceId, ops: Vec<Vec<u8>>) {
        let hashes: Vec<OpHash> = ops.iter().map(|o| op_hash(o)).collect();
        self.know_ops(space, hashes.iter());
        let budget = self.max_frame / 2;
        let mut frame: Vec<Vec<u8>> = Vec::new();
        let mut size = 0;
        for op in ops {
            if !frame.is_empty() && (size + op.len() > budget || frame.len() == MAX_OPS) {
                self.send(Message::Ops {
                    space,
                    ops: std::mem::take(&mut frame),
                });
                size = 0;
            }
            size += op.len();
            frame.push(op);
        }
        if !frame.is_empty() {
            self.send(Message::Ops { space, ops: frame });
        }
    }

    /// Offers again after a membership change: new or changed offers are sent; a space no
    /// longer offered stops syncing, and the peer is sent the ops that say why.
    fn refresh(&mut self, offers: Vec<SpaceOffer>, changed: Option<(SpaceId, Arc<Vec<Vec<u8>>>)>) {
        let now: HashMap<SpaceId, [u8; 32]> =
            offers.iter().map(|o| (o.space, o.ops_digest)).collect();
        let fresh: Vec<SpaceOffer> = offers
            .into_iter()
            .filter(|o| self.mine.get(&o.space) != Some(&o.ops_digest))
            .collect();
        let mut dropped: Vec<SpaceId> = self
            .mine
            .keys()
            .filter(|s| !now.contains_key(s))
            .copied()
            .collect();
        dropped.sort_unstable();
        self.mine = now;
        let mut next: Vec<Step> = dropped
            .into_iter()
            .map(|space| Step::Drop {
                space,
                changed: changed
                    .as_ref()
                    .filter(|(s, _)| *s == space)
                    .map(|(_, ops)| ops.clone()),
            })
            .collect();
        if !fresh.is_empty() {
            for offer in &fresh {
                if self.active.contains_key(&offer.space) {
                    next.push(Step::PushNewOps(offer.space));
                    // New ops can change which documents this side holds: a removal's cut
                    // drops the removed member's changes it cannot place, and a document with
                    // them, until a peer holding the cut's change sends it again. Reconcile.
                    next.push(Step::StartRecon(offer.space));
                }
            }
            next.push(Step::SendOffer(fresh.clone()));
            next.extend(fresh.into_iter().map(Step::AfterOffer));
        }
        self.then(next);
    }

    /// Reconciliation's answer to the peer's steps: announce, ask for, and reply; sync the
    /// documents both hold; queue those the peer lacks.
    fn recon_reply(&mut self, space: SpaceId, replies: Vec<Part>, diff: Diff) -> Flow {
        let mine: Vec<DocId> = diff.mine.iter().map(|b| DocId::from_bytes(*b)).collect();
        let theirs: Vec<DocId> = diff.theirs.iter().map(|b| DocId::from_bytes(*b)).collect();
        for chunk in mine.chunks(MAX_IDS) {
            self.send(Message::Have {
                space,
                ids: chunk.to_vec(),
            });
        }
        if !theirs.is_empty() {
            self.expect_docs(space, theirs.iter().copied())?;
            for chunk in theirs.chunks(MAX_IDS) {
                self.send(Message::Want {
                    space,
                    ids: chunk.to_vec(),
                });
            }
        }
        if !replies.is_empty() {
            let progress = self.progress(space);
            for r in &replies {
                // A fingerprint and a split are answered; items are answered with `Same` once
                // acted on.
                progress.ask(r)?;
            }
            // In order: a `Same` about a split range comes after the answers about its
            // sub-ranges.
            for parts in crate::recon::chunks(replies, MAX_PARTS) {
                self.send(Message::Recon { space, parts });
            }
        }
        let mut next: Vec<Step> = diff
            .both
            .into_iter()
            .map(|(id, theirs)| Step::SyncOut {
                space,
                id: DocId::from_bytes(id),
                theirs: Some(theirs),
            })
            .collect();
        next.push(Step::QueueDocs { space, ids: mine });
        self.then(next);
        Ok(())
    }

    /// Documents the peer is to send (it announced them, or reconciliation found them): kept
    /// until they come, for the whole session, a space's worth ([`MAX_SERVING`]) at most; past
    /// it the session ends as hostile.
    fn expect_docs(&mut self, space: SpaceId, ids: impl IntoIterator<Item = DocId>) -> Flow {
        let wanted = &mut self.progress(space).wanted;
        for id in ids {
            if wanted.len() >= MAX_SERVING && !wanted.contains(&id) {
                return Err(End::Hostile(format!(
                    "announced more than {MAX_SERVING} documents to send"
                )));
            }
            wanted.insert(id);
        }
        Ok(())
    }

    /// Queues documents to send whole; each is queued once, however often it is asked for.
    fn queue_docs(&mut self, space: SpaceId, ids: Vec<DocId>) -> Flow {
        for id in ids {
            if self.queued.insert((space, id)) {
                self.serving.push_back((space, id));
            }
        }
        if self.serving.len() > MAX_SERVING {
            return Err(End::Hostile(format!(
                "the peer asked for more than {MAX_SERVING} documents at once"
            )));
        }
        Ok(())
    }

    /// Asks for the next documents queued (of one space).
    fn serve(&mut self) -> Flow {
        let Some(&(space, _)) = self.serving.front() else {
            return Ok(());
        };
        let mut chunk = Vec::new();
        while chunk.len() < DOCS_PER_FRAME {
            match self.serving.front() {
                Some(&(s, id)) if s == space => {
                    self.serving.pop_front();
                    self.queued.remove(&(s, id));
                    chunk.push(id);
                }
                _ => break,
            }
        }
        if !self.active.contains_key(&space) {
            return Ok(());
        }
        // Sent already as it is: asking again gains the peer nothing, and the node does not
        // read it again.
        let served = chunk
            .iter()
            .filter_map(|id| self.served.get(&(space, *id)).map(|h| (*id, *h)))
            .collect();
        self.serving_now = Some((space, chunk.clone()));
        self.ask(
            Ask::Fetch {
                space,
                ids: chunk,
                served,
            },
            Step::Serve,
        )
    }

    /// Sends fetched documents in frames that stay under the frame limit; what cannot be sent
    /// (or was sent as it is) is said to be done with, so that the peer does not wait for it.
    fn served(&mut self, answer: Answer) -> Flow {
        let Some((space, chunk)) = self.serving_now.take() else {
            return Ok(());
        };
        let docs = match Self::settle(answer)? {
            Some(Reply::Docs(docs)) => docs,
            _ => Vec::new(),
        };
        let mut unsent: Vec<DocId> = chunk
            .iter()
            .filter(|id| !docs.iter().any(|(d, _)| d.id == **id))
            .copied()
            .collect();
        let budget = self.max_frame / 2;
        let mut frame: Vec<WholeDoc> = Vec::new();
        let (mut size, mut inflated) = (0, 0);
        for (doc, heads) in docs {
            if self.served.len() >= MAX_SERVING {
                self.served.clear();
            }
            self.served.insert((space, doc.id), heads);
            let len = doc.data.len() + doc.sigs.len() * 96;
            if len > budget {
                self.out.push(Output::Refused(format!(
                    "{} is larger than one frame may carry ({len} bytes); it is not sent",
                    doc.id
                )));
                unsent.push(doc.id);
                continue;
            }
            // What the receiver counts against its limits, counted the same way (streamed,
            // nothing kept): a frame stays under `MAX_DOCS_INFLATED`, and a document no
            // receiver takes is not sent (the receiver would end the session as hostile). One
            // that is not Automerge data at all counts nothing: the receiver drops it unloaded.
            let grows = match tacit_core::chunks::check_inflation(
                &doc.data,
                tacit_core::chunks::MAX_INFLATED_BYTES,
            ) {
                Ok(n) => n,
                Err(tacit_core::chunks::ChunkError::Malformed(_)) => 0,
                Err(tacit_core::chunks::ChunkError::TooLarge) => {
                    self.out.push(Output::Refused(format!(
                        "{} inflates past what a peer takes; it is not sent",
                        doc.id
                    )));
                    unsent.push(doc.id);
                    continue;
                }
            };
            if !frame.is_empty()
                && (size + len > budget
                    || frame.len() == MAX_DOCS
                    || inflated + grows > MAX_DOCS_INFLATED)
            {
                self.send(Message::Docs {
                    space,
                    docs: std::mem::take(&mut frame),
                });
                (size, inflated) = (0, 0);
            }
            size += len;
            inflated += grows;
            frame.push(doc);
        }
        if !frame.is_empty() {
            self.send(Message::Docs { space, docs: frame });
        }
        for id in unsent {
            self.send(Message::Synced { space, id });
        }
        Ok(())
    }

    /// Received documents were loaded and stored (or not).
    fn stored(&mut self, space: SpaceId, ids: Vec<DocId>, answer: Answer) -> Flow {
        if let Some(p) = self.active.get_mut(&space) {
            p.loading = p.loading.saturating_sub(1);
            for id in &ids {
                p.wanted.remove(id);
            }
        }
        match answer {
            Ok(Reply::Stored { refused, later }) => {
                if refused > 0 {
                    self.out.push(Output::Refused(format!(
                        "{refused} documents from the peer"
                    )));
                }
                for id in later {
                    self.note_later(space, id);
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => match e.class {
                Class::Refused => Ok(()),
                Class::Stopped => Err(End::Stopped),
                Class::Peer => Err(End::Hostile(format!(
                    "storing received documents: {}",
                    e.error
                ))),
                Class::Node => Err(End::Failed(format!(
                    "storing received documents: {}",
                    e.error
                ))),
            },
        }
    }
}

/// An op's hash: SHA-256 of its bytes (what `SignedOp::hash` is, without decoding it).
pub fn op_hash(bytes: &[u8]) -> OpHash {
    OpHash(sha2::Sha256::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    //! The machine driven by recorded message sequences and by a pair of machines over a
    //! model of the node (an item set per side), without sockets or tasks.

    use std::collections::BTreeMap;

    use super::*;
    use crate::recon::ItemSet;

    const FRAME: usize = 16 * 1024 * 1024;

    fn space() -> SpaceId {
        SpaceId::from_bytes([7; 16])
    }

    fn doc(n: u8) -> DocId {
        DocId::from_bytes([n; 16])
    }

    fn offer(digest: u8) -> SpaceOffer {
        SpaceOffer {
            space: space(),
            ops_digest: [digest; 32],
        }
    }

    fn refused() -> AskError {
        AskError::new(Class::Refused, "not a member")
    }

    #[test]
    fn two_streams_opened_at_once_leave_both_sides_on_the_same_one() {
        let (x, y) = (libp2p::PeerId::random(), libp2p::PeerId::random());
        let (small, large) = if x < y { (x, y) } else { (y, x) };
        // Each side holds the stream it opened and the one it accepted, the two in either
        // order. `kept(me, peer, first_opened)`: whether the side keeps the one it opened.
        let kept = |me: &libp2p::PeerId, peer: &libp2p::PeerId, first_opened: bool| {
            let replaced = new_stream_replaces(me, peer, !first_opened, first_opened);
            first_opened != replaced
        };
        for first_opened in [true, false] {
            assert!(
                kept(&small, &large, first_opened),
                "the smaller keeps its own"
            );
            assert!(
                !kept(&large, &small, first_opened),
                "the larger keeps the smaller's"
            );
        }
        // A stream of the same kind as the running one never replaces it.
        for opened in [true, false] {
            assert!(!new_stream_replaces(&small, &large, opened, opened));
            assert!(!new_stream_replaces(&large, &small, opened, opened));
        }
        // Exactly one side of a stream starts reconciliation: the one that accepted it.
        assert!(starts_reconciliation(false) && !starts_reconciliation(true));
    }

    /// The messages among `outputs`.
    fn sent(outputs: &[Output]) -> Vec<&Message> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn asked(outputs: &[Output]) -> Option<&Ask> {
        match outputs.last() {
            Some(Output::Ask(a)) => Some(a),
            _ => None,
        }
    }

    fn ended(outputs: &[Output]) -> Option<&End> {
        outputs.iter().find_map(|o| match o {
            Output::End(e) => Some(e),
            _ => None,
        })
    }

    /// A machine past its hello, with the space offered by both sides (same ops).
    fn started(first: bool) -> Session {
        let mut s = Session::new(first, FRAME);
        let out = s.start();
        assert!(matches!(asked(&out), Some(Ask::Offers)));
        let out = s.handle(Input::Answer(Ok(Reply::Offers(vec![offer(1)]))));
        assert!(matches!(sent(&out)[0], Message::Hello { .. }));
        if first {
            assert!(matches!(asked(&out), Some(Ask::ReconStart { .. })));
            let part = ItemSet::new().start();
            let out = s.handle(Input::Answer(Ok(Reply::Part(part))));
            assert!(matches!(sent(&out)[..], [Message::Recon { .. }]));
        }
        let out = s.handle(Input::Message(Message::Hello {
            version: VERSION,
            spaces: vec![offer(1)],
        }));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(s.shared(), BTreeSet::from([space()]));
        s
    }

    #[test]
    fn parent_undoes_children() {
        for child in Prefix::ROOT.children() {
            assert_eq!(child.parent(), Some(Prefix::ROOT));
            for grandchild in child.children() {
                assert_eq!(grandchild.parent(), Some(child));
            }
        }
        assert_eq!(Prefix::ROOT.parent(), None);
    }

    #[test]
    fn reconciliation_steps_about_overlapping_ranges_end_the_session() {
        let mut s = started(false);
        let child = Prefix::ROOT.children()[3];
        let same = |prefix| Part::Same { prefix };
        // Disjoint ranges are fine (`Same` parts compare nothing: the node is not asked).
        let out = s.handle(Input::Message(Message::Recon {
            space: space(),
            parts: vec![same(child), same(Prefix::ROOT.children()[4])],
        }));
        assert!(out.is_empty(), "{out:?}");
        // So is a `Same` about a split range after a part about one of its sub-ranges (items
        // about a range this side never asked about are settled, not compared).
        let mut s = started(false);
        let items = Part::Items {
            prefix: child,
            items: vec![],
        };
        let out = s.handle(Input::Message(Message::Recon {
            space: space(),
            parts: vec![items, same(Prefix::ROOT)],
        }));
        assert!(ended(&out).is_none(), "{out:?}");
        // The same range twice, or a range to compare and one inside it, are not.
        let fp = |prefix| Part::Fingerprint {
            prefix,
            fp: crate::recon::Fingerprint::default(),
        };
        for parts in [
            vec![same(child), same(child)],
            vec![fp(Prefix::ROOT), fp(child)],
            vec![fp(child), fp(child)],
        ] {
            let mut s = started(false);
            let out = s.handle(Input::Message(Message::Recon {
                space: space(),
                parts,
            }));
            assert!(matches!(ended(&out), Some(End::Hostile(why)) if why.contains("overlap")));
        }
    }

    #[test]
    fn the_first_side_sends_its_first_reconciliation_step_with_its_hello() {
        let s = started(true);
        // Its step is out: it awaits the peer's answer, so the space is still syncing.
        assert_eq!(s.syncing(), BTreeSet::from([space()]));
        let s = started(false);
        // The other side awaits the first side's step.
        assert_eq!(s.syncing(), BTreeSet::from([space()]));
    }

    #[test]
    fn a_split_is_settled_by_answers_about_its_sub_ranges_and_one_same_about_it() {
        // The first side's early step splits a set of 300 items 16 ways.
        let mut s = Session::new(true, FRAME);
        s.start();
        let out = s.handle(Input::Answer(Ok(Reply::Offers(vec![offer(1)]))));
        assert!(matches!(asked(&out), Some(Ask::ReconStart { .. })));
        let set: ItemSet = (0u8..=255)
            .chain(0..44)
            .enumerate()
            .map(|(n, b)| {
                let mut id = [b; 16];
                id[15] = n as u8;
                id[14] = (n >> 8) as u8;
                (id, [1; 8])
            })
            .collect();
        let split = set.start();
        assert!(matches!(&split, Part::Split { fps, .. } if fps.len() == 16));
        s.handle(Input::Answer(Ok(Reply::Part(split))));
        s.handle(Input::Message(Message::Hello {
            version: VERSION,
            spaces: vec![offer(1)],
        }));
        assert!(
            s.outstanding().contains("16 ranges open"),
            "{}",
            s.outstanding()
        );
        // A `Same` about a range this side never asked about closes nothing else.
        let child = Prefix::ROOT.children()[3];
        let grandchild = child.children()[0];
        let out = s.handle(Input::Message(Message::Recon {
            space: space(),
            parts: vec![Part::Same { prefix: grandchild }],
        }));
        assert!(out.is_empty(), "{out:?}");
        assert!(
            s.outstanding().contains("16 ranges open"),
            "{}",
            s.outstanding()
        );
        // One sub-range answered with items (this side answers `Same` and asks nothing), the
        // others by one `Same` about the split range: settled.
        let out = s.handle(Input::Message(Message::Recon {
            space: space(),
            parts: vec![
                Part::Items {
                    prefix: child,
                    items: vec![],
                },
                Part::Same {
                    prefix: Prefix::ROOT,
                },
            ],
        }));
        assert!(matches!(asked(&out), Some(Ask::Recon { .. })));
        s.handle(Input::Answer(Ok(Reply::Recon {
            replies: vec![Part::Same { prefix: child }],
            diff: Diff::default(),
        })));
        assert!(
            !s.outstanding().contains("ranges open"),
            "{}",
            s.outstanding()
        );
        assert!(s.syncing().is_empty(), "{}", s.outstanding());
    }

    #[test]
    fn a_peer_speaking_another_version_is_told_why_and_the_session_ends() {
        let mut s = Session::new(false, FRAME);
        s.start();
        s.handle(Input::Answer(Ok(Reply::Offers(vec![]))));
        let out = s.handle(Input::Message(Message::Hello {
            version: VERSION + 1,
            spaces: vec![],
        }));
        assert!(matches!(sent(&out)[..], [Message::Bye { .. }]));
        assert!(matches!(ended(&out), Some(End::Hostile(why)) if why.contains("newer")));
        assert!(s.ended());
        assert!(
            s.handle(Input::Serve).is_empty(),
            "an ended session emits nothing"
        );
    }

    #[test]
    fn differing_ops_digests_exchange_op_hashes_before_reconciling() {
        let mut s = Session::new(true, FRAME);
        s.start();
        s.handle(Input::Answer(Ok(Reply::Offers(vec![offer(1)]))));
        s.handle(Input::Answer(Ok(Reply::Part(ItemSet::new().start()))));
        let out = s.handle(Input::Message(Message::Hello {
            version: VERSION,
            spaces: vec![offer(2)],
        }));
        assert!(matches!(asked(&out), Some(Ask::OpHashes { .. })));
        let out = s.handle(Input::Answer(Ok(Reply::OpHashes(vec![OpHash([1; 32])]))));
        assert!(matches!(sent(&out)[..], [Message::OpHashes { .. }]));
        // The early step counts: no second start.
        assert!(asked(&out).is_none());
        assert!(s.shared().contains(&space()));
    }

    #[test]
    fn an_input_that_comes_while_a_question_waits_is_taken_after_the_answer() {
        let mut s = started(false);
        let out = s.handle(Input::Message(Message::OpHashes {
            space: space(),
            hashes: vec![OpHash([9; 32])],
        }));
        assert!(matches!(asked(&out), Some(Ask::OpHashes { .. })));
        // A driver that does not wait: the input is kept for later.
        assert!(
            s.handle(Input::Message(Message::Want {
                space: space(),
                ids: vec![doc(1)],
            }))
            .is_empty()
        );
        assert!(!s.has_serving());
        let out = s.handle(Input::Answer(Ok(Reply::OpHashes(vec![]))));
        assert!(matches!(sent(&out)[..], [Message::WantOps { .. }]));
        assert!(s.has_serving(), "the Want was taken after the answer");
    }

    #[test]
    fn ops_of_spaces_this_side_does_not_hold_are_not_kept() {
        let mut s = started(false);
        for n in 0..64u8 {
            let out = s.handle(Input::Message(Message::Ops {
                space: SpaceId::from_bytes([n; 16]),
                ops: (0..100u8).map(|k| vec![n, k]).collect(),
            }));
            assert!(matches!(asked(&out), Some(Ask::AddOps { .. })), "{out:?}");
            s.handle(Input::Answer(Ok(Reply::Done)));
        }
        // Only the space both hold ([7; 16]) is remembered.
        assert_eq!(s.known_ops.keys().collect::<Vec<_>>(), vec![&space()]);
        assert_eq!(s.known_ops[&space()].len(), 100);
    }

    #[test]
    fn an_answer_to_no_question_ends_the_session() {
        let mut s = started(false);
        let out = s.handle(Input::Answer(Ok(Reply::Done)));
        assert!(matches!(ended(&out), Some(End::Failed(_))));
    }

    /// A session sharing no space, that has just sent a join.
    fn joining() -> Session {
        let mut s = Session::new(false, FRAME);
        s.start();
        s.handle(Input::Answer(Ok(Reply::Offers(vec![]))));
        let out = s.handle(Input::Join {
            ticket: Box::new(test_ticket()),
            op: vec![1, 2, 3],
        });
        assert!(matches!(sent(&out)[..], [Message::Join { .. }]));
        assert!(s.in_use());
        s
    }

    #[test]
    fn a_join_its_caller_gave_up_no_longer_keeps_the_session() {
        let mut s = joining();
        // The inviter sends ops; while the node checks them, the caller stops waiting.
        let out = s.handle(Input::Message(Message::Ops {
            space: space(),
            ops: vec![vec![1]],
        }));
        assert!(
            matches!(asked(&out), Some(Ask::JoinComplete { .. })),
            "{out:?}"
        );
        assert!(s.in_use());
        assert!(s.handle(Input::JoinGivenUp).is_empty());
        assert!(s.handle(Input::Answer(Err(refused()))).is_empty());
        assert!(
            !s.in_use(),
            "a refusal that comes after does not bring the join back"
        );
        // Ops that come after are only ops: no join to complete.
        let out = s.handle(Input::Message(Message::Ops {
            space: space(),
            ops: vec![vec![2]],
        }));
        assert!(matches!(asked(&out), Some(Ask::AddOps { .. })), "{out:?}");
        s.handle(Input::Answer(Ok(Reply::Done)));
        let out = s.handle(Input::IdleTimeout);
        assert!(matches!(ended(&out), Some(End::Idle(_))), "{out:?}");
    }

    #[test]
    fn a_join_fed_ops_without_end_is_given_up() {
        let mut s = joining();
        // Frames of 1,000 ops: the n-th has the node check n × 1,000, 171,000 in all at the
        // 18th.
        let frame = |n: usize| Message::Ops {
            space: space(),
            ops: (0..1000u32)
                .map(|k| (n as u32 * 1000 + k).to_be_bytes().to_vec())
                .collect(),
        };
        for n in 1..=17 {
            let out = s.handle(Input::Message(frame(n)));
            assert!(
                matches!(asked(&out), Some(Ask::JoinComplete { ops, .. }) if ops.len() == n * 1000),
                "{n}: {out:?}"
            );
            assert!(s.handle(Input::Answer(Err(refused()))).is_empty());
        }
        let out = s.handle(Input::Message(frame(18)));
        assert!(asked(&out).is_none(), "{out:?}");
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Join(JoinOutcome::Refused(_)))),
            "{out:?}"
        );
        assert!(matches!(ended(&out), Some(End::Hostile(_))), "{out:?}");
    }

    #[test]
    fn a_join_waits_for_every_op_it_needs_then_completes() {
        let mut s = joining();
        let out = s.handle(Input::Message(Message::Ops {
            space: space(),
            ops: vec![vec![1]],
        }));
        assert!(matches!(asked(&out), Some(Ask::JoinComplete { ops, .. }) if ops.len() == 1));
        // Not admitted by what came so far: the join goes on.
        let out = s.handle(Input::Answer(Err(refused())));
        assert!(out.is_empty(), "{out:?}");
        let out = s.handle(Input::Message(Message::Ops {
            space: space(),
            ops: vec![vec![2]],
        }));
        assert!(matches!(asked(&out), Some(Ask::JoinComplete { ops, .. }) if ops.len() == 2));
        let out = s.handle(Input::Answer(Ok(Reply::Joined {
            space: space(),
            name: "Shared".into(),
        })));
        assert!(matches!(
            out[..],
            [Output::Join(JoinOutcome::Joined { ref name, .. })] if name == "Shared"
        ));
        assert!(!s.in_use());
    }

    #[test]
    fn a_session_ending_with_a_join_in_progress_says_so() {
        let mut s = Session::new(false, FRAME);
        s.start();
        s.handle(Input::Answer(Ok(Reply::Offers(vec![]))));
        s.handle(Input::Join {
            ticket: Box::new(test_ticket()),
            op: vec![1],
        });
        let out = s.handle(Input::Message(Message::Bye {
            reason: "going".into(),
        }));
        assert!(matches!(out[0], Output::Join(JoinOutcome::Closed)));
        assert!(matches!(ended(&out), Some(End::Bye(_))));
        assert!(sent(&out).is_empty(), "no Bye answers a Bye");
    }

    #[test]
    fn an_idle_session_closes_and_one_in_use_does_not() {
        let mut s = started(false);
        assert!(s.handle(Input::IdleTimeout).is_empty());
        let mut s = Session::new(false, FRAME);
        s.start();
        s.handle(Input::Answer(Ok(Reply::Offers(vec![]))));
        let out = s.handle(Input::IdleTimeout);
        assert!(matches!(ended(&out), Some(End::Idle(_))));
        assert!(matches!(sent(&out)[..], [Message::Bye { .. }]));
    }

    #[test]
    fn forged_changes_are_dropped_and_past_the_strikes_end_the_session() {
        let mut s = started(false);
        for n in 0..=MAX_STRIKES {
            let out = s.handle(Input::Message(Message::Change {
                space: space(),
                id: doc(1),
                data: vec![n as u8],
                sigs: vec![],
            }));
            assert!(matches!(asked(&out), Some(Ask::Screen { .. })));
            let out = s.handle(Input::Answer(Ok(Reply::Screened {
                verdict: Screened::Forged { forged: 1 },
                bytes: vec![],
                sigs: vec![],
            })));
            if n < MAX_STRIKES {
                assert!(ended(&out).is_none(), "strike {n}: {out:?}");
            } else {
                assert!(matches!(ended(&out), Some(End::Hostile(_))), "{out:?}");
            }
        }
    }

    #[test]
    fn pushes_the_rules_refuse_end_the_session_past_their_allowance() {
        let mut s = started(false);
        for n in 0..=MAX_REFUSED_BY_RULES {
            s.handle(Input::Message(Message::Change {
                space: space(),
                id: doc(1),
                data: vec![n as u8],
                sigs: vec![],
            }));
            let out = s.handle(Input::Answer(Ok(Reply::Screened {
                verdict: Screened::Fine {
                    unsigned: Vec::new(),
                },
                bytes: vec![n as u8],
                sigs: vec![],
            })));
            assert!(asked(&out).is_some(), "{out:?}");
            let out = s.handle(Input::Answer(Ok(Reply::Applied(Applied::Refused))));
            if n < MAX_REFUSED_BY_RULES {
                assert!(ended(&out).is_none(), "refusal {n}: {out:?}");
            } else {
                assert!(matches!(ended(&out), Some(End::Hostile(_))), "{out:?}");
            }
        }
    }

    #[test]
    fn a_sync_message_that_leaves_both_sides_equal_waits_for_no_synced() {
        for settled in [false, true] {
            let mut s = started(false);
            let out = sync_screened(
                &mut s,
                Screened::Fine {
                    unsigned: Vec::new(),
                },
            );
            assert!(matches!(asked(&out), Some(Ask::SyncIn { .. })), "{out:?}");
            // A settled exchange: the replica has no message to send.
            let out = s.handle(Input::Answer(Ok(Reply::Sync {
                msg: (!settled).then(|| (vec![2], vec![])),
                later: false,
            })));
            // A settled exchange ends with `Synced`; only an unsettled one answers and waits.
            if settled {
                assert!(
                    matches!(sent(&out)[..], [Message::Synced { .. }]),
                    "{out:?}"
                );
            } else {
                assert!(matches!(sent(&out)[..], [Message::Sync { .. }]), "{out:?}");
            }
            let waiting = if settled { "0 syncing" } else { "1 syncing" };
            assert!(s.outstanding().contains(waiting), "{}", s.outstanding());
            // The peer's `Synced` that follows changes nothing.
            s.handle(Input::Message(Message::Synced {
                space: space(),
                id: doc(1),
            }));
            assert!(s.outstanding().contains("0 syncing"), "{}", s.outstanding());
        }
    }

    /// A sync message about document 1 from the peer, and the screen's `verdict` on it.
    fn sync_screened(s: &mut Session, verdict: Screened) -> Vec<Output> {
        s.handle(Input::Message(Message::Sync {
            space: space(),
            id: doc(1),
            msg: vec![1],
            sigs: vec![],
        }));
        s.handle(Input::Answer(Ok(Reply::Screened {
            verdict,
            bytes: vec![1],
            sigs: vec![],
        })))
    }

    #[test]
    fn a_bomb_ends_the_session_at_once() {
        let mut s = started(false);
        let out = sync_screened(&mut s, Screened::Bomb);
        assert!(matches!(ended(&out), Some(End::Hostile(why)) if why.contains("inflate")));
    }

    #[test]
    fn a_want_naming_a_document_twice_is_a_strike_and_each_is_queued_once() {
        let mut s = started(false);
        let out = s.handle(Input::Message(Message::Want {
            space: space(),
            ids: vec![doc(1), doc(1), doc(2)],
        }));
        assert!(matches!(out[..], [Output::Refused(_)]));
        let out = s.handle(Input::Serve);
        match asked(&out) {
            Some(Ask::Fetch { ids, .. }) => assert_eq!(ids, &vec![doc(1), doc(2)]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_document_fetched_and_not_sent_is_said_to_be_done_with() {
        let mut s = started(false);
        s.handle(Input::Message(Message::Want {
            space: space(),
            ids: vec![doc(1), doc(2)],
        }));
        s.handle(Input::Serve);
        let whole = WholeDoc {
            id: doc(1),
            data: vec![0; 10],
            sigs: vec![],
        };
        let out = s.handle(Input::Answer(Ok(Reply::Docs(vec![(whole, [1; 8])]))));
        let msgs = sent(&out);
        assert!(matches!(msgs[0], Message::Docs { docs, .. } if docs.len() == 1));
        assert!(matches!(msgs[1], Message::Synced { id, .. } if *id == doc(2)));
        // Asked for again unchanged: the node is told it was served at that state.
        s.handle(Input::Message(Message::Want {
            space: space(),
            ids: vec![doc(1)],
        }));
        let out = s.handle(Input::Serve);
        assert!(
            matches!(asked(&out), Some(Ask::Fetch { served, .. }) if served == &vec![(doc(1), [1; 8])])
        );
    }

    #[test]
    fn more_documents_asked_for_than_a_space_holds_end_the_session() {
        let mut s = started(false);
        let mut n = 0u32;
        loop {
            let ids: Vec<DocId> = (0..crate::wire::MAX_IDS as u32)
                .map(|i| {
                    let mut b = [0; 16];
                    b[..4].copy_from_slice(&(n + i).to_be_bytes());
                    DocId::from_bytes(b)
                })
                .collect();
            n += ids.len() as u32;
            let out = s.handle(Input::Message(Message::Want {
                space: space(),
                ids,
            }));
            if let Some(end) = ended(&out) {
                assert!(matches!(end, End::Hostile(_)));
                assert!(n as usize > MAX_SERVING);
                return;
            }
            assert!(n as usize <= MAX_SERVING + crate::wire::MAX_IDS);
        }
    }

    #[test]
    fn more_documents_announced_than_a_space_holds_end_the_session() {
        let mut s = started(false);
        let ids = |from: usize, to: usize| -> Vec<DocId> {
            (from..to)
                .map(|i| {
                    let mut b = [0; 16];
                    b[..4].copy_from_slice(&(i as u32).to_be_bytes());
                    DocId::from_bytes(b)
                })
                .collect()
        };
        let have = |ids| Message::Have {
            space: space(),
            ids,
        };
        // Exactly a space's worth.
        for from in (0..MAX_SERVING).step_by(crate::wire::MAX_IDS) {
            let to = (from + crate::wire::MAX_IDS).min(MAX_SERVING);
            let out = s.handle(Input::Message(have(ids(from, to))));
            assert!(ended(&out).is_none());
        }
        assert_eq!(s.active[&space()].wanted.len(), MAX_SERVING);
        // Announced again (a second reconciliation): nothing more is held, and the session goes on.
        let out = s.handle(Input::Message(have(ids(0, crate::wire::MAX_IDS))));
        assert!(ended(&out).is_none(), "{out:?}");
        // One more.
        let out = s.handle(Input::Message(have(ids(MAX_SERVING, MAX_SERVING + 1))));
        assert!(matches!(ended(&out), Some(End::Hostile(_))), "{out:?}");
    }

    #[test]
    fn a_removal_sends_the_ops_that_say_why_and_stops_syncing_the_space() {
        let mut s = started(false);
        let ops = Arc::new(vec![vec![5u8; 10]]);
        let out = s.handle(Input::Membership {
            space: space(),
            ops: ops.clone(),
        });
        assert!(matches!(asked(&out), Some(Ask::Offers)));
        // No longer offered: this node's current ops are asked for.
        let out = s.handle(Input::Answer(Ok(Reply::Offers(vec![]))));
        assert!(matches!(asked(&out), Some(Ask::Ops { hashes: None, .. })));
        // This node holds the space no more (it left): the broadcast's ops go.
        let out = s.handle(Input::Answer(Err(refused())));
        assert!(
            matches!(sent(&out)[..], [Message::Ops { ops, .. }] if ops == &vec![vec![5u8; 10]])
        );
        assert!(s.shared().is_empty());
        // A change to the space is no longer pushed.
        let out = s.handle(Input::Local {
            space: space(),
            id: doc(1),
            data: Arc::new(vec![1]),
            sigs: Arc::new(vec![]),
        });
        assert!(out.is_empty());
    }

    #[test]
    fn new_ops_for_a_shared_space_start_reconciliation_again() {
        // Either side: a removal's cut can make this side drop a document that the peer still
        // holds whole, and only a new round of reconciliation brings it back.
        for first in [false, true] {
            let mut s = started(first);
            let out = s.handle(Input::Membership {
                space: space(),
                ops: Arc::new(vec![vec![5u8; 10]]),
            });
            assert!(matches!(asked(&out), Some(Ask::Offers)));
            let out = s.handle(Input::Answer(Ok(Reply::Offers(vec![offer(2)]))));
            assert!(matches!(asked(&out), Some(Ask::OpHashes { .. })), "{out:?}");
            let out = s.handle(Input::Answer(Ok(Reply::OpHashes(Vec::new()))));
            assert!(
                matches!(asked(&out), Some(Ask::ReconStart { .. })),
                "{out:?}"
            );
            let out = s.handle(Input::Answer(Ok(Reply::Part(ItemSet::new().start()))));
            assert!(
                sent(&out)
                    .iter()
                    .any(|m| matches!(m, Message::Recon { .. })),
                "{out:?}"
            );
            assert!(ended(&out).is_none(), "{out:?}");
        }
    }

    #[test]
    fn an_early_step_sent_before_the_peer_shared_the_space_is_answered_once_it_does() {
        // B does not offer the space yet (it has not seen A's join).
        let mut b = Session::new(false, FRAME);
        b.start();
        b.handle(Input::Answer(Ok(Reply::Offers(vec![]))));
        let out = b.handle(Input::Message(Message::Hello {
            version: VERSION,
            spaces: vec![offer(1)],
        }));
        assert!(out.is_empty());
        // A's early step: ignored, as B shares nothing with A.
        let out = b.handle(Input::Message(Message::Recon {
            space: space(),
            parts: vec![ItemSet::new().start()],
        }));
        assert!(out.is_empty(), "{out:?}");
        // B learns of the join and offers the space: A activates it and takes its early step
        // as sent, so B starts reconciling itself.
        let out = b.handle(Input::Membership {
            space: space(),
            ops: Arc::new(vec![]),
        });
        assert!(matches!(asked(&out), Some(Ask::Offers)));
        let out = b.handle(Input::Answer(Ok(Reply::Offers(vec![offer(1)]))));
        assert!(matches!(sent(&out)[..], [Message::Offer { .. }]));
        assert!(
            matches!(asked(&out), Some(Ask::ReconStart { .. })),
            "{out:?}"
        );
        let out = b.handle(Input::Answer(Ok(Reply::Part(ItemSet::new().start()))));
        assert!(matches!(sent(&out)[..], [Message::Recon { .. }]));
    }

    fn test_ticket() -> Ticket {
        let key = tacit_core::DeviceKey::generate();
        Ticket {
            space: space(),
            name: "Shared".into(),
            invite: OpHash([3; 32]),
            secret: [4; 32],
            role: tacit_core::Role::Editor,
            expires_at: None,
            inviter: key.member_id(),
            addrs: vec![],
        }
    }

    /// One side of a pair: a machine and a model of its node (documents as heads hashes).
    struct Side {
        machine: Session,
        docs: BTreeMap<[u8; 16], HeadsHash>,
        /// Messages to this side, in order.
        inbox: VecDeque<Message>,
        asks: usize,
    }

    impl Side {
        fn new(first: bool, docs: &[(u8, u8)]) -> Self {
            Self {
                machine: Session::new(first, FRAME),
                docs: docs.iter().map(|(id, h)| ([*id; 16], [*h; 8])).collect(),
                inbox: VecDeque::new(),
                asks: 0,
            }
        }

        fn items(&self) -> ItemSet {
            let mut set = ItemSet::new();
            for (id, h) in &self.docs {
                set.insert(*id, *h);
            }
            set
        }

        /// The model's answer: what a node holding these documents answers.
        fn answer(&mut self, ask: Ask) -> Answer {
            self.asks += 1;
            Ok(match ask {
                Ask::Offers => Reply::Offers(vec![offer(1)]),
                Ask::OpHashes { .. } => Reply::OpHashes(vec![]),
                Ask::Ops { .. } => Reply::Ops(vec![]),
                Ask::ReconStart { .. } => Reply::Part(self.items().start()),
                Ask::Recon { parts, .. } => {
                    let items = self.items();
                    let mut replies = Vec::new();
                    let mut diff = Diff::default();
                    for p in &parts {
                        let (r, d) = items.receive(p).expect("a valid step");
                        replies.extend(r);
                        diff.extend(d);
                    }
                    Reply::Recon { replies, diff }
                }
                Ask::Fetch { ids, .. } => Reply::Docs(
                    ids.iter()
                        .filter_map(|id| {
                            let h = self.docs.get(id.as_bytes())?;
                            Some((
                                WholeDoc {
                                    id: *id,
                                    data: h.to_vec(),
                                    sigs: vec![],
                                },
                                *h,
                            ))
                        })
                        .collect(),
                ),
                Ask::SyncOut { id, .. } => Reply::Sync {
                    msg: Some((self.docs[id.as_bytes()].to_vec(), vec![])),
                    later: false,
                },
                Ask::SyncIn { id, msg, .. } => {
                    // A document's state is its heads hash; merging takes the larger.
                    let theirs: HeadsHash = msg.try_into().expect("8 bytes");
                    let mine = self.docs[id.as_bytes()];
                    let merged = mine.max(theirs);
                    self.docs.insert(*id.as_bytes(), merged);
                    Reply::Sync {
                        msg: (merged != theirs).then(|| (merged.to_vec(), vec![])),
                        later: false,
                    }
                }
                Ask::Screen { bytes, sigs, .. } => Reply::Screened {
                    verdict: Screened::Fine { unsigned: vec![] },
                    bytes,
                    sigs,
                },
                other => panic!("not asked in this exchange: {other:?}"),
            })
        }

        /// Carries out outputs: messages to the peer's inbox, questions answered, loads
        /// stored at once.
        fn carry(&mut self, mut outputs: Vec<Output>, to_peer: &mut VecDeque<Message>) {
            loop {
                let mut next = Vec::new();
                for o in outputs {
                    match o {
                        Output::Send(m) => to_peer.push_back(m),
                        Output::Ask(a) => {
                            let answer = self.answer(a);
                            next.extend(self.machine.handle(Input::Answer(answer)));
                        }
                        Output::Load { space, docs } => {
                            let ids = docs.iter().map(|d| d.id).collect();
                            for d in docs {
                                let h: HeadsHash = d.data.try_into().expect("8 bytes");
                                self.docs.insert(*d.id.as_bytes(), h);
                            }
                            next.extend(self.machine.handle(Input::Stored {
                                space,
                                ids,
                                answer: Ok(Reply::Stored {
                                    refused: 0,
                                    later: vec![],
                                }),
                            }));
                        }
                        Output::End(e) => panic!("the session ended: {e}"),
                        Output::Refused(why) => panic!("refused: {why}"),
                        Output::PeerAddrs(_) | Output::Join(_) => {}
                    }
                }
                if next.is_empty() {
                    return;
                }
                outputs = next;
            }
        }
    }

    /// Runs two sides until neither has anything to say; the number of messages exchanged.
    fn exchange(a: &mut Side, b: &mut Side) -> usize {
        let (mut to_b, mut to_a) = (VecDeque::new(), VecDeque::new());
        let out = a.machine.start();
        a.carry(out, &mut to_b);
        let out = b.machine.start();
        b.carry(out, &mut to_a);
        let mut messages = 0;
        loop {
            b.inbox.extend(to_b.drain(..));
            a.inbox.extend(to_a.drain(..));
            let mut moved = false;
            if let Some(m) = a.inbox.pop_front() {
                let out = a.machine.handle(Input::Message(m));
                a.carry(out, &mut to_b);
                moved = true;
            }
            if let Some(m) = b.inbox.pop_front() {
                let out = b.machine.handle(Input::Message(m));
                b.carry(out, &mut to_a);
                moved = true;
            }
            for (side, to) in [(&mut *a, &mut to_b), (&mut *b, &mut to_a)] {
                while side.machine.has_serving() {
                    let out = side.machine.handle(Input::Serve);
                    side.carry(out, to);
                    moved = true;
                }
            }
            if moved {
                messages += 1;
                assert!(messages < 10_000, "the sessions do not settle");
                continue;
            }
            if to_a.is_empty() && to_b.is_empty() {
                return messages;
            }
        }
    }

    #[test]
    fn two_sessions_reconcile_send_and_sync_until_both_hold_the_same_and_go_quiet() {
        // Held by A only, by B only, by both the same, by both differently.
        let mut docs_a: Vec<(u8, u8)> = (0..40).map(|i| (i, 1)).collect();
        let mut docs_b: Vec<(u8, u8)> = (20..100).map(|i| (i, 1)).collect();
        docs_a.push((200, 5));
        docs_b.push((200, 9));
        docs_a.push((201, 9));
        docs_b.push((201, 5));
        let mut a = Side::new(true, &docs_a);
        let mut b = Side::new(false, &docs_b);
        exchange(&mut a, &mut b);
        assert_eq!(a.docs, b.docs);
        assert_eq!(a.docs.len(), 102);
        assert_eq!(a.docs[&[200; 16]], [9; 8]);
        assert_eq!(b.docs[&[201; 16]], [9; 8]);
        assert!(a.machine.quiet() && b.machine.quiet());
        assert!(a.machine.syncing().is_empty() && b.machine.syncing().is_empty());
        // Reconnected with nothing changed: one fingerprint each way and no documents.
        let mut a2 = Side::new(true, &[]);
        a2.docs = a.docs.clone();
        let mut b2 = Side::new(false, &[]);
        b2.docs = b.docs.clone();
        let messages = exchange(&mut a2, &mut b2);
        assert!(messages <= 3, "{messages} steps for an unchanged reconnect");
        assert!(a2.asks <= 3 && b2.asks <= 3, "{} {}", a2.asks, b2.asks);
    }

    #[test]
    fn a_local_change_is_pushed_once_the_space_is_shared() {
        let mut s = Session::new(false, FRAME);
        s.start();
        s.handle(Input::Answer(Ok(Reply::Offers(vec![offer(1)]))));
        let change = || Input::Local {
            space: space(),
            id: doc(1),
            data: Arc::new(vec![1, 2]),
            sigs: Arc::new(vec![]),
        };
        // Not yet shared: the peer has not offered it.
        assert!(s.handle(change()).is_empty());
        s.handle(Input::Message(Message::Hello {
            version: VERSION,
            spaces: vec![offer(1)],
        }));
        let out = s.handle(change());
        assert!(matches!(sent(&out)[..], [Message::Change { data, .. }] if data == &vec![1, 2]));
    }

    /// Answers the machine's questions with `answer` until it asks none; every output, in
    /// order, and the questions asked.
    fn answering(
        s: &mut Session,
        mut out: Vec<Output>,
        mut answer: impl FnMut(&Ask) -> Answer,
    ) -> (Vec<Output>, Vec<String>) {
        let mut all = Vec::new();
        let mut asks = Vec::new();
        loop {
            let ask = match out.last() {
                Some(Output::Ask(a)) => Some(answer(a)),
                _ => None,
            };
            if let Some(Output::Ask(a)) = out.last() {
                asks.push(
                    format!("{a:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
            all.append(&mut out);
            match ask {
                Some(a) => out = s.handle(Input::Answer(a)),
                None => return (all, asks),
            }
        }
    }

    fn recon(parts: Vec<Part>) -> Input {
        Input::Message(Message::Recon {
            space: space(),
            parts,
        })
    }

    fn root_fp(count: u32) -> Part {
        Part::Fingerprint {
            prefix: Prefix::ROOT,
            fp: crate::recon::Fingerprint { count, xor: [0; 8] },
        }
    }

    #[test]
    fn a_replayed_answer_is_settled_and_compared_once() {
        // This side starts (its early step, a fingerprint of the whole set); the peer answers
        // with its items, one of them at other heads: one sync of it.
        let mut s = started(true);
        let answer = Part::Items {
            prefix: Prefix::ROOT,
            items: vec![([1; 16], [9; 8])],
        };
        let mut syncs = 0;
        let mut reply = |a: &Ask| -> Answer {
            Ok(match a {
                Ask::Recon { .. } => Reply::Recon {
                    replies: vec![Part::Same {
                        prefix: Prefix::ROOT,
                    }],
                    diff: Diff {
                        both: vec![([1; 16], [9; 8])],
                        ..Diff::default()
                    },
                },
                Ask::SyncOut { .. } => {
                    syncs += 1;
                    Reply::Sync {
                        msg: None,
                        later: false,
                    }
                }
                other => panic!("{other:?}"),
            })
        };
        let out = s.handle(recon(vec![answer.clone()]));
        let (_, asks) = answering(&mut s, out, &mut reply);
        assert_eq!(asks, ["Recon", "SyncOut"]);
        // The same answer again, a thousand times: settled, never compared, nothing synced.
        for _ in 0..1000 {
            let out = s.handle(recon(vec![answer.clone()]));
            assert!(asked(&out).is_none(), "{out:?}");
            assert!(
                matches!(sent(&out)[..], [Message::Recon { parts, .. }] if parts == &vec![Part::Same { prefix: Prefix::ROOT }]),
                "{out:?}"
            );
        }
        assert_eq!(syncs, 1);
        // Past what crossing answers explain, the session ends.
        let items = |p: Prefix| Part::Items {
            prefix: p,
            items: vec![],
        };
        let deep: Vec<Prefix> = Prefix::ROOT.descendants(3);
        let mut end = None;
        for _ in 0..=MAX_UNASKED / deep.len() {
            let out = s.handle(recon(deep.iter().map(|p| items(*p)).collect()));
            assert!(asked(&out).is_none());
            if let Some(e) = ended(&out) {
                end = Some(e.clone());
                break;
            }
        }
        assert!(matches!(end, Some(End::Hostile(why)) if why.contains("never asked")));
    }

    #[test]
    fn a_peer_starting_again_and_again_waits_for_its_turn() {
        let mut s = started(false);
        let compared = std::cell::Cell::new(0);
        let mut reply = |a: &Ask| -> Answer {
            Ok(match a {
                Ask::Recon { .. } => {
                    compared.set(compared.get() + 1);
                    // A peer claiming to hold nothing: every document here is announced.
                    Reply::Recon {
                        replies: vec![Part::Same {
                            prefix: Prefix::ROOT,
                        }],
                        diff: Diff {
                            mine: (0..100u8).map(|n| [n; 16]).collect(),
                            ..Diff::default()
                        },
                    }
                }
                Ask::Fetch { .. } => Reply::Docs(vec![]),
                other => panic!("{other:?}"),
            })
        };
        // Its first step and one start again are taken at once.
        for _ in 0..RESTARTS {
            let out = s.handle(recon(vec![root_fp(0)]));
            let (out, _) = answering(&mut s, out, &mut reply);
            assert!(
                sent(&out).iter().any(|m| matches!(m, Message::Have { .. })),
                "{out:?}"
            );
        }
        // Further ones wait (only the latest is kept), and announce nothing.
        for n in 0..1000 {
            let out = s.handle(recon(vec![root_fp(n % 2)]));
            assert!(out.is_empty(), "{out:?}");
        }
        assert_eq!(compared.get(), usize::from(RESTARTS));
        assert!(
            s.syncing().contains(&space()),
            "the waiting start is outstanding"
        );
        // A tick later, the latest is taken; the next waits again.
        let out = s.handle(Input::Tick);
        let (_, asks) = answering(&mut s, out, &mut reply);
        assert_eq!(asks, ["Recon"]);
        let out = s.handle(recon(vec![root_fp(0)]));
        assert!(out.is_empty(), "{out:?}");
        // A membership change (the peer starts again after one) allows one too.
        let out = s.handle(Input::Membership {
            space: space(),
            ops: Arc::new(vec![]),
        });
        let (_, asks) = answering(&mut s, out, |a| {
            Ok(match a {
                Ask::Recon { .. } => Reply::Recon {
                    replies: vec![],
                    diff: Diff::default(),
                },
                Ask::Offers => Reply::Offers(vec![offer(1)]),
                other => panic!("{other:?}"),
            })
        });
        assert!(asks.contains(&"Recon".to_owned()), "{asks:?}");
        assert!(!s.ended());
    }

    #[test]
    fn steps_about_ranges_never_asked_about_open_nothing() {
        let mut s = started(false);
        // Fingerprints of deep ranges: no exchange sends one.
        let fps: Vec<Part> = Prefix::ROOT
            .descendants(3)
            .into_iter()
            .map(|prefix| Part::Fingerprint {
                prefix,
                fp: crate::recon::Fingerprint::default(),
            })
            .collect();
        let out = s.handle(recon(fps));
        assert!(asked(&out).is_none());
        assert!(matches!(ended(&out), Some(End::Hostile(_))), "{out:?}");
        // Splits of deep ranges: settled, and nothing is asked of the node or kept.
        let mut s = started(false);
        let splits: Vec<Part> = Prefix::ROOT
            .descendants(2)
            .into_iter()
            .map(|prefix| Part::Split {
                prefix,
                fps: vec![
                    crate::recon::Fingerprint {
                        count: 1,
                        xor: [1; 8]
                    };
                    15
                ],
            })
            .collect();
        let out = s.handle(recon(splits));
        assert!(asked(&out).is_none() && ended(&out).is_none(), "{out:?}");
        assert!(s.active[&space()].asked.is_empty());
        // What this side asks is bounded: a start answered with 4,096 item lists, again and
        // again (each start allowed by a tick), ends the session past `MAX_OPEN`.
        let deep: Vec<Prefix> = Prefix::ROOT.descendants(4);
        let mut rounds = 0;
        let end = loop {
            let out = s.handle(recon(vec![root_fp(1)]));
            let chunk: Vec<Part> = deep[(rounds % 16) * 4096..][..4096]
                .iter()
                .map(|p| Part::Items {
                    prefix: *p,
                    items: vec![],
                })
                .collect();
            let (out, _) = answering(&mut s, out, |_| {
                Ok(Reply::Recon {
                    replies: chunk.clone(),
                    diff: Diff::default(),
                })
            });
            if let Some(e) = ended(&out) {
                break e.clone();
            }
            s.handle(Input::Tick);
            rounds += 1;
            assert!(rounds <= crate::recon::MAX_OPEN / 4096, "never bounded");
        };
        assert!(matches!(end, End::Hostile(why) if why.contains("ranges")));
    }

    #[test]
    fn an_offer_again_with_another_digest_gets_the_op_hashes_once() {
        let mut s = started(false);
        let hashes = || Ok(Reply::OpHashes(vec![OpHash([1; 32]), OpHash([2; 32])]));
        let offer_again = |digest| {
            Input::Message(Message::Offer {
                spaces: vec![offer(digest)],
            })
        };
        let out = s.handle(offer_again(2));
        let (out, _) = answering(&mut s, out, |_| hashes());
        assert!(
            matches!(sent(&out)[..], [Message::OpHashes { .. }]),
            "{out:?}"
        );
        // Again with a wrong digest, and a hello: nothing more, not even a question.
        for d in 3..100 {
            assert!(s.handle(offer_again(d)).is_empty());
        }
        let out = s.handle(Input::Message(Message::Hello {
            version: VERSION,
            spaces: vec![offer(100)],
        }));
        assert!(out.is_empty(), "{out:?}");
        // This side's set changes: its list goes once more.
        let out = s.handle(Input::Membership {
            space: space(),
            ops: Arc::new(vec![]),
        });
        let (out, _) = answering(&mut s, out, |a| {
            Ok(match a {
                Ask::Offers => Reply::Offers(vec![offer(5)]),
                Ask::OpHashes { .. } => return hashes(),
                Ask::ReconStart { .. } => Reply::Part(ItemSet::new().start()),
                Ask::Ops { .. } => Reply::Ops(vec![]),
                other => panic!("{other:?}"),
            })
        });
        let lists = sent(&out)
            .iter()
            .filter(|m| matches!(m, Message::OpHashes { .. }))
            .count();
        assert_eq!(lists, 1, "{out:?}");
    }

    #[test]
    fn op_hashes_of_nothing_bring_each_op_once() {
        let mut s = started(false);
        let ops = vec![vec![1u8; 1000], vec![2u8; 1000]];
        let mine: Vec<OpHash> = ops.iter().map(|o| op_hash(o)).collect();
        let mut reply = |a: &Ask| -> Answer {
            Ok(match a {
                Ask::OpHashes { .. } => Reply::OpHashes(mine.clone()),
                Ask::Ops { .. } => Reply::Ops(ops.clone()),
                other => panic!("{other:?}"),
            })
        };
        let nothing = || {
            Input::Message(Message::OpHashes {
                space: space(),
                hashes: vec![],
            })
        };
        let out = s.handle(nothing());
        let (out, _) = answering(&mut s, out, &mut reply);
        assert!(
            matches!(sent(&out)[..], [Message::Ops { ops, .. }] if ops.len() == 2),
            "{out:?}"
        );
        for _ in 0..10 {
            let out = s.handle(nothing());
            let (out, asks) = answering(&mut s, out, &mut reply);
            assert!(sent(&out).is_empty(), "{out:?}");
            assert_eq!(asks, ["OpHashes"], "the ops are not read again");
        }
    }

    #[test]
    fn asking_again_for_an_op_sent_gets_nothing_and_past_the_strikes_ends_the_session() {
        let mut s = started(false);
        // A removal with a large cut: near a megabyte.
        let big = vec![7u8; 900_000];
        let hash = op_hash(&big);
        let want = || {
            Input::Message(Message::WantOps {
                space: space(),
                hashes: vec![hash],
            })
        };
        let out = s.handle(want());
        let (out, _) = answering(&mut s, out, |_| Ok(Reply::Ops(vec![big.clone()])));
        assert!(matches!(sent(&out)[..], [Message::Ops { .. }]), "{out:?}");
        for n in 1..=MAX_STRIKES + 1 {
            let out = s.handle(want());
            assert!(
                asked(&out).is_none()
                    && sent(&out).iter().all(|m| matches!(m, Message::Bye { .. }))
            );
            if n <= MAX_STRIKES {
                assert!(ended(&out).is_none(), "{n}: {out:?}");
            } else {
                assert!(matches!(ended(&out), Some(End::Hostile(_))), "{out:?}");
            }
        }
    }
}

#[cfg(test)]
mod peer_words_tests {
    #[test]
    fn a_peers_reason_is_kept_short_and_on_one_line() {
        let long = format!("line\n\u{1b}[2J{}", "x".repeat(20 * 1024 * 1024));
        let kept = super::peer_words(&long);
        assert_eq!(kept.chars().count(), super::PEER_WORDS_MAX + 1);
        assert!(kept.starts_with("line  [2J") && kept.ends_with('…'));
        assert_eq!(super::peer_words("a short one"), "a short one");
    }
}
