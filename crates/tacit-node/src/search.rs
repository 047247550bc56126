//! The node's search: the index thread that keeps the tantivy index in step with the store,
//! and the queries the node handle runs on it.
//!
//! The actor tells the index thread about every committed change ([`Job`]): a note or question
//! read from the document it already holds, a removal, or (when the document is not at hand) an
//! id to load. The thread applies what arrives, waits up to [`SETTLE`] for more, and commits:
//! a change is searchable a few tens of milliseconds after it is on disk. A bulk stream (a
//! first sync, an import: [`BULK_JOBS`]) commits every [`MAX_BULK_WAIT`] and merges segments
//! once it stops, so that the cores load and index meanwhile. The index writer (its
//! threads, and the memory arena it indexes in) exists only while there is something to write:
//! it is made for a batch and let go after [`WRITER_IDLE`] without changes.
//!
//! Catching up: the thread compares the index with the store (the heads hash of each document),
//! indexes what is missing or stale, removes what is gone, and rebuilds everything when the
//! index has to be made anew (none, damaged, or of another version). A node opened with
//! [`crate::OpenOptions::defer_background`] (the desktop app) does this only when told
//! ([`Search::begin`]: after the window's first paint) or when a search needs the index, so
//! that a launch after an upgrade paints as soon as any other; meanwhile jobs wait in the
//! channel. Catching up runs below normal priority, so that the window and the actor come first
//! on a machine with few cores. Search answers from what is indexed meanwhile.
//!
//! ```text
//! start ──▶ (deferred: wait for begin) ──▶ catch up ──▶ jobs: writer made ─▶ commit ─▶ … ─▶ idle: writer let go
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tacit_core::{Doc, DocId, MemberId, SpaceId, markdown};
use tacit_search::{Entry, Scope, SearchIndex, Writer};
use tacit_store::Store;
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};

use crate::api::{Hit, LinkedDoc, Links, Response, SearchState};
use crate::base::{LinkSource, Names};
use crate::error::NodeError;

/// How long the index thread waits for more changes before it commits.
const SETTLE: Duration = Duration::from_millis(20);
/// The longest a burst of changes waits for its commit.
const MAX_BATCH_WAIT: Duration = Duration::from_millis(250);
/// Batches that follow each other within [`BULK_GAP`] and gather this many changes are a bulk
/// stream (a first sync, an import, which hand over changes a frame or a batch at a time):
/// it commits every [`MAX_BULK_WAIT`], or when nothing came for [`BULK_GAP`], and its segments
/// are merged once it stops (the writer let go after [`WRITER_IDLE`]) rather than after each
/// commit. A first sync of 10,000 notes otherwise committed whenever 20 ms passed without a
/// change (its frames come further apart), and its merges took about a twentieth of both
/// cores. Search sees a bulk's progress at that pace, and its end [`BULK_GAP`] after its last
/// change.
const BULK_JOBS: u64 = 256;
/// See [`BULK_JOBS`].
const MAX_BULK_WAIT: Duration = Duration::from_secs(2);
/// See [`BULK_JOBS`]: longer than the pauses between a sync's frames.
const BULK_GAP: Duration = Duration::from_millis(250);
/// Documents indexed between commits while catching up, so that search sees progress.
const CATCH_UP_COMMIT: usize = 2_000;
/// How long the writer (and the store connection the thread reads documents with) is kept
/// after the last change: long enough to serve a burst of edits or a sync with one writer,
/// short enough that an idle window holds neither.
const WRITER_IDLE: Duration = Duration::from_secs(2);
/// Tries at making the writer while another holds its lock (a node of this home that has just
/// stopped in this process may still be letting go of it), [`WRITER_RETRY`] apart.
const WRITER_TRIES: u32 = 40;
/// See [`WRITER_TRIES`].
const WRITER_RETRY: Duration = Duration::from_millis(50);
/// After a write to the index failed (a full disk, say), the index thread compares it with the
/// store again this long after (doubling up to [`BEHIND_RETRY_MAX`] while it keeps failing),
/// and at once after the next commit that works: notes saved meanwhile become searchable
/// without a restart once the disk has room.
const BEHIND_RETRY: Duration = Duration::from_secs(5);
/// See [`BEHIND_RETRY`].
const BEHIND_RETRY_MAX: Duration = Duration::from_secs(120);
/// The nice value of the threads that catch up (Linux; 0 is normal, 19 the lowest): loading
/// thousands of documents after an upgrade yields the cores to the window and the actor.
#[cfg(target_os = "linux")]
const CATCH_UP_NICE: i32 = 10;
/// The nice value of the index thread once it has caught up, and so of the threads tantivy
/// starts from it (indexing, merging, compressing): below an import's workers and a sync's
/// loads, so that notes are stored and listed first and the index takes what the cores leave
/// instead of a core from them. Idle cores index at full speed; searches run on their callers'
/// threads, not here.
#[cfg(target_os = "linux")]
const INDEX_NICE: i32 = 19;

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
    /// Whether catching up may start (see [`Search::begin`]), with its condition variable.
    begun: Mutex<bool>,
    begin: Condvar,
}

/// How long a search waits for the index to catch up with the store after a start (a
/// rebuild of a large home takes seconds; meanwhile search answers from what is indexed).
const CATCH_UP_WAIT: Duration = Duration::from_secs(3);

/// The search side of a node.
pub(crate) struct Search {
    /// The index; none until the thread has made it anew (after an upgrade, a damaged index).
    index: Arc<RwLock<Option<SearchIndex>>>,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Search {
    /// Opens the index in `dir` (only its metadata: quick) and starts its thread, which catches
    /// up with the store at `db`: at once, or when [`Search::begin`] is called if `deferred`.
    pub(crate) fn start(
        dir: &Path,
        db: &Path,
        member: MemberId,
        deferred: bool,
    ) -> Result<Arc<Search>, String> {
        let (index, remake) = match SearchIndex::open_existing(dir) {
            Ok(ix) => (Some(ix), None),
            Err(reason) => (None, Some(reason)),
        };
        let counters = Arc::new(Counters {
            pending: AtomicU64::new(0),
            rebuilding: AtomicBool::new(remake.is_some()),
            caught_up: watch::channel(false).0,
            stop: AtomicBool::new(false),
            begun: Mutex::new(!deferred),
            begin: Condvar::new(),
        });
        if let Some(Some(reason)) = &remake {
            info!("the search index will be rebuilt: {reason}");
        }
        let index = Arc::new(RwLock::new(index));
        let (tx, rx) = mpsc::channel();
        let thread = {
            let counters = counters.clone();
            let index = index.clone();
            let dir = dir.to_path_buf();
            let db = db.to_path_buf();
            std::thread::Builder::new()
                .name("tacit-index".into())
                .spawn(move || {
                    let mut t = Indexer {
                        index,
                        dir,
                        writer: None,
                        counters,
                        db,
                        member,
                        store: None,
                        dirty: false,
                        behind: None,
                        failed: false,
                    };
                    if t.wait_for_begin() {
                        // On a thread of its own, so that its lowered priority ends with it.
                        std::thread::scope(|s| {
                            let catching_up = std::thread::Builder::new()
                                .name("tacit-catch-up".into())
                                .spawn_scoped(s, || {
                                    lower_priority();
                                    t.catch_up(remake);
                                });
                            match catching_up {
                                Ok(handle) => {
                                    if handle.join().is_err() {
                                        warn!("catching up the search index failed");
                                    }
                                }
                                Err(e) => warn!("cannot start catching up the search index: {e}"),
                            }
                        });
                        t.finish_catch_up();
                        // Lowered only now: a thread cannot raise its priority back, and
                        // catching up runs above it.
                        #[cfg(target_os = "linux")]
                        set_nice(INDEX_NICE);
                        t.run(&rx);
                    }
                    t.let_go(true);
                    debug!("index thread stopped");
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

    /// Lets the thread catch up with the store (and rebuild the index if it must), if it was
    /// deferred; does nothing after the first call.
    pub(crate) fn begin(&self) {
        if let Ok(mut begun) = self.counters.begun.lock()
            && !*begun
        {
            *begun = true;
            self.counters.begin.notify_all();
        }
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

    /// The index, for queries; none while it is being made anew.
    pub(crate) fn index(&self) -> Option<SearchIndex> {
        self.index.read().ok().and_then(|ix| ix.clone())
    }

    /// How far the index is.
    pub(crate) fn state(&self) -> SearchState {
        SearchState {
            docs: self.index().map_or(0, |ix| ix.len()),
            pending: self.counters.pending.load(Ordering::Relaxed),
            rebuilding: self.counters.rebuilding.load(Ordering::Relaxed),
        }
    }

    /// Waits until every change sent so far is searchable. After a start it first waits for
    /// the index to catch up with the store (starting that if it was deferred): without end
    /// for a one-shot command (`patient`), which has nothing else to do, and for at most
    /// [`CATCH_UP_WAIT`] in the app or `tacit serve`, whose searches during a long rebuild
    /// answer from what is indexed so far.
    pub(crate) async fn settle(&self, patient: bool) {
        self.begin();
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

    /// Commits what was sent and stops the thread; a catch-up still running (or not begun)
    /// stops where it is (the next start goes on from there).
    pub(crate) fn stop(&self) {
        self.counters.stop.store(true, Ordering::Relaxed);
        if let Ok(_begun) = self.counters.begun.lock() {
            self.counters.begin.notify_all();
        }
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Search {
    /// A node dropped without [`Search::stop`]: a thread still waiting to begin catching up
    /// ends (one at work ends when its channel closes, as the sender goes with this).
    fn drop(&mut self) {
        self.counters.stop.store(true, Ordering::Relaxed);
        if let Ok(_begun) = self.counters.begun.lock() {
            self.counters.begin.notify_all();
        }
    }
}

/// The index thread's state.
struct Indexer {
    /// The index, shared with [`Search`] (the thread sets it when it makes it anew).
    index: Arc<RwLock<Option<SearchIndex>>>,
    dir: PathBuf,
    /// The writer, while there is something to write (see [`WRITER_IDLE`]).
    writer: Option<Writer>,
    counters: Arc<Counters>,
    db: PathBuf,
    member: MemberId,
    /// A connection to read documents with, kept as long as the writer.
    store: Option<Store>,
    /// Whether changes wait for a commit.
    dirty: bool,
    /// Set when a write to the index failed, so that it misses changes the store has: how long
    /// to wait before comparing the two again (see [`BEHIND_RETRY`]).
    behind: Option<Duration>,
    /// Whether a write to the index failed since the last comparison with the store began.
    failed: bool,
}

impl Indexer {
    /// Waits until catching up may start; false when the node stops first.
    fn wait_for_begin(&self) -> bool {
        let Ok(mut begun) = self.counters.begun.lock() else {
            return false;
        };
        while !*begun && !self.counters.stop.load(Ordering::Relaxed) {
            begun = match self.counters.begin.wait(begun) {
                Ok(b) => b,
                Err(_) => return false,
            };
        }
        !self.counters.stop.load(Ordering::Relaxed)
    }

    fn run(&mut self, rx: &mpsc::Receiver<Job>) {
        // Changes applied by batches that followed each other within [`BULK_GAP`].
        let mut stream = 0u64;
        let mut last_end = Instant::now();
        loop {
            // With a writer (or a store connection) in hand, wait only so long for more work;
            // behind the store, only until it is time to compare them again.
            let holding = self.writer.is_some() || self.store.is_some();
            let wait = if holding {
                Some(WRITER_IDLE)
            } else {
                self.behind
            };
            let first = match wait {
                Some(wait) => match rx.recv_timeout(wait) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        if holding {
                            self.let_go(false);
                        } else {
                            self.catch_up_again();
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                },
            };
            // A batch that starts soon after the last one is part of the same stream.
            if last_end.elapsed() > BULK_GAP {
                stream = 0;
            }
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
                let (window, settle) = if stream + applied >= BULK_JOBS {
                    (MAX_BULK_WAIT, BULK_GAP)
                } else {
                    (MAX_BATCH_WAIT, SETTLE)
                };
                let left = window.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                job = rx.recv_timeout(settle.min(left)).ok();
            }
            stream += applied;
            // In a bulk stream, segments merge once it stops (when the writer is let go, or a
            // batch after a pause is not one), not after each commit.
            if let Some(w) = self.writer.as_mut() {
                w.hold_merges(stream >= BULK_JOBS);
            }
            let was_behind = self.behind.is_some();
            let wrote = self.dirty;
            let committed = self.commit();
            self.counters.pending.fetch_sub(applied, Ordering::Relaxed);
            // A commit that works after one that failed: the disk has room again.
            if was_behind && wrote && committed {
                self.catch_up_again();
            }
            for w in waiting {
                let _ = w.send(());
            }
            last_end = Instant::now();
        }
        self.commit();
    }

    /// The writer, made if there is none (None, logged, when it cannot be made).
    fn writer(&mut self) -> Option<&mut Writer> {
        if self.writer.is_none() {
            let index = self.index.read().ok().and_then(|ix| ix.clone())?;
            let mut tries = 0;
            let made = loop {
                match index.writer() {
                    Ok(w) => break Some(w),
                    Err(_) if tries < WRITER_TRIES => {
                        tries += 1;
                        std::thread::sleep(WRITER_RETRY);
                    }
                    Err(e) => {
                        self.fell_behind(&format!("the search index cannot be written: {e}"));
                        break None;
                    }
                }
            };
            self.writer = made;
        }
        self.writer.as_mut()
    }

    /// Lets the writer and the store connection go: when idle, after the segment merges it
    /// started; when the node stops, at once (a merge cut short is made again later).
    fn let_go(&mut self, stopping: bool) {
        if let Some(mut w) = self.writer.take() {
            if stopping {
                drop(w);
            } else {
                // Merges a bulk stream held back run now, before the writer goes.
                if w.hold_merges(false)
                    && let Err(e) = w.commit()
                {
                    warn!("the search index could not merge its segments: {e}");
                }
                if let Err(e) = w.finish() {
                    warn!("the search index writer did not finish cleanly: {e}");
                }
            }
        }
        self.store = None;
    }

    fn apply(&mut self, job: Job) {
        let result = match job {
            Job::Put(entry) => self.put(&entry),
            Job::Load(id, space) => self.load_and_put(id, space),
            Job::Remove(id) => {
                self.remove(id);
                Ok(())
            }
            Job::RemoveSpace(space) => {
                if let Some(w) = self.writer() {
                    w.remove_space(space);
                    self.dirty = true;
                }
                Ok(())
            }
            Job::Flush(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(e) = result {
            self.fell_behind(&format!("the search index missed a change: {e}"));
        }
    }

    fn put(&mut self, entry: &Entry) -> Result<(), tacit_search::SearchError> {
        match self.writer() {
            Some(w) => {
                let done = w.put(entry);
                self.dirty = true;
                done
            }
            None => Ok(()),
        }
    }

    /// A write to the index failed: it misses changes the store has until it is compared with
    /// the store again (see [`BEHIND_RETRY`]). Logged once, not at every try that fails too.
    fn fell_behind(&mut self, why: &str) {
        self.failed = true;
        if self.behind.is_none() {
            warn!(
                "{why} (the store keeps everything; the index catches up once it can be written)"
            );
            self.behind = Some(BEHIND_RETRY);
        } else {
            debug!("{why}");
        }
    }

    /// Compares the index with the store again after a write to it failed (making it anew if
    /// it could not be made); if that fails too, the next try waits twice as long.
    fn catch_up_again(&mut self) {
        let waited = self.behind;
        let missing = self.index.read().map(|ix| ix.is_none()).unwrap_or(false);
        let remake = missing.then(|| Some("it could not be made before".to_owned()));
        self.failed = false;
        self.catch_up(remake);
        self.counters.rebuilding.store(false, Ordering::Relaxed);
        self.behind = if self.failed {
            Some(waited.map_or(BEHIND_RETRY, |w| (w * 2).min(BEHIND_RETRY_MAX)))
        } else {
            None
        };
    }

    fn remove(&mut self, id: DocId) {
        if let Some(w) = self.writer() {
            w.remove(id);
            self.dirty = true;
        }
    }

    /// Commits what was written; false when the commit failed (the writer is then let go: what
    /// it held is lost, and the next comparison with the store puts it back).
    fn commit(&mut self) -> bool {
        if !std::mem::take(&mut self.dirty) {
            return true;
        }
        let Some(w) = self.writer.as_mut() else {
            return true;
        };
        match w.commit() {
            Ok(()) => true,
            Err(e) => {
                self.writer = None;
                self.fell_behind(&format!("the search index could not commit: {e}"));
                false
            }
        }
    }

    fn store(&mut self) -> Option<&Store> {
        if self.store.is_none() {
            match Store::open_reader(&self.db) {
                Ok(s) => self.store = Some(s),
                Err(e) => self.fell_behind(&format!("the search index cannot read the store: {e}")),
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
            Some(Some(entry)) => self.put(&entry),
            Some(None) => {
                self.remove(id);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Makes the index anew (none, of another version, or damaged: `reason`); false, logged,
    /// when it cannot be made (search is then unavailable until the next start).
    fn remake(&mut self, reason: Option<&str>) -> bool {
        self.counters.rebuilding.store(true, Ordering::Relaxed);
        if let Some(w) = self.writer.take() {
            drop(w);
        }
        let made = match SearchIndex::create(&self.dir, reason) {
            Ok(ix) => Some(ix),
            Err(e) => {
                self.fell_behind(&format!(
                    "search is unavailable: the index cannot be made: {e}"
                ));
                None
            }
        };
        let ok = made.is_some();
        if let Ok(mut slot) = self.index.write() {
            *slot = made;
        }
        ok
    }

    /// Brings the index in step with the store (making it anew first if `remake` says so:
    /// `Some(reason)`, the reason being none when there was no index).
    fn catch_up(&mut self, remake: Option<Option<String>>) {
        let started = Instant::now();
        if let Some(reason) = remake
            && !self.remake(reason.as_deref())
        {
            return;
        }
        let Some(index) = self.index.read().ok().and_then(|ix| ix.clone()) else {
            return;
        };
        let held = match index.held() {
            Ok(h) => h,
            Err(e) => {
                // A damaged segment: the index is made anew and everything indexed again.
                if !self.remake(Some(&format!("it is damaged ({e})"))) {
                    return;
                }
                Default::default()
            }
        };
        drop(index);
        let Some(store) = self.store() else {
            return;
        };
        let rows = match store.index_rows() {
            Ok(r) => r,
            Err(e) => {
                self.fell_behind(&format!(
                    "the search index cannot list the store's documents: {e}"
                ));
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
        drop(rows);
        let gone: Vec<DocId> = held
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        drop(held);
        drop(live);
        for id in &gone {
            self.remove(*id);
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
        debug!(
            ms = started.elapsed().as_millis() as u64,
            "the search index compared with the store"
        );
        if done > 0 || !gone.is_empty() {
            info!(
                indexed = done,
                removed = gone.len(),
                ms = started.elapsed().as_millis() as u64,
                "the search index caught up with the store"
            );
        }
    }

    /// Catching up is over (done, or given up): searches stop waiting for it.
    fn finish_catch_up(&mut self) {
        self.counters.rebuilding.store(false, Ordering::Relaxed);
        self.counters.caught_up.send_replace(true);
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
                    lower_priority();
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
                    && let Err(e) = self.put(&entry)
                {
                    self.fell_behind(&format!("the search index missed a document: {e}"));
                }
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

/// Lowers the calling thread's priority for bulk work in the background (see
/// [`CATCH_UP_NICE`]): catching up, and an import's workers; the threads it starts (document
/// loaders, the writer's) inherit it. Elsewhere than on Linux it stays as it is. Only threads
/// that end with their work call this: an unprivileged process cannot raise a priority back.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    set_nice(CATCH_UP_NICE);
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) {
    // On Linux a nice value belongs to a thread: PRIO_PROCESS with a thread id sets only it.
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        debug!("cannot lower the priority of background work: {e}");
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
    let heads = doc.heads_hash();
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
    // While the index is being made anew nothing is indexed yet: no hits.
    let found = match search.index() {
        Some(ix) => blocking(move || ix.search(&parsed, &scope, limit))
            .await?
            .map_err(|e| NodeError::Internal(format!("search failed: {e}")))?,
        None => tacit_search::Hits::default(),
    };
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
    let Some(ix) = search.index() else {
        // While the index is being made anew no link is known yet (none shown as broken).
        return Ok(Response::Links(Links {
            id: source.id,
            outgoing: Vec::new(),
            unresolved: Vec::new(),
            backlinks: Vec::new(),
        }));
    };
    tokio::task::spawn_blocking(move || {
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
