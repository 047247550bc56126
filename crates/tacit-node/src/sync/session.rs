//! One sync session's I/O: the `/tacit/sync/2` stream with one peer, feeding the session's
//! protocol state machine ([`tacit_net::session::Session`], which holds every protocol step
//! and no I/O) and carrying out what it returns.
//!
//! The driver reads and writes frames (with back-pressure both ways), answers the machine's
//! questions through the actor ([`crate::replica`]: every decision about documents and
//! memberships is the actor's), screens changes off the actor's thread, loads received
//! documents in parallel, forwards local changes and membership changes, and shows the
//! session in the network view. A malformed frame, a garbage sync message or a
//! reconciliation step that breaks the rules closes this session (with a `Bye` naming why),
//! never the node.
//!
//! What a peer can make the driver hold is bounded: frames read ahead ([`IN_BYTES`]), frames
//! waiting to load ([`LOADS_WAITING`]; past it the session stops reading until one is done),
//! what a frame's documents inflate to ([`tacit_net::wire::MAX_DOCS_INFLATED`], counted before
//! any loads; past it the session ends) and what every session's loads hold at once
//! ([`crate::replica::LOADING_BYTES`]),
//! bytes queued to send ([`OUT_BYTES`]; past it the peer is not reading, and the session
//! closes); documents are served only while the outgoing queue is below [`OUT_LOW`]. A session
//! that shares no space is closed after [`IDLE_GRACE`]. The machine bounds the rest.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::AsyncReadExt as _;
use tacit_core::{ChangeSig, DocId, MemberId, SpaceId, Ticket};
use tacit_net::session::{
    Answer, Ask, AskError, Carrier, Class, End, Input, JoinOutcome, Output, Reply,
};
use tacit_net::wire::{MemberAddrs, Message, WholeDoc};
use tacit_net::{PeerId, codec};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, trace, warn};

use crate::api::{Event, Traffic};
use crate::base::{ActorLink, NodeInfo};
use crate::error::NodeError;
use crate::replica::{
    LOADING_BYTES, ReplicaReply, ReplicaReq, Replicated, SessionId, batches, load_whole,
    loading_cost, measure_frame,
};

/// Bytes of frames read ahead of the session loop: a few full frames. Past it the reader waits,
/// and the peer's writes wait for it (back-pressure over the stream).
const IN_BYTES: usize = 48 * 1024 * 1024;
/// What a frame read ahead counts against [`IN_BYTES`] beyond its bytes: about what holding it
/// costs. So a peer's empty frames are bounded too (at most 750,000 of them, not 48 million).
const FRAME_COST: usize = 64;
/// How long a closing session waits for the frames it queued (its `Bye` among them) to go out:
/// a peer that does not read them does not keep the session, nor its stream, past it.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// Bytes queued for the peer past which it is taken not to read: the session closes. Far above
/// what a session queues while serving (see [`OUT_LOW`]).
const OUT_BYTES: usize = 128 * 1024 * 1024;
/// Documents asked for are sent only while less than this is queued: a first sync of thousands of
/// documents streams at the speed of the link instead of piling up in memory.
const OUT_LOW: usize = 8 * 1024 * 1024;
/// `Docs` frames being loaded at once: one per core.
const LOADS_IN_FLIGHT: usize = 2;
/// `Docs` frames received and waiting to load; past it the session reads no more frames until
/// one is done.
const LOADS_WAITING: usize = 4;
/// How long a session that shares no space (and joins none) stays open: long enough for a
/// membership change to arrive, short enough that strangers do not keep sessions.
const IDLE_GRACE: Duration = Duration::from_secs(30);

/// The node's budget of inflated bytes for received documents loading, shared by every session
/// ([`crate::replica::LOADING_BYTES`]; one node runs per process, and nodes of a test sharing a
/// process share it, which only makes it tighter). One frame alone could otherwise have the node
/// allocate 16 GiB: 256 small documents each inflating to just under the per-document limit.
static LOADING: Semaphore = Semaphore::const_new(LOADING_BYTES);

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

/// Why a session ended: its frames could not be read, or for a reason of the protocol's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionEnd {
    #[error("{0}")]
    Frame(#[from] codec::FrameError),
    #[error(transparent)]
    End(#[from] End),
}

/// What a session starts with.
pub(crate) struct SessionCtx {
    pub(crate) id: SessionId,
    pub(crate) peer: PeerId,
    pub(crate) member: MemberId,
    /// Whether this side starts reconciliation (`tacit_net::session::starts_reconciliation`).
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

/// A load of received documents: their space, their ids, and how storing them went.
type LoadDone = (SpaceId, Vec<DocId>, Answer);

struct Driver {
    ctx: SessionCtx,
    out: Outbox,
    machine: tacit_net::session::Session,
    loads: Arc<Semaphore>,
    tasks: JoinSet<LoadDone>,
    /// The reply to the join this session carries.
    join_reply: Option<oneshot::Sender<Result<(SpaceId, String), NodeError>>>,
    published: (BTreeSet<SpaceId>, BTreeSet<SpaceId>),
    /// Counted by the reader and writer tasks; shown in the network view.
    traffic: Arc<std::sync::Mutex<Traffic>>,
    /// Whether this side sent a frame since it last received one (a round trip ends when
    /// the next frame arrives).
    sent_since_received: bool,
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
                    let n = frame.len().saturating_add(FRAME_COST).min(IN_BYTES);
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

    let machine = tacit_net::session::Session::new(ctx.first, ctx.max_frame);
    let mut s = Driver {
        ctx,
        out,
        machine,
        loads: Arc::new(Semaphore::new(LOADS_IN_FLIGHT)),
        tasks: JoinSet::new(),
        join_reply: None,
        published: Default::default(),
        traffic,
        sent_since_received: false,
    };
    let result = s.serve(&mut in_rx, &room).await;
    // An end the machine made was said to the peer by it.
    if let Err(e) = &result
        && !s.machine.ended()
        && !matches!(e, SessionEnd::End(End::Bye(_) | End::Stopped))
    {
        let _ = s.send(Message::Bye {
            reason: e.to_string(),
        });
    }
    if let Some(reply) = s.join_reply.take() {
        let _ = reply.send(Err(closed_before_admitted()));
    }
    s.tasks.abort_all();
    // Nothing more is read: what the peer sends from now on, and what was read ahead, go.
    reader.abort();
    drop(in_rx);
    let _ = s
        .ctx
        .actor
        .ask(ReplicaReq::EndSession { session: s.ctx.id })
        .await;
    drop(s.out);
    // What was queued goes out; a peer that does not read it gets its stream reset instead.
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_WAIT, &mut writer).await.is_err() {
        writer.abort();
    }
    result
}

impl Driver {
    async fn serve(
        &mut self,
        in_rx: &mut mpsc::UnboundedReceiver<Result<(Vec<u8>, usize), codec::FrameError>>,
        room: &Arc<Semaphore>,
    ) -> Result<(), SessionEnd> {
        let outputs = self.machine.start();
        self.carry_out(outputs).await?;
        let idle = tokio::time::sleep(IDLE_GRACE);
        tokio::pin!(idle);
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + tacit_net::session::TICK,
            tacit_net::session::TICK,
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let loads_full = self.machine.loading() >= LOADS_IN_FLIGHT + LOADS_WAITING;
            let can_serve = self.machine.has_serving() && self.out.queued() < OUT_LOW;
            let input = tokio::select! {
                frame = in_rx.recv(), if !loads_full => match frame {
                    Some(Ok((bytes, permits))) => {
                        room.add_permits(permits);
                        if std::mem::take(&mut self.sent_since_received)
                            && let Ok(mut t) = self.traffic.lock()
                        {
                            t.round_trips += 1;
                        }
                        let msg = Message::decode(&bytes)
                            .map_err(|e| SessionEnd::End(End::Hostile(e.to_string())))?;
                        trace!(peer = %self.ctx.peer, kind = msg.name(), bytes = bytes.len(), "received");
                        Input::Message(msg)
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
                r = self.ctx.replica.recv() => match r {
                    Ok(Replicated::Change { space, id, data, sigs, origin }) => {
                        if origin == Some(self.ctx.id) {
                            continue;
                        }
                        Input::Local { space, id, data, sigs }
                    }
                    Ok(Replicated::Membership { space, ops }) => Input::Membership { space, ops },
                    Ok(Replicated::Repair { space, id }) => Input::Repair { space, id },
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        debug!(peer = %self.ctx.peer, "missed {n} local changes: reconciling again");
                        Input::Lagged
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(SessionEnd::End(End::Stopped)),
                },
                cmd = self.ctx.cmds.recv() => match cmd {
                    Some(SessionCmd::Join { ticket, op, reply }) => {
                        if let Some(earlier) = self.join_reply.replace(reply) {
                            let _ = earlier.send(Err(NodeError::Offline(
                                "another join through the same member replaced this one".into(),
                            )));
                        }
                        Input::Join { ticket, op }
                    }
                    Some(SessionCmd::Addrs(records)) => Input::Addrs(records),
                    None => return Err(SessionEnd::End(End::Stopped)),
                },
                Some(done) = self.tasks.join_next() => match done {
                    Ok((space, ids, answer)) => Input::Stored { space, ids, answer },
                    Err(_) => continue,
                },
                _ = self.out.drained.notified(), if self.machine.has_serving() => continue,
                _ = async {}, if can_serve => Input::Serve,
                _ = &mut idle, if !self.machine.in_use() => Input::IdleTimeout,
                _ = tick.tick() => Input::Tick,
                () = given_up(&mut self.join_reply), if self.join_reply.is_some() => {
                    self.join_reply = None;
                    Input::JoinGivenUp
                }
            };
            self.feed(input).await?;
            if self.out.queued() > OUT_BYTES {
                return Err(SessionEnd::End(End::Hostile(format!(
                    "more than {} MiB wait to be sent: the peer does not read",
                    OUT_BYTES / (1024 * 1024)
                ))));
            }
            if self.machine.in_use() {
                idle.as_mut()
                    .reset(tokio::time::Instant::now() + IDLE_GRACE);
            }
            self.publish();
        }
    }

    /// Feeds the machine one input, and answers its questions until it has none.
    async fn feed(&mut self, input: Input) -> Result<(), SessionEnd> {
        let outputs = self.machine.handle(input);
        self.carry_out(outputs).await
    }

    /// Carries out what the machine returned, in order; a question is answered and the answer
    /// fed back at once.
    async fn carry_out(&mut self, mut outputs: Vec<Output>) -> Result<(), SessionEnd> {
        loop {
            let mut question = None;
            for output in outputs {
                match output {
                    Output::Send(msg) => self.send(msg)?,
                    Output::Ask(ask) => question = Some(ask),
                    Output::Load { space, docs } => self.load(space, docs),
                    Output::PeerAddrs(records) => {
                        if self.ctx.addrs.send((self.ctx.peer, records)).await.is_err() {
                            return Err(SessionEnd::End(End::Stopped));
                        }
                    }
                    Output::Join(outcome) => self.joined(outcome),
                    Output::Refused(why) => debug!(peer = %self.ctx.peer, "{why}"),
                    Output::End(end) => return Err(end.into()),
                }
            }
            let Some(ask) = question else {
                return Ok(());
            };
            let answer = self.answer(ask).await;
            outputs = self.machine.handle(Input::Answer(answer));
        }
    }

    fn send(&mut self, msg: Message) -> Result<(), SessionEnd> {
        self.sent_since_received = true;
        let bytes = msg.encode();
        trace!(peer = %self.ctx.peer, kind = msg.name(), bytes = bytes.len(), "sent");
        self.out.queued.fetch_add(bytes.len(), Ordering::Relaxed);
        self.out
            .tx
            .send(bytes)
            .map_err(|_| SessionEnd::End(End::Bye("the connection closed".into())))
    }

    /// Answers one of the machine's questions: the actor's, or a screen off its thread.
    async fn answer(&self, ask: Ask) -> Answer {
        let admitting = match &ask {
            Ask::Admit { space, .. } => Some(*space),
            _ => None,
        };
        match work_of(ask, self.ctx.member, self.ctx.id) {
            Work::Replica(req) => {
                let result = self.ctx.actor.ask(req).await;
                if let (Some(space), Ok(_)) = (admitting, &result) {
                    debug!(peer = %self.ctx.peer, %space, "admitted a joiner");
                }
                answer_of(&self.ctx.peer, result)
            }
            Work::Screen(job) => tokio::task::spawn_blocking(move || job.run())
                .await
                .map_err(|_| AskError::new(Class::Stopped, NodeError::Stopped)),
        }
    }

    /// Hands a join's outcome to whoever asked for it.
    fn joined(&mut self, outcome: JoinOutcome) {
        let Some(reply) = self.join_reply.take() else {
            return;
        };
        let result = match outcome {
            JoinOutcome::Joined { space, name } => Ok((space, name)),
            JoinOutcome::Refused(why) => Err(NodeError::Refused(why)),
            JoinOutcome::Failed(e) => Err(match e.error.downcast::<NodeError>() {
                Ok(e) => *e,
                Err(e) => NodeError::Internal(e.to_string()),
            }),
            JoinOutcome::Closed => Err(closed_before_admitted()),
            JoinOutcome::Unexpected => Err(NodeError::Internal("unexpected reply".into())),
        };
        let _ = reply.send(result);
    }

    /// Loads received documents off the actor's thread (a frame per core at a time) and checks
    /// their signatures, then hands them to the actor to check and store.
    ///
    /// What a frame inflates to is counted first, before anything loads
    /// ([`crate::replica::measure_frame`]): a frame past its limit ends the session. Its
    /// documents then load in batches ([`crate::replica::batches`]), each handed to the actor
    /// before the next loads and each holding its inflated bytes from the node's budget
    /// ([`LOADING`]) until the actor has it: every session's loads together hold at most
    /// [`crate::replica::LOADING_BYTES`] of documents loaded.
    fn load(&mut self, space: SpaceId, docs: Vec<WholeDoc>) {
        let loads = self.loads.clone();
        let actor = self.ctx.actor.clone();
        let me = self.ctx.info.member;
        let member = self.ctx.member;
        let peer = self.ctx.peer;
        let origin = self.ctx.id;
        self.tasks.spawn(async move {
            let ids: Vec<DocId> = docs.iter().map(|d| d.id).collect();
            let _permit = loads.acquire_owned().await;
            let measured = tokio::task::spawn_blocking(move || measure_frame(docs))
                .await
                .unwrap_or_else(|_| Ok(Vec::new()));
            let measured = match measured {
                Ok(m) => m,
                // No honest node sends such a frame: the session ends.
                Err(e) => return (space, ids, Err(AskError::new(Class::Peer, e))),
            };
            let (mut refused, mut later) = (0, Vec::new());
            for batch in batches(measured) {
                let cost = loading_cost(&batch).min(LOADING_BYTES as u64);
                let Ok(held) = LOADING
                    .acquire_many(u32::try_from(cost).unwrap_or(u32::MAX))
                    .await
                else {
                    break;
                };
                // The load holds the bytes until it is done, even if the session ends (and
                // this task with it) meanwhile; then until the actor has the documents.
                let (_held, loaded) = match tokio::task::spawn_blocking(move || {
                    let mut loaded = Vec::with_capacity(batch.len());
                    for (d, _) in batch {
                        let id = d.id;
                        match load_whole(d, space, me) {
                            Ok(l) => loaded.push(l),
                            // No honest node holds such a document: the session ends.
                            Err(e @ tacit_core::CoreError::Inflates { .. }) => {
                                return (held, Err(e));
                            }
                            Err(e) => debug!(%id, "a received document does not load: {e}"),
                        }
                    }
                    (held, Ok(loaded))
                })
                .await
                {
                    Ok(done) => done,
                    Err(_) => continue,
                };
                let loaded = match loaded {
                    Ok(l) if l.is_empty() => continue,
                    Ok(l) => l,
                    Err(e) => {
                        let e = NodeError::Invalid(e.to_string());
                        return (space, ids, Err(AskError::new(Class::Peer, e)));
                    }
                };
                let result = actor
                    .ask(ReplicaReq::Put {
                        space,
                        peer: member,
                        docs: loaded,
                        origin,
                    })
                    .await;
                match result {
                    Ok(ReplicaReply::Put {
                        refused: r,
                        later: l,
                    }) => {
                        refused += r;
                        later.extend(l);
                    }
                    Ok(_) => {}
                    Err(e) => return (space, ids, answer_of(&peer, Err(e))),
                }
            }
            let stored = ReplicaReply::Put { refused, later };
            (space, ids, answer_of(&peer, Ok(stored)))
        });
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
        let shared = self.machine.shared();
        let syncing = self.machine.syncing();
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

/// Resolves once the join's caller stopped waiting for its reply; never while there is none.
async fn given_up<T>(reply: &mut Option<oneshot::Sender<T>>) {
    match reply {
        Some(reply) => reply.closed().await,
        None => std::future::pending().await,
    }
}

fn closed_before_admitted() -> NodeError {
    NodeError::Offline("the member closed the connection before admitting this device".into())
}

/// What answers a question of the machine: the actor, or a screen of change bytes.
pub(crate) enum Work {
    Replica(ReplicaReq),
    Screen(ScreenJob),
}

/// Change bytes to screen before any document sees them.
pub(crate) struct ScreenJob {
    space: SpaceId,
    id: DocId,
    carrier: Carrier,
    bytes: Vec<u8>,
    sigs: Vec<ChangeSig>,
}

impl ScreenJob {
    /// Screens the bytes ([`tacit_core::screen`]: inflated size counted, every signature sent
    /// checked against the member the change's actor id names); CPU work, run off the actor.
    /// What passes is checked again, in full, by the actor.
    pub(crate) fn run(self) -> Reply {
        let scopes = [self.space, tacit_core::PROFILE_SCOPE];
        let verdict = match self.carrier {
            Carrier::Change => {
                tacit_core::screen(&scopes, self.id, [self.bytes.as_slice()], &self.sigs)
            }
            Carrier::Sync => tacit_core::screen_sync(&scopes, self.id, &self.bytes, &self.sigs),
        };
        Reply::Screened {
            verdict,
            bytes: self.bytes,
            sigs: self.sigs,
        }
    }
}

/// The work that answers `ask`, from the session with `peer` numbered `session`.
pub(crate) fn work_of(ask: Ask, peer: MemberId, session: SessionId) -> Work {
    Work::Replica(match ask {
        Ask::Screen {
            space,
            id,
            carrier,
            bytes,
            sigs,
        } => {
            return Work::Screen(ScreenJob {
                space,
                id,
                carrier,
                bytes,
                sigs,
            });
        }
        Ask::Offers => ReplicaReq::Offers { peer },
        Ask::OpHashes { space } => ReplicaReq::OpHashes { space, peer },
        Ask::Ops { space, hashes } => ReplicaReq::Ops {
            space,
            peer,
            hashes,
        },
        Ask::AddOps { space, ops } => ReplicaReq::AddOps { space, peer, ops },
        Ask::Admit { space, op } => ReplicaReq::Admit { space, peer, op },
        Ask::JoinComplete { ticket, join, ops } => ReplicaReq::JoinComplete { ticket, join, ops },
        Ask::ReconStart { space } => ReplicaReq::ReconStart { space },
        Ask::Recon { space, parts } => ReplicaReq::Recon { space, peer, parts },
        Ask::Fetch { space, ids, served } => ReplicaReq::Fetch {
            space,
            peer,
            ids,
            served,
        },
        Ask::Apply {
            space,
            id,
            data,
            sigs,
            unsigned,
        } => ReplicaReq::Apply {
            space,
            peer,
            id,
            data,
            sigs,
            unsigned,
            origin: session,
        },
        Ask::SyncOut { space, id, theirs } => ReplicaReq::SyncOut {
            session,
            space,
            id,
            theirs,
        },
        Ask::SyncIn {
            space,
            id,
            msg,
            sigs,
            unsigned,
        } => ReplicaReq::SyncIn {
            session,
            space,
            peer,
            id,
            msg,
            sigs,
            unsigned,
        },
    })
}

/// The actor's answer, in the machine's terms: a refusal is the machine's to skip, the
/// peer's invalid data ends the session as hostile, this node's failure ends it too.
pub(crate) fn answer_of(
    peer: &(dyn std::fmt::Display + Sync),
    result: Result<ReplicaReply, NodeError>,
) -> Answer {
    match result {
        Ok(reply) => Ok(reply.into_session()),
        Err(e) => {
            let class = match &e {
                NodeError::Refused(why) | NodeError::NotFound(why) => {
                    debug!(peer = %peer, "refused: {why}");
                    Class::Refused
                }
                // This node's own copy is at fault, not the peer: the document is left aside
                // and the session goes on.
                NodeError::Damaged { .. } => {
                    warn!(peer = %peer, "{e}");
                    Class::Refused
                }
                NodeError::Stopped => Class::Stopped,
                NodeError::Invalid(_) | NodeError::Core(_) | NodeError::Space(_) => Class::Peer,
                e => {
                    warn!(peer = %peer, "sync failed: {e}");
                    Class::Node
                }
            };
            Err(AskError::new(class, e))
        }
    }
}
