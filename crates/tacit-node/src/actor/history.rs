//! A note's versions and the trash, as the actor serves them (the rules are tacit-core's
//! `doc::history`).
//!
//! Restoring a version or taking a document out of the trash is an ordinary change written
//! through [`Actor::change`]: it needs write rights in the document's space (as deleting does),
//! is signed, pushed to the space's members, and judged by them like any change.

use std::collections::HashMap;

use tacit_core::{Doc, DocId, Kind, MemberId, Version, in_trash, trash_days_left};
use tacit_store::ListFilter;
use tracing::warn;

use super::{Actor, Outcome, now_ms};
use crate::api::{Response, TrashItem, VersionDetail, VersionInfo};
use crate::error::NodeError;

/// Deleted documents examined for one trash listing (the most recently changed): each is loaded
/// to read its tombstone, so this bounds the listing's cost; a trash holding more shows these.
const MAX_TRASH_EXAMINED: usize = 1_000;

impl Actor {
    /// A member's display name: from their profile, else the name they joined a space with.
    fn member_name(&mut self, member: MemberId) -> Option<String> {
        if let Some(name) = self.profile_of(member).map(|p| p.name)
            && !name.is_empty()
        {
            return Some(name);
        }
        self.spaces
            .values()
            .find_map(|s| s.membership.members().get(&member).map(|m| m.name.clone()))
            .filter(|n| !n.is_empty())
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

    /// Deleted notes and questions still in the trash, newest deletion first.
    pub(super) fn trash(&mut self, space: Option<&str>) -> Result<Outcome, NodeError> {
        let space = space.map(|s| self.space_ref(Some(s))).transpose()?;
        let listed = self.store.list(&ListFilter {
            space,
            deleted_only: true,
            limit: Some(MAX_TRASH_EXAMINED),
            ..ListFilter::default()
        })?;
        let now = now_ms();
        let space_names: HashMap<_, _> = self
            .space_infos()
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let mut items = Vec::new();
        for l in listed {
            if !matches!(l.summary.kind, Kind::Note | Kind::Question) {
                continue;
            }
            // Read once, not kept: the trash is looked at rarely and its documents are not
            // being worked on.
            let tomb = match self
                .store
                .load_chunks(l.id)
                .map_err(NodeError::from)
                .and_then(|chunks| {
                    let doc = Doc::load(l.id, chunks.iter().map(Vec::as_slice), self.info.member)?;
                    Ok(doc.tombstone()?)
                }) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(e) => {
                    warn!(id = %l.id, "cannot read a deleted document for the trash: {e}");
                    continue;
                }
            };
            if !in_trash(tomb.deleted_at, now) {
                continue;
            }
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
                days_left: trash_days_left(tomb.deleted_at, now),
            });
        }
        items.sort_by(|a, b| b.deleted_at.cmp(&a.deleted_at).then(a.id.cmp(&b.id)));
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
        self.change(&listed, |doc, e| doc.undelete(e))
    }
}
