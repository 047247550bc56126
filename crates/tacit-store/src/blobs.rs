//! Attachments' bytes: content-addressed blobs beside the database, and the tables that say
//! which notes refer to which blob.
//!
//! ```text
//! <home>/blobs/ab/abcdef…          the file, named by its BLAKE3 hash (64 hex)
//! <home>/blobs/ab/abcdef….tree     its outboard: the hash tree down to groups of 16 KiB
//!                                  (0.4% of the file), to serve it from any group verified
//!                                  (see `tree`)
//! <home>/blobs/ab/abcdef….part     a download in progress: only verified groups, in order
//! <home>/blobs/tmp/                files being written (then fsynced and renamed into place)
//! ```
//!
//! A blob is present when both its file and its outboard are: both are written to `tmp`,
//! fsynced and renamed (outboard first), so a crash leaves a whole blob or none. Files are
//! streamed, never read whole into memory: hashing and the outboard are computed as the bytes
//! pass through.
//!
//! Downloads in progress (`.part`) count against the quota of the spaces whose notes refer to
//! their hash, as the blobs do; a download under way counts as its whole size for the space it
//! fetches for ([`Blobs::reserve`]), and is never removed. The others go when no live note
//! refers to them, when they made no progress for a long while, or, the oldest first, past a
//! space's share of parts ([`Store::trim_parts`]).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rusqlite::params;
use tacit_core::{DocId, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::rows::parse_id;
use crate::store::Store;
use crate::tree::{self, GROUP, SliceReader, TreeHasher, TreeWriter};

/// A file in the blob directory: every blob in it has this version's outboard
/// ([`Blobs::upgrade_outboards`]).
const UPGRADED_MARKER: &str = "outboards-2";

/// The blob directory's name in the home.
pub const BLOB_DIR: &str = "blobs";

/// Bytes read at a time when a file is stored or checked: large enough for the hasher's SIMD
/// paths, small enough to be nothing beside the file.
const COPY_BUF: usize = 256 * 1024;

/// A BLAKE3 hash.
pub type BlobHash = blake3::Hash;

/// The blob directory of a home. Clones share what they know of the downloads in progress
/// (make one per home, and clone it).
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    book: Arc<Mutex<PartBook>>,
}

/// The downloads of a home: which may have a `.part` on disk, and which are under way.
#[derive(Debug, Default)]
struct PartBook {
    /// Hashes that may have a part on disk; `None` until the blob directory was walked once.
    known: Option<HashSet<BlobHash>>,
    /// Downloads under way ([`Blobs::reserve`]): the space each fetches for, the blob's size,
    /// and the token of the reservation that holds the entry.
    fetching: HashMap<BlobHash, (SpaceId, u64, u64)>,
    /// The token of the next reservation.
    next: u64,
}

/// A download of a home, in progress or under way ([`Blobs::parts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    /// The blob it is of.
    pub hash: BlobHash,
    /// Bytes on disk (0 when a download under way has no file yet).
    pub len: u64,
    /// When it last grew (`None`: no file, or the disk does not say).
    pub modified: Option<SystemTime>,
    /// The space it is fetched for and the blob's size, while a download is under way.
    pub fetching: Option<(SpaceId, u64)>,
}

/// A download under way ([`Blobs::reserve`]): its whole size counts in the quota of the space it
/// fetches for, and its part is not removed; both end when this is dropped.
#[derive(Debug)]
#[must_use = "the reservation ends when it is dropped"]
pub struct Reserved {
    book: Arc<Mutex<PartBook>>,
    hash: BlobHash,
    token: u64,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        if book
            .fetching
            .get(&self.hash)
            .is_some_and(|f| f.2 == self.token)
        {
            book.fetching.remove(&self.hash);
        }
    }
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
            book: Arc::default(),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, PartBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a download of `hash` for `space` (`size` bytes) as under way until the returned
    /// reservation is dropped: it counts as its whole size in `space`'s quota
    /// ([`Store::space_part_bytes`]) and its part is not removed ([`Blobs::remove_part`]).
    /// Taken before the part is opened, so that a trim never removes a part being resumed.
    pub fn reserve(&self, hash: &BlobHash, space: SpaceId, size: u64) -> Reserved {
        let mut book = self.book();
        book.next += 1;
        let token = book.next;
        book.fetching.insert(*hash, (space, size, token));
        Reserved {
            book: self.book.clone(),
            hash: *hash,
            token,
        }
    }

    /// Every download of this home: the parts on disk and the downloads under way. The first
    /// call walks the blob directory for the parts earlier runs left.
    pub fn parts(&self) -> Vec<PartFile> {
        let mut book = self.book();
        if book.known.is_none() {
            book.known = Some(self.walk_parts());
        }
        let fetching = book.fetching.clone();
        let known = book.known.get_or_insert_with(HashSet::new);
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for hash in known
            .iter()
            .chain(fetching.keys().filter(|h| !known.contains(*h)))
        {
            let meta = fs::metadata(self.part_path(hash))
                .ok()
                .filter(|m| m.is_file());
            let fetch = fetching.get(hash).map(|(space, size, _)| (*space, *size));
            if meta.is_none() && fetch.is_none() {
                gone.push(*hash);
                continue;
            }
            out.push(PartFile {
                hash: *hash,
                len: meta.as_ref().map_or(0, fs::Metadata::len),
                modified: meta.and_then(|m| m.modified().ok()),
                fetching: fetch,
            });
        }
        for hash in gone {
            known.remove(&hash);
        }
        out
    }

    /// The hashes of the parts in the blob directory.
    fn walk_parts(&self) -> HashSet<BlobHash> {
        let mut found = HashSet::new();
        let Ok(shards) = fs::read_dir(&self.dir) else {
            return found;
        };
        for shard in shards.flatten() {
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                if path.extension().and_then(|e| e.to_str()) != Some("part") {
                    continue;
                }
                if let Some(hash) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(Self::parse_hash)
                {
                    found.insert(hash);
                }
            }
        }
        found
    }

    /// Removes the part of `hash` unless a download of it is under way ([`Blobs::reserve`]):
    /// whether it is gone.
    pub fn remove_part(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let mut book = self.book();
        if book.fetching.contains_key(hash) {
            return Ok(false);
        }
        let path = self.part_path(hash);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&path)(e)),
        }
        if let Some(known) = book.known.as_mut() {
            known.remove(hash);
        }
        Ok(true)
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
        self.shard(hash).join(format!("{}.tree", hash.to_hex()))
    }

    /// Removes a held blob (its bytes first, so that it is no longer [`Blobs::has`] even if the
    /// outboard's removal fails). A blob not held is no error.
    pub fn remove(&self, hash: &BlobHash) -> Result<(), StoreError> {
        for path in [self.path(hash), self.outboard_path(hash)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path)(e)),
            }
        }
        Ok(())
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

    /// Stores the bytes `src` yields (at most `max`), streaming them through the hasher, which
    /// writes the outboard as it goes. Returns the hash and size; a blob held already is kept as it is.
    pub fn import(&self, mut src: impl Read, max: u64) -> Result<(BlobHash, u64), StoreError> {
        let (data_path, mut data) = self.temp("data")?;
        let (ob_path, ob) = match self.temp("tree") {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_file(&data_path);
                return Err(e);
            }
        };
        let result = (|| -> Result<(BlobHash, u64), StoreError> {
            let mut hasher = TreeHasher::new(io::BufWriter::new(ob));
            let mut size = 0u64;
            each_piece(&mut src, &data_path, |piece| {
                size += piece.len() as u64;
                if size > max {
                    return Err(StoreError::Malformed(format!(
                        "the file is larger than {max} bytes, the limit for one attachment"
                    )));
                }
                data.write_all(piece).map_err(io_at(&data_path))?;
                hasher.update(piece).map_err(io_at(&ob_path))
            })?;
            let (hash, ob) = hasher.finish().map_err(io_at(&ob_path))?;
            synced(ob).map_err(io_at(&ob_path))?;
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

    /// Stores the file at `src` (at most `max` bytes). Only a regular file is read: a link at
    /// `src` is not followed and a pipe or device is refused without waiting on it, as the path
    /// may come from a folder someone else handed over (checked when it was found, but it may
    /// have been swapped since).
    pub fn import_file(&self, src: &Path, max: u64) -> Result<(BlobHash, u64), StoreError> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        // O_NOFOLLOW: a link in the last component fails the open (ELOOP) instead of reading
        // where it points. O_NONBLOCK: opening a FIFO with no writer returns at once instead
        // of blocking this thread forever; reads of a regular file ignore it.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut opts,
            libc::O_NOFOLLOW | libc::O_NONBLOCK,
        );
        let file = opts.open(src).map_err(|e| {
            #[cfg(unix)]
            if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) {
                return StoreError::Malformed(format!(
                    "{} is a link; links are not followed: attach the file itself",
                    src.display()
                ));
            }
            io_at(src)(e)
        })?;
        let meta = file.metadata().map_err(io_at(src))?;
        if !meta.is_file() {
            return Err(StoreError::Malformed(format!(
                "{} is not a regular file (a folder, a pipe, a socket or a device); attach a file",
                src.display()
            )));
        }
        let len = meta.len();
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

    /// A reader of the blob's stream from `offset` (which must start a group) to its end: the
    /// hash-tree nodes a receiver needs, interleaved with the bytes, checked against the hash by
    /// [`tree::verify_stream`].
    pub fn slice(&self, hash: &BlobHash, offset: u64) -> Result<impl Read + use<>, StoreError> {
        let path = self.path(hash);
        let data = File::open(&path).map_err(io_at(&path))?;
        let ob_path = self.outboard_path(hash);
        let ob = File::open(&ob_path).map_err(io_at(&ob_path))?;
        SliceReader::new(data, ob, offset).map_err(io_at(&path))
    }

    /// Opens the download in progress of `hash` (made empty if there is none). It holds whole
    /// groups only (a group cut short is dropped, to be fetched again), and those are hashed
    /// into the outboard once, so that appending goes on from where they stop.
    pub fn open_part(&self, hash: &BlobHash) -> Result<Part, StoreError> {
        let shard = self.shard(hash);
        fs::create_dir_all(&shard).map_err(io_at(&shard))?;
        if let Some(known) = self.book().known.as_mut() {
            known.insert(*hash);
        }
        let path = self.part_path(hash);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_at(&path))?;
        let held = file.metadata().map_err(io_at(&path))?.len();
        let whole = held - held % GROUP;
        if whole != held {
            file.set_len(whole).map_err(io_at(&path))?;
        }
        let (ob_path, ob) = self.temp("tree")?;
        let mut part = Part {
            blobs: self.clone(),
            hash: *hash,
            path,
            file: None,
            tree: Some(TreeWriter::new(io::BufWriter::new(ob))),
            ob_path,
            len: 0,
            unsynced: 0,
            writeback: None,
        };
        let mut group = vec![0u8; GROUP as usize];
        let mut reader = io::BufReader::with_capacity(COPY_BUF, &mut file);
        while part.len < whole {
            reader.read_exact(&mut group).map_err(io_at(&part.path))?;
            let cv = tree::group_cv(part.len / GROUP, &group);
            if let Some(tree) = part.tree.as_mut() {
                tree.push(cv).map_err(io_at(&part.ob_path))?;
            }
            part.len += GROUP;
        }
        drop(reader);
        file.seek(SeekFrom::Start(part.len))
            .map_err(io_at(&part.path))?;
        part.file = Some(io::BufWriter::with_capacity(COPY_BUF, file));
        Ok(part)
    }

    /// Gives the blobs stored by earlier versions (whose outboard was bao's, `<hash>.obao`) the
    /// outboard this version serves from, hashing each once; a blob whose bytes no longer match
    /// its name is left unserved (and fetched again when needed). Returns how many were given one.
    /// Once a pass has looked at every blob, a marker file says so, and later calls (one at each
    /// start of the network) look no further.
    pub fn upgrade_outboards(&self) -> usize {
        let mut done = 0;
        let marker = self.dir.join(UPGRADED_MARKER);
        if marker.exists() {
            return 0;
        }
        let Ok(shards) = fs::read_dir(&self.dir) else {
            return 0;
        };
        // The marker only once every shard was listed: one that could not be is looked at again
        // at the next start.
        let mut every_shard = true;
        for shard in shards {
            let Ok(shard) = shard else {
                every_shard = false;
                continue;
            };
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue; // the marker itself, or anything else that is not a shard
            }
            let Ok(files) = fs::read_dir(shard.path()) else {
                every_shard = false;
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                if path.extension().and_then(|e| e.to_str()) != Some("obao") {
                    continue;
                }
                let Some(hash) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(Self::parse_hash)
                else {
                    continue;
                };
                if !self.outboard_path(&hash).exists() && self.rebuild_outboard(&hash).is_ok() {
                    done += 1;
                }
                let _ = fs::remove_file(&path);
            }
        }
        if every_shard {
            let _ = fs::write(&marker, b"");
        }
        done
    }

    /// Hashes a held blob's bytes again into its outboard; an error when they are not the hash's.
    fn rebuild_outboard(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let path = self.path(hash);
        let mut data = File::open(&path).map_err(io_at(&path))?;
        let (ob_path, ob) = self.temp("tree")?;
        let result = (|| -> Result<(), StoreError> {
            let mut hasher = TreeHasher::new(io::BufWriter::new(ob));
            each_piece(&mut data, &path, |piece| {
                hasher.update(piece).map_err(io_at(&ob_path))
            })?;
            let (got, ob) = hasher.finish().map_err(io_at(&ob_path))?;
            if got != *hash {
                return Err(StoreError::Malformed(format!(
                    "{} does not hold the bytes of its hash",
                    path.display()
                )));
            }
            synced(ob).map_err(io_at(&ob_path))?;
            let target = self.outboard_path(hash);
            fs::rename(&ob_path, &target).map_err(io_at(&target))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&ob_path);
        }
        result
    }

    /// Drops a download in progress.
    pub fn discard_part(&self, hash: &BlobHash) {
        let mut book = self.book();
        if fs::remove_file(self.part_path(hash)).is_ok()
            && let Some(known) = book.known.as_mut()
        {
            known.remove(hash);
        }
    }
}

/// Reads `src` (the file at `path`) to its end, handing each piece read to `f`.
fn each_piece(
    src: &mut impl Read,
    path: &Path,
    mut f: impl FnMut(&[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => f(buf.get(..n).unwrap_or_default())?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_at(path)(e)),
        }
    }
}

/// Flushes a buffered file and puts it on disk.
fn synced(w: io::BufWriter<File>) -> io::Result<()> {
    w.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

/// A download in progress: `<hash>.part`, holding verified groups in order, and its outboard
/// being built from their chaining values (which checking them gave: nothing is hashed twice).
/// Dropped unfinished, its outboard goes and the part file stays, to resume from.
pub struct Part {
    blobs: Blobs,
    hash: BlobHash,
    path: PathBuf,
    /// `None` only while being opened or after [`Part::finish`].
    file: Option<io::BufWriter<File>>,
    tree: Option<TreeWriter<io::BufWriter<File>>>,
    ob_path: PathBuf,
    len: u64,
    /// Bytes appended since the file was last handed to [`Writeback`].
    unsynced: u64,
    writeback: Option<Writeback>,
}

/// Bytes of a download after which what it has written is put on disk in the background.
const WRITEBACK_EVERY: u64 = 32 * 1024 * 1024;

/// Puts a growing file on disk on a thread of its own while it grows, so that the sync that
/// completes it finds little left to write (for a large download, seconds of waiting after the
/// last byte arrived).
struct Writeback {
    kick: std::sync::mpsc::SyncSender<()>,
}

impl Writeback {
    fn start(file: &File) -> Option<Self> {
        let file = file.try_clone().ok()?;
        let (kick, asked) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("blob-writeback".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    let _ = file.sync_data();
                }
            })
            .ok()?;
        Some(Self { kick })
    }

    /// Asks for a sync (none more while one is asked for and not begun).
    fn kick(&self) {
        let _ = self.kick.try_send(());
    }
}

impl Part {
    /// The bytes it holds (whole groups, but for a finished blob's last).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds nothing yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the next group, checked against the hash: its bytes and its chaining value
    /// (`None` for a blob of one group, whose hash is the root's).
    pub fn append_group(
        &mut self,
        bytes: &[u8],
        cv: Option<blake3::hazmat::ChainingValue>,
    ) -> io::Result<()> {
        let (Some(file), Some(tree)) = (self.file.as_mut(), self.tree.as_mut()) else {
            return Err(io::Error::other("the download is finished"));
        };
        file.write_all(bytes)?;
        if let Some(cv) = cv {
            tree.push(cv)?;
        }
        self.len += bytes.len() as u64;
        self.unsynced += bytes.len() as u64;
        if self.unsynced >= WRITEBACK_EVERY {
            self.unsynced = 0;
            file.flush()?;
            if self.writeback.is_none() {
                self.writeback = Writeback::start(file.get_ref());
            }
            if let Some(w) = &self.writeback {
                w.kick();
            }
        }
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

    /// Completes the download: the hash of everything it holds (the groups of earlier attempts
    /// too) must be the blob's, then the file and its outboard are moved into place. A part that
    /// does not match is discarded. Returns the blob's size.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        let (Some(file), Some(tree)) = (self.file.take(), self.tree.take()) else {
            return Err(StoreError::Malformed("the download is finished".into()));
        };
        synced(file).map_err(io_at(&self.path))?;
        let (root, ob) = tree.finish().map_err(io_at(&self.ob_path))?;
        synced(ob).map_err(io_at(&self.ob_path))?;
        let got = if self.len <= GROUP {
            // One group: its hash is the root's, of its bytes.
            blake3::hash(&fs::read(&self.path).map_err(io_at(&self.path))?)
        } else {
            root.ok_or_else(|| StoreError::Malformed("a download without its tree".into()))?
        };
        if got != self.hash {
            self.blobs.discard_part(&self.hash);
            return Err(StoreError::Malformed(format!(
                "the downloaded bytes of {} do not match its hash; discarded",
                self.hash.to_hex()
            )));
        }
        self.blobs.place(&self.hash, &self.path, &self.ob_path)?;
        if let Some(known) = self.blobs.book().known.as_mut() {
            known.remove(&self.hash);
        }
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
    /// Whether the blob `hash` (64 hex) may be served to members of `space`: a live note of
    /// `space` refers to it and it is held for `space` (attached to one of its notes here, or
    /// fetched from one of its members), not only for another space.
    pub fn blob_servable_in(&self, space: SpaceId, hash: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM blob_refs r JOIN docs d ON d.id = r.doc
                 WHERE r.hash = ?1 AND r.space = ?2 AND d.deleted = 0
                   AND EXISTS (SELECT 1 FROM blob_held_for h
                               WHERE h.hash = ?1 AND h.space = ?2)",
            )
            .and_then(|mut s| s.query_row(params![hash, space.to_string()], |r| r.get(0)))
            .at(self.path())?;
        Ok(n > 0)
    }

    /// Whether the blob `hash` is held here for `space`: attached to one of its notes here, or
    /// fetched from one of its members (its bytes may be gone since: see [`Blobs::has`]).
    pub fn blob_held_for(&self, space: SpaceId, hash: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM blob_held_for WHERE hash = ?1 AND space = ?2")
            .and_then(|mut s| s.query_row(params![hash, space.to_string()], |r| r.get(0)))
            .at(self.path())?;
        Ok(n > 0)
    }

    /// The spaces whose live notes refer to the blob `hash`.
    pub fn blob_spaces(&self, hash: &str) -> Result<Vec<SpaceId>, StoreError> {
        let raw: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT r.space FROM blob_refs r JOIN docs d ON d.id = r.doc
                 WHERE r.hash = ?1 AND d.deleted = 0",
            )
            .and_then(|mut s| s.query_map(params![hash], |r| r.get(0))?.collect())
            .at(self.path())?;
        raw.iter().map(|s| parse_id(s, "space")).collect()
    }

    /// Records a blob now held here for `space` (attached to one of its notes, or fetched from
    /// one of its members); held again, its time is `at`, so that a file attached again counts
    /// as new.
    pub fn record_blob(
        &mut self,
        hash: &str,
        size: u64,
        at: i64,
        space: SpaceId,
    ) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .at(&path)?;
        tx.execute(
            "INSERT INTO blobs (hash, size, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO UPDATE SET stored_at = max(stored_at, excluded.stored_at)",
            params![hash, i64::try_from(size).unwrap_or(i64::MAX), at],
        )
        .at(&path)?;
        tx.execute(
            "INSERT OR IGNORE INTO blob_held_for (hash, space) VALUES (?1, ?2)",
            params![hash, space.to_string()],
        )
        .at(&path)?;
        tx.commit().at(&path)?;
        Ok(())
    }

    /// The attachments `doc` (a note) refers to that are not held for its space:
    /// `(space, hash, size)`, each of at most `max_size` bytes as the note states it.
    pub fn blobs_wanted_by(
        &self,
        doc: DocId,
        max_size: u64,
    ) -> Result<Vec<(SpaceId, String, u64)>, StoreError> {
        self.blob_rows(
            "SELECT r.space, r.hash, r.size FROM blob_refs r
             LEFT JOIN blob_held_for h ON h.hash = r.hash AND h.space = r.space
             WHERE r.doc = ?1 AND h.hash IS NULL AND r.size <= ?2",
            params![doc.to_string(), i64::try_from(max_size).unwrap_or(i64::MAX)],
        )
    }

    /// The `(space, hash, size)` rows `sql` selects; a row this build did not write (a space id
    /// that does not parse) is skipped, not an error.
    fn blob_rows(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<(SpaceId, String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).at(self.path())?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .at(self.path())?;
        let mut out = Vec::new();
        for row in rows {
            let (space, hash, size) = row.at(self.path())?;
            if let Ok(space) = parse_id(&space, "space") {
                out.push((space, hash, u64::try_from(size).unwrap_or(0)));
            }
        }
        Ok(out)
    }

    /// Attachments that notes of this home refer to, of at most `max_size` bytes as their notes
    /// state, that this home does not hold for the notes' space (it may hold them for another:
    /// see [`Store::blob_servable_in`]): `(space, hash, size)`, at most `limit`, in no
    /// particular order.
    pub fn missing_blobs(
        &self,
        max_size: u64,
        limit: usize,
    ) -> Result<Vec<(SpaceId, String, u64)>, StoreError> {
        // Per space (each space's notes state their own size), and in random order: files
        // that cannot be had now (a holder offline, a hash nobody holds) must not keep the
        // others out of every sweep.
        self.blob_rows(
            "SELECT r.space, r.hash, MIN(r.size) FROM blob_refs r
             JOIN docs d ON d.id = r.doc
             LEFT JOIN blob_held_for h ON h.hash = r.hash AND h.space = r.space
             WHERE h.hash IS NULL AND r.size <= ?1 AND d.deleted = 0
             GROUP BY r.space, r.hash ORDER BY random() LIMIT ?2",
            params![
                i64::try_from(max_size).unwrap_or(i64::MAX),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
    }

    /// Blobs held here that no note refers to (live, or in the trash: deleted within
    /// [`TRASH_DAYS`](tacit_core::TRASH_DAYS)), recorded before `before` (ms): `(hash, size)`,
    /// the oldest first.
    pub fn unreferenced_blobs(&self, before: i64) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.hash, b.size FROM blobs b
                 WHERE b.stored_at < ?1
                   AND NOT EXISTS (SELECT 1 FROM blob_refs r JOIN docs d ON d.id = r.doc
                                   WHERE r.hash = b.hash
                                     AND (d.deleted = 0 OR d.trashed_at >= ?2))
                 ORDER BY b.stored_at, b.hash",
            )
            .at(self.path())?;
        let rows = stmt
            .query_map(params![before, self.trash_since()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .at(self.path())?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, size) = row.at(self.path())?;
            out.push((hash, u64::try_from(size).unwrap_or(0)));
        }
        Ok(out)
    }

    /// When a note deleted since then is still in the trash, by this store's clock.
    fn trash_since(&self) -> i64 {
        (self.clock)().saturating_sub(tacit_core::TRASH_DAYS * 24 * 60 * 60 * 1000)
    }

    /// Forgets a blob no longer held (its record, and the spaces it was held for).
    pub fn forget_blob(&mut self, hash: &str) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .at(&path)?;
        tx.execute("DELETE FROM blobs WHERE hash = ?1", params![hash])
            .at(&path)?;
        tx.execute("DELETE FROM blob_held_for WHERE hash = ?1", params![hash])
            .at(&path)?;
        tx.commit().at(&path)?;
        Ok(())
    }

    /// Bytes of the blobs held here for `space` that its notes refer to, live or in the trash
    /// (each blob once): a note deleted keeps counting for
    /// [`TRASH_DAYS`](tacit_core::TRASH_DAYS), so that deleting notes does not make room for
    /// more files while theirs are kept. A file held for another space only does not count:
    /// else a member could tell from what this node still fetches whether it holds a file.
    pub fn space_blob_bytes(&self, space: SpaceId) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(b.size), 0) FROM blobs b
                 WHERE b.hash IN (SELECT r.hash FROM blob_refs r JOIN docs d ON d.id = r.doc
                                  WHERE r.space = ?1 AND (d.deleted = 0 OR d.trashed_at >= ?2))
                   AND EXISTS (SELECT 1 FROM blob_held_for h
                               WHERE h.hash = b.hash AND h.space = ?1)",
            )
            .and_then(|mut s| {
                s.query_row(params![space.to_string(), self.trash_since()], |r| r.get(0))
            })
            .at(self.path())?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The spaces whose notes refer to the blob `hash`, live or in the trash (as
    /// [`Store::space_blob_bytes`] counts them), and whether a live note does.
    fn blob_referrers(&self, hash: &str) -> Result<(Vec<SpaceId>, bool), StoreError> {
        let rows: Vec<(String, bool)> = self
            .conn
            .prepare_cached(
                "SELECT r.space, MAX(d.deleted = 0) FROM blob_refs r JOIN docs d ON d.id = r.doc
                 WHERE r.hash = ?1 AND (d.deleted = 0 OR d.trashed_at >= ?2)
                 GROUP BY r.space",
            )
            .and_then(|mut s| {
                s.query_map(params![hash, self.trash_since()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .at(self.path())?;
        let live = rows.iter().any(|(_, live)| *live);
        // A row this build did not write (a space id that does not parse) is skipped.
        let spaces = rows
            .iter()
            .filter_map(|(s, _)| parse_id(s, "space").ok())
            .collect();
        Ok((spaces, live))
    }

    /// Every download of the home (see [`Blobs::parts`]), with the spaces whose notes refer to
    /// its blob (live or in the trash) and whether a live note does.
    fn part_holdings(&self, blobs: &Blobs) -> Result<Vec<PartHolding>, StoreError> {
        blobs
            .parts()
            .into_iter()
            .map(|part| {
                let (spaces, live) = self.blob_referrers(part.hash.to_hex().as_str())?;
                Ok(PartHolding { part, spaces, live })
            })
            .collect()
    }

    /// Bytes of downloads that count in `space`'s quota, beside its blobs
    /// ([`Store::space_blob_bytes`]): each part whose blob a note of `space` refers to (live or
    /// in the trash), and each download under way for `space` as the whole blob's size
    /// ([`Blobs::reserve`]), so that fetches at once cannot pass the quota together. A part is
    /// no blob: it counts whatever spaces its blob is held for.
    pub fn space_part_bytes(&self, blobs: &Blobs, space: SpaceId) -> Result<u64, StoreError> {
        Ok(self
            .part_holdings(blobs)?
            .iter()
            .map(|h| h.weight(space))
            .fold(0u64, u64::saturating_add))
    }

    /// Removes the downloads left off (never one under way, see [`Blobs::reserve`]): those no
    /// live note refers to, those that did not grow in `max_age` before `now`, and then, per
    /// space, the oldest (that grew least lately) while the space's downloads (those under way
    /// at their whole size) take more than `space_bytes`, or its parts left off are more than
    /// `space_count`. Returns how many were removed and their bytes. A part that cannot be
    /// removed is left for the next trim.
    pub fn trim_parts(
        &self,
        blobs: &Blobs,
        now: SystemTime,
        max_age: Duration,
        space_bytes: u64,
        space_count: usize,
    ) -> Result<(usize, u64), StoreError> {
        let holdings = self.part_holdings(blobs)?;
        let mut removed: HashSet<BlobHash> = HashSet::new();
        let mut freed = 0u64;
        let mut remove = |part: &PartFile, removed: &mut HashSet<BlobHash>| {
            let gone = blobs.remove_part(&part.hash).unwrap_or(false);
            if gone {
                removed.insert(part.hash);
                freed = freed.saturating_add(part.len);
            }
            gone
        };
        for h in &holdings {
            if h.part.fetching.is_some() {
                continue;
            }
            let stale = h.part.modified.is_some_and(|m| {
                now.duration_since(m)
                    .is_ok_and(|idle_for| idle_for >= max_age)
            });
            if !h.live || stale {
                remove(&h.part, &mut removed);
            }
        }
        let spaces: std::collections::BTreeSet<SpaceId> = holdings
            .iter()
            .flat_map(|h| h.spaces.iter().copied().chain(h.part.fetching.map(|f| f.0)))
            .collect();
        for space in spaces {
            let mut total = 0u64;
            let mut left_off: Vec<&PartFile> = Vec::new();
            for h in holdings.iter().filter(|h| !removed.contains(&h.part.hash)) {
                total = total.saturating_add(h.weight(space));
                if h.part.fetching.is_none() && h.spaces.contains(&space) {
                    left_off.push(&h.part);
                }
            }
            // The oldest first (a part whose time the disk does not give, first of all).
            left_off.sort_by_key(|p| (p.modified, *p.hash.as_bytes()));
            let mut count = left_off.len();
            for part in left_off {
                if total <= space_bytes && count <= space_count {
                    break;
                }
                if remove(part, &mut removed) {
                    total = total.saturating_sub(part.len);
                    count -= 1;
                }
            }
        }
        Ok((removed.len(), freed))
    }
}

/// A download with the spaces whose notes refer to its blob ([`Store::part_holdings`]).
struct PartHolding {
    part: PartFile,
    /// The spaces whose notes, live or in the trash, refer to the blob.
    spaces: Vec<SpaceId>,
    /// Whether a live note refers to it.
    live: bool,
}

impl PartHolding {
    /// The bytes it counts in `space`'s quota: the whole blob while it is fetched for
    /// `space`, else what is on disk when a note of `space` refers to it.
    fn weight(&self, space: SpaceId) -> u64 {
        match self.part.fetching {
            Some((s, size)) if s == space => size.max(self.part.len),
            _ if self.spaces.contains(&space) => self.part.len,
            _ => 0,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blob(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| ((i * 7 + seed) % 251) as u8)
            .collect()
    }

    /// Checks `stream` (of the blob `bytes` from `offset`) into `part`, as a download does.
    fn download(part: &mut Part, stream: &[u8], bytes: &[u8], offset: u64) -> io::Result<()> {
        let hash = blake3::hash(bytes);
        tree::verify_stream(stream, &hash, bytes.len() as u64, offset, |b, cv| {
            part.append_group(b, cv)
        })
    }

    fn stream_of(blobs: &Blobs, hash: &BlobHash, offset: u64) -> Vec<u8> {
        let mut out = Vec::new();
        blobs
            .slice(hash, offset)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_blob_is_stored_once_and_served_verified_from_any_group() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let bytes = blob(300_000, 0);
        let (hash, size) = blobs.import(&bytes[..], 1 << 30).unwrap();
        assert_eq!(hash, blake3::hash(&bytes));
        assert_eq!(size, bytes.len() as u64);
        assert!(blobs.has(&hash));
        assert_eq!(fs::read(blobs.path(&hash)).unwrap(), bytes);
        // Again: nothing new, and nothing left in tmp.
        blobs.import(&bytes[..], 1 << 30).unwrap();
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);
        for offset in [0u64, GROUP, 5 * GROUP, 18 * GROUP] {
            let slice = stream_of(&blobs, &hash, offset);
            let mut out = Vec::new();
            tree::verify_stream(&slice[..], &hash, size, offset, |b, _| {
                out.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
            assert!(out == bytes[offset as usize..], "offset {offset}");
        }
        // Not where a group starts: refused.
        assert!(blobs.slice(&hash, 5000).is_err());
        // Over the limit: refused, nothing kept.
        assert!(blobs.import(&bytes[..], 1000).is_err());
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_download_keeps_the_checked_trees_outboard_and_resumes_from_whole_groups() {
        let src = tempfile::tempdir().unwrap();
        let held = Blobs::new(src.path());
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        for len in [0usize, 100, 16_384, 40_000, 700_000] {
            let bytes = blob(len, len as u32);
            let (hash, _) = held.import(&bytes[..], 1 << 30).unwrap();
            let whole = stream_of(&held, &hash, 0);

            // Cut after some groups and a piece of the next.
            let mut part = blobs.open_part(&hash).unwrap();
            assert!(part.is_empty());
            let cut = whole.len() * 2 / 3;
            let e = download(&mut part, &whole[..cut], &bytes, 0).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            part.sync().unwrap();
            drop(part);

            // Opened again: whole groups only, from which the holder sends the rest.
            let mut part = blobs.open_part(&hash).unwrap();
            let from = part.len();
            assert_eq!(from % GROUP, 0);
            let rest = stream_of(&held, &hash, from);
            download(&mut part, &rest, &bytes, from).unwrap();
            assert_eq!(part.finish().unwrap(), len as u64);
            assert!(blobs.has(&hash));
            assert!(fs::read(blobs.path(&hash)).unwrap() == bytes, "{len}");
            assert!(
                fs::read(blobs.outboard_path(&hash)).unwrap()
                    == fs::read(held.outboard_path(&hash)).unwrap(),
                "{len}"
            );
            assert!(stream_of(&blobs, &hash, 0) == whole);
            assert!(!blobs.part_path(&hash).exists());
        }
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_part_that_does_not_match_is_discarded_also_when_changed_on_disk_between_attempts() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        // Bytes appended that are not the blob's (a caller that did not check them).
        let hash = blake3::hash(b"the real bytes");
        let mut part = blobs.open_part(&hash).unwrap();
        part.append_group(b"other bytes", None).unwrap();
        assert!(part.finish().is_err());
        assert!(!blobs.part_path(&hash).exists() && !blobs.has(&hash));

        // A part file changed on disk between attempts (a crash, a disk fault): the groups it
        // holds are hashed again when it is opened, so the whole is caught at the end.
        let bytes = blob(100_000, 9);
        let hash = blake3::hash(&bytes);
        let src = tempfile::tempdir().unwrap();
        let held = Blobs::new(src.path());
        held.import(&bytes[..], 1 << 30).unwrap();
        let whole = stream_of(&held, &hash, 0);
        let mut part = blobs.open_part(&hash).unwrap();
        let _ = download(&mut part, &whole[..whole.len() / 2], &bytes, 0);
        part.sync().unwrap();
        drop(part);
        let mut on_disk = fs::read(blobs.part_path(&hash)).unwrap();
        assert!(on_disk.len() as u64 >= GROUP);
        on_disk[100] ^= 1;
        fs::write(blobs.part_path(&hash), &on_disk).unwrap();
        let mut part = blobs.open_part(&hash).unwrap();
        let from = part.len();
        download(&mut part, &stream_of(&held, &hash, from), &bytes, from).unwrap();
        assert!(part.finish().is_err());
        assert!(!blobs.has(&hash) && !blobs.part_path(&hash).exists());
    }

    #[test]
    fn a_blob_stored_by_an_earlier_version_gets_this_versions_outboard() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let bytes = blob(50_000, 4);
        let (hash, _) = blobs.import(&bytes[..], 1 << 30).unwrap();
        let tree = fs::read(blobs.outboard_path(&hash)).unwrap();
        // As an earlier version left it: bao's outboard, none of this one's.
        let old = blobs.shard(&hash).join(format!("{}.obao", hash.to_hex()));
        fs::remove_file(blobs.outboard_path(&hash)).unwrap();
        fs::write(&old, b"bao's tree").unwrap();
        assert!(!blobs.has(&hash));
        // And one whose bytes went bad: not served.
        let other = blob(20_000, 5);
        let (bad, _) = blobs.import(&other[..], 1 << 30).unwrap();
        fs::remove_file(blobs.outboard_path(&bad)).unwrap();
        fs::write(
            blobs.shard(&bad).join(format!("{}.obao", bad.to_hex())),
            b"x",
        )
        .unwrap();
        fs::write(blobs.path(&bad), b"not the bytes").unwrap();

        assert_eq!(blobs.upgrade_outboards(), 1);
        assert!(blobs.has(&hash) && !old.exists());
        assert_eq!(fs::read(blobs.outboard_path(&hash)).unwrap(), tree);
        assert!(!blobs.has(&bad));
        assert_eq!(fs::read_dir(blobs.tmp_dir()).unwrap().count(), 0);
        // Once done, later starts do not walk the blobs again.
        assert!(blobs.dir.join(UPGRADED_MARKER).exists());
        fs::remove_file(blobs.outboard_path(&hash)).unwrap();
        fs::write(&old, b"bao's tree").unwrap();
        assert_eq!(blobs.upgrade_outboards(), 0);
        assert!(old.exists());
    }

    /// A path to attach may come from a folder someone else handed over, swapped after it was
    /// checked: a link is not followed (it could lead to a key of this machine) and a FIFO is
    /// refused at once (opening one blocked the node's thread until a writer came, forever).
    #[cfg(unix)]
    #[test]
    fn import_file_refuses_a_link_and_a_fifo_without_blocking() {
        let home = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(home.path());
        let secret = outside.path().join("device.key");
        fs::write(&secret, b"secret key").unwrap();
        let link = outside.path().join("photo.png");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let fifo = outside.path().join("pipe.png");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");

        let (tx, rx) = std::sync::mpsc::channel();
        let (b, l, f, d) = (
            blobs.clone(),
            link.clone(),
            fifo.clone(),
            outside.path().to_owned(),
        );
        std::thread::spawn(move || {
            let _ = tx.send((
                b.import_file(&l, 1 << 20),
                b.import_file(&f, 1 << 20),
                b.import_file(&d, 1 << 20),
            ));
        });
        let (by_link, by_fifo, by_dir) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("import_file blocked on a FIFO");
        let e = by_link.unwrap_err().to_string();
        assert!(e.contains("is a link"), "{e}");
        let e = by_fifo.unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = by_dir.unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(!blobs.has(&blake3::hash(b"secret key")));

        // The file itself is stored.
        let (hash, size) = blobs.import_file(&secret, 1 << 20).unwrap();
        assert_eq!((hash, size), (blake3::hash(b"secret key"), 10));
        assert!(blobs.has(&hash));
    }
}
