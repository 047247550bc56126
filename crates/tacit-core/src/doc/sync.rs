//! What syncing with peers needs of a document: Automerge's sync protocol, applying received
//! changes, and naming the author and time of each change so that the node can refuse changes
//! from members without write rights.
//!
//! Every entry point here takes bytes from the network: a panic inside Automerge on them becomes
//! a [`CoreError::Malformed`] for this document, never a crash.

use std::borrow::Cow;

use automerge::ChangeHash;
use automerge::sync::{Message, State, SyncDoc};

use super::{ChangeSig, Doc};
use crate::error::CoreError;
use crate::id::MemberId;

/// The signatures of waiting changes a document keeps ([`Doc::with_waiting_sigs`]): about
/// 100 KB. Far more than a sync message leaves waiting after a Bloom filter's false positive
/// (45 in the largest case a partition test logged); a hostile peer's waiting changes cost at
/// most this much per document held in memory.
pub const MAX_WAITING_SIGS: usize = 1024;

/// Most changes a document keeps waiting for a change they depend on, and most bytes of them
/// (uncompressed): past either, every waiting change is dropped ([`Doc::receive_sync`],
/// [`Doc::apply_changes`]), and Automerge's sync asks for them again once what they need has
/// come. An honest peer leaves a few waiting after a Bloom filter's false positive (45 the most
/// a partition test logged); a hostile member could otherwise add to a cached document's queue
/// message by message, without end (2,000 changes of 16 KB took 71 MB). Automerge holds a
/// waiting change in about twice its bytes: with the node's cache of 256 documents, about
/// 256 × 2 × 128 KiB = 64 MiB at most.
pub const MAX_WAITING_CHANGES: usize = 256;
/// See [`MAX_WAITING_CHANGES`].
pub const MAX_WAITING_BYTES: u64 = 128 * 1024;

/// The most probes a peer's Bloom filter may ask for (Automerge's own use 7). Automerge tests
/// every change of the document against a peer's filter with every probe, after allocating
/// them: a filter asking for 2³² probes would make this node allocate 16 GiB, and abort.
pub const MAX_BLOOM_PROBES: u64 = 32;
/// The most bits per entry a peer's Bloom filter may have (Automerge's own have 10).
pub const MAX_BLOOM_BITS_PER_ENTRY: u64 = 64;
/// The most Bloom filter bytes one sync message may carry (10 bits a change: about 200,000
/// changes since the last sync; states are not kept across sessions, so a session's first
/// filter covers the whole document). Past what a state keeps ([`MAX_KEPT_BLOOM_BYTES`]), it
/// is let go once the reply is made.
pub const MAX_BLOOM_BYTES: usize = 256 * 1024;
/// The most `have`s one sync message may carry (Automerge sends one).
pub const MAX_HAVES: usize = 8;
/// The most hashes one sync message may carry as its heads, its needs, or a `have`'s last sync
/// (each kept with the exchange's state). An honest peer's are a few: its concurrent heads, and
/// the changes it lacks that it knows of. But each head can be another member's device, and a
/// space may admit as many as its ops allow: so a space's most ops, not fewer (a note written at
/// once by more devices than a lower limit would never sync again).
pub const MAX_SYNC_HASHES: usize = crate::MAX_SPACE_OPS;
/// The most bytes of what the peer said it has (its Bloom filters and last sync heads) an
/// exchange's state keeps between messages ([`keep_sync_state`]): the filter of a peer with
/// about 3,000 changes since the last sync.
pub const MAX_KEPT_HAVE_BYTES: usize = 4096;
/// The most hashes an exchange's state keeps in one list of the peer's (its heads, its needs)
/// between messages: an honest peer's are a few.
pub const MAX_KEPT_HASHES: usize = 64;

/// What of an exchange's state is kept until the peer's next message, once the reply to its
/// last is made: `false` when none of it is (its heads pass [`MAX_KEPT_HASHES`]); otherwise
/// what the peer said it has and needs is let go when it passes [`MAX_KEPT_HAVE_BYTES`] or
/// [`MAX_KEPT_HASHES`]. A node keeps a state per document in exchange with each peer: a member
/// naming every document of a space with the largest lists would otherwise have it hold about
/// 2 MB per document. The next message brings them again. Without what the peer has and needs,
/// this side's next message carries its heads and filter but no changes, and the peer's answer
/// says again what it has: one more round trip for a document with thousands of changes since
/// the last sync. Without a state at all, the exchange starts afresh, as after a reconnect.
pub fn keep_sync_state(state: &mut State) -> bool {
    if state
        .their_heads
        .as_ref()
        .is_some_and(|h| h.len() > MAX_KEPT_HASHES)
    {
        return false;
    }
    let have: usize = state
        .their_have
        .iter()
        .flatten()
        .map(|h| h.bloom.to_bytes().len() + 32 * h.last_sync.len())
        .sum();
    let need = state.their_need.as_ref().map_or(0, Vec::len);
    if have > MAX_KEPT_HAVE_BYTES || need > MAX_KEPT_HASHES {
        state.their_have = None;
        state.their_need = None;
    }
    true
}

/// Refuses a peer's sync message whose Bloom filters or hash lists pass the bounds above.
fn check_sync_message(msg: &Message) -> Result<(), String> {
    let hashes = |what: &str, n: usize| {
        if n > MAX_SYNC_HASHES {
            Err(format!(
                "{n} hashes as its {what}, more than {MAX_SYNC_HASHES}"
            ))
        } else {
            Ok(())
        }
    };
    hashes("heads", msg.heads.len())?;
    hashes("needs", msg.need.len())?;
    if msg.have.len() > MAX_HAVES {
        return Err(format!("{} haves, more than {MAX_HAVES}", msg.have.len()));
    }
    let mut bloom_bytes = 0usize;
    for have in &msg.have {
        hashes("last sync", have.last_sync.len())?;
        let bytes = have.bloom.to_bytes();
        bloom_bytes = bloom_bytes.saturating_add(bytes.len());
        if bloom_bytes > MAX_BLOOM_BYTES {
            return Err(format!(
                "Bloom filters of more than {MAX_BLOOM_BYTES} bytes"
            ));
        }
        let Some((entries, bits_per_entry, probes)) = bloom_header(&bytes) else {
            continue; // empty: Automerge's default filter
        };
        if entries > 0 && !(1..=MAX_BLOOM_BITS_PER_ENTRY).contains(&bits_per_entry) {
            return Err(format!("a Bloom filter of {bits_per_entry} bits per entry"));
        }
        if probes > MAX_BLOOM_PROBES {
            return Err(format!("a Bloom filter of {probes} probes"));
        }
    }
    Ok(())
}

/// A Bloom filter's entries, bits per entry and probes, as Automerge encodes them (three
/// LEB128 numbers, then the bits); `None` for the empty filter (or an unreadable header, which
/// Automerge has refused already when it decoded the message).
fn bloom_header(bytes: &[u8]) -> Option<(u64, u64, u64)> {
    let mut r = super::chunks::Reader(bytes);
    Some((r.uleb().ok()?, r.uleb().ok()?, r.uleb().ok()?))
}

/// Who wrote one change, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeAuthor {
    /// The member, when the change's actor is a member id (32 bytes); `None` for any other actor.
    pub member: Option<MemberId>,
    /// The change's time in ms since the epoch (Automerge records whole seconds).
    pub at: i64,
}

/// [`super::screen`] for an encoded Automerge sync message: the changes it carries.
pub fn screen_sync(
    scopes: &[crate::id::SpaceId],
    doc: crate::id::DocId,
    msg: &[u8],
    sigs: &[super::ChangeSig],
) -> super::Screened {
    let Ok(Ok(msg)) = std::panic::catch_unwind(|| Message::decode(msg)) else {
        return super::Screened::Malformed;
    };
    if check_sync_message(&msg).is_err() {
        return super::Screened::Malformed;
    }
    super::screen(scopes, doc, msg.changes.iter(), sigs)
}

/// How far back [`Doc::primed_sync_state`] looks for the peer's heads: the last changes of a
/// document, each as a state it passed through.
const PRIME_LOOKBACK: usize = 256;

impl Doc {
    /// The author and time of every change not in the history of `heads` (all changes for
    /// empty `heads`).
    pub fn authors_since(&mut self, heads: &[ChangeHash]) -> Vec<ChangeAuthor> {
        self.am
            .get_changes_meta(heads)
            .iter()
            .map(|c| ChangeAuthor {
                member: MemberId::from_actor_id(&c.actor),
                at: c.timestamp.saturating_mul(1000),
            })
            .collect()
    }

    /// Whether some received changes wait for changes this document does not hold.
    pub fn lacks_changes(&mut self) -> bool {
        !self.am.get_missing_deps(&[]).is_empty()
    }

    /// The signatures `sigs` that came with changes just applied, with those of changes an
    /// earlier message left waiting here that these completed: Automerge keeps a change whose
    /// dependencies it lacks and applies it once they arrive, in a later message (its sync
    /// sends such changes after a Bloom filter's false positive), so its signature must wait
    /// with it. The signatures of changes still waiting are kept, at most [`MAX_WAITING_SIGS`]
    /// (past that, a waiting change counts as unsigned when it applies, and is fetched again).
    pub fn with_waiting_sigs<'a>(&mut self, sigs: &'a [ChangeSig]) -> Cow<'a, [ChangeSig]> {
        let earlier = std::mem::take(&mut self.waiting_sigs);
        let waits = self.lacks_changes();
        if earlier.is_empty() && !waits {
            return Cow::Borrowed(sigs);
        }
        let mut all = sigs.to_vec();
        all.extend(earlier);
        if waits {
            let still: Vec<ChangeSig> = all
                .iter()
                .filter(|s| !self.has_change(&s.hash))
                .take(MAX_WAITING_SIGS)
                .copied()
                .collect();
            self.waiting_sigs = still;
        }
        Cow::Owned(all)
    }

    /// Whether the document holds (has applied) the change with this hash. Looks in the change
    /// graph only: building the change itself (`get_change_by_hash`) reads the whole op set.
    pub fn has_change(&mut self, hash: &[u8; 32]) -> bool {
        self.am
            .get_change_meta_by_hash(&ChangeHash(*hash))
            .is_some()
    }

    /// Applies changes received from a peer (the bytes of `save()` or `save_after()`).
    pub fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), CoreError> {
        let id = self.id;
        super::check_chunks(id, bytes)?;
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.am.load_incremental(bytes)
        }))
        .map_err(|_| {
            CoreError::Malformed(format!("changes to document {id} could not be decoded"))
        })?
        .map_err(|e| CoreError::Malformed(format!("changes to document {id}: {e}")));
        self.count_waiting([bytes])?;
        applied.map(|_| ())
    }

    /// Changes Automerge keeps waiting here for changes they depend on: how many, and their
    /// bytes (uncompressed). At most [`MAX_WAITING_CHANGES`] and [`MAX_WAITING_BYTES`].
    pub fn waiting(&self) -> (usize, u64) {
        (self.waiting.len(), self.waiting.values().sum())
    }

    /// After received changes (the chunks `chunks`) were given to Automerge: counts the changes
    /// it keeps waiting for others (Automerge gives no count: those of the chunks that did not
    /// apply, with those still waiting from earlier), and drops every waiting change, with
    /// their signatures, when they pass [`MAX_WAITING_CHANGES`] or [`MAX_WAITING_BYTES`].
    /// Costs nothing more when nothing waits, which is every message of an honest exchange
    /// but the one after a Bloom filter's false positive.
    fn count_waiting<'a>(
        &mut self,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), CoreError> {
        if !self.lacks_changes() {
            self.waiting.clear();
            return Ok(());
        }
        let mut waiting = std::mem::take(&mut self.waiting);
        waiting.retain(|hash, _| !self.has_change(&hash.0));
        for chunk in chunks {
            // Bytes that got this far were split and parsed by `check_chunks` already: what
            // fails here is skipped, as Automerge refused it too.
            let Ok(pieces) = super::chunks::split(chunk) else {
                continue;
            };
            for (kind, piece) in pieces {
                // A whole document's changes refer to each other only: none of them waits.
                if !matches!(kind, 1 | 2) {
                    continue;
                }
                let parsed = std::panic::catch_unwind(|| automerge::Change::try_from(piece));
                let Ok(Ok(change)) = parsed else { continue };
                let hash = change.hash();
                if !self.has_change(&hash.0) {
                    waiting.insert(hash, change.raw_bytes().len() as u64);
                }
            }
        }
        let bytes: u64 = waiting.values().sum();
        if waiting.len() > MAX_WAITING_CHANGES || bytes > MAX_WAITING_BYTES {
            self.drop_waiting()?;
        } else {
            self.waiting = waiting;
        }
        Ok(())
    }

    /// Drops every change Automerge keeps waiting, and their signatures: the document is
    /// rebuilt from its applied changes (it has no other way to let them go). What the store
    /// holds is unchanged.
    fn drop_waiting(&mut self) -> Result<(), CoreError> {
        let id = self.id;
        let bytes = self.save_applied();
        let actor = self.am.get_actor().clone();
        let mut am = std::panic::catch_unwind(|| automerge::AutoCommit::load(&bytes))
            .map_err(|_| CoreError::Malformed(format!("document {id} could not be rebuilt")))?
            .map_err(|e| CoreError::Malformed(format!("rebuilding document {id}: {e}")))?;
        am.set_actor(actor);
        self.am = am;
        self.waiting.clear();
        self.waiting_sigs.clear();
        Ok(())
    }

    /// The next Automerge sync message for a peer whose sync state is `state`, encoded, with
    /// the hashes of the changes it carries (their signatures go with it); `None` when there is
    /// nothing to say. A panic inside Automerge (a state damaged by an earlier hostile message)
    /// is "nothing to say": the session's next receive reports the damage.
    pub fn sync_message(&mut self, state: &mut State) -> Option<(Vec<u8>, Vec<ChangeHash>)> {
        let before = state.sent_hashes.clone();
        let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.am.sync().generate_sync_message(state)
        }))
        .unwrap_or(None)?;
        let sent = state.sent_hashes.difference(&before).copied().collect();
        Some((msg.encode(), sent))
    }

    /// A sync state for a peer whose heads are known only by a test (`is_theirs`, true of the
    /// peer's heads set: reconciliation gives a hash of them). When they are a state this
    /// document passed through (one of its last changes as the only head, as after one member
    /// edited while the other was away), the state starts from there, as if a sync had reached
    /// it: the first message carries every change since, and the exchange takes one message
    /// each way instead of two or three. Otherwise a fresh state.
    pub fn primed_sync_state(&mut self, is_theirs: impl Fn(&[ChangeHash]) -> bool) -> State {
        let mut state = State::new();
        let changes = self.am.get_changes_meta(&[]);
        let found = changes
            .iter()
            .rev()
            .take(PRIME_LOOKBACK)
            .map(|c| c.hash)
            .find(|h| is_theirs(std::slice::from_ref(h)));
        if let Some(head) = found {
            let theirs = vec![head];
            state.shared_heads = theirs.clone();
            state.their_heads = Some(theirs.clone());
            state.their_need = Some(Vec::new());
            state.their_have = Some(vec![automerge::sync::Have {
                last_sync: theirs,
                bloom: automerge::sync::BloomFilter::default(),
            }]);
        }
        state
    }

    /// Whether this document holds exactly the heads the peer's last message (received into
    /// `state`) said the peer holds: then both hold the same, and the exchange needs nothing more
    /// from the peer, whatever this side still tells it. Only the peer's word: a peer that lies
    /// about its heads only ends its own exchange sooner.
    pub fn in_step_with(&mut self, state: &State) -> bool {
        let Some(theirs) = state.their_heads.as_ref() else {
            return false;
        };
        let mut theirs = theirs.clone();
        let mut mine = self.heads();
        theirs.sort_unstable();
        mine.sort_unstable();
        theirs == mine
    }

    /// Applies a peer's encoded Automerge sync message.
    pub fn receive_sync(&mut self, state: &mut State, bytes: &[u8]) -> Result<(), CoreError> {
        let id = self.id;
        let msg = Message::decode(bytes)
            .map_err(|e| CoreError::Malformed(format!("sync message for document {id}: {e}")))?;
        check_sync_message(&msg)
            .map_err(|e| CoreError::Malformed(format!("sync message for document {id}: {e}")))?;
        let mut inflated: u64 = 0;
        for chunk in msg.changes.iter() {
            inflated += super::chunks::check_inflation(
                chunk,
                super::chunks::MAX_INFLATED_BYTES.saturating_sub(inflated),
            )
            .map_err(|e| super::chunk_error(id, e))?;
        }
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.am.sync().receive_sync_message(state, msg)
        }))
        .map_err(|_| {
            CoreError::Malformed(format!(
                "sync message for document {id} could not be applied"
            ))
        })?
        .map_err(|e| CoreError::Malformed(format!("sync message for document {id}: {e}")));
        // What the peer said it can take beyond changes is forgotten: given it, Automerge
        // answers with the whole document instead of the changes the peer lacks whenever they
        // are more than a third of the document's — for a note of a few changes, any edit (a
        // 2.5 KB document for a 300-byte change). A member lacking a document gets it whole
        // through the session's `Docs`; a sync carries changes.
        state.their_capabilities = None;
        // The message went to Automerge: decoded again, only when changes wait.
        let again = if self.lacks_changes() {
            Message::decode(bytes).ok()
        } else {
            None
        };
        self.count_waiting(again.iter().flat_map(|m| m.changes.iter()))?;
        applied
    }
}

impl Doc {
    /// Keeps only the changes `keep` accepts and those they depend on being kept: the document
    /// is rebuilt from them (changes that need a dropped one are dropped too). Returns how many
    /// changes were dropped.
    ///
    /// What the store holds stays known when none of it was dropped: the next
    /// [`Doc::take_unsaved_changes`] hands out the changes after it, not the whole document
    /// (which, pushed as changes, would carry the signatures of the new ones only).
    pub fn retain_changes(
        &mut self,
        keep: impl Fn(&ChangeHash) -> bool,
    ) -> Result<usize, CoreError> {
        let all = self.am.get_changes(&[]);
        let total = all.len();
        let mut kept: std::collections::HashSet<ChangeHash> = std::collections::HashSet::new();
        let mut changes = Vec::new();
        for c in all {
            if keep(&c.hash()) && c.deps().iter().all(|d| kept.contains(d)) {
                kept.insert(c.hash());
                changes.push(c);
            }
        }
        let actor = self.am.get_actor().clone();
        let mut fresh = automerge::AutoCommit::new();
        fresh
            .apply_changes(changes)
            .map_err(|e| CoreError::Malformed(format!("rebuilding document {}: {e}", self.id)))?;
        fresh.set_actor(actor);
        let removed = total - kept.len();
        // Changes waiting for others are not carried into the rebuilt document.
        self.waiting_sigs.clear();
        self.waiting.clear();
        self.am = fresh;
        if !self.saved.iter().all(|h| kept.contains(h)) {
            self.saved = Vec::new();
        }
        Ok(removed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::doc::{Draft, Edit, NoteEdit};
    use crate::id::DocId;
    use crate::key::DeviceKey;

    fn edit(doc: &mut Doc, by: MemberId, text: &str) {
        let e = Edit {
            by,
            at: 4000,
            under: &[],
        };
        let change = NoteEdit {
            body: Some(text.into()),
            ..NoteEdit::default()
        };
        doc.edit_text(e, change).unwrap();
    }

    /// A note "Plan" by one member, edited once: the member and the note.
    fn plan_with_one_edit() -> (MemberId, Doc) {
        let me = DeviceKey::from_secret([1; 32]).member_id();
        let by = Edit {
            by: me,
            at: 3000,
            under: &[],
        };
        let draft = Draft {
            title: "Plan".into(),
            ..Draft::default()
        };
        let mut a = Doc::new_note(DocId::random(), by, draft).unwrap();
        edit(&mut a, me, "one");
        (me, a)
    }

    /// Messages until neither side has anything to say; the count.
    fn exchange(a: &mut Doc, sa: &mut State, b: &mut Doc, sb: &mut State) -> usize {
        let mut sent = 0;
        for _ in 0..10 {
            let mut quiet = true;
            if let Some((m, _)) = a.sync_message(sa) {
                sent += 1;
                quiet = false;
                b.receive_sync(sb, &m).unwrap();
            }
            if let Some((m, _)) = b.sync_message(sb) {
                sent += 1;
                quiet = false;
                a.receive_sync(sa, &m).unwrap();
            }
            if quiet {
                break;
            }
        }
        sent
    }

    /// A peer's first sync message for `b` with its `have` replaced by `bloom` (encoded as
    /// Automerge encodes a filter: entries, bits per entry, probes, then the bits).
    fn with_bloom(b: &mut Doc, bloom: &[u8]) -> Vec<u8> {
        let (m, _) = b.sync_message(&mut State::new()).unwrap();
        let mut msg = Message::decode(&m).unwrap();
        msg.have = vec![automerge::sync::Have {
            last_sync: Vec::new(),
            bloom: automerge::sync::BloomFilter::try_from(bloom).unwrap(),
        }];
        msg.encode()
    }

    #[test]
    fn a_bloom_filter_that_asks_for_billions_of_probes_is_refused() {
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        edit(&mut b, me, "two");
        // One entry, 8 bits per entry (one byte of bits), 2³² − 1 probes: Automerge would
        // allocate 16 GiB for the probes of each change it tests.
        let hostile = with_bloom(&mut b, &[1, 8, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
        let mut state = State::new();
        let why = a
            .receive_sync(&mut state, &hostile)
            .unwrap_err()
            .to_string();
        assert!(why.contains("4294967295 probes"), "{why}");
        assert!(state.their_have.is_none(), "nothing of it is kept");
        let screened = screen_sync(&[], a.id(), &hostile, &[]);
        assert!(matches!(screened, crate::doc::Screened::Malformed));
        // Zero bits per entry (a division by zero in Automerge), and too many bytes of filter.
        let zero = with_bloom(&mut b, &[1, 0, 7]);
        let why = a
            .receive_sync(&mut State::new(), &zero)
            .unwrap_err()
            .to_string();
        assert!(why.contains("0 bits per entry"), "{why}");
        let mut large = vec![0x80, 0x80, 0x20, 10, 7]; // 2¹⁹ entries of 10 bits: 640 KiB
        large.resize(large.len() + (1 << 19) * 10 / 8, 0xff);
        let why = a
            .receive_sync(&mut State::new(), &with_bloom(&mut b, &large))
            .unwrap_err()
            .to_string();
        assert!(why.contains("Bloom filters of more than"), "{why}");
        // Automerge's own filter passes, and the exchange goes on.
        let mut sa = State::new();
        let mut sb = State::new();
        assert!(exchange(&mut a, &mut sa, &mut b, &mut sb) > 0);
        assert_eq!(a.heads(), b.heads());
    }

    #[test]
    fn a_state_kept_without_a_large_filter_still_converges() {
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        // 3,400 changes on each side since they parted: filters of 4,250 bytes.
        let other = DeviceKey::from_secret([2; 32]).member_id();
        for k in 0..3400 {
            edit(&mut a, me, &format!("a{k}"));
            edit(&mut b, other, &format!("b{k}"));
        }
        // Each side answers from its state, then keeps it trimmed, as the node does.
        fn say(doc: &mut Doc, state: &mut State, trimmed: &mut usize) -> Option<Vec<u8>> {
            let msg = doc.sync_message(state).map(|(m, _)| m);
            let held = state.their_have.is_some();
            assert!(keep_sync_state(state));
            *trimmed += usize::from(held && state.their_have.is_none());
            msg
        }
        let (mut sa, mut sb) = (State::new(), State::new());
        let mut trimmed = 0;
        for _ in 0..20 {
            let mut quiet = true;
            if let Some(m) = say(&mut a, &mut sa, &mut trimmed) {
                quiet = false;
                b.receive_sync(&mut sb, &m).unwrap();
            }
            if let Some(m) = say(&mut b, &mut sb, &mut trimmed) {
                quiet = false;
                a.receive_sync(&mut sa, &m).unwrap();
            }
            if quiet {
                break;
            }
        }
        assert!(trimmed > 0, "the filters were let go");
        assert_eq!(a.heads(), b.heads());
        assert_eq!(a.note().unwrap().body, b.note().unwrap().body);
        // A state whose peer names more heads than that is not kept at all.
        let mut many = State::new();
        many.their_heads = Some(vec![ChangeHash([1; 32]); MAX_KEPT_HASHES + 1]);
        assert!(!keep_sync_state(&mut many));
        let mut needy = State::new();
        needy.their_need = Some(vec![ChangeHash([1; 32]); MAX_KEPT_HASHES + 1]);
        assert!(keep_sync_state(&mut needy));
        assert!(needy.their_need.is_none());
    }

    #[test]
    fn a_primed_state_sends_the_missing_changes_in_its_first_message() {
        let (me, mut a) = plan_with_one_edit();
        let saved = a.save();
        let mut b = Doc::load(a.id(), [saved.as_slice()], me).unwrap();
        let b_heads = b.heads();
        // A edits while B is away.
        edit(&mut a, me, "one two");
        edit(&mut a, me, "one two three");
        let mut sa = a.primed_sync_state(|h| h == b_heads.as_slice());
        assert_eq!(sa.their_heads.as_deref(), Some(b_heads.as_slice()));
        let (first, sent) = a.sync_message(&mut sa).unwrap();
        assert_eq!(sent.len(), 2, "the first message carries both changes");
        let mut sb = State::new();
        assert!(!b.in_step_with(&sb), "nothing heard from A yet");
        b.receive_sync(&mut sb, &first).unwrap();
        assert_eq!(b.heads(), a.heads());
        assert!(b.in_step_with(&sb), "B holds the heads A said it holds");
        // What is left is B's acknowledgement.
        assert_eq!(exchange(&mut a, &mut sa, &mut b, &mut sb), 1);
        // Heads it never passed through: a fresh state.
        let fresh = a.primed_sync_state(|_| false);
        assert!(fresh.their_heads.is_none());
    }

    #[test]
    fn a_fresh_sync_after_an_edit_sends_the_change_not_the_whole_document() {
        let me = DeviceKey::from_secret([1; 32]).member_id();
        let by = Edit {
            by: me,
            at: 3000,
            under: &[],
        };
        let draft = Draft {
            title: "Plan".into(),
            body: (0..400u64)
                .map(|i| format!("w{} ", i.wrapping_mul(2_654_435_761) % 1_000_003))
                .collect(),
            ..Draft::default()
        };
        let mut a = Doc::new_note(DocId::random(), by, draft).unwrap();
        let whole = a.save().len();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        edit(&mut a, me, "changed while B was away");
        // B, behind, starts from a fresh state (it cannot prime: A's heads are new to it).
        let (mut sa, mut sb) = (State::new(), State::new());
        let (hello, _) = b.sync_message(&mut sb).unwrap();
        a.receive_sync(&mut sa, &hello).unwrap();
        assert!(!a.in_step_with(&sa), "B said it holds less than A");
        let (answer, sent) = a.sync_message(&mut sa).unwrap();
        assert_eq!(sent.len(), 1, "only the edit");
        assert!(
            answer.len() < whole / 2,
            "{} bytes against the document's {whole}",
            answer.len()
        );
        b.receive_sync(&mut sb, &answer).unwrap();
        assert_eq!(b.heads(), a.heads());
    }

    #[test]
    fn dropping_changes_the_store_lacks_leaves_what_it_holds_saved() {
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        let held = b.heads();
        // B takes a change, then drops it (unsigned, refused, waiting for ops).
        edit(&mut a, me, "one two");
        b.apply_changes(&a.take_unsaved().unwrap()).unwrap();
        let new = b.changes_since(&held);
        assert_eq!(new.len(), 1);
        assert_eq!(b.retain_changes(|h| h.0 != new[0].hash).unwrap(), 1);
        assert_eq!(b.heads(), held);
        assert!(
            b.take_unsaved().is_none(),
            "the store holds all that is left"
        );
        // The next change is handed out alone, not with the whole document.
        edit(&mut b, me, "one, from B");
        let (_, changes) = b.take_unsaved_changes().unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        // Dropping a change the store holds: what it holds is no longer known.
        let last = changes[0].hash;
        b.retain_changes(|h| h.0 != last).unwrap();
        let (_, all) = b.take_unsaved_changes().unwrap();
        assert_eq!(all.len(), b.changes_since(&[]).len());
    }

    #[test]
    fn a_waiting_changes_signature_waits_with_it_and_comes_back_when_it_applies() {
        let key = DeviceKey::from_secret([1; 32]);
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        let sign = |doc: &mut Doc| {
            let (bytes, changes) = doc.take_unsaved_changes().unwrap();
            let sig = ChangeSig::sign(
                &key,
                crate::SpaceId::from_bytes([3; 16]),
                doc.id(),
                &changes[0].hash,
            );
            (bytes, sig)
        };
        edit(&mut a, me, "one two");
        let (first, first_sig) = sign(&mut a);
        edit(&mut a, me, "one two three");
        let (second, second_sig) = sign(&mut a);
        // Nothing waits: the signatures are handed back as they came.
        assert!(matches!(b.with_waiting_sigs(&[]), Cow::Borrowed(_)));
        // The second change first: it waits, and so does its signature.
        b.apply_changes(&second).unwrap();
        assert!(b.lacks_changes());
        assert_eq!(b.with_waiting_sigs(&[second_sig]).len(), 1);
        // The first completes it: both signatures come with it, and nothing is kept.
        b.apply_changes(&first).unwrap();
        assert!(!b.lacks_changes());
        let both: Vec<[u8; 32]> = b
            .with_waiting_sigs(&[first_sig])
            .iter()
            .map(|s| s.hash)
            .collect();
        assert_eq!(both, vec![first_sig.hash, second_sig.hash]);
        assert!(matches!(b.with_waiting_sigs(&[]), Cow::Borrowed(_)));
        // A rebuilt document holds no waiting changes, nor their signatures.
        edit(&mut a, me, "four");
        let (fourth, fourth_sig) = sign(&mut a);
        edit(&mut a, me, "five");
        let (fifth, fifth_sig) = sign(&mut a);
        b.apply_changes(&fifth).unwrap();
        assert_eq!(b.with_waiting_sigs(&[fifth_sig]).len(), 1);
        b.retain_changes(|_| true).unwrap();
        b.apply_changes(&fourth).unwrap();
        assert!(
            !b.has_change(&fifth_sig.hash),
            "the rebuild dropped the waiting change"
        );
        assert_eq!(b.with_waiting_sigs(&[fourth_sig]).len(), 1);
    }

    #[test]
    fn a_document_saved_while_a_change_waits_loads_without_it() {
        // A sync message's change whose dependency has not come waits in the document; a save
        // meanwhile (a compaction, a rebuild) is what the store keeps and peers receive whole.
        // With the waiting change in it, it did not load: the store's copy was broken, and
        // every peer that sent the document was taken for a hostile one.
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        edit(&mut a, me, "one two");
        let first = a.take_unsaved().unwrap();
        edit(&mut a, me, "one two three");
        let second = a.take_unsaved().unwrap();
        b.apply_changes(&second).unwrap();
        assert!(b.lacks_changes());
        let saved = b.save();
        let mut loaded = Doc::load(b.id(), [saved.as_slice()], me).expect("the saved copy loads");
        assert!(!loaded.lacks_changes());
        assert_eq!(loaded.note().unwrap().body, "one");
        // The waiting change is still held in memory, and applies once its dependency comes.
        b.apply_changes(&first).unwrap();
        assert!(!b.lacks_changes());
        assert_eq!(b.note().unwrap().body, "one two three");
    }

    /// A sync message carrying `changes` (a peer's chunk of them) and nothing else.
    fn message_with(changes: Vec<u8>) -> Vec<u8> {
        Message {
            heads: Vec::new(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![changes].into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
        .encode()
    }

    /// Sends `later` (changes that all need one withheld) to `b` one sync message each, as a
    /// hostile member can; returns how often the waiting changes were dropped.
    fn send_waiting(b: &mut Doc, later: &[Vec<u8>]) -> usize {
        let mut state = State::new();
        let mut drops = 0;
        for change in later {
            let (before, _) = b.waiting();
            b.receive_sync(&mut state, &message_with(change.clone()))
                .unwrap();
            let (n, bytes) = b.waiting();
            assert!(n <= MAX_WAITING_CHANGES, "{n} changes wait");
            assert!(bytes <= MAX_WAITING_BYTES, "{bytes} bytes wait");
            if n <= before {
                drops += 1;
                assert!(!b.lacks_changes(), "a drop leaves nothing waiting");
            }
        }
        drops
    }

    #[test]
    fn a_peer_cannot_make_a_document_keep_more_than_the_bound_of_waiting_changes() {
        // Automerge keeps a change whose dependency it lacks, waiting, and gives no count of
        // them: a member that withholds one change and sends the changes after it, message by
        // message, grew a cached document's queue without end.
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        edit(&mut a, me, "one two");
        let first = a.take_unsaved().unwrap();
        // Many small changes: the count's bound.
        let mut body = String::from("one two");
        let mut small = Vec::new();
        for i in 0..2 * MAX_WAITING_CHANGES + 10 {
            body.push_str(&format!(" w{i}"));
            edit(&mut a, me, &body);
            small.push(a.take_unsaved().unwrap());
        }
        assert_eq!(send_waiting(&mut b, &small), 2, "dropped at each bound");
        // A few large ones: the bytes' bound.
        let mut large = Vec::new();
        for i in 0..8 {
            body.push_str(&format!(" {i}{}", "x".repeat(60 * 1024)));
            edit(&mut a, me, &body);
            large.push(a.take_unsaved().unwrap());
        }
        assert!(send_waiting(&mut b, &large) >= 1);
        // Once the withheld change comes (with what a sync then asks for again), everything
        // applies: nothing that counts was lost.
        b.apply_changes(&first).unwrap();
        for change in small.iter().chain(&large) {
            b.apply_changes(change).unwrap();
        }
        assert!(!b.lacks_changes());
        assert_eq!(b.waiting(), (0, 0));
        assert_eq!(b.heads(), a.heads());
        assert_eq!(b.note().unwrap().body, body);
    }

    #[test]
    fn a_peer_cannot_make_a_document_keep_more_than_the_bound_of_waiting_signatures() {
        let key = DeviceKey::from_secret([1; 32]);
        let (me, mut a) = plan_with_one_edit();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], me).unwrap();
        edit(&mut a, me, "one two");
        let _first = a.take_unsaved().unwrap();
        edit(&mut a, me, "one two three");
        let second = a.take_unsaved().unwrap();
        b.apply_changes(&second).unwrap();
        // A message whose change waits, padded with signatures of changes that do not exist.
        let junk: Vec<ChangeSig> = (0..3 * MAX_WAITING_SIGS)
            .map(|i| {
                let mut hash = [0u8; 32];
                hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
                ChangeSig::sign(&key, crate::SpaceId::from_bytes([3; 16]), b.id(), &hash)
            })
            .collect();
        b.with_waiting_sigs(&junk);
        assert_eq!(b.waiting_sigs.len(), MAX_WAITING_SIGS);
        // And again: what is kept does not grow.
        b.with_waiting_sigs(&junk);
        assert_eq!(b.waiting_sigs.len(), MAX_WAITING_SIGS);
    }
}
