//! One sync session: the `/tacit/sync/1` stream with one peer, driven as a state machine over
//! the messages of [`tacit_net::wire`].
//!
//! The session does the network I/O and the parallel loading of received documents; every
//! decision about documents and memberships is the actor's ([`crate::replica`]). A malformed
//! frame, a garbage sync message or a reconciliation step that breaks the rules closes this
//! session (with a `Bye` naming why), never the node.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::AsyncReadExt as _;
use tacit_core::{Doc, DocId, MemberId, SpaceId, Ticket};
use tacit_net::recon::{Part, Prefix};
use tacit_net::wire::{MAX_DOCS, MAX_IDS, Message, SpaceOffer, VERSION, WholeDoc};
use tacit_net::{PeerId, codec};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::ActorLink;
use crate::actor::{NodeInfo, heads_hash};
use crate::api::{Event, Traffic};
use crate::error::NodeError;
use crate::replica::{Applied, Loaded, ReplicaReply, ReplicaReq, Replicated, SessionId};

/// Frames read ahead of the session loop.
const IN_QUEUE: usize = 64;
/// Documents fetched from the store per `Docs` frame.
const DOCS_PER_FRAME: usize = 64;
/// `Docs` frames being loaded at once: one per core.
const LOADS_IN_FLIGHT: usize = 2;
/// Spaces a peer offered that a session remembers (a space is activated when both sides
/// offered it, in either order): far more spaces than anyone shares, and a bound on what a
/// peer offering without end can make this node hold.
const MAX_OFFERS_KEPT: usize = 4096;

/// A command to a running session.
pub(crate) enum SessionCmd {
    /// Send a join op and complete the join when the inviter's ops arrive.
    Join {
        ticket: Box<Ticket>,
        op: Vec<u8>,
        reply: oneshot::Sender<Result<(SpaceId, String), NodeError>>,
    },
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionEnd {
    #[error("the peer closed the session: {0}")]
    Bye(String),
    #[error("{0}")]
    Frame(#[from] codec::FrameError),
    #[error("{0}")]
    Hostile(String),
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
}

/// A join in progress on this session.
struct Joining {
    ticket: Box<Ticket>,
    op: Vec<u8>,
    reply: oneshot::Sender<Result<(SpaceId, String), NodeError>>,
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

struct Session {
    ctx: SessionCtx,
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Spaces this side offered, with its ops digest.
    mine: HashMap<SpaceId, [u8; 32]>,
    /// Spaces the peer offered, with its ops digest.
    theirs: HashMap<SpaceId, [u8; 32]>,
    /// Spaces both offered: reconciled and synced live.
    active: HashMap<SpaceId, Progress>,
    joining: Option<Joining>,
    loads: Arc<Semaphore>,
    tasks: JoinSet<(SpaceId, Vec<DocId>, Result<ReplicaReply, NodeError>)>,
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
    let (in_tx, mut in_rx) = mpsc::channel::<Result<Vec<u8>, codec::FrameError>>(IN_QUEUE);
    let traffic = Arc::new(std::sync::Mutex::new(Traffic::default()));
    let counted = traffic.clone();
    let reader = tokio::spawn(async move {
        loop {
            match codec::read_frame(&mut rd, max).await {
                Ok(Some(frame)) => {
                    if let Ok(mut t) = counted.lock() {
                        t.frames_in += 1;
                        t.bytes_in += frame.len() as u64 + 4;
                    }
                    if in_tx.send(Ok(frame)).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = in_tx.send(Err(e)).await;
                    break;
                }
            }
        }
    });
    // Unbounded on purpose: if both sides' loops could block on sending while neither reads,
    // two peers sending much at once would wait for each other forever. What queues here is
    // this node's own data (at most a space's documents), not the peer's.
    let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let counted = traffic.clone();
    let writer = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if let Ok(mut t) = counted.lock() {
                t.frames_out += 1;
                t.bytes_out += frame.len() as u64 + 4;
            }
            if codec::write_frame(&mut wr, &frame, max).await.is_err() {
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
        published: Default::default(),
        traffic,
        sent_since_received: false,
    };
    let result = s.serve(&mut in_rx).await;
    if let Err(e) = &result
        && !matches!(e, SessionEnd::Bye(_) | SessionEnd::Stopped)
    {
        let _ = s.out.send(
            Message::Bye {
                reason: e.to_string(),
            }
            .encode(),
        );
    }
    if let Some(j) = s.joining.take() {
        let _ = j.reply.send(Err(NodeError::Offline(
            "the inviter closed the connection before admitting this device".into(),
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
        in_rx: &mut mpsc::Receiver<Result<Vec<u8>, codec::FrameError>>,
    ) -> Result<(), SessionEnd> {
        let offers = self.offers().await?;
        self.mine = offers.iter().map(|o| (o.space, o.ops_digest)).collect();
        self.send(Message::Hello {
            version: VERSION,
            spaces: offers,
        })
        .await?;
        loop {
            tokio::select! {
                frame = in_rx.recv() => match frame {
                    Some(Ok(bytes)) => {
                        if std::mem::take(&mut self.sent_since_received)
                            && let Ok(mut t) = self.traffic.lock()
                        {
                            t.round_trips += 1;
                        }
                        let msg = Message::decode(&bytes)
                            .map_err(|e| SessionEnd::Hostile(e.to_string()))?;
                        self.on_message(msg).await?;
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
                r = self.ctx.replica.recv() => match r {
                    Ok(Replicated::Change { space, id, data, origin }) => {
                        if origin != Some(self.ctx.id) && self.active.contains_key(&space) {
                            self.send(Message::Change { space, id, data: data.to_vec() }).await?;
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
                        self.send(Message::Join { space, op: op.clone() }).await?;
                        self.joining = Some(Joining { ticket, op, reply });
                    }
                    None => return Err(SessionEnd::Stopped),
                },
                Some(done) = self.tasks.join_next() => {
                    if let Ok((space, ids, result)) = done {
                        self.loaded(space, ids, result)?;
                    }
                }
            }
            self.publish();
        }
    }

    async fn send(&mut self, msg: Message) -> Result<(), SessionEnd> {
        self.sent_since_received = true;
        self.out
            .send(msg.encode())
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
                Err(SessionEnd::Hostile(format!(
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
                if version != VERSION {
                    return Err(SessionEnd::Hostile(format!(
                        "protocol version {version}, this node speaks {VERSION}"
                    )));
                }
                self.their_offers(spaces).await?;
            }
            Message::Offer { spaces } => self.their_offers(spaces).await?,
            Message::Join { space, op } => {
                match self.ask(ReplicaReq::Admit { space, peer, op }).await {
                    Ok(_) => debug!(peer = %self.ctx.peer, %space, "admitted a joiner"),
                    Err(NodeError::Stopped) => return Err(SessionEnd::Stopped),
                    Err(e) => {
                        self.send(Message::JoinRefused {
                            space,
                            reason: e.to_string(),
                        })
                        .await?;
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
                        "the inviter refused: {reason}"
                    ))));
                }
            }
            Message::Ops { space, ops } => {
                if self
                    .joining
                    .as_ref()
                    .is_some_and(|j| j.ticket.space == space)
                    && let Some(j) = self.joining.take()
                {
                    let req = ReplicaReq::JoinComplete {
                        ticket: j.ticket.clone(),
                        join: j.op.clone(),
                        ops,
                    };
                    let result = match self.ask(req).await {
                        Ok(ReplicaReply::Joined { space, name }) => Ok((space, name)),
                        Ok(_) => Err(NodeError::Internal("unexpected reply".into())),
                        Err(e) => Err(e),
                    };
                    let _ = j.reply.send(result);
                } else {
                    self.ask_or_close(ReplicaReq::AddOps { space, ops }).await?;
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
                    self.send_docs(space, ids).await?;
                }
            }
            Message::Docs { space, docs } => {
                if self.active.contains_key(&space) {
                    self.load(space, docs);
                }
            }
            Message::Sync { space, id, msg } => {
                if !self.active.contains_key(&space) {
                    return Ok(());
                }
                let req = ReplicaReq::SyncIn {
                    session: self.ctx.id,
                    space,
                    peer,
                    id,
                    msg,
                };
                match self.ask_or_close(req).await? {
                    Some(ReplicaReply::Sync(Some(reply))) => {
                        self.progress(space).syncing.insert(id);
                        self.send(Message::Sync {
                            space,
                            id,
                            msg: reply,
                        })
                        .await?;
                    }
                    _ => {
                        self.progress(space).syncing.remove(&id);
                        self.send(Message::Synced { space, id }).await?;
                    }
                }
            }
            Message::Synced { space, id } => {
                if let Some(p) = self.active.get_mut(&space) {
                    p.syncing.remove(&id);
                    p.wanted.remove(&id);
                }
            }
            Message::Change { space, id, data } => {
                if !self.active.contains_key(&space) {
                    return Ok(());
                }
                let req = ReplicaReq::Apply {
                    space,
                    peer,
                    id,
                    data,
                    origin: self.ctx.id,
                };
                match self.ask_or_close(req).await? {
                    Some(ReplicaReply::Applied(Applied::Want)) => {
                        self.progress(space).wanted.insert(id);
                        self.send(Message::Want {
                            space,
                            ids: vec![id],
                        })
                        .await?;
                    }
                    Some(ReplicaReply::Applied(Applied::Sync)) => self.sync_doc(space, id).await?,
                    _ => {}
                }
            }
            Message::Bye { reason } => return Err(SessionEnd::Bye(reason)),
        }
        Ok(())
    }

    fn progress(&mut self, space: SpaceId) -> &mut Progress {
        self.active.entry(space).or_default()
    }

    async fn their_offers(&mut self, spaces: Vec<SpaceOffer>) -> Result<(), SessionEnd> {
        for offer in spaces {
            if self.theirs.len() >= MAX_OFFERS_KEPT && !self.theirs.contains_key(&offer.space) {
                continue; // a peer offering without end: keep what fits
            }
            self.theirs.insert(offer.space, offer.ops_digest);
            if let Some(mine) = self.mine.get(&offer.space).copied() {
                if mine != offer.ops_digest {
                    self.send_ops(offer.space).await?;
                }
                self.activate(offer.space).await?;
            }
        }
        Ok(())
    }

    async fn send_ops(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        if let Some(ReplicaReply::Ops(ops)) = self
            .ask_or_close(ReplicaReq::Ops {
                space,
                peer: self.ctx.member,
            })
            .await?
            && !ops.is_empty()
        {
            self.send(Message::Ops { space, ops }).await?;
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
                self.send(Message::Ops { space, ops }).await?;
            }
            self.active.remove(&space);
        }
        if fresh.is_empty() {
            return Ok(());
        }
        self.send(Message::Offer {
            spaces: fresh.clone(),
        })
        .await?;
        for offer in fresh {
            if let Some(theirs) = self.theirs.get(&offer.space).copied() {
                if theirs != offer.ops_digest {
                    self.send_ops(offer.space).await?;
                }
                self.activate(offer.space).await?;
            } else {
                // The peer may not know the space yet (it joined elsewhere): it needs the ops.
                self.send_ops(offer.space).await?;
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
            self.start_recon(space).await?;
        }
        Ok(())
    }

    async fn start_recon(&mut self, space: SpaceId) -> Result<(), SessionEnd> {
        if let Some(ReplicaReply::Part(part)) =
            self.ask_or_close(ReplicaReq::ReconStart { space }).await?
        {
            self.progress(space).open.insert(*part.prefix());
            self.send(Message::Recon {
                space,
                parts: vec![part],
            })
            .await?;
        }
        Ok(())
    }

    async fn on_recon(&mut self, space: SpaceId, parts: Vec<Part>) -> Result<(), SessionEnd> {
        let Some(progress) = self.active.get_mut(&space) else {
            return Ok(());
        };
        progress.awaiting_recon = false;
        for part in &parts {
            let prefix = *part.prefix();
            progress.open.remove(&prefix);
            if let Some(parent) = parent(&prefix) {
                progress.open.remove(&parent);
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
            })
            .await?;
        }
        if !theirs.is_empty() {
            self.progress(space).wanted.extend(theirs.iter().copied());
            for chunk in theirs.chunks(MAX_IDS) {
                self.send(Message::Want {
                    space,
                    ids: chunk.to_vec(),
                })
                .await?;
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
            self.send(Message::Recon {
                space,
                parts: replies,
            })
            .await?;
        }
        for id in diff.both.iter().map(|b| DocId::from_bytes(*b)) {
            self.sync_doc(space, id).await?;
        }
        self.send_docs(space, mine).await
    }

    /// Starts Automerge's sync of one document with the peer.
    async fn sync_doc(&mut self, space: SpaceId, id: DocId) -> Result<(), SessionEnd> {
        let req = ReplicaReq::SyncOut {
            session: self.ctx.id,
            space,
            id,
        };
        if let Some(ReplicaReply::Sync(Some(msg))) = self.ask_or_close(req).await? {
            self.progress(space).syncing.insert(id);
            self.send(Message::Sync { space, id, msg }).await?;
        }
        Ok(())
    }

    /// Sends whole documents, in frames that stay under the frame limit.
    async fn send_docs(&mut self, space: SpaceId, ids: Vec<DocId>) -> Result<(), SessionEnd> {
        let budget = self.ctx.max_frame / 2;
        for chunk in ids.chunks(DOCS_PER_FRAME) {
            let req = ReplicaReq::Fetch {
                space,
                peer: self.ctx.member,
                ids: chunk.to_vec(),
            };
            let docs = match self.ask_or_close(req).await? {
                Some(ReplicaReply::Docs(docs)) => docs,
                _ => Vec::new(),
            };
            // What cannot be sent is said to be done with, so that the peer does not wait for
            // it (announced by `Have`, or asked for by `Want`).
            let mut unsent: Vec<DocId> = chunk
                .iter()
                .filter(|id| !docs.iter().any(|d| d.id == **id))
                .copied()
                .collect();
            let mut frame: Vec<WholeDoc> = Vec::new();
            let mut size = 0;
            for doc in docs {
                if doc.data.len() > budget {
                    warn!(id = %doc.id, bytes = doc.data.len(), "a document is larger than one frame may carry; it is not sent");
                    unsent.push(doc.id);
                    continue;
                }
                if size + doc.data.len() > budget || frame.len() == MAX_DOCS {
                    self.send(Message::Docs {
                        space,
                        docs: std::mem::take(&mut frame),
                    })
                    .await?;
                    size = 0;
                }
                size += doc.data.len();
                frame.push(doc);
            }
            if !frame.is_empty() {
                self.send(Message::Docs { space, docs: frame }).await?;
            }
            for id in unsent {
                self.send(Message::Synced { space, id }).await?;
            }
        }
        Ok(())
    }

    /// Loads received documents off the actor's thread (a frame per core at a time), then
    /// hands them to the actor to check and store.
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
                docs.into_iter()
                    .filter_map(|d| load_one(d, me))
                    .collect::<Vec<Loaded>>()
            })
            .await
            .unwrap_or_default();
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

    fn loaded(
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
            Ok(ReplicaReply::Put { refused }) if refused > 0 => {
                warn!(peer = %self.ctx.peer, "refused {refused} documents from the peer");
                Ok(())
            }
            Ok(_) | Err(NodeError::Refused(_)) => Ok(()),
            Err(NodeError::Stopped) => Err(SessionEnd::Stopped),
            Err(e) => Err(SessionEnd::Hostile(format!(
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
        let syncing: BTreeSet<SpaceId> = self
            .active
            .iter()
            .filter(|(_, p)| p.busy())
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

/// Loads and checks one received document; `None` (logged) when it does not load.
fn load_one(d: WholeDoc, me: MemberId) -> Option<Loaded> {
    let mut doc = match Doc::load(d.id, [d.data.as_slice()], me) {
        Ok(doc) => doc,
        Err(e) => {
            debug!(id = %d.id, "a received document does not load: {e}");
            return None;
        }
    };
    let summary = doc.summary().ok()?;
    let authors = doc.authors_since(&[]);
    let heads = heads_hash(&mut doc);
    // The space is set by the actor (a document received for one space is only written there).
    let entry = tacit_search::Entry::from_doc(&mut doc, SpaceId::from_bytes([0; 16]), heads)
        .ok()
        .flatten();
    Some(Loaded {
        id: d.id,
        data: d.data,
        summary,
        heads,
        authors,
        entry,
    })
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
