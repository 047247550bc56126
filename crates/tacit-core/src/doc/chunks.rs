//! A look at Automerge's storage chunks before Automerge sees them: the bytes they would inflate
//! to, counted without keeping them, so that a small deflate bomb is refused before Automerge
//! inflates it whole. Bundles are refused outright (see [`check_inflation`]).
//!
//! ```text
//! chunk    = magic(85 6f 4a 83) checksum(4) type(1) uleb(len) data(len)
//! document = actors heads change-columns ops-columns change-data ops-data head-indices
//! bundle   = deps actors change-columns change-data ops-columns ops-data
//! change   = (no compressed columns allowed)      compressed change = deflate(change data)
//! columns  = uleb(n) n × (uleb(spec) uleb(len));  spec bit 3 set: the column is deflated
//! ```

use std::io::Read;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DEFLATE_BIT: u32 = 0b1000;

/// Most bytes the chunks of one document (or one batch of changes) may inflate to: 64 MiB. A note
/// is at most 1 MiB of text, stored at about 0.6× its size; its history of edits adds to that,
/// but 64 MiB is far beyond any document a person writes, and a bound on what one received
/// document can make this node allocate before it is refused.
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// Why a chunk was refused before loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Not a sequence of Automerge chunks.
    Malformed(&'static str),
    /// It would inflate past [`MAX_INFLATED_BYTES`].
    TooLarge,
}

pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        if n > self.0.len() {
            return Err(ChunkError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn uleb(&mut self) -> Result<u64, ChunkError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .0
                .first()
                .ok_or(ChunkError::Malformed("truncated number"))?;
            self.0 = &self.0[1..];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ChunkError::Malformed("number too long"))
    }

    fn len(&mut self) -> Result<usize, ChunkError> {
        usize::try_from(self.uleb()?).map_err(|_| ChunkError::Malformed("length too large"))
    }

    /// Skips a count-prefixed list of length-prefixed byte strings (actor ids).
    fn skip_actors(&mut self) -> Result<(), ChunkError> {
        for _ in 0..self.uleb()? {
            let n = self.len()?;
            self.take(n)?;
        }
        Ok(())
    }

    /// Skips a count-prefixed list of 32-byte hashes.
    fn skip_hashes(&mut self) -> Result<(), ChunkError> {
        let n = self.len()?;
        self.take(
            n.checked_mul(32)
                .ok_or(ChunkError::Malformed("too many hashes"))?,
        )?;
        Ok(())
    }

    /// Reads column metadata: (deflated, length) per column.
    fn columns(&mut self) -> Result<Vec<(bool, usize)>, ChunkError> {
        let n = self.uleb()?;
        let mut out = Vec::new();
        for _ in 0..n {
            let spec = self.uleb()?;
            let len = self.len()?;
            out.push((spec & u64::from(DEFLATE_BIT) != 0, len));
            if out.len() > 1024 {
                return Err(ChunkError::Malformed("too many columns"));
            }
        }
        Ok(out)
    }
}

/// Counts what `bytes` (a sequence of chunks) inflates to; refuses past `budget` bytes without
/// inflating further, and refuses a bundle chunk.
pub fn check_inflation(bytes: &[u8], budget: u64) -> Result<u64, ChunkError> {
    let mut r = Reader(bytes);
    let mut total: u64 = 0;
    while !r.0.is_empty() {
        if r.take(4)? != MAGIC {
            return Err(ChunkError::Malformed("not an Automerge chunk"));
        }
        r.take(4)?; // checksum
        let kind = r.take(1)?[0];
        let len = r.len()?;
        let mut data = Reader(r.take(len)?);
        match kind {
            0 => {
                data.skip_actors()?;
                data.skip_hashes()?;
                let changes = data.columns()?;
                let ops = data.columns()?;
                count_columns(&mut data, &changes, &mut total, budget)?;
                count_columns(&mut data, &ops, &mut total, budget)?;
            }
            1 => total = total.saturating_add(len as u64),
            2 => total = total.saturating_add(inflated(data.0, budget.saturating_sub(total))?),
            // A bundle: only Automerge's `bundle` API makes one (never its save or sync, never
            // Tacit), and its parser expands a run-length column whole: 25 bytes asked for
            // gigabytes (found by fuzzing). Refused, like any chunk no honest node sends.
            3 => {
                return Err(ChunkError::Malformed(
                    "a bundle chunk, which Tacit never sends",
                ));
            }
            _ => return Err(ChunkError::Malformed("unknown chunk type")),
        }
        if total > budget {
            return Err(ChunkError::TooLarge);
        }
    }
    Ok(total)
}

/// The chunks of `bytes`, each whole (header included) with its type: 0 a document, 1 a change,
/// 2 a compressed change, 3 a bundle. Nothing is inflated.
pub fn split(bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, ChunkError> {
    let mut r = Reader(bytes);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let start = r.0;
        if r.take(4)? != MAGIC {
            return Err(ChunkError::Malformed("not an Automerge chunk"));
        }
        r.take(4)?; // checksum
        let kind = r.take(1)?[0];
        let len = r.len()?;
        r.take(len)?;
        let used = start.len() - r.0.len();
        out.push((kind, &start[..used]));
    }
    Ok(out)
}

fn count_columns(
    data: &mut Reader<'_>,
    columns: &[(bool, usize)],
    total: &mut u64,
    budget: u64,
) -> Result<(), ChunkError> {
    for &(deflated, len) in columns {
        let bytes = data.take(len)?;
        let size = if deflated {
            inflated(bytes, budget.saturating_sub(*total))?
        } else {
            len as u64
        };
        *total = total.saturating_add(size);
        if *total > budget {
            return Err(ChunkError::TooLarge);
        }
    }
    Ok(())
}

/// The size `deflated` inflates to, reading at most `budget + 1` bytes of output.
fn inflated(deflated: &[u8], budget: u64) -> Result<u64, ChunkError> {
    let decoder = flate2::bufread::DeflateDecoder::new(deflated);
    let n = std::io::copy(
        &mut decoder.take(budget.saturating_add(1)),
        &mut std::io::sink(),
    )
    .map_err(|_| ChunkError::Malformed("bad deflate data"))?;
    if n > budget {
        return Err(ChunkError::TooLarge);
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};
    use std::io::Write;

    fn uleb(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn real_documents_pass_and_count_their_columns() {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "t", automerge::ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, &"lorem ipsum ".repeat(2000))
            .unwrap();
        let saved = doc.save();
        let n = check_inflation(&saved, MAX_INFLATED_BYTES).unwrap();
        assert!(n >= 24_000, "{n}");
        doc.put(ROOT, "k", 1).unwrap();
        let more = doc.save_incremental();
        let both = [saved.clone(), more.clone()].concat();
        assert!(check_inflation(&both, MAX_INFLATED_BYTES).is_ok());
        assert_eq!(
            split(&both).unwrap(),
            vec![(0, &saved[..]), (1, &more[..])],
            "a document then a change, whole"
        );
        assert!(split(&both[..both.len() - 1]).is_err());
        assert_eq!(check_inflation(&saved, 1000), Err(ChunkError::TooLarge));
        assert!(check_inflation(b"not a chunk", MAX_INFLATED_BYTES).is_err());
        assert!(check_inflation(&saved[..saved.len() - 3], MAX_INFLATED_BYTES).is_err());
    }

    #[test]
    fn a_compressed_change_bomb_is_refused_without_inflating_it() {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..200 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 1024 * 1024);
        let mut chunk = MAGIC.to_vec();
        chunk.extend([0, 0, 0, 0, 2]);
        uleb(bomb.len() as u64, &mut chunk);
        chunk.extend(&bomb);
        assert_eq!(
            check_inflation(&chunk, MAX_INFLATED_BYTES),
            Err(ChunkError::TooLarge)
        );
    }
}
