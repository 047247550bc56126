//! What people did, derived from the documents: contributions per document (replaced with each
//! write of it), and this member's local choices: the tags it follows and the inbox items it has
//! seen.

use std::collections::HashMap;

use rusqlite::{TransactionBehavior, params};
use tacit_core::people::{Act, Contribution};
use tacit_core::{DocId, MemberId, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::rows::parse_id;
use crate::store::Store;

/// A contribution with the space of its document.
pub type SpaceContribution = (SpaceId, Contribution);

/// How far ahead of this machine's clock a contribution's time is taken as written: another
/// member's clock may run a little ahead.
const CLOCK_AHEAD_MS: i64 = 60 * 60 * 1000;

/// Replaces the contributions of `doc`, in the caller's transaction.
///
/// Each one's time is what its writer put in the document. One dated further ahead than
/// [`CLOCK_AHEAD_MS`] would stay the newest item of an inbox and the heaviest in the expertise
/// ranking for years (a time near `i64::MAX` would overflow the sums made of it), so it is taken
/// as the time it was first written here (`now`), and keeps that time when the document is
/// written again; a time before the epoch is taken as the epoch.
pub(crate) fn replace_contributions(
    tx: &rusqlite::Transaction<'_>,
    doc: &str,
    rows: &[Contribution],
    now: i64,
) -> rusqlite::Result<()> {
    let ahead = now.saturating_add(CLOCK_AHEAD_MS);
    // The times kept for rows dated ahead, by (member, act, answer): read only when a row is.
    let mut kept: HashMap<(Vec<u8>, i64, Option<String>), i64> = HashMap::new();
    if rows.iter().any(|c| c.at > ahead) {
        let mut st =
            tx.prepare_cached("SELECT member, act, answer, at FROM contributions WHERE doc = ?1")?;
        let found = st.query_map([doc], |r| {
            Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get::<_, i64>(3)?))
        })?;
        for row in found {
            let (key, at) = row?;
            kept.insert(key, at);
        }
    }
    tx.prepare_cached("DELETE FROM contributions WHERE doc = ?1")?
        .execute([doc])?;
    let mut st = tx.prepare_cached(
        "INSERT INTO contributions (doc, n, member, act, answer, tags, words, at, accepted, thanks, score)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for (n, c) in rows.iter().enumerate() {
        let member = c.member.as_bytes().to_vec();
        let answer = c.answer.map(|a| a.to_string());
        let at = if c.at > ahead {
            kept.get(&(member.clone(), c.act.code(), answer.clone()))
                .copied()
                .filter(|t| (0..=ahead).contains(t))
                .unwrap_or(now)
        } else {
            c.at.max(0)
        };
        st.execute(params![
            doc,
            n as i64,
            member,
            c.act.code(),
            answer,
            serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&c.words).unwrap_or_else(|_| "[]".into()),
            at,
            c.accepted,
            c.thanks,
            c.score,
        ])?;
    }
    Ok(())
}

type Row = (
    String,
    String,
    Vec<u8>,
    i64,
    Option<String>,
    String,
    String,
    i64,
    bool,
    i64,
    i64,
);

impl Store {
    /// Every contribution in live documents, with the space of each (one space, or all).
    pub fn contributions(
        &self,
        space: Option<SpaceId>,
    ) -> Result<Vec<SpaceContribution>, StoreError> {
        let sql = "SELECT c.doc, d.space, c.member, c.act, c.answer, c.tags, c.words, c.at,
                          c.accepted, c.thanks, c.score
                   FROM contributions c JOIN docs d ON d.id = c.doc
                   WHERE d.deleted = 0 AND (?1 IS NULL OR d.space = ?1)
                   ORDER BY c.doc, c.n";
        let raw: Vec<Row> = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map([space.map(|s| s.to_string())], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                    ))
                })?
                .collect()
            })
            .at(self.path())?;
        let mut out = Vec::with_capacity(raw.len());
        for (doc, space, member, act, answer, tags, words, at, accepted, thanks, score) in raw {
            let (Some(act), Ok(member)) = (Act::from_code(act), <[u8; 32]>::try_from(member))
            else {
                continue; // written by a newer version: not understood, left out
            };
            let doc: DocId = parse_id(&doc, "document")?;
            let space: SpaceId = parse_id(&space, "space")?;
            out.push((
                space,
                Contribution {
                    member: MemberId::from_bytes(member),
                    act,
                    doc,
                    answer: answer.and_then(|a| a.parse().ok()),
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    words: serde_json::from_str(&words).unwrap_or_default(),
                    at,
                    accepted,
                    thanks: u32::try_from(thanks).unwrap_or(0),
                    score,
                },
            ));
        }
        Ok(out)
    }

    /// Records the contributions of documents outside a document write (a rebuild).
    pub fn set_contributions(
        &mut self,
        docs: &[(DocId, Vec<Contribution>)],
    ) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let now = (self.clock)();
        for (doc, rows) in docs {
            replace_contributions(&tx, &doc.to_string(), rows, now).at(&path)?;
        }
        tx.commit().at(&path)?;
        Ok(())
    }

    /// Every document id, for rebuilding what is derived from them.
    pub fn all_doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        let raw: Vec<String> = self
            .conn
            .prepare_cached("SELECT id FROM docs ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .at(self.path())?;
        raw.iter().map(|id| parse_id(id, "document")).collect()
    }

    /// The tags this member follows.
    pub fn follows(&self) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT tag FROM follows ORDER BY tag")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .at(self.path())
    }

    /// Follows (`on`) or stops following a tag.
    pub fn set_follow(&mut self, tag: &str, on: bool) -> Result<(), StoreError> {
        let sql = if on {
            "INSERT OR IGNORE INTO follows (tag) VALUES (?1)"
        } else {
            "DELETE FROM follows WHERE tag = ?1"
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([tag]))
            .at(self.path())?;
        Ok(())
    }

    /// The inbox items seen, with when.
    pub fn inbox_seen(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.conn
            .prepare_cached("SELECT item, at FROM inbox_seen")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .at(self.path())
    }

    /// Marks inbox items seen at `at`.
    pub fn mark_seen(&mut self, items: &[String], at: i64) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        for item in items {
            tx.prepare_cached("INSERT OR REPLACE INTO inbox_seen (item, at) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![item, at]))
                .at(&path)?;
        }
        tx.commit().at(&path)?;
        Ok(())
    }
}
