//! The values that go in and out of the store, and their conversion from database rows.

use tacit_core::{ChangeSig, DocId, Kind, MemberId, SpaceId, Summary};

use crate::error::StoreError;

/// A space as stored: its id, name, whether it is the home's personal space, and creation time (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRow {
    /// The space id.
    pub id: SpaceId,
    /// Its display name.
    pub name: String,
    /// Whether this is the home's private personal space.
    pub personal: bool,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
}

/// The Automerge bytes that come with a [`DocWrite`].
#[derive(Debug, Clone)]
pub enum Chunk {
    /// A whole document (`save()`): replaces every stored chunk of the document.
    Snapshot(Vec<u8>),
    /// Changes after the stored ones (`save_incremental()`): appended.
    Increment(Vec<u8>),
    /// No new bytes: only the metadata changes.
    None,
}

/// One document's part of a [`crate::Store::write`].
#[derive(Debug, Clone)]
pub struct DocWrite {
    /// The document.
    pub id: DocId,
    /// The space it belongs to.
    pub space: SpaceId,
    /// Its listing metadata after this write.
    pub summary: Summary,
    /// Short hash of its heads after this write (for reconciliation); `None` leaves it to be
    /// computed when first needed.
    pub heads: Option<[u8; 8]>,
    /// The bytes to store.
    pub chunk: Chunk,
    /// Signatures of the changes in `chunk` (added to those held).
    pub sigs: Vec<ChangeSig>,
    /// Each author's last change among those in `chunk` (kept when newer than the stored one).
    pub writers: Vec<Writer>,
    /// What each member did in the document, as it now stands (replaces what is stored);
    /// `None` leaves it as it is.
    pub contributions: Option<Vec<tacit_core::people::Contribution>>,
    /// The blobs it refers to (a note's attachments: hash, size as the note states it),
    /// replacing what is stored, in the write's transaction; `None` leaves them as they are.
    pub blob_refs: Option<Vec<crate::BlobRef>>,
}

/// A member's last change to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    /// The member.
    pub member: MemberId,
    /// The sequence number of their last change to it.
    pub seq: u64,
    /// Its hash.
    pub head: [u8; 32],
    /// Its time, ms, as the change states it.
    pub at: i64,
}

/// A document's metadata, as listings see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The document.
    pub id: DocId,
    /// Its space.
    pub space: SpaceId,
    /// Its metadata.
    pub summary: Summary,
}

/// Which documents [`crate::Store::list`] returns.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this space.
    pub space: Option<SpaceId>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only questions with no accepted answer.
    pub unanswered: bool,
    /// Include tombstoned documents.
    pub include_deleted: bool,
    /// Only tombstoned documents (the trash); wins over `include_deleted`.
    pub deleted_only: bool,
    /// At most this many.
    pub limit: Option<usize>,
}

/// Counts for `tacit status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Documents not deleted.
    pub documents: u64,
    /// Stored chunks (snapshots and increments).
    pub chunks: u64,
    /// Bytes of chunk data.
    pub chunk_bytes: u64,
}

/// The columns of `docs`, in the order [`RawListed::from_row`] reads them.
pub(crate) const DOC_COLUMNS: &str = "id, space, kind, title, tags, author, created_at, \
     updated_at, deleted, answers, accepted, deleted_at, deleted_by";

/// How many columns [`DOC_COLUMNS`] names (the index of a column selected after them).
pub(crate) const DOC_COLUMN_COUNT: usize = 13;

/// A `docs` row as SQLite types; converted to [`Listed`] outside the rusqlite callback so that a
/// bad value becomes [`StoreError::Malformed`].
pub(crate) struct RawListed {
    id: String,
    space: String,
    kind: String,
    title: String,
    tags: String,
    author: String,
    created_at: i64,
    updated_at: i64,
    deleted: bool,
    answers: i64,
    accepted: bool,
    deleted_at: Option<i64>,
    deleted_by: Option<String>,
}

impl RawListed {
    /// Reads the [`DOC_COLUMNS`] of a row.
    pub(crate) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            space: row.get(1)?,
            kind: row.get(2)?,
            title: row.get(3)?,
            tags: row.get(4)?,
            author: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            deleted: row.get(8)?,
            answers: row.get(9)?,
            accepted: row.get(10)?,
            deleted_at: row.get(11)?,
            deleted_by: row.get(12)?,
        })
    }

    /// Checks and converts every value.
    pub(crate) fn into_listed(self) -> Result<Listed, StoreError> {
        let id: DocId = parse_id(&self.id, "document")?;
        let bad = |what: &str, value: &str| {
            StoreError::Malformed(format!("document {id} has {what} {value:?}"))
        };
        let space: SpaceId = parse_id(&self.space, "space")?;
        let kind = Kind::parse(&self.kind).ok_or_else(|| bad("kind", &self.kind))?;
        let tags: Vec<String> =
            serde_json::from_str(&self.tags).map_err(|_| bad("tags", &self.tags))?;
        let author: MemberId = self
            .author
            .parse()
            .map_err(|_| bad("author", &self.author))?;
        let answers = u32::try_from(self.answers)
            .map_err(|_| bad("answer count", &self.answers.to_string()))?;
        Ok(Listed {
            id,
            space,
            summary: Summary {
                kind,
                title: self.title,
                tags,
                author,
                created_at: self.created_at,
                updated_at: self.updated_at,
                deleted: self.deleted,
                deleted_at: self.deleted_at,
                // A maker that does not parse is unknown, as a tombstone without one is.
                deleted_by: self.deleted_by.and_then(|m| m.parse().ok()),
                answers,
                accepted: self.accepted,
            },
        })
    }
}

/// Parses a stored id, or says which row holds a bad one.
pub(crate) fn parse_id<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Malformed(format!("stored {what} id {s:?} is not an id")))
}
