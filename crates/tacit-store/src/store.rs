//! [`Store`]: one SQLite connection holding the documents of a home.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tacit_core::{DocId, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::rows::{
    Chunk, DOC_COLUMN_COUNT, DOC_COLUMNS, DocWrite, ListFilter, Listed, RawListed, SpaceRow,
    StoreStats, parse_id,
};
use crate::schema;

/// A document with more chunks than this is compacted into one snapshot. Loading costs one
/// Automerge `load_incremental` per chunk and every edit adds a chunk, so this bounds the work of
/// loading a much-edited note; 32 keeps compaction (which rewrites the whole document) to at most
/// one in 32 writes of a document.
pub const COMPACT_AFTER_CHUNKS: usize = 32;

/// How long a statement waits for a lock held by another connection (a backup tool, a reader)
/// before failing with "database is locked". The home lock keeps other Tacit processes out.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite page size of a new database. A document's chunk row is about 0.6× its text (0.6–2.5 KB
/// for typical notes); 4 KB pages fit only one or two such rows and leave about a third of each
/// page empty, while 16 KB pages pack ten and waste a few percent. Small writes cost a 16 KB page
/// in the WAL instead of 4 KB, which the fsync that every commit pays dwarfs.
const PAGE_SIZE: i64 = 16 * 1024;
/// The page cache of the read-write connection, in KiB (SQLite's default is 2,000 KiB). A write
/// of a few hundred documents (an import's request, a first sync's batch) lands at random places
/// of the documents' tables and indexes, keyed by random ids: with the default cache, every
/// write reads many of its pages back from the OS, and takes longer as the home grows. The
/// writes of an import of 10,000 notes (500 a request) took 1.02–1.19 s in three runs (16 ms at
/// first, up to 110 ms at the end), with 32 MiB 0.75–0.95 s in three. Pages are cached as they
/// are read, so a small home holds little; readers keep the default.
const CACHE_KIB: i64 = 32 * 1024;

/// Prepared statements kept by the connection: the fixed ones plus the 16 shapes of `list`.
const STATEMENT_CACHE: usize = 40;

/// A prefix shorter than this could match too much to be useful, and looks like a typo.
const MIN_PREFIX_LEN: usize = 4;

/// Chunk kinds in the `chunks.kind` column.
const SNAPSHOT: i64 = 0;
/// See [`SNAPSHOT`].
const INCREMENT: i64 = 1;

/// An upsert, never `INSERT OR REPLACE`: a replaced row fires no delete trigger (without
/// `recursive_triggers`), so the counts `doc_counts` keeps would drift.
const UPSERT_DOC: &str = "
    INSERT INTO docs (id, space, kind, title, tags, author, created_at, updated_at, deleted,
                      answers, accepted, heads, trashed_at, deleted_at, deleted_by)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
    ON CONFLICT (id) DO UPDATE SET
        space = excluded.space, kind = excluded.kind, title = excluded.title,
        tags = excluded.tags, author = excluded.author, created_at = excluded.created_at,
        updated_at = excluded.updated_at, deleted = excluded.deleted,
        deleted_at = excluded.deleted_at, deleted_by = excluded.deleted_by,
        answers = excluded.answers, accepted = excluded.accepted, heads = excluded.heads,
        trashed_at = CASE WHEN docs.deleted = 1 AND excluded.deleted = 1
                          THEN coalesce(docs.trashed_at, excluded.trashed_at)
                          ELSE excluded.trashed_at END";

/// Chunk count and bytes of snapshots and increments of one document. `length()` of a blob
/// reads the record header only, not the blob.
const CHUNK_SIZES: &str = "
    SELECT count(*),
           coalesce(sum(CASE WHEN kind = 0 THEN length(data) END), 0),
           coalesce(sum(CASE WHEN kind = 1 THEN length(data) END), 0)
    FROM chunks WHERE doc = ?1";

/// The documents of a home in one SQLite database.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// Now, ms: when a deletion is first written (`trashed_at`). [`Store::set_clock`].
    pub(crate) clock: fn() -> i64,
}

/// The system's clock, ms since the Unix epoch.
pub(crate) fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Store {
    /// Opens or creates the database at `path`.
    ///
    /// An existing non-empty file is first checked without writing to it (SQLite header, our
    /// application id, a schema version we know, `PRAGMA quick_check`); only then
    /// is it opened read-write and migrated. A corrupt, foreign or newer file is reported and left
    /// untouched. An empty file is a fresh database. With `create` false a missing file is
    /// [`StoreError::NotInitialised`].
    pub fn open(path: &Path, create: bool) -> Result<Store, StoreError> {
        let len = match std::fs::metadata(path) {
            Ok(meta) => Some(meta.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(path)(e)),
        };
        match len {
            None if !create => {
                return Err(StoreError::NotInitialised {
                    dir: path.parent().unwrap_or(path).to_path_buf(),
                });
            }
            Some(len) if len > 0 => schema::check_existing(path)?,
            _ => {}
        }

        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut conn = Connection::open_with_flags(path, flags).at(path)?;
        conn.busy_timeout(BUSY_TIMEOUT).at(path)?;
        if !matches!(len, Some(len) if len > 0) {
            // Only a new database can take a page size, and only before WAL is on.
            conn.pragma_update(None, "page_size", PAGE_SIZE).at(path)?;
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .at(path)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Still durable (rollback journal + synchronous=FULL), only slower.
            tracing::warn!(path = %path.display(), mode, "the database refused WAL mode");
        }
        conn.pragma_update(None, "synchronous", "FULL").at(path)?;
        conn.pragma_update(None, "foreign_keys", "ON").at(path)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .at(path)?;
        schema::migrate(&mut conn, path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            clock: system_ms,
        })
    }

    /// The clock that dates a deletion's arrival in this store (the system's unless set: the node
    /// sets its own, which tests move forward).
    pub fn set_clock(&mut self, clock: fn() -> i64) {
        self.clock = clock;
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .at(&self.path)
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([key, value]))
            .at(&self.path)?;
        Ok(())
    }

    /// Records a space; a space already recorded is left as it is.
    pub fn add_space(&mut self, space: &SpaceRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO spaces (id, name, personal, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    space.id.to_string(),
                    space.name,
                    space.personal,
                    space.created_at
                ])
            })
            .at(&self.path)?;
        Ok(())
    }

    /// Every space, oldest first.
    pub fn spaces(&self) -> Result<Vec<SpaceRow>, StoreError> {
        let raw: Vec<(String, String, bool, i64)> = self
            .conn
            .prepare_cached(
                "SELECT id, name, personal, created_at FROM spaces ORDER BY created_at, id",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .at(&self.path)?;
        raw.into_iter()
            .map(|(id, name, personal, created_at)| {
                Ok(SpaceRow {
                    id: parse_id(&id, "space")?,
                    name,
                    personal,
                    created_at,
                })
            })
            .collect()
    }

    /// Writes every [`DocWrite`] in one transaction: all or nothing, durable when it returns.
    ///
    /// Each write upserts the document's metadata; a [`Chunk::Snapshot`] replaces all of its
    /// chunks (compaction), a [`Chunk::Increment`] is appended. Returns the documents, among those
    /// given an increment, that now need compaction (more than [`COMPACT_AFTER_CHUNKS`] chunks, or
    /// increments larger than their snapshot): the caller writes a snapshot for them.
    pub fn write(&mut self, writes: &[DocWrite]) -> Result<Vec<DocId>, StoreError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let mut grown: Vec<DocId> = Vec::new();
        let now = (self.clock)();
        for w in writes {
            let id = w.id.to_string();
            let s = &w.summary;
            let tags = serde_json::to_string(&s.tags)
                .map_err(|e| StoreError::Malformed(format!("tags of document {id}: {e}")))?;
            tx.prepare_cached(UPSERT_DOC)
                .and_then(|mut st| {
                    st.execute(params![
                        id,
                        w.space.to_string(),
                        s.kind.as_str(),
                        s.title,
                        tags,
                        s.author.to_string(),
                        s.created_at,
                        s.updated_at,
                        s.deleted,
                        s.answers,
                        s.accepted,
                        w.heads.map(|h| h.to_vec()),
                        s.deleted.then_some(now),
                        s.deleted_at,
                        s.deleted_by.map(|m| m.to_string()),
                    ])
                })
                .at(path)?;
            let (kind, data) = match &w.chunk {
                Chunk::Snapshot(data) => {
                    tx.prepare_cached("DELETE FROM chunks WHERE doc = ?1")
                        .and_then(|mut st| st.execute([&id]))
                        .at(path)?;
                    // A whole document with its writers (received, created or rebuilt) replaces
                    // them; a compaction (no writers) keeps them.
                    if !w.writers.is_empty() {
                        tx.prepare_cached("DELETE FROM writers WHERE doc = ?1")
                            .and_then(|mut st| st.execute([&id]))
                            .at(path)?;
                    }
                    (SNAPSHOT, data)
                }
                Chunk::Increment(data) => {
                    if !grown.contains(&w.id) {
                        grown.push(w.id);
                    }
                    (INCREMENT, data)
                }
                Chunk::None => continue,
            };
            tx.prepare_cached("INSERT INTO chunks (doc, kind, data) VALUES (?1, ?2, ?3)")
                .and_then(|mut st| st.execute(params![id, kind, data]))
                .at(path)?;
            crate::shared::insert_authorship(&tx, &id, &w.sigs, &w.writers).at(path)?;
        }
        for w in writes {
            if let Some(refs) = &w.blob_refs {
                crate::blobs::replace_blob_refs(&tx, &w.id.to_string(), w.space, refs).at(path)?;
            }
            if let Some(c) = &w.contributions {
                crate::people::replace_contributions(&tx, &w.id.to_string(), c, now).at(path)?;
            }
        }
        let mut compact = Vec::new();
        for id in grown {
            let (count, snapshot, increments): (i64, i64, i64) = tx
                .prepare_cached(CHUNK_SIZES)
                .and_then(|mut st| {
                    st.query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                })
                .at(path)?;
            let too_many = usize::try_from(count).unwrap_or(usize::MAX) > COMPACT_AFTER_CHUNKS;
            // A lone chunk gains nothing from compaction, whatever its kind.
            let too_big = count > 1 && increments > snapshot;
            if too_many || too_big {
                compact.push(id);
            }
        }
        tx.commit().at(path)?;
        Ok(compact)
    }

    /// The chunks of a document, snapshot first then increments in the order written.
    pub fn load_chunks(&self, id: DocId) -> Result<Vec<Vec<u8>>, StoreError> {
        let key = id.to_string();
        let chunks: Vec<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT data FROM chunks WHERE doc = ?1 ORDER BY seq")
            .and_then(|mut st| st.query_map([&key], |r| r.get(0))?.collect())
            .at(&self.path)?;
        if chunks.is_empty() && !self.exists(&key)? {
            return Err(StoreError::NoSuchDocument(key));
        }
        Ok(chunks)
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached("SELECT 1 FROM docs WHERE id = ?1")
            .and_then(|mut st| st.exists([key]))
            .at(&self.path)
    }

    /// The metadata of one document (deleted ones too), `None` if unknown.
    pub fn get(&self, id: DocId) -> Result<Option<Listed>, StoreError> {
        let sql = format!("SELECT {DOC_COLUMNS} FROM docs WHERE id = ?1");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_row([id.to_string()], RawListed::from_row)
                    .optional()
            })
            .at(&self.path)?
            .map(RawListed::into_listed)
            .transpose()
    }

    /// Documents matching `filter`, most recently updated first (then by id), read from the
    /// metadata columns only.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Listed>, StoreError> {
        let (filter_sql, mut args) = where_clause(filter);
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        args.push(Value::Integer(limit));
        let sql = format!(
            "SELECT {DOC_COLUMNS} FROM docs {filter_sql} ORDER BY updated_at DESC, id LIMIT ?{}",
            args.len()
        );
        let raw: Vec<RawListed> = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(rusqlite::params_from_iter(args), RawListed::from_row)?
                    .collect()
            })
            .at(&self.path)?;
        raw.into_iter().map(RawListed::into_listed).collect()
    }

    /// The trash: deleted documents (of `space`, or all) that reached this store deleted at or
    /// after `since` (ms, this store's clock), with that time, most recently deleted first.
    pub fn trash(
        &self,
        space: Option<SpaceId>,
        since: i64,
        limit: usize,
    ) -> Result<Vec<(Listed, i64)>, StoreError> {
        let sql = format!(
            "SELECT {DOC_COLUMNS}, trashed_at FROM docs
             WHERE deleted = 1 AND trashed_at >= ?1 AND (?2 IS NULL OR space = ?2)
             ORDER BY trashed_at DESC, id LIMIT ?3"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw: Vec<(RawListed, i64)> = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(params![since, space.map(|s| s.to_string()), limit], |row| {
                    Ok((RawListed::from_row(row)?, row.get(DOC_COLUMN_COUNT)?))
                })?
                .collect()
            })
            .at(&self.path)?;
        raw.into_iter()
            .map(|(r, at)| Ok((r.into_listed()?, at)))
            .collect()
    }

    /// When a deleted document reached this store deleted (ms, this store's clock); `None` if
    /// it is unknown or not deleted.
    pub fn trashed_at(&self, id: DocId) -> Result<Option<i64>, StoreError> {
        self.conn
            .prepare_cached("SELECT trashed_at FROM docs WHERE id = ?1 AND deleted = 1")
            .and_then(|mut st| {
                st.query_row([id.to_string()], |r| r.get::<_, Option<i64>>(0))
                    .optional()
            })
            .map(Option::flatten)
            .at(&self.path)
    }

    /// How many documents [`Store::list`] would return for `filter` (its `limit` aside),
    /// counted in SQLite without building the rows.
    pub fn count(&self, filter: &ListFilter) -> Result<u64, StoreError> {
        // Every field named, so that one added later is weighed here: the counts kept on
        // write (`doc_counts`, a few rows) know kinds and deletion only.
        let ListFilter {
            space,
            unanswered,
            kind: _,
            include_deleted: _,
            deleted_only: _,
            limit: _,
        } = filter;
        let from = if space.is_none() && !unanswered {
            "SELECT coalesce(sum(n), 0) FROM doc_counts"
        } else {
            "SELECT count(*) FROM docs"
        };
        let (filter_sql, args) = where_clause(filter);
        let n: i64 = self
            .conn
            .prepare_cached(&format!("{from} {filter_sql}"))
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(args), |r| r.get(0)))
            .at(&self.path)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The document named by a full id or a unique prefix of at least 4 hex characters
    /// (case-insensitive), among documents not deleted; a full id of a deleted document still
    /// resolves.
    pub fn resolve(&self, prefix: &str) -> Result<DocId, StoreError> {
        self.resolve_among(prefix, false)
    }

    /// As [`Store::resolve`], among deleted documents only (the trash): a unique prefix of a
    /// deleted document's id names it.
    pub fn resolve_deleted(&self, prefix: &str) -> Result<DocId, StoreError> {
        self.resolve_among(prefix, true)
    }

    fn resolve_among(&self, prefix: &str, deleted: bool) -> Result<DocId, StoreError> {
        let not_found = || StoreError::NoSuchDocument(prefix.to_owned());
        let lower = prefix.to_ascii_lowercase();
        if lower.len() < MIN_PREFIX_LEN
            || lower.len() > DocId::HEX_LEN
            || !lower.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(not_found());
        }
        if lower.len() == DocId::HEX_LEN && !deleted {
            return match self.exists(&lower)? {
                true => parse_id(&lower, "document"),
                false => Err(not_found()),
            };
        }
        // Every id starting with the prefix sorts in [prefix, prefix + "g"): ids are lowercase hex.
        let (count, first): (i64, Option<String>) = self
            .conn
            .prepare_cached(
                "SELECT count(*), min(id) FROM docs WHERE id >= ?1 AND id < ?2 AND deleted = ?3",
            )
            .and_then(|mut st| {
                st.query_row(
                    rusqlite::params![&lower, &format!("{lower}g"), deleted],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .at(&self.path)?;
        match (count, first) {
            (1, Some(id)) => parse_id(&id, "document"),
            (0, _) => Err(not_found()),
            (count, _) => Err(StoreError::AmbiguousId {
                prefix: prefix.to_owned(),
                count: usize::try_from(count).unwrap_or(usize::MAX),
            }),
        }
    }

    /// Runs `PRAGMA integrity_check` over the whole file.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        match schema::check_report(&self.conn, "PRAGMA integrity_check", &self.path)? {
            None => Ok(()),
            Some(detail) => Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail,
            }),
        }
    }

    /// Copies the write-ahead log into the database file and empties it.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        let (busy, log, done): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .at(&self.path)?;
        if busy != 0 {
            tracing::warn!(path = %self.path.display(), log, done, "checkpoint incomplete: a reader holds the log");
        }
        Ok(())
    }

    /// Counts for `tacit status`.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let documents: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM docs WHERE deleted = 0")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .at(&self.path)?;
        let (chunks, bytes): (i64, i64) = self
            .conn
            .prepare_cached("SELECT count(*), coalesce(sum(length(data)), 0) FROM chunks")
            .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .at(&self.path)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(StoreStats {
            documents: count(documents),
            chunks: count(chunks),
            chunk_bytes: count(bytes),
        })
    }
}

/// The `WHERE` clause of a listing and its arguments (numbered from ?1).
pub(crate) fn where_clause(filter: &ListFilter) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if filter.deleted_only {
        clauses.push("deleted = 1".into());
    } else if !filter.include_deleted {
        clauses.push("deleted = 0".into());
    }
    if let Some(space) = filter.space {
        args.push(Value::Text(space.to_string()));
        clauses.push(format!("space = ?{}", args.len()));
    }
    if let Some(kind) = filter.kind {
        args.push(Value::Text(kind.as_str().into()));
        clauses.push(format!("kind = ?{}", args.len()));
    }
    if filter.unanswered {
        clauses.push("kind = 'question' AND accepted = 0".into());
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}
