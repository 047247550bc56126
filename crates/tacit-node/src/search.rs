//! The node's search: the index thread that keeps the tantivy index in step with the store,
//! and the queries the node handle runs on it.
//!
//! The actor tells the index thread about every committed change ([`Job`]): a note or question
//! read from the document it already holds, a removal, or (when the document is not at hand) an
//! id to load. The thread applies what arrives, waits up to [`SETTLE`] for more, and commits:
//! a change is searchable a few tens of milliseconds after it is on disk.
//!
//! At start the thread compares the index with the store (the heads hash of each document) and
//! indexes what is missing or stale, removes what is gone, and rebuilds everything when the
//! index had to be made anew. Search answers from what is indexed meanwhile.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tacit_core::{Doc, DocId, MemberId, SpaceId, markdown};
use tacit_search::{Entry, Opened, Scope, SearchIndex, Writer};
use tacit_store::Store;
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};

use crate::actor::{LinkSource, Names, heads_hash};
use crate::api::{Hit, LinkedDoc, Links, Response, SearchState};
use crate::error::NodeError;

/// How long the index thread waits for more changes before it commits.
const SETTLE: Duration = Duration::from_millis(20);
/// The longest a burst of changes waits for its commit.
const MAX_BATCH_WAIT: Duration = Duration::from_millis(250);
/// Documents indexed between commits while catching up, so that search sees progress.
const CATCH_UP_COMMIT: usize = 2_000;

/// What the index thread is asked to do.
pub(crate) enum Job {
    /// Index this document (replacing what the index held of it).
    Put(Box<Entry>),
    /// Load this document from the store and index it.
    Load(DocId, SpaceId),
    /// Drop this document (deleted).
    Remove(DocId),
    /// Drop every document of this space (the home left it).
    RemoveSpace(SpaceId),
    /// Commit what is pending, then reply.
    Flush(oneshot::Sender<()>),
}

struct Counters {
    /// Jobs sent and not yet committed (and documents still to catch up).
    pending: AtomicU64,
    rebuilding: AtomicBool,
    /// Set once the index has caught up with the store after the start.
    caught_up: watch::Sender<bool>,
    stop: AtomicBool,
}

/// How long a search waits for the index to catch up with the store after a start (a
/// rebuild of a large home takes seconds; meanwhile search answers from what is indexed).
const CATCH_UP_WAIT: Duration = Duration::from_secs(3);

/// The search side of a node.
pub(crate) struct Search {
    index: SearchIndex,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Search {
    /// Opens (or makes) the index in `dir` and starts its thread, which first catches up with
    /// the store at `db`.
    pub(crate) fn start(dir: &Path, db: &Path, member: MemberId) -> Result<Arc<Search>, String> {
        let (index, opened) = SearchIndex::open(dir).map_err(|e| e.to_string())?;
        // A node of this home that has just stopped in this process may still be letting go of
        // the writer's lock.
        let mut tries = 0;
        let writer = loop {
            match index.writer() {
                Ok(w) => break w,
                Err(_) if tries < 40 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        let counters = Arc::new(Counters {
            pending: AtomicU64::new(0),
            rebuilding: AtomicBool::new(false),
            caught_up: watch::channel(false).0,
            stop: AtomicBool::new(false),
        });
        if let Opened::Created { reason } = &opened {
            counters.rebuilding.store(true, Ordering::Relaxed);
            if let Some(reason) = reason {
                info!("rebuilding the search index: {reason}");
            }
        }
        let (tx, rx) = mpsc::channel();
        let thread = {
            let counters = counters.clone();
            let db = db.to_path_buf();
            std::thread::Builder::new()
                .name("tacit-index".into())
                .spawn(move || {
                    let mut t = Indexer {
                        writer,
                        counters,
                        db,
                        member,
                        store: None,
                        dirty: false,
                    };
                    t.catch_up();
                    t.run(&rx);
                })
                .map_err(|e| format!("cannot start the index thread: {e}"))?
        };
        Ok(Arc::new(Search {
            index,
            tx: Mutex::new(Some(tx)),
            counters,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Hands the index thread a job.
    pub(crate) fn send(&self, job: Job) {
        let tx = self.tx.lock().ok().and_then(|t| t.clone());
        if let Some(tx) = tx {
            self.counters.pending.fetch_add(1, Ordering::Relaxed);
            if tx.send(job).is_err() {
                self.counters.pending.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The index, for queries.
    pub(crate) fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// How far the index is.
    pub(crate) fn state(&self) -> SearchState {
        SearchState {
            docs: self.index.len(),
            pending: self.counters.pending.load(Ordering::Relaxed),
            rebuilding: self.counters.rebuilding.load(Ordering::Relaxed),
        }
    }

    /// Waits until every change sent so far is searchable. After a start it first waits for
    /// the index to catch up with the store: without end for a one-shot command (`patient`),
    /// which has nothing else to do, and for at most [`CATCH_UP_WAIT`] in the app or `tacit
    /// serve`, whose searches during a long rebuild answer from what is indexed so far.
    pub(crate) async fn settle(&self, patient: bool) {
        let mut caught_up = self.counters.caught_up.subscribe();
        if !*caught_up.borrow() {
            let wait = caught_up.wait_for(|c| *c);
            let done = if patient {
                wait.await.is_ok()
            } else {
                matches!(tokio::time::timeout(CATCH_UP_WAIT, wait).await, Ok(Ok(_)))
            };
            if !done {
                return;
            }
        }
        if self.counters.pending.load(Ordering::Relaxed) == 0 {
            return;
        }
        let (done, rx) = oneshot::channel();
        self.send(Job::Flush(done));
        let _ = rx.await;
    }

    /// Commits what was sent and stops the thread; a catch-up still running stops where it is
    /// (the next start goes on from there).
    pub(crate) fn stop(&self) {
        self.counters.stop.store(true, Ordering::Relaxed);
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// The index thread's state.
struct Indexer {
    writer: Writer,
    counters: Arc<Counters>,
    db: PathBuf,
    member: MemberId,
    store: Option<Store>,
    /// Whether changes wait for a commit.
    dirty: bool,
}

impl Indexer {
    fn run(&mut self, rx: &mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let started = Instant::now();
            let mut applied = 0u64;
            let mut waiting = Vec::new();
            let mut job = Some(first);
            while let Some(j) = job.take() {
                applied += 1;
                match j {
                    Job::Flush(done) => {
                        waiting.push(done);
                        break; // commit now
                    }
                    other => self.apply(other),
                }
                let left = MAX_BATCH_WAIT.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                job = rx.recv_timeout(SETTLE.min(left)).ok();
            }
            self.commit();
            self.counters.pending.fetch_sub(applied, Ordering::Relaxed);
            for w in waiting {
                let _ = w.send(());
            }
        }
        self.commit();
        debug!("index thread stopped");
    }

    fn apply(&mut self, job: Job) {
        self.dirty = true;
        let result = match job {
            Job::Put(entry) => self.writer.put(&entry),
            Job::Load(id, space) => self.load_and_put(id, space),
            Job::Remove(id) => {
                self.writer.remove(id);
                Ok(())
            }
            Job::RemoveSpace(space) => {
                self.writer.remove_space(space);
                Ok(())
            }
            Job::Flush(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!("the search index missed a change: {e}");
        }
    }

    fn commit(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        if let Err(e) = self.writer.commit() {
            warn!(
                "the search index could not commit (the store keeps everything; the index catches up at the next start): {e}"
            );
        }
    }

    fn store(&mut self) -> Option<&Store> {
        if self.store.is_none() {
            match Store::open_reader(&self.db) {
                Ok(s) => self.store = Some(s),
                Err(e) => warn!("the search index cannot read the store: {e}"),
            }
        }
        self.store.as_ref()
    }

    fn load_and_put(&mut self, id: DocId, space: SpaceId) -> Result<(), tacit_search::SearchError> {
        let member = self.member;
        let Some(store) = self.store() else {
            return Ok(());
        };
        match load_entry(store, id, space, member) {
            Some(Some(entry)) => self.writer.put(&entry),
            Some(None) => {
                self.writer.remove(id);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Brings the index in step with the store.
    fn catch_up(&mut self) {
        let started = Instant::now();
        let held = match self.writer.index().held() {
            Ok(h) => h,
            Err(e) => {
                warn!("the search index cannot list what it holds: {e}");
                Default::default()
            }
        };
        let Some(store) = self.store() else {
            self.counters.caught_up.send_replace(true);
            return;
        };
        let rows = match store.index_rows() {
            Ok(r) => r,
            Err(e) => {
                warn!("the search index cannot list the store's documents: {e}");
                self.counters.caught_up.send_replace(true);
                return;
            }
        };
        let mut live = std::collections::HashSet::with_capacity(rows.len());
        let mut stale = Vec::new();
        for row in &rows {
            if row.deleted {
                continue;
            }
            live.insert(row.id);
            let current = match (held.get(&row.id), row.heads) {
                (Some(&have), Some(want)) => have == u64::from_be_bytes(want),
                (Some(_), None) => true, // written before heads were kept: trust the index
                (None, _) => false,
            };
            if !current {
                stale.push((row.id, row.space));
            }
        }
        let gone: Vec<DocId> = held
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        for id in &gone {
            self.writer.remove(*id);
            self.dirty = true;
        }
        if stale.len() > 100 {
            self.counters.rebuilding.store(true, Ordering::Relaxed);
        }
        let total = stale.len();
        self.counters
            .pending
            .fetch_add(total as u64, Ordering::Relaxed);
        let done = self.index_all(stale);
        self.commit();
        self.counters
            .pending
            .fetch_sub(total as u64, Ordering::Relaxed);
        self.counters.rebuilding.store(false, Ordering::Relaxed);
        self.counters.caught_up.send_replace(true);
        if done > 0 || !gone.is_empty() {
            info!(
                indexed = done,
                removed = gone.len(),
                ms = started.elapsed().as_millis() as u64,
                "the search index caught up with the store"
            );
        }
    }

    /// Loads and indexes documents on two threads (loading an Automerge document is the slow
    /// part), committing every [`CATCH_UP_COMMIT`]. Stops early when the node stops.
    fn index_all(&mut self, docs: Vec<(DocId, SpaceId)>) -> usize {
        if docs.is_empty() {
            return 0;
        }
        let member = self.member;
        let db = self.db.clone();
        let counters = self.counters.clone();
        let stop = &counters.stop;
        let (tx, rx) = mpsc::sync_channel::<Option<Entry>>(256);
        let mut done = 0;
        std::thread::scope(|s| {
            let half = docs.len().div_ceil(2);
            for part in docs.chunks(half) {
                let tx = tx.clone();
                let db = &db;
                s.spawn(move || {
                    let Ok(store) = Store::open_reader(db) else {
                        return;
                    };
                    for &(id, space) in part {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if let Some(entry) = load_entry(&store, id, space, member)
                            && tx.send(entry).is_err()
                        {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            for entry in rx {
                if let Some(entry) = entry
                    && let Err(e) = self.writer.put(&entry)
                {
                    warn!("the search index missed a document: {e}");
                }
                self.dirty = true;
                done += 1;
                self.counters.pending.fetch_sub(1, Ordering::Relaxed);
                if done % CATCH_UP_COMMIT == 0 {
                    self.commit();
                }
            }
        });
        // The pending count was lowered one by one; the caller lowers it by the total.
        self.counters
            .pending
            .fetch_add(done as u64, Ordering::Relaxed);
        done
    }
}

/// A document's entry, read from the store: `Some(None)` when it should not be indexed
/// (deleted), `None` when it cannot be read (logged; the store keeps it).
fn load_entry(store: &Store, id: DocId, space: SpaceId, member: MemberId) -> Option<Option<Entry>> {
    let chunks = match store.load_chunks(id) {
        Ok(c) => c,
        Err(e) => {
            debug!(%id, "the search index cannot read a document: {e}");
            return None;
        }
    };
    if chunks.is_empty() {
        return Some(None);
    }
    let mut doc = match Doc::load(id, chunks.iter().map(Vec::as_slice), member) {
        Ok(d) => d,
        Err(e) => {
            debug!(%id, "the search index cannot load a document: {e}");
            return None;
        }
    };
    let heads = heads_hash(&mut doc);
    match Entry::from_doc(&mut doc, space, heads) {
        Ok(e) => Some(e),
        Err(e) => {
            debug!(%id, "the search index cannot read a document: {e}");
            None
        }
    }
}

// ---- queries --------------------------------------------------------------------------------

/// Hits when a search gives no limit.
const DEFAULT_LIMIT: u32 = 20;
/// The most hits one search returns.
const MAX_LIMIT: u32 = 1_000;

/// Runs a search: filters resolved by name, the query on a blocking thread, hits named.
pub(crate) async fn search(
    search: Arc<Search>,
    patient: bool,
    names: Arc<Names>,
    query: &str,
    space: Option<&str>,
    limit: Option<u32>,
) -> Result<Response, NodeError> {
    let parsed = tacit_search::parse(query);
    let mut scope = Scope::default();
    if let Some(s) = space {
        scope.spaces = Some(vec![names.space(s)?]);
    }
    if !parsed.spaces.is_empty() {
        let named: Vec<SpaceId> = parsed
            .spaces
            .iter()
            .flat_map(|n| names.spaces_like(n))
            .collect();
        scope.spaces = Some(match scope.spaces {
            Some(only) => only.into_iter().filter(|s| named.contains(s)).collect(),
            None => named,
        });
    }
    if !parsed.authors.is_empty() {
        scope.authors = Some(
            parsed
                .authors
                .iter()
                .flat_map(|n| names.members_like(n))
                .collect(),
        );
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
    search.settle(patient).await;
    let found = blocking(move || search.index().search(&parsed, &scope, limit))
        .await?
        .map_err(|e| NodeError::Internal(format!("search failed: {e}")))?;
    let items = found
        .hits
        .into_iter()
        .map(|h| Hit {
            id: h.id,
            kind: h.kind,
            title: h.title.text,
            title_marks: h.title.marks,
            space: h.space,
            space_name: names.space_name(h.space),
            snippet: h.snippet.text,
            snippet_marks: h.snippet.marks,
            tags: h.tags,
            author: h.author,
            updated_at: h.updated_at,
            score: h.score,
        })
        .collect();
    Ok(Response::Hits {
        items,
        total: found.total,
    })
}

/// Runs a search (about a millisecond of work) where it blocks no other task: on this
/// thread, handed over to the runtime's other workers, when the runtime has several; on the
/// blocking pool otherwise.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NodeError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        return Ok(tokio::task::block_in_place(f));
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NodeError::Internal(format!("a search panicked: {e}")))
}

/// A note's (or question's) links both ways: outgoing resolved by title or alias in its space,
/// backlinks from the index.
pub(crate) async fn links(
    search: Arc<Search>,
    patient: bool,
    source: LinkSource,
) -> Result<Response, NodeError> {
    search.settle(patient).await;
    tokio::task::spawn_blocking(move || {
        let ix = search.index();
        let mut outgoing: Vec<LinkedDoc> = Vec::new();
        let mut unresolved = Vec::new();
        for target in &source.links {
            let key = markdown::link_key(target);
            let found = ix.named(source.space, std::slice::from_ref(&key))?;
            // The most recently changed note of that name, if several share it.
            match found.into_iter().find(|f| f.id != source.id) {
                Some(f) => {
                    if !outgoing.iter().any(|o| o.id == f.id) {
                        outgoing.push(linked(f));
                    }
                }
                None if key == markdown::link_key(&source.title) => {}
                None => unresolved.push(target.clone()),
            }
        }
        let mut keys = vec![markdown::link_key(&source.title)];
        keys.extend(source.aliases.iter().map(|a| markdown::link_key(a)));
        let backlinks = ix
            .linking_to(source.space, &keys)?
            .into_iter()
            .filter(|f| f.id != source.id)
            .map(linked)
            .collect();
        Ok::<_, tacit_search::SearchError>(Response::Links(Links {
            id: source.id,
            outgoing,
            unresolved,
            backlinks,
        }))
    })
    .await
    .map_err(|e| NodeError::Internal(format!("a link lookup panicked: {e}")))?
    .map_err(|e| NodeError::Internal(format!("link lookup failed: {e}")))
}

fn linked(f: tacit_search::Found) -> LinkedDoc {
    LinkedDoc {
        id: f.id,
        kind: f.kind,
        title: f.title,
        space: f.space,
    }
}

impl Names {
    /// The space a request names: id, unique id prefix or name.
    fn space(&self, name: &str) -> Result<SpaceId, NodeError> {
        let lower = name.trim().to_lowercase();
        let matches: Vec<SpaceId> = self
            .spaces
            .iter()
            .filter(|(id, n)| {
                n.to_lowercase() == lower
                    || (lower.len() >= 4 && id.to_string().starts_with(&lower))
            })
            .map(|(id, _)| *id)
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(NodeError::NotFound(format!("no space is called {name:?}"))),
            _ => Err(NodeError::Invalid(format!(
                "{name:?} names several spaces: give more of the id"
            ))),
        }
    }

    /// Spaces a `space:` filter names: an exact name, or names starting with it, or an id prefix.
    fn spaces_like(&self, name: &str) -> Vec<SpaceId> {
        let lower = name.trim().to_lowercase();
        let exact: Vec<SpaceId> = self
            .spaces
            .iter()
            .filter(|(_, n)| n.to_lowercase() == lower)
            .map(|(id, _)| *id)
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        self.spaces
            .iter()
            .filter(|(id, n)| {
                n.to_lowercase().starts_with(&lower)
                    || (lower.len() >= 4 && id.to_string().starts_with(&lower))
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Members an `author:` filter names: `me`, a word of their name (or its start), or an id
    /// prefix.
    fn members_like(&self, name: &str) -> Vec<MemberId> {
        let lower = name.trim().to_lowercase();
        if lower == "me" || lower == "myself" {
            return vec![self.me];
        }
        let mut out: Vec<MemberId> = self
            .members
            .iter()
            .filter(|(id, n)| {
                let n = n.to_lowercase();
                n == lower
                    || n.starts_with(&lower)
                    || n.split_whitespace().any(|w| w.starts_with(&lower))
                    || (lower.len() >= 4 && id.to_string().starts_with(&lower))
            })
            .map(|(id, _)| *id)
            .collect();
        if lower.len() >= 4 && self.me.to_string().starts_with(&lower) && !out.contains(&self.me) {
            out.push(self.me);
        }
        out
    }

    fn space_name(&self, id: SpaceId) -> String {
        self.spaces
            .iter()
            .find(|(s, _)| *s == id)
            .map_or_else(|| id.short(), |(_, n)| n.clone())
    }
}
