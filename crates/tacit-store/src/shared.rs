//! What shared spaces add to the store: membership ops, heads hashes for reconciliation, the
//! address book, and removing a space the home no longer belongs to.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tacit_core::{DocId, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::rows::{SpaceRow, parse_id};
use crate::store::Store;

/// Addresses kept per peer: the most recently seen.
pub const ADDRESSES_PER_PEER: usize = 8;

/// A document's heads hash as stored: `None` where it was never computed.
pub type StoredHeads = (DocId, Option<[u8; 8]>);

/// One address-book entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The libp2p peer id, as text.
    pub peer: String,
    /// A multiaddr, as text.
    pub addr: String,
    /// When the peer was last seen there, ms since the epoch.
    pub last_seen: i64,
}

impl Store {
    /// Adds a shared space and its first membership ops in one transaction. A space already
    /// recorded keeps its row; ops already held are skipped.
    pub fn add_shared_space(
        &mut self,
        space: &SpaceRow,
        ops: &[([u8; 32], Vec<u8>)],
    ) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO spaces (id, name, personal, created_at) VALUES (?1, ?2, 0, ?3)",
        )
        .and_then(|mut s| s.execute(params![space.id.to_string(), space.name, space.created_at]))
        .at(&path)?;
        insert_ops(&tx, space.id, ops).at(&path)?;
        tx.commit().at(&path)?;
        Ok(())
    }

    /// Adds membership ops to a space's set; returns how many were new.
    pub fn add_ops(
        &mut self,
        space: SpaceId,
        ops: &[([u8; 32], Vec<u8>)],
    ) -> Result<usize, StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let added = insert_ops(&tx, space, ops).at(&path)?;
        tx.commit().at(&path)?;
        Ok(added)
    }

    /// Every membership op of a space, in hash order.
    pub fn ops(&self, space: SpaceId) -> Result<Vec<Vec<u8>>, StoreError> {
        self.conn
            .prepare_cached("SELECT data FROM space_ops WHERE space = ?1 ORDER BY hash")
            .and_then(|mut s| s.query_map([space.to_string()], |r| r.get(0))?.collect())
            .at(self.path())
    }

    /// One space, if recorded.
    pub fn space(&self, id: SpaceId) -> Result<Option<SpaceRow>, StoreError> {
        let raw: Option<(String, bool, i64)> = self
            .conn
            .prepare_cached("SELECT name, personal, created_at FROM spaces WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .at(self.path())?;
        Ok(raw.map(|(name, personal, created_at)| SpaceRow {
            id,
            name,
            personal,
            created_at,
        }))
    }

    /// Removes a space with every document, chunk and op of it, in one transaction.
    pub fn remove_space(&mut self, id: SpaceId) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let key = id.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        for sql in [
            "DELETE FROM chunks WHERE doc IN (SELECT id FROM docs WHERE space = ?1)",
            "DELETE FROM docs WHERE space = ?1",
            "DELETE FROM space_ops WHERE space = ?1",
            "DELETE FROM spaces WHERE id = ?1 AND personal = 0",
        ] {
            tx.execute(sql, [&key]).at(&path)?;
        }
        tx.commit().at(&path)?;
        Ok(())
    }

    /// Every document of a space (deleted ones too: a tombstone syncs like any change) with its
    /// heads hash, `None` where it was never computed.
    pub fn doc_heads(&self, space: SpaceId) -> Result<Vec<StoredHeads>, StoreError> {
        let raw: Vec<(String, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached("SELECT id, heads FROM docs WHERE space = ?1")
            .and_then(|mut s| {
                s.query_map([space.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .at(self.path())?;
        raw.into_iter()
            .map(|(id, heads)| {
                let id: DocId = parse_id(&id, "document")?;
                Ok((id, heads.and_then(|h| <[u8; 8]>::try_from(h).ok())))
            })
            .collect()
    }

    /// Records a document's heads hash (computed after the fact for an older row).
    pub fn set_heads(&mut self, id: DocId, heads: [u8; 8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE docs SET heads = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id.to_string(), heads.to_vec()]))
            .at(self.path())?;
        Ok(())
    }

    /// Notes that `peer` was seen at `addr`; keeps the [`ADDRESSES_PER_PEER`] most recent.
    pub fn note_address(&mut self, peer: &str, addr: &str, at: i64) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        tx.prepare_cached(
            "INSERT INTO addresses (peer, addr, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (peer, addr) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
        )
        .and_then(|mut s| s.execute(params![peer, addr, at]))
        .at(&path)?;
        tx.prepare_cached(
            "DELETE FROM addresses WHERE peer = ?1 AND addr NOT IN
               (SELECT addr FROM addresses WHERE peer = ?1 ORDER BY last_seen DESC LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![peer, ADDRESSES_PER_PEER as i64]))
        .at(&path)?;
        tx.commit().at(&path)?;
        Ok(())
    }

    /// The address book, most recently seen first.
    pub fn addresses(&self) -> Result<Vec<Address>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT peer, addr, last_seen FROM addresses ORDER BY last_seen DESC, peer, addr",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(Address {
                        peer: r.get(0)?,
                        addr: r.get(1)?,
                        last_seen: r.get(2)?,
                    })
                })?
                .collect()
            })
            .at(self.path())
    }
}

fn insert_ops(
    tx: &rusqlite::Transaction<'_>,
    space: SpaceId,
    ops: &[([u8; 32], Vec<u8>)],
) -> rusqlite::Result<usize> {
    let mut added = 0;
    let mut st = tx.prepare_cached(
        "INSERT OR IGNORE INTO space_ops (space, hash, data) VALUES (?1, ?2, ?3)",
    )?;
    let key = space.to_string();
    for (hash, data) in ops {
        added += st.execute(params![key, hash.to_vec(), data])?;
    }
    Ok(added)
}
