//! The actor's side of sync: what sessions ask of the store and the memberships.
//!
//! Every document change from a peer passes the same gate, whoever relays it:
//!
//! - the peer must be a member of the space in this node's view, and the document must belong to
//!   that space (an id held in another space, such as the personal one, is never touched; a
//!   profile belongs to every space its member is in);
//! - every change must carry its author's signature (`tacit_core::ChangeSig`);
//! - its author must write in the space, or have written it before losing the right
//!   (`tacit_core::authorize`: the cut of the removal), and every field that names a person must
//!   have been written by that person (`Doc::check_claims`).
//!
//! Changes that fail are dropped and the rest kept (the document is rebuilt without them); a
//! document whose claims fail loses all the changes that came with it. Nothing refused is
//! stored or forwarded.
//!
//! Membership ops from a peer are taken only from members of the space, only if they count in the
//! fold (or are deps of ops that do), and only within the caps per author and per space.

use std::collections::{BTreeSet, HashMap, HashSet};

use tacit_core::{
    ChangeSig, CutEntry, Doc, DocId, InviteKey, Kind, MANAGEMENT_OPS_RESERVE, MAX_OPS_PER_AUTHOR,
    MAX_SPACE_OPS, MemberId, Membership, NewChange, Op, OpBody, OpHash, Prejudged, Role, SignedOp,
    SpaceId, Verdict, authorize, set_digest, unsigned,
};
use tacit_net::recon::{HeadsHash, ItemSet};
use tacit_net::wire::{MAX_SIGS, SpaceOffer, WholeDoc};
use tacit_store::{Chunk, DocWrite, SpaceRow};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::{Actor, Answer, Effects, ReplyTo, changed_event};
use crate::base::{blob_refs_of, now_ms, writers_of};
use crate::error::NodeError;
use crate::membership::Shared;
use crate::replica::{
    Applied, Loaded, ReplicaReply, ReplicaReq, SessionId, SignedSync, load_whole,
};

/// What a session's request did.
type Done = Effects<ReplicaReply>;

/// Where a document a peer names belongs, in this node's view.
enum Place {
    /// Not held.
    Unknown,
    /// Held in the space.
    Here,
    /// A profile held here whose member is a member of the space.
    Profile,
}

/// What the rules made of a batch of changes applied to a document.
struct Judged {
    /// The changes dropped.
    dropped: usize,
    /// Some were dropped because they name membership ops this node lacks.
    later: bool,
    /// The claims check failed: every change of the batch was dropped.
    claims: bool,
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
        let result = result.map(|d| d.map(Answer::Replica));
        self.settle(ReplyTo::Replica(reply), result);
    }

    fn replica(&mut self, req: ReplicaReq) -> Result<Done, NodeError> {
        let me = self.info.member;
        match req {
            ReplicaReq::Offers { peer } => {
                let offers = self
                    .spaces
                    .values()
                    .filter(|s| !s.legacy)
                    .filter(|s| s.membership.is_member(&peer) && s.membership.is_member(&me))
                    .map(|s| SpaceOffer {
                        space: s.row.id,
                        ops_digest: digest(s),
                    })
                    .collect();
                Ok(Done::read(ReplicaReply::Offers(offers)))
            }
            ReplicaReq::OpHashes { space, peer } => {
                let hashes = match self.spaces.get(&space) {
                    Some(s) if s.membership.is_member(&peer) => {
                        s.ops.iter().map(SignedOp::hash).collect()
                    }
                    _ => Vec::new(),
                };
                Ok(Done::read(ReplicaReply::OpHashes(hashes)))
            }
            ReplicaReq::Ops {
                space,
                peer,
                hashes,
            } => {
                // A removed member is sent the ops once more, when its session drops the
                // space: they tell it that it was removed.
                let ops = match self.spaces.get(&space) {
                    Some(s)
                        if s.membership.is_member(&peer)
                            || s.membership.removed().contains_key(&peer) =>
                    {
                        match hashes {
                            None => s.op_bytes(),
                            Some(wanted) => {
                                let wanted: HashSet<OpHash> = wanted.into_iter().collect();
                                s.ops
                                    .iter()
                                    .filter(|o| wanted.contains(&o.hash()))
                                    .map(SignedOp::to_bytes)
                                    .collect()
                            }
                        }
                    }
                    _ => Vec::new(),
                };
                Ok(Done::read(ReplicaReply::Ops(ops)))
            }
            ReplicaReq::AddOps { space, peer, ops } => self.add_ops(space, Some(peer), &ops),
            ReplicaReq::Admit { space, peer, op } => self.admit(space, peer, &op),
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
                let proof =
                    InviteKey::from_secret(&ticket.secret).prove(ticket.space, ticket.invite, me);
                let op = SignedOp::sign(
                    &self.key,
                    Op {
                        space: ticket.space,
                        author: me,
                        at: now_ms(),
                        deps: vec![ticket.invite],
                        body: OpBody::Join {
                            invite: ticket.invite,
                            proof,
                            member_name: profile.name,
                            member_org: profile.org,
                        },
                    },
                )?;
                Ok(Done::read(ReplicaReply::JoinOp(op.to_bytes())))
            }
            ReplicaReq::JoinComplete { ticket, join, ops } => {
                self.join_complete(&ticket, &join, &ops)
            }
            ReplicaReq::ReconStart { space } => {
                let part = self.items(space)?.start();
                Ok(Done::read(ReplicaReply::Part(part)))
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
                Ok(Done::read(ReplicaReply::Recon { replies, diff }))
            }
            ReplicaReq::Fetch {
                space,
                peer,
                ids,
                served,
            } => {
                self.member_space(space, peer)?;
                let served: HashMap<DocId, HeadsHash> = served.into_iter().collect();
                let mut docs = Vec::with_capacity(ids.len());
                for id in ids {
                    match self.place(id, space) {
                        Ok(Place::Here | Place::Profile) => {
                            if self.pending_docs.contains(&id) {
                                self.flush();
                            }
                            let heads = self.items(space)?.get(id.as_bytes()).copied();
                            if heads.is_some_and(|h| served.get(&id) == Some(&h)) {
                                continue;
                            }
                            let data = self.store.load_chunks(id)?.concat();
                            let mut sigs = self.store.sigs(id)?;
                            sigs.truncate(MAX_SIGS);
                            docs.push((WholeDoc { id, data, sigs }, heads.unwrap_or_default()));
                        }
                        _ => debug!(%id, "asked for a document not in the space"),
                    }
                }
                Ok(Done::read(ReplicaReply::Docs(docs)))
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
                sigs,
                unsigned,
                origin,
            } => {
                if self.lacks_any(id, space, &unsigned)? {
                    debug!(%id, "changes the document lacks, without their author's signature");
                    return Ok(Done::read(ReplicaReply::Applied(Applied::Refused)));
                }
                self.apply(space, peer, id, &data, &sigs, origin)
            }
            ReplicaReq::SyncOut {
                session,
                space,
                id,
                theirs,
            } => {
                if !matches!(self.place(id, space)?, Place::Here | Place::Profile) {
                    return Ok(Done::read(ReplicaReply::sync(None)));
                }
                let kept = self.sync_states.take(session, id);
                let doc = self.doc(id)?;
                let mut state = match (kept, theirs) {
                    // A new exchange: the peer's answer to an earlier one (a `Synced`) leaves
                    // nothing in flight.
                    (Some(mut state), _) => {
                        state.in_flight = false;
                        state
                    }
                    (None, Some(theirs)) => doc.primed_sync_state(|heads| {
                        tacit_core::heads_hash(heads.iter().map(|h| &h.0)) == theirs
                    }),
                    (None, None) => Default::default(),
                };
                let msg = doc.sync_message(&mut state);
                if tacit_core::keep_sync_state(&mut state) {
                    self.sync_states.keep(session, id, state);
                }
                let msg = self.with_sigs(id, msg)?;
                Ok(Done::read(ReplicaReply::sync(msg)))
            }
            ReplicaReq::SyncIn {
                session,
                space,
                peer,
                id,
                msg,
                sigs,
                unsigned,
            } => {
                if self.lacks_any(id, space, &unsigned)? {
                    debug!(%id, "a sync message with changes the document lacks, unsigned");
                    self.sync_states.take(session, id);
                    return Ok(Done::read(ReplicaReply::sync(None)));
                }
                self.sync_in(session, space, peer, id, &msg, &sigs)
            }
            ReplicaReq::EndSession { session } => {
                self.sync_states.end(session);
                Ok(Done::read(ReplicaReply::Done))
            }
            ReplicaReq::SeenAt {
                peer,
                addrs,
                member,
            } => {
                // The address book keeps members only: a stranger cannot make this node store
                // where it was. A peer that may become one (a joiner, an inviter) is kept in
                // memory, bounded, until it does; so are addresses the engine did not let
                // through to the disk.
                if member && self.is_member_peer(&peer) {
                    self.note_addresses(&peer, &addrs)?;
                } else {
                    let mut addrs = addrs;
                    addrs.truncate(tacit_store::ADDRESSES_PER_PEER);
                    self.seen_strangers.put(peer, addrs);
                }
                Ok(Done::read(ReplicaReply::Done))
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
                Ok(Done::read(ReplicaReply::Reconnect(targets)))
            }
        }
    }

    /// Whether any of `unsigned` (changes received without a signature) is one the document
    /// lacks: then the message is refused before any change is applied (an honest node signs
    /// every change it sends that the receiver may lack).
    fn lacks_any(
        &mut self,
        id: DocId,
        space: SpaceId,
        unsigned: &[[u8; 32]],
    ) -> Result<bool, NodeError> {
        if unsigned.is_empty() {
            return Ok(false);
        }
        if !matches!(self.place(id, space), Ok(Place::Here | Place::Profile)) {
            return Ok(true);
        }
        let doc = self.doc(id)?;
        Ok(unsigned.iter().any(|h| !doc.has_change(h)))
    }

    fn note_addresses(&mut self, peer: &str, addrs: &[String]) -> Result<(), NodeError> {
        let addrs: Vec<&str> = addrs
            .iter()
            .take(tacit_store::ADDRESSES_PER_PEER)
            .map(String::as_str)
            .collect();
        self.store.note_addresses(peer, &addrs, now_ms())?;
        Ok(())
    }

    /// Moves the addresses of peers seen before they were members into the address book.
    pub(super) fn book_new_members(&mut self) {
        let now_members: Vec<String> = self
            .seen_strangers
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| self.is_member_peer(p))
            .collect();
        for peer in now_members {
            if let Some(addrs) = self.seen_strangers.pop(&peer)
                && let Err(e) = self.note_addresses(&peer, &addrs)
            {
                warn!("cannot record a member's addresses: {e}");
            }
        }
    }

    /// Whether the libp2p peer `peer` is a member of a space this home is a member of (as the
    /// sync engine counts members: a space this home was removed from, or a legacy one, does not
    /// count).
    fn is_member_peer(&self, peer: &str) -> bool {
        let Some(member) = peer
            .parse::<tacit_net::PeerId>()
            .ok()
            .and_then(|p| tacit_net::member_of(&p))
        else {
            return false;
        };
        self.spaces.values().any(|s| {
            !s.legacy
                && s.membership.is_member(&self.info.member)
                && s.membership.is_member(&member)
        })
    }

    /// The space, if both this member and `peer` are members of it.
    fn member_space(&self, space: SpaceId, peer: MemberId) -> Result<&Shared, NodeError> {
        match self.spaces.get(&space) {
            Some(s)
                if !s.legacy
                    && s.membership.is_member(&peer)
                    && s.membership.is_member(&self.info.member) =>
            {
                Ok(s)
            }
            _ => Err(NodeError::Refused(format!(
                "peer {} is not a member of that space",
                peer.short()
            ))),
        }
    }

    /// Where `id` belongs as seen from `space`; an error if it is held elsewhere (a peer must
    /// never reach a document of another space).
    fn place(&mut self, id: DocId, space: SpaceId) -> Result<Place, NodeError> {
        if self.pending_docs.contains(&id) {
            self.flush();
        }
        match self.store.get(id)? {
            None => Ok(Place::Unknown),
            Some(l) if l.space == space => Ok(Place::Here),
            Some(l)
                if l.summary.kind == Kind::Profile && self.profile_member(id, space).is_some() =>
            {
                Ok(Place::Profile)
            }
            Some(_) => Err(NodeError::Refused(format!(
                "document {id} is not in that space"
            ))),
        }
    }

    /// The member whose profile `id` is, among the members of `space`.
    fn profile_member(&self, id: DocId, space: SpaceId) -> Option<MemberId> {
        self.spaces
            .get(&space)
            .and_then(|s| s.membership.member_with_profile(id))
    }

    /// Whether `id` is the profile id of a member of any space this home holds (legacy ones
    /// aside): a document of another kind there, in whatever space, would make this node
    /// refuse that member's profile when it comes.
    fn is_a_members_profile_id(&self, id: DocId) -> bool {
        self.spaces
            .values()
            .any(|s| !s.legacy && s.membership.member_with_profile(id).is_some())
    }

    /// Attaches the signatures of the changes a sync message carries.
    fn with_sigs(
        &mut self,
        id: DocId,
        msg: Option<(Vec<u8>, Vec<automerge::ChangeHash>)>,
    ) -> Result<Option<SignedSync>, NodeError> {
        let Some((bytes, sent)) = msg else {
            return Ok(None);
        };
        if sent.is_empty() {
            return Ok(Some((bytes, Vec::new())));
        }
        if self.pending_docs.contains(&id) {
            self.flush();
        }
        let sent: HashSet<[u8; 32]> = sent.iter().map(|h| h.0).collect();
        let mut sigs: Vec<ChangeSig> = self
            .store
            .sigs(id)?
            .into_iter()
            .filter(|s| sent.contains(&s.hash))
            .collect();
        sigs.truncate(MAX_SIGS);
        Ok(Some((bytes, sigs)))
    }

    fn add_ops(
        &mut self,
        space: SpaceId,
        peer: Option<MemberId>,
        ops: &[Vec<u8>],
    ) -> Result<Done, NodeError> {
        let unchanged = |missing: Vec<OpHash>| {
            Done::read(ReplicaReply::OpsAdded {
                changed: false,
                missing,
            })
        };
        let Some(shared) = self.spaces.get(&space) else {
            return Ok(unchanged(Vec::new())); // not a space of this home: nothing to keep
        };
        if shared.legacy {
            return Ok(unchanged(Vec::new()));
        }
        // Ops are taken from members only: a stranger or a removed member cannot grow the set.
        if let Some(p) = peer
            && !shared.membership.is_member(&p)
        {
            return Ok(unchanged(Vec::new()));
        }
        let held: HashSet<OpHash> = shared.ops.iter().map(SignedOp::hash).collect();
        let hopeless = hopeless_ops(&shared.membership, space, &held, ops);
        let mut authored: HashMap<MemberId, usize> = HashMap::new();
        let mut new: Vec<SignedOp> = Vec::new();
        let mut seen = HashSet::new();
        for (i, bytes) in ops.iter().enumerate() {
            if hopeless.contains(&i) {
                continue;
            }
            let Ok(op) = SignedOp::from_bytes(bytes) else {
                continue;
            };
            if op.op().space != space || held.contains(&op.hash()) || !seen.insert(op.hash()) {
                continue;
            }
            let author = op.op().author;
            let count = authored
                .entry(author)
                .or_insert_with(|| shared.membership.authored(&author));
            let size = held.len() + new.len();
            // An owner's removal, demotion or withdrawal has room kept past both caps: a set
            // filled by puppets still takes the op that ends them, on every member alike.
            let reserved = (op.op().body.takes_rights_of(&author).is_some()
                || matches!(op.op().body, OpBody::Withdraw { .. }))
                && shared
                    .membership
                    .role(&author)
                    .is_some_and(Role::can_manage);
            let fits = if reserved {
                size < MAX_SPACE_OPS + MANAGEMENT_OPS_RESERVE
            } else {
                *count < MAX_OPS_PER_AUTHOR && size < MAX_SPACE_OPS
            };
            if !fits {
                continue;
            }
            *count += 1;
            new.push(op);
        }
        if new.is_empty() {
            let missing = shared.membership.missing().iter().copied().collect();
            return Ok(unchanged(missing));
        }
        let mut all: Vec<SignedOp> = shared.ops.clone();
        all.extend(new.iter().cloned());
        let folded = Membership::fold(space, all.iter());
        // Keep what counts, and what an op that counts depends on (a join with its admission,
        // an op voided later that others had built on); drop the rest.
        let new_by_hash: HashMap<OpHash, &SignedOp> = new.iter().map(|o| (o.hash(), o)).collect();
        let mut keep: BTreeSet<OpHash> = new_by_hash
            .keys()
            .filter(|h| folded.applied().contains(*h))
            .copied()
            .collect();
        let mut todo: Vec<OpHash> = keep.iter().copied().collect();
        while let Some(h) = todo.pop() {
            if let Some(op) = new_by_hash.get(&h) {
                for d in &op.op().deps {
                    if new_by_hash.contains_key(d) && keep.insert(*d) {
                        todo.push(*d);
                    }
                }
            }
        }
        let missing: Vec<OpHash> = folded.missing().iter().copied().collect();
        if keep.is_empty() {
            debug!(%space, dropped = new.len(), "ops from a peer that count for nothing; not kept");
            return Ok(unchanged(missing));
        }
        let kept: Vec<SignedOp> = new
            .into_iter()
            .filter(|o| keep.contains(&o.hash()))
            .collect();
        let pairs: Vec<([u8; 32], Vec<u8>)> =
            kept.iter().map(|o| (o.hash().0, o.to_bytes())).collect();
        self.store.add_ops(space, &pairs)?;
        let before = self
            .spaces
            .get(&space)
            .map(|s| s.membership.clone())
            .ok_or_else(|| NodeError::Internal("space left while adding ops".into()))?;
        if let Some(shared) = self.spaces.get_mut(&space) {
            shared.add(kept);
        }
        let mut done = Done::read(ReplicaReply::OpsAdded {
            changed: false,
            missing,
        });
        let changed = self
            .spaces
            .get(&space)
            .is_some_and(|s| s.membership != before);
        if changed {
            self.membership_changed(space);
            done.absorb(self.enforce_cuts(space, &before)?);
            if let ReplicaReply::OpsAdded { changed, .. } = &mut done.answer {
                *changed = true;
            }
        }
        Ok(done)
    }

    /// Strong removal, for documents already held: a member who lost write rights (removed or
    /// demoted by an op this node just learnt of) may have changes here that this node took
    /// before it knew. Those outside the removal's cut, and built on by no writer who had not
    /// seen the removal, are dropped: the document is rebuilt without them.
    fn enforce_cuts(&mut self, space: SpaceId, before: &Membership) -> Result<Done, NodeError> {
        let mut done = Done::read(ReplicaReply::Done);
        let Some(shared) = self.spaces.get(&space) else {
            return Ok(done);
        };
        let m = shared.membership.clone();
        let cut_members: Vec<MemberId> = m
            .removed()
            .keys()
            .chain(m.members().keys())
            .filter(|id| {
                m.write_cut(id)
                    .is_some_and(|wc| before.write_cut(id).map(|b| b.op) != Some(wc.op))
            })
            .copied()
            .collect();
        for member in cut_members {
            if member == self.info.member {
                // This home's own changes were acknowledged here, and stay: a cut that leaves
                // some out (a hostile owner's empty cut, a remover who was behind) keeps them
                // from counting anywhere else, it does not erase the user's work.
                continue;
            }
            let Some(wc) = m.write_cut(&member).cloned() else {
                continue;
            };
            for (doc, last) in self.store.last_changes_of(space, member)? {
                if wc
                    .cut
                    .get(doc.as_bytes())
                    .is_some_and(|h| h[..] == last[..8])
                {
                    continue; // the member's last change here is the cut's: all of theirs count
                }
                let d = self.doc(doc)?;
                let theirs: Vec<NewChange> = d
                    .changes_since(&[])
                    .into_iter()
                    .filter(|c| c.author == Some(member))
                    .collect();
                let refused: HashSet<[u8; 32]> = authorize(d, &m, &theirs)
                    .into_iter()
                    .zip(&theirs)
                    .filter(|(v, _)| matches!(v, Verdict::Refused(_)))
                    .map(|(_, c)| c.hash)
                    .collect();
                if refused.is_empty() {
                    continue;
                }
                let dropped = d.retain_changes(|h| !refused.contains(&h.0))?;
                warn!(%doc, dropped, member = %member.short(), "dropped changes made after their author lost write rights");
                if d.heads().is_empty() {
                    // Nothing is left: the member made the document after losing the right
                    // to. It goes, as a node that never held it refuses it whole.
                    self.forget_doc(space, doc)?;
                    continue;
                }
                let summary = d.summary()?;
                let (data, changes) = d.save_with_changes();
                let heads = d.heads_hash();
                let contributions = d.contributions_with(&changes).ok();
                done.events.push(changed_event(doc, space, &summary, true));
                let blob_refs = blob_refs_of(d, &summary, None);
                done.writes.push(DocWrite {
                    id: doc,
                    space,
                    summary,
                    heads: Some(heads),
                    chunk: Chunk::Snapshot(data),
                    sigs: Vec::new(),
                    writers: writers_of(&changes),
                    contributions,
                    blob_refs,
                });
            }
        }
        Ok(done)
    }

    /// Removes a document from the store, the cache, the reconciliation set and the index.
    pub(super) fn forget_doc(&mut self, space: SpaceId, doc: DocId) -> Result<(), NodeError> {
        self.store.remove_doc(doc)?;
        self.cache.pop(&doc);
        self.pending_entries.remove(&doc);
        if let Some(items) = self.items.get_mut(&space) {
            items.remove(doc.as_bytes());
        }
        if let Some(search) = &self.search {
            search.send(crate::search::Job::Remove(doc));
        }
        self.people.invalidate(Some(space));
        Ok(())
    }

    /// Admits a joiner. Until the join proves it holds an invitation's secret, every failure
    /// reads the same, so that a peer without a ticket cannot probe which spaces this node
    /// holds; after that the joiner is told exactly what is wrong. The expiry and the uses are
    /// checked here, against this node's clock and view; the admission op records the verdict.
    fn admit(&mut self, space: SpaceId, peer: MemberId, op: &[u8]) -> Result<Done, NodeError> {
        let unknown = || {
            NodeError::Refused(
                "no invitation here matches this ticket (wrong, withdrawn, or for another device)"
                    .into(),
            )
        };
        let shared = self.spaces.get(&space).ok_or_else(unknown)?;
        if shared.legacy || !shared.membership.is_member(&self.info.member) {
            return Err(unknown());
        }
        let join = SignedOp::from_bytes(op).map_err(|_| unknown())?;
        let body = join.op();
        let OpBody::Join { invite, proof, .. } = &body.body else {
            return Err(unknown());
        };
        let proven = shared
            .membership
            .invites()
            .get(invite)
            .is_some_and(|i| InviteKey::verify(&i.key, space, *invite, peer, *proof));
        if body.author != peer || body.space != space || !proven {
            return Err(unknown());
        }
        if shared.membership.is_member(&peer) {
            return Ok(Done::read(ReplicaReply::Admitted)); // admitted before
        }
        if shared.membership.removed().contains_key(&peer) {
            return Err(NodeError::Refused(
                "this device was removed from the space; removal is final".into(),
            ));
        }
        shared.membership.invite_usable(invite, now_ms())?;
        let heads = shared.membership.heads();
        let admit = SignedOp::sign(
            &self.key,
            Op {
                space,
                author: self.info.member,
                at: now_ms(),
                deps: heads,
                body: OpBody::Admit { join: join.hash() },
            },
        )?;
        let mut all = shared.ops.clone();
        all.push(join.clone());
        all.push(admit.clone());
        if !Membership::fold(space, all.iter()).is_member(&peer) {
            return Err(NodeError::Refused(
                "the invitation does not admit this device (it is used up or withdrawn)".into(),
            ));
        }
        let pairs = [
            (join.hash().0, join.to_bytes()),
            (admit.hash().0, admit.to_bytes()),
        ];
        self.store.add_ops(space, &pairs)?;
        if let Some(shared) = self.spaces.get_mut(&space) {
            shared.add([join, admit]);
        }
        self.membership_changed(space);
        Ok(Done::read(ReplicaReply::Admitted))
    }

    fn join_complete(
        &mut self,
        ticket: &tacit_core::Ticket,
        join: &[u8],
        ops: &[Vec<u8>],
    ) -> Result<Done, NodeError> {
        let me = self.info.member;
        let mut all: Vec<SignedOp> = ops
            .iter()
            .take(MAX_SPACE_OPS)
            .filter_map(|b| SignedOp::from_bytes(b).ok())
            .filter(|o| o.op().space == ticket.space)
            .collect();
        all.extend(SignedOp::from_bytes(join).ok());
        let membership = Membership::fold(ticket.space, all.iter());
        if !membership.is_member(&me) {
            return Err(NodeError::Refused(format!(
                "the member's copy of {:?} does not admit this ticket (used up, expired or withdrawn)",
                ticket.name
            )));
        }
        // Keep only what counts and what it depends on.
        let applied = membership.applied();
        all.retain(|o| applied.contains(&o.hash()) || membership.rejected().contains(&o.hash()));
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
        Ok(Done::read(ReplicaReply::Joined {
            space: ticket.space,
            name,
        }))
    }

    /// The reconciliation items of a space, built from the store when first needed: its
    /// documents, and the profiles of its members.
    pub(super) fn items(&mut self, space: SpaceId) -> Result<&ItemSet, NodeError> {
        if !self.items.contains_key(&space) {
            let mut set = ItemSet::new();
            let mut heads_of: Vec<(DocId, Option<[u8; 8]>)> = self.store.doc_heads(space)?;
            let profiles: Vec<DocId> = self
                .spaces
                .get(&space)
                .map(|s| {
                    s.membership
                        .members()
                        .keys()
                        .map(|m| Doc::profile_id(*m))
                        .collect()
                })
                .unwrap_or_default();
            for id in profiles {
                if let Some(l) = self.store.get(id)?
                    && l.summary.kind == Kind::Profile
                {
                    heads_of.push((id, self.store.heads_of(id)?));
                }
            }
            for (id, heads) in heads_of {
                let heads = match heads {
                    Some(h) => h,
                    None => {
                        // A row written before heads were recorded: compute it once.
                        let h = self.doc(id)?.heads_hash();
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

    /// Applies the rules to `new`, changes just applied to `doc` (all of its changes for a
    /// document received whole): drops those unsigned, refused or waiting for ops, and all of
    /// them if a claim fails.
    fn judge(
        &self,
        space: SpaceId,
        doc: &mut Doc,
        kind: Kind,
        new: &[NewChange],
        unsigned_ones: &BTreeSet<[u8; 32]>,
    ) -> Result<Judged, NodeError> {
        let mut drop: HashSet<[u8; 32]> = unsigned_ones.iter().copied().collect();
        if !drop.is_empty() {
            debug!(id = %doc.id(), ?kind, unsigned = drop.len(), of = new.len(), "changes without their author's signature");
        }
        let mut later = false;
        if kind != Kind::Profile {
            let shared = self
                .spaces
                .get(&space)
                .ok_or_else(|| NodeError::Refused("not a space of this home".into()))?;
            for (verdict, c) in authorize(doc, &shared.membership, new).into_iter().zip(new) {
                match verdict {
                    Verdict::Counts => {}
                    Verdict::Later => {
                        later = true;
                        drop.insert(c.hash);
                    }
                    Verdict::Refused(why) => {
                        debug!(id = %doc.id(), "refused a change: {why}");
                        drop.insert(c.hash);
                    }
                }
            }
        }
        let mut dropped = 0;
        if !drop.is_empty() {
            dropped = doc.retain_changes(|h| !drop.contains(&h.0))?;
        }
        // A member's profile id is theirs: another kind of document there (a hostile member's
        // note made at a newcomer's profile id) would make this node refuse the real profile
        // when it comes.
        let claims = if kind != Kind::Profile && self.is_a_members_profile_id(doc.id()) {
            Err(tacit_core::CoreError::Malformed(
                "a document at a member's profile id that is not their profile".into(),
            ))
        } else {
            doc.check_claims_of(&new.iter().map(|c| c.hash).collect::<Vec<_>>())
        };
        if let Err(e) = claims {
            let all = doc.changes_since(&[]);
            debug!(id = %doc.id(), ?kind, new = new.len(), all = all.len(),
                roots = all.iter().filter(|c| c.deps.is_empty()).count(),
                first = ?all.first().map(|c| (c.author.map(|a| a.short()), c.deps.len())),
                "refused changes: {e}");
            let batch: HashSet<[u8; 32]> = new.iter().map(|c| c.hash).collect();
            dropped += doc.retain_changes(|h| !batch.contains(&h.0))?;
            return Ok(Judged {
                dropped,
                later,
                claims: true,
            });
        }
        Ok(Judged {
            dropped,
            later,
            claims: false,
        })
    }

    /// Whether a document of `kind` received for `space` may be held at all.
    fn shareable(&self, kind: Kind, id: DocId, space: SpaceId) -> bool {
        match kind {
            Kind::Note | Kind::Question => true,
            Kind::Profile => self.profile_member(id, space).is_some(),
        }
    }

    /// A whole document received: checked, stored (without the changes that do not count) and
    /// pushed to the other members.
    fn take_whole(
        &mut self,
        space: SpaceId,
        mut loaded: Loaded,
        origin: SessionId,
    ) -> Result<(Done, Applied), NodeError> {
        let id = loaded.id;
        let kind = loaded.summary.kind;
        if !self.shareable(kind, id, space) {
            warn!(%id, "refused a document from a peer: a kind that is not shared there");
            return Ok((Done::read(ReplicaReply::Done), Applied::Refused));
        }
        let judged = self.judge(
            space,
            &mut loaded.doc,
            kind,
            &loaded.changes,
            &loaded.unsigned,
        )?;
        if judged.claims || judged.dropped == loaded.changes.len() {
            return Ok((
                Done::read(ReplicaReply::Done),
                if judged.later {
                    Applied::Later
                } else {
                    Applied::Refused
                },
            ));
        }
        let mut doc = loaded.doc;
        // Everything read at load is read again only when changes were dropped: otherwise the
        // document is as loaded.
        let (summary, data, changes, entry, contributions) = if judged.dropped > 0 {
            let summary = match doc.summary() {
                Ok(s) => s,
                Err(e) => {
                    debug!(%id, "a received document is malformed once checked: {e}");
                    return Ok((Done::read(ReplicaReply::Done), Applied::Refused));
                }
            };
            let (data, changes) = doc.save_with_changes();
            let heads = doc.heads_hash();
            let entry = tacit_search::Entry::from_doc(&mut doc, space, heads)
                .ok()
                .flatten();
            let contributions = doc.contributions_with(&changes).ok();
            (summary, data, changes, entry, contributions)
        } else {
            (
                loaded.summary,
                loaded.data,
                loaded.changes,
                loaded.entry,
                loaded.contributions,
            )
        };
        let kept: HashSet<[u8; 32]> = changes.iter().map(|c| c.hash).collect();
        let sigs: Vec<ChangeSig> = loaded
            .sigs
            .into_iter()
            .filter(|s| kept.contains(&s.hash))
            .collect();
        // A profile is held in the personal space: it belongs to every space its member is in.
        let home_space = if kind == Kind::Profile {
            self.info.personal
        } else {
            space
        };
        let mut done = Done::read(ReplicaReply::Done);
        done.events
            .push(changed_event(id, home_space, &summary, true));
        done.pushes = self.push(home_space, kind, id, &data, &sigs, Some(origin));
        let blob_refs = blob_refs_of(&doc, &summary, entry.as_ref());
        if let Some(mut entry) = entry {
            entry.space = home_space;
            self.pending_entries.insert(id, entry);
        }
        let heads = doc.heads_hash();
        done.writes.push(DocWrite {
            id,
            space: home_space,
            summary,
            heads: Some(heads),
            chunk: Chunk::Snapshot(data),
            sigs,
            writers: writers_of(&changes),
            contributions,
            blob_refs,
        });
        self.cache.put(id, doc);
        let outcome = if judged.later {
            Applied::Later
        } else {
            Applied::Done
        };
        Ok((done, outcome))
    }

    fn put(
        &mut self,
        space: SpaceId,
        peer: MemberId,
        docs: Vec<Loaded>,
        origin: SessionId,
    ) -> Result<Done, NodeError> {
        self.member_space(space, peer)?;
        let mut done = Done::read(ReplicaReply::Done);
        let (mut refused, mut later) = (0, Vec::new());
        for doc in docs {
            let id = doc.id;
            let outcome = match self.place(id, space) {
                Err(_) => Applied::Refused,
                Ok(Place::Here | Place::Profile) => {
                    let (d, applied) = if let Err(e @ NodeError::Damaged { .. }) = self.doc(id) {
                        // This node's copy does not load: the member's whole copy, checked as
                        // any new document is, replaces it.
                        warn!(%id, "{e}; a member's whole copy replaces it");
                        self.take_whole(space, doc, origin)?
                    } else {
                        // Held already (it arrived another way meanwhile): merge its changes.
                        self.merge(space, peer, id, &doc.data, &doc.sigs, origin)?
                    };
                    done.absorb(d);
                    applied
                }
                Ok(Place::Unknown) => {
                    let (d, applied) = self.take_whole(space, doc, origin)?;
                    done.absorb(d);
                    applied
                }
            };
            match outcome {
                Applied::Refused => refused += 1,
                Applied::Later => later.push(id),
                _ => {}
            }
        }
        done.answer = ReplicaReply::Put { refused, later };
        Ok(done)
    }

    fn apply(
        &mut self,
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        data: &[u8],
        sigs: &[ChangeSig],
        origin: SessionId,
    ) -> Result<Done, NodeError> {
        self.member_space(space, peer)?;
        let (mut done, applied) = match self.place(id, space)? {
            Place::Unknown => {
                // New here: the bytes must be a whole document.
                let Ok(loaded) = load_whole(
                    WholeDoc {
                        id,
                        data: data.to_vec(),
                        sigs: sigs.to_vec(),
                    },
                    space,
                    self.info.member,
                ) else {
                    return Ok(Done::read(ReplicaReply::Applied(Applied::Want)));
                };
                self.take_whole(space, loaded, origin)?
            }
            Place::Here => match self.prejudge(space, [data]) {
                Prejudged::Open => self.merge(space, peer, id, data, sigs, origin)?,
                verdict => (Done::read(ReplicaReply::Done), prejudged(id, verdict)),
            },
            Place::Profile => self.merge(space, peer, id, data, sigs, origin)?,
        };
        done.answer = ReplicaReply::Applied(applied);
        Ok(done)
    }

    /// [`tacit_core::prejudge`] against the space's membership: changes bound to be dropped by
    /// rules that need no document are dropped before they are applied, so a member who sends
    /// them (a reader's signed edits, changes naming made-up ops) makes this node rebuild
    /// nothing.
    fn prejudge<'a>(
        &self,
        space: SpaceId,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Prejudged {
        match self.spaces.get(&space) {
            Some(shared) => tacit_core::prejudge(&shared.membership, chunks),
            None => Prejudged::Open,
        }
    }

    /// Merges changes from a peer into a held document, keeping those that count.
    fn merge(
        &mut self,
        space: SpaceId,
        _peer: MemberId,
        id: DocId,
        data: &[u8],
        sigs: &[ChangeSig],
        origin: SessionId,
    ) -> Result<(Done, Applied), NodeError> {
        let doc = match self.doc(id) {
            Ok(doc) => doc,
            // This node's copy does not load: the peer is asked for its whole copy (which
            // replaces it, see `put`).
            Err(e @ NodeError::Damaged { .. }) => {
                warn!(%id, "{e}; asking the member for its whole copy");
                return Ok((Done::read(ReplicaReply::Done), Applied::Want));
            }
            Err(e) => return Err(e),
        };
        let before = doc.heads();
        if let Err(e) = doc.apply_changes(data) {
            debug!(%id, "changes from a peer do not apply: {e}");
            self.cache.pop(&id);
            return Ok((Done::read(ReplicaReply::Done), Applied::Refused));
        }
        if doc.lacks_changes() {
            // Changes waiting for others stay out of the cache: applied later they would be
            // checked together with whatever completes them, and a hostile one would then make
            // an honest change be refused. Automerge's sync fetches them properly.
            self.cache.pop(&id);
            return Ok((Done::read(ReplicaReply::Done), Applied::Sync));
        }
        // These changes may complete some an earlier sync message left waiting.
        let sigs = doc.with_waiting_sigs(sigs);
        let (done, applied) = self.after_remote_change(space, id, &before, &sigs, origin)?;
        Ok((done, applied))
    }

    /// After changes from a peer were applied to a cached document: keep those that count
    /// (rebuilding the document without the others) and write them.
    fn after_remote_change(
        &mut self,
        space: SpaceId,
        id: DocId,
        before: &[automerge::ChangeHash],
        sigs: &[ChangeSig],
        origin: SessionId,
    ) -> Result<(Done, Applied), NodeError> {
        let listed_space = self.store.get(id)?.map(|l| l.space).unwrap_or(space);
        let mut doc = self
            .cache
            .pop(&id)
            .ok_or_else(|| NodeError::Internal(format!("document {id} left the cache")))?;
        let kind = doc.kind()?;
        let new = doc.changes_since(before);
        if new.is_empty() {
            self.cache.put(id, doc);
            return Ok((Done::read(ReplicaReply::Done), Applied::Done));
        }
        let scope = tacit_core::scope_of(kind, space);
        let by_hash: HashMap<[u8; 32], ChangeSig> = sigs.iter().map(|s| (s.hash, *s)).collect();
        let bad = unsigned(scope, id, &new, &by_hash);
        let judged = match self.judge(space, &mut doc, kind, &new, &bad) {
            Ok(j) => j,
            Err(e) => {
                debug!(%id, "changes from a peer could not be judged: {e}");
                return Ok((Done::read(ReplicaReply::Done), Applied::Refused));
            }
        };
        let summary = match doc.summary() {
            Ok(s) => s,
            Err(e) => {
                debug!(%id, "changes from a peer leave the document malformed: {e}");
                return Ok((Done::read(ReplicaReply::Done), Applied::Refused));
            }
        };
        let outcome = if judged.later {
            Applied::Later
        } else if judged.dropped > 0 {
            Applied::Refused
        } else {
            Applied::Done
        };
        let mut done = Done::read(ReplicaReply::Done);
        let write = if judged.dropped == 0 {
            doc.take_unsaved_changes().map(|(bytes, changes)| {
                let kept: Vec<ChangeSig> = changes
                    .iter()
                    .filter_map(|c| by_hash.get(&c.hash).copied())
                    .collect();
                (Chunk::Increment(bytes), changes, kept)
            })
        } else if judged.dropped < new.len() || judged.claims {
            // Rebuilt without the dropped changes: stored whole.
            let (data, all) = doc.save_with_changes();
            let kept: Vec<ChangeSig> = new
                .iter()
                .filter(|c| all.iter().any(|a| a.hash == c.hash))
                .filter_map(|c| by_hash.get(&c.hash).copied())
                .collect();
            let changed = all.iter().any(|a| new.iter().any(|n| n.hash == a.hash));
            changed.then_some((Chunk::Snapshot(data), all, kept))
        } else {
            None
        };
        if let Some((chunk, changes, kept_sigs)) = write {
            let heads = doc.heads_hash();
            let contributions = doc.contributions().ok();
            // The other members are given the changes that came now and count, each with its
            // signature; not the bytes written to the store (after a rebuild, the whole
            // document), whose other changes' signatures are not at hand here.
            let pushed = if let Chunk::Increment(b) = &chunk
                && changes.len() == kept_sigs.len()
            {
                b.clone()
            } else {
                doc.save_after(before)
            };
            done.events
                .push(changed_event(id, listed_space, &summary, true));
            done.pushes = self.push(listed_space, kind, id, &pushed, &kept_sigs, Some(origin));
            let writers = writers_of(&changes);
            let blob_refs = blob_refs_of(&doc, &summary, None);
            done.writes.push(DocWrite {
                id,
                space: listed_space,
                summary,
                heads: Some(heads),
                chunk,
                sigs: kept_sigs,
                writers,
                contributions,
                blob_refs,
            });
        }
        self.cache.put(id, doc);
        Ok((done, outcome))
    }

    fn sync_in(
        &mut self,
        session: SessionId,
        space: SpaceId,
        peer: MemberId,
        id: DocId,
        msg: &[u8],
        sigs: &[ChangeSig],
    ) -> Result<Done, NodeError> {
        self.member_space(space, peer)?;
        match self.place(id, space)? {
            Place::Here => {
                // Screened already off this thread; a message that does not decode is left to
                // `receive_sync`, which refuses it.
                let decoded = std::panic::catch_unwind(|| automerge::sync::Message::decode(msg));
                let verdict = match decoded {
                    Ok(Ok(m)) => self.prejudge(space, m.changes.iter()),
                    _ => Prejudged::Open,
                };
                if verdict != Prejudged::Open {
                    // As after changes dropped by the rules: the exchange of this document ends
                    // and its state starts afresh.
                    self.sync_states.take(session, id);
                    return Ok(Done::read(ReplicaReply::Sync {
                        msg: None,
                        later: prejudged(id, verdict) == Applied::Later,
                    }));
                }
            }
            Place::Profile => {}
            _ => return Ok(Done::read(ReplicaReply::sync(None))),
        }
        let mut state = self.sync_states.take(session, id).unwrap_or_default();
        let doc = self.doc(id)?;
        let before = doc.heads();
        if let Err(e) = doc.receive_sync(&mut state, msg) {
            self.cache.pop(&id);
            return Err(NodeError::Invalid(format!("a peer's sync message: {e}")));
        }
        let sigs = doc.with_waiting_sigs(sigs);
        let (mut done, applied) = self.after_remote_change(space, id, &before, &sigs, session)?;
        if matches!(applied, Applied::Refused | Applied::Later) {
            // The state believes changes were applied that were not: start it afresh, and
            // end this document's exchange (the peer would only send them again).
            done.answer = ReplicaReply::Sync {
                msg: None,
                later: applied == Applied::Later,
            };
            return Ok(done);
        }
        let doc = self.doc(id)?;
        if doc.in_step_with(&state) {
            // Both sides hold the heads the peer declared: nothing to say (the session answers
            // `Synced`), and the exchange's state is not kept (a later one starts afresh).
            done.answer = ReplicaReply::sync(None);
            return Ok(done);
        }
        let reply = doc.sync_message(&mut state);
        if tacit_core::keep_sync_state(&mut state) {
            self.sync_states.keep(session, id, state);
        }
        done.answer = ReplicaReply::sync(self.with_sigs(id, reply)?);
        Ok(done)
    }

    /// The cut a removal or demotion of `member` in `space` records: their last change to each
    /// document of the space, as this node holds them.
    pub(super) fn cut_of(
        &mut self,
        space: SpaceId,
        member: MemberId,
    ) -> Result<Vec<CutEntry>, NodeError> {
        self.flush();
        let last = self.store.last_changes_of(space, member)?;
        if last.len() > tacit_core::MAX_CUT_ENTRIES {
            return Err(NodeError::Refused(format!(
                "this member wrote {} documents, more than one removal can name ({}); ask for a Tacit that splits it",
                last.len(),
                tacit_core::MAX_CUT_ENTRIES
            )));
        }
        Ok(last
            .iter()
            .map(|(doc, head)| CutEntry::new(*doc, head))
            .collect())
    }
}

/// Ops that cannot count whoever signed them, found without checking a signature: for another
/// space; management (invite, withdraw, role, removing someone else) by an author who is not an
/// owner now; an admission by a non-member, or of a join neither held nor sent with it. Honest
/// peers send such ops only in a race (an owner promoted and acting in one batch), so they are
/// dropped only when a message holds many of them — a flood — and otherwise left to the fold;
/// a dropped honest op comes again in a later op exchange.
/// What a prejudged push comes to (never [`Prejudged::Open`], which is applied).
fn prejudged(id: DocId, verdict: Prejudged) -> Applied {
    match verdict {
        Prejudged::Later => Applied::Later,
        Prejudged::Refused(why) => {
            debug!(%id, "refused changes before applying them: {why}");
            Applied::Refused
        }
        Prejudged::Open => Applied::Done,
    }
}

fn hopeless_ops(
    membership: &Membership,
    space: SpaceId,
    held: &HashSet<OpHash>,
    ops: &[Vec<u8>],
) -> HashSet<usize> {
    /// More hopeless ops than this in one message is a flood.
    const FLOOD: usize = 64;
    let sent: HashSet<OpHash> = ops
        .iter()
        .map(|b| {
            use sha2::Digest as _;
            OpHash(sha2::Sha256::digest(b).into())
        })
        .collect();
    let owner = |m: &MemberId| membership.role(m) == Some(tacit_core::Role::Owner);
    let out: HashSet<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, bytes)| {
            let Some(op) = SignedOp::peek(bytes) else {
                return true; // undecodable: from_bytes would refuse it too
            };
            op.space != space
                || match &op.body {
                    OpBody::Create { .. } => !held.is_empty(),
                    OpBody::Invite { .. } | OpBody::Withdraw { .. } | OpBody::SetRole { .. } => {
                        !owner(&op.author)
                    }
                    OpBody::Remove { member, .. } => *member != op.author && !owner(&op.author),
                    OpBody::Admit { join } => {
                        !membership.is_member(&op.author)
                            || !(held.contains(join) || sent.contains(join))
                    }
                    OpBody::Join { .. } => false,
                }
        })
        .map(|(i, _)| i)
        .collect();
    if out.len() > FLOOD {
        out
    } else {
        HashSet::new()
    }
}

fn digest(s: &Shared) -> [u8; 32] {
    let hashes: Vec<_> = s.ops.iter().map(SignedOp::hash).collect();
    set_digest(hashes.iter())
}
