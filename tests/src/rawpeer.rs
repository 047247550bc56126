//! A hand-driven peer for sync tests: a real libp2p [`Net`] on 127.0.0.1 (mDNS off) and the one
//! `/tacit/sync/1` stream to a node, on which a test sends whatever it likes — valid messages,
//! messages a member may not send, malformed frames, raw bytes — and reads what the node says,
//! with a log of every byte received.
//!
//! It holds no store: the documents it receives are kept as bytes, its membership view is the
//! ops the node sent. It answers only what it must to become a member and receive documents
//! (reconciliation, as a peer holding nothing); everything else is the test's to send.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use tacit_core::{
    ChangeSig, DeviceKey, Doc, DocId, Draft, Edit, InviteKey, MemberId, Membership, NewChange,
    NoteEdit, Op, OpBody, OpHash, SignedOp, SpaceId, Ticket, set_digest,
};
use tacit_net::recon::ItemSet;
use tacit_net::session::starts_reconciliation;
use tacit_net::wire::{Message, SpaceOffer, VERSION};
use tacit_net::{Limits, Multiaddr, Net, NetConfig, NetEvent, PeerId, Stream, codec};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Longest a raw peer waits for the node to connect, answer or close, before the test fails.
pub const RAW_PATIENCE: Duration = Duration::from_secs(30);

/// Frames and ends read but not yet taken by the test. A node sends a few frames per step; the
/// reader waits when the test falls this far behind.
const INBOX: usize = 1024;

/// How many bytes the reader takes from the stream at a time.
const READ_CHUNK: usize = 8 * 1024;

/// Largest frame the raw peer accepts from the node: the node's own limit.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What the reader task hands over.
enum Incoming {
    /// One frame's payload.
    Frame(Vec<u8>),
    /// The stream ended: a clean end, an error, or framing the raw peer does not accept.
    End(String),
}

/// How a session ended, as the raw peer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The node said `Bye`, with its reason.
    Bye(String),
    /// The stream closed (or failed) without a `Bye`.
    Closed(String),
}

/// A peer driven by hand over one sync stream to one node. See the module doc.
pub struct RawPeer {
    key: DeviceKey,
    net: Net,
    node: PeerId,
    writer: WriteHalf<Stream>,
    inbox: mpsc::Receiver<Incoming>,
    log: Arc<Mutex<Vec<u8>>>,
    tasks: Vec<JoinHandle<()>>,
    /// Whether this peer opened the sync stream (else the node did).
    opened: bool,
    ended: Option<End>,
    /// Spaces the node offered (in `Hello` or `Offer`).
    offered: HashSet<SpaceId>,
    /// Membership ops the node sent, per space, without repeats.
    ops: HashMap<SpaceId, Vec<Vec<u8>>>,
    /// Documents received, as bytes: the last `Docs` copy plus the `Change`s after it, which
    /// load together as one document.
    docs: HashMap<DocId, Vec<u8>>,
    /// Signatures received with documents and changes, by change hash.
    sigs: HashMap<[u8; 32], ChangeSig>,
    /// `JoinRefused` answers, with their reasons.
    refused: Vec<(SpaceId, String)>,
    /// The writing halves of streams this peer opened before its current one
    /// ([`RawPeer::open_again`]): kept, so that those streams stay open.
    earlier: Vec<WriteHalf<Stream>>,
}

impl std::fmt::Debug for RawPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPeer")
            .field("peer", &self.net.peer_id())
            .field("node", &self.node)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

impl RawPeer {
    /// A raw peer with a fresh device key, connected to the node listening at `node_addr`
    /// (a multiaddr on 127.0.0.1), holding the sync stream with it.
    pub async fn connect(node_addr: &str) -> anyhow::Result<RawPeer> {
        Self::connect_as(DeviceKey::generate(), node_addr).await
    }

    /// As [`RawPeer::connect`], with a given device key (another member's, to act as it).
    pub async fn connect_as(key: DeviceKey, node_addr: &str) -> anyhow::Result<RawPeer> {
        Self::dial(key, node_addr, true).await
    }

    /// As [`RawPeer::connect_as`], but this peer opens no sync stream, as a node of sync
    /// protocol 4 did not when its peer id was the larger: it waits for the node to open one
    /// (then this side starts reconciliation), up to [`RAW_PATIENCE`].
    pub async fn connect_waiting(key: DeviceKey, node_addr: &str) -> anyhow::Result<RawPeer> {
        Self::dial(key, node_addr, false).await
    }

    async fn dial(key: DeviceKey, node_addr: &str, open: bool) -> anyhow::Result<RawPeer> {
        let addr: Multiaddr = node_addr
            .parse()
            .with_context(|| format!("node address {node_addr:?}"))?;
        anyhow::ensure!(
            addr.to_string().starts_with("/ip4/127.0.0.1/"),
            "raw peers only dial 127.0.0.1, not {addr}"
        );
        let cfg = NetConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
            mdns: false,
            limits: Limits::default(),
            ..NetConfig::new(key.secret())
        };
        let (net, mut events) = Net::start(cfg).await?;
        // The network task stops taking swarm events while its events are not read: drain
        // them, keeping the sync streams the node opens.
        let (streams_tx, mut streams) = mpsc::channel::<(PeerId, Stream)>(8);
        let drain = tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if let NetEvent::IncomingStream { peer, stream } = ev {
                    let _ = streams_tx.try_send((peer, stream));
                }
            }
        });
        let node = net.dial(addr).await?;
        // As a node does, the dialer opens the sync stream, and the node starts reconciliation.
        let stream = if open {
            net.open_stream(node).await?
        } else {
            tokio::time::timeout(RAW_PATIENCE, async {
                while let Some((peer, stream)) = streams.recv().await {
                    if peer == node {
                        return Ok(stream);
                    }
                }
                Err(anyhow!(
                    "the network stopped before the node opened a stream"
                ))
            })
            .await
            .map_err(|_| {
                anyhow!("the node {node} opened no sync stream within {RAW_PATIENCE:?}")
            })??
        };
        let (reader, writer) = stream.split();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (inbox_tx, inbox) = mpsc::channel(INBOX);
        let read = tokio::spawn(read_frames(reader, log.clone(), inbox_tx));
        Ok(RawPeer {
            key,
            net,
            node,
            writer,
            inbox,
            log,
            tasks: vec![drain, read],
            opened: open,
            ended: None,
            offered: HashSet::new(),
            ops: HashMap::new(),
            docs: HashMap::new(),
            sigs: HashMap::new(),
            refused: Vec::new(),
            earlier: Vec::new(),
        })
    }

    /// This peer's member id.
    pub fn member(&self) -> MemberId {
        self.key.member_id()
    }

    /// The node this peer holds its sync stream with.
    pub fn node(&self) -> PeerId {
        self.node
    }

    /// This peer's network (to serve or ask for attachments as a member would).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// This peer's device key.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// Whether this side starts reconciliation, by the node's own rule: the side that accepted
    /// the stream does.
    pub fn first(&self) -> bool {
        starts_reconciliation(self.opened)
    }

    /// Sends one message as one frame.
    pub async fn send(&mut self, msg: Message) -> anyhow::Result<()> {
        self.send_raw(&msg.encode()).await
    }

    /// Sends `payload` as one frame (a correct length prefix, then the bytes), whatever it is.
    pub async fn send_raw(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        codec::write_frame(&mut self.writer, payload, usize::MAX).await?;
        Ok(())
    }

    /// Writes `bytes` on the stream as they are, without framing (a bad length prefix, say).
    pub async fn send_bytes_unframed(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// `Hello` of this build's version, offering `spaces` (with the digest of the ops held).
    pub async fn hello(&mut self, spaces: &[SpaceId]) -> anyhow::Result<()> {
        let spaces = spaces.iter().map(|s| self.offer_of(*s)).collect();
        self.send(Message::Hello {
            version: VERSION,
            spaces,
        })
        .await
    }

    fn op_hashes(&self, space: SpaceId) -> Vec<OpHash> {
        self.ops
            .get(&space)
            .into_iter()
            .flatten()
            .filter_map(|b| SignedOp::from_bytes(b).ok())
            .map(|o| o.hash())
            .collect()
    }

    fn offer_of(&self, space: SpaceId) -> SpaceOffer {
        let hashes: Vec<_> = self
            .ops
            .get(&space)
            .into_iter()
            .flatten()
            .filter_map(|b| SignedOp::from_bytes(b).ok())
            .map(|o| o.hash())
            .collect();
        SpaceOffer {
            space,
            ops_digest: set_digest(hashes.iter()),
        }
    }

    /// The next message from the node, or `None` when none came within `limit` or the session
    /// has ended. Frames that are not messages are skipped.
    pub async fn recv(&mut self, limit: Duration) -> Option<Message> {
        if self.ended.is_some() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Err(_) => return None,
                Ok(None) => {
                    self.ended = Some(End::Closed("the reader stopped".into()));
                    return None;
                }
                Ok(Some(Incoming::End(why))) => {
                    self.ended = Some(End::Closed(why));
                    return None;
                }
                Ok(Some(Incoming::Frame(bytes))) => {
                    let Ok(msg) = Message::decode(&bytes) else {
                        continue;
                    };
                    self.observe(&msg);
                    return Some(msg);
                }
            }
        }
    }

    /// Records what a message tells about the node's view and documents.
    fn observe(&mut self, msg: &Message) {
        match msg {
            Message::Hello { spaces, .. } | Message::Offer { spaces } => {
                self.offered.extend(spaces.iter().map(|o| o.space));
            }
            Message::Ops { space, ops } => {
                let held = self.ops.entry(*space).or_default();
                for op in ops {
                    if !held.contains(op) {
                        held.push(op.clone());
                    }
                }
            }
            Message::Docs { docs, .. } => {
                for d in docs {
                    self.docs.insert(d.id, d.data.clone());
                    self.sigs.extend(d.sigs.iter().map(|s| (s.hash, *s)));
                }
            }
            Message::Change { id, data, sigs, .. } => {
                self.docs.entry(*id).or_default().extend_from_slice(data);
                self.sigs.extend(sigs.iter().map(|s| (s.hash, *s)));
            }
            Message::JoinRefused { space, reason } => {
                self.refused.push((*space, reason.clone()));
            }
            Message::Bye { reason } => self.ended = Some(End::Bye(reason.clone())),
            _ => {}
        }
    }

    /// How the session ended, if it has.
    pub fn ended(&self) -> Option<&End> {
        self.ended.as_ref()
    }

    /// Reads until the session ends (a `Bye`, or the stream closing) and says how; fails the
    /// test naming `what` if it is still open after `limit`.
    pub async fn wait_end(&mut self, what: &str, limit: Duration) -> End {
        let deadline = tokio::time::Instant::now() + limit;
        while self.ended.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "{what}: the node kept the session open for {limit:?}"
            );
            let _ = self.recv(left).await;
        }
        self.ended.clone().unwrap_or(End::Closed(String::new()))
    }

    /// Reads and answers the node (reconciliation, as a peer holding nothing) until `done`
    /// holds; fails the test naming `what` after `limit` or if the session ends first.
    pub async fn serve_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&RawPeer) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(self) {
            assert!(
                self.ended.is_none(),
                "{what}: the session ended first ({:?})",
                self.ended
            );
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "timed out after {limit:?} waiting for {what}"
            );
            if let Some(msg) = self.recv(left.min(Duration::from_millis(100))).await {
                self.answer(msg).await;
            }
        }
    }

    /// Answers what a member holding no documents answers: reconciliation steps (and asks for
    /// every document the node reveals), and the exchange of membership ops (it tells the node
    /// which ops it holds when their digests differ, and asks for those it lacks).
    async fn answer(&mut self, msg: Message) {
        match &msg {
            Message::Hello { spaces, .. } | Message::Offer { spaces } => {
                for offer in spaces.clone() {
                    if self.ops.contains_key(&offer.space)
                        && self.offer_of(offer.space).ops_digest != offer.ops_digest
                    {
                        let hashes = self.op_hashes(offer.space);
                        let _ = self
                            .send(Message::OpHashes {
                                space: offer.space,
                                hashes,
                            })
                            .await;
                    }
                }
            }
            Message::OpHashes { space, hashes } => {
                let mine = self.op_hashes(*space);
                let lacking: Vec<OpHash> = hashes
                    .iter()
                    .filter(|h| !mine.contains(h))
                    .copied()
                    .collect();
                if !lacking.is_empty() {
                    let _ = self
                        .send(Message::WantOps {
                            space: *space,
                            hashes: lacking,
                        })
                        .await;
                }
            }
            _ => {}
        }
        if let Message::Recon { space, parts } = msg {
            let empty = ItemSet::new();
            let mut replies = Vec::new();
            let mut want = Vec::new();
            for part in &parts {
                if let Ok((r, diff)) = empty.receive(part) {
                    replies.extend(r);
                    want.extend(diff.theirs.into_iter().map(DocId::from_bytes));
                }
            }
            if !replies.is_empty() {
                let _ = self
                    .send(Message::Recon {
                        space,
                        parts: replies,
                    })
                    .await;
            }
            if !want.is_empty() {
                let _ = self.send(Message::Want { space, ids: want }).await;
            }
        }
    }

    /// A round trip through the node's session: sends a join for a space nobody holds and waits
    /// for its refusal. Once it arrives, the node's session has handled every frame sent before
    /// it (a session handles its frames in order).
    pub async fn ping(&mut self) {
        let probe = SpaceId::random();
        self.send(Message::Join {
            space: probe,
            op: Vec::new(),
        })
        .await
        .expect("send a ping");
        self.serve_until("the node's answer to a ping", RAW_PATIENCE, |p| {
            p.refused.iter().any(|(s, _)| *s == probe)
        })
        .await;
    }

    /// A join op for `ticket`, signed by `key` (this peer's, or another to forge one), proving
    /// the ticket's secret for `key`'s member.
    pub fn join_op(key: &DeviceKey, ticket: &Ticket) -> SignedOp {
        Self::join_op_at(key, ticket, now_ms())
    }

    /// As [`RawPeer::join_op`], dated `at` (a backdated or future join).
    pub fn join_op_at(key: &DeviceKey, ticket: &Ticket, at: i64) -> SignedOp {
        let proof = InviteKey::from_secret(&ticket.secret).prove(
            ticket.space,
            ticket.invite,
            key.member_id(),
        );
        SignedOp::sign(
            key,
            Op {
                space: ticket.space,
                author: key.member_id(),
                at,
                deps: vec![ticket.invite],
                body: OpBody::Join {
                    invite: ticket.invite,
                    proof,
                    member_name: "Raw".into(),
                    member_org: "Raw Org".into(),
                },
            },
        )
        .expect("sign a join op")
    }

    /// The membership of `space` as the ops the node sent fold.
    pub fn membership(&self, space: SpaceId) -> Membership {
        let ops: Vec<SignedOp> = self
            .ops(space)
            .iter()
            .filter_map(|b| SignedOp::from_bytes(b).ok())
            .collect();
        Membership::fold(space, ops.iter())
    }

    /// The heads of `space`'s membership as the ops the node sent fold.
    pub fn heads(&self, space: SpaceId) -> Vec<OpHash> {
        self.membership(space).heads()
    }

    /// The signatures received for `changes`.
    pub fn sigs_for(&self, changes: &[NewChange]) -> Vec<ChangeSig> {
        changes
            .iter()
            .filter_map(|c| self.sigs.get(&c.hash).copied())
            .collect()
    }

    /// Joins the ticket's space through the node: sends a `Join` signed with this peer's key,
    /// waits until the node offers the space and sends its ops, then offers the space back (and
    /// starts reconciliation when it is this side's turn), so that the node syncs it with this
    /// peer. `Err` carries the node's reason for a refusal.
    pub async fn join(&mut self, ticket: &Ticket) -> Result<(), String> {
        let op = Self::join_op(&self.key, ticket);
        self.join_with(ticket.space, op.to_bytes()).await
    }

    /// As [`RawPeer::join`], with any op bytes in the `Join`.
    pub async fn join_with(&mut self, space: SpaceId, op: Vec<u8>) -> Result<(), String> {
        self.refused.retain(|(s, _)| *s != space);
        self.send(Message::Join { space, op })
            .await
            .map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + RAW_PATIENCE;
        loop {
            if let Some((_, why)) = self.refused.iter().find(|(s, _)| *s == space) {
                return Err(why.clone());
            }
            if self.offered.contains(&space) && self.ops.contains_key(&space) {
                break;
            }
            if self.ended.is_some() {
                return Err(format!("the session ended: {:?}", self.ended));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(format!("no answer to the join within {RAW_PATIENCE:?}"));
            }
            if let Some(msg) = self.recv(left.min(Duration::from_millis(100))).await {
                self.answer(msg).await;
            }
        }
        self.start_sync(space).await.map_err(|e| e.to_string())
    }

    /// Offers `space` to the node (with the digest of the ops held) and, when this side starts
    /// reconciliation, starts it as a peer holding nothing.
    pub async fn start_sync(&mut self, space: SpaceId) -> anyhow::Result<()> {
        let offer = self.offer_of(space);
        self.send(Message::Offer {
            spaces: vec![offer],
        })
        .await?;
        if self.first() {
            self.send(Message::Recon {
                space,
                parts: vec![ItemSet::new().start()],
            })
            .await?;
        }
        Ok(())
    }

    /// The membership ops the node sent for `space`.
    pub fn ops(&self, space: SpaceId) -> &[Vec<u8>] {
        self.ops.get(&space).map(Vec::as_slice).unwrap_or_default()
    }

    /// Copies ops learned elsewhere (by another raw peer of the same member), so that this one
    /// offers the same digest.
    pub fn learn_ops(&mut self, space: SpaceId, ops: &[Vec<u8>]) {
        self.ops.insert(space, ops.to_vec());
    }

    /// Whether the node offered `space` in this session.
    pub fn was_offered(&self, space: SpaceId) -> bool {
        self.offered.contains(&space)
    }

    /// The bytes of a document received (whole, plus later changes), if any.
    pub fn doc_bytes(&self, id: DocId) -> Option<&[u8]> {
        self.docs.get(&id).map(Vec::as_slice)
    }

    /// The documents received that load, as notes: (id, title, body).
    pub fn notes(&self) -> Vec<(DocId, String, String)> {
        let me = self.member();
        let mut out: Vec<_> = self
            .docs
            .iter()
            .filter_map(|(id, data)| {
                let mut doc = Doc::load(*id, [data.as_slice()], me).ok()?;
                let note = doc.note().ok()?;
                Some((*id, note.title, note.body))
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Every byte received on the sync stream so far, frame headers included.
    pub fn received_bytes(&self) -> Vec<u8> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether `needle` occurs anywhere in the bytes received so far.
    pub fn received_contains(&self, needle: &[u8]) -> bool {
        contains(&self.received_bytes(), needle)
    }

    /// Writes a new note authored by this peer's member now, and sends it whole as a `Change`.
    pub async fn push_note(
        &mut self,
        space: SpaceId,
        title: &str,
        body: &str,
    ) -> anyhow::Result<DocId> {
        let id = DocId::random();
        let under = self.heads(space);
        let mut doc = Doc::new_note(
            id,
            Edit {
                by: self.member(),
                at: now_ms(),
                under: &under,
            },
            Draft {
                title: title.into(),
                body: body.into(),
                tags: Vec::new(),
                aliases: Vec::new(),
            },
        )?;
        let (data, changes) = doc.save_with_changes();
        let sigs = doc.sign_changes(&self.key, space, &changes);
        self.send(Message::Change {
            space,
            id,
            data,
            sigs,
        })
        .await?;
        Ok(id)
    }

    /// Loads a document from `base` (bytes received for it), sets its body to `body` as this
    /// peer's member now, and sends only the new change (`save_after` the old heads) as a
    /// `Change`.
    pub async fn push_edit(
        &mut self,
        space: SpaceId,
        id: DocId,
        base: &[u8],
        body: &str,
    ) -> anyhow::Result<()> {
        self.push_made(space, id, base, |doc, edit| {
            Ok(doc.edit_text(
                edit,
                NoteEdit {
                    body: Some(body.into()),
                    ..NoteEdit::default()
                },
            )?)
        })
        .await
    }

    /// Takes a deleted document (`base`, its bytes) out of the trash as this member and pushes
    /// the change, signed, whatever this member's role (and however old the deletion).
    pub async fn push_undelete(
        &mut self,
        space: SpaceId,
        id: DocId,
        base: &[u8],
    ) -> anyhow::Result<()> {
        self.push_made(
            space,
            id,
            base,
            |doc, edit| Ok(doc.undelete(edit, edit.at)?),
        )
        .await
    }

    /// Makes one change to a document (`base`, its bytes) as this member with `f`, and pushes
    /// it signed.
    /// Deletes a document (`base`, its bytes) as this member, in a change dated `at` (ms; any
    /// time this member likes), and pushes it signed.
    pub async fn push_delete_dated(
        &mut self,
        space: SpaceId,
        id: DocId,
        base: &[u8],
        at: i64,
    ) -> anyhow::Result<()> {
        self.push_made_at(space, id, base, at, |doc, edit| {
            doc.delete(edit)?;
            Ok(true)
        })
        .await
    }

    async fn push_made(
        &mut self,
        space: SpaceId,
        id: DocId,
        base: &[u8],
        f: impl FnOnce(&mut Doc, Edit) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        self.push_made_at(space, id, base, now_ms(), f).await
    }

    async fn push_made_at(
        &mut self,
        space: SpaceId,
        id: DocId,
        base: &[u8],
        at: i64,
        f: impl FnOnce(&mut Doc, Edit) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let mut doc = Doc::load(id, [base], self.member())?;
        let under = self.heads(space);
        let edit = Edit {
            by: self.member(),
            at,
            under: &under,
        };
        if !f(&mut doc, edit)? {
            bail!("the change changes nothing");
        }
        let (data, changes) = doc
            .take_unsaved_changes()
            .ok_or_else(|| anyhow!("a change with no new change"))?;
        let sigs = doc.sign_changes(&self.key, space, &changes);
        self.send(Message::Change {
            space,
            id,
            data,
            sigs,
        })
        .await
    }

    /// Sends changes to a document as they are, with whatever signatures.
    pub async fn push_change(
        &mut self,
        space: SpaceId,
        id: DocId,
        data: Vec<u8>,
        sigs: Vec<ChangeSig>,
    ) -> anyhow::Result<()> {
        self.send(Message::Change {
            space,
            id,
            data,
            sigs,
        })
        .await
    }

    /// Sends membership ops of `space` as they are.
    pub async fn push_ops(&mut self, space: SpaceId, ops: Vec<Vec<u8>>) -> anyhow::Result<()> {
        self.send(Message::Ops { space, ops }).await
    }

    /// Opens a new sync stream to the node over the same connection and talks over that one
    /// from now on, as a peer does that lost its session while the node did not notice (its
    /// connection broke without a word). The earlier stream stays open, unread, until this peer
    /// shuts down: to the node, its session runs on. What the node offered and refused is
    /// forgotten; the ops and documents received are kept.
    pub async fn open_again(&mut self) -> anyhow::Result<()> {
        let stream = self.net.open_stream(self.node).await?;
        let (reader, writer) = stream.split();
        let (inbox_tx, inbox) = mpsc::channel(INBOX);
        self.tasks.push(tokio::spawn(read_frames(
            reader,
            self.log.clone(),
            inbox_tx,
        )));
        self.earlier
            .push(std::mem::replace(&mut self.writer, writer));
        self.inbox = inbox;
        self.opened = true;
        self.ended = None;
        self.offered.clear();
        self.refused.clear();
        Ok(())
    }

    /// Stops the network: the stream and connection close.
    pub async fn shutdown(self) {
        let RawPeer {
            net,
            mut writer,
            tasks,
            ..
        } = self;
        let _ = writer.close().await;
        net.shutdown().await;
        for t in tasks {
            t.abort();
        }
    }
}

/// A raw peer joined to `space` on `owner` with a ticket of `role`, holding what the node sent
/// while it joined.
pub async fn raw_member(owner: &tacit_node::Node, space: &str, role: tacit_core::Role) -> RawPeer {
    let ticket = crate::nodes::invite(owner, space, role).await;
    let mut raw = RawPeer::connect(&crate::nodes::listen_addr(owner).await)
        .await
        .expect("a raw peer connects");
    raw.hello(&[]).await.expect("hello");
    raw.join(&Ticket::parse(&ticket).expect("a ticket"))
        .await
        .expect("the raw peer joins");
    raw
}

/// Reads the stream into the log and the inbox, frame by frame, until it ends.
async fn read_frames(
    mut rd: ReadHalf<Stream>,
    log: Arc<Mutex<Vec<u8>>>,
    inbox: mpsc::Sender<Incoming>,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let why = loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) => break "the node closed the stream".to_owned(),
            Ok(n) => n,
            Err(e) => break format!("stream error: {e}"),
        };
        if let Ok(mut l) = log.lock() {
            l.extend_from_slice(&chunk[..n]);
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(header) = buf.first_chunk::<4>() {
            let len = u32::from_be_bytes(*header) as usize;
            if len > MAX_FRAME {
                let _ = inbox
                    .send(Incoming::End(format!(
                        "a frame of {len} bytes from the node"
                    )))
                    .await;
                return;
            }
            if buf.len() < 4 + len {
                break;
            }
            let frame = buf[4..4 + len].to_vec();
            buf.drain(..4 + len);
            if inbox.send(Incoming::Frame(frame)).await.is_err() {
                return;
            }
        }
    };
    let _ = inbox.send(Incoming::End(why)).await;
}

/// Whether `needle` occurs in `haystack` (an empty needle does not).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Changes made with Automerge itself on a document (`base`, its bytes), under `actor` (any
/// member id, someone else's to forge), naming the membership heads `under`, at `at` (ms): the
/// bytes of the new changes and their hashes. What the changes do is up to `f`.
pub fn forge(
    base: &[u8],
    actor: MemberId,
    under: &[OpHash],
    at: i64,
    f: impl FnOnce(&mut automerge::AutoCommit) -> anyhow::Result<()>,
) -> anyhow::Result<(Vec<u8>, Vec<[u8; 32]>)> {
    use automerge::transaction::CommitOptions;
    let mut doc = automerge::AutoCommit::load(base)?;
    doc.set_actor(actor.actor_id());
    let before = doc.get_heads();
    f(&mut doc)?;
    doc.commit_with(
        CommitOptions::default()
            .with_time(at.div_euclid(1000))
            .with_message(tacit_core::under_message(under)),
    );
    let hashes: Vec<[u8; 32]> = doc
        .get_changes(&before)
        .iter()
        .map(|c| c.hash().0)
        .collect();
    if hashes.is_empty() {
        bail!("the forged edit made no change");
    }
    Ok((doc.save_after(&before), hashes))
}

/// An Automerge sync message that carries `changes` (the bytes of one or more changes) and
/// names `heads` as the sender's, with nothing else in it.
pub fn sync_carrying(changes: Vec<u8>, heads: &[[u8; 32]]) -> Vec<u8> {
    automerge::sync::Message {
        heads: heads.iter().map(|h| automerge::ChangeHash(*h)).collect(),
        need: Vec::new(),
        have: Vec::new(),
        changes: vec![changes].into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// Signatures of `hashes` (changes of document `id` in `space`) by `key`.
pub fn sign_changes(
    key: &DeviceKey,
    space: SpaceId,
    id: DocId,
    hashes: &[[u8; 32]],
) -> Vec<ChangeSig> {
    hashes
        .iter()
        .map(|h| ChangeSig::sign(key, space, id, h))
        .collect()
}

/// An op of `space` signed by `key` after `deps`, dated `at`.
pub fn sign_op(
    key: &DeviceKey,
    space: SpaceId,
    deps: Vec<OpHash>,
    at: i64,
    body: OpBody,
) -> SignedOp {
    SignedOp::sign(
        key,
        Op {
            space,
            author: key.member_id(),
            at,
            deps,
            body,
        },
    )
    .expect("sign an op")
}
