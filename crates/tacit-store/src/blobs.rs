//! Attachments' bytes: content-addressed blobs beside the database, and the tables that say
//! which notes refer to which blob.
//!
//! ```text
//! <home>/blobs/ab/abcdef…          the file, named by its BLAKE3 hash (64 hex)
//! <home>/blobs/ab/abcdef….obao     its bao outboard (the hash tree, ~6% of the file), for
//!                                  serving any range verified
//! <home>/blobs/ab/abcdef….part     a download in progress: only verified bytes, in order
//! <home>/blobs/tmp/                files being written (then fsynced and renamed into place)
//! ```
//!
//! A blob is present when both its file and its outboard are: both are written to `tmp`,
//! fsynced and renamed (outboard first), so a crash leaves a whole blob or none. Files are
//! streamed, never read whole into memory: hashing and the outboard are computed as the bytes
//! pass through.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rusqlite::params;
use tacit_core::SpaceId;

use crate::error::{SqlContext, StoreError};
use crate::rows::parse_id;
use crate::store::Store;

/// The blob directory's name in the home.
pub const BLOB_DIR: &str = "blobs";

/// Bytes read at a time when a file is stored or checked: large enough for the hasher's SIMD
/// paths, small enough to be nothing beside the file.
const COPY_BUF: usize = 256 * 1024;

/// A BLAKE3 hash.
pub type BlobHash = blake3::Hash;

/// The outboard file as bao's encoder writes it: buffered, since the encoder writes a 64-byte
/// tree node per 1 KiB of content (unbuffered, those system calls made storing a file ten
/// times slower than hashing it). Reads and seeks (its final pass) flush first.
struct BufFile(io::BufWriter<File>);

impl BufFile {
    fn new(f: File) -> Self {
        Self(io::BufWriter::with_capacity(COPY_BUF, f))
    }

    fn into_file(self) -> io::Result<File> {
        self.0.into_inner().map_err(io::IntoInnerError::into_error)
    }
}

impl Write for BufFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Seek for BufFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

impl Read for BufFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.flush()?;
        self.0.get_mut().read(buf)
    }
}

/// The blob directory of a home.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

/// An error for a blob operation that is about a file.
fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    StoreError::io(path)
}

impl Blobs {
    /// The blob directory of the home at `home` (created when first written to).
    pub fn new(home: &Path) -> Self {
        Self {
            dir: home.join(BLOB_DIR),
        }
    }

    /// Parses a hash as attachments record it (64 hex).
    pub fn parse_hash(hex: &str) -> Option<BlobHash> {
        if !tacit_core::is_blob_hash(hex) {
            return None;
        }
        blake3::Hash::from_hex(hex).ok()
    }

    fn shard(&self, hash: &BlobHash) -> PathBuf {
        let hex = hash.to_hex();
        self.dir.join(&hex.as_str()[..2])
    }

    /// Where the blob's bytes are (whether or not it is present).
    pub fn path(&self, hash: &BlobHash) -> PathBuf {
        self.shard(hash).join(hash.to_hex().as_str())
    }

    fn outboard_path(&self, hash: &BlobHash) -> PathBuf {
        self.shard(hash).join(format!("{}.obao", hash.to_hex()))
    }

    /// Where a download of the blob in progress is kept.
    pub fn part_path(&self, hash: &BlobHash) -> PathBuf {
        self.shard(hash).join(format!("{}.part", hash.to_hex()))
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// Whether the blob is held here (bytes and outboard).
    pub fn has(&self, hash: &BlobHash) -> bool {
        self.path(hash).is_file() && self.outboard_path(hash).is_file()
    }

    /// A new temporary file in the blob directory, opened for reading and writing.
    fn temp(&self, what: &str) -> Result<(PathBuf, File), StoreError> {
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        let mut rnd = [0u8; 8];
        unique_fill(&mut rnd);
        let name = format!(
            "{what}-{}",
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let path = tmp.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Ok((path, file))
    }

    /// Stores the bytes `src` yields (at most `max`), streaming them through the hasher and the
    /// outboard encoder. Returns the hash and size; a blob held already is kept as it is.
    pub fn import(&self, mut src: impl Read, max: u64) -> Result<(BlobHash, u64), StoreError> {
        let (data_path, mut data) = self.temp("data")?;
        let (ob_path, ob) = match self.temp("obao") {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_file(&data_path);
                return Err(e);
            }
        };
        let result = (|| -> Result<(BlobHash, u64), StoreError> {
            let mut encoder = bao::encode::Encoder::new_outboard(BufFile::new(ob));
            let mut buf = vec![0u8; COPY_BUF];
            let mut size = 0u64;
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_at(&data_path)(e)),
                };
                size += n as u64;
                if size > max {
                    return Err(StoreError::Malformed(format!(
                        "the file is larger than {max} bytes, the limit for one attachment"
                    )));
                }
                let piece = buf.get(..n).unwrap_or_default();
                data.write_all(piece).map_err(io_at(&data_path))?;
                encoder.write_all(piece).map_err(io_at(&ob_path))?;
            }
            let hash = encoder.finalize().map_err(io_at(&ob_path))?;
            let ob = encoder.into_inner().into_file().map_err(io_at(&ob_path))?;
            ob.sync_all().map_err(io_at(&ob_path))?;
            data.sync_all().map_err(io_at(&data_path))?;
            Ok((hash, size))
        })();
        match result {
            Ok((hash, size)) => {
                self.place(&hash, &data_path, &ob_path)?;
                Ok((hash, size))
            }
            Err(e) => {
                let _ = fs::remove_file(&data_path);
                let _ = fs::remove_file(&ob_path);
                Err(e)
            }
        }
    }

    /// Stores the file at `src` (at most `max` bytes).
    pub fn import_file(&self, src: &Path, max: u64) -> Result<(BlobHash, u64), StoreError> {
        let file = File::open(src).map_err(io_at(src))?;
        let len = file.metadata().map_err(io_at(src))?.len();
        if len > max {
            return Err(StoreError::Malformed(format!(
                "{} is {len} bytes, larger than {max}, the limit for one attachment",
                src.display()
            )));
        }
        self.import(file, max)
    }

    /// Moves a written blob (bytes and outboard in `tmp`) into place: outboard first, so a blob
    /// whose bytes are in place always has its outboard.
    fn place(&self, hash: &BlobHash, data: &Path, outboard: &Path) -> Result<(), StoreError> {
        let shard = self.shard(hash);
        fs::create_dir_all(&shard).map_err(io_at(&shard))?;
        if self.has(hash) {
            let _ = fs::remove_file(data);
            let _ = fs::remove_file(outboard);
            return Ok(());
        }
        let ob_final = self.outboard_path(hash);
        fs::rename(outboard, &ob_final).map_err(io_at(&ob_final))?;
        let final_path = self.path(hash);
        fs::rename(data, &final_path).map_err(io_at(&final_path))?;
        if let Ok(d) = File::open(&shard) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The blob's size on disk, if present.
    pub fn size(&self, hash: &BlobHash) -> Option<u64> {
        if !self.has(hash) {
            return None;
        }
        fs::metadata(self.path(hash)).ok().map(|m| m.len())
    }

    /// A reader of the blob's bao encoding from `offset` to its end (a slice: the hash-tree
    /// nodes a receiver needs, interleaved with the bytes), verified against the hash by
    /// `bao::decode::SliceDecoder`.
    pub fn slice(&self, hash: &BlobHash, offset: u64) -> Result<impl Read + use<>, StoreError> {
        let path = self.path(hash);
        let data = File::open(&path).map_err(io_at(&path))?;
        let len = data.metadata().map_err(io_at(&path))?.len();
        let ob_path = self.outboard_path(hash);
        let ob = File::open(&ob_path).map_err(io_at(&ob_path))?;
        let offset = offset.min(len);
        Ok(bao::encode::SliceExtractor::new_outboard(
            io::BufReader::with_capacity(COPY_BUF, data),
            io::BufReader::new(ob),
            offset,
            len - offset,
        ))
    }

    /// Opens the download in progress for appending, with the length to resume from.
    pub fn open_part(&self, hash: &BlobHash) -> Result<(File, u64), StoreError> {
        let shard = self.shard(hash);
        fs::create_dir_all(&shard).map_err(io_at(&shard))?;
        let path = self.part_path(hash);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_at(&path))?;
        let len = file.seek(SeekFrom::End(0)).map_err(io_at(&path))?;
        Ok((file, len))
    }

    /// Drops a download in progress.
    pub fn discard_part(&self, hash: &BlobHash) {
        let _ = fs::remove_file(self.part_path(hash));
    }

    /// Completes a download: checks the whole `.part` file against the hash once more while
    /// building its outboard (bytes written before a crash are checked too), and moves both
    /// into place. A part that does not match is discarded.
    pub fn finish_part(&self, hash: &BlobHash) -> Result<u64, StoreError> {
        let part = self.part_path(hash);
        let (ob_path, ob) = self.temp("obao")?;
        let result = (|| -> Result<(BlobHash, u64), StoreError> {
            let mut src = File::open(&part).map_err(io_at(&part))?;
            src.sync_all().map_err(io_at(&part))?;
            let mut encoder = bao::encode::Encoder::new_outboard(BufFile::new(ob));
            let mut buf = vec![0u8; COPY_BUF];
            let mut size = 0u64;
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_at(&part)(e)),
                };
                size += n as u64;
                encoder
                    .write_all(buf.get(..n).unwrap_or_default())
                    .map_err(io_at(&ob_path))?;
            }
            let got = encoder.finalize().map_err(io_at(&ob_path))?;
            encoder
                .into_inner()
                .into_file()
                .and_then(|f| f.sync_all())
                .map_err(io_at(&ob_path))?;
            Ok((got, size))
        })();
        match result {
            Ok((got, size)) if got == *hash => {
                self.place(hash, &part, &ob_path)?;
                Ok(size)
            }
            Ok(_) => {
                let _ = fs::remove_file(&ob_path);
                self.discard_part(hash);
                Err(StoreError::Malformed(format!(
                    "the downloaded bytes of {} do not match its hash; discarded",
                    hash.to_hex()
                )))
            }
            Err(e) => {
                let _ = fs::remove_file(&ob_path);
                Err(e)
            }
        }
    }
}

/// Random bytes for temporary names (uniqueness only; not a secret).
fn unique_fill(buf: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    use std::time::{SystemTime, UNIX_EPOCH};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let v = h.finish().to_le_bytes();
    for (b, r) in buf.iter_mut().zip(v.iter().cycle()) {
        *b = *r;
    }
}

/// A note's reference to a blob: its hash (64 hex) and size as the note states it.
pub type BlobRef = (String, u64);

/// Replaces what `doc` (in `space`) refers to, inside a document write's transaction; an empty
/// list forgets it.
pub(crate) fn replace_blob_refs(
    tx: &rusqlite::Transaction<'_>,
    doc: &str,
    space: SpaceId,
    refs: &[BlobRef],
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM blob_refs WHERE doc = ?1")?
        .execute(params![doc])?;
    let space = space.to_string();
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO blob_refs (doc, hash, space, size) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (hash, size) in refs {
        insert.execute(params![
            doc,
            hash,
            space,
            i64::try_from(*size).unwrap_or(i64::MAX)
        ])?;
    }
    Ok(())
}

impl Store {
    /// Whether a note of `space` refers to the blob `hash` (64 hex).
    pub fn blob_referenced_in(&self, space: SpaceId, hash: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM blob_refs WHERE hash = ?1 AND space = ?2")
            .and_then(|mut s| s.query_row(params![hash, space.to_string()], |r| r.get(0)))
            .at(self.path())?;
        Ok(n > 0)
    }

    /// The spaces whose notes refer to the blob `hash`.
    pub fn blob_spaces(&self, hash: &str) -> Result<Vec<SpaceId>, StoreError> {
        let raw: Vec<String> = self
            .conn
            .prepare_cached("SELECT DISTINCT space FROM blob_refs WHERE hash = ?1")
            .and_then(|mut s| s.query_map(params![hash], |r| r.get(0))?.collect())
            .at(self.path())?;
        raw.iter().map(|s| parse_id(s, "space")).collect()
    }

    /// Records a blob now held here.
    pub fn record_blob(&mut self, hash: &str, size: u64, at: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO blobs (hash, size, stored_at) VALUES (?1, ?2, ?3)",
                params![hash, i64::try_from(size).unwrap_or(i64::MAX), at],
            )
            .at(self.path())?;
        Ok(())
    }

    /// Bytes of the blobs held here that notes of `space` refer to (each blob once).
    pub fn space_blob_bytes(&self, space: SpaceId) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE hash IN \
                 (SELECT hash FROM blob_refs WHERE space = ?1)",
            )
            .and_then(|mut s| s.query_row(params![space.to_string()], |r| r.get(0)))
            .at(self.path())?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_once_and_served_verified_from_any_offset() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (hash, size) = blobs.import(&bytes[..], 1 << 30).unwrap();
        assert_eq!(hash, blake3::hash(&bytes));
        assert_eq!(size, bytes.len() as u64);
        assert!(blobs.has(&hash));
        assert_eq!(fs::read(blobs.path(&hash)).unwrap(), bytes);
        // Again: nothing new, and nothing left in tmp.
        blobs.import(&bytes[..], 1 << 30).unwrap();
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);
        for offset in [0u64, 1024, 5000, 299_999, 300_000] {
            let mut slice = Vec::new();
            blobs
                .slice(&hash, offset)
                .unwrap()
                .read_to_end(&mut slice)
                .unwrap();
            let mut out = Vec::new();
            bao::decode::SliceDecoder::new(&slice[..], &hash, offset, u64::MAX / 2)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, &bytes[offset as usize..], "offset {offset}");
        }
        // Over the limit: refused, nothing kept.
        assert!(blobs.import(&bytes[..], 1000).is_err());
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_part_that_does_not_match_is_discarded() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let hash = blake3::hash(b"the real bytes");
        let (mut part, len) = blobs.open_part(&hash).unwrap();
        assert_eq!(len, 0);
        part.write_all(b"other bytes").unwrap();
        drop(part);
        assert!(blobs.finish_part(&hash).is_err());
        assert!(!blobs.part_path(&hash).exists() && !blobs.has(&hash));
        let (mut part, _) = blobs.open_part(&hash).unwrap();
        part.write_all(b"the real bytes").unwrap();
        drop(part);
        assert_eq!(blobs.finish_part(&hash).unwrap(), 14);
        assert!(blobs.has(&hash));
    }
}
