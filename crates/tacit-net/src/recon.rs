//! Range-based set reconciliation over (document id, heads hash).
//!
//! Two peers each hold a set of items, one per document of a space: the document id and a short
//! hash of its Automerge heads. They want the ids on which they differ (held by one side only, or
//! with different heads) without sending the sets. Document ids are random, so the id space splits
//! evenly: a *range* is every id that starts with a given prefix of hex digits ([`Prefix`]).
//!
//! A side sends a range's [`Fingerprint`] (count and XOR of item hashes). The other side answers
//! each with [`Part::Same`] when its own fingerprint is equal, with its items when it holds few
//! ([`ITEMS_MAX`]), or with the fingerprints of the 16 sub-ranges (256, two digits deeper, when
//! it holds many: [`SPLIT_TWICE_ABOVE`]); whoever receives items knows
//! both sides of that range and so the differing ids. A range the asking side holds nothing of
//! is answered with `Same`, and the answering side sends everything it holds there. A reconnect with nothing changed costs one
//! fingerprint each way; with `k` changed documents among `n` it costs about `k · log16(n)`
//! fingerprints and `k` small item lists — in proportion to what changed, not to `n`.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A document id's raw bytes.
pub type Id = [u8; 16];
/// A short hash of a document's heads: equal heads give equal hashes.
pub type HeadsHash = [u8; 8];

/// A range held by fewer items than this is answered with its items rather than split.
pub const ITEMS_MAX: u32 = 64;
/// A range held by more items than this is split two digits deep (256 ranges) rather than one:
/// a round trip less for a large set, where one digit would leave ranges too large for items.
pub const SPLIT_TWICE_ABOVE: u32 = 16 * ITEMS_MAX;
/// Deepest prefix, in hex digits: 32 digits name one id.
const MAX_DEPTH: u8 = 32;

pub use tacit_core::heads_hash;

/// Whether no range among `parts` repeats or contains another. True of every honest message
/// (the ranges one step answers about are disjoint, and so are the answers); a message whose
/// ranges overlap would have the receiver go over the same items again and again (4,096 root
/// fingerprints make a million reply parts), so a session refuses it.
pub fn disjoint(parts: &[Part]) -> bool {
    let mut seen: std::collections::HashSet<Prefix> =
        std::collections::HashSet::with_capacity(parts.len());
    if !parts.iter().all(|p| seen.insert(*p.prefix())) {
        return false;
    }
    parts.iter().all(|p| {
        let mut up = p.prefix().parent();
        while let Some(q) = up {
            if seen.contains(&q) {
                return false;
            }
            up = q.parent();
        }
        true
    })
}

/// The ids that start with the first `depth` hex digits of `bits` (the rest of `bits` is zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

/// A range's summary: how many items it holds and the XOR of their hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Items in the range.
    pub count: u32,
    /// XOR of the items' hashes.
    pub xor: [u8; 16],
}

fn item_hash(id: &Id, heads: &HeadsHash) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(id);
    h.update(heads);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize()[..16]);
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
}

impl Part {
    /// The range this part is about.
    pub fn prefix(&self) -> &Prefix {
        match self {
            Part::Fingerprint { prefix, .. }
            | Part::Same { prefix }
            | Part::Items { prefix, .. } => prefix,
        }
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
    items: BTreeMap<Id, HeadsHash>,
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
}

impl ItemSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an item.
    pub fn insert(&mut self, id: Id, heads: HeadsHash) {
        self.items.insert(id, heads);
    }

    /// Removes an item.
    pub fn remove(&mut self, id: &Id) {
        self.items.remove(id);
    }

    /// The heads hash of `id`, if held.
    pub fn get(&self, id: &Id) -> Option<&HeadsHash> {
        self.items.get(id)
    }

    /// Every item, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&Id, &HeadsHash)> {
        self.items.iter()
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
        self.items.range(prefix.bounds())
    }

    /// The summary of a range.
    pub fn fingerprint(&self, prefix: &Prefix) -> Fingerprint {
        let mut fp = Fingerprint::default();
        for (id, heads) in self.range(prefix) {
            fp.count += 1;
            for (x, y) in fp.xor.iter_mut().zip(item_hash(id, heads)) {
                *x ^= y;
            }
        }
        fp
    }

    /// The first step: the whole set's fingerprint.
    pub fn start(&self) -> Part {
        Part::Fingerprint {
            prefix: Prefix::ROOT,
            fp: self.fingerprint(&Prefix::ROOT),
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
                if mine == *fp {
                    return Ok((vec![Part::Same { prefix }], Diff::default()));
                }
                let children = prefix.children();
                if mine.count <= ITEMS_MAX || children.is_empty() {
                    let items = self.range(&prefix).map(|(i, h)| (*i, *h)).collect();
                    return Ok((vec![Part::Items { prefix, items }], Diff::default()));
                }
                if fp.count == 0 {
                    // The peer holds nothing here: every item of this side is to send, and the
                    // range is done.
                    let diff = Diff {
                        mine: self.range(&prefix).map(|(i, _)| *i).collect(),
                        ..Diff::default()
                    };
                    return Ok((vec![Part::Same { prefix }], diff));
                }
                let twice: Vec<Prefix> = if mine.count > SPLIT_TWICE_ABOVE {
                    children.iter().flat_map(Prefix::children).collect()
                } else {
                    Vec::new()
                };
                let ranges = if twice.is_empty() { children } else { twice };
                let replies = ranges
                    .into_iter()
                    .map(|range| Part::Fingerprint {
                        prefix: range,
                        fp: self.fingerprint(&range),
                    })
                    .collect();
                Ok((replies, Diff::default()))
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

impl FromIterator<(Id, HeadsHash)> for ItemSet {
    fn from_iter<T: IntoIterator<Item = (Id, HeadsHash)>>(iter: T) -> Self {
        Self {
            items: iter.into_iter().collect(),
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
    /// the number of messages, round trips and parts exchanged.
    fn run(a: &ItemSet, b: &ItemSet) -> (Diff, Diff, usize, usize) {
        let mut diff_a = Diff::default();
        let mut diff_b = Diff::default();
        let mut to_b: Vec<Part> = vec![a.start()];
        let mut round_trips = 0;
        let mut parts = 1;
        let mut queue = VecDeque::new();
        loop {
            if to_b.is_empty() {
                break;
            }
            round_trips += 1;
            let mut to_a = Vec::new();
            for p in to_b.drain(..) {
                let (reply, d) = b.receive(&p).unwrap();
                diff_b.extend(d);
                to_a.extend(reply);
            }
            parts += to_a.len();
            for p in to_a {
                let (reply, d) = a.receive(&p).unwrap();
                diff_a.extend(d);
                queue.extend(reply);
            }
            to_b.extend(queue.drain(..));
            parts += to_b.len();
        }
        (diff_a, diff_b, round_trips, parts)
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
        let a = set(0..10_000, 1);
        let (da, db, rt, parts) = run(&a, &a.clone());
        assert!(da.is_empty() && db.is_empty());
        assert_eq!((rt, parts), (1, 2));
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
        let mut items: Vec<_> = many.items.into_iter().collect();
        assert!(matches!(
            a.receive(&Part::Items {
                prefix: Prefix::ROOT,
                items: items.clone()
            }),
            Err(ReconError::TooManyItems(100))
        ));
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
}
