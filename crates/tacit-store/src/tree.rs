//! Verified streaming of blobs: BLAKE3's own hash tree, its leaves groups of 16 KiB.
//!
//! A blob's hash is its plain BLAKE3 hash. BLAKE3 hashes 1 KiB chunks and joins them in a binary
//! tree; the tree's nodes down to groups of 16 chunks are kept beside the blob (its *outboard*),
//! so that any group can be checked against the hash on its own, and a download checked as it
//! streams. Below a group nothing is kept: a group is hashed whole, with the hasher's SIMD paths
//! (eight chunks at once with AVX2), where checking each 1 KiB chunk on its own (as the bao
//! format does) runs one chunk at a time, and takes an outboard 16 times larger (6% of the file
//! against 0.4%).
//!
//! ```text
//! tree of a blob of 5 groups         g0 g1 g2 g3 g4 (the last may be short)
//!                                    ── p(g0,g1)=A  p(g2,g3)=B  p(A,B)=C  p(C,g4)=root
//! outboard (post-order, as built):   A B C root        each parent: left CV | right CV (64 B)
//! stream from group k (pre-order):   length (u64 LE) | root | C | A | g0 | g1 | B | g2 | g3 | g4
//!                                    (subtrees wholly before group k left out)
//! ```
//!
//! The outboard is written in post-order, as a hasher meets the nodes, so it is built appending
//! only, from bytes or from the groups' checked chaining values; the parent over groups `a..b`
//! that is reached from the root by `r` right turns is the `(b − 2 − r)`-th. A blob of one group
//! has no parent: its hash is the group's root hash, and its outboard is empty.

use std::fs::File;
use std::io::{self, Read, Write};

use blake3::hazmat::{ChainingValue, HasherExt as _, Mode, merge_subtrees_non_root};

/// Bytes of a group, the tree's leaf.
pub const GROUP: u64 = 16 * 1024;
/// Bytes of one parent node (two chaining values).
const PARENT: usize = 64;
/// Bytes of the length that starts a stream.
const HEADER: usize = 8;

/// Groups of a blob of `len` bytes (the empty blob has one, empty).
pub fn groups(len: u64) -> u64 {
    len.div_ceil(GROUP).max(1)
}

/// Bytes of group `index` of a blob of `len` bytes.
fn group_len(len: u64, index: u64) -> u64 {
    len.saturating_sub(index * GROUP).min(GROUP)
}

/// Groups in the left subtree of a subtree of `n` ≥ 2 groups: the largest power of two below
/// `n`, as BLAKE3 splits (every group but the last is whole).
fn left_groups(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The chaining value of group `index` (of a blob of more than one group).
pub fn group_cv(index: u64, bytes: &[u8]) -> ChainingValue {
    let mut h = blake3::Hasher::new();
    h.set_input_offset(index * GROUP);
    h.update(bytes);
    h.finalize_non_root()
}

fn parent_cv(left: &ChainingValue, right: &ChainingValue) -> ChainingValue {
    merge_subtrees_non_root(left, right, Mode::Hash)
}

fn parent_root(left: &ChainingValue, right: &ChainingValue) -> blake3::Hash {
    blake3::hazmat::merge_subtrees_root(left, right, Mode::Hash)
}

fn split_parent(node: &[u8; PARENT]) -> (ChainingValue, ChainingValue) {
    let mut l = [0u8; 32];
    let mut r = [0u8; 32];
    l.copy_from_slice(node.get(..32).unwrap_or(&[0; 32]));
    r.copy_from_slice(node.get(32..).unwrap_or(&[0; 32]));
    (l, r)
}

// ---- building an outboard ------------------------------------------------------------------

/// Builds an outboard from the groups' chaining values, in order, appending to `out`.
pub struct TreeWriter<W: Write> {
    out: W,
    /// Chaining values of the subtrees not yet joined, the last on top.
    stack: Vec<ChainingValue>,
    groups: u64,
}

impl<W: Write> TreeWriter<W> {
    /// An empty tree writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            stack: Vec::new(),
            groups: 0,
        }
    }

    /// Groups added.
    pub fn groups(&self) -> u64 {
        self.groups
    }

    /// Adds the chaining value of the next group; the subtrees it completes are joined first
    /// (lazily, as BLAKE3 does: the last subtree stays open until [`TreeWriter::finish`]).
    pub fn push(&mut self, cv: ChainingValue) -> io::Result<()> {
        while self.stack.len() > self.groups.count_ones() as usize {
            self.join(false)?;
        }
        self.stack.push(cv);
        self.groups += 1;
        Ok(())
    }

    fn join(&mut self, root: bool) -> io::Result<Option<blake3::Hash>> {
        let (Some(right), Some(left)) = (self.stack.pop(), self.stack.pop()) else {
            return Ok(None);
        };
        self.out.write_all(&left)?;
        self.out.write_all(&right)?;
        if root {
            return Ok(Some(parent_root(&left, &right)));
        }
        self.stack.push(parent_cv(&left, &right));
        Ok(None)
    }

    /// Joins what is left: the root hash (`None` with fewer than two groups, whose hash is not
    /// made of chaining values) and the writer.
    pub fn finish(mut self) -> io::Result<(Option<blake3::Hash>, W)> {
        let mut root = None;
        while self.stack.len() > 1 {
            let last = self.stack.len() == 2;
            root = self.join(last)?;
        }
        Ok((root, self.out))
    }
}

/// Hashes bytes into their BLAKE3 hash and outboard at once.
pub struct TreeHasher<W: Write> {
    tree: TreeWriter<W>,
    /// The group being filled: hashed once a byte after it arrives (the last group of a blob of
    /// one group is hashed as the root, so it waits to know).
    group: Vec<u8>,
}

impl<W: Write> TreeHasher<W> {
    /// A hasher writing the outboard to `out`.
    pub fn new(out: W) -> Self {
        Self {
            tree: TreeWriter::new(out),
            group: Vec::with_capacity(GROUP as usize),
        }
    }

    /// Takes the next bytes.
    pub fn update(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.group.len() == GROUP as usize {
                let cv = group_cv(self.tree.groups(), &self.group);
                self.tree.push(cv)?;
                self.group.clear();
            }
            // Whole groups with more after them are hashed where they are, not copied.
            while self.group.is_empty() && bytes.len() > GROUP as usize {
                let (now, rest) = bytes.split_at(GROUP as usize);
                let cv = group_cv(self.tree.groups(), now);
                self.tree.push(cv)?;
                bytes = rest;
            }
            let n = (GROUP as usize - self.group.len()).min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            self.group.extend_from_slice(now);
            bytes = rest;
        }
        Ok(())
    }

    /// The hash of everything taken, and the outboard's writer.
    pub fn finish(mut self) -> io::Result<(blake3::Hash, W)> {
        if self.tree.groups() == 0 {
            let (_, out) = self.tree.finish()?;
            return Ok((blake3::hash(&self.group), out));
        }
        let cv = group_cv(self.tree.groups(), &self.group);
        self.tree.push(cv)?;
        match self.tree.finish()? {
            (Some(root), out) => Ok((root, out)),
            (None, _) => Err(io::Error::other("a tree of two groups or more has a root")),
        }
    }
}

// ---- serving a slice -----------------------------------------------------------------------

/// A subtree still to walk: groups `a..b`, reached by `rights` right turns.
#[derive(Clone, Copy)]
struct Node {
    a: u64,
    b: u64,
    rights: u64,
}

/// Reads the stream of a blob from a group on (see the module's description), from its bytes
/// and its outboard.
pub struct SliceReader {
    /// Read where the next group starts; each group straight into the caller's buffer.
    data: File,
    /// Bytes of the current group still to read.
    group_left: usize,
    outboard: File,
    len: u64,
    /// The first group sent.
    from: u64,
    stack: Vec<Node>,
    /// The piece being handed out, and how much of it has been.
    piece: Vec<u8>,
    at: usize,
    /// Outboard bytes read ahead, and where they start.
    cache: Vec<u8>,
    cache_at: u64,
}

/// Outboard bytes read at a time.
const OUTBOARD_READ: usize = 64 * 1024;

impl SliceReader {
    /// The stream of the blob in `data` (whose outboard is `outboard`) from byte `offset`, which
    /// must start a group (or be the blob's end).
    pub fn new(data: File, outboard: File, offset: u64) -> io::Result<Self> {
        let len = data.metadata()?.len();
        if !offset.is_multiple_of(GROUP) || offset > len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{offset} is not where a group of the blob starts"),
            ));
        }
        let n = groups(len);
        let from = offset / GROUP;
        let mut data = data;
        io::Seek::seek(&mut data, io::SeekFrom::Start(offset))?;
        let mut piece = Vec::with_capacity(GROUP as usize);
        piece.extend_from_slice(&len.to_le_bytes());
        Ok(Self {
            data,
            group_left: 0,
            outboard,
            len,
            from,
            stack: vec![Node {
                a: 0,
                b: n,
                rights: 0,
            }],
            piece,
            at: 0,
            cache: Vec::new(),
            cache_at: 0,
        })
    }

    /// The parent over groups `a..b` reached by `rights` right turns.
    fn parent(&mut self, node: Node) -> io::Result<[u8; PARENT]> {
        let index = node.b - 2 - node.rights;
        let at = index * PARENT as u64;
        let end = at + PARENT as u64;
        if at < self.cache_at || end > self.cache_at + self.cache.len() as u64 {
            use std::os::unix::fs::FileExt as _;
            self.cache.resize(OUTBOARD_READ, 0);
            let mut got = 0;
            while got < self.cache.len() {
                let n = self.outboard.read_at(
                    self.cache.get_mut(got..).unwrap_or_default(),
                    at + got as u64,
                )?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            self.cache.truncate(got);
            self.cache_at = at;
            if got < PARENT {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the outboard is shorter than its blob's tree",
                ));
            }
        }
        let from = usize::try_from(at - self.cache_at).unwrap_or(usize::MAX);
        let mut out = [0u8; PARENT];
        out.copy_from_slice(
            self.cache
                .get(from..from + PARENT)
                .ok_or_else(|| io::Error::other("outboard read out of range"))?,
        );
        Ok(out)
    }

    /// Moves to the next node: a parent's bytes in `piece`, or a group's length in
    /// `group_left`; false at the end.
    fn next_piece(&mut self) -> io::Result<bool> {
        self.piece.clear();
        self.at = 0;
        while let Some(node) = self.stack.pop() {
            if node.b <= self.from {
                continue;
            }
            if node.b - node.a == 1 {
                self.group_left = usize::try_from(group_len(self.len, node.a)).unwrap_or(0);
                return Ok(true);
            }
            let parent = self.parent(node)?;
            self.piece.extend_from_slice(&parent);
            let mid = node.a + left_groups(node.b - node.a);
            self.stack.push(Node {
                a: mid,
                b: node.b,
                rights: node.rights + 1,
            });
            self.stack.push(Node {
                a: node.a,
                b: mid,
                rights: node.rights,
            });
            return Ok(true);
        }
        Ok(false)
    }
}

impl Read for SliceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // A group may be empty (the empty blob's one): then the next.
        while self.at >= self.piece.len() {
            if self.group_left > 0 {
                let want = self.group_left.min(out.len());
                let n = self.data.read(out.get_mut(..want).unwrap_or_default())?;
                if n == 0 && want > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the blob is shorter than it was",
                    ));
                }
                self.group_left -= n;
                return Ok(n);
            }
            if !self.next_piece()? {
                return Ok(0);
            }
        }
        // The rest of the piece, read as a byte slice reads.
        let n = self.piece.get(self.at..).unwrap_or_default().read(out)?;
        self.at += n;
        Ok(n)
    }
}

/// The hash of `bytes` and their stream from the group holding `offset`, built in memory: for
/// tests and fuzzing, independently of the outboard ([`SliceReader`] serves the same from
/// files).
pub fn encode_stream(bytes: &[u8], offset: u64) -> (blake3::Hash, Vec<u8>) {
    let len = bytes.len() as u64;
    let from = offset / GROUP;
    let n = groups(len);
    // The length, every parent (one fewer than the groups) and the bytes, at most.
    let parents = usize::try_from(n.saturating_sub(1)).unwrap_or(0);
    let mut out = Vec::with_capacity(HEADER + parents * PARENT + bytes.len());
    out.extend_from_slice(&len.to_le_bytes());
    if n == 1 {
        if from == 0 {
            out.extend_from_slice(bytes);
        }
        return (blake3::hash(bytes), out);
    }
    /// The chaining value of the subtree over groups `a..b`, written in pre-order unless it lies
    /// wholly before group `from`.
    fn subtree(bytes: &[u8], a: u64, b: u64, from: u64, out: &mut Vec<u8>) -> ChainingValue {
        if b - a > 1 {
            let (l, r) = children(bytes, a, b, from, out);
            return parent_cv(&l, &r);
        }
        let start = usize::try_from(a * GROUP).unwrap_or(usize::MAX);
        let end = start.saturating_add(GROUP as usize).min(bytes.len());
        let group = bytes.get(start..end).unwrap_or_default();
        if b > from {
            out.extend_from_slice(group);
        }
        group_cv(a, group)
    }
    /// The children's chaining values of the parent over groups `a..b`, the parent written
    /// first (unless wholly before group `from`).
    fn children(
        bytes: &[u8],
        a: u64,
        b: u64,
        from: u64,
        out: &mut Vec<u8>,
    ) -> (ChainingValue, ChainingValue) {
        let at = (b > from).then(|| {
            out.extend_from_slice(&[0u8; PARENT]);
            out.len() - PARENT
        });
        let mid = a + left_groups(b - a);
        let left = subtree(bytes, a, mid, from, out);
        let right = subtree(bytes, mid, b, from, out);
        if let Some(node) = at.and_then(|at| out.get_mut(at..at + PARENT)) {
            node[..32].copy_from_slice(&left);
            node[32..].copy_from_slice(&right);
        }
        (left, right)
    }
    let (l, r) = children(bytes, 0, n, from, &mut out);
    (parent_root(&l, &r), out)
}

// ---- checking a stream ---------------------------------------------------------------------

/// A stream that states another length than the one asked for: the holder's and the asker's
/// (its note's) sizes of the blob differ, and either may be the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthDiffers {
    /// The length the stream states.
    pub stated: u64,
    /// The length asked for.
    pub len: u64,
}

impl std::fmt::Display for LengthDiffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the stream is of {} bytes, the blob of {}",
            self.stated, self.len
        )
    }
}

impl std::error::Error for LengthDiffers {}

/// Reads the stream of the blob `hash` of `len` bytes from byte `offset` (which starts a group)
/// out of `src`, checking every node and group against the hash before it is used, and hands
/// each group's bytes to `sink` in order, with its chaining value (`None` for a blob of one
/// group). Errors: `InvalidData` for anything that does not match (a wrong node or group; a
/// stated length other than `len` carries a [`LengthDiffers`]); `UnexpectedEof` when the stream
/// ends early; the sink's and the source's own errors. Reads nothing after the last group.
pub fn verify_stream(
    mut src: impl Read,
    hash: &blake3::Hash,
    len: u64,
    offset: u64,
    mut sink: impl FnMut(&[u8], Option<ChainingValue>) -> io::Result<()>,
) -> io::Result<()> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    if !offset.is_multiple_of(GROUP) || offset > len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{offset} is not where a group of the blob starts"),
        ));
    }
    let mut header = [0u8; HEADER];
    src.read_exact(&mut header)?;
    let stated = u64::from_le_bytes(header);
    if stated != len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            LengthDiffers { stated, len },
        ));
    }
    let n = groups(len);
    let mut buf = vec![0u8; usize::try_from(group_len(len, 0)).unwrap_or(0)];
    if n == 1 {
        if offset == len && len > 0 {
            return Ok(());
        }
        src.read_exact(&mut buf)?;
        if blake3::hash(&buf) != *hash {
            return Err(bad("the bytes do not match the hash".into()));
        }
        return sink(&buf, None);
    }
    let from = offset / GROUP;
    // Subtrees to walk with the chaining value each must have (the root: the hash itself).
    let mut stack: Vec<(u64, u64, ChainingValue)> = vec![(0, n, *hash.as_bytes())];
    let mut node = [0u8; PARENT];
    while let Some((a, b, expected)) = stack.pop() {
        if b <= from {
            continue;
        }
        if b - a == 1 {
            buf.resize(usize::try_from(group_len(len, a)).unwrap_or(0), 0);
            src.read_exact(&mut buf)?;
            let cv = group_cv(a, &buf);
            if cv != expected {
                return Err(bad(format!("group {a} does not match the hash")));
            }
            sink(&buf, Some(cv))?;
            continue;
        }
        src.read_exact(&mut node)?;
        let (left, right) = split_parent(&node);
        let ok = if a == 0 && b == n {
            parent_root(&left, &right) == *hash
        } else {
            parent_cv(&left, &right) == expected
        };
        if !ok {
            return Err(bad(format!(
                "the tree node over groups {a}..{b} does not match the hash"
            )));
        }
        let mid = a + left_groups(b - a);
        stack.push((mid, b, right));
        stack.push((a, mid, left));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blob(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
            .collect()
    }

    /// (hash, outboard) of `bytes`, fed in pieces of `piece`.
    fn hashed(bytes: &[u8], piece: usize) -> (blake3::Hash, Vec<u8>) {
        let mut h = TreeHasher::new(Vec::new());
        for p in bytes.chunks(piece.max(1)) {
            h.update(p).unwrap();
        }
        h.finish().unwrap()
    }

    fn on_disk(dir: &std::path::Path, bytes: &[u8], outboard: &[u8]) -> (File, File) {
        std::fs::write(dir.join("d"), bytes).unwrap();
        std::fs::write(dir.join("o"), outboard).unwrap();
        (
            File::open(dir.join("d")).unwrap(),
            File::open(dir.join("o")).unwrap(),
        )
    }

    const SIZES: [usize; 12] = [
        0,
        1,
        1024,
        16_384,
        16_385,
        32_768,
        40_000,
        65_536,
        65_537,
        5 * 16_384 + 3,
        300_000,
        (1 << 20) + 7,
    ];

    #[test]
    fn the_hash_is_blake3s_and_the_outboard_the_same_in_any_pieces() {
        for len in SIZES {
            let bytes = blob(len, 1);
            let (hash, outboard) = hashed(&bytes, len + 1);
            assert_eq!(hash, blake3::hash(&bytes), "{len}");
            assert_eq!(
                outboard.len() as u64,
                (groups(len as u64) - 1) * 64,
                "{len}"
            );
            for piece in [1, 1000, 16_384, 16_385, 70_000] {
                assert_eq!(
                    hashed(&bytes, piece),
                    (hash, outboard.clone()),
                    "{len}/{piece}"
                );
            }
            // From the groups' chaining values alone, the same.
            if groups(len as u64) > 1 {
                let mut w = TreeWriter::new(Vec::new());
                for (i, g) in bytes.chunks(GROUP as usize).enumerate() {
                    w.push(group_cv(i as u64, g)).unwrap();
                }
                assert_eq!(w.finish().unwrap(), (Some(hash), outboard.clone()));
            }
        }
    }

    #[test]
    fn a_stream_from_any_group_checks_and_gives_the_bytes_after_it() {
        let dir = tempfile::tempdir().unwrap();
        for len in SIZES {
            let bytes = blob(len, 2);
            let (hash, outboard) = hashed(&bytes, 4096);
            for from in (0..=len as u64).step_by(GROUP as usize) {
                let (d, o) = on_disk(dir.path(), &bytes, &outboard);
                let mut stream = Vec::new();
                SliceReader::new(d, o, from)
                    .unwrap()
                    .read_to_end(&mut stream)
                    .unwrap();
                // The same as the stream built in memory, without an outboard.
                assert!(
                    encode_stream(&bytes, from) == (hash, stream.clone()),
                    "{len} from {from}"
                );
                let mut got = Vec::new();
                let mut cvs = Vec::new();
                verify_stream(&stream[..], &hash, len as u64, from, |b, cv| {
                    got.extend_from_slice(b);
                    cvs.push(cv);
                    Ok(())
                })
                .unwrap();
                assert!(got == bytes[from as usize..], "{len} from {from}");
                if groups(len as u64) > 1 {
                    for (i, cv) in cvs.iter().enumerate() {
                        let g = from / GROUP + i as u64;
                        let at = (g * GROUP) as usize;
                        let end = (at + GROUP as usize).min(len);
                        assert_eq!(*cv, Some(group_cv(g, &bytes[at..end])));
                    }
                }
                // Short at any point: an early end, never a pass.
                for cut in [0, 7, 8, stream.len() / 2, stream.len().saturating_sub(1)] {
                    if cut >= stream.len() {
                        continue;
                    }
                    let e = verify_stream(&stream[..cut], &hash, len as u64, from, |_, _| Ok(()))
                        .unwrap_err();
                    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{len} cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn any_changed_byte_of_a_stream_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        for len in [1usize, 16_384, 40_000, 300_000] {
            let bytes = blob(len, 3);
            let (hash, outboard) = hashed(&bytes, 4096);
            let (d, o) = on_disk(dir.path(), &bytes, &outboard);
            let mut stream = Vec::new();
            SliceReader::new(d, o, 0)
                .unwrap()
                .read_to_end(&mut stream)
                .unwrap();
            let step = (stream.len() / 97).max(1);
            for at in (0..stream.len()).step_by(step) {
                let mut bad = stream.clone();
                bad[at] ^= 0x10;
                let mut got = 0usize;
                let e = verify_stream(&bad[..], &hash, len as u64, 0, |b, _| {
                    got += b.len();
                    Ok(())
                })
                .unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{len} byte {at}");
                // Nothing after the bad byte was handed out.
                assert!(got <= at, "{len}: {got} bytes out before byte {at}");
            }
            // The right bytes under another hash, or another length: refused.
            let other = blake3::hash(b"another");
            let e = verify_stream(&stream[..], &other, len as u64, 0, |_, _| Ok(())).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            let e =
                verify_stream(&stream[..], &hash, len as u64 + 1, 0, |_, _| Ok(())).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            let differs = e.get_ref().and_then(|e| e.downcast_ref::<LengthDiffers>());
            assert_eq!(
                differs,
                Some(&LengthDiffers {
                    stated: len as u64,
                    len: len as u64 + 1
                })
            );
        }
    }

    #[test]
    fn a_hostile_length_costs_nothing_up_front_and_offsets_must_start_a_group() {
        let hash = blake3::hash(b"x");
        let mut stream = u64::MAX.to_le_bytes().to_vec();
        stream.extend_from_slice(&[0u8; 4096]);
        // The length must be the one the note states: refused before anything else is read.
        let e = verify_stream(&stream[..], &hash, 5, 0, |_, _| Ok(())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Even when it states it, the first node read decides.
        let e = verify_stream(&stream[..], &hash, u64::MAX, 0, |_, _| Ok(())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let e = verify_stream(&stream[..], &hash, 100_000, 100, |_, _| Ok(())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let dir = tempfile::tempdir().unwrap();
        let (d, o) = on_disk(dir.path(), &[1u8; 40_000], &[]);
        assert!(SliceReader::new(d, o, 1000).is_err());
    }
}
