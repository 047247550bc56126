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

use crate::blockfile::BlockFile;
use crate::error::{SqlContext, StoreError};
use crate::rows::parse_id;
use crate::store::Store;
use crate::streamtree::StreamTree;

/// The blob directory's name in the home.
pub const BLOB_DIR: &str = "blobs";

/// Bytes read at a time when a file is stored or checked: large enough for the hasher's SIMD
/// paths, small enough to be nothing beside the file.
const COPY_BUF: usize = 256 * 1024;

/// A BLAKE3 hash.
pub type BlobHash = blake3::Hash;

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
            let ob = BlockFile::new(ob).map_err(io_at(&ob_path))?;
            let mut encoder = bao::encode::Encoder::new_outboard(ob);
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

    /// Opens the download in progress of `hash` (made empty if there is none). The bytes it
    /// holds already (from an earlier, cut attempt) are read through the outboard encoder once,
    /// so that appending goes on from where they stop.
    pub fn open_part(&self, hash: &BlobHash) -> Result<Part, StoreError> {
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
        let (ob_path, ob) = self.temp("obao")?;
        let mut part = Part {
            blobs: self.clone(),
            hash: *hash,
            path,
            file: None,
            encoder: None,
            streamed: false,
            ob_path,
            len: 0,
        };
        let ob = BlockFile::new(ob).map_err(io_at(&part.ob_path))?;
        let mut encoder = bao::encode::Encoder::new_outboard(ob);
        let mut buf = vec![0u8; COPY_BUF];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_at(&part.path)(e)),
            };
            encoder
                .write_all(buf.get(..n).unwrap_or_default())
                .map_err(io_at(&part.ob_path))?;
            part.len += n as u64;
        }
        file.seek(SeekFrom::Start(part.len))
            .map_err(io_at(&part.path))?;
        part.encoder = Some(encoder);
        part.file = Some(io::BufWriter::with_capacity(COPY_BUF, file));
        Ok(part)
    }

    /// Drops a download in progress.
    pub fn discard_part(&self, hash: &BlobHash) {
        let _ = fs::remove_file(self.part_path(hash));
    }
}

/// A download in progress: `<hash>.part` and its outboard being built. Verified bytes are
/// appended to the file and pass through the outboard encoder on the way, so the finished file
/// is not read and hashed a second time; a download from the start takes its outboard from the
/// stream instead ([`Part::outboard_from_stream`]) and hashes nothing. Dropped unfinished, its
/// outboard goes and the part file stays, to resume from.
pub struct Part {
    blobs: Blobs,
    hash: BlobHash,
    path: PathBuf,
    /// `None` only while being opened or after [`Part::finish`].
    file: Option<io::BufWriter<File>>,
    encoder: Option<bao::encode::Encoder<BlockFile>>,
    /// The outboard comes from the stream ([`TreeFeed`]), not from the encoder.
    streamed: bool,
    ob_path: PathBuf,
    len: u64,
}

/// The bao stream of a download from the start, from which its outboard is taken (see
/// [`Part::outboard_from_stream`]).
pub struct TreeFeed(StreamTree<io::BufWriter<File>>);

impl TreeFeed {
    /// Takes the next bytes of the stream, exactly as they came from the network.
    pub fn feed(&mut self, encoded: &[u8]) -> io::Result<()> {
        self.0.feed(encoded)
    }
}

impl Part {
    /// The bytes it holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds nothing yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// For a download from the start (the part is empty): its outboard is taken from the bao
    /// stream, fed to the returned [`TreeFeed`], instead of computed from the bytes. The caller
    /// must check every byte it appends against the hash with bao's decoder reading that same
    /// stream, from offset 0; the decoder checks every tree node as it passes, so a stream that
    /// verifies to its end gives a proven outboard. `None` when the part holds bytes already.
    pub fn outboard_from_stream(&mut self) -> Result<Option<TreeFeed>, StoreError> {
        if self.len > 0 || self.encoder.is_none() {
            return Ok(None);
        }
        self.encoder = None;
        let file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.ob_path)
            .map_err(io_at(&self.ob_path))?;
        self.streamed = true;
        Ok(Some(TreeFeed(StreamTree::new(
            io::BufWriter::with_capacity(COPY_BUF, file),
        ))))
    }

    /// Appends verified bytes.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("the download is finished"));
        };
        file.write_all(bytes)?;
        if let Some(encoder) = self.encoder.as_mut() {
            encoder.write_all(bytes)?;
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Puts what was appended on disk, to resume from should the process die.
    pub fn sync(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.as_mut() {
            file.flush()?;
            file.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Completes the download: the hash of everything it holds (the bytes of earlier attempts
    /// too) must be the blob's, then the file and its outboard are moved into place. A part that
    /// does not match is discarded. Returns the blob's size. A download whose outboard came from
    /// the stream passes `tree`, which must hold the whole tree of exactly the bytes appended.
    pub fn finish(mut self, tree: Option<TreeFeed>) -> Result<u64, StoreError> {
        let Some(file) = self.file.take() else {
            return Err(StoreError::Malformed("the download is finished".into()));
        };
        let file = file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .map_err(io_at(&self.path))?;
        file.sync_all().map_err(io_at(&self.path))?;
        drop(file);
        if self.streamed {
            let Some(TreeFeed(tree)) =
                tree.filter(|t| t.0.is_complete() && t.0.content_len() == Some(self.len))
            else {
                return Err(StoreError::Malformed(format!(
                    "the download of {} ended without its whole hash tree",
                    self.hash.to_hex()
                )));
            };
            tree.into_inner()
                .into_inner()
                .map_err(io::IntoInnerError::into_error)
                .and_then(|f| f.sync_all())
                .map_err(io_at(&self.ob_path))?;
            self.blobs.place(&self.hash, &self.path, &self.ob_path)?;
            return Ok(self.len);
        }
        let Some(mut encoder) = self.encoder.take() else {
            return Err(StoreError::Malformed("the download is finished".into()));
        };
        let got = encoder.finalize().map_err(io_at(&self.ob_path))?;
        encoder
            .into_inner()
            .into_file()
            .and_then(|f| f.sync_all())
            .map_err(io_at(&self.ob_path))?;
        if got != self.hash {
            self.blobs.discard_part(&self.hash);
            return Err(StoreError::Malformed(format!(
                "the downloaded bytes of {} do not match its hash; discarded",
                self.hash.to_hex()
            )));
        }
        self.blobs.place(&self.hash, &self.path, &self.ob_path)?;
        Ok(self.len)
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        // Moved into place, or to be made again from the part file: no longer needed here.
        let _ = fs::remove_file(&self.ob_path);
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

    /// Attachments that notes of this home refer to, of at most `max_size` bytes as their notes
    /// state, that this home has not stored: `(space, hash, size)`, at most `limit`, in no
    /// particular order.
    pub fn missing_blobs(
        &self,
        max_size: u64,
        limit: usize,
    ) -> Result<Vec<(SpaceId, String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                // Per space (each space's notes state their own size), and in random order:
                // files that cannot be had now (a holder offline, a hash nobody holds) must not
                // keep the others out of every sweep.
                "SELECT r.space, r.hash, MIN(r.size) FROM blob_refs r
                 LEFT JOIN blobs b ON b.hash = r.hash
                 WHERE b.hash IS NULL AND r.size <= ?1
                 GROUP BY r.space, r.hash ORDER BY random() LIMIT ?2",
            )
            .at(self.path())?;
        let rows = stmt
            .query_map(
                params![
                    i64::try_from(max_size).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .at(self.path())?;
        let mut out = Vec::new();
        for row in rows {
            let (space, hash, size) = row.at(self.path())?;
            // A row this build did not write is skipped, not an error.
            if let Ok(space) = parse_id(&space, "space") {
                out.push((space, hash, u64::try_from(size).unwrap_or(0)));
            }
        }
        Ok(out)
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
    fn a_part_that_does_not_match_is_discarded_and_one_resumed_is_checked_whole() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let hash = blake3::hash(b"the real bytes");
        let mut part = blobs.open_part(&hash).unwrap();
        assert!(part.is_empty());
        part.append(b"other bytes").unwrap();
        assert!(part.finish(None).is_err());
        assert!(!blobs.part_path(&hash).exists() && !blobs.has(&hash));

        // In two attempts: the second goes on from the first's bytes.
        let mut part = blobs.open_part(&hash).unwrap();
        part.append(b"the real").unwrap();
        part.sync().unwrap();
        drop(part);
        let mut part = blobs.open_part(&hash).unwrap();
        assert_eq!(part.len(), 8);
        part.append(b" bytes").unwrap();
        assert_eq!(part.finish(None).unwrap(), 14);
        assert!(blobs.has(&hash));
        assert_eq!(fs::read(blobs.path(&hash)).unwrap(), b"the real bytes");
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);

        // A part file changed on disk between attempts (a crash, a disk fault): the whole is
        // hashed at the end, so it is caught.
        let hash = blake3::hash(b"0123456789");
        let mut part = blobs.open_part(&hash).unwrap();
        part.append(b"01234").unwrap();
        part.sync().unwrap();
        drop(part);
        fs::write(blobs.part_path(&hash), b"0X234").unwrap();
        let mut part = blobs.open_part(&hash).unwrap();
        part.append(b"56789").unwrap();
        assert!(part.finish(None).is_err());
        assert!(!blobs.has(&hash) && !blobs.part_path(&hash).exists());
    }

    #[test]
    fn a_download_from_the_start_keeps_the_streams_tree_as_its_outboard() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let bytes: Vec<u8> = (0..700_000u32).map(|i| (i * 11 % 241) as u8).collect();
        let (encoded, hash) = bao::encode::encode(&bytes);
        let (outboard, _) = bao::encode::outboard(&bytes);

        let mut part = blobs.open_part(&hash).unwrap();
        let mut tree = part.outboard_from_stream().unwrap().unwrap();
        for piece in encoded.chunks(65_536) {
            tree.feed(piece).unwrap();
        }
        part.append(&bytes).unwrap();
        assert_eq!(part.finish(Some(tree)).unwrap(), bytes.len() as u64);
        assert!(blobs.has(&hash));
        assert!(fs::read(blobs.outboard_path(&hash)).unwrap() == outboard);
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);

        // A stream that stopped before its tree did: not stored, the part kept to resume.
        let other: Vec<u8> = bytes.iter().map(|b| b ^ 1).collect();
        let (encoded, hash) = bao::encode::encode(&other);
        let mut part = blobs.open_part(&hash).unwrap();
        let mut tree = part.outboard_from_stream().unwrap().unwrap();
        tree.feed(encoded.get(..1000).unwrap()).unwrap();
        part.append(other.get(..500).unwrap()).unwrap();
        assert!(part.finish(Some(tree)).is_err());
        assert!(!blobs.has(&hash));
        // Resumed, it holds bytes: its outboard is computed, not taken from a stream.
        let mut part = blobs.open_part(&hash).unwrap();
        assert_eq!(part.len(), 500);
        assert!(part.outboard_from_stream().unwrap().is_none());
        part.append(other.get(500..).unwrap()).unwrap();
        part.finish(None).unwrap();
        assert!(blobs.has(&hash));
    }
}
