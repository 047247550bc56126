//! A blob's outboard taken from its bao encoding as it streams in, instead of hashed again.
//!
//! A bao slice from offset 0 to the end is the whole combined encoding: the 8-byte length, then
//! the tree in pre-order, each parent node (64 bytes) before its children, the 1 KiB chunks at
//! the leaves. The outboard is the same without the chunks. So the outboard of a download from
//! the start is the stream's header and parent nodes, in the order they come; and bao's decoder,
//! which reads the same stream, checks every one of them against the hash before it hands out
//! the bytes below it, so once the decoder has verified the last chunk the outboard is proven
//! too. This saves hashing every byte a second time (half the CPU of a download).

use std::io::{self, Write};

/// Bytes of the length header.
const HEADER: usize = 8;
/// Bytes of one parent node (two chaining values).
const PARENT: usize = 64;
/// Bytes of one chunk.
const CHUNK: u64 = 1024;

/// What the stream carries next.
#[derive(Debug, Clone, Copy)]
enum Next {
    Header,
    Parent,
    Chunk,
    /// The whole tree has passed; anything after it is not part of the encoding.
    Done,
}

/// Splits a bao combined encoding into its outboard (written to `out`) and chunks (skipped).
pub(crate) struct StreamTree<W: Write> {
    out: W,
    /// Subtrees still to come, by their content length (the next one last).
    pending: Vec<u64>,
    next: Next,
    /// Bytes of the current header, parent or chunk still to come.
    left: u64,
    header: [u8; HEADER],
    content_len: Option<u64>,
}

impl<W: Write> StreamTree<W> {
    pub(crate) fn new(out: W) -> Self {
        Self {
            out,
            pending: Vec::new(),
            next: Next::Header,
            left: HEADER as u64,
            header: [0; HEADER],
            content_len: None,
        }
    }

    /// The content length the stream announced (once its header has passed).
    pub(crate) fn content_len(&self) -> Option<u64> {
        self.content_len
    }

    /// Whether the whole tree has passed.
    pub(crate) fn is_complete(&self) -> bool {
        matches!(self.next, Next::Done)
    }

    /// The writer, with everything written to it.
    pub(crate) fn into_inner(self) -> W {
        self.out
    }

    /// Takes the next bytes of the stream.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if matches!(self.next, Next::Done) {
                return Ok(());
            }
            let n = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            match self.next {
                Next::Header => {
                    let at = HEADER - self.left as usize;
                    self.header
                        .get_mut(at..at + n)
                        .unwrap_or_default()
                        .copy_from_slice(now);
                    self.out.write_all(now)?;
                }
                Next::Parent => self.out.write_all(now)?,
                Next::Chunk | Next::Done => {}
            }
            self.left -= n as u64;
            bytes = rest;
            if self.left == 0 {
                if matches!(self.next, Next::Header) {
                    let len = u64::from_le_bytes(self.header);
                    self.content_len = Some(len);
                    self.pending.push(len);
                }
                self.advance();
            }
        }
        Ok(())
    }

    /// Moves to the next node of the pre-order walk.
    fn advance(&mut self) {
        match self.pending.pop() {
            None => self.next = Next::Done,
            Some(len) if len > CHUNK => {
                let chunks = len.div_ceil(CHUNK);
                let left = largest_power_of_two_leq(chunks - 1) * CHUNK;
                self.pending.push(len - left);
                self.pending.push(left);
                self.next = Next::Parent;
                self.left = PARENT as u64;
            }
            Some(len) => {
                self.next = Next::Chunk;
                self.left = len;
                if len == 0 {
                    // The empty blob's single empty chunk.
                    self.advance();
                }
            }
        }
    }
}

/// The largest power of two at most `n` (`n` ≥ 1).
fn largest_power_of_two_leq(n: u64) -> u64 {
    1 << (63 - n.leading_zeros())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_outboard_split_from_the_stream_is_the_one_bao_makes() {
        for len in [
            0usize,
            1,
            1023,
            1024,
            1025,
            2048,
            2049,
            3000,
            4096,
            300_000,
            (1 << 20) + 7,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
            let (encoded, hash) = bao::encode::encode(&bytes);
            let (outboard, same) = bao::encode::outboard(&bytes);
            assert_eq!(hash, same);
            // Fed in uneven pieces, and with junk after the end.
            for piece in [1usize, 7, 64, 1000, 65_536] {
                let mut tree = StreamTree::new(Vec::new());
                let mut stream = encoded.clone();
                stream.extend_from_slice(b"after the end");
                for p in stream.chunks(piece) {
                    tree.feed(p).unwrap();
                }
                assert!(tree.is_complete(), "{len}");
                assert_eq!(tree.content_len(), Some(len as u64));
                assert!(tree.into_inner() == outboard, "{len} in pieces of {piece}");
            }
        }
    }

    #[test]
    fn a_stream_cut_short_is_not_complete() {
        let (encoded, _) = bao::encode::encode(vec![5u8; 5000]);
        let mut tree = StreamTree::new(Vec::new());
        tree.feed(encoded.get(..encoded.len() - 1).unwrap())
            .unwrap();
        assert!(!tree.is_complete());
    }

    #[test]
    fn a_hostile_length_header_costs_nothing_up_front() {
        // The decoder refuses such a stream at its first chunk; the splitter must not allocate or
        // loop by the length it was told.
        let mut tree = StreamTree::new(Vec::new());
        tree.feed(&u64::MAX.to_le_bytes()).unwrap();
        tree.feed(&[0u8; 4096]).unwrap();
        assert!(!tree.is_complete());
        assert!(tree.pending.len() < 130);
    }
}
