//! Attachments between members: the `/tacit/blob/2` protocol, served and fetched.
//!
//! ```text
//! asker                                              holder
//!   ── request: 2 | space (32 hex) | hash (32) | offset (u64 BE) ──▶   member of space (reader+)?
//!                                                                      a note of space refers to hash?
//!                                                                      held here?
//!   ◀── 0, then the stream from offset to the end ──     (all three)
//!   ◀── 1, closed ──                                     (any not: one answer for every reason)
//! ```
//!
//! The stream (`tacit_store`'s `tree`: BLAKE3's hash tree down to groups of 16 KiB) interleaves
//! the tree's nodes with the bytes, so the asker checks each group against the BLAKE3 hash (the
//! note's) before writing it: a wrong byte ends the transfer at the first bad group, nothing
//! is stored, and the groups checked before it stay for another member's transfer to go on
//! from (the member that sent it is asked after the others for a while). Checked groups go to
//! `<hash>.part`, and their chaining values (which checking them gave) into the outboard, so
//! that this node can serve the file too without hashing it again; a cut connection leaves the
//! part, and the next fetch asks from its last whole group on (the groups it holds hashed once
//! more). When complete, the hash of the whole, earlier attempts' groups included, must be the
//! note's; then the file and its outboard are moved into place.
//!
//! Bounds: a blob larger than [`BlobLimits::max_file`] or the note's stated size is refused,
//! a space's blobs stop at [`BlobLimits::space_quota`] (its downloads left off counted with
//! them, and those under way at their whole size; the actor trims the parts), [`MAX_SERVING`]
//! uploads and [`MAX_FETCHING`] downloads run at once, and the bytes between the network and
//! the disk sit in a queue of [`PIPE_DEPTH`] × [`PIPE_CHUNK`] bytes, whatever the file's size.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use tacit_core::SpaceId;
use tacit_net::{Net, PeerId};
use tacit_store::{BLOB_GROUP, BlobHash, Blobs, Part};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::base::{BlobLimits, BlobMsg, Msg, ask_actor};
use crate::error::NodeError;

/// The first byte of a request: this version of the protocol.
const VERSION: u8 = 2;
/// A request: version, space id (32 hex characters), hash (32 bytes), offset (u64 big-endian).
const REQUEST_LEN: usize = 1 + 32 + 32 + 8;
/// The holder sends the slice.
const STATUS_OK: u8 = 0;
/// The holder does not send it (whatever the reason).
const STATUS_REFUSED: u8 = 1;

/// Uploads at once: each reads a file and holds a pipe; more wait for a slot, then are dropped.
pub(crate) const MAX_SERVING: usize = 8;
/// Uploads at once to one peer: as many as a node fetches at once, so that a member that asks
/// for more (and reads slowly) takes no more than half of the [`MAX_SERVING`] slots.
const MAX_SERVING_PER_PEER: usize = MAX_FETCHING;
/// Requests at once from peers that are no member of any space here (a stranger's request is
/// refused once read): its own budget, so that strangers never hold the members' uploads.
const MAX_STRANGERS_ASKING: usize = 2;
/// Downloads at once (each holds a pipe and a partial file).
pub(crate) const MAX_FETCHING: usize = 4;
/// Bytes per piece between the network task and the blocking file task.
const PIPE_CHUNK: usize = 64 * 1024;
/// Pieces in flight between them: 8 × 64 KiB = 512 KiB per transfer, whatever the file.
const PIPE_DEPTH: usize = 8;
/// How long the asker's request may take to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the holder's answer to a request may take (it asks its actor, which may be busy
/// storing a large sync).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The slowest transfer either side keeps: at least [`FLOOR_BYTES`] in every [`FLOOR_WINDOW`]
/// (6.4 KiB/s, about 50 kbit/s). A slower one (a stalled link, or a member that trickles bytes
/// to hold a slot) is given up: the asker goes on from where it stopped, with another member
/// first when there is one.
const FLOOR_WINDOW: Duration = Duration::from_secs(10);
/// See [`FLOOR_WINDOW`]; one pipe piece.
const FLOOR_BYTES: u64 = PIPE_CHUNK as u64;
/// A window short of its bytes is judged again this much later, once: it is judged at the
/// first read after its end, and when this node itself was not run for a while (a machine
/// starved of CPU), what the holder sent meanwhile still waits in the socket and comes in
/// as soon as this node runs again.
const FLOOR_GRACE: Duration = Duration::from_secs(2);

/// The floor in bytes a second.
fn floor_rate() -> u64 {
    FLOOR_BYTES / FLOOR_WINDOW.as_secs().max(1)
}
/// While other members that may hold the file wait, a download must also keep [`TURN_RATE`]
/// over each turn ([`BlobLimits::turn`], 60 s by default), else it yields to them: it goes on
/// later from where it stopped. So a member that sends just over the floor (6.4 KiB/s of right
/// bytes) holds a download for a turn or two, not for the hours a large file takes at that speed.
const TURN_RATE: u64 = 16 * FLOOR_BYTES / FLOOR_WINDOW.as_secs();
/// The longest turn ([`BlobLimits::turn`]) this node keeps to.
const MAX_TURN: Duration = Duration::from_secs(60 * 60);
/// How long a peer given up as slow (under the floor, or yielding its turn), that sent bytes
/// that do not match, or that closed streams before their end past [`CLOSES_ALLOWED`], is asked
/// after the others in every fetch.
const ASK_LAST_FOR: Duration = Duration::from_secs(10 * 60);
/// Streams a peer may close before their end within [`ASK_LAST_FOR`] (and stay connected)
/// before it is asked after the others. A holder sends to the end (a failing disk resets the
/// stream), so a close before it while the connection stays is the peer's choice: it goes on as
/// after a cut connection a few times, but a member that leaves every file one group short is
/// not asked first (nor in the background at all) fetch after fetch.
const CLOSES_ALLOWED: u32 = 3;
/// How long after a stream closed before its end the connection is looked at: a node going
/// away closes its streams cleanly as its connection ends, and that close is not counted.
const CLOSE_SETTLE: Duration = Duration::from_millis(500);
/// Attempts of one fetch: each peer in turn, again after a cut connection while it progresses.
/// Not counted: a refusal (a round trip; the peer leaves the queue) and a turn yielded with
/// progress (at least the floor's bytes).
const MAX_ATTEMPTS: usize = 8;
/// How often a fetch reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

impl From<BlobLimits> for crate::api::AttachmentLimitsView {
    fn from(l: BlobLimits) -> Self {
        Self {
            max_file: l.max_file,
            space_quota: l.space_quota,
            auto_fetch: l.auto_fetch,
        }
    }
}

/// A request as the holder reads it.
struct BlobRequest {
    space: SpaceId,
    hash: BlobHash,
    offset: u64,
}

fn encode_request(space: SpaceId, hash: &BlobHash, offset: u64) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    out[0] = VERSION;
    out[1..33].copy_from_slice(space.to_string().as_bytes());
    out[33..65].copy_from_slice(hash.as_bytes());
    out[65..].copy_from_slice(&offset.to_be_bytes());
    out
}

fn decode_request(raw: &[u8; REQUEST_LEN]) -> Option<BlobRequest> {
    if raw[0] != VERSION {
        return None;
    }
    let space: SpaceId = std::str::from_utf8(&raw[1..33]).ok()?.parse().ok()?;
    let hash_bytes: [u8; 32] = raw[33..65].try_into().ok()?;
    let offset = u64::from_be_bytes(raw[65..].try_into().ok()?);
    if !offset.is_multiple_of(BLOB_GROUP) {
        return None;
    }
    Some(BlobRequest {
        space,
        hash: BlobHash::from_bytes(hash_bytes),
        offset,
    })
}

// ---- serving ------------------------------------------------------------------------------

/// Serves inbound blob streams until the network stops.
pub(crate) async fn serve(
    net: Net,
    actor: mpsc::WeakSender<Msg>,
    blobs: Blobs,
    limits: BlobLimits,
    info: Arc<crate::base::NodeInfo>,
) {
    let Some(mut incoming) = net.blob_streams() else {
        return;
    };
    // Blobs an earlier version stored are served once they have this version's outboard.
    let upgrading = blobs.clone();
    if let Ok(n) = tokio::task::spawn_blocking(move || upgrading.upgrade_outboards()).await
        && n > 0
    {
        info!("{n} attachments given this version's hash tree");
    }
    let slots = Arc::new(Semaphore::new(MAX_SERVING));
    let strangers = Arc::new(Semaphore::new(MAX_STRANGERS_ASKING));
    let per_peer = PerPeer::default();
    while let Some((peer, stream)) = incoming.next().await {
        let Some(mine) = per_peer.take(peer) else {
            debug!(%peer, "blob request dropped: {MAX_SERVING_PER_PEER} uploads to this peer run already");
            continue;
        };
        // A member of a space here (by the member set the actor keeps), or a stranger, which
        // asks from its own small budget.
        let member = tacit_net::member_of(&peer).is_some_and(|m| {
            info.members
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&m)
        });
        let budget = if member { &slots } else { &strangers };
        let Ok(slot) = budget.clone().try_acquire_owned() else {
            debug!(%peer, member, "blob request dropped: every upload slot is taken");
            continue;
        };
        let actor = actor.clone();
        let blobs = blobs.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_one(peer, stream, &actor, &blobs, limits).await {
                debug!(%peer, "blob upload ended: {e}");
            }
            drop((slot, mine));
        });
    }
}

/// Uploads running to each peer.
#[derive(Clone, Default)]
struct PerPeer(Arc<std::sync::Mutex<HashMap<PeerId, usize>>>);

/// One upload counted for a peer; uncounted when dropped.
struct PeerSlot {
    peer: PeerId,
    of: PerPeer,
}

impl PerPeer {
    /// Counts an upload to `peer`, unless [`MAX_SERVING_PER_PEER`] run already.
    fn take(&self, peer: PeerId) -> Option<PeerSlot> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(peer).or_insert(0);
        if *n >= MAX_SERVING_PER_PEER {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peer,
            of: self.clone(),
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut map = self
            .of
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.peer);
            }
        }
    }
}

async fn serve_one(
    peer: PeerId,
    mut stream: tacit_net::Stream,
    actor: &mpsc::WeakSender<Msg>,
    blobs: &Blobs,
    limits: BlobLimits,
) -> std::io::Result<()> {
    let mut raw = [0u8; REQUEST_LEN];
    tokio::time::timeout(REQUEST_TIMEOUT, stream.read_exact(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("no request in time"))??;
    // The actor is asked whether or not the file is on disk, and the disk looked at after, so
    // that a member cannot tell from the time a refusal takes whether this node holds a file.
    let allowed = match (decode_request(&raw), tacit_net::member_of(&peer)) {
        (Some(req), Some(member)) => {
            let hex = req.hash.to_hex().to_string();
            let ok = ask_actor(actor, |reply| BlobMsg::Allowed {
                space: req.space,
                peer: member,
                hash: hex,
                reply,
            })
            .await
            .unwrap_or(false);
            (ok && blobs.has(&req.hash)).then_some(req)
        }
        _ => None,
    };
    let Some(req) = allowed else {
        // The same answer whether the peer is no member, the hash unknown or not held here.
        stream.write_all(&[STATUS_REFUSED]).await?;
        stream.close().await?;
        return Ok(());
    };
    debug!(%peer, hash = %req.hash.to_hex(), offset = req.offset, "serving a blob");
    stream.write_all(&[STATUS_OK]).await?;
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(PIPE_DEPTH);
    let blobs = blobs.clone();
    let buffers = Buffers::default();
    let free = buffers.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut slice = match blobs.slice(&req.hash, req.offset) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        loop {
            let mut buf = free.take();
            match read_full(&mut slice, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let started = Instant::now();
    let mut sent = 0u64;
    while let Some(piece) = rx.recv().await {
        let piece = piece?;
        // An asker that reads slower than the floor (a piece in a window) holds its slot no
        // longer than a sender that slow would hold the asker's: two windows a piece, so that
        // an asker whose own disk stalls a moment is not cut for it.
        tokio::time::timeout(
            2 * FLOOR_WINDOW,
            tacit_net::codec::write_in_pieces(&mut stream, &piece),
        )
        .await
        .map_err(|_| std::io::Error::other("the asker reads slower than the floor"))??;
        sent += piece.len() as u64;
        buffers.give(piece);
        // Never under twice the floor: askers give up on a slower sender.
        if let Some(rate) = limits
            .upload_rate
            .filter(|r| *r > 0)
            .map(|r| r.max(2 * floor_rate()))
        {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            let elapsed = started.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
    }
    stream.close().await?;
    let _ = reader.await;
    Ok(())
}

/// Buffers of [`PIPE_CHUNK`] bytes passed back and forth between the network task and the
/// blocking reader or decoder, so that a transfer does not allocate (and the allocator map and
/// unmap, with a page fault per page) a fresh 64 KiB for every piece.
#[derive(Clone, Default)]
struct Buffers(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Buffers {
    /// A buffer of `PIPE_CHUNK` bytes (contents unspecified).
    fn take(&self) -> Vec<u8> {
        let mut buf = self
            .0
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default();
        buf.resize(PIPE_CHUNK, 0);
        buf
    }

    /// Gives a buffer back; past the pipe's depth, it is freed.
    fn give(&self, buf: Vec<u8>) {
        if let Ok(mut free) = self.0.lock()
            && free.len() < PIPE_DEPTH + 2
            && buf.capacity() >= PIPE_CHUNK
        {
            free.push(buf);
        }
    }
}

/// Reads until `buf` is full or the reader ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(buf.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

// ---- fetching -----------------------------------------------------------------------------

/// What one fetch did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fetched {
    /// Bytes received now.
    pub(crate) bytes: u64,
    /// Where the first attempt began (past 0: an interrupted download resumed).
    pub(crate) resumed_from: u64,
}

/// Why one attempt ended without the whole blob.
enum Attempt {
    /// The peer refused (not held there, or not for us).
    Refused,
    /// Bytes that do not match the hash: the groups checked before them are kept.
    Bad(String),
    /// The connection ended; verified bytes are kept for the next attempt.
    Cut(String),
    /// The holder closed the stream before its end (one it may choose to cut short); verified
    /// bytes are kept for the next attempt.
    Closed(String),
    /// The bytes came slower than the floor ([`FLOOR_WINDOW`]); verified bytes are kept.
    Slow(String),
    /// Slower than [`TURN_RATE`] over a turn while others may hold it; verified bytes are kept.
    Turn(String),
    /// The peer holds the blob as another size than the note states: either may be wrong, so
    /// the peer is not blamed.
    Differs(String),
}

/// A rate a transfer must keep: at least `min` bytes in every `window` (the floor:
/// [`FLOOR_BYTES`] in [`FLOOR_WINDOW`]), window by window.
struct Floor {
    window: Duration,
    min: u64,
    started: Instant,
    bytes: u64,
    /// When a window short of its bytes is judged again ([`FLOOR_GRACE`]).
    grace: Option<Instant>,
}

impl Floor {
    /// The floor every transfer keeps.
    fn new(now: Instant) -> Self {
        Self::of(now, FLOOR_WINDOW, FLOOR_BYTES)
    }

    /// A turn while others wait: [`TURN_RATE`] over `turn` (from a floor window to
    /// [`MAX_TURN`]).
    fn turn(now: Instant, turn: Duration) -> Self {
        let turn = turn.clamp(FLOOR_WINDOW, MAX_TURN);
        let min = u64::try_from(turn.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(TURN_RATE)
            / 1000;
        Self::of(now, turn, min)
    }

    fn of(now: Instant, window: Duration, min: u64) -> Self {
        Self {
            window,
            min,
            started: now,
            bytes: 0,
            grace: None,
        }
    }

    /// Moves the window on by `d`: time this node itself was busy (its disk), not the peer.
    fn pause(&mut self, d: Duration) {
        self.started += d;
        if let Some(grace) = self.grace.as_mut() {
            *grace += d;
        }
    }

    /// When the current window ends (or its grace, once it is in it).
    fn ends(&self) -> Instant {
        self.grace.unwrap_or(self.started + self.window)
    }

    /// Counts `n` bytes received; once the window has ended, an error when it took fewer than
    /// the minimum (after [`FLOOR_GRACE`] more), else a new window begins.
    fn took(&mut self, n: u64, now: Instant) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(n);
        if now < self.ends() {
            return Ok(());
        }
        if self.bytes < self.min {
            if self.grace.is_none() {
                self.grace = Some(now + FLOOR_GRACE);
                return Ok(());
            }
            let secs = now.saturating_duration_since(self.started).as_secs();
            return Err(if self.bytes == 0 {
                format!("no byte in {secs} s")
            } else {
                format!(
                    "{} bytes in {secs} s, under the {} KiB this node waits for",
                    self.bytes,
                    self.min / 1024
                )
            });
        }
        *self = Self::of(now, self.window, self.min);
        Ok(())
    }
}

/// The rates one attempt keeps: the floor always, and a turn's while others wait.
struct Pace {
    floor: Floor,
    turn: Option<Floor>,
}

impl Pace {
    fn new(now: Instant, turn: Option<Duration>) -> Self {
        Self {
            floor: Floor::new(now),
            turn: turn.map(|t| Floor::turn(now, t)),
        }
    }

    /// When the next window ends.
    fn ends(&self) -> Instant {
        let floor = self.floor.ends();
        self.turn.as_ref().map_or(floor, |t| t.ends().min(floor))
    }

    /// See [`Floor::pause`].
    fn pause(&mut self, d: Duration) {
        self.floor.pause(d);
        if let Some(t) = self.turn.as_mut() {
            t.pause(d);
        }
    }

    /// See [`Floor::took`]: how the attempt ends when a rate was not kept.
    fn took(&mut self, n: u64, now: Instant) -> Result<(), Attempt> {
        self.floor.took(n, now).map_err(Attempt::Slow)?;
        match self.turn.as_mut() {
            Some(t) => t.took(n, now).map_err(Attempt::Turn),
            None => Ok(()),
        }
    }
}

/// `peers` shuffled, those in `last` since less than [`ASK_LAST_FOR`] before `now` after the
/// others; older entries of `last` are dropped.
fn ask_order(peers: &[PeerId], last: &mut HashMap<PeerId, Instant>, now: Instant) -> Vec<PeerId> {
    use std::hash::BuildHasher as _;
    let shuffle = std::collections::hash_map::RandomState::new();
    last.retain(|_, since| now.duration_since(*since) < ASK_LAST_FOR);
    let mut queue = peers.to_vec();
    queue.sort_by_cached_key(|p| (last.contains_key(p), shuffle.hash_one(p)));
    queue
}

/// Streams each peer closed before their end lately: how many, since the first.
#[derive(Default)]
struct Closes(HashMap<PeerId, (u32, Instant)>);

impl Closes {
    /// Counts a stream `peer` closed before its end: whether it is past [`CLOSES_ALLOWED`]
    /// within [`ASK_LAST_FOR`] (then its count starts again). Counts older than that are
    /// dropped, so that the table holds only peers that closed a stream lately.
    fn count(&mut self, peer: PeerId, now: Instant) -> bool {
        self.0
            .retain(|_, (_, since)| now.saturating_duration_since(*since) < ASK_LAST_FOR);
        let (n, _) = self.0.entry(peer).or_insert((0, now));
        *n += 1;
        if *n > CLOSES_ALLOWED {
            self.0.remove(&peer);
            return true;
        }
        false
    }
}

/// How one attempt goes: with a `turn` when others wait ([`Fetcher::attempt`]), and `quiet`
/// when its progress is not shown.
struct Pacing {
    turn: Option<Duration>,
    quiet: bool,
}

/// Fetches blobs from members, one download per hash at a time.
#[derive(Clone)]
pub(crate) struct Fetcher {
    pub(crate) net: Net,
    pub(crate) actor: mpsc::WeakSender<Msg>,
    pub(crate) blobs: Blobs,
    /// The limits in force: the node's, changed at once when the person changes them.
    limits: Arc<std::sync::Mutex<BlobLimits>>,
    slots: Arc<Semaphore>,
    inflight: Arc<std::sync::Mutex<HashMap<BlobHash, Arc<tokio::sync::Mutex<()>>>>>,
    /// Peers to ask after the others for [`ASK_LAST_FOR`], and since when: given up as slow or
    /// for not answering, that sent bytes that do not match, or closed too many streams early.
    last: Arc<std::sync::Mutex<HashMap<PeerId, Instant>>>,
    /// Streams peers closed before their end lately ([`CLOSES_ALLOWED`]).
    closes: Arc<std::sync::Mutex<Closes>>,
    /// Held while a fetch weighs its size against the space's quota and marks its download as
    /// under way, so that fetches at once each count those admitted before them.
    admitting: Arc<tokio::sync::Mutex<()>>,
    /// Where progress goes (the node's events).
    events: tokio::sync::broadcast::Sender<crate::api::Event>,
}

impl Fetcher {
    pub(crate) fn new(
        net: Net,
        actor: mpsc::WeakSender<Msg>,
        blobs: Blobs,
        limits: Arc<std::sync::Mutex<BlobLimits>>,
        events: tokio::sync::broadcast::Sender<crate::api::Event>,
    ) -> Self {
        Self {
            net,
            actor,
            blobs,
            limits,
            slots: Arc::new(Semaphore::new(MAX_FETCHING)),
            inflight: Arc::default(),
            last: Arc::default(),
            closes: Arc::default(),
            admitting: Arc::default(),
            events,
        }
    }

    /// The limits in force now.
    pub(crate) fn limits(&self) -> BlobLimits {
        self.limits.lock().map(|l| *l).unwrap_or_default()
    }

    /// Asks `peer` after the others from now on, for [`ASK_LAST_FOR`].
    fn ask_last(&self, peer: PeerId) {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(peer, Instant::now());
    }

    /// Counts a stream `peer` closed before its end, if it is still connected [`CLOSE_SETTLE`]
    /// later (else it went away); past [`CLOSES_ALLOWED`], asks it after the others from now on.
    async fn closed_early(&self, peer: PeerId) {
        tokio::time::sleep(CLOSE_SETTLE).await;
        if !self.net.connected().await.iter().any(|(p, _)| *p == peer) {
            return;
        }
        let past = self
            .closes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count(peer, Instant::now());
        if past {
            warn!(%peer, "over {CLOSES_ALLOWED} attachment streams cut short: asked last");
            self.ask_last(peer);
        }
    }

    /// `peers` in the order to ask them: shuffled (so that fetches spread over the members
    /// that hold a file, and none can count on being asked first), those to ask last after the
    /// others, or not at all when `skip_last`.
    fn order(&self, peers: &[PeerId], skip_last: bool) -> Vec<PeerId> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut queue = ask_order(peers, &mut last, Instant::now());
        if skip_last {
            queue.retain(|p| !last.contains_key(p));
        }
        queue
    }

    /// Tells the node's subscribers how far a fetch is.
    fn progress(&self, hash: &BlobHash, done: u64, total: u64, failed: bool) {
        let _ = self.events.send(crate::api::Event::AttachmentProgress {
            hash: hash.to_hex().to_string(),
            done,
            total,
            failed,
        });
    }

    /// Fetches `hash` (stated `size` bytes) of `space` from the first of `peers`, in the order
    /// [`Fetcher::order`] gives them, that holds it for us, resuming a partial download.
    /// Returns at once when it is held here for `space`.
    ///
    /// A file held for another space only is fetched all the same: it is shown and served to
    /// this space's members only once one of them showed it holds it, and a member naming a
    /// hash in a note cannot tell from this node's asking whether it holds the file. A
    /// `background` fetch (the small files of notes that arrive) asks no peer that failed
    /// lately (see [`Fetcher::ask_last`]): a member that names files it never sends holds the
    /// background fetches once per [`ASK_LAST_FOR`], not once per file.
    pub(crate) async fn fetch(
        &self,
        space: SpaceId,
        hash: BlobHash,
        size: u64,
        peers: &[PeerId],
        background: bool,
    ) -> Result<Fetched, NodeError> {
        let lock = {
            let mut map = self
                .inflight
                .lock()
                .map_err(|_| NodeError::Internal("blob fetch table poisoned".into()))?;
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(hash).or_default().clone()
        };
        let _one = lock.lock().await;
        let on_disk = self.blobs.has(&hash);
        if on_disk {
            let hex = hash.to_hex().to_string();
            let held = ask_actor(&self.actor, |reply| BlobMsg::HeldFor {
                space,
                hash: hex,
                reply,
            })
            .await
            .ok_or(NodeError::Stopped)?;
            if held {
                return Ok(Fetched::default());
            }
        }
        // A file on disk fetched again in the background is nothing the person waits for: its
        // progress (a failure most of all) is not shown.
        let quiet = on_disk && background;
        let _slot = self.slots.acquire().await.map_err(|_| NodeError::Stopped)?;
        // The limits as they are once it is this fetch's turn (the person may have changed
        // them while it waited).
        let limits = self.limits();
        if size > limits.max_file {
            return Err(NodeError::Refused(format!(
                "the attachment is {size} bytes, over this node's limit of {} for one file",
                limits.max_file
            )));
        }
        // Marked as under way before the quota is asked: it counts there at its whole size,
        // and its part (to resume from) is not removed to make room. One fetch at a time is
        // weighed, so that fetches at once each count those admitted before them; the mark
        // ends when this fetch returns, once the actor has recorded what it stored.
        let _under_way = {
            let _admitting = self.admitting.lock().await;
            let reserved = self.blobs.reserve(&hash, space, size);
            let used = ask_actor(&self.actor, |reply| BlobMsg::Used { space, reply })
                .await
                .ok_or(NodeError::Stopped)?;
            if used > limits.space_quota {
                return Err(NodeError::Refused(format!(
                    "the space holds {} bytes of attachments (downloads under way and left off \
                     included); {size} more would pass its quota of {}",
                    used.saturating_sub(size),
                    limits.space_quota
                )));
            }
            reserved
        };
        let mut done = Fetched::default();
        let mut first = true;
        let mut last_error = String::from("no member holding it is connected");
        let mut attempts = 0;
        let mut queue = self.order(peers, background);
        // The download as the last attempt left it, when it can go on from there.
        let mut kept: Option<Part> = None;
        while attempts < MAX_ATTEMPTS && !queue.is_empty() {
            attempts += 1;
            let peer = queue.remove(0);
            let part = match kept.take() {
                Some(part) => part,
                None => {
                    let blobs = self.blobs.clone();
                    let fresh = first;
                    tokio::task::spawn_blocking(move || {
                        let part = blobs.open_part(&hash)?;
                        // A download left whole (a crash before it was finished) may have been
                        // for another space: a member of this one sends the bytes again.
                        if fresh && size > 0 && part.len() == size {
                            drop(part);
                            blobs.discard_part(&hash);
                            return blobs.open_part(&hash);
                        }
                        Ok(part)
                    })
                    .await
                    .map_err(|e| {
                        NodeError::Internal(format!("opening a download panicked: {e}"))
                    })??
                }
            };
            let offset = part.len();
            if offset > size {
                // Another note states the same file larger: its download is left to resume.
                return Err(NodeError::Refused(format!(
                    "{offset} bytes of it are held already, more than the {size} this note states"
                )));
            }
            if first {
                done.resumed_from = offset;
                first = false;
            }
            // Others wait: this one has a turn.
            let turn = (!queue.is_empty()).then_some(limits.turn);
            let part = if offset < size {
                match self
                    .attempt(peer, space, hash, size, part, Pacing { turn, quiet })
                    .await
                {
                    Ok((n, part)) => {
                        done.bytes += n;
                        part
                    }
                    Err((n, why, part)) => {
                        done.bytes += n;
                        kept = part;
                        // A peer that progressed goes on from where it stopped, after the
                        // others (never first again: cutting its own stream would start a new
                        // turn each time, and keep them waiting).
                        let again = n > 0;
                        last_error = match why {
                            Attempt::Refused => {
                                attempts -= 1; // a round trip, and the peer leaves the queue
                                format!("{peer} does not hold it for this node")
                            }
                            Attempt::Differs(why) => format!(
                                "{peer} holds it as another size than the note states ({why})"
                            ),
                            Attempt::Cut(why) => {
                                if again {
                                    queue.push(peer);
                                }
                                format!("the transfer from {peer} was cut: {why}")
                            }
                            Attempt::Closed(why) => {
                                self.closed_early(peer).await;
                                if again {
                                    queue.push(peer);
                                }
                                format!("the transfer from {peer} was cut: {why}")
                            }
                            Attempt::Bad(why) => {
                                self.ask_last(peer);
                                warn!(%peer, hash = %hash.to_hex(), "attachment refused: {why}");
                                format!("{peer} sent bytes that do not match the hash ({why})")
                            }
                            Attempt::Slow(why) => {
                                self.ask_last(peer);
                                warn!(%peer, hash = %hash.to_hex(), "attachment too slow: {why}");
                                if again {
                                    queue.push(peer);
                                }
                                format!("the transfer from {peer} was too slow: {why}")
                            }
                            Attempt::Turn(why) => {
                                self.ask_last(peer);
                                info!(%peer, hash = %hash.to_hex(), "attachment yields: {why}");
                                if n >= FLOOR_BYTES {
                                    attempts -= 1; // progress, not a failure
                                }
                                if again {
                                    queue.push(peer);
                                }
                                format!("the transfer from {peer} was slow: {why}")
                            }
                        };
                        continue;
                    }
                }
            } else {
                part
            };
            let stored = tokio::task::spawn_blocking(move || part.finish())
                .await
                .map_err(|e| NodeError::Internal(format!("finishing a download panicked: {e}")))?;
            match stored {
                Ok(n) => {
                    let hex = hash.to_hex().to_string();
                    if let Some(tx) = self.actor.upgrade() {
                        let _ = tx
                            .send(Msg::Blob(BlobMsg::Stored {
                                hash: hex.clone(),
                                size: n,
                                space,
                            }))
                            .await;
                    }
                    // Answered once the actor has recorded it (it reads its messages in order):
                    // from then on the file counts in the quota as a blob, and the mark of its
                    // download under way may end.
                    let _ = ask_actor(&self.actor, |reply| BlobMsg::HeldFor {
                        space,
                        hash: hex,
                        reply,
                    })
                    .await;
                    info!(hash = %hash.to_hex(), size = n, from = %peer, "attachment fetched");
                    if !quiet {
                        self.progress(&hash, n, size, false);
                    }
                    return Ok(done);
                }
                Err(e) => {
                    last_error = e.to_string();
                }
            }
        }
        // Its buffered groups go to the part file before the file is looked at.
        drop(kept);
        let held = std::fs::metadata(self.blobs.part_path(&hash)).map_or(0, |m| m.len());
        if held == 0 {
            self.blobs.discard_part(&hash); // nothing to resume from: no empty file left behind
        }
        if !quiet {
            self.progress(&hash, held, size, true);
        }
        Err(NodeError::NotFound(format!(
            "attachment {} could not be fetched: {last_error}",
            hash.to_hex()
        )))
    }

    /// The other members of `space`, as this node sees them.
    pub(crate) async fn members(&self, space: SpaceId) -> Vec<tacit_core::MemberId> {
        ask_actor(&self.actor, |reply| BlobMsg::Members { space, reply })
            .await
            .unwrap_or_default()
    }

    /// Asks `peer` for the blob from `offset` on: the stream its bytes come on.
    async fn ask(
        &self,
        peer: PeerId,
        space: SpaceId,
        hash: BlobHash,
        offset: u64,
    ) -> Result<tacit_net::Stream, Attempt> {
        let cut = |e: &dyn std::fmt::Display| Attempt::Cut(e.to_string());
        let mut stream = self.net.open_blob_stream(peer).await.map_err(|e| cut(&e))?;
        stream
            .write_all(&encode_request(space, &hash, offset))
            .await
            .map_err(|e| cut(&e))?;
        stream.flush().await.map_err(|e| cut(&e))?;
        let mut status = [0u8; 1];
        match tokio::time::timeout(ANSWER_TIMEOUT, stream.read_exact(&mut status)).await {
            Ok(Ok(())) if status[0] == STATUS_OK => Ok(stream),
            Ok(_) => Err(Attempt::Refused),
            Err(_) => Err(Attempt::Slow(format!(
                "no answer in {} s",
                ANSWER_TIMEOUT.as_secs()
            ))),
        }
    }

    /// One attempt with one peer, appending to `part`: the bytes written (also when it fails),
    /// and the part when it holds the whole blob (with the outboard taken from the stream when
    /// it began at 0). A failed attempt gives the part back when it can go on from it (the
    /// peer refused, or the transfer was cut): the next attempt then needs not read and hash
    /// again what it holds. With a `turn` (others wait), it also yields when slower than
    /// [`TURN_RATE`] over a turn.
    async fn attempt(
        &self,
        peer: PeerId,
        space: SpaceId,
        hash: BlobHash,
        size: u64,
        part: Part,
        Pacing { turn, quiet }: Pacing,
    ) -> Result<(u64, Part), (u64, Attempt, Option<Part>)> {
        let offset = part.len();
        let mut stream = match self.ask(peer, space, hash, offset).await {
            Ok(stream) => stream,
            Err(why) => return Err((0, why, Some(part))),
        };
        // Network → pipe → blocking decoder → part file.
        let (tx, rx) = mpsc::channel::<(Vec<u8>, usize)>(PIPE_DEPTH);
        let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = written.clone();
        let buffers = Buffers::default();
        let free = buffers.clone();
        let decoder = tokio::task::spawn_blocking(move || {
            let mut part = part;
            let pipe = PipeReader {
                rx,
                buf: Vec::new(),
                len: 0,
                at: 0,
                free,
            };
            let outcome = decode_into(pipe, &mut part, hash, size, &counter);
            (part, outcome)
        });
        let mut net_error: Option<String> = None;
        // A rate not kept, when that ended it.
        let mut too_slow: Option<Attempt> = None;
        // Whether the holder ended the stream (else this side gives it up).
        let mut ended = false;
        let mut pace = Pace::new(Instant::now(), turn);
        let mut reported = Instant::now();
        loop {
            if reported.elapsed() >= PROGRESS_EVERY {
                reported = Instant::now();
                let n = written.load(std::sync::atomic::Ordering::Relaxed);
                if !quiet {
                    self.progress(&hash, offset + n, size, false);
                }
            }
            let mut buf = buffers.take();
            let read = tokio::time::timeout_at(pace.ends(), stream.read(&mut buf)).await;
            let n = match read {
                Ok(Ok(0)) => {
                    ended = true;
                    break;
                }
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    net_error = Some(e.to_string());
                    break;
                }
                // A window ended: judged below.
                Err(_) => 0,
            };
            if let Err(why) = pace.took(n as u64, Instant::now()) {
                too_slow = Some(why);
                break;
            }
            if n == 0 {
                buffers.give(buf);
                continue;
            }
            // Sent whole with its length: cut to it, the buffer would be filled with zeros again
            // when it is taken back (most reads are a frame of 14 KiB into 64).
            // The decoder may have stopped (bad bytes, or all it wanted): then stop reading.
            let sending = Instant::now();
            if tx.send((buf, n)).await.is_err() {
                break;
            }
            pace.pause(sending.elapsed());
        }
        drop(tx);
        if ended {
            let _ = stream.close().await;
        } else {
            // Given up (too slow, cut, or the decoder stopped): dropped unclosed, the stream is
            // reset, and the holder's upload ends at once instead of at its own timeout.
            drop(stream);
        }
        let (part, outcome) = decoder.await.map_err(|e| {
            let why = Attempt::Cut(format!("the decoder panicked: {e}"));
            (0, why, None)
        })?;
        match outcome {
            Decoded::Complete(n) => Ok((n, part)),
            Decoded::Bad(n, why) => Err((n, Attempt::Bad(why), Some(part))),
            Decoded::Differs(why) => Err((0, Attempt::Differs(why), Some(part))),
            Decoded::Short(n) => {
                let why = match (too_slow, net_error) {
                    (Some(why), _) => why,
                    (None, Some(e)) => Attempt::Cut(e),
                    // The holder closed it: the decoder wanted more.
                    (None, None) if ended => {
                        Attempt::Closed("the holder closed the stream before its end".into())
                    }
                    (None, None) => Attempt::Cut("the stream ended early".into()),
                };
                Err((n, why, Some(part)))
            }
            // Not written whole: the next attempt opens it again from what is on disk.
            Decoded::Io(n, why) => Err((n, Attempt::Cut(why), None)),
        }
    }
}

/// Most missing attachments one sweep queues.
pub(crate) const SWEEP_LIMIT: usize = 256;

/// How decoding ended.
enum Decoded {
    /// All the bytes from the part's length to the blob's end checked and written.
    Complete(u64),
    /// Checked bytes written before the stream ended.
    Short(u64),
    /// A group or tree node did not match the hash.
    Bad(u64, String),
    /// The stream states another length than the note's; nothing was written.
    Differs(String),
    /// The part file could not be written.
    Io(u64, String),
}

/// Reads pieces from a channel as one byte stream.
struct PipeReader {
    rx: mpsc::Receiver<(Vec<u8>, usize)>,
    buf: Vec<u8>,
    /// Bytes of `buf` that hold the piece.
    len: usize,
    at: usize,
    /// Where spent buffers go back to.
    free: Buffers,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.len {
            match self.rx.blocking_recv() {
                Some((b, len)) => {
                    let spent = std::mem::replace(&mut self.buf, b);
                    self.free.give(spent);
                    self.len = len;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        // The rest of the piece, read as a byte slice reads.
        let n = Read::read(
            &mut self.buf.get(self.at..self.len).unwrap_or_default(),
            out,
        )?;
        self.at += n;
        Ok(n)
    }
}

/// Checks the stream of the blob `hash` of `size` bytes from the part's length on as it
/// arrives, and appends each group to `part` once it has passed.
fn decode_into(
    pipe: PipeReader,
    part: &mut Part,
    hash: BlobHash,
    size: u64,
    progress: &std::sync::atomic::AtomicU64,
) -> Decoded {
    use std::io::ErrorKind;
    let mut written = 0u64;
    let mut write_error: Option<String> = None;
    let offset = part.len();
    let checked = tacit_store::verify_stream(pipe, &hash, size, offset, |bytes, cv| {
        part.append_group(bytes, cv).inspect_err(|e| {
            write_error = Some(e.to_string());
        })?;
        written += bytes.len() as u64;
        progress.store(written, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    let outcome = match checked {
        Ok(()) => Decoded::Complete(written),
        Err(e) => match write_error {
            Some(why) => Decoded::Io(written, why),
            None if e.kind() == ErrorKind::UnexpectedEof => Decoded::Short(written),
            None if e
                .get_ref()
                .is_some_and(|e| e.is::<tacit_store::LengthDiffers>()) =>
            {
                Decoded::Differs(e.to_string())
            }
            None if matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::InvalidInput) => {
                Decoded::Bad(written, e.to_string())
            }
            None => Decoded::Io(written, e.to_string()),
        },
    };
    // What was checked goes to disk, to resume from (before bad bytes too: every group written
    // was checked); a complete part is synced whole when it is finished.
    if matches!(
        outcome,
        Decoded::Short(_) | Decoded::Io(..) | Decoded::Bad(..)
    ) {
        let _ = part.sync();
    }
    outcome
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_under_the_floor_is_given_up_window_by_window() {
        let t0 = Instant::now();
        let mut floor = Floor::new(t0);
        // Within the window, anything goes.
        assert!(floor.took(1, t0 + FLOOR_WINDOW / 2).is_ok());
        // A window that took the floor starts the next one.
        assert!(floor.took(FLOOR_BYTES, t0 + FLOOR_WINDOW).is_ok());
        assert_eq!(floor.ends(), t0 + 2 * FLOOR_WINDOW);
        // A trickle in the next one is not enough, once its grace has passed too.
        assert!(floor.took(10, t0 + FLOOR_WINDOW + FLOOR_WINDOW / 2).is_ok());
        let end = t0 + 2 * FLOOR_WINDOW;
        assert!(floor.took(10, end).is_ok());
        assert_eq!(floor.ends(), end + FLOOR_GRACE);
        let why = floor.took(0, end + FLOOR_GRACE).unwrap_err();
        assert!(why.contains("20 bytes in 12 s"), "{why}");
        // Bytes that come in the grace (they waited while this node was not run) keep it going;
        // the next window starts when the grace ends, with a grace of its own.
        let mut starved = Floor::new(t0);
        let late = t0 + FLOOR_WINDOW * 2;
        assert!(starved.took(14 * 1024, late).is_ok());
        assert!(
            starved
                .took(FLOOR_BYTES, late + Duration::from_millis(5))
                .is_ok()
        );
        assert!(starved.took(0, late + FLOOR_GRACE).is_ok());
        let next = late + FLOOR_GRACE + FLOOR_WINDOW;
        assert_eq!(starved.ends(), next);
        assert!(starved.took(0, next).is_ok());
        assert!(starved.took(0, next + FLOOR_GRACE).is_err());
        // Time this node was busy itself moves the window on.
        let mut busy = Floor::new(t0);
        busy.pause(FLOOR_WINDOW);
        assert!(busy.took(10, t0 + FLOOR_WINDOW).is_ok());
        assert_eq!(busy.ends(), t0 + 2 * FLOOR_WINDOW);
        // Nothing at all says so.
        let mut idle = Floor::new(t0);
        assert!(idle.took(0, t0 + FLOOR_WINDOW).is_ok());
        let why = idle.took(0, t0 + FLOOR_WINDOW + FLOOR_GRACE).unwrap_err();
        assert!(why.contains("no byte in 12 s"), "{why}");
        // The slowest upload this node allows is over the floor its askers hold it to.
        assert!(2 * floor_rate() * FLOOR_WINDOW.as_secs() > FLOOR_BYTES);
    }

    #[test]
    fn a_slow_transfer_yields_its_turn() {
        let t0 = Instant::now();
        let turn = Duration::from_secs(60);
        // Just over the floor, window by window: under the turn's rate.
        let mut floor = Floor::new(t0);
        let mut slow = Floor::turn(t0, turn);
        let mut at = t0;
        let mut yielded = None;
        for _ in 0..7 {
            at += FLOOR_WINDOW;
            assert!(floor.took(FLOOR_BYTES + 1, at).is_ok());
            if let Err(why) = slow.took(FLOOR_BYTES + 1, at) {
                yielded.get_or_insert(why);
            }
        }
        // Judged at 60 s, and again at the first read after its grace.
        let why = yielded.expect("the turn ends at 60 s and its grace");
        assert!(why.contains("458759 bytes in 70 s"), "{why}");
        // At the turn's rate, turn after turn.
        let mut fast = Floor::turn(t0, turn);
        for k in 1..=3 {
            assert!(fast.took(TURN_RATE * 60, t0 + turn * k).is_ok());
        }
        // Never shorter than a floor window.
        assert_eq!(Floor::turn(t0, Duration::ZERO).ends(), t0 + FLOOR_WINDOW);
    }

    #[test]
    fn peers_come_in_a_random_order_and_those_to_ask_last_after_the_others() {
        let peers: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
        let t0 = Instant::now();
        let mut last = HashMap::from([(peers[0], t0), (peers[1], t0)]);
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..64 {
            let queue = ask_order(&peers, &mut last, t0);
            assert_eq!(queue.len(), 4);
            // The two to ask last are last, in either order.
            let tail: std::collections::HashSet<_> = queue[2..].iter().collect();
            assert_eq!(tail, peers[..2].iter().collect());
            firsts.insert(queue[0]);
        }
        // Shuffled: either of the others comes first (each 1 time in 2).
        assert_eq!(firsts.len(), 2);
        // Forgotten after ASK_LAST_FOR.
        let queue = ask_order(&peers, &mut last, t0 + ASK_LAST_FOR);
        assert!(last.is_empty());
        assert_eq!(queue.len(), 4);
    }

    #[test]
    fn a_peer_that_closes_streams_before_their_end_is_asked_last_past_its_allowance() {
        let (p, q) = (PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        let mut closes = Closes::default();
        for _ in 0..CLOSES_ALLOWED {
            assert!(!closes.count(p, t0));
        }
        assert!(!closes.count(q, t0));
        assert!(closes.count(p, t0 + Duration::from_secs(1)));
        // Counted again from nothing.
        let t1 = t0 + Duration::from_secs(2);
        for _ in 0..CLOSES_ALLOWED {
            assert!(!closes.count(p, t1));
        }
        // Closes older than ASK_LAST_FOR are forgotten, and so are the peers that made them.
        assert!(!closes.count(p, t1 + ASK_LAST_FOR));
        assert_eq!(closes.0.len(), 1);
    }

    #[test]
    fn one_peer_holds_at_most_its_share_of_the_uploads() {
        let per_peer = PerPeer::default();
        let (p, q) = (PeerId::random(), PeerId::random());
        let held: Vec<PeerSlot> = (0..MAX_SERVING_PER_PEER)
            .map(|_| per_peer.take(p).unwrap())
            .collect();
        assert!(per_peer.take(p).is_none());
        // Others are not counted with it.
        let other = per_peer.take(q).unwrap();
        drop(held);
        assert!(per_peer.take(p).is_some());
        drop(other);
        // Nothing is left behind for peers with no upload running.
        assert!(per_peer.0.lock().unwrap().is_empty());
    }

    #[test]
    fn requests_round_trip_and_junk_is_refused() {
        let space = SpaceId::random();
        let hash = blake3::hash(b"x");
        let raw = encode_request(space, &hash, 3 * BLOB_GROUP);
        let req = decode_request(&raw).unwrap();
        assert_eq!(
            (req.space, req.hash, req.offset),
            (space, hash, 3 * BLOB_GROUP)
        );
        // From within a group: refused (the stream starts where a group does).
        assert!(decode_request(&encode_request(space, &hash, 12345)).is_none());
        for version in [1, 9] {
            let mut bad = raw;
            bad[0] = version;
            assert!(decode_request(&bad).is_none());
        }
        let mut bad = raw;
        bad[5] = b'!';
        assert!(decode_request(&bad).is_none());
    }
}
