//! What shared spaces add to the store: membership ops, heads hashes for reconciliation, the
//! address book, and removing a space the home no longer belongs to.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tacit_core::{ChangeSig, DocId, MemberId, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::rows::{SpaceRow, Writer, parse_id};
use crate::store::Store;

/// Addresses kept per peer: the most recently seen.
pub const ADDRESSES_PER_PEER: usize = 8;
/// Peers the address book holds at most: the most recently seen. The node only records members of
/// its spaces; this bounds the table even so (a space of thousands of members stays under it).
pub const MAX_BOOK_PEERS: usize = 4096;

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
        self.delete_all(
            &id.to_string(),
            &[
                "DELETE FROM chunks WHERE doc IN (SELECT id FROM docs WHERE space = ?1)",
                "DELETE FROM change_sigs WHERE doc IN (SELECT id FROM docs WHERE space = ?1)",
                "DELETE FROM writers WHERE doc IN (SELECT id FROM docs WHERE space = ?1)",
                "DELETE FROM docs WHERE space = ?1",
                "DELETE FROM space_ops WHERE space = ?1",
                "DELETE FROM spaces WHERE id = ?1 AND personal = 0",
            ],
        )
    }

    /// Removes one document with everything kept of it (chunks, signatures, writers,
    /// contributions, attachment references), in one transaction: for a document that no longer
    /// exists once the changes its author had no right to make are dropped (its creator was
    /// removed before making it).
    pub fn remove_doc(&mut self, id: DocId) -> Result<(), StoreError> {
        self.delete_all(
            &id.to_string(),
            &[
                "DELETE FROM chunks WHERE doc = ?1",
                "DELETE FROM change_sigs WHERE doc = ?1",
                "DELETE FROM writers WHERE doc = ?1",
                "DELETE FROM contributions WHERE doc = ?1",
                "DELETE FROM blob_refs WHERE doc = ?1",
                "DELETE FROM docs WHERE id = ?1",
            ],
        )
    }

    /// Runs `statements`, each with `key` as `?1`, in one transaction.
    fn delete_all(&mut self, key: &str, statements: &[&str]) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        for sql in statements {
            tx.execute(sql, [key]).at(&path)?;
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

    /// One document's stored heads hash, if recorded.
    pub fn heads_of(&self, id: DocId) -> Result<Option<[u8; 8]>, StoreError> {
        let raw: Option<Option<Vec<u8>>> = self
            .conn
            .prepare_cached("SELECT heads FROM docs WHERE id = ?1")
            .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)).optional())
            .at(self.path())?;
        Ok(raw.flatten().and_then(|h| <[u8; 8]>::try_from(h).ok()))
    }

    /// Records a document's heads hash (computed after the fact for an older row).
    pub fn set_heads(&mut self, id: DocId, heads: [u8; 8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE docs SET heads = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id.to_string(), heads.to_vec()]))
            .at(self.path())?;
        Ok(())
    }

    /// Notes that `peer` was seen at each of `addrs`, in one transaction; keeps the
    /// [`ADDRESSES_PER_PEER`] most recent.
    pub fn note_addresses(
        &mut self,
        peer: &str,
        addrs: &[&str],
        at: i64,
    ) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        for addr in addrs {
            tx.prepare_cached(
                "INSERT INTO addresses (peer, addr, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (peer, addr)
                 DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            )
            .and_then(|mut s| s.execute(params![peer, addr, at]))
            .at(&path)?;
        }
        tx.prepare_cached(
            "DELETE FROM addresses WHERE peer = ?1 AND addr NOT IN
               (SELECT addr FROM addresses WHERE peer = ?1 ORDER BY last_seen DESC LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![peer, ADDRESSES_PER_PEER as i64]))
        .at(&path)?;
        tx.prepare_cached(
            "DELETE FROM addresses WHERE peer NOT IN
               (SELECT peer FROM addresses GROUP BY peer ORDER BY max(last_seen) DESC LIMIT ?1)",
        )
        .and_then(|mut s| s.execute(params![MAX_BOOK_PEERS as i64]))
        .at(&path)?;
        tx.commit().at(&path)?;
        Ok(())
    }

    /// Forgets every address of peers not in `keep` (the members of this home's spaces).
    pub fn keep_addresses_of(&mut self, keep: &[String]) -> Result<usize, StoreError> {
        let held: Vec<String> = self
            .conn
            .prepare_cached("SELECT DISTINCT peer FROM addresses")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .at(self.path())?;
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let mut gone = 0;
        for peer in held.iter().filter(|p| !keep.contains(p)) {
            gone += tx
                .prepare_cached("DELETE FROM addresses WHERE peer = ?1")
                .and_then(|mut s| s.execute([peer]))
                .at(&path)?;
        }
        tx.commit().at(&path)?;
        Ok(gone)
    }

    /// The signatures held for the changes of a document.
    pub fn sigs(&self, doc: DocId) -> Result<Vec<ChangeSig>, StoreError> {
        let raw: Vec<(Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT hash, sig FROM change_sigs WHERE doc = ?1")
            .and_then(|mut s| {
                s.query_map([doc.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .at(self.path())?;
        Ok(raw
            .into_iter()
            .filter_map(|(h, s)| {
                let hash = <[u8; 32]>::try_from(h).ok()?;
                let sig = <[u8; 64]>::try_from(s).ok()?;
                Some(ChangeSig::from_parts(hash, &sig))
            })
            .collect())
    }

    /// Adds signatures of a document's changes (those held already are kept).
    pub fn add_sigs(&mut self, doc: DocId, sigs: &[ChangeSig]) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        insert_authorship(&tx, &doc.to_string(), sigs, &[]).at(&path)?;
        tx.commit().at(&path)?;
        Ok(())
    }

    /// `member`'s last change to each document of `space` they wrote: what a removal's cut
    /// records.
    pub fn last_changes_of(
        &self,
        space: SpaceId,
        member: MemberId,
    ) -> Result<Vec<(DocId, [u8; 32])>, StoreError> {
        let raw: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT w.doc, w.head FROM writers w JOIN docs d ON d.id = w.doc
                 WHERE w.member = ?1 AND d.space = ?2 ORDER BY w.doc",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![member.as_bytes().to_vec(), space.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect()
            })
            .at(self.path())?;
        raw.into_iter()
            .map(|(doc, head)| {
                let doc: DocId = parse_id(&doc, "document")?;
                let head = <[u8; 32]>::try_from(head)
                    .map_err(|_| StoreError::Malformed(format!("writer head of {doc}")))?;
                Ok((doc, head))
            })
            .collect()
    }

    /// The writers of a document: each member's last change to it.
    pub fn writers(&self, doc: DocId) -> Result<Vec<Writer>, StoreError> {
        let raw: Vec<(Vec<u8>, i64, Vec<u8>, i64)> = self
            .conn
            .prepare_cached("SELECT member, seq, head, at FROM writers WHERE doc = ?1")
            .and_then(|mut s| {
                s.query_map([doc.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect()
            })
            .at(self.path())?;
        Ok(raw
            .into_iter()
            .filter_map(|(m, seq, head, at)| {
                Some(Writer {
                    member: MemberId::from_bytes(<[u8; 32]>::try_from(m).ok()?),
                    seq: u64::try_from(seq).ok()?,
                    head: <[u8; 32]>::try_from(head).ok()?,
                    at,
                })
            })
            .collect())
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

/// Records signatures and writers of a document's new changes, in the caller's transaction. A
/// writer's row moves only forward (a higher sequence number).
pub(crate) fn insert_authorship(
    tx: &rusqlite::Transaction<'_>,
    doc: &str,
    sigs: &[ChangeSig],
    writers: &[Writer],
) -> rusqlite::Result<()> {
    if !sigs.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT OR IGNORE INTO change_sigs (doc, hash, sig) VALUES (?1, ?2, ?3)",
        )?;
        for s in sigs {
            st.execute(params![doc, s.hash.to_vec(), s.sig_bytes().to_vec()])?;
        }
    }
    if !writers.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO writers (doc, member, seq, head, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (doc, member) DO UPDATE SET seq = excluded.seq, head = excluded.head,
               at = excluded.at WHERE excluded.seq > writers.seq",
        )?;
        for w in writers {
            st.execute(params![
                doc,
                w.member.as_bytes().to_vec(),
                i64::try_from(w.seq).unwrap_or(i64::MAX),
                w.head.to_vec(),
                w.at
            ])?;
        }
    }
    Ok(())
}
