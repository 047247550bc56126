//! One sync session: the `/tacit/sync/2` stream with one peer, driven as a state machine over
//! the messages of [`tacit_net::wire`].
//!
//! The session does the network I/O and the parallel work (loading received documents and
//! checking their signatures); every decision about documents and memberships is the actor's
//! ([`crate::replica`]). A malformed frame, a garbage sync message or a reconciliation step that
//! breaks the rules closes this session (with a `Bye` naming why), never the node.
//!
//! What a peer can make a session hold is bounded: frames read ahead ([`IN_BYTES`]), frames
//! waiting to load ([`LOADS_WAITING`]; past it the session stops reading until one is done),
//! bytes queued to send ([`OUT_BYTES`]; past it the peer is not reading, and the session closes),
//! documents asked for ([`MAX_SERVING`], each asked for once until it changes, and sent only while
//! the outgoing queue is below [`OUT_LOW`]), and spaces offered ([`MAX_OFFERS_KEPT`]). A session
//! that shares no space is closed after [`IDLE_GRACE`].
//!
//! Changes pushed or synced are screened off the actor before any document sees them
//! ([`tacit_core::screen`]: inflated size counted, every signature sent checked against the
//! member the change's actor id names): a bomb or a sync message that is not one ends the
//! session; forged changes are dropped and counted, and past [`MAX_STRIKES`] end it. The engine
//! keeps a peer whose session ended as hostile out for a while.
//!
//! A reconnect costs few round trips: the side that starts reconciliation sends its first step
//! with its hello, and a document found to differ starts Automerge's sync from the peer's heads
//! when reconciliation's heads hash names a state the document passed through (the usual case:
//! one side edited while the other was away), so that the first sync message carries what the
//! peer lacks.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::AsyncReadExt as _;
use tacit_core::{ChangeSig, DocId, MemberId, OpHash, Screened, SpaceId, Ticket};
use tacit_net::recon::{HeadsHash, Part, Prefix};
use tacit_net::wire::{
    MAX_DOCS, MAX_IDS, MAX_OP_HASHES, MAX_OPS, MAX_PARTS, MemberAddrs, Message, SpaceOffer,
    VERSION, WholeDoc,
};
use tacit_net::{PeerId, codec};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, trace, warn};

use super::ActorLink;
use crate::actor::NodeInfo;
use crate::actor::load_whole;
use crate::api::{Event, Traffic};
use crate::error::NodeError;
use crate::replica::{Applied, ReplicaReply, ReplicaReq, Replicated, SessionId};

/// Bytes of frames read ahead of the session loop: a few full frames. Past it the reader waits,
/// and the peer's writes wait for it (back-pressure over the stream).
const IN_BYTES: usize = 48 * 1024 * 1024;
/// Bytes queued for the peer past which it is taken not to read: the session closes. Far above
/// what a session queues while serving (see [`OUT_LOW`]).
const OUT_BYTES: usize = 128 * 1024 * 1024;
/// Documents asked for are sent only while less than this is queued: a first sync of thousands of
/// documents streams at the speed of the link instead of piling up in memory.
const OUT_LOW: usize = 8 * 1024 * 1024;
/// Documents fetched from the store per `Docs` frame.
const DOCS_PER_FRAME: usize = 64;
/// `Docs` frames being loaded at once: one per core.
const LOADS_IN_FLIGHT: usize = 2;
/// `Docs` frames received and waiting to load; past it the session reads no more frames until
/// one is done.
const LOADS_WAITING: usize = 4;
/// Documents asked for and not yet sent: a space's worth. A peer asking for more is hostile.
const MAX_SERVING: usize = 200_000;
/// Spaces a peer offered that a session remembers (a space is activated when both sides
/// offered it, in either order): far more spaces than anyone shares, and a bound on what a
/// peer offering without end can make this node hold.
const MAX_OFFERS_KEPT: usize = 4096;
/// Documents waiting for membership ops, to sync again once they arrive.
const MAX_LATER: usize = 4096;
/// Changes refused before they reach the actor (forged signatures, malformed bytes) that a
/// session takes before it ends as hostile. An honest node sends none (it keeps none), so a few
/// allow for a bug without letting a peer make this node check forgeries for ever.
const MAX_STRIKES: u32 = 8;
/// How long a session that shares no space (and joins none) stays open: long enough for a
/// membership change to arrive, short enough that strangers do not keep sessions.
const IDLE_GRACE: Duration = Duration::from_secs(30);

/// Change bytes that passed [`Session::screen`], their signatures, and the hashes of those sent
/// without one.
type Signed = (Vec<u8>, Vec<ChangeSig>, Vec<[u8; 32]>);

/// What change bytes [`Session::screen`] is given.
#[derive(Clone, Copy)]
enum Carrier {
    /// A push's changes (or whole document).
    Change,
    /// An Automerge sync message.
    Sync,
}

/// A command to a running session.
pub(crate) enum SessionCmd {
    /// Send a join op and complete the join when the admitting member's ops arrive.
    Join {
        ticket: Box<Ticket>,
        op: Vec<u8>,
        reply: oneshot::Sender<Result<(SpaceId, String), NodeError>>,
    },
    /// Tell the peer where these members can be reached (chosen by the engine: members of the
    /// spaces this session shares).
    Addrs(Vec<MemberAddrs>),
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionEnd {
    #[error("the peer closed the session: {0}")]
    Bye(String),
    #[error("{0}")]
    Frame(#[from] codec::FrameError),
    /// The peer did what no honest node does (the engine keeps it out for a while).
    #[error("{0}")]
    Hostile(String),
    /// This node failed (its store, say): not the peer's doing.
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Idle(String),
    #[error("the node stopped")]
    Stopped,
}

/// What a session starts with.
pub(crate) struct SessionCtx {
    pub(crate) id: SessionId,
    pub(crate) peer: PeerId,
    pub(crate) member: MemberId,
    /// Whether this side starts reconciliation (the smaller peer id).
    pub(crate) first: bool,
    pub(crate) actor: ActorLink,
    pub(crate) replica: broadcast::Receiver<Replicated>,
    pub(crate) cmds: mpsc::Receiver<SessionCmd>,
    pub(crate) info: Arc<NodeInfo>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) max_frame: usize,
    /// Where member address records received from the peer go (the engine checks and keeps
    /// them).
    pub(crate) addrs: mpsc::Sender<(PeerId, Vec<MemberAddrs>)>,
}

/// A join in progress on this session.
struct Joining {
    ticket: Box<Ticket>,
    op: Vec<u8>,
    reply: oneshot::Sender<Result<(SpaceId, String), NodeError>>,
    /// The ops received so far (a large op set comes in several frames).
    ops: Vec<Vec<u8>>,
}

/// Per-space progress of the exchange.
#[derive(Default)]
struct Progress {
    /// Ranges this side asked about and awaits an answer for.
    open: HashSet<Prefix>,
    /// Documents announced (`Have`) or asked for (`Want`) and not yet received.
    wanted: HashSet<DocId>,
    /// Documents in an Automerge sync exchange.
    syncing: HashSet<DocId>,
    /// `Docs` frames being loaded and stored.
    loading: usize,
    /// The peer starts reconciliation and has not yet.
    awaiting_recon: bool,
}

impl Progress {
    fn busy(&self) -> bool {
        !self.open.is_empty()
            || !self.wanted.is_empty()
            || !self.syncing.is_empty()
            || self.loading > 0
            || self.awaiting_recon
    }
}

/// The queue of frames to the writer, counted in bytes.
struct Outbox {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    drained: Arc<Notify>,
}

impl Outbox {
    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

struct Session {
    ctx: SessionCtx,
    out: Outbox,
    /// Spaces this side offered, with its ops digest.
    mine: HashMap<SpaceId, [u8; 32]>,
    /// Spaces the peer offered, with its ops digest.
    theirs: HashMap<SpaceId, [u8; 32]>,
    /// Spaces both offered: reconciled and synced live.
    active: HashMap<SpaceId, Progress>,
    joining: Option<Joining>,
    loads: Arc<Semaphore>,
    tasks: JoinSet<(SpaceId, Vec<DocId>, Result<ReplicaReply, NodeError>)>,
    /// Documents to send, in order, and the set of them (each is queued once).
    serving: VecDeque<(SpaceId, DocId)>,
    queued: HashSet<(SpaceId, DocId)>,
    /// Documents sent whole in this session, with the heads hash they had: one asked for again
    /// unchanged is said to be done with instead of sent again.
    served: HashMap<(SpaceId, DocId), HeadsHash>,
    /// Ops this side asked the peer for in this session (asked once).
    asked_ops: HashSet<OpHash>,
    /// Ops the peer holds, as far as this session saw (listed by it, sent to it, or sent by it):
    /// a membership change sends the peer the new ones at once, before the changes made under
    /// them.
    known_ops: HashMap<SpaceId, HashSet<OpHash>>,
    /// Documents whose changes waited for membership ops.
    later: HashSet<(SpaceId, DocId)>,
    published: (BTreeSet<SpaceId>, BTreeSet<SpaceId>),
    /// Counted by the reader and writer tasks; shown in the network view.
    traffic: Arc<std::sync::Mutex<Traffic>>,
    /// Whether this side sent a frame since it last received one (a round trip ends when
    /// the next frame arrives).
    sent_since_received: bool,
    /// Messages of changes refused by [`screen`] so far.
    strikes: u32,
    /// Spaces whose first reconciliation step went out with the hello, before they were
    /// active.
    early: HashSet<SpaceId>,
}

/// Runs a session on an open stream until either side ends it.
pub(crate) async fn run(ctx: SessionCtx, stream: libp2p::Stream) -> Result<(), SessionEnd> {
    let (mut rd, mut wr) = stream.split();
    let max = ctx.max_frame;
    // Frames read ahead, each holding permits for its bytes until the loop takes it.
    let room = Arc::new(Semaphore::new(IN_BYTES));
    let (in_tx, mut in_rx) =
        mpsc::unbounded_channel::<Result<(Vec<u8>, usize), codec::FrameError>>();
    let traffic = Arc::new(std::sync::Mutex::new(Traffic::default()));
    let counted = traffic.clone();
    let reader_room = room.clone();
    let reader = tokio::spawn(async move {
        loop {
            match codec::read_frame(&mut rd, max).await {
                Ok(Some(frame)) => {
                    if let Ok(mut t) = counted.lock() {
                        t.frames_in += 1;
                        t.bytes_in += frame.len() as u64 + 4;
                    }
                    let n = frame.len().clamp(1, IN_BYTES);
                    let Ok(permits) = reader_room
                        .clone()
                        .acquire_many_owned(u32::try_from(n).unwrap_or(u32::MAX))
                        .await
                    else {
                        break;
                    };
                    permits.forget();
                    if in_tx.send(Ok((frame, n))).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = in_tx.send(Err(e));
                    break;
                }
            }
        }
    });
    let (tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let out = Outbox {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        drained: Arc::new(Notify::new()),
    };
    let counted = traffic.clone();
    let (queued, drained) = (out.queued.clone(), out.drained.clone());
    let writer = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if let Ok(mut t) = counted.lock() {
                t.frames_out += 1;
                t.bytes_out += frame.len() as u64 + 4;
            }
            let result = codec::write_frame(&mut wr, &frame, max).await;
            let left = queued
                .fetch_sub(frame.len(), Ordering::Relaxed)
                .saturating_sub(frame.len());
            if left < OUT_LOW {
                drained.notify_one();
            }
            if result.is_err() {
                break;
            }
        }
        let _ = futures::AsyncWriteExt::close(&mut wr).await;
    });

    let mut s = Session {
        ctx,
        out,
        mine: HashMap::new(),
        theirs: HashMap::new(),
        active: HashMap::new(),
        joining: None,
        loads: Arc::new(Semaphore::new(LOADS_IN_FLIGHT)),
        tasks: JoinSet::new(),
        serving: VecDeque::new(),
        queued: HashSet::new(),
        served: HashMap::new(),
        asked_ops: HashSet::new(),
        known_ops: HashMap::new(),
        later: HashSet::new(),
        published: Default::default(),
        traffic,
        sent_since_received: false,
        strikes: 0,
        early: HashSet::new(),
    };
    let result = s.serve(&mut in_rx, &room).await;
    if let Err(e) = &result
        && !matches!(e, SessionEnd::Bye(_) | SessionEnd::Stopped)
    {
        let _ = s.send(Message::Bye {
            reason: e.to_string(),
        });
    }
    if let Some(j) = s.joining.take() {
        let _ = j.reply.send(Err(NodeError::Offline(
            "the member closed the connection before admitting this device".into(),
        )));
    }
    s.tasks.abort_all();
    let _ = s
        .ctx
        .actor
        .ask(ReplicaReq::EndSession { session: s.ctx.id })
        .await;
    drop(s.out);
    let _ = writer.await;
    reader.abort();
    result
}

impl Session {
    async fn serve(
        &mut self,
        in_rx: &mut mpsc::UnboundedReceiver<Result<(Vec<u8>, usize), codec::FrameError>>,
        room: &Arc<Semaphore>,
    ) -> Result<(), SessionEnd> {
        let offers = self.offers().await?;
        self.mine = offers.iter().map(|o| (o.space, o.ops_digest)).collect();
        let offered: Vec<SpaceId> = offers.iter().map(|o| o.space).collect();
        self.send(Message::Hello {
            version: VERSION,
            spaces: offers,
        })?;
        // The side that starts reconciliation sends its first step with the hello instead of
        // after the peer's: a round trip less for every reconnect. The peer reads the hello
        // first, and ignores the step for a space it does not share.
        if self.ctx.first {
            for space in offered {
                if self.send_recon_start(space).await? {
                    self.early.insert(space);
                }
            }
        }
        let idle = tokio::time::sleep(IDLE_GRACE);
        tokio::pin!(idle);
        loop {
            let loads_full = self.loading() >= LOADS_IN_FLIGHT + LOADS_WAITING;
            let can_serve = !self.serving.is_empty() && self.out.queued() < OUT_LOW;
            tokio::select! {
                frame = in_rx.recv(), if !loads_full => match frame {
                    Some(Ok((bytes, permits))) => {
                        room.add_permits(permits);
                        if std::mem::take(&mut self.sent_since_received)
                            && let Ok(mut t) = self.traffic.lock()
                        {
                            t.round_trips += 1;
                        }
                        let msg = Message::decode(&bytes)
                            .map_err(|e| SessionEnd::Hostile(e.to_string()))?;
                        trace!(peer = %self.ctx.peer, kind = msg.name(), bytes = bytes.len(), "received");
                        drop(bytes);
                        self.on_message(msg).await?;
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
                r = self.ctx.replica.recv() => match r {
                    Ok(Replicated::Change { space, id, data, sigs, origin }) => {
                        if origin != Some(self.ctx.id) && self.active.contains_key(&space) {
                            self.send(Message::Change {
                                space,
                                id,
                                data: data.to_vec(),
                                sigs: sigs.to_vec(),
                            })?;
                        }
                    }
                    Ok(Replicated::Membership { space, ops }) => {
                        self.refresh_offers(Some((space, ops))).await?;
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        debug!(peer = %self.ctx.peer, "missed {n} local changes: reconciling again");
                        self.refresh_offers(None).await?;
                        let spaces: Vec<SpaceId> = self.active.keys().copied().collect();
                        for space in spaces {
                            self.start_recon(space).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(SessionEnd::Stopped),
                },
                cmd = self.ctx.cmds.recv() => match cmd {
                    Some(SessionCmd::Join { ticket, op, reply }) => {
                        let space = ticket.space;
                        self.send(Message::Join { space, op: op.clone() })?;
                        self.joining = Some(Joining { ticket, op, reply, ops: Vec::new() });
                    }
                    Some(SessionCmd::Addrs(records)) => self.send(Message::Addrs { records })?,
                    None => return Err(SessionEnd::Stopped),
                },
                Some(done) = self.tasks.join_next() => {
                    if let Ok((space, ids, result)) = done {
                        self.loaded(space, ids, result).await?;
                    }
                }
                _ = self.out.drained.notified(), if !self.serving.is_empty() => {}
                _ = async {}, if can_serve => self.serve_some().await?,
                _ = &mut idle, if self.active.is_empty() && self.joining.is_none() => {
                    return Err(SessionEnd::Idle(
                        "the peers share no space; the session is closed".into(),
                    ));
                }
            }
            if self.out.queued() > OUT_BYTES {
                return Err(SessionEnd::Hostile(format!(
                    "more than {} MiB wait to be sent: the peer does not read",
                    OUT_BYTES / (1024 * 1024)
                )));
            }
            if !self.active.is_empty() || self.joining.is_some() {
                idle.as_mut()
                    .reset(tokio::time::Instant::now() + IDLE_GRACE);
            }
            self.publish();
        }
    }

    fn loading(&self) -> usize {
        self.active.values().map(|p| p.loading).sum()
    }

    fn send(&mut self, msg: Message) -> Result<(), SessionEnd> {
        self.sent_since_received = true;
        let bytes = msg.encode();
        trace!(peer = %self.ctx.peer, kind = msg.name(), bytes = bytes.len(), "sent");
        self.out.queued.fetch_add(bytes.len(), Ordering::Relaxed);
        self.out
            .tx
            .send(bytes)
            .map_err(|_| SessionEnd::Bye("the connection closed".into()))
    }

    async fn ask(&self, req: ReplicaReq) -> Result<ReplicaReply, NodeError> {
        self.ctx.actor.ask(req).await
    }

    /// Asks the actor; an error that is the peer's doing closes the session, a refusal is
    /// logged and skipped (`None`).
    async fn ask_or_close(&self, req: ReplicaReq) -> Result<Option<ReplicaReply>, SessionEnd> {
        match self.ask(req).await {
            Ok(r) => Ok(Some(r)),
            Err(NodeError::Refused(why) | NodeError::NotFound(why)) => {
                debug!(peer = %self.ctx.peer, "refused: {why}");
                Ok(None)
            }
            Err(NodeError::Stopped) => Err(SessionEnd::Stopped),
            Err(e @ (NodeError::Invalid(_) | NodeError::Core(_) | NodeError::Space(_))) => {
                Err(SessionEnd::Hostile(e.to_string()))
            }
            Err(e) => {
                warn!(peer = %self.ctx.peer, "sync failed: {e}");
                Err(SessionEnd::Failed(format!(
                    "this node could not serve the session: {e}"
                )))
            }
        }
    }

    async fn offers(&self) -> Result<Vec<SpaceOffer>, SessionEnd> {
        match self
            .ask_or_close(ReplicaReq::Offers {
                peer: self.ctx.member,
            })
            .await?
        {
            Some(ReplicaReply::Offers(o)) => Ok(o),
            _ => Ok(Vec::new()),
        }
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), SessionEnd> {
        let peer = self.ctx.member;
        match msg {
            Message::Hello { version, spaces } => {
                if version < VERSION {
                    return Err(SessionEnd::Hostile(format!(
                        "the peer runs an older Tacit (sync protocol {version}, this node speaks {VERSION}); it must upgrade to sync"
                    )));
                }
                if version > VERSION {
                    return Err(SessionEnd::Hostile(format!(
                        "the peer runs a newer Tacit (sync protocol {version}, this node speaks {VERSION}); upgrade this one to sync"
                    )));
                }
                self.their_offers(spaces).await?;
            }
            Message::Offer { spaces } => self.their_offers(spaces).await?,
            Message::Join { space, op } => {
                match self.ask(ReplicaReq::Admit { space, peer, op }).await {
                    Ok(_) => {
                        debug!(peer = %self.ctx.peer, %space, "admitted a joiner");
                        // The joiner needs every op to see itself a member.
                        self.send_all_ops(space).await?;
                    }
                    Err(NodeError::Stopped) => return Err(SessionEnd::Stopped),
                    Err(e) => {
                        self.send(Message::JoinRefused {
                            space,
                            reason: e.to_string(),
                        })?;
                    }
                }
            }
            Message::JoinRefused { space, reason } => {
                if self
                    .joining
                    .as_ref()
                    .is_some_and(|j| j.ticket.space == space)
                    && let Some(j) = self.joining.take()
                {
                    let _ = j.reply.send(Err(NodeError::Refused(format!(
                        "the member refused: {reason}"
                    ))));
                }
            }
            Message::OpHashes { space, hashes } => self.on_op_hashes(space, hashes).await?,
            Message::WantOps { space, hashes } => {
                let req = ReplicaReq::Ops {
                    space,
                    peer,
                    hashes: Some(hashes),
                };
                if let Some(ReplicaReply::Ops(ops)) = self.ask_or_close(req).await? {
                    self.send_ops(space, ops)?;
                }
            }
            Message::Ops { space, ops } => {
                if self
                    .joining
                    .as_ref()
                    .is_some_and(|j| j.ticket.space == space)
                    && let Some(mut j) = self.joining.take()
                {
                    j.ops.extend(ops);
                    j.ops.truncate(tacit_core::MAX_SPACE_OPS);
                    let req = ReplicaReq::JoinComplete {
                        ticket: j.ticket.clone(),
                        join: j.op.clone(),
                        ops: j.ops.clone(),
                    };
                    match self.ask(req).await {
                        Ok(ReplicaReply::Joined { space, name }) => {
                            let _ = j.reply.send(Ok((space, name)));
                        }
                        // Not admitted by what arrived so far: the rest may follow.
                        Err(NodeError::Refused(_)) => self.joining = Some(j),
                        Ok(_) => {
                            let _ = j
                                .reply
                                .send(Err(NodeError::Internal("unexpected reply".into())));
                        }
                        Err(e) => {
                            let _ = j.reply.send(Err(e));
                        }
                    }
                } else {
                    let hashes: Vec<OpHash> = ops.iter().map(|o| op_hash(o)).collect();
                    self.know_ops(space, hashes.iter());
                    let req = ReplicaReq::AddOps { space, peer, ops };
                    if let Some(ReplicaReply::OpsAdded { changed, missing }) =
                        self.ask_or_close(req).await?
                    {
                        self.want_ops(space, missing)?;
                        if changed {
                            self.retry_later(space).await?;
                        }
                    }
                }
            }
            Message::Recon { space, parts } => self.on_recon(space, parts).await?,
            Message::Have { space, ids } => {
                if let Some(p) = self.active.get_mut(&space) {
                    p.wanted.extend(ids);
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
                    self.load(space, docs);
                }
            }
            Message::Sync {
                space,
                id,
                msg,
                sigs,
            } => {
                if !self.active.contains_key(&space) {
                    return Ok(());
                }
                let (msg, sigs, unsigned) =
                    match self.screen(space, id, Carrier::Sync, msg, sigs).await? {
                        Some(passed) => passed,
                        None => {
                            self.progress(space).syncing.remove(&id);
                            self.send(Message::Synced { space, id })?;
                            return Ok(());
                        }
                    };
                let req = ReplicaReq::SyncIn {
                    session: self.ctx.id,
                    space,
                    peer,
                    id,
                    msg,
                    sigs,
                    unsigned,
                };
                match self.ask_or_close(req).await? {
                    Some(ReplicaReply::Sync {
                        msg: Some((reply, sigs)),
                        ..
                    }) => {
                        self.progress(space).syncing.insert(id);
                        self.send(Message::Sync {
                            space,
                            id,
                            msg: reply,
                            sigs,
                        })?;
                    }
                    other => {
                        if matches!(other, Some(ReplicaReply::Sync { later: true, .. })) {
                            self.note_later(space, id);
                        }
                        self.progress(space).syncing.remove(&id);
                        self.send(Message::Synced { space, id })?;
                    }
                }
            }
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
            } => {
                if !self.active.contains_key(&space) {
                    return Ok(());
                }
                let Some((data, sigs, unsigned)) =
                    self.screen(space, id, Carrier::Change, data, sigs).await?
                else {
                    return Ok(());
                };
                let any_unsigned = !unsigned.is_empty();
                let req = ReplicaReq::Apply {
                    space,
                    peer,
                    id,
                    data,
                    sigs,
                    unsigned,
                    origin: self.ctx.id,
                };
                match self.ask_or_close(req).await? {
                    Some(ReplicaReply::Applied(Applied::Want)) => {
                        self.progress(space).wanted.insert(id);
                        self.send(Message::Want {
                            space,
                            ids: vec![id],
                        })?;
                    }
                    Some(ReplicaReply::Applied(Applied::Sync)) => {
                        self.sync_doc(space, id, None).await?;
                    }
                    Some(ReplicaReply::Applied(Applied::Later)) => self.note_later(space, id),
                    Some(ReplicaReply::Applied(Applied::Refused)) if any_unsigned => {
                        self.strike(&format!("changes to {id} without their author's signature"))?;
                    }
                    _ => {}
                }
            }
            Message::Bye { reason } => return Err(SessionEnd::Bye(reason)),
            Message::Addrs { records } => {
                if self.ctx.addrs.send((self.ctx.peer, records)).await.is_err() {
                    return Err(SessionEnd::Stopped);
                }
            }
        }
        Ok(())
    }

    /// Screens changes off the actor (on a blocking thread): a bomb ends the session; forged or
    /// malformed changes are dropped here (`None`) and counted, and past [`MAX_STRIKES`] end
    /// it. What passes is checked again, in full, by the actor.
    async fn screen(
        &mut self,
        space: SpaceId,
        id: DocId,
        carrier: Carrier,
        bytes: Vec<u8>,
        sigs: Vec<ChangeSig>,
    ) -> Result<Option<Signed>, SessionEnd> {
        let scopes = [space, tacit_core::PROFILE_SCOPE];
        let (verdict, bytes, sigs) = tokio::task::spawn_blocking(move || {
            let verdict = match carrier {
                Carrier::Change => tacit_core::screen(&scopes, id, [bytes.as_slice()], &sigs),
                Carrier::Sync => tacit_core::screen_sync(&scopes, id, &bytes, &sigs),
            };
            (verdict, bytes, sigs)
        })
        .await
        .map_err(|_| SessionEnd::Stopped)?;
        let why = match verdict {
            Screened::Fine { unsigned } => return Ok(Some((bytes, sigs, unsigned))),
            Screened::Bomb => {
                return Err(SessionEnd::Hostile(format!(
                    "sent changes to {id} that would inflate past {} MiB",
                    tacit_core::chunks::MAX_INFLATED_BYTES / (1024 * 1024)
                )));
            }
            // Automerge's sync goes no further with a message it cannot read.
            Screened::Malformed if matches!(carrier, Carrier::Sync) => {
                return Err(SessionEnd::Hostile(format!(
                    "a sync message for {id} that is not one"
                )));
            }
            Screened::Malformed => "malformed changes".to_owned(),
            Screened::Forged { forged } => {
                format!("{forged} changes without their author's signature")
            }
        };
        self.strike(&format!("{why} for {id}"))?;
        Ok(None)
    }

    /// Counts a message of changes refused as no honest node's; past [`MAX_STRIKES`] the
    /// session ends.
    fn strike(&mut self, why: &str) -> Result<(), SessionEnd> {
        self.strikes += 1;
        debug!(peer = %self.ctx.peer, strikes = self.strikes, "refused {why}");
        if self.strikes > MAX_STRIKES {
            return Err(SessionEnd::Hostile(format!(
                "sent {} messages of changes that could not count (the last: {why})",
                self.strikes
            )));
        }
        Ok(())
    }

    fn progress(&mut self, space: SpaceId) -> &mut Progress {
        self.active.entry(space).or_default()
    }

    fn note_later(&mut self, space: SpaceId, id: DocId) {
        if self.later.len() < MAX_LATER {
            self.later.insert((space, id));
        }
    }

    /// Membership ops arrived: sync again the documents whose changes waited for them.
    async fn retry_later(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        let ids: Vec<DocId> = self
            .later
            .iter()
            .filter(|(s, _)| *s == space)
            .map(|(_, d)| *d)
            .collect();
        for id in ids {
            self.later.remove(&(space, id));
            // Held here: Automerge's sync brings the changes again; not held: ask for it whole.
            self.progress(space).wanted.insert(id);
            self.send(Message::Want {
                space,
                ids: vec![id],
            })?;
        }
        Ok(())
    }

    fn know_ops<'a>(&mut self, space: SpaceId, hashes: impl IntoIterator<Item = &'a OpHash>) {
        let known = self.known_ops.entry(space).or_default();
        for h in hashes {
            if known.len() >= tacit_core::MAX_SPACE_OPS {
                break;
            }
            known.insert(*h);
        }
    }

    /// Sends the peer the ops of `space` it does not hold as far as this session saw.
    async fn push_new_ops(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        let req = ReplicaReq::OpHashes {
            space,
            peer: self.ctx.member,
        };
        let Some(ReplicaReply::OpHashes(mine)) = self.ask_or_close(req).await? else {
            return Ok(());
        };
        let known = self.known_ops.get(&space);
        let new: Vec<OpHash> = mine
            .into_iter()
            .filter(|h| !known.is_some_and(|k| k.contains(h)))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let req = ReplicaReq::Ops {
            space,
            peer: self.ctx.member,
            hashes: Some(new),
        };
        if let Some(ReplicaReply::Ops(ops)) = self.ask_or_close(req).await? {
            self.send_ops(space, ops)?;
        }
        Ok(())
    }

    async fn their_offers(&mut self, spaces: Vec<SpaceOffer>) -> Result<(), SessionEnd> {
        for offer in spaces {
            if self.theirs.len() >= MAX_OFFERS_KEPT && !self.theirs.contains_key(&offer.space) {
                continue; // a peer offering without end: keep what fits
            }
            self.theirs.insert(offer.space, offer.ops_digest);
            if let Some(mine) = self.mine.get(&offer.space).copied() {
                if mine != offer.ops_digest {
                    self.send_op_hashes(offer.space).await?;
                }
                self.activate(offer.space).await?;
            }
        }
        Ok(())
    }

    /// Tells the peer every op this side holds for `space`; it answers with what this side
    /// lacks, and asks for what it lacks.
    async fn send_op_hashes(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        if let Some(ReplicaReply::OpHashes(hashes)) = self
            .ask_or_close(ReplicaReq::OpHashes {
                space,
                peer: self.ctx.member,
            })
            .await?
        {
            for chunk in hashes.chunks(MAX_OP_HASHES) {
                self.send(Message::OpHashes {
                    space,
                    hashes: chunk.to_vec(),
                })?;
            }
        }
        Ok(())
    }

    async fn on_op_hashes(
        &mut self,
        space: SpaceId,
        hashes: Vec<OpHash>,
    ) -> Result<(), SessionEnd> {
        let req = ReplicaReq::OpHashes {
            space,
            peer: self.ctx.member,
        };
        let Some(ReplicaReply::OpHashes(mine)) = self.ask_or_close(req).await? else {
            return Ok(());
        };
        let theirs: HashSet<OpHash> = hashes.iter().copied().collect();
        let mine_set: HashSet<OpHash> = mine.iter().copied().collect();
        let they_lack: Vec<OpHash> = mine.into_iter().filter(|h| !theirs.contains(h)).collect();
        if !they_lack.is_empty() {
            let req = ReplicaReq::Ops {
                space,
                peer: self.ctx.member,
                hashes: Some(they_lack),
            };
            if let Some(ReplicaReply::Ops(ops)) = self.ask_or_close(req).await? {
                self.send_ops(space, ops)?;
            }
        }
        let i_lack: Vec<OpHash> = hashes
            .into_iter()
            .filter(|h| !mine_set.contains(h))
            .collect();
        self.want_ops(space, i_lack)
    }

    /// Asks the peer for ops this side lacks, each once per session.
    fn want_ops(&mut self, space: SpaceId, hashes: Vec<OpHash>) -> Result<(), SessionEnd> {
        let fresh: Vec<OpHash> = hashes
            .into_iter()
            .filter(|h| self.asked_ops.len() < MAX_OP_HASHES && self.asked_ops.insert(*h))
            .collect();
        for chunk in fresh.chunks(MAX_OP_HASHES) {
            self.send(Message::WantOps {
                space,
                hashes: chunk.to_vec(),
            })?;
        }
        Ok(())
    }

    /// Sends ops in frames that stay under the limits (a removal with a large cut is near a
    /// megabyte).
    fn send_ops(&mut self, space: SpaceId, ops: Vec<Vec<u8>>) -> Result<(), SessionEnd> {
        let hashes: Vec<OpHash> = ops.iter().map(|o| op_hash(o)).collect();
        self.know_ops(space, hashes.iter());
        let budget = self.ctx.max_frame / 2;
        let mut frame: Vec<Vec<u8>> = Vec::new();
        let mut size = 0;
        for op in ops {
            if !frame.is_empty() && (size + op.len() > budget || frame.len() == MAX_OPS) {
                self.send(Message::Ops {
                    space,
                    ops: std::mem::take(&mut frame),
                })?;
                size = 0;
            }
            size += op.len();
            frame.push(op);
        }
        if !frame.is_empty() {
            self.send(Message::Ops { space, ops: frame })?;
        }
        Ok(())
    }

    async fn send_all_ops(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        let req = ReplicaReq::Ops {
            space,
            peer: self.ctx.member,
            hashes: None,
        };
        if let Some(ReplicaReply::Ops(ops)) = self.ask_or_close(req).await?
            && !ops.is_empty()
        {
            self.send_ops(space, ops)?;
        }
        Ok(())
    }

    /// Offers again after a membership change: new or changed offers are sent; a space no
    /// longer offered stops syncing, and the peer is sent the ops that say why.
    async fn refresh_offers(
        &mut self,
        changed: Option<(SpaceId, Arc<Vec<Vec<u8>>>)>,
    ) -> Result<(), SessionEnd> {
        let offers = self.offers().await?;
        let now: HashMap<SpaceId, [u8; 32]> =
            offers.iter().map(|o| (o.space, o.ops_digest)).collect();
        let fresh: Vec<SpaceOffer> = offers
            .into_iter()
            .filter(|o| self.mine.get(&o.space) != Some(&o.ops_digest))
            .collect();
        let dropped: Vec<SpaceId> = self
            .mine
            .keys()
            .filter(|s| !now.contains_key(s))
            .copied()
            .collect();
        self.mine = now;
        for space in dropped {
            // The ops as they are now, which dropped the space: the broadcast's own may predate
            // it (a second removal made before this session handled the first), and would not
            // tell the peer it was removed. The broadcast's when this node no longer holds the
            // space (it left).
            let current = match self
                .ask_or_close(ReplicaReq::Ops {
                    space,
                    peer: self.ctx.member,
                    hashes: None,
                })
                .await?
            {
                Some(ReplicaReply::Ops(ops)) if !ops.is_empty() => Some(ops),
                _ => None,
            };
            let ops = current.or_else(|| {
                changed
                    .as_ref()
                    .filter(|(s, _)| *s == space)
                    .map(|(_, ops)| ops.to_vec())
            });
            if let Some(ops) = ops {
                self.send_ops(space, ops)?;
            }
            self.active.remove(&space);
        }
        if fresh.is_empty() {
            return Ok(());
        }
        for offer in &fresh {
            if self.active.contains_key(&offer.space) {
                self.push_new_ops(offer.space).await?;
            }
        }
        self.send(Message::Offer {
            spaces: fresh.clone(),
        })?;
        for offer in fresh {
            if let Some(theirs) = self.theirs.get(&offer.space).copied() {
                if theirs != offer.ops_digest {
                    self.send_op_hashes(offer.space).await?;
                }
                self.activate(offer.space).await?;
            } else {
                // The peer may not know the space yet (it joined elsewhere): it needs the ops.
                self.send_all_ops(offer.space).await?;
            }
        }
        Ok(())
    }

    /// Both sides offered `space`: reconcile it (the first side starts) and sync it live.
    async fn activate(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        if self.active.contains_key(&space) {
            return Ok(());
        }
        self.active.insert(
            space,
            Progress {
                awaiting_recon: !self.ctx.first,
                ..Progress::default()
            },
        );
        if self.ctx.first {
            if self.early.remove(&space) {
                self.progress(space).open.insert(Prefix::ROOT);
            } else {
                self.start_recon(space).await?;
            }
        }
        Ok(())
    }

    async fn start_recon(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        if self.send_recon_start(space).await? {
            self.progress(space).open.insert(Prefix::ROOT);
        }
        Ok(())
    }

    /// Sends reconciliation's first step (the whole set's fingerprint) for `space`; whether
    /// it went out.
    async fn send_recon_start(&mut self, space: SpaceId) -> Result<bool, SessionEnd> {
        let Some(ReplicaReply::Part(part)) =
            self.ask_or_close(ReplicaReq::ReconStart { space }).await?
        else {
            return Ok(false);
        };
        self.send(Message::Recon {
            space,
            parts: vec![part],
        })?;
        Ok(true)
    }

    async fn on_recon(&mut self, space: SpaceId, parts: Vec<Part>) -> Result<(), SessionEnd> {
        let Some(progress) = self.active.get_mut(&space) else {
            return Ok(());
        };
        progress.awaiting_recon = false;
        for part in &parts {
            // A reply is about the range sent or about ranges one or two digits deeper.
            let prefix = *part.prefix();
            progress.open.remove(&prefix);
            if let Some(up) = parent(&prefix) {
                progress.open.remove(&up);
                if let Some(further) = parent(&up) {
                    progress.open.remove(&further);
                }
            }
        }
        let req = ReplicaReq::Recon {
            space,
            peer: self.ctx.member,
            parts,
        };
        let Some(ReplicaReply::Recon { replies, diff }) = self.ask_or_close(req).await? else {
            return Ok(());
        };
        let mine: Vec<DocId> = diff.mine.iter().map(|b| DocId::from_bytes(*b)).collect();
        let theirs: Vec<DocId> = diff.theirs.iter().map(|b| DocId::from_bytes(*b)).collect();
        for chunk in mine.chunks(MAX_IDS) {
            self.send(Message::Have {
                space,
                ids: chunk.to_vec(),
            })?;
        }
        if !theirs.is_empty() {
            self.progress(space).wanted.extend(theirs.iter().copied());
            for chunk in theirs.chunks(MAX_IDS) {
                self.send(Message::Want {
                    space,
                    ids: chunk.to_vec(),
                })?;
            }
        }
        if !replies.is_empty() {
            let progress = self.progress(space);
            for r in &replies {
                // A fingerprint is answered; items are answered with `Same` once acted on.
                if matches!(r, Part::Fingerprint { .. } | Part::Items { .. }) {
                    progress.open.insert(*r.prefix());
                }
            }
            for parts in replies.chunks(MAX_PARTS) {
                self.send(Message::Recon {
                    space,
                    parts: parts.to_vec(),
                })?;
            }
        }
        for (id, theirs) in diff.both {
            self.sync_doc(space, DocId::from_bytes(id), Some(theirs))
                .await?;
        }
        self.queue_docs(space, mine)
    }

    /// Starts Automerge's sync of one document with the peer; `theirs`, the peer's heads hash
    /// when reconciliation gave it, primes the sync.
    async fn sync_doc(
        &mut self,
        space: SpaceId,
        id: DocId,
        theirs: Option<HeadsHash>,
    ) -> Result<(), SessionEnd> {
        let req = ReplicaReq::SyncOut {
            session: self.ctx.id,
            space,
            id,
            theirs,
        };
        if let Some(ReplicaReply::Sync {
            msg: Some((msg, sigs)),
            ..
        }) = self.ask_or_close(req).await?
        {
            self.progress(space).syncing.insert(id);
            self.send(Message::Sync {
                space,
                id,
                msg,
                sigs,
            })?;
        }
        Ok(())
    }

    /// Queues documents to send whole; each is queued once, however often it is asked for.
    fn queue_docs(&mut self, space: SpaceId, ids: Vec<DocId>) -> Result<(), SessionEnd> {
        for id in ids {
            if self.queued.insert((space, id)) {
                self.serving.push_back((space, id));
            }
        }
        if self.serving.len() > MAX_SERVING {
            return Err(SessionEnd::Hostile(format!(
                "the peer asked for more than {MAX_SERVING} documents at once"
            )));
        }
        Ok(())
    }

    /// Sends the next documents queued, in frames that stay under the frame limit.
    async fn serve_some(&mut self) -> Result<(), SessionEnd> {
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
        let budget = self.ctx.max_frame / 2;
        // Sent already as it is: asking again gains the peer nothing, and the actor does not
        // read it again.
        let served = chunk
            .iter()
            .filter_map(|id| self.served.get(&(space, *id)).map(|h| (*id, *h)))
            .collect();
        let req = ReplicaReq::Fetch {
            space,
            peer: self.ctx.member,
            ids: chunk.clone(),
            served,
        };
        let docs = match self.ask_or_close(req).await? {
            Some(ReplicaReply::Docs(docs)) => docs,
            _ => Vec::new(),
        };
        // What cannot be sent (or was sent as it is) is said to be done with, so that the peer
        // does not wait for it (announced by `Have`, or asked for by `Want`).
        let mut unsent: Vec<DocId> = chunk
            .iter()
            .filter(|id| !docs.iter().any(|(d, _)| d.id == **id))
            .copied()
            .collect();
        let mut frame: Vec<WholeDoc> = Vec::new();
        let mut size = 0;
        for (doc, heads) in docs {
            if self.served.len() >= MAX_SERVING {
                self.served.clear();
            }
            self.served.insert((space, doc.id), heads);
            let len = doc.data.len() + doc.sigs.len() * 96;
            if len > budget {
                warn!(id = %doc.id, bytes = len, "a document is larger than one frame may carry; it is not sent");
                unsent.push(doc.id);
                continue;
            }
            if size + len > budget || frame.len() == MAX_DOCS {
                self.send(Message::Docs {
                    space,
                    docs: std::mem::take(&mut frame),
                })?;
                size = 0;
            }
            size += len;
            frame.push(doc);
        }
        if !frame.is_empty() {
            self.send(Message::Docs { space, docs: frame })?;
        }
        for id in unsent {
            self.send(Message::Synced { space, id })?;
        }
        Ok(())
    }

    /// Loads received documents off the actor's thread (a frame per core at a time) and checks
    /// their signatures, then hands them to the actor to check and store.
    fn load(&mut self, space: SpaceId, docs: Vec<WholeDoc>) {
        self.progress(space).loading += 1;
        let loads = self.loads.clone();
        let actor = self.ctx.actor.clone();
        let me = self.ctx.info.member;
        let peer = self.ctx.member;
        let origin = self.ctx.id;
        self.tasks.spawn(async move {
            let ids: Vec<DocId> = docs.iter().map(|d| d.id).collect();
            let _permit = loads.acquire_owned().await;
            let loaded = tokio::task::spawn_blocking(move || {
                let mut loaded = Vec::with_capacity(docs.len());
                for d in docs {
                    let id = d.id;
                    match load_whole(d, space, me) {
                        Ok(l) => loaded.push(l),
                        // No honest node holds such a document: the session ends.
                        Err(e @ tacit_core::CoreError::Inflates { .. }) => return Err(e),
                        Err(e) => debug!(%id, "a received document does not load: {e}"),
                    }
                }
                Ok(loaded)
            })
            .await
            .unwrap_or_else(|_| Ok(Vec::new()));
            let loaded = match loaded {
                Ok(l) => l,
                Err(e) => return (space, ids, Err(NodeError::Invalid(e.to_string()))),
            };
            let result = actor
                .ask(ReplicaReq::Put {
                    space,
                    peer,
                    docs: loaded,
                    origin,
                })
                .await;
            (space, ids, result)
        });
    }

    async fn loaded(
        &mut self,
        space: SpaceId,
        ids: Vec<DocId>,
        result: Result<ReplicaReply, NodeError>,
    ) -> Result<(), SessionEnd> {
        if let Some(p) = self.active.get_mut(&space) {
            p.loading = p.loading.saturating_sub(1);
            for id in &ids {
                p.wanted.remove(id);
            }
        }
        match result {
            Ok(ReplicaReply::Put { refused, later }) => {
                if refused > 0 {
                    warn!(peer = %self.ctx.peer, "refused {refused} documents from the peer");
                }
                for id in later {
                    self.note_later(space, id);
                }
                Ok(())
            }
            Ok(_) | Err(NodeError::Refused(_)) => Ok(()),
            Err(NodeError::Stopped) => Err(SessionEnd::Stopped),
            Err(e @ (NodeError::Invalid(_) | NodeError::Core(_) | NodeError::Space(_))) => Err(
                SessionEnd::Hostile(format!("storing received documents: {e}")),
            ),
            Err(e) => Err(SessionEnd::Failed(format!(
                "storing received documents: {e}"
            ))),
        }
    }

    /// Shows this session's shared and still-syncing spaces, and its traffic, in the node's
    /// network view.
    fn publish(&mut self) {
        let traffic = self.traffic.lock().map(|t| *t).unwrap_or_default();
        if let Ok(mut view) = self.ctx.info.net.lock()
            && let Some(entry) = view.peers.get_mut(&self.ctx.peer.to_string())
        {
            entry.traffic = traffic;
        }
        let shared: BTreeSet<SpaceId> = self.active.keys().copied().collect();
        let busy_serving: BTreeSet<SpaceId> = self.serving.iter().map(|(s, _)| *s).collect();
        let syncing: BTreeSet<SpaceId> = self
            .active
            .iter()
            .filter(|(s, p)| p.busy() || busy_serving.contains(s))
            .map(|(s, _)| *s)
            .collect();
        if self.published == (shared.clone(), syncing.clone()) {
            return;
        }
        if let Ok(mut view) = self.ctx.info.net.lock()
            && let Some(entry) = view.peers.get_mut(&self.ctx.peer.to_string())
        {
            entry.spaces = shared.clone();
            entry.syncing = syncing.clone();
        }
        self.published = (shared, syncing);
        let _ = self.ctx.events.send(Event::NetworkChanged);
    }
}

/// An op's hash: SHA-256 of its bytes (what `SignedOp::hash` is, without decoding it).
fn op_hash(bytes: &[u8]) -> OpHash {
    use sha2::Digest as _;
    OpHash(sha2::Sha256::digest(bytes).into())
}

/// The range one digit shorter, of which `prefix` is a sub-range.
fn parent(prefix: &Prefix) -> Option<Prefix> {
    let depth = prefix.depth.checked_sub(1)?;
    let mut bits = prefix.bits;
    let byte = usize::from(depth / 2);
    if depth % 2 == 0 {
        bits[byte] = 0;
    } else {
        bits[byte] &= 0xf0;
    }
    Some(Prefix { depth, bits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_undoes_children() {
        for child in Prefix::ROOT.children() {
            assert_eq!(parent(&child), Some(Prefix::ROOT));
            for grandchild in child.children() {
                assert_eq!(parent(&grandchild), Some(child));
            }
        }
        assert_eq!(parent(&Prefix::ROOT), None);
    }
}
