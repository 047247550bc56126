//! The actor: one thread owns the home, the store and the cache of loaded documents, and serves
//! requests in order.
//!
//! Writes are group-committed: the actor takes every request already queued (up to
//! [`MAX_BATCH`]), applies each to its document in memory, then writes all their changes to SQLite
//! in one transaction, and only then replies. A reply of success therefore always means "on disk"
//! (WAL, `synchronous=FULL`), while many concurrent writers share one fsync. A request that only
//! reads first flushes what is pending, so every request sees the ones before it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use lru::LruCache;
use tacit_core::{
    ChangeSig, DeviceKey, Doc, DocId, Edit, Kind, MemberId, NewChange, OpHash, ProfileEdit,
    ProfileView, SpaceId, Summary,
};
use tacit_net::recon::ItemSet;
use tacit_store::{Chunk, DocWrite, Home, ListFilter, Listed, Store, Writer};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, warn};

use crate::api::{Event, Identity, InitReport, ListItem, Request, Response, Status};
use crate::base::{LinkSource, Msg, Names, NodeInfo, blob_refs_of, now_ms, writers_of};
use crate::error::{NodeError, WireError};
use crate::membership::Shared;
use crate::replica::{ReplicaReply, Replicated, SessionId};
use crate::search::{Job, Search};
use tacit_search::Entry;

mod attach;
mod history;
mod people;
mod replica;
mod spaces;
mod states;
mod vault;

/// Most requests group-committed in one transaction: enough to share one fsync among many
/// concurrent writers, few enough that the first of them is not kept waiting long.
pub(crate) const MAX_BATCH: usize = 128;

/// Loaded documents kept in memory. A loaded note costs about 20× its text (~50 KB for a 2.5 KB
/// note), so 256 of them stay near 13 MB while covering any working set a person edits.
const DOC_CACHE: NonZeroUsize = NonZeroUsize::new(256).expect("non-zero");
/// Damaged documents whose repair is remembered ([`Actor::ask_repair`]).
const REPAIRS: NonZeroUsize = NonZeroUsize::new(256).expect("non-zero");
/// How often the repair of one damaged document is asked of the members at most.
const REPAIR_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Store key marking that every document's contributions are recorded.
pub(crate) const META_CONTRIBUTIONS: &str = "contributions";

/// Peers not (yet) members whose addresses are kept in memory: the joins in progress at once.
const SEEN_STRANGERS: NonZeroUsize = NonZeroUsize::new(64).expect("non-zero");

/// Where a reply goes: a user's request or a sync session's.
enum ReplyTo {
    Request(oneshot::Sender<Result<Response, NodeError>>),
    Replica(oneshot::Sender<Result<ReplicaReply, NodeError>>),
}

/// A reply, with what must reach the disk before it is sent (and be announced, and pushed to
/// peers, after): what every request of a user or a session leads to.
pub(crate) struct Effects<A> {
    pub(crate) answer: A,
    pub(crate) writes: Vec<DocWrite>,
    pub(crate) events: Vec<Event>,
    pub(crate) pushes: Vec<Replicated>,
}

impl<A> Effects<A> {
    /// A reply that changes nothing.
    pub(crate) fn read(answer: A) -> Self {
        Self {
            answer,
            writes: Vec::new(),
            events: Vec::new(),
            pushes: Vec::new(),
        }
    }

    /// Takes on what `other` writes, announces and pushes (its answer is dropped).
    pub(crate) fn absorb<B>(&mut self, other: Effects<B>) {
        self.writes.extend(other.writes);
        self.events.extend(other.events);
        self.pushes.extend(other.pushes);
    }

    /// The same effects with the answer made into another.
    pub(crate) fn map<B>(self, f: impl FnOnce(A) -> B) -> Effects<B> {
        Effects {
            answer: f(self.answer),
            writes: self.writes,
            events: self.events,
            pushes: self.pushes,
        }
    }
}

/// What a user's request did.
type Outcome = Effects<Response>;

/// A write whose reply waits for the batch's commit.
struct Pending {
    reply: ReplyTo,
    effects: Effects<Answer>,
}

/// A reply of either kind.
pub(crate) enum Answer {
    Response(Response),
    Replica(ReplicaReply),
}

impl ReplyTo {
    fn send(self, answer: Result<Answer, NodeError>) {
        match (self, answer) {
            (ReplyTo::Request(tx), Ok(Answer::Response(r))) => {
                let _ = tx.send(Ok(r));
            }
            (ReplyTo::Replica(tx), Ok(Answer::Replica(r))) => {
                let _ = tx.send(Ok(r));
            }
            (ReplyTo::Request(tx), Err(e)) => {
                let _ = tx.send(Err(e));
            }
            (ReplyTo::Replica(tx), Err(e)) => {
                let _ = tx.send(Err(e));
            }
            (ReplyTo::Request(tx), Ok(Answer::Replica(_))) => {
                let _ = tx.send(Err(NodeError::Internal("a reply of the wrong kind".into())));
            }
            (ReplyTo::Replica(tx), Ok(Answer::Response(_))) => {
                let _ = tx.send(Err(NodeError::Internal("a reply of the wrong kind".into())));
            }
        }
    }
}

pub(crate) struct Actor {
    #[allow(dead_code)] // held for its lock
    home: Home,
    store: Store,
    info: Arc<NodeInfo>,
    key: DeviceKey,
    cache: LruCache<DocId, Doc>,
    events: broadcast::Sender<Event>,
    /// Local changes and membership changes, for the sync sessions.
    replica: broadcast::Sender<Replicated>,
    /// The shared spaces this home belongs to, with their membership.
    spaces: BTreeMap<SpaceId, Shared>,
    /// (document, heads hash) of each shared space whose sessions reconcile, built when first
    /// asked for and kept current by every write.
    items: HashMap<SpaceId, ItemSet>,
    /// Automerge sync states, per session and document, bounded per session.
    sync_states: states::SyncStates,
    pending: Vec<Pending>,
    /// Documents with changes in `pending`: they must not be reloaded from the store before
    /// the flush.
    pending_docs: HashSet<DocId>,
    /// Whether `pending` creates a document, which prefix resolution must then see.
    pending_created: bool,
    /// The search index's side, when it could be opened.
    search: Option<Arc<Search>>,
    /// Index entries of documents received whole (read off the actor's thread), by id, for
    /// the index once their write is committed.
    pending_entries: HashMap<DocId, Entry>,
    /// Where peers that are not members yet were seen (a joiner, the inviter before the join
    /// completes): kept here, bounded, and booked once they are members.
    seen_strangers: LruCache<String, Vec<String>>,
    /// Documents whose stored copy did not load, with when their repair was last asked of the
    /// members ([`Replicated::Repair`]).
    repairs: LruCache<DocId, std::time::Instant>,
    /// What the people pages, `who`, routing and the inbox are computed from, kept until it
    /// changes.
    people: crate::people::PeopleCache,
    /// Documents whose contributions are still to be recorded (a home made before they were):
    /// done a batch at a time while the node is idle.
    contributions_todo: Vec<DocId>,
    /// When the files no note refers to were last trimmed, ms (`trim_unreferenced_blobs`).
    blobs_trimmed_at: Option<i64>,
}

/// Meta key set once the documents that older versions let sit at members' profile ids have
/// been looked for ([`Actor::evict_profile_squatters`]); since then they are refused on receipt
/// or removed when their member is admitted.
const SQUATTERS_SWEPT: &str = "profile_squatters_swept";

impl Actor {
    pub(crate) fn new(
        home: Home,
        store: Store,
        info: Arc<NodeInfo>,
        key: DeviceKey,
        events: broadcast::Sender<Event>,
        replica: broadcast::Sender<Replicated>,
        search: Option<Arc<Search>>,
    ) -> Self {
        let mut store = store;
        // A deletion's days in the trash count from its arrival by this node's clock.
        store.set_clock(now_ms);
        let spaces = crate::membership::load_all(&store);
        crate::membership::publish_members(&info, &spaces);
        // A home made before contributions were kept records them, a batch at a time.
        let contributions_todo = match store.meta(META_CONTRIBUTIONS) {
            Ok(Some(_)) => Vec::new(),
            _ => store.all_doc_ids().unwrap_or_default(),
        };
        Self {
            home,
            store,
            info,
            key,
            cache: LruCache::new(DOC_CACHE),
            events,
            replica,
            spaces,
            items: HashMap::new(),
            sync_states: states::SyncStates::default(),
            pending: Vec::new(),
            pending_docs: HashSet::new(),
            pending_created: false,
            search,
            pending_entries: HashMap::new(),
            seen_strangers: LruCache::new(SEEN_STRANGERS),
            repairs: LruCache::new(REPAIRS),
            people: crate::people::PeopleCache::default(),
            contributions_todo,
            blobs_trimmed_at: None,
        }
    }

    /// Serves messages until shutdown or until every handle is dropped.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        // Held from before the check that refuses them: looked for once per home.
        if self.store.meta(SQUATTERS_SWEPT).ok().flatten().is_none() {
            self.evict_profile_squatters(None);
            if let Err(e) = self.store.set_meta(SQUATTERS_SWEPT, "1") {
                warn!("cannot record the sweep for notes at members' profile ids: {e}");
            }
        }
        let mut stop: Option<oneshot::Sender<()>> = None;
        while stop.is_none() {
            // Work left from an older home, done while nothing waits.
            if !self.contributions_todo.is_empty() && rx.is_empty() {
                self.record_some_contributions();
                continue;
            }
            let Some(first) = rx.blocking_recv() else {
                break;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(msg) => batch.push(msg),
                    Err(_) => break,
                }
            }
            for msg in batch {
                if let Some(done) = self.take(msg) {
                    stop = Some(done);
                }
            }
            self.end_batch();
        }
        self.close();
        if let Some(done) = stop {
            let _ = done.send(());
        }
    }

    /// Takes one message; a shutdown gives back whom to tell once stopped.
    fn take(&mut self, msg: Msg) -> Option<oneshot::Sender<()>> {
        match msg {
            Msg::Request(req, reply) => self.handle(req, reply),
            Msg::Replica(req, reply) => self.handle_replica(req, reply),
            Msg::Shutdown(done) => return Some(done),
            Msg::Names(reply) => {
                let _ = reply.send(self.names());
            }
            Msg::LinkSource(prefix, reply) => {
                self.flush();
                let _ = reply.send(self.link_source(&prefix));
            }
            Msg::Attach(req, reply) => self.handle_attach(req, reply),
            Msg::Blob(msg) => self.handle_blob(msg),
        }
        None
    }

    /// Commits what a batch of messages wrote, and replies.
    fn end_batch(&mut self) {
        self.flush();
        // Entries of writes that failed or never came (a request that failed midway).
        self.pending_entries.clear();
    }

    /// Takes one message as a batch of its own (the simulation's step: it drives the actor on
    /// its own thread, one message at a time).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn process(&mut self, msg: Msg) {
        let _ = self.take(msg);
        self.end_batch();
    }

    /// Records the contributions of a batch of documents a home made before they were kept.
    fn record_some_contributions(&mut self) {
        /// Documents per batch: a few milliseconds of work, so a request waits no longer.
        const BATCH: usize = 32;
        let at = self.contributions_todo.len().saturating_sub(BATCH);
        let batch: Vec<DocId> = self.contributions_todo.split_off(at);
        let mut rows = Vec::with_capacity(batch.len());
        for id in batch {
            let chunks = match self.store.load_chunks(id) {
                Ok(c) => c,
                Err(e) => {
                    warn!(%id, "cannot read a document to record its contributions: {e}");
                    continue;
                }
            };
            let Ok(mut doc) = Doc::load(id, chunks.iter().map(Vec::as_slice), self.info.member)
            else {
                continue;
            };
            if let Ok(c) = doc.contributions() {
                rows.push((id, c));
            }
        }
        if let Err(e) = self.store.set_contributions(&rows) {
            warn!("cannot record contributions: {e}");
            self.contributions_todo.clear();
            return;
        }
        self.people.invalidate(None);
        if self.contributions_todo.is_empty() {
            if let Err(e) = self.store.set_meta(META_CONTRIBUTIONS, "1") {
                warn!("cannot record that contributions are complete: {e}");
            }
            debug!("recorded the contributions of every document");
        }
    }

    fn close(&mut self) {
        self.flush();
        if let Err(e) = self.store.checkpoint() {
            warn!("checkpoint at shutdown failed: {e}");
        }
        debug!("node stopped");
    }

    fn handle(&mut self, req: Request, reply: oneshot::Sender<Result<Response, NodeError>>) {
        if crate::base::route(&req) != crate::base::Route::Write {
            self.flush();
        }
        // A panic inside Automerge on a hostile or damaged document fails this request, not
        // the node. The cache may hold a half-changed document: drop it all (documents with
        // pending writes are flushed before they are loaded again).
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.execute(req)))
            .unwrap_or_else(|_| {
                self.cache.clear();
                Err(NodeError::Internal(
                    "the request failed on a damaged document (details in the log); nothing of it was saved".into(),
                ))
            });
        let result = result.map(|out| out.map(Answer::Response));
        self.settle(ReplyTo::Request(reply), result);
    }

    /// Replies now, or queues the reply behind the group commit when the outcome writes (or
    /// when writes are already pending, which the reply may depend on).
    fn settle(&mut self, reply: ReplyTo, result: Result<Effects<Answer>, NodeError>) {
        match result {
            // Nothing to write and nothing pending before it: the reply cannot depend on a
            // commit that might still fail.
            Ok(fx) if fx.writes.is_empty() && self.pending.is_empty() => {
                for e in fx.events {
                    self.announce(e);
                }
                for p in fx.pushes {
                    let _ = self.replica.send(p);
                }
                reply.send(Ok(fx.answer));
            }
            Ok(fx) => {
                self.pending_created |= fx
                    .writes
                    .iter()
                    .any(|w| matches!(w.chunk, Chunk::Snapshot(_)));
                self.pending_docs.extend(fx.writes.iter().map(|w| w.id));
                self.pending.push(Pending { reply, effects: fx });
            }
            Err(e) => reply.send(Err(e)),
        }
    }

    /// Commits every pending write in one transaction, then replies to their requests.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        self.pending_docs.clear();
        self.pending_created = false;
        let writes: Vec<DocWrite> = pending
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.effects.writes))
            .collect();
        match self.store.write(&writes) {
            Ok(to_compact) => {
                self.index(&writes);
                for w in &writes {
                    if w.summary.kind == Kind::Profile {
                        self.people.invalidate(None);
                    } else if w.contributions.is_some() {
                        self.people.invalidate(Some(w.space));
                    }
                    let Some(heads) = w.heads else { continue };
                    // A profile is an item of every space its member is in.
                    let spaces = if w.summary.kind == Kind::Profile {
                        self.spaces_of_profile(w.id)
                    } else {
                        vec![w.space]
                    };
                    for space in spaces {
                        if let Some(items) = self.items.get_mut(&space) {
                            items.insert(*w.id.as_bytes(), heads);
                        }
                    }
                }
                for p in pending {
                    for e in p.effects.events {
                        self.announce(e);
                    }
                    for push in p.effects.pushes {
                        let _ = self.replica.send(push);
                    }
                    p.reply.send(Ok(p.effects.answer));
                }
                let to_compact: Vec<(DocId, SpaceId)> = to_compact
                    .iter()
                    .filter_map(|id| writes.iter().find(|w| w.id == *id))
                    .map(|w| (w.id, w.space))
                    .collect();
                self.compact(&to_compact);
            }
            Err(e) => {
                warn!("write of {} changes failed: {e}", writes.len());
                let err = NodeError::from(e);
                let wire = WireError {
                    kind: err.kind(),
                    message: format!("{err}; nothing was saved"),
                };
                for w in &writes {
                    self.cache.pop(&w.id);
                    self.pending_entries.remove(&w.id);
                }
                for p in pending {
                    p.reply.send(Err(NodeError::Write(wire.clone())));
                }
            }
        }
    }

    /// Sends an event to subscribers; one that changes a space or a profile also makes the
    /// names searches resolve filters with stale.
    pub(crate) fn announce(&self, e: Event) {
        if matches!(
            e,
            Event::SpacesChanged { .. }
                | Event::DocumentChanged {
                    kind: Kind::Profile,
                    ..
                }
        ) {
            self.info.names_changed.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self.events.send(e);
    }

    /// Tells the search index about committed writes: the latest state of each note and
    /// question written, read from the document at hand (or loaded by the index thread).
    fn index(&mut self, writes: &[DocWrite]) {
        let Some(search) = self.search.clone() else {
            self.pending_entries.clear();
            return;
        };
        let mut seen = HashSet::new();
        for w in writes.iter().rev() {
            if !seen.insert(w.id) || !matches!(w.summary.kind, Kind::Note | Kind::Question) {
                continue;
            }
            if w.summary.deleted {
                self.pending_entries.remove(&w.id);
                search.send(Job::Remove(w.id));
                continue;
            }
            if let Some(entry) = self.pending_entries.remove(&w.id) {
                search.send(Job::Put(Box::new(entry)));
                continue;
            }
            let entry = self.cache.get_mut(&w.id).map(|doc| {
                let heads = doc.heads_hash();
                Entry::from_doc(doc, w.space, heads)
            });
            match entry {
                Some(Ok(Some(entry))) => search.send(Job::Put(Box::new(entry))),
                Some(Ok(None)) => search.send(Job::Remove(w.id)),
                Some(Err(_)) | None => search.send(Job::Load(w.id, w.space)),
            }
        }
    }

    /// Names of every space and every member known.
    fn names(&mut self) -> Names {
        let spaces = self
            .space_infos()
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let mut members: Vec<(MemberId, String)> = Vec::new();
        if let Ok(me) = self.identity()
            && !me.profile.name.is_empty()
        {
            members.push((me.member, me.profile.name));
        }
        let listed: Vec<(MemberId, String)> = self
            .spaces
            .values()
            .flat_map(|s| {
                s.membership
                    .members()
                    .iter()
                    .map(|(id, m)| (*id, m.name.clone()))
            })
            .collect();
        for (id, joined_as) in listed {
            if members.iter().any(|(x, _)| *x == id) {
                continue;
            }
            // The name in the member's own profile, else the one given when joining.
            let name = self
                .profile_of(id)
                .map(|p| p.name)
                .filter(|n| !n.is_empty())
                .unwrap_or(joined_as);
            if !name.is_empty() {
                members.push((id, name));
            }
        }
        Names {
            me: self.info.member,
            spaces,
            members,
        }
    }

    /// A note or question's title, aliases and link targets.
    fn link_source(&mut self, prefix: &str) -> Result<LinkSource, NodeError> {
        let id = self.store.resolve(prefix)?;
        let listed = self
            .store
            .get(id)?
            .ok_or_else(|| tacit_store::StoreError::NoSuchDocument(prefix.to_owned()))?;
        if listed.summary.deleted {
            return Err(tacit_core::CoreError::Deleted(id.to_string()).into());
        }
        let doc = self.doc(id)?;
        let (title, aliases, bodies) = match listed.summary.kind {
            Kind::Note => {
                let n = doc.note()?;
                (n.title, n.aliases, vec![n.body])
            }
            Kind::Question => {
                let q = doc.question()?;
                let mut bodies = vec![q.body];
                bodies.extend(q.answers.into_iter().map(|a| a.body));
                (q.title, Vec::new(), bodies)
            }
            Kind::Profile => {
                return Err(tacit_core::CoreError::WrongKind {
                    id: id.to_string(),
                    actual: "profile",
                    expected: "note",
                }
                .into());
            }
        };
        let mut links: Vec<String> = Vec::new();
        for body in &bodies {
            for l in tacit_core::markdown::wiki_links(body) {
                if !l.target.is_empty() && !links.contains(&l.target) {
                    links.push(l.target);
                }
            }
        }
        Ok(LinkSource {
            id,
            space: listed.space,
            title,
            aliases,
            links,
        })
    }

    /// Replaces the chunks of each document by one snapshot. Failure loses nothing: the
    /// increments stay, and the next write tries again.
    fn compact(&mut self, docs: &[(DocId, SpaceId)]) {
        let mut writes = Vec::new();
        for &(id, space) in docs {
            let Some(doc) = self.cache.get_mut(&id) else {
                continue;
            };
            let snapshot = doc.save();
            let heads = doc.heads_hash();
            match doc.summary() {
                Ok(summary) => writes.push(DocWrite {
                    id,
                    space,
                    summary,
                    heads: Some(heads),
                    chunk: Chunk::Snapshot(snapshot),
                    sigs: Vec::new(),
                    writers: Vec::new(),
                    contributions: None,
                    blob_refs: None,
                }),
                Err(_) => {
                    self.cache.pop(&id);
                }
            }
        }
        if !writes.is_empty()
            && let Err(e) = self.store.write(&writes)
        {
            warn!("compaction failed (the increments are kept): {e}");
            for w in &writes {
                self.cache.pop(&w.id);
            }
        }
    }

    fn edit(&self) -> Edit<'static> {
        Edit::new(self.info.member, now_ms())
    }

    /// The membership heads a change in `space` is written under (none in the personal space).
    fn under(&self, space: SpaceId) -> Vec<OpHash> {
        self.spaces
            .get(&space)
            .map(|s| s.membership.heads())
            .unwrap_or_default()
    }

    /// The signatures of this member's changes among `changes` (of `doc`, a `kind` in `space`)
    /// and the writers `changes` show.
    fn authorship(
        &self,
        doc: DocId,
        kind: Kind,
        space: SpaceId,
        changes: &[NewChange],
    ) -> (Vec<ChangeSig>, Vec<Writer>) {
        let scope = tacit_core::scope_of(kind, space);
        let me = self.info.member;
        let sigs = changes
            .iter()
            .filter(|c| c.author == Some(me))
            .map(|c| ChangeSig::sign(&self.key, scope, doc, &c.hash))
            .collect();
        (sigs, writers_of(changes))
    }

    fn execute(&mut self, req: Request) -> Result<Outcome, NodeError> {
        match req {
            Request::Init { .. } => Ok(Outcome::read(Response::Init(InitReport {
                created: false,
                home: self.info.home.display().to_string(),
                member: self.info.member,
                personal_space: self.info.personal,
            }))),
            Request::Whoami => Ok(Outcome::read(Response::Identity(self.identity()?))),
            Request::ProfileSet { edit } => self.profile_set(edit),
            Request::NoteNew { draft, space } => {
                let space = self.space_ref(space.as_deref())?;
                self.check_write(space)?;
                let under = self.under(space);
                let edit = Edit {
                    under: &under,
                    ..self.edit()
                };
                let doc = Doc::new_note(DocId::random(), edit, draft)?;
                Ok(self.created(doc, space)?)
            }
            Request::Ask { draft, space } => {
                let space = self.space_ref(space.as_deref())?;
                self.check_write(space)?;
                let under = self.under(space);
                let edit = Edit {
                    under: &under,
                    ..self.edit()
                };
                let doc = Doc::new_question(DocId::random(), edit, draft)?;
                Ok(self.created(doc, space)?)
            }
            Request::NoteList { limit, space } => Ok(Outcome::read(self.list(&ListFilter {
                space: Some(self.space_ref(space.as_deref())?),
                kind: Some(Kind::Note),
                limit: limit.map(|n| n as usize),
                ..ListFilter::default()
            })?)),
            Request::Questions {
                unanswered,
                limit,
                space,
            } => {
                let space = self.space_ref(space.as_deref())?;
                Ok(Outcome::read(self.list(&ListFilter {
                    space: Some(space),
                    kind: Some(Kind::Question),
                    unanswered,
                    limit: limit.map(|n| n as usize),
                    ..ListFilter::default()
                })?))
            }
            Request::NoteShow { id } => {
                let listed = self.resolve(&id, Kind::Note)?;
                let view = self.doc(listed.id)?.note()?;
                Ok(Outcome::read(Response::Note(view)))
            }
            Request::QuestionShow { id } => {
                let listed = self.resolve(&id, Kind::Question)?;
                let view = self.doc(listed.id)?.question()?;
                Ok(Outcome::read(Response::Question(view)))
            }
            Request::NoteEdit { id, edit } => {
                let listed = self.resolve(&id, Kind::Note)?;
                self.change(&listed, |doc, e| doc.edit_text(e, edit))
            }
            Request::NoteRm { id } => {
                let listed = self.resolve(&id, Kind::Note)?;
                self.change(&listed, |doc, e| doc.delete(e).map(|()| true))
            }
            Request::NoteHistory { id } => self.note_history(&id),
            Request::NoteVersion { id, version } => self.note_version(&id, &version),
            Request::NoteRestore { id, version } => self.note_restore(&id, &version),
            Request::QuestionRm { id } => self.question_rm(&id),
            Request::Trash { space } => self.trash(space.as_deref()),
            Request::Restore { id } => self.restore(&id),
            Request::Answer { question, body } => {
                let listed = self.resolve(&question, Kind::Question)?;
                let mut answer = None;
                let mut out = self.change(&listed, |doc, e| {
                    answer = Some(doc.add_answer(e, &body)?);
                    Ok(true)
                })?;
                if let Some(id) = answer {
                    out.answer = Response::Answered {
                        question: listed.id,
                        id,
                    };
                }
                Ok(out)
            }
            Request::Accept { question, answer } => {
                let listed = self.resolve(&question, Kind::Question)?;
                self.change(&listed, |doc, e| {
                    let a = doc.resolve_answer(&answer)?;
                    doc.accept(e, a).map(|()| true)
                })
            }
            Request::Thank { question, answer } => {
                let listed = self.resolve(&question, Kind::Question)?;
                self.change(&listed, |doc, e| {
                    let a = doc.resolve_answer(&answer)?;
                    doc.thank(e, a)
                })
            }
            Request::Status => Ok(Outcome::read(Response::Status(self.status()?))),
            Request::SpaceNew { name } => self.space_new(&name),
            Request::SpaceList => Ok(Outcome::read(Response::Spaces {
                items: self.space_infos(),
            })),
            Request::SpaceShow { space } => {
                let space = self.space_ref(Some(&space))?;
                Ok(Outcome::read(Response::Space(self.space_detail(space)?)))
            }
            Request::SpaceInvite {
                space,
                role,
                expires_in,
                uses,
            } => self.space_invite(&space, role, expires_in, uses),
            Request::SpaceRemove { space, member } => self.space_remove(&space, &member),
            Request::SpaceLeave { space } => self.space_leave(&space),
            Request::SpaceRole {
                space,
                member,
                role,
            } => self.space_role(&space, &member, role),
            Request::SpaceInvites { space } => self.space_invites(&space),
            Request::SpaceSettings {
                space,
                stale_after_days,
            } => self.space_settings(&space, stale_after_days),
            Request::Who {
                topic,
                space,
                limit,
            } => self.who(&topic, space.as_deref(), limit),
            Request::People { space } => self.people_page(&space),
            Request::Person { member } => self.person(&member),
            Request::Inbox => self.inbox(),
            Request::QuestionRoutes { question } => self.question_routes(&question),
            Request::InboxSeen { keys } => self.inbox_seen(&keys),
            Request::Follow { tag } => self.follow(&tag, true),
            Request::Unfollow { tag } => self.follow(&tag, false),
            Request::Following => self.following(),
            Request::Record { member, space } => self.record(member.as_deref(), space.as_deref()),
            Request::RecordExport => self.record_export(),
            Request::RecordVerify { statement } => self.record_verify(&statement),
            Request::SpaceHealth { space } => self.space_health(&space),
            Request::SpaceDigest { space } => self.space_digest(&space),
            Request::Confirm { question, answer } => self.confirm(&question, &answer),
            Request::AnswerWithNote { question, note } => self.answer_with_note(&question, &note),
            Request::ShareAsNote {
                question,
                answer,
                space,
            } => self.share_as_note(&question, &answer, space.as_deref()),
            Request::SpaceRevokeInvite { space, invite } => {
                self.space_revoke_invite(&space, &invite)
            }
            Request::Import { space, notes } => self.import(space.as_deref(), notes),
            Request::Export {
                space,
                after,
                limit,
            } => Ok(Outcome::read(Response::Exported(self.export(
                space.as_deref(),
                after,
                limit,
            )?))),
            Request::Attachments { id } => Ok(Outcome::read(self.attachments(&id)?)),
            // Answered by the node handle (see `crate::base::route`) before they reach the actor.
            _ => Err(NodeError::Internal(
                "a request the node handle answers reached the actor".into(),
            )),
        }
    }

    /// A new document: its snapshot is written, signed, and it joins the cache.
    fn created(&mut self, doc: Doc, space: SpaceId) -> Result<Outcome, NodeError> {
        Ok(self.commit_created(Prepared::of(doc, space, None)?))
    }

    /// Stores a new document prepared off the actor: signs its changes (with this device's
    /// key, which stays here) and writes it.
    fn commit_created(&mut self, prepared: Prepared) -> Outcome {
        let Prepared {
            doc,
            mut write,
            data,
            changes,
            entry,
        } = prepared;
        let (id, space, kind) = (write.id, write.space, write.summary.kind);
        if let Some(entry) = entry {
            self.pending_entries.insert(id, entry);
        }
        let event = changed_event(id, space, &write.summary, false);
        (write.sigs, write.writers) = self.authorship(id, kind, space, &changes);
        let pushes = self.push(space, kind, id, &data, &write.sigs, None);
        write.chunk = Chunk::Snapshot(data);
        self.cache.put(id, doc);
        Outcome {
            answer: Response::Created { id },
            writes: vec![write],
            events: vec![event],
            pushes,
        }
    }

    /// What to tell the sync sessions about new bytes of a document: nothing for the personal
    /// space, which is never synced; a profile goes to every shared space its member shares with
    /// this home.
    fn push(
        &self,
        space: SpaceId,
        kind: Kind,
        id: DocId,
        data: &[u8],
        sigs: &[ChangeSig],
        origin: Option<SessionId>,
    ) -> Vec<Replicated> {
        let spaces: Vec<SpaceId> = if kind == Kind::Profile {
            self.spaces_of_profile(id)
        } else if self.spaces.contains_key(&space) {
            vec![space]
        } else {
            Vec::new()
        };
        if spaces.is_empty() {
            return Vec::new();
        }
        let (data, sigs) = (Arc::new(data.to_vec()), Arc::new(sigs.to_vec()));
        spaces
            .into_iter()
            .map(|space| Replicated::Change {
                space,
                id,
                data: data.clone(),
                sigs: sigs.clone(),
                origin,
            })
            .collect()
    }

    /// The shared spaces in which both this member and the member whose profile `id` is are
    /// members: where the profile travels.
    pub(crate) fn spaces_of_profile(&self, id: DocId) -> Vec<SpaceId> {
        let me = self.info.member;
        self.spaces
            .values()
            .filter(|s| s.membership.is_member(&me))
            .filter(|s| s.membership.member_with_profile(id).is_some())
            .map(|s| s.row.id)
            .collect()
    }

    /// Applies `f` to a stored document; writes its new changes, if any.
    fn change(
        &mut self,
        listed: &Listed,
        f: impl FnOnce(&mut Doc, Edit) -> Result<bool, tacit_core::CoreError>,
    ) -> Result<Outcome, NodeError> {
        let space = listed.space;
        self.check_write(space)?;
        let under = self.under(space);
        let edit = Edit {
            under: &under,
            ..self.edit()
        };
        let doc = self.doc(listed.id)?;
        let result = f(doc, edit).and_then(|changed| Ok((changed, doc.summary()?)));
        let (changed, summary) = match result {
            Ok(v) => v,
            Err(e) => {
                // Whatever the failed step left in memory must not outlive it.
                self.cache.pop(&listed.id);
                return Err(e.into());
            }
        };
        let mut out = Outcome::read(Response::Done {
            id: listed.id,
            changed,
            heads: doc.heads_hex(),
        });
        if let Some((bytes, changes)) = doc.take_unsaved_changes() {
            let heads = doc.heads_hash();
            let contributions = doc.contributions().ok();
            let blob_refs = blob_refs_of(doc, &summary, None);
            let (sigs, writers) = self.authorship(listed.id, summary.kind, space, &changes);
            out.events
                .push(changed_event(listed.id, space, &summary, false));
            out.pushes = self.push(space, summary.kind, listed.id, &bytes, &sigs, None);
            out.writes.push(DocWrite {
                id: listed.id,
                space,
                summary,
                heads: Some(heads),
                chunk: Chunk::Increment(bytes),
                sigs,
                writers,
                contributions,
                blob_refs,
            });
        }
        Ok(out)
    }

    /// A document from the cache, or loaded from the store.
    fn doc(&mut self, id: DocId) -> Result<&mut Doc, NodeError> {
        if !self.cache.contains(&id) {
            if self.pending_docs.contains(&id) {
                self.flush(); // its latest changes are not in the store yet
            }
            let chunks = self.store.load_chunks(id)?;
            let doc = match Doc::load(id, chunks.iter().map(Vec::as_slice), self.info.member) {
                Ok(doc) => doc,
                Err(e) => {
                    self.ask_repair(id);
                    return Err(NodeError::Damaged {
                        id,
                        source: Box::new(e),
                    });
                }
            };
            self.cache.put(id, doc);
        }
        self.cache
            .get_mut(&id)
            .ok_or_else(|| NodeError::Internal(format!("document {id} left the cache")))
    }

    /// Asks the members of a document's space for their whole copy, which replaces this node's
    /// (which does not load): at most every [`REPAIR_EVERY`] per document, so that reading it
    /// again and again does not ask each time. Nobody connected: asked again the next time the
    /// document is read after that.
    fn ask_repair(&mut self, id: DocId) {
        let now = std::time::Instant::now();
        if self
            .repairs
            .get(&id)
            .is_some_and(|at| now.duration_since(*at) < REPAIR_EVERY)
        {
            return;
        }
        let Ok(Some(listed)) = self.store.get(id) else {
            return;
        };
        self.repairs.put(id, now);
        warn!(%id, "this home's copy of the document does not load; asking its space's members for theirs");
        let _ = self.replica.send(Replicated::Repair {
            space: listed.space,
            id,
        });
    }

    /// The live document of `kind` named by `prefix`.
    fn resolve(&mut self, prefix: &str, kind: Kind) -> Result<Listed, NodeError> {
        if self.pending_created {
            self.flush(); // a document created in this batch must be found
        }
        let id = self.store.resolve(prefix)?;
        let listed = self
            .store
            .get(id)?
            .ok_or_else(|| tacit_store::StoreError::NoSuchDocument(prefix.to_owned()))?;
        if listed.summary.kind != kind {
            return Err(tacit_core::CoreError::WrongKind {
                id: id.to_string(),
                actual: listed.summary.kind.as_str(),
                expected: kind.as_str(),
            }
            .into());
        }
        if listed.summary.deleted {
            return Err(tacit_core::CoreError::Deleted(id.to_string()).into());
        }
        Ok(listed)
    }

    fn list(&self, filter: &ListFilter) -> Result<Response, NodeError> {
        let items = self
            .store
            .list(filter)?
            .into_iter()
            .map(|l| ListItem {
                id: l.id,
                kind: l.summary.kind,
                title: l.summary.title,
                tags: l.summary.tags,
                author: l.summary.author,
                space: l.space,
                created_at: l.summary.created_at,
                updated_at: l.summary.updated_at,
                answers: l.summary.answers,
                accepted: l.summary.accepted,
            })
            .collect();
        Ok(Response::List { items })
    }

    fn identity(&mut self) -> Result<Identity, NodeError> {
        let pid = Doc::profile_id(self.info.member);
        let profile = if self.store.get(pid)?.is_some() {
            self.doc(pid)?.profile()?
        } else {
            ProfileView::default()
        };
        Ok(Identity {
            member: self.info.member,
            personal_space: self.info.personal,
            profile,
        })
    }

    fn profile_set(&mut self, change: ProfileEdit) -> Result<Outcome, NodeError> {
        if self.pending_created {
            self.flush(); // the profile may be among the documents created in this batch
        }
        let pid = Doc::profile_id(self.info.member);
        let mut out = match self.store.get(pid)? {
            Some(listed) => self.change(&listed, |doc, e| doc.edit_profile(e, change))?,
            None => {
                let doc = Doc::new_profile(self.edit(), change)?;
                self.created(doc, self.info.personal)?
            }
        };
        // The reply is the profile as it will be once written.
        let profile = match self.doc(pid).and_then(|d| Ok(d.profile()?)) {
            Ok(p) => p,
            Err(e) => {
                self.cache.pop(&pid); // its change is dropped with `out`
                return Err(e);
            }
        };
        out.answer = Response::Identity(Identity {
            member: self.info.member,
            personal_space: self.info.personal,
            profile,
        });
        Ok(out)
    }

    fn status(&self) -> Result<Status, NodeError> {
        let count = |kind| {
            self.store.count(&ListFilter {
                kind: Some(kind),
                ..ListFilter::default()
            })
        };
        let db = self.store.path();
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Status {
            home: self.info.home.display().to_string(),
            member: self.info.member,
            pid: std::process::id(),
            serving: self.info.serving.load(Ordering::Relaxed),
            notes: count(Kind::Note)?,
            questions: count(Kind::Question)?,
            db_bytes: size(db) + size(std::path::Path::new(&wal)),
            peer_id: self.info.peer_id.clone(),
            listen_addrs: self.net_view().listen.clone(),
            peers: self.net_view().peers(),
            spaces: self.space_infos(),
            search: self.search.as_ref().map(|s| s.state()).unwrap_or_default(),
            network: self.net_view().network(),
        })
    }
}

fn changed_event(id: DocId, space: SpaceId, summary: &Summary, remote: bool) -> Event {
    Event::DocumentChanged {
        id,
        space,
        kind: summary.kind,
        deleted: summary.deleted,
        remote,
    }
}

/// A new document with everything its store row and the search index need that does not need
/// the actor: its listing, its bytes and changes, contributions, attachment references, heads
/// and search entry. Made on any thread (an import makes them on every core), then stored by
/// [`Actor::commit_created`], so that nothing loads the document again to index it.
pub(crate) struct Prepared {
    doc: Doc,
    /// Its store row, all but the bytes (in `data`) and what the actor's key makes (signatures
    /// and writers).
    write: DocWrite,
    data: Vec<u8>,
    changes: Vec<tacit_core::NewChange>,
    entry: Option<Entry>,
}

impl Prepared {
    /// `body`: the body `doc` was just made with, when the caller has it (an import's draft),
    /// so that the search entry need not read it back.
    pub(crate) fn of(
        mut doc: Doc,
        space: SpaceId,
        body: Option<String>,
    ) -> Result<Self, NodeError> {
        let (data, changes) = doc.save_with_changes();
        let heads = doc.heads_hash();
        let (summary, entry, contributions) = match body {
            // A note just made from `body` (an import's): its fields are read once, for its
            // listing, search entry and contributions alike.
            Some(body) if doc.kind()? == Kind::Note => {
                let view = doc.note_with_body(body)?;
                crate::replica::note_parts(&mut doc, view, &changes, space, heads)?
            }
            _ => crate::replica::doc_parts(&mut doc, &changes, space, heads)?,
        };
        let write = DocWrite {
            id: doc.id(),
            space,
            contributions,
            blob_refs: blob_refs_of(&doc, &summary, entry.as_ref()),
            summary,
            heads: Some(heads),
            chunk: Chunk::None,
            sigs: Vec::new(),
            writers: Vec::new(),
        };
        Ok(Self {
            doc,
            write,
            data,
            changes,
            entry,
        })
    }
}
