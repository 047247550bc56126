//! What the search index needs of the store: a second, read-only connection for the indexer's
//! thread (WAL lets it read while the node writes), and the list of documents with the hash of
//! their heads, which tells the index what it lacks or holds stale.

use std::path::Path;

use rusqlite::OpenFlags;
use tacit_core::{DocId, Kind, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::store::{BUSY_TIMEOUT, Store};

/// A document as the search index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// The document.
    pub id: DocId,
    /// Its space.
    pub space: SpaceId,
    /// Its kind.
    pub kind: Kind,
    /// Whether it carries a tombstone.
    pub deleted: bool,
    /// The short hash of its heads; `None` for a document written before hashes were kept.
    pub heads: Option<[u8; 8]>,
}

impl Store {
    /// Opens an existing database read-only: no migration, no writes. The node opens its
    /// store first, so the file is current.
    pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags).at(path)?;
        conn.busy_timeout(BUSY_TIMEOUT).at(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            clock: crate::store::system_ms,
        })
    }

    /// Every note and question (deleted ones too), for the index to compare with what it holds.
    pub fn index_rows(&self) -> Result<Vec<IndexRow>, StoreError> {
        let path = self.path().to_path_buf();
        let mut st = self
            .conn
            .prepare("SELECT id, space, kind, deleted, heads FROM docs WHERE kind IN ('note', 'question')")
            .at(&path)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })
            .at(&path)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, space, kind, deleted, heads) = row.at(&path)?;
            let (Ok(id), Ok(space), Some(kind)) = (
                id.parse::<DocId>(),
                space.parse::<SpaceId>(),
                Kind::parse(&kind),
            ) else {
                return Err(StoreError::Corrupt {
                    path,
                    detail: format!("a document row holds an invalid id, space or kind ({id})"),
                });
            };
            let heads = heads.and_then(|h| <[u8; 8]>::try_from(h.as_slice()).ok());
            out.push(IndexRow {
                id,
                space,
                kind,
                deleted,
                heads,
            });
        }
        Ok(out)
    }
}
