//! A note's versions and the trash, as the actor serves them (the rules are tacit-core's
//! `doc::history`).
//!
//! Restoring a version or taking a document out of the trash is an ordinary change written
//! through [`Actor::change`]: it needs write rights in the document's space (as deleting does),
//! is signed, pushed to the space's members, and judged by them like any change.

use std::collections::HashMap;

use tacit_core::{Doc, DocId, Kind, MemberId, Tombstone, Version, trash_days_left, trash_since};
use tracing::warn;

use super::{Actor, Outcome};
use crate::api::{Response, TrashItem, VersionDetail, VersionInfo};
use crate::base::now_ms;
use crate::error::NodeError;

/// Deleted documents examined for one trash listing (the most recently deleted): each is loaded
/// to read who deleted it, so this bounds the listing's cost; a trash holding more shows these.
const MAX_TRASH_EXAMINED: usize = 1_000;

impl Actor {
    /// A known member's name as shown (see [`Actor::name_of`]).
    fn member_name(&mut self, member: MemberId) -> Option<String> {
        self.shown_names()
            .get(&member)
            .map(|(name, _)| name.clone())
    }

    /// Names for every author among `versions`, each looked up once.
    fn infos(&mut self, versions: Vec<Version>) -> Vec<VersionInfo> {
        let mut names: HashMap<MemberId, Option<String>> = HashMap::new();
        versions
            .into_iter()
            .map(|v| {
                let author_name = v.author.and_then(|m| {
                    if let Some(n) = names.get(&m) {
                        return n.clone();
                    }
                    let n = self.member_name(m);
                    names.insert(m, n.clone());
                    n
                });
                VersionInfo {
                    version: v,
                    author_name,
                }
            })
            .collect()
    }

    pub(super) fn note_history(&mut self, id: &str) -> Result<Outcome, NodeError> {
        let listed = self.resolve(id, Kind::Note)?;
        let versions = self.doc(listed.id)?.versions()?;
        let items = self.infos(versions);
        Ok(Outcome::read(Response::History {
            id: listed.id,
            items,
        }))
    }

    pub(super) fn note_version(&mut self, id: &str, version: &str) -> Result<Outcome, NodeError> {
        let listed = self.resolve(id, Kind::Note)?;
        let view = self.doc(listed.id)?.version(version)?;
        let info = self
            .infos(vec![view.version])
            .pop()
            .ok_or_else(|| NodeError::Internal("a version went missing".into()))?;
        Ok(Outcome::read(Response::Version(VersionDetail {
            note: listed.id,
            version: info,
            title: view.title,
            body: view.body,
            tags: view.tags,
            title_now: view.title_now,
            tags_now: view.tags_now,
            diff: view.diff,
        })))
    }

    pub(super) fn note_restore(&mut self, id: &str, version: &str) -> Result<Outcome, NodeError> {
        let listed = self.resolve(id, Kind::Note)?;
        self.change(&listed, |doc, e| doc.restore_version(e, version))
    }

    pub(super) fn question_rm(&mut self, id: &str) -> Result<Outcome, NodeError> {
        let listed = self.resolve(id, Kind::Question)?;
        self.change(&listed, |doc, e| doc.delete(e).map(|()| true))
    }

    /// Deleted notes and questions still in the trash, most recently deleted first: those whose
    /// deletion reached this node less than [`tacit_core::TRASH_DAYS`] ago by its clock.
    pub(super) fn trash(&mut self, space: Option<&str>) -> Result<Outcome, NodeError> {
        let space = space.map(|s| self.space_ref(Some(s))).transpose()?;
        let now = now_ms();
        let listed = self
            .store
            .trash(space, trash_since(now), MAX_TRASH_EXAMINED)?;
        let space_names: HashMap<_, _> = self
            .space_infos()
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let mut items = Vec::new();
        for (l, trashed_at) in listed {
            if !matches!(l.summary.kind, Kind::Note | Kind::Question) {
                continue;
            }
            // The tombstone as the row keeps it; a row written before it was kept is read from
            // its document (once, not kept: the trash is looked at rarely).
            let tomb = match l.summary.deleted_at {
                Some(deleted_at) => Tombstone {
                    deleted_at,
                    deleted_by: l.summary.deleted_by,
                },
                None => match self
                    .store
                    .load_chunks(l.id)
                    .map_err(NodeError::from)
                    .and_then(|chunks| {
                        let doc =
                            Doc::load(l.id, chunks.iter().map(Vec::as_slice), self.info.member)?;
                        Ok(doc.tombstone()?)
                    }) {
                    Ok(Some(t)) => t,
                    Ok(None) => continue,
                    Err(e) => {
                        warn!(id = %l.id, "cannot read a deleted document for the trash: {e}");
                        continue;
                    }
                },
            };
            let deleted_by_name = tomb.deleted_by.and_then(|m| self.member_name(m));
            items.push(TrashItem {
                id: l.id,
                kind: l.summary.kind,
                title: l.summary.title,
                space: l.space,
                space_name: space_names.get(&l.space).cloned().unwrap_or_default(),
                deleted_at: tomb.deleted_at,
                deleted_by: tomb.deleted_by,
                deleted_by_name,
                days_left: trash_days_left(trashed_at, now),
            });
        }
        Ok(Outcome::read(Response::Trash { items }))
    }

    /// Takes a document out of the trash (a new change, pushed to its space's members).
    pub(super) fn restore(&mut self, prefix: &str) -> Result<Outcome, NodeError> {
        if self.pending_created {
            self.flush();
        }
        let id: DocId = match self.store.resolve_deleted(prefix) {
            Ok(id) => id,
            Err(e @ tacit_store::StoreError::NoSuchDocument(_)) => {
                return Err(match self.store.resolve(prefix) {
                    Ok(live) => NodeError::Invalid(format!(
                        "{live} is not in the trash (it is not deleted); nothing to restore"
                    )),
                    Err(_) => e.into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let listed = self
            .store
            .get(id)?
            .ok_or_else(|| tacit_store::StoreError::NoSuchDocument(prefix.to_owned()))?;
        if !matches!(listed.summary.kind, Kind::Note | Kind::Question) {
            return Err(tacit_store::StoreError::NoSuchDocument(prefix.to_owned()).into());
        }
        // Every deleted row is dated (on arrival, or by the upgrade); should one not be, it
        // counts as arriving now rather than from a time a peer's change claims.
        let trashed_at = self.store.trashed_at(id)?.unwrap_or_else(now_ms);
        self.change(&listed, |doc, e| doc.undelete(e, trashed_at))
    }
}
