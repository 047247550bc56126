//! Range-based set reconciliation over (document id, heads hash).
//!
//! Two peers each hold a set of items, one per document of a space: the document id and a short
//! hash of its Automerge heads. They want the ids on which they differ (held by one side only, or
//! with different heads) without sending the sets. Document ids are random, so the id space splits
//! evenly: a *range* is every id that starts with a given prefix of hex digits ([`Prefix`]).
//!
//! A side sends a range's [`Fingerprint`] (count and XOR of item hashes), or a [`Part::Split`]:
//! the fingerprints of a range's 16 (or 256) sub-ranges at once. The other side answers each range
//! with [`Part::Same`] when its own fingerprint is equal, with its items when it holds few
//! ([`ITEMS_MAX`]), or with a split of its own (two digits deep when it holds many:
//! [`SPLIT_TWICE_ABOVE`]); whoever receives items knows both sides of that range and so the
//! differing ids. A range the asking side holds nothing of is answered with `Same`, and the
//! answering side sends everything it holds there. The sub-ranges of a split that are equal are
//! answered together, by one `Same` about the split range.
//!
//! The first step is sized to the set ([`ItemSet::start`]): a large set starts with the split that
//! its peer would otherwise answer its root fingerprint with, a round trip less. A reconnect with
//! nothing changed costs that first step and one `Same`; with `k` changed documents among `n` it
//! costs about `k · log16(n)` fingerprints and `k` small item lists — in proportion to what
//! changed, not to `n`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A document id's raw bytes.
pub type Id = [u8; 16];
/// A short hash of a document's heads: equal heads give equal hashes.
pub type HeadsHash = [u8; 8];

/// A range held by at most this many items is answered with its items rather than split.
pub const ITEMS_MAX: u32 = 64;
/// A range held by more items than this is split two digits deep (256 ranges) rather than one:
/// a round trip less for a large set, where one digit would leave ranges too large for items.
pub const SPLIT_TWICE_ABOVE: u32 = 16 * ITEMS_MAX;
/// Deepest prefix, in hex digits: 32 digits name one id.
const MAX_DEPTH: u8 = 32;

pub use tacit_core::heads_hash;

/// Whether no range among `parts` repeats or contains another, `Same` parts aside (a `Same`
/// about a split range may follow the answers about some of its sub-ranges; receiving one costs
/// a lookup, or the sub-ranges of a split the receiver itself sent). True of every honest
/// message (the ranges one step answers about are disjoint, and so are the answers); a message
/// whose ranges overlap would have the receiver go over the same items again and again (4,096
/// root fingerprints make a million reply parts), so a session refuses it.
pub fn disjoint(parts: &[Part]) -> bool {
    let mut same: HashSet<Prefix> = HashSet::new();
    let mut seen: HashSet<Prefix> = HashSet::with_capacity(parts.len());
    let unique = parts.iter().all(|p| match p {
        Part::Same { prefix } => same.insert(*prefix),
        _ => seen.insert(*p.prefix()),
    });
    if !unique {
        return false;
    }
    seen.iter().all(|p| {
        let mut up = p.parent();
        while let Some(q) = up {
            if seen.contains(&q) {
                return false;
            }
            up = q.parent();
        }
        true
    })
}

/// The weight of a message's parts: what the receiver compares for them.
pub fn weight(parts: &[Part]) -> usize {
    parts.iter().map(Part::weight).sum()
}

/// `parts` in order, in messages of at most `max` weight each (a part heavier than `max` alone).
pub fn chunks(parts: Vec<Part>, max: usize) -> Vec<Vec<Part>> {
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    let mut w = 0;
    for part in parts {
        if w + part.weight() > max && !chunk.is_empty() {
            out.push(std::mem::take(&mut chunk));
            w = 0;
        }
        w += part.weight();
        chunk.push(part);
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    out
}

/// The ids that start with the first `depth` hex digits of `bits` (the rest of `bits` is zero).
///
/// On the wire: the depth, then only the bytes that hold fixed digits (3 bytes for a two-digit
/// prefix, where the whole id would take 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// How many leading hex digits are fixed (0 = every id).
    pub depth: u8,
    /// The fixed digits, left-aligned; digits past `depth` are zero.
    pub bits: Id,
}

impl Prefix {
    /// The range one digit shorter, of which this one is a sub-range (`None` for the root).
    pub fn parent(&self) -> Option<Prefix> {
        let depth = self.depth.checked_sub(1)?;
        let mut bits = self.bits;
        let byte = usize::from(depth / 2);
        if depth % 2 == 0 {
            bits[byte] = 0;
        } else {
            bits[byte] &= 0xf0;
        }
        Some(Prefix { depth, bits })
    }

    /// Every id.
    pub const ROOT: Prefix = Prefix {
        depth: 0,
        bits: [0; 16],
    };

    /// Whether the prefix is well formed: at most 32 digits, zero past its depth.
    pub fn is_valid(&self) -> bool {
        self.depth <= MAX_DEPTH && self.bits == mask(&self.bits, self.depth)
    }

    /// The 16 ranges one digit longer, in id order; none for a full-length prefix.
    pub fn children(&self) -> Vec<Prefix> {
        if self.depth >= MAX_DEPTH {
            return Vec::new();
        }
        let byte = usize::from(self.depth / 2);
        let high = self.depth.is_multiple_of(2);
        (0u8..16)
            .map(|digit| {
                let mut bits = self.bits;
                bits[byte] |= if high { digit << 4 } else { digit };
                Prefix {
                    depth: self.depth + 1,
                    bits,
                }
            })
            .collect()
    }

    /// Whether `id` starts with this prefix.
    pub fn contains(&self, id: &Id) -> bool {
        mask(id, self.depth) == self.bits
    }

    /// Whether `other` is this range or one of its sub-ranges at most `levels` digits deeper.
    pub fn covers(&self, other: &Prefix, levels: u8) -> bool {
        other.depth >= self.depth
            && other.depth - self.depth <= levels
            && mask(&other.bits, self.depth) == self.bits
    }

    /// The sub-ranges `levels` digits deeper, in id order (16 or 256 for one or two levels).
    pub fn descendants(&self, levels: u8) -> Vec<Prefix> {
        let mut out = vec![*self];
        for _ in 0..levels {
            out = out.iter().flat_map(Prefix::children).collect();
        }
        out
    }

    /// Which of this range's sub-ranges `levels` digits deeper holds `id` (an id of the range).
    fn sub_index(&self, id: &Id, levels: u8) -> usize {
        (0..levels).fold(0usize, |acc, l| {
            let digit = usize::from(self.depth + l);
            let byte = id[digit / 2];
            let nibble = if digit.is_multiple_of(2) {
                byte >> 4
            } else {
                byte & 0x0f
            };
            acc * 16 + usize::from(nibble)
        })
    }

    /// The ids of this range as bounds on an ordered map.
    fn bounds(&self) -> (Bound<Id>, Bound<Id>) {
        let lo = u128::from_be_bytes(self.bits);
        // One past the last id with this prefix: the prefix plus one in its last fixed digit.
        let hi = match self.depth {
            0 => None,
            d => lo.checked_add(1u128 << (128 - 4 * u32::from(d.min(MAX_DEPTH)))),
        };
        (
            Bound::Included(self.bits),
            hi.map_or(Bound::Unbounded, |hi| Bound::Excluded(hi.to_be_bytes())),
        )
    }
}

/// `id` with every digit past `depth` set to zero.
fn mask(id: &Id, depth: u8) -> Id {
    let mut out = [0u8; 16];
    let depth = usize::from(depth.min(MAX_DEPTH));
    for (i, digit_pair) in out.iter_mut().enumerate() {
        let digits_here = depth.saturating_sub(i * 2).min(2);
        *digit_pair = match digits_here {
            2 => id[i],
            1 => id[i] & 0xf0,
            _ => 0,
        };
    }
    out
}

impl Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let depth = self.depth.min(MAX_DEPTH);
        let n = usize::from(depth).div_ceil(2);
        let mut buf = [0u8; 17];
        buf[0] = depth;
        buf[1..=n].copy_from_slice(&self.bits[..n]);
        s.serialize_bytes(&buf[..=n])
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Prefix;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a range prefix: its depth, then the bytes of its fixed digits")
            }
            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Prefix, E> {
                let (&depth, rest) = b
                    .split_first()
                    .ok_or_else(|| E::custom("an empty range prefix"))?;
                if depth > MAX_DEPTH || rest.len() != usize::from(depth).div_ceil(2) {
                    return Err(E::custom("a range prefix of the wrong length"));
                }
                let mut bits = [0u8; 16];
                bits[..rest.len()].copy_from_slice(rest);
                Ok(Prefix { depth, bits })
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

/// A range's summary: how many items it holds and the XOR of their hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Items in the range.
    pub count: u32,
    /// XOR of the items' hashes (64 bits: an honest collision, which would leave one difference
    /// unseen until the next change, has odds of 2^-64 per range compared).
    pub xor: [u8; 8],
}

impl Fingerprint {
    fn add(&mut self, item: &Item) {
        self.count += 1;
        for (x, y) in self.xor.iter_mut().zip(item.hash) {
            *x ^= y;
        }
    }
}

fn item_hash(id: &Id, heads: &HeadsHash) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(id);
    h.update(heads);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize()[..8]);
    out
}

/// One step of a reconciliation, about one range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// "This is what I hold in this range": answered with `Same`, `Items` or sub-range
    /// fingerprints.
    Fingerprint {
        /// The range.
        prefix: Prefix,
        /// The sender's summary of it.
        fp: Fingerprint,
    },
    /// "Nothing more to do about this range": it holds the same on both sides, or the sender
    /// found every difference in it (the peer held nothing there) and sends what it holds.
    Same {
        /// The range.
        prefix: Prefix,
    },
    /// "These are all my items in this range": the receiver now knows the differing ids, acts
    /// on them, and answers `Same`.
    Items {
        /// The range.
        prefix: Prefix,
        /// The sender's items in it, in id order.
        items: Vec<(Id, HeadsHash)>,
    },
    /// "This is what I hold in each sub-range of this range": the fingerprints of its 16
    /// sub-ranges (one digit deeper) or 256 (two digits), in id order. Answered about each
    /// sub-range, with one `Same` about this range for the sub-ranges that are equal — or about
    /// this range as a whole with `Items` when the answering side holds nothing in it.
    Split {
        /// The range split.
        prefix: Prefix,
        /// The sender's summaries of its sub-ranges.
        fps: Vec<Fingerprint>,
    },
}

impl Part {
    /// The range this part is about.
    pub fn prefix(&self) -> &Prefix {
        match self {
            Part::Fingerprint { prefix, .. }
            | Part::Same { prefix }
            | Part::Items { prefix, .. }
            | Part::Split { prefix, .. } => prefix,
        }
    }

    /// How many digits deeper a split goes: 1 for 16 sub-ranges, 2 for 256; `None` for any
    /// other part, and for a split of another size or past the deepest prefix.
    pub fn split_levels(&self) -> Option<u8> {
        let Part::Split { prefix, fps } = self else {
            return None;
        };
        let levels = match fps.len() {
            16 => 1,
            256 => 2,
            _ => return None,
        };
        (prefix.depth + levels <= MAX_DEPTH).then_some(levels)
    }

    /// What the part costs its receiver to compare: one, plus a split's fingerprints.
    pub fn weight(&self) -> usize {
        match self {
            Part::Split { fps, .. } => 1 + fps.len(),
            _ => 1,
        }
    }
}

/// How deep a range of `count` items at `prefix` is split: two digits (256 sub-ranges) when it
/// holds many and may go two deeper, else one.
fn split_depth(prefix: &Prefix, count: u32) -> u8 {
    if count > SPLIT_TWICE_ABOVE && prefix.depth + 2 <= MAX_DEPTH {
        2
    } else {
        1
    }
}

/// The ids on which two sets differ, from the point of view of the side that computed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Held here only: to send.
    pub mine: Vec<Id>,
    /// Held there only: to ask for.
    pub theirs: Vec<Id>,
    /// Held by both with different heads: to sync. With the peer's heads hash, which may name
    /// a state this side's document passed through (then this side knows what the peer lacks).
    pub both: Vec<(Id, HeadsHash)>,
}

impl Diff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.mine.is_empty() && self.theirs.is_empty() && self.both.is_empty()
    }

    /// Adds another range's differences.
    pub fn extend(&mut self, other: Diff) {
        self.mine.extend(other.mine);
        self.theirs.extend(other.theirs);
        self.both.extend(other.both);
    }
}

/// One side's set of items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemSet {
    items: BTreeMap<Id, Item>,
}

/// An item's heads hash, and its hash for fingerprints (computed once, when it is inserted: a
/// fingerprint of a range is then a walk and an XOR, not a SHA-256 per item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    heads: HeadsHash,
    hash: [u8; 8],
}

impl Item {
    fn new(id: &Id, heads: HeadsHash) -> Self {
        Self {
            heads,
            hash: item_hash(id, &heads),
        }
    }
}

/// Why a peer's reconciliation step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconError {
    /// A malformed prefix.
    #[error("malformed range prefix")]
    BadPrefix,
    /// Items outside the range they claim, or out of order.
    #[error("items outside their range or out of order")]
    BadItems,
    /// More items than a range answered with items may hold.
    #[error("{0} items in one range, more than {ITEMS_MAX}")]
    TooManyItems(usize),
    /// A split into neither 16 nor 256 sub-ranges, or past the deepest prefix.
    #[error("a split into {0} sub-ranges")]
    BadSplit(usize),
}

impl ItemSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an item.
    pub fn insert(&mut self, id: Id, heads: HeadsHash) {
        self.items.insert(id, Item::new(&id, heads));
    }

    /// Removes an item.
    pub fn remove(&mut self, id: &Id) {
        self.items.remove(id);
    }

    /// The heads hash of `id`, if held.
    pub fn get(&self, id: &Id) -> Option<&HeadsHash> {
        self.items.get(id).map(|item| &item.heads)
    }

    /// Every item, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&Id, &HeadsHash)> {
        self.items.iter().map(|(id, item)| (id, &item.heads))
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn range(&self, prefix: &Prefix) -> impl Iterator<Item = (&Id, &HeadsHash)> {
        self.items
            .range(prefix.bounds())
            .map(|(id, item)| (id, &item.heads))
    }

    /// The summary of a range.
    pub fn fingerprint(&self, prefix: &Prefix) -> Fingerprint {
        let mut fp = Fingerprint::default();
        for (_, item) in self.items.range(prefix.bounds()) {
            fp.add(item);
        }
        fp
    }

    /// The summaries of a range's sub-ranges `levels` digits deeper, in one pass over it.
    fn split(&self, prefix: &Prefix, levels: u8) -> Vec<Fingerprint> {
        let mut fps = vec![Fingerprint::default(); 1 << (4 * levels)];
        for (id, item) in self.items.range(prefix.bounds()) {
            fps[prefix.sub_index(id, levels)].add(item);
        }
        fps
    }

    /// The first step, sized to the set: the whole set's fingerprint when it is small enough to
    /// be answered with items; else the split the peer would answer that fingerprint with, sent
    /// at once (a round trip less for a set that differs, at the cost of 9 bytes a sub-range
    /// when nothing does).
    pub fn start(&self) -> Part {
        let count = u32::try_from(self.items.len()).unwrap_or(u32::MAX);
        if count <= ITEMS_MAX {
            return Part::Fingerprint {
                prefix: Prefix::ROOT,
                fp: self.fingerprint(&Prefix::ROOT),
            };
        }
        Part::Split {
            prefix: Prefix::ROOT,
            fps: self.split(&Prefix::ROOT, split_depth(&Prefix::ROOT, count)),
        }
    }

    /// Handles one part from the peer: what to send back (nothing for `Same`), and
    /// the differing ids this part revealed.
    pub fn receive(&self, part: &Part) -> Result<(Vec<Part>, Diff), ReconError> {
        let prefix = *part.prefix();
        if !prefix.is_valid() {
            return Err(ReconError::BadPrefix);
        }
        match part {
            Part::Same { .. } => Ok((Vec::new(), Diff::default())),
            Part::Fingerprint { fp, .. } => {
                let mine = self.fingerprint(&prefix);
                let (reply, diff) = self.answer(prefix, fp, &mine);
                Ok((vec![reply], diff))
            }
            Part::Split { fps, .. } => {
                let levels = part.split_levels().ok_or(ReconError::BadSplit(fps.len()))?;
                if self.range(&prefix).next().is_none() {
                    // Nothing here: one empty item list tells the peer to send all it holds.
                    let reply = if fps.iter().all(|fp| fp.count == 0) {
                        Part::Same { prefix }
                    } else {
                        Part::Items {
                            prefix,
                            items: Vec::new(),
                        }
                    };
                    return Ok((vec![reply], Diff::default()));
                }
                let mine = self.split(&prefix, levels);
                let mut replies = Vec::new();
                let mut diff = Diff::default();
                let mut any_same = false;
                for ((sub, theirs), mine) in
                    prefix.descendants(levels).into_iter().zip(fps).zip(&mine)
                {
                    let (reply, d) = self.answer(sub, theirs, mine);
                    diff.extend(d);
                    match reply {
                        Part::Same { .. } => any_same = true,
                        other => replies.push(other),
                    }
                }
                if any_same {
                    // Every sub-range not answered above is settled.
                    replies.push(Part::Same { prefix });
                }
                Ok((replies, diff))
            }
            Part::Items { items, .. } => {
                if items.len() > ITEMS_MAX as usize {
                    return Err(ReconError::TooManyItems(items.len()));
                }
                let ordered = items.windows(2).all(|w| w[0].0 < w[1].0);
                if !ordered || !items.iter().all(|(id, _)| prefix.contains(id)) {
                    return Err(ReconError::BadItems);
                }
                // `Same` tells the sender the range is settled: it is sent after whatever the
                // differences call for (`Have`, `Want`, `Sync`), so the sender, which waits for
                // it, never sees a moment with nothing to wait for before those arrive.
                Ok((vec![Part::Same { prefix }], self.diff(&prefix, items)))
            }
        }
    }

    /// The answer to the peer's fingerprint `theirs` of a range, given this side's `mine`.
    fn answer(&self, prefix: Prefix, theirs: &Fingerprint, mine: &Fingerprint) -> (Part, Diff) {
        if mine == theirs {
            return (Part::Same { prefix }, Diff::default());
        }
        if theirs.count == 0 {
            // The peer holds nothing here: every item of this side is to send, and the
            // range is done.
            let diff = Diff {
                mine: self.range(&prefix).map(|(i, _)| *i).collect(),
                ..Diff::default()
            };
            return (Part::Same { prefix }, diff);
        }
        if mine.count <= ITEMS_MAX || prefix.depth >= MAX_DEPTH {
            let items = self.range(&prefix).map(|(i, h)| (*i, *h)).collect();
            return (Part::Items { prefix, items }, Diff::default());
        }
        let fps = self.split(&prefix, split_depth(&prefix, mine.count));
        (Part::Split { prefix, fps }, Diff::default())
    }

    /// The differences between this set's range and the peer's items in it.
    fn diff(&self, prefix: &Prefix, theirs: &[(Id, HeadsHash)]) -> Diff {
        let theirs_map: BTreeMap<&Id, &HeadsHash> = theirs.iter().map(|(i, h)| (i, h)).collect();
        let mut diff = Diff::default();
        for (id, heads) in self.range(prefix) {
            match theirs_map.get(id) {
                None => diff.mine.push(*id),
                Some(h) if *h != heads => diff.both.push((*id, **h)),
                Some(_) => {}
            }
        }
        for (id, _) in theirs {
            if !self.items.contains_key(id) {
                diff.theirs.push(*id);
            }
        }
        diff
    }
}

/// Most ranges one side has asked about and awaits answers for, in one space: far above what
/// a space's largest set opens (200,000 documents open about 5,000 at once: 256 ranges of about
/// 780 documents, each split 16 ways into ranges answered with items), and a bound on what a
/// peer can make this side hold. Past it the peer is taken to be hostile.
pub const MAX_OPEN: usize = 65_536;

/// What a part from the peer is to the side that receives it, given what that side asked
/// ([`Asked::received`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// `Same`: settles the range if it was asked about; nothing to compare.
    Settles,
    /// Items or a split about a range this side asked about (or items about a range it split):
    /// compared, and it closes the question.
    Answer,
    /// A fingerprint or a split of the whole set that answers nothing: the first step of a
    /// reconciliation the peer starts.
    Opening,
    /// Items or a split about a range this side has not asked about, or whose answer came
    /// already: a replay, or (rarely) an answer that crossed a new start. Not compared.
    Unasked,
    /// A fingerprint of a part of the set, or a malformed prefix: no honest side sends one
    /// (a fingerprint only ever starts a reconciliation, about the whole set).
    Forbidden,
}

/// The ranges one side asked about in one space's reconciliation and awaits an answer for.
///
/// Each question is answered once: a part from the peer is compared only when it answers one
/// ([`Received::Answer`]) or starts a reconciliation ([`Received::Opening`]), so a peer
/// repeating an answer, or answering what was never asked, makes this side compare nothing.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// Ranges asked about with a fingerprint or items, or as a sub-range of a split.
    open: HashSet<Prefix>,
    /// Ranges this side split (how many digits deep) whose sub-ranges are not all answered: a
    /// part about the split range answers those left.
    splits: HashMap<Prefix, u8>,
}

impl Asked {
    /// Records what `part`, sent, asks about: the range of a fingerprint or an item list,
    /// every sub-range of a split, nothing for `Same`. `false` (and nothing recorded) when it
    /// would hold more than [`MAX_OPEN`] ranges.
    pub fn ask(&mut self, part: &Part) -> bool {
        let prefix = *part.prefix();
        match (part, part.split_levels()) {
            (Part::Same { .. }, _) => {}
            (Part::Split { .. }, Some(levels)) => {
                if self.len() + (1 << (4 * levels)) + 1 > MAX_OPEN {
                    return false;
                }
                self.open.extend(prefix.descendants(levels));
                self.splits.insert(prefix, levels);
            }
            // Never sent: this side's splits are 16 or 256 ways.
            (Part::Split { .. }, None) => {}
            _ => {
                if self.len() >= MAX_OPEN {
                    return false;
                }
                self.open.insert(prefix);
            }
        }
        true
    }

    /// What `part`, received, is (see [`Received`]). Nothing is closed: see
    /// [`Asked::answered`].
    pub fn received(&self, part: &Part) -> Received {
        let prefix = part.prefix();
        if !prefix.is_valid() {
            return Received::Forbidden;
        }
        let root = *prefix == Prefix::ROOT;
        match part {
            Part::Same { .. } => Received::Settles,
            Part::Fingerprint { .. } if root => Received::Opening,
            Part::Fingerprint { .. } => Received::Forbidden,
            Part::Items { .. }
                if self.open.contains(prefix) || self.splits.contains_key(prefix) =>
            {
                Received::Answer
            }
            // A range this side split is answered about its sub-ranges, or by items or
            // `Same` about it: never by a split of it.
            Part::Split { .. } if self.open.contains(prefix) => Received::Answer,
            Part::Split { .. } if root => Received::Opening,
            Part::Items { .. } | Part::Split { .. } => Received::Unasked,
        }
    }

    /// Closes what a part from the peer about `prefix` answers: the range, and the sub-ranges
    /// left of a split of it this side sent. The work is one lookup, or the split's sub-ranges
    /// (which this side chose to send).
    pub fn answered(&mut self, prefix: &Prefix) {
        self.open.remove(prefix);
        if let Some(levels) = self.splits.remove(prefix) {
            for sub in prefix.descendants(levels) {
                self.open.remove(&sub);
            }
        }
        if self.open.is_empty() {
            self.splits.clear();
        }
    }

    /// Whether the whole set is asked about: a first step of this side's (a fingerprint or a
    /// split of the root) not yet answered.
    pub fn asks_root(&self) -> bool {
        self.open.contains(&Prefix::ROOT) || self.splits.contains_key(&Prefix::ROOT)
    }

    /// Ranges asked about and not yet answered (split ranges not counted).
    pub fn ranges(&self) -> usize {
        self.open.len()
    }

    /// Ranges and split ranges held.
    pub fn len(&self) -> usize {
        self.open.len() + self.splits.len()
    }

    /// Whether nothing is awaited.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

impl FromIterator<(Id, HeadsHash)> for ItemSet {
    fn from_iter<T: IntoIterator<Item = (Id, HeadsHash)>>(iter: T) -> Self {
        Self {
            items: iter
                .into_iter()
                .map(|(id, heads)| (id, Item::new(&id, heads)))
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn id(n: u64) -> Id {
        let mut h = Sha256::new();
        h.update(n.to_le_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    }

    /// Runs a reconciliation between `a` (which starts) and `b`, returning each side's diff,
    /// the number of round trips and parts exchanged.
    fn run(a: &ItemSet, b: &ItemSet) -> (Diff, Diff, usize, usize) {
        let (da, db, rt, parts, _) = run_counting(a, b);
        (da, db, rt, parts)
    }

    /// [`run`], also counting the bytes of the parts as encoded on the wire.
    fn run_counting(a: &ItemSet, b: &ItemSet) -> (Diff, Diff, usize, usize, usize) {
        let size = |parts: &[Part]| postcard::to_stdvec(parts).unwrap().len();
        let mut diff_a = Diff::default();
        let mut diff_b = Diff::default();
        let mut to_b: Vec<Part> = vec![a.start()];
        let mut round_trips = 0;
        let mut parts = 1;
        let mut bytes = 0;
        let mut queue = VecDeque::new();
        loop {
            if to_b.is_empty() {
                break;
            }
            round_trips += 1;
            bytes += size(&to_b);
            let mut to_a = Vec::new();
            for p in to_b.drain(..) {
                let (reply, d) = b.receive(&p).unwrap();
                diff_b.extend(d);
                to_a.extend(reply);
            }
            parts += to_a.len();
            bytes += size(&to_a);
            for p in to_a {
                let (reply, d) = a.receive(&p).unwrap();
                diff_a.extend(d);
                queue.extend(reply);
            }
            to_b.extend(queue.drain(..));
            parts += to_b.len();
        }
        (diff_a, diff_b, round_trips, parts, bytes)
    }

    fn set(range: std::ops::Range<u64>, heads: u8) -> ItemSet {
        range.map(|n| (id(n), [heads; 8])).collect()
    }

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        let items: ItemSet = (0..2000).map(|n| (id(n), [0; 8])).collect();
        let mut stack = vec![Prefix::ROOT];
        while let Some(p) = stack.pop() {
            let by_range: Vec<Id> = items.range(&p).map(|(i, _)| *i).collect();
            let by_filter: Vec<Id> = items
                .items
                .keys()
                .filter(|i| p.contains(i))
                .copied()
                .collect();
            assert_eq!(by_range, by_filter, "prefix {p:?}");
            if p.depth < 3 {
                stack.extend(p.children());
            }
        }
        let mut top = Prefix {
            depth: 2,
            bits: [0; 16],
        };
        top.bits[0] = 0xff;
        assert_eq!(top.bounds().1, Bound::Unbounded);
        let mut odd = Prefix {
            depth: 3,
            bits: [0; 16],
        };
        odd.bits[0] = 0x12;
        odd.bits[1] = 0xf0;
        let mut hi = [0u8; 16];
        hi[0] = 0x13;
        assert_eq!(odd.bounds().1, Bound::Excluded(hi));
    }

    #[test]
    fn equal_sets_finish_in_one_round_trip() {
        for n in [0, 10, 1_000, 10_000] {
            let a = set(0..n, 1);
            let (da, db, rt, parts, bytes) = run_counting(&a, &a.clone());
            assert!(da.is_empty() && db.is_empty());
            // One first step, one `Same` back, whatever the step was.
            assert_eq!((rt, parts), (1, 2), "{n} items");
            // A large set's first step is its 256 sub-range fingerprints, 9 bytes or so each.
            assert!(bytes < 20 + 10 * 256, "{n} items: {bytes} bytes");
        }
    }

    #[test]
    fn ten_changed_among_ten_thousand_are_found_in_one_round_trip_and_few_bytes() {
        let a = set(0..10_000, 1);
        let mut b = a.clone();
        for n in 0..10 {
            b.insert(id(n * 997), [2; 8]);
        }
        let (da, db, rt, parts, bytes) = run_counting(&a, &b);
        // The starting side learns all ten from the item lists of the first answer; the second
        // round trip is only its `Same` for them.
        assert_eq!(da.both.len(), 10);
        assert!(db.is_empty());
        assert_eq!(rt, 2);
        assert!(parts < 30, "{parts} parts");
        // 256 fingerprints one way, ten item lists of about 39 items the other.
        assert!(bytes < 13_000, "{bytes} bytes");
    }

    #[test]
    fn prefixes_travel_as_their_fixed_bytes_and_malformed_ones_are_refused() {
        let mut p = Prefix::ROOT.children()[0xa].children()[0x5];
        let bytes = postcard::to_stdvec(&p).unwrap();
        assert_eq!(bytes, vec![2, 2, 0xa5], "length, depth, the digits' byte");
        assert_eq!(postcard::from_bytes::<Prefix>(&bytes).unwrap(), p);
        p = p.children()[7];
        let bytes = postcard::to_stdvec(&p).unwrap();
        assert_eq!(bytes, vec![3, 3, 0xa5, 0x70]);
        assert_eq!(postcard::from_bytes::<Prefix>(&bytes).unwrap(), p);
        let root = postcard::to_stdvec(&Prefix::ROOT).unwrap();
        assert_eq!(postcard::from_bytes::<Prefix>(&root).unwrap(), Prefix::ROOT);
        for bad in [
            vec![0],                // no depth
            vec![2, 3, 0xa5],       // depth 3 needs two bytes
            vec![2, 33, 0],         // deeper than an id
            vec![3, 1, 0xa5, 0x70], // depth 1 needs one byte
        ] {
            assert!(postcard::from_bytes::<Prefix>(&bad).is_err(), "{bad:?}");
        }
        // A digit past the depth decodes, and is refused as malformed on receipt.
        let stray: Prefix = postcard::from_bytes(&[2, 1, 0xa5]).unwrap();
        assert!(!stray.is_valid());
    }

    #[test]
    fn an_empty_side_is_sent_everything_after_one_round_trip() {
        let a = set(0..5000, 1);
        let (da, db, rt, parts) = run(&a, &ItemSet::new());
        assert_eq!(da.mine.len(), 5000);
        assert!(db.is_empty() && da.theirs.is_empty());
        // The differences are known after one round trip; the `Same` that settles the item
        // list (sent after the documents) makes it two.
        assert_eq!((rt, parts), (2, 3));
        // The empty side starts: the full side finds every id itself, with no item list sent.
        let (da, db, rt, parts) = run(&ItemSet::new(), &a);
        assert_eq!(db.mine.len(), 5000);
        assert!(da.is_empty());
        assert_eq!((rt, parts), (1, 2));
    }

    #[test]
    fn a_few_changes_among_many_are_found_in_proportion() {
        let a = set(0..10_000, 1);
        let mut b = a.clone();
        for n in 0..10 {
            b.insert(id(n * 997), [2; 8]); // changed on b
        }
        b.insert(id(20_000), [2; 8]); // new on b
        b.remove(&id(5)); // missing on b
        let (da, db, rt, parts) = run(&a, &b);
        assert_eq!(da.both.len() + db.both.len(), 10);
        // Whichever side found them: held by b only, and by a only.
        let b_only: Vec<Id> = da.theirs.iter().chain(&db.mine).copied().collect();
        let a_only: Vec<Id> = da.mine.iter().chain(&db.theirs).copied().collect();
        assert_eq!(b_only, vec![id(20_000)]);
        assert_eq!(a_only, vec![id(5)]);
        // 10,000 items split 256 ways at once: one fingerprint each way, 256 back, items.
        assert!(rt <= 3, "{rt} round trips");
        assert!(parts < 600, "{parts} parts");
    }

    #[test]
    fn hostile_parts_are_refused() {
        let a = set(0..10, 1);
        let bad = Prefix {
            depth: 1,
            bits: [0x01; 16],
        };
        assert_eq!(
            a.receive(&Part::Same { prefix: bad }),
            Err(ReconError::BadPrefix)
        );
        let mut outside = Prefix::ROOT.children()[3];
        outside.depth = 1;
        let foreign = (0..100).map(id).find(|i| !outside.contains(i)).unwrap();
        assert_eq!(
            a.receive(&Part::Items {
                prefix: outside,
                items: vec![(foreign, [0; 8])]
            }),
            Err(ReconError::BadItems)
        );
        let many = (0..100).map(|n| (id(n), [0; 8])).collect::<ItemSet>();
        let mut items: Vec<_> = many.iter().map(|(i, h)| (*i, *h)).collect();
        assert!(matches!(
            a.receive(&Part::Items {
                prefix: Prefix::ROOT,
                items: items.clone()
            }),
            Err(ReconError::TooManyItems(100))
        ));
        for n in [0, 15, 17, 4096] {
            assert_eq!(
                a.receive(&Part::Split {
                    prefix: Prefix::ROOT,
                    fps: vec![Fingerprint::default(); n],
                }),
                Err(ReconError::BadSplit(n))
            );
        }
        let deepest = Prefix {
            depth: MAX_DEPTH - 1,
            bits: [0; 16],
        };
        assert_eq!(
            a.receive(&Part::Split {
                prefix: deepest,
                fps: vec![Fingerprint::default(); 256],
            }),
            Err(ReconError::BadSplit(256))
        );
        items.truncate(3);
        items.swap(0, 1);
        assert_eq!(
            a.receive(&Part::Items {
                prefix: Prefix::ROOT,
                items
            }),
            Err(ReconError::BadItems)
        );
    }

    #[test]
    fn a_part_is_compared_only_when_it_answers_a_question_or_starts_an_exchange() {
        let items = |prefix| Part::Items {
            prefix,
            items: vec![],
        };
        let split = |prefix| Part::Split {
            prefix,
            fps: vec![Fingerprint::default(); 16],
        };
        let fp = |prefix| Part::Fingerprint {
            prefix,
            fp: Fingerprint::default(),
        };
        let child = Prefix::ROOT.children()[5];
        let mut asked = Asked::default();
        // Nothing asked: a start is an opening, anything else about a range is not compared.
        assert_eq!(asked.received(&fp(Prefix::ROOT)), Received::Opening);
        assert_eq!(asked.received(&split(Prefix::ROOT)), Received::Opening);
        assert_eq!(asked.received(&items(Prefix::ROOT)), Received::Unasked);
        assert_eq!(asked.received(&split(child)), Received::Unasked);
        assert_eq!(asked.received(&items(child)), Received::Unasked);
        // A fingerprint only ever starts an exchange, about the whole set.
        assert_eq!(asked.received(&fp(child)), Received::Forbidden);
        let stray = Prefix {
            depth: 1,
            bits: [0x01; 16],
        };
        assert_eq!(asked.received(&items(stray)), Received::Forbidden);
        // This side starts: its fingerprint of the whole set is answered once.
        assert!(asked.ask(&fp(Prefix::ROOT)));
        assert_eq!(asked.received(&items(Prefix::ROOT)), Received::Answer);
        assert_eq!(asked.received(&split(Prefix::ROOT)), Received::Answer);
        asked.answered(&Prefix::ROOT);
        assert!(asked.is_empty());
        assert_eq!(asked.received(&items(Prefix::ROOT)), Received::Unasked);
        // A split asks about each sub-range; items about the split range answer those left,
        // a split of it is the peer's own start.
        assert!(asked.ask(&split(Prefix::ROOT)));
        assert!(asked.asks_root());
        assert_eq!(asked.ranges(), 16);
        assert_eq!(asked.received(&items(child)), Received::Answer);
        assert_eq!(asked.received(&split(child)), Received::Answer);
        assert_eq!(asked.received(&items(Prefix::ROOT)), Received::Answer);
        assert_eq!(asked.received(&split(Prefix::ROOT)), Received::Opening);
        assert_eq!(
            asked.received(&items(child.children()[0])),
            Received::Unasked
        );
        asked.answered(&child);
        assert_eq!(asked.received(&items(child)), Received::Unasked);
        assert_eq!(asked.ranges(), 15);
        asked.answered(&Prefix::ROOT);
        assert!(asked.is_empty() && !asked.asks_root());
        // What one side holds asked is bounded.
        let mut asked = Asked::default();
        let deep: Vec<Prefix> = Prefix::ROOT
            .descendants(2)
            .iter()
            .flat_map(|p| p.descendants(2))
            .collect();
        assert_eq!(deep.len(), MAX_OPEN);
        for p in &deep {
            assert!(asked.ask(&items(*p)));
        }
        assert!(!asked.ask(&items(Prefix::ROOT)));
        assert!(!asked.ask(&split(deep[0].children()[0])));
        assert_eq!(asked.len(), MAX_OPEN);
    }
}
