//! The database schema, its migrations, and the checks made before a database is opened for
//! writing.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{SqlContext, StoreError};

/// `PRAGMA application_id` of a Tacit database: "TACI" in ASCII. Lets us refuse another
/// application's SQLite file instead of adding our tables to it.
pub(crate) const APPLICATION_ID: i32 = 0x5441_4349;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Migration steps: `MIGRATIONS[v]` takes a database from `user_version` v to v + 1. Each runs in
/// one transaction together with the new `user_version`. Append, never edit a released step.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE spaces (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        personal   INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- One small row per document: no blobs here, so listings never touch chunk pages.
    CREATE TABLE docs (
        id         TEXT PRIMARY KEY,  -- 32 lowercase hex
        space      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        title      TEXT NOT NULL,
        tags       TEXT NOT NULL,     -- JSON array of strings
        author     TEXT NOT NULL,     -- member id, 64 hex
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted    INTEGER NOT NULL,
        answers    INTEGER NOT NULL,
        accepted   INTEGER NOT NULL
    ) WITHOUT ROWID;                  -- keyed by id alone: no second copy of every id
    -- The listing order, with and without a space.
    CREATE INDEX docs_by_update ON docs (deleted, updated_at DESC, id);
    CREATE INDEX docs_by_space ON docs (space, deleted, updated_at DESC, id);

    -- seq is the rowid: it only grows, so a document's chunks in seq order are its snapshot
    -- (always written after deleting the older chunks) followed by its increments.
    CREATE TABLE chunks (
        seq  INTEGER PRIMARY KEY,
        doc  TEXT NOT NULL REFERENCES docs (id),
        kind INTEGER NOT NULL,        -- 0 snapshot, 1 increment
        data BLOB NOT NULL
    );
    CREATE INDEX chunks_by_doc ON chunks (doc, seq);
    ",
    // 2: shared spaces — heads hashes for reconciliation, membership ops, the address book.
    "
    -- Short hash of the document's Automerge heads (8 bytes); NULL until first computed.
    ALTER TABLE docs ADD COLUMN heads BLOB;

    -- The signed membership ops of each shared space: a grow-only set.
    CREATE TABLE space_ops (
        space TEXT NOT NULL,
        hash  BLOB NOT NULL,          -- sha256 of data
        data  BLOB NOT NULL,
        PRIMARY KEY (space, hash)
    ) WITHOUT ROWID;

    -- Where peers were seen: reconnect targets.
    CREATE TABLE addresses (
        peer      TEXT NOT NULL,      -- libp2p peer id
        addr      TEXT NOT NULL,      -- multiaddr
        last_seen INTEGER NOT NULL,   -- ms since the epoch
        PRIMARY KEY (peer, addr)
    ) WITHOUT ROWID;
    ",
    // 3: signed authorship — each change's signature, and each writer's last change per document
    // (what a removal's cut records). Ops of the previous format are kept but no longer synced.
    "
    CREATE TABLE change_sigs (
        doc  TEXT NOT NULL,           -- document id
        hash BLOB NOT NULL,           -- Automerge change hash, 32 bytes
        sig  BLOB NOT NULL,           -- the author's Ed25519 signature, 64 bytes
        PRIMARY KEY (doc, hash)
    ) WITHOUT ROWID;

    CREATE TABLE writers (
        doc    TEXT NOT NULL,         -- document id
        member BLOB NOT NULL,         -- member id, 32 bytes
        seq    INTEGER NOT NULL,      -- the member's last change to the document: its sequence
        head   BLOB NOT NULL,         -- and its hash
        at     INTEGER NOT NULL,      -- and its time (ms), as the change states it
        PRIMARY KEY (doc, member)
    ) WITHOUT ROWID;
    CREATE INDEX writers_by_member ON writers (member, doc);
    ",
    // 4: people and giving — what each member did in each document (derived from the documents,
    // rebuilt from them at will), the tags this member follows, and which inbox items it has seen.
    "
    CREATE TABLE contributions (
        doc      TEXT NOT NULL,       -- document id
        n        INTEGER NOT NULL,    -- its place among the document's contributions
        member   BLOB NOT NULL,       -- member id, 32 bytes
        act      INTEGER NOT NULL,    -- 0 asked, 1 answered, 2 wrote, 3 thanked, 4 confirmed
        answer   TEXT,                -- the answer (answered, thanked, confirmed)
        tags     TEXT NOT NULL,       -- JSON array: the document's tags
        words    TEXT NOT NULL,       -- JSON array: the words of its title
        at       INTEGER NOT NULL,    -- ms
        accepted INTEGER NOT NULL,
        thanks   INTEGER NOT NULL,
        score    INTEGER NOT NULL,
        PRIMARY KEY (doc, n)
    ) WITHOUT ROWID;
    CREATE INDEX contributions_by_member ON contributions (member);

    CREATE TABLE follows (
        tag TEXT PRIMARY KEY
    ) WITHOUT ROWID;

    CREATE TABLE inbox_seen (
        item TEXT PRIMARY KEY,        -- kind:question[:answer]
        at   INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 5: listings and counts of one kind (the questions of a space, the notes and questions
    // `status` counts) read the index alone instead of every row: measured on a home of 10,000
    // notes, the questions of a space 12.8 ms → 0.04 ms, a count 10 ms → 0.7 ms (the window's
    // first screen waits for both).
    "
    CREATE INDEX docs_by_kind ON docs (kind, space, deleted, updated_at DESC, id);
    ",
    // 6: when a deletion reached this store, by its own clock: the trash counts its 30 days from
    // there, not from the time the deleting change states (which its author chose). Deletions
    // already held count from their last change.
    "
    ALTER TABLE docs ADD COLUMN trashed_at INTEGER;
    UPDATE docs SET trashed_at = updated_at WHERE deleted = 1;
    CREATE INDEX docs_by_trashed ON docs (trashed_at DESC, id) WHERE deleted = 1;
    ",
    // 7: attachments — which blobs each note refers to (derived from the documents, so that a
    // member asking for a blob is answered without loading any), and the blobs held here.
    "
    CREATE TABLE blob_refs (
        doc   TEXT NOT NULL,          -- document id
        hash  TEXT NOT NULL,          -- BLAKE3, 64 lowercase hex
        space TEXT NOT NULL,          -- the document's space
        size  INTEGER NOT NULL,       -- as the note states it
        PRIMARY KEY (doc, hash)
    ) WITHOUT ROWID;
    CREATE INDEX blob_refs_by_hash ON blob_refs (hash, space);
    CREATE INDEX blob_refs_by_space ON blob_refs (space, hash);

    CREATE TABLE blobs (
        hash      TEXT PRIMARY KEY,   -- BLAKE3, 64 lowercase hex
        size      INTEGER NOT NULL,
        stored_at INTEGER NOT NULL    -- ms
    ) WITHOUT ROWID;
    ",
    // 8: how many documents of each kind are live and deleted, kept by triggers on every write
    // of a row, so that `status` reads two rows instead of walking every document. Profiled
    // under a first sync of 10,000 notes with the window polling `status`: counting took 84% of
    // the actor's time, since `docs_by_kind` cannot skip deleted rows without a space.
    "
    CREATE TABLE doc_counts (
        kind    TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        n       INTEGER NOT NULL,
        PRIMARY KEY (kind, deleted)
    ) WITHOUT ROWID;
    INSERT INTO doc_counts (kind, deleted, n)
        SELECT kind, deleted, count(*) FROM docs GROUP BY kind, deleted;
    CREATE TRIGGER doc_counts_insert AFTER INSERT ON docs BEGIN
        INSERT INTO doc_counts (kind, deleted, n) VALUES (new.kind, new.deleted, 1)
            ON CONFLICT (kind, deleted) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER doc_counts_delete AFTER DELETE ON docs BEGIN
        UPDATE doc_counts SET n = n - 1 WHERE kind = old.kind AND deleted = old.deleted;
    END;
    CREATE TRIGGER doc_counts_update AFTER UPDATE OF kind, deleted ON docs
    WHEN old.kind IS NOT new.kind OR old.deleted IS NOT new.deleted BEGIN
        UPDATE doc_counts SET n = n - 1 WHERE kind = old.kind AND deleted = old.deleted;
        INSERT INTO doc_counts (kind, deleted, n) VALUES (new.kind, new.deleted, 1)
            ON CONFLICT (kind, deleted) DO UPDATE SET n = n + 1;
    END;
    ",
    // 9: the spaces each blob is held for: those it was attached to here or fetched for from
    // their members. A member of one space naming the hash of another space's file in a note
    // of its own gets nothing (it is served for the spaces it is held for only), and cannot
    // tell whether this home holds it (it is fetched for the member's space all the same).
    // Blobs held already count as held for the spaces whose notes refer to them.
    "
    CREATE TABLE blob_held_for (
        hash  TEXT NOT NULL,          -- BLAKE3, 64 lowercase hex
        space TEXT NOT NULL,
        PRIMARY KEY (hash, space)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO blob_held_for (hash, space)
        SELECT DISTINCT b.hash, r.space FROM blobs b JOIN blob_refs r ON r.hash = b.hash;
    ",
    // 10: a deletion's time and maker as its tombstone states them, so that the trash lists
    // without loading each deleted document (a member deleting a thousand large notes made
    // every look at the trash load them all). Rows written before stay NULL until written
    // again; the trash loads those.
    "
    ALTER TABLE docs ADD COLUMN deleted_at INTEGER;
    ALTER TABLE docs ADD COLUMN deleted_by TEXT;
    ",
];

/// The schema version this build writes, and the newest it opens.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks an existing, non-empty file without writing to it: it must be SQLite, carry our
/// application id (or be an empty SQLite database), have a schema we know, and pass
/// `PRAGMA quick_check` (see [`FULL_CHECK_MAX_BYTES`]).
pub(crate) fn check_existing(path: &Path) -> Result<(), StoreError> {
    let mut header = [0u8; 16];
    let mut file = File::open(path).map_err(StoreError::io(path))?;
    match file.read_exact(&mut header) {
        Ok(()) if &header == SQLITE_HEADER => {}
        Ok(()) => return Err(foreign(path)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(foreign(path)),
        Err(e) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
    }
    drop(file);

    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .at(path)?;
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .at(path)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .at(path)?;
    if app_id != APPLICATION_ID {
        // A database that holds nothing at all (left by a crash between creating the file and
        // the first migration) is ours to fill.
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .at(path)?;
        if !(app_id == 0 && version == 0 && objects == 0) {
            return Err(foreign(path));
        }
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 {
        return Err(foreign(path));
    }
    let len = std::fs::metadata(path).map_err(StoreError::io(path))?.len();
    quick_check(&conn, path, len <= FULL_CHECK_MAX_BYTES)
}

/// Up to this size the whole file gets `PRAGMA quick_check` at open. It reads every page: measured
/// at about 0.5 ms per MB in an unoptimised build (11 ms for 10,000 notes in 25 MB, 23 ms in
/// 46 MB; `benches/open_list.rs`), so this bounds the check to roughly 30 ms. Larger files get the check of the metadata tables only
/// ([`METADATA_TABLES`]); damage among the chunk blobs then surfaces as `SQLITE_CORRUPT` on the
/// statement that reads it, which maps to [`StoreError::Corrupt`], and the damaged page is never
/// rewritten because a corrupt read fails the transaction.
const FULL_CHECK_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The tables checked at open when the file is too large for a full check: what listings read.
const METADATA_TABLES: &[&str] = &[
    "sqlite_schema",
    "meta",
    "spaces",
    "docs",
    "doc_counts",
    "space_ops",
    "addresses",
    "change_sigs",
    "writers",
];

/// How many lines of a failed check go into the error.
pub(crate) const CHECK_REPORT_LINES: usize = 5;

/// `PRAGMA quick_check` of the whole file (`full`) or of the [`METADATA_TABLES`] only.
pub(crate) fn quick_check(conn: &Connection, path: &Path, full: bool) -> Result<(), StoreError> {
    let checks: Vec<String> = if full {
        vec!["PRAGMA quick_check".to_owned()]
    } else {
        let tables: Vec<String> = {
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
                .at(path)?;
            stmt.query_map([], |r| r.get(0))
                .at(path)?
                .collect::<rusqlite::Result<_>>()
                .at(path)?
        };
        METADATA_TABLES
            .iter()
            .filter(|t| **t == "sqlite_schema" || tables.iter().any(|name| name == *t))
            .map(|t| format!("PRAGMA quick_check(\"{t}\")"))
            .collect()
    };
    for sql in checks {
        if let Some(detail) = check_report(conn, &sql, path)? {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail,
            });
        }
    }
    Ok(())
}

/// Runs `quick_check` or `integrity_check`: `None` when it says "ok", else the first lines.
pub(crate) fn check_report(
    conn: &Connection,
    sql: &str,
    path: &Path,
) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare(sql).at(path)?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .at(path)?
        .take(CHECK_REPORT_LINES)
        .collect::<rusqlite::Result<_>>()
        .at(path)?;
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(lines.join("; ")))
    }
}

fn foreign(path: &Path) -> StoreError {
    StoreError::Foreign {
        path: path.to_path_buf(),
    }
}

/// Brings the schema from its `user_version` to [`SCHEMA_VERSION`], one transaction per step.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .at(path)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            // Up to date (a negative version was refused by `check_existing`).
            return Ok(());
        };
        tx.execute_batch(step).at(path)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .at(path)?;
        tx.pragma_update(None, "user_version", version + 1)
            .at(path)?;
        tx.commit().at(path)?;
        tracing::info!(path = %path.display(), version = version + 1, "migrated the database");
    }
}
