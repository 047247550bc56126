//! Targets over tacit-net: the frame codec, the wire messages, reconciliation.

use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use futures::executor::block_on;
use futures::io::Cursor;
use futures::{AsyncRead, FutureExt as _};
use sha2::{Digest as _, Sha256};
use tacit_net::Limits;
use tacit_net::codec::{FrameError, FrameReader, read_frame, write_frame};
use tacit_net::recon::{Diff, HeadsHash, ITEMS_MAX, Id, ItemSet, Part};
use tacit_net::wire::{MAX_PARTS, Message};

use crate::fixture::fixture;

/// A limit small enough that short inputs reach the "too large" paths too.
const SMALL_MAX: usize = 32;

/// The largest frame the node reads and writes.
fn max_frame() -> usize {
    Limits::default().max_frame
}

/// What one read of a frame gave, comparable.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    Frame(Vec<u8>),
    End,
    TooLarge { len: usize, max: usize },
    Truncated,
    Io,
}

impl From<Result<Option<Vec<u8>>, FrameError>> for Read {
    fn from(r: Result<Option<Vec<u8>>, FrameError>) -> Self {
        match r {
            Ok(Some(f)) => Read::Frame(f),
            Ok(None) => Read::End,
            Err(FrameError::TooLarge { len, max }) => Read::TooLarge { len, max },
            Err(FrameError::Truncated) => Read::Truncated,
            Err(_) => Read::Io,
        }
    }
}

impl Read {
    fn is_last(&self) -> bool {
        !matches!(self, Read::Frame(_))
    }
}

/// A reader that gives 1 to 7 bytes per call and is not ready before each: every receive future
/// polled on it once and dropped is cancelled part-way, at cuts that vary along the stream.
struct Trickle<'a> {
    data: &'a [u8],
    given: usize,
    pending_next: bool,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending_next {
            this.pending_next = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.pending_next = true;
        let rest = this.data.get(this.given..).unwrap_or_default();
        let n = rest.len().min(buf.len()).min(1 + this.given % 7);
        buf[..n].copy_from_slice(&rest[..n]);
        this.given += n;
        Poll::Ready(Ok(n))
    }
}

/// Frames from `data` with `read_frame`, until the end or an error (the last entry).
fn read_all(data: &[u8], max: usize) -> Vec<Read> {
    let mut r = Cursor::new(data);
    let mut out = Vec::new();
    loop {
        let read = Read::from(block_on(read_frame(&mut r, max)));
        let last = read.is_last();
        out.push(read);
        if last {
            return out;
        }
    }
}

/// The frame decoder over `data` as a peer's stream: `read_frame`, the buffered `FrameReader`,
/// and a `FrameReader` whose every receive is cancelled part-way, with the real frame limit and a
/// small one. All three must see the same frames and the same error; every frame is within the
/// limit, writes back to the same bytes, and goes to `Message::decode` as the session does.
pub fn frame(data: &[u8]) {
    for max in [max_frame(), SMALL_MAX] {
        let plain = read_all(data, max);

        let mut reader = FrameReader::new(Cursor::new(data), max);
        let mut buffered = Vec::new();
        loop {
            let read = Read::from(block_on(reader.recv()));
            let last = read.is_last();
            buffered.push(read);
            if last {
                break;
            }
        }
        assert_eq!(plain, buffered, "read_frame and FrameReader disagree");

        // Cancelled receives lose no bytes: the frames are the same, and the stream ends (or
        // fails) where the others did.
        let mut cancelled = FrameReader::new(
            Trickle {
                data,
                given: 0,
                pending_next: true,
            },
            max,
        );
        let mut trickled = Vec::new();
        for _ in 0..data.len().saturating_mul(4).saturating_add(16) {
            if let Some(r) = cancelled.recv().now_or_never() {
                let read = Read::from(r);
                let last = read.is_last();
                trickled.push(read);
                if last {
                    break;
                }
            }
        }
        assert_eq!(plain, trickled, "a cancelled receive lost bytes");

        for read in &plain {
            let Read::Frame(f) = read else { continue };
            assert!(f.len() <= max, "a frame of {} bytes above {max}", f.len());
            let mut out = Vec::new();
            block_on(write_frame(&mut out, f, max)).expect("a frame read writes back");
            let again = read_all(&out, max);
            assert_eq!(
                again.first(),
                Some(read),
                "a frame written back reads differently"
            );
            if max == max_frame() {
                let _ = Message::decode(f);
            }
        }
    }
}

/// `Message::decode` of a frame; a message that decodes encodes to bytes that decode to an equal
/// message, and signed address records are checked as the session checks them.
pub fn wire(data: &[u8]) {
    let Ok(msg) = Message::decode(data) else {
        return;
    };
    let bytes = msg.encode();
    let again = Message::decode(&bytes)
        .unwrap_or_else(|e| panic!("{} re-encoded does not decode: {e}", msg.name()));
    assert_eq!(again, msg, "{} does not round-trip", msg.name());
    assert!(bytes.len() <= data.len(), "re-encoding grew the message");
    if let Message::Addrs { records } = &msg {
        for r in records.iter().take(2) {
            let _ = r.verify();
        }
    }
}

/// Sizes of the seeded item sets: empty, one, a few, at and past `ITEMS_MAX`, and past
/// `SPLIT_TWICE_ABOVE` (ranges split two digits deep).
pub(crate) const SET_SIZES: [u32; 7] = [0, 1, 3, 64, 65, 300, 1100];

/// The `n`th document id of the seeded sets.
pub(crate) fn recon_id(n: u32) -> Id {
    let digest = Sha256::new()
        .chain_update(b"tacit-fuzz recon\0")
        .chain_update(n.to_be_bytes())
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

fn recon_heads(n: u32, version: u8) -> HeadsHash {
    let mut h = [version; 8];
    h[..4].copy_from_slice(&n.to_be_bytes());
    h
}

/// A seeded set and every id a variant of it may hold.
pub(crate) struct Seeded {
    /// The set.
    pub(crate) set: ItemSet,
    /// Its ids, and those [`recon_peer`] may add.
    ids: BTreeSet<Id>,
}

/// The seeded sets, by index into [`SET_SIZES`].
pub(crate) fn recon_sets() -> &'static [Seeded] {
    static SETS: OnceLock<Vec<Seeded>> = OnceLock::new();
    SETS.get_or_init(|| {
        SET_SIZES
            .iter()
            .map(|&size| Seeded {
                set: (0..size)
                    .map(|n| (recon_id(n), recon_heads(n, 0)))
                    .collect(),
                ids: (0..size + 8)
                    .flat_map(|n| [recon_id(n), recon_id(n + 100_000)])
                    .collect(),
            })
            .collect()
    })
}

/// The peer's set in an honest run: `base` with a few items removed, changed and added, as
/// `variant` says.
pub(crate) fn recon_peer(base: &ItemSet, size: u32, variant: u8) -> ItemSet {
    let mut peer = base.clone();
    for j in 0..u32::from(variant & 0x0f) {
        let n = (j * 7919 + u32::from(variant)) % (size + 8);
        match (n < size, j % 3) {
            (true, 0) => peer.remove(&recon_id(n)),
            (true, _) => peer.insert(recon_id(n), recon_heads(n, 1)),
            (false, _) => peer.insert(recon_id(n + 100_000), recon_heads(n, 0)),
        }
    }
    peer
}

/// What one side of the node answers to a peer's `Recon` parts (as the replica actor does), or
/// `None` when a part is refused (the node refuses the whole message). Checks every reply.
pub(crate) fn answer(set: &ItemSet, parts: &[Part]) -> Option<(Vec<Part>, Diff)> {
    let mut replies = Vec::new();
    let mut diff = Diff::default();
    for part in parts {
        let (r, d) = set.receive(part).ok()?;
        assert!(
            r.len() <= 257,
            "{} replies to one part: more than a 16×16 split's answers and a Same",
            r.len()
        );
        for reply in &r {
            check_reply(part, reply);
        }
        replies.extend(r);
        diff.extend(d);
    }
    Some((replies, diff))
}

fn check_reply(part: &Part, reply: &Part) {
    let prefix = reply.prefix();
    assert!(prefix.is_valid(), "a reply about a malformed range");
    assert!(
        part.prefix().covers(prefix, 2),
        "a reply about a range that is not the part's or one or two digits deeper inside it"
    );
    if let Part::Split { fps, .. } = reply {
        assert!(
            reply.split_levels().is_some(),
            "a split into {} sub-ranges, or past the deepest prefix",
            fps.len()
        );
    }
    if let Part::Items { prefix, items } = reply {
        assert!(
            items.len() <= ITEMS_MAX as usize,
            "{} items in one range",
            items.len()
        );
        assert!(
            items.windows(2).all(|w| w[0].0 < w[1].0),
            "items out of order"
        );
        assert!(
            items.iter().all(|(id, _)| prefix.contains(id)),
            "items outside their range"
        );
    }
}

/// Sends `replies` as the session does (at most `MAX_PARTS` of weight a message): each message
/// must be within the frame limit and decode on the other side to what was sent.
fn check_sent(replies: &[Part]) {
    let space = fixture().space;
    for parts in tacit_net::recon::chunks(replies.to_vec(), MAX_PARTS) {
        let msg = Message::Recon {
            space,
            parts: parts.clone(),
        };
        let bytes = msg.encode();
        assert!(
            bytes.len() <= max_frame(),
            "a Recon of {} parts is {} bytes, over the frame limit",
            parts.len(),
            bytes.len()
        );
        match Message::decode(&bytes) {
            Ok(back) => assert_eq!(back, msg, "a Recon reply does not round-trip"),
            Err(e) => panic!("a Recon reply the peer refuses: {e}"),
        }
    }
}

/// The ids on which `a` and `b` differ: held by `a` only, by `b` only, by both with other heads.
fn truth(a: &ItemSet, b: &ItemSet, ids: &BTreeSet<Id>) -> [BTreeSet<Id>; 3] {
    let mut out: [BTreeSet<Id>; 3] = Default::default();
    for id in ids {
        match (a.get(id), b.get(id)) {
            (Some(_), None) => out[0].insert(*id),
            (None, Some(_)) => out[1].insert(*id),
            (Some(x), Some(y)) if x != y => out[2].insert(*id),
            _ => false,
        };
    }
    out
}

/// Runs a whole reconciliation between `a` (which starts) and `b`, as two nodes would, and
/// checks that together they found exactly the differences.
fn honest_run(a: &ItemSet, b: &ItemSet, ids: &BTreeSet<Id>) {
    /// A reconciliation of a few changes among a few thousand items takes a handful of rounds.
    const MAX_ROUNDS: usize = 40;
    let (mut diff_a, mut diff_b) = (Diff::default(), Diff::default());
    let mut to_b = vec![a.start()];
    let mut rounds = 0;
    while !to_b.is_empty() {
        rounds += 1;
        assert!(rounds <= MAX_ROUNDS, "reconciliation did not end");
        check_sent(&to_b);
        let (to_a, d) = answer(b, &to_b).expect("an honest part is refused");
        diff_b.extend(d);
        check_sent(&to_a);
        let (back, d) = answer(a, &to_a).expect("an honest part is refused");
        diff_a.extend(d);
        to_b = back;
    }
    let [a_only, b_only, changed] = truth(a, b, ids);
    let found_a: BTreeSet<Id> = diff_a.mine.iter().chain(&diff_b.theirs).copied().collect();
    let found_b: BTreeSet<Id> = diff_a.theirs.iter().chain(&diff_b.mine).copied().collect();
    let found_changed: BTreeSet<Id> = diff_a
        .both
        .iter()
        .chain(&diff_b.both)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(found_a, a_only, "ids held by the starting side only");
    assert_eq!(found_b, b_only, "ids held by the answering side only");
    assert_eq!(found_changed, changed, "ids held by both with other heads");
}

/// Reconciliation: `[set][variant][Message::Recon]`. A seeded set answers the message's parts as
/// the node does; the replies stay within the wire limits and the differences name only ids
/// that can differ. With `variant`'s high bit, also a whole honest reconciliation between the
/// set and a variant of it, which must find exactly their differences.
pub fn recon(data: &[u8]) {
    let [choice, variant, rest @ ..] = data else {
        return;
    };
    let index = usize::from(*choice) % SET_SIZES.len();
    let (size, seeded) = (SET_SIZES[index], &recon_sets()[index]);
    let set = &seeded.set;
    // The honest run depends on these two bytes only: each of its 7 × 128 cases runs once per
    // process, so that fuzzing spends its time on the parts.
    static DONE: Mutex<BTreeSet<(u8, u8)>> = Mutex::new(BTreeSet::new());
    let first = DONE
        .lock()
        .map(|mut done| done.insert((index as u8, *variant)))
        .unwrap_or(true);
    if variant & 0x80 != 0 && first {
        let peer = recon_peer(set, size, *variant);
        honest_run(set, &peer, &seeded.ids);
        honest_run(&peer, set, &seeded.ids);
    }
    let Ok(Message::Recon { parts, .. }) = Message::decode(rest) else {
        return;
    };
    let Some((replies, diff)) = answer(set, &parts) else {
        return;
    };
    check_sent(&replies);
    assert!(
        diff.mine.iter().all(|id| set.get(id).is_some()),
        "to send: an id not held"
    );
    assert!(
        diff.theirs.iter().all(|id| set.get(id).is_none()),
        "to ask for: an id held"
    );
    assert!(
        diff.both
            .iter()
            .all(|(id, heads)| set.get(id).is_some_and(|h| h != heads)),
        "to sync: an id not held, or held with the same heads"
    );
}
