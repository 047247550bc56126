//! The actor's side of sync: what sessions ask of the store and the memberships.
//!
//! Every document change from a peer passes the same gate: the peer must be a member of the
//! space in this node's view, the document must belong to that space (an id held in another
//! space, such as the personal one, is never touched), and every change in it must be written
//! by a member who had write rights at the change's time. Anything else is refused and leaves
//! nothing behind: the document is dropped from the cache, so its next load is the stored one.

use tacit_core::{
    ChangeAuthor, Doc, DocId, Kind, MemberId, Membership, Op, OpBody, SignedOp, SpaceId, set_digest,
};
use tacit_net::recon::ItemSet;
use tacit_net::wire::{SpaceOffer, WholeDoc};
use tacit_store::{Chunk, DocWrite, SpaceRow};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::spaces::Shared;
use super::{Actor, Answer, Effects, ReplyTo, changed_event, heads_hash, now_ms};
use crate::api::Event;
use crate::error::NodeError;
use crate::replica::{Applied, Loaded, ReplicaReply, ReplicaReq, Replicated, SessionId};

/// A join op whose time is further than this from the admitting node's clock is refused: the
/// time decides whether the invitation had expired, so it must be close to now.
const JOIN_CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

/// What a session's request did.
struct Done {
    reply: ReplicaReply,
    writes: Vec<DocWrite>,
    events: Vec<Event>,
    pushes: Vec<Replicated>,
}

impl Done {
    fn reply(reply: ReplicaReply) -> Self {
        Self {
            reply,
            writes: Vec::new(),
            events: Vec::new(),
            pushes: Vec::new(),
        }
    }
}

impl Actor {
    pub(super) fn handle_replica(
        &mut self,
        req: ReplicaReq,
        reply: oneshot::Sender<Result<ReplicaReply, NodeError>>,
    ) {
        let writes = matches!(
            req,
            ReplicaReq::Put { .. } | ReplicaReq::Apply { .. } | ReplicaReq::SyncIn { .. }
        );
        if !writes {
            self.flush();
        }
        // Automerge on a peer's bytes may panic: that fails this request (and the session
        // that sent it), never the node.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.replica(req)))
            .unwrap_or_else(|_| {
                self.cache.clear();
                Err(NodeError::Invalid(
                    "a peer's data made the document engine fail; the session is closed".into(),
                ))
            });
        let result = result.map(|d| Effects {
            answer: Answer::Replica(d.reply),
            writes: d.writes,
            events: d.events,
            pushes: d.pushes,
        });
        self.settle(ReplyTo::Replica(reply), result);
    }

    fn replica(&mut self, req: ReplicaReq) -> Result<Done, NodeError> {
        let me = self.info.member;
        match req {
            ReplicaReq::Offers { peer } => {
                let offers = self
                    .spaces
                    .values()
                    .filter(|s| s.membership.is_member(&peer) && s.membership.is_member(&me))
                    .map(|s| SpaceOffer {
                        space: s.row.id,
                        ops_digest: digest(s),
                    })
                    .collect();
                Ok(Done::reply(ReplicaReply::Offers(offers)))
            }
            ReplicaReq::Ops { space, peer } => {
                // A removed member is sent the ops once more, when its session drops the
                // space: they tell it that it was removed.
                let ops = match self.spaces.get(&space) {
                    Some(s)
                        if s.membership.is_member(&peer)
                            || s.membership.removed().contains_key(&peer) =>
                    {
                        s.op_bytes()
                    }
                    _ => Vec::new(),
                };
                Ok(Done::reply(ReplicaReply::Ops(ops)))
            }
            ReplicaReq::AddOps { space, ops } => {
                self.add_ops(space, &ops)?;
                Ok(Done::reply(ReplicaReply::OpsAdded))
            }
            ReplicaReq::Admit { space, peer, op } => {
                self.admit(space, peer, &op)?;
                Ok(Done::reply(ReplicaReply::Admitted))
            }
            ReplicaReq::JoinOp { ticket } => {
                ticket.check_expiry(now_ms())?;
                if self
                    .spaces
                    .get(&ticket.space)
                    .is_some_and(|s| s.membership.is_member(&me))
                {
                    return Err(NodeError::Invalid(format!(
                        "this home is already a member of {:?}",
                        ticket.name
                    )));
                }
                let profile = self.identity()?.profile;
                let op = SignedOp::sign(
                    &self.key,
                    Op {
                        space: ticket.space,
                        author: me,
                        at: now_ms(),
                        deps: vec![ticket.invite],
                        body: OpBody::Join {
                            invite: ticket.invite,
                            secret: ticket.secret,
                            member_name: profile.name,
                            member_org: profile.org,
                        },
                    },
                )?;
                Ok(Done::reply(ReplicaReply::JoinOp(op.to_bytes())))
            }
            ReplicaReq::JoinComplete { ticket, join, ops } => {
                let mut all: Vec<SignedOp> = ops
                    .iter()
                    .filter_map(|b| SignedOp::from_bytes(b).ok())
                    .collect();
                all.extend(SignedOp::from_bytes(&join).ok());
                let membership = Membership::fold(ticket.space, all.iter());
                if !membership.is_member(&me) {
                    return Err(NodeError::Refused(format!(
                        "the inviter's copy of {:?} does not admit this ticket (used up, expired or withdrawn)",
                        ticket.name
                    )));
                }
                let row = SpaceRow {
                    id: ticket.space,
                    name: membership.name().unwrap_or(&ticket.name).to_owned(),
                    personal: false,
                    created_at: membership.created_at().unwrap_or_else(now_ms),
                };
                let pairs: Vec<([u8; 32], Vec<u8>)> =
                    all.iter().map(|o| (o.hash().0, o.to_bytes())).collect();
                self.store.add_shared_space(&row, &pairs)?;
                let name = row.name.clone();
                self.spaces.insert(row.id, Shared::new(row, all));
                self.membership_changed(ticket.space);
                Ok(Done::reply(ReplicaReply::Joined {
                    space: ticket.space,
                    name,
                }))
            }
            ReplicaReq::ReconStart { space } => {
                let part = self.items(space)?.start();
                Ok(Done::reply(ReplicaReply::Part(part)))
            }
            ReplicaReq::Recon { space, peer, parts } => {
                self.member_space(space, peer)?;
                let items = self.items(space)?;
                let mut replies = Vec::new();
                let mut diff = tacit_net::recon::Diff::default();
                for part in &parts {
                    let (r, d) = items
                        .receive(part)
                        .map_err(|e| NodeError::Invalid(format!("reconciliation: {e}")))?;
                    replies.extend(r);
                    diff.extend(d);
                }
                Ok(Done::reply(ReplicaReply::Recon { replies, diff }))
            }
            ReplicaReq::Fetch { space, peer, ids } => {
                self.member_space(space, peer)?;
                let mut docs = Vec::with_capacity(ids.len());
                for id in ids {
                    match self.store.get(id)? {
                        Some(l) if l.space == space => {
                            let data = self.store.load_chunks(id)?.concat();
                            docs.push(WholeDoc { id, data });
                        }
                        _ => debug!(%id, "asked for a document not in the space"),
                    }
                }
                Ok(Done::reply(ReplicaReply::Docs(docs)))
            }
            ReplicaReq::Put {
                space,
                peer,
                docs,
                origin,
            } => self.put(space, peer, docs, origin),
            ReplicaReq::Apply {
                space,
                peer,
                id,
                data,
                origin,
            } => self.apply(space, peer, id, &data, origin),
            ReplicaReq::SyncOut { session, space, id } => {
                if !self.in_space(id, space)? {
                    return Ok(Done::reply(ReplicaReply::Sync(None)));
                }
                let mut state = self.sync_states.remove(&(session, id)).unwrap_or_default();
                let msg = self.doc(id)?.sync_message(&mut state);
                self.sync_states.insert((session, id), state);
                Ok(Done::reply(ReplicaReply::Sync(msg)))
            }
            ReplicaReq::SyncIn {
                session,
                space,
                peer,
                id,
                msg,
            } => self.sync_in(session, space, peer, id, &msg),
            ReplicaReq::EndSession { session } => {
                self.sync_states.retain(|(s, _), _| *s != session);
                Ok(Done::reply(ReplicaReply::Done))
            }
            ReplicaReq::SeenAt { peer, addrs } => {
                let now = now_ms();
                for addr in addrs.iter().take(tacit_store::ADDRESSES_PER_PEER) {
                    self.store.note_address(&peer, addr, now)?;
                }
                Ok(Done::reply(ReplicaReply::Done))
            }
            ReplicaReq::Reconnect => {
                let book = self.store.addresses()?;
                let mut targets: Vec<(String, Vec<String>)> = Vec::new();
                for member in self
                    .spaces
                    .values()
                    .filter(|s| s.membership.is_member(&me))
                    .flat_map(|s| s.membership.members().keys().copied())
                    .filter(|m| *m != me)
                {
                    let Some(peer) = tacit_net::peer_id_of(&member) else {
                        continue;
                    };
                    let peer = peer.to_string();
                    if targets.iter().any(|(p, _)| *p == peer) {
                        continue;
                    }
                    let addrs: Vec<String> = book
                        .iter()
                        .filter(|a| a.peer == peer)
                        .map(|a| a.addr.clone())
                        .collect();
                    if !addrs.is_empty() {
                        targets.push((peer, addrs));
                    }
                }
                Ok(Done::reply(ReplicaReply::Reconnect(targets)))
            }
        }
    }

    /// The space, if both this member and `peer` are members of it.
    fn member_space(&self, space: SpaceId, peer: MemberId) -> Result<&Shared, NodeError> {
        match self.spaces.get(&space) {
            Some(s)
                if s.membership.is_member(&peer) && s.membership.is_member(&self.info.member) =>
            {
                Ok(s)
            }
            _ => Err(NodeError::Refused(format!(
                "peer {} is not a member of that space",
                peer.short()
            ))),
        }
    }

    /// Whether every change was written by a member with write rights at its time.
    fn authors_may_write(&self, space: SpaceId, authors: &[ChangeAuthor]) -> bool {
        let Some(s) = self.spaces.get(&space) else {
            return false;
        };
        authors
            .iter()
            .all(|a| a.member.is_some_and(|m| s.membership.may_write(&m, a.at)))
    }

    /// Whether `id` is a document of `space` (false if unknown; an error if it belongs to
    /// another space, which a peer must never reach).
    fn in_space(&mut self, id: DocId, space: SpaceId) -> Result<bool, NodeError> {
        if self.pending_docs.contains(&id) {
            self.flush();
        }
        match self.store.get(id)? {
            None => Ok(false),
            Some(l) if l.space == space => Ok(true),
            Some(_) => Err(NodeError::Refused(format!(
                "document {id} is not in that space"
            ))),
        }
    }

    fn add_ops(&mut self, space: SpaceId, ops: &[Vec<u8>]) -> Result<(), NodeError> {
        let Some(shared) = self.spaces.get_mut(&space) else {
            return Ok(()); // not a space of this home: nothing to keep
        };
        let decoded: Vec<SignedOp> = ops
            .iter()
            .filter_map(|b| SignedOp::from_bytes(b).ok())
            .filter(|o| o.op().space == space)
            .collect();
        let held: std::collections::HashSet<_> = shared.ops.iter().map(SignedOp::hash).collect();
        let new: Vec<SignedOp> = decoded
            .into_iter()
            .filter(|o| !held.contains(&o.hash()))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let pairs: Vec<([u8; 32], Vec<u8>)> =
            new.iter().map(|o| (o.hash().0, o.to_bytes())).collect();
        self.store.add_ops(space, &pairs)?;
        let before = shared.membership.clone();
        shared.add(new);
        if shared.membership != before {
            self.membership_changed(space);
        }
        Ok(())
    }

    /// Admits a joiner. Until the join proves it holds an invitation's secret, every failure
    /// reads the same, so that a peer without a ticket cannot probe which spaces this node
    /// holds; after that the joiner is told exactly what is wrong.
    fn admit(&mut self, space: SpaceId, peer: MemberId, op: &[u8]) -> Result<(), NodeError> {
        let unknown = || {
            NodeError::Refused(
                "no invitation here matches this ticket (wrong, withdrawn, or for another device)"
                    .into(),
            )
        };
        let shared = self.spaces.get(&space).ok_or_else(unknown)?;
        let op = SignedOp::from_bytes(op).map_err(|_| unknown())?;
        let body = op.op();
        let OpBody::Join { invite, secret, .. } = &body.body else {
            return Err(unknown());
        };
        let matches = shared
            .membership
            .invites()
            .get(invite)
            .is_some_and(|i| i.secret_hash == tacit_core::secret_hash(secret));
        if body.author != peer || body.space != space || !matches {
            return Err(unknown());
        }
        let now = now_ms();
        if (body.at - now).abs() > JOIN_CLOCK_SKEW_MS {
            return Err(NodeError::Refused(
                "the joining device's clock is more than 10 minutes off; set its clock and try again"
                    .into(),
            ));
        }
        if shared.membership.is_member(&peer) {
            return Ok(()); // joined before: nothing to do
        }
        shared.membership.invite_usable(invite, now)?;
        let mut ops = shared.ops.clone();
        ops.push(op.clone());
        if !Membership::fold(space, ops.iter()).is_member(&peer) {
            return Err(NodeError::Refused(
                "the invitation does not admit this device (it was removed from the space before, or the invitation is used up)".into(),
            ));
        }
        self.add_ops(space, &[op.to_bytes()])
    }

    /// The reconciliation items of a space, built from the store when first needed.
    fn items(&mut self, space: SpaceId) -> Result<&ItemSet, NodeError> {
        if !self.items.contains_key(&space) {
            let mut set = ItemSet::new();
            for (id, heads) in self.store.doc_heads(space)? {
                let heads = match heads {
                    Some(h) => h,
                    None => {
                        // A row written before heads were recorded: compute it once.
                        let h = heads_hash(self.doc(id)?);
                        self.store.set_heads(id, h)?;
                        h
                    }
                };
                set.insert(*id.as_bytes(), heads);
            }
            self.items.insert(space, set);
        }
        self.items
            .get(&space)
            .ok_or_else(|| NodeError::Internal("item set missing".into()))
    }

    fn put(
        &mut self,
        space: SpaceId,
        peer: MemberId,
        docs: Vec<Loaded>,
        origin: SessionId,
    ) -> Result<Done, NodeError> {
        self.member_space(space, peer)?;
        let mut done = Done::reply(ReplicaReply::Put { refused: 0 });
        let mut refused = 0;
        for doc in docs {
            let known = self.pending_docs.contains(&doc.id) || self.store.get(doc.id)?.is_some();
            if known {
                // Held already (it arrived another way meanwhile): merge its changes.
                let d = self.apply(space, peer, doc.id, &doc.data, origin)?;
                if matches!(d.reply, ReplicaReply::Applied(Applied::Refused)) {
                    refused += 1;
                }
                done.writes.extend(d.writes);
                done.events.extend(d.events);
                done.pushes.extend(d.pushes);
                continue;
            }
            if !matches!(doc.summary.kind, Kind::Note | Kind::Question)
                || !self.authors_may_write(space, &doc.authors)
            {
                warn!(id = %doc.id, peer = %peer.short(), "refused a document from a peer: an author without write rights, or a kind that is not shared");
                refused += 1;
                continue;
            }
            done.events
                .push(changed_event(doc.id, space, &doc.summary, true));
            done.pushes
                .extend(self.push(space, doc.id, &doc.data, Some(origin)));
            if let Some(mut entry) = doc.entry {
                entry.space = space;
                self.pending_entries.insert(doc.id, entry);
            }
            done.writes.push(DocWrite {
                id: doc.id,
                space,
                summary: doc.summary,
                heads: Some(doc.heads),
                chunk: Chunk::Snapshot(doc.data),
            });
        }
        done.reply = ReplicaReply::Put { refused };
        Ok(done)
    }

    fn apply(
        &mut self,
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        data: &[u8],
        origin: SessionId,
    ) -> Result<Done, NodeError> {
        self.member_space(space, peer)?;
        if !self.in_space(id, space)? {
            // New here: the bytes must be a whole document.
            let Ok(mut doc) = Doc::load(id, [data], self.info.member) else {
                return Ok(Done::reply(ReplicaReply::Applied(Applied::Want)));
            };
            let summary = doc.summary()?;
            let authors = doc.authors_since(&[]);
            if !matches!(summary.kind, Kind::Note | Kind::Question)
                || !self.authors_may_write(space, &authors)
            {
                return Ok(Done::reply(ReplicaReply::Applied(Applied::Refused)));
            }
            let heads = heads_hash(&mut doc);
            let mut done = Done::reply(ReplicaReply::Applied(Applied::Done));
            done.events.push(changed_event(id, space, &summary, true));
            done.pushes = self.push(space, id, data, Some(origin));
            done.writes.push(DocWrite {
                id,
                space,
                summary,
                heads: Some(heads),
                chunk: Chunk::Snapshot(doc.save()),
            });
            self.cache.put(id, doc);
            return Ok(done);
        }
        let doc = self.doc(id)?;
        let before = doc.heads();
        if let Err(e) = doc.apply_changes(data) {
            debug!(%id, "changes from a peer do not apply: {e}");
            self.cache.pop(&id);
            return Ok(Done::reply(ReplicaReply::Applied(Applied::Refused)));
        }
        let (done, applied) = self.after_remote_change(space, id, &before, origin, |lacks| {
            if lacks { Applied::Sync } else { Applied::Done }
        })?;
        if applied == Applied::Sync {
            // Changes waiting for others stay out of the cache: applied later they would be
            // checked together with whatever completes them, and a hostile one would then
            // make an honest change be refused. Automerge's sync fetches them properly.
            self.cache.pop(&id);
        }
        Ok(Done {
            reply: ReplicaReply::Applied(applied),
            ..done
        })
    }

    /// After changes from a peer were applied to a cached document: refuse them (dropping the
    /// document from the cache) if an author may not write, else write them.
    fn after_remote_change(
        &mut self,
        space: SpaceId,
        id: DocId,
        before: &[automerge::ChangeHash],
        origin: SessionId,
        outcome: impl FnOnce(bool) -> Applied,
    ) -> Result<(Done, Applied), NodeError> {
        let doc = self.doc(id)?;
        let authors = doc.authors_since(before);
        let lacks = doc.lacks_changes();
        if !self.authors_may_write(space, &authors) {
            warn!(%id, "refused changes from a peer: written by a member without write rights");
            self.cache.pop(&id);
            return Ok((Done::reply(ReplicaReply::Done), Applied::Refused));
        }
        let doc = self.doc(id)?;
        let summary = match doc.summary() {
            Ok(s) => s,
            Err(e) => {
                debug!(%id, "changes from a peer leave the document malformed: {e}");
                self.cache.pop(&id);
                return Ok((Done::reply(ReplicaReply::Done), Applied::Refused));
            }
        };
        let mut done = Done::reply(ReplicaReply::Done);
        if let Some(bytes) = doc.take_unsaved() {
            let heads = heads_hash(doc);
            done.events.push(changed_event(id, space, &summary, true));
            done.pushes = self.push(space, id, &bytes, Some(origin));
            done.writes.push(DocWrite {
                id,
                space,
                summary,
                heads: Some(heads),
                chunk: Chunk::Increment(bytes),
            });
        }
        Ok((done, outcome(lacks)))
    }

    fn sync_in(
        &mut self,
        session: SessionId,
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        msg: &[u8],
    ) -> Result<Done, NodeError> {
        self.member_space(space, peer)?;
        if !self.in_space(id, space)? {
            return Ok(Done::reply(ReplicaReply::Sync(None)));
        }
        let mut state = self.sync_states.remove(&(session, id)).unwrap_or_default();
        let doc = self.doc(id)?;
        let before = doc.heads();
        if let Err(e) = doc.receive_sync(&mut state, msg) {
            self.cache.pop(&id);
            return Err(NodeError::Invalid(format!("a peer's sync message: {e}")));
        }
        let (mut done, applied) =
            self.after_remote_change(space, id, &before, session, |_| Applied::Done)?;
        if applied == Applied::Refused {
            // The state believes changes were applied that were not: start it afresh.
            done.reply = ReplicaReply::Sync(None);
            return Ok(done);
        }
        let reply = self.doc(id)?.sync_message(&mut state);
        self.sync_states.insert((session, id), state);
        done.reply = ReplicaReply::Sync(reply);
        Ok(done)
    }
}

fn digest(s: &Shared) -> [u8; 32] {
    let hashes: Vec<_> = s.ops.iter().map(SignedOp::hash).collect();
    set_digest(hashes.iter())
}
