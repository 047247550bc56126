//! A note's history and the trash.
//!
//! **Versions.** Every change a note ever had stays in its Automerge history. A person does not
//! think in changes (each keystroke pause in the editor writes one) but in versions: "what Ana
//! wrote this morning". [`Doc::versions`] puts the changes in one order — causal, and among
//! changes that do not depend on each other (two members editing offline) by their time, then
//! hash, so every peer lists the same versions — and groups consecutive changes by one author
//! with no pause longer than [`VERSION_PAUSE_MS`] between them. A version is the note as its
//! author had it after its last change: that change and its causal history, what they saw and
//! built on; its id is the start of that last change's hash ([`VERSION_ID_LEN`] hex
//! characters; any unique prefix resolves). The last version is the note as it is now, every
//! branch merged.
//!
//! Concurrent branches: two members who edited offline get interleaved versions (by time), and a
//! version of one of them shows the note as that member had it, without the other's edits they
//! had not seen. A change's time is its author's word, so it only places the change in the list:
//! it never puts the change into versions whose authors had not seen it. (A version used to be
//! everything before its last change in the list's order, and a member who dated a vandalising
//! change just after an early one, made after it alone, put it into every later version: no
//! restore brought back the note without it.)
//!
//! **Restoring** a version ([`Doc::restore_version`]) is one new change that makes the title,
//! body, tags and aliases equal to the version's, as minimal text splices and single-tag
//! changes: nothing is rewritten, peers merge it like any edit, and it shows as a new version.
//!
//! **Trash.** Deleting writes a tombstone (`deleted_at`, `deleted_by`). For [`TRASH_DAYS`] after
//! the deletion reached a node (by that node's clock: its store keeps the time) the document is in
//! that node's trash and [`Doc::undelete`] removes the tombstone, as a new change that syncs like
//! any other. `deleted_at` is only shown: it is the time its author's change states, which a
//! hostile member could set a year back to make a deletion unrestorable at once. Who may restore is who may delete: any member with write
//! rights in the document's space (the receive side checks it as for every change). A deletion
//! made concurrently with a restore, unseen by it, stands: Automerge deletes only the values the
//! restorer had seen. After [`TRASH_DAYS`] the document is neither listed in the trash nor
//! restorable; its data stays in the store (and keeps syncing, so that an offline peer does not
//! bring it back): nothing is purged.

use std::collections::{BTreeSet, HashMap};

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjType, ROOT, ReadDoc, Value};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Doc, Edit, Kind};
use crate::diff::{DiffLine, line_diff};
use crate::error::CoreError;
use crate::id::MemberId;
use crate::text::{check_bytes, check_title, normalize_aliases, normalize_tags};

/// A pause between one author's changes longer than this starts a new version: five minutes,
/// about how long a person's "one sitting" with a note lasts without a break.
pub const VERSION_PAUSE_MS: i64 = 5 * 60 * 1000;

/// Hex characters of a version id: 48 bits, unique within any one note's history.
pub const VERSION_ID_LEN: usize = 12;

/// Shortest version id prefix that resolves (as document ids).
const MIN_VERSION_PREFIX: usize = 4;

/// Most versions listed (the newest): a note's history is bounded by its changes, and a note
/// edited for years still lists quickly.
pub const MAX_VERSIONS: usize = 1_000;

/// Days a deleted note or question stays in the trash, restorable.
pub const TRASH_DAYS: i64 = 30;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a version did to the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum VersionKind {
    /// It created the document.
    Created,
    /// It changed the text, tags or links.
    Edited,
    /// It deleted the document (moved it to the trash).
    Deleted,
    /// It restored the document from the trash.
    Restored,
}

/// One version of a note: consecutive changes by one author without a long pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Version {
    /// Its id: the first [`VERSION_ID_LEN`] hex characters of its last change's hash.
    pub id: String,
    /// Who wrote it (`None`: an actor that is not a member, never shown as anyone).
    pub author: Option<MemberId>,
    /// Time of its first change, ms (as its author's clock said; shown, never trusted).
    pub started_at: i64,
    /// Time of its last change, ms.
    pub ended_at: i64,
    /// How many changes it groups.
    pub changes: u32,
    /// Characters it inserted (in the title, body and answers).
    pub added: u32,
    /// Characters it deleted.
    pub removed: u32,
    /// What it did.
    pub kind: VersionKind,
    /// Whether it is the document as it is now (the newest version, with nothing concurrent
    /// after it).
    pub current: bool,
}

/// A past version of a note, with its differences from the note now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VersionView {
    /// The version.
    pub version: Version,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Its tags, sorted.
    pub tags: Vec<String>,
    /// The title now.
    pub title_now: String,
    /// The tags now, sorted.
    pub tags_now: Vec<String>,
    /// The body's lines, the version's against now's.
    pub diff: Vec<DiffLine>,
}

/// A document's tombstone: when and by whom it was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// When, ms (the deleter's clock).
    pub deleted_at: i64,
    /// Who.
    pub deleted_by: Option<MemberId>,
}

/// Whether a document that reached the trash at `trashed_at` is still in it at `now`
/// (restorable).
pub fn in_trash(trashed_at: i64, now: i64) -> bool {
    now.saturating_sub(trashed_at) < TRASH_DAYS * DAY_MS
}

/// The earliest arrival in the trash still in it at `now`: [`in_trash`]`(t, now)` for every
/// `t >= trash_since(now)`.
pub fn trash_since(now: i64) -> i64 {
    now.saturating_sub(TRASH_DAYS * DAY_MS - 1)
}

/// Whole days left before a document that reached the trash at `trashed_at` leaves it (0 once it
/// has).
pub fn trash_days_left(trashed_at: i64, now: i64) -> u32 {
    let left = trashed_at
        .saturating_add(TRASH_DAYS * DAY_MS)
        .saturating_sub(now);
    if left <= 0 {
        return 0;
    }
    u32::try_from((left + DAY_MS - 1) / DAY_MS)
        .unwrap_or(u32::MAX)
        .min(TRASH_DAYS as u32)
}

/// One change as history reads it.
struct Step {
    hash: ChangeHash,
    deps: Vec<ChangeHash>,
    author: Option<MemberId>,
    at: i64,
    added: u32,
    removed: u32,
    kind: VersionKind,
}

/// A version, its last change and that change's place in the order of [`Doc::steps`] (the
/// heads after it are worked out only for the version asked for: kept for every version, they
/// cost a copy of the heads per version, and a peer's note of thousands of concurrent changes
/// made that gigabytes).
struct Found {
    version: Version,
    last: ChangeHash,
    upto: usize,
}

/// The heads after `steps[..=upto]`.
fn heads_after(steps: &[Step], upto: usize) -> Vec<ChangeHash> {
    let mut heads: BTreeSet<ChangeHash> = BTreeSet::new();
    for s in steps.iter().take(upto.saturating_add(1)) {
        for d in &s.deps {
            heads.remove(d);
        }
        heads.insert(s.hash);
    }
    heads.into_iter().collect()
}

impl Doc {
    /// The tombstone, if the document carries one.
    pub fn tombstone(&self) -> Result<Option<Tombstone>, CoreError> {
        let Some(deleted_at) = self.int(&ROOT, "deleted_at")? else {
            return Ok(None);
        };
        let deleted_by = self
            .string(&ROOT, "deleted_by")?
            .and_then(|s| s.parse::<MemberId>().ok());
        Ok(Some(Tombstone {
            deleted_at,
            deleted_by,
        }))
    }

    /// Takes a note or question out of the trash: removes its tombstone as a new change by
    /// `edit.by`. Returns false when it was not deleted (nothing is written); refused once
    /// [`TRASH_DAYS`] have passed since `trashed_at` (when the deletion reached this node, by
    /// its clock, as `edit.at` is) — not since the tombstone's `deleted_at`, which its author
    /// chose.
    pub fn undelete(&mut self, edit: Edit, trashed_at: i64) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        let kind = self.kind()?;
        if kind == Kind::Profile {
            return Err(self.wrong_kind(kind, "note"));
        }
        if !self.is_deleted()? {
            return Ok(false);
        }
        if !in_trash(trashed_at, edit.at) {
            return Err(CoreError::TrashExpired {
                id: self.id.to_string(),
                days: TRASH_DAYS,
            });
        }
        self.guard(|d| {
            d.am.delete(ROOT, "deleted_at")?;
            if d.am.get(ROOT, "deleted_by")?.is_some() {
                d.am.delete(ROOT, "deleted_by")?;
            }
            Ok(())
        })?;
        self.touch_and_commit(edit)?;
        Ok(true)
    }

    /// The note's versions, newest first (at most [`MAX_VERSIONS`]).
    pub fn versions(&mut self) -> Result<Vec<Version>, CoreError> {
        self.expect_kind(Kind::Note)?;
        let mut all: Vec<Version> = self.found().0.into_iter().map(|f| f.version).collect();
        all.reverse();
        all.truncate(MAX_VERSIONS);
        Ok(all)
    }

    /// One version of the note (by id or unique prefix), with its body's diff against now.
    pub fn version(&mut self, prefix: &str) -> Result<VersionView, CoreError> {
        self.expect_kind(Kind::Note)?;
        let (found, heads) = self.resolve_version(prefix)?;
        let then = self.text_fields_at(&heads)?;
        let title_now = self.title()?;
        let body_now = self.text(&ROOT, "body")?;
        Ok(VersionView {
            diff: line_diff(&then.body, &body_now),
            version: found.version,
            title: then.title,
            body: then.body,
            tags: then.tags,
            title_now,
            tags_now: self.key_set(&ROOT, "tags")?,
        })
    }

    /// Makes the note's title, body, tags and aliases those of a past version, and puts back
    /// the attachments it had that were taken out since (by a peer), as one new change by
    /// `edit.by` (text spliced as a diff, so concurrent edits merge). Returns false when the
    /// note already reads as that version. A deleted note is restored from the trash first
    /// ([`Doc::undelete`]).
    pub fn restore_version(&mut self, edit: Edit, prefix: &str) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Note)?;
        self.expect_live()?;
        let (_, heads) = self.resolve_version(prefix)?;
        let then = self.text_fields_at(&heads)?;
        // Written by a member under the same rules; checked again, as if typed now.
        let title = check_title(&then.title)?;
        check_bytes("body", &then.body, crate::limits::MAX_BODY_BYTES)?;
        let tags = normalize_tags(&then.tags)?;
        let aliases = normalize_aliases(&then.aliases)?;
        // The files its text embeds, as they were named then (taken out since, its embeds
        // would name nothing).
        let attachments = self.attachments_in(Some(&heads))?;
        let mut changed = false;
        self.guard(|d| {
            changed |= d.update_text(&ROOT, "title", &title)?;
            changed |= d.update_note_body(&then.body)?;
            changed |= d.update_set(&ROOT, "tags", &tags)?;
            if !aliases.is_empty() || d.map(&ROOT, "aliases")?.is_some() {
                changed |= d.update_set(&ROOT, "aliases", &aliases)?;
            }
            changed |= d.put_back_attachments(&attachments)?;
            Ok(())
        })?;
        if changed {
            self.touch_and_commit(edit)?;
        }
        Ok(changed)
    }

    /// The version named by `prefix` (hex, at least 4 characters, of its last change's hash),
    /// with the heads after it.
    fn resolve_version(&mut self, prefix: &str) -> Result<(Found, Vec<ChangeHash>), CoreError> {
        let p = prefix.trim().to_ascii_lowercase();
        if p.len() < MIN_VERSION_PREFIX || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CoreError::NoSuchVersion(prefix.to_owned()));
        }
        let (found, steps) = self.found();
        let mut matching = found
            .into_iter()
            .filter(|f| f.last.to_string().starts_with(&p));
        match (matching.next(), matching.next()) {
            (Some(f), None) => {
                let heads = if f.version.current {
                    heads_after(&steps, f.upto)
                } else {
                    vec![f.last]
                };
                Ok((f, heads))
            }
            (None, _) => Err(CoreError::NoSuchVersion(prefix.to_owned())),
            (Some(_), Some(_)) => Err(CoreError::AmbiguousVersion(prefix.to_owned())),
        }
    }

    /// Every version, oldest first, with its last change; and the changes in order.
    fn found(&mut self) -> (Vec<Found>, Vec<Step>) {
        let steps = self.steps();
        let mut out: Vec<Found> = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let same = out.last().is_some_and(|f| {
                f.version.author == s.author
                    && s.at.abs_diff(f.version.ended_at) <= VERSION_PAUSE_MS.unsigned_abs()
                    && matches!(f.version.kind, VersionKind::Created | VersionKind::Edited)
                    && s.kind == VersionKind::Edited
            });
            if same && let Some(f) = out.last_mut() {
                let v = &mut f.version;
                v.ended_at = s.at;
                v.changes = v.changes.saturating_add(1);
                v.added = v.added.saturating_add(s.added);
                v.removed = v.removed.saturating_add(s.removed);
                f.last = s.hash;
                f.upto = i;
            } else {
                let kind = if i == 0 { VersionKind::Created } else { s.kind };
                out.push(Found {
                    version: Version {
                        id: String::new(),
                        author: s.author,
                        started_at: s.at,
                        ended_at: s.at,
                        changes: 1,
                        added: s.added,
                        removed: s.removed,
                        kind,
                        current: false,
                    },
                    last: s.hash,
                    upto: i,
                });
            }
        }
        // The last version's heads are every change's: the document as it is now.
        let last = steps.len().checked_sub(1);
        for f in &mut out {
            let hex = f.last.to_string();
            f.version.id = hex[..VERSION_ID_LEN.min(hex.len())].to_owned();
            f.version.current = Some(f.upto) == last;
        }
        (out, steps)
    }

    /// Every change, in causal order with concurrent ones by time then hash, and what each did.
    fn steps(&mut self) -> Vec<Step> {
        let changes = self.am.get_changes(&[]);
        let mut by_hash: HashMap<ChangeHash, usize> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            by_hash.insert(c.hash(), i);
        }
        // Kahn's algorithm over the dependency graph; the ready set ordered by (time, hash).
        let mut waiting: Vec<usize> = changes
            .iter()
            .map(|c| c.deps().iter().filter(|d| by_hash.contains_key(d)).count())
            .collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
        for (i, c) in changes.iter().enumerate() {
            for d in c.deps() {
                if let Some(&j) = by_hash.get(d) {
                    dependents[j].push(i);
                }
            }
        }
        let key = |i: usize| (changes[i].timestamp(), changes[i].hash());
        let mut ready: BTreeSet<(i64, ChangeHash, usize)> = (0..changes.len())
            .filter(|&i| waiting[i] == 0)
            .map(|i| {
                let (t, h) = key(i);
                (t, h, i)
            })
            .collect();
        let mut out = Vec::with_capacity(changes.len());
        while let Some((_, _, i)) = ready.pop_first() {
            let c = &changes[i];
            let (added, removed, kind) = effect(c);
            out.push(Step {
                hash: c.hash(),
                deps: c.deps().to_vec(),
                author: MemberId::from_actor_id(c.actor_id()),
                at: c.timestamp().saturating_mul(1000),
                added,
                removed,
                kind,
            });
            for &j in &dependents[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    let (t, h) = key(j);
                    ready.insert((t, h, j));
                }
            }
        }
        out
    }

    /// Title, body, tags and aliases as they were at `heads`.
    fn text_fields_at(&self, heads: &[ChangeHash]) -> Result<TextFields, CoreError> {
        let text_at = |key: &str| -> Result<String, CoreError> {
            Ok(match self.am.get_at(ROOT, key, heads)? {
                Some((Value::Object(ObjType::Text), t)) => self.am.text_at(&t, heads)?,
                Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_owned(),
                _ => String::new(),
            })
        };
        let set_at = |key: &str| -> Result<Vec<String>, CoreError> {
            Ok(match self.am.get_at(ROOT, key, heads)? {
                Some((Value::Object(ObjType::Map), m)) => self.am.keys_at(&m, heads).collect(),
                _ => Vec::new(),
            })
        };
        Ok(TextFields {
            title: crate::text::one_line(text_at("title")?),
            body: text_at("body")?,
            tags: set_at("tags")?,
            aliases: set_at("aliases")?,
        })
    }
}

/// A note's text fields at some point of its history.
struct TextFields {
    title: String,
    body: String,
    tags: Vec<String>,
    aliases: Vec<String>,
}

/// Most operations of a change decoded to count what it did (each takes a value of its own while
/// counted). A larger change, a long note pasted or imported at once, is counted as that many
/// characters added: what such a change almost always is.
const MAX_DECODED_OPS: usize = 256 * 1024;

/// Characters a change inserted and deleted (in any text: a note's title and body), and
/// whether it deleted or restored the document.
fn effect(c: &automerge::Change) -> (u32, u32, VersionKind) {
    use automerge::legacy::{Key, ObjectId, OpType};
    // Decoding a change makes a value per operation: a peer's change of millions (all within
    // the size a document may have) is counted as that many characters typed, not decoded.
    if c.len() > MAX_DECODED_OPS {
        let n = u32::try_from(c.len()).unwrap_or(u32::MAX);
        return (n, 0, VersionKind::Edited);
    }
    let (mut added, mut removed, mut kind) = (0u32, 0u32, VersionKind::Edited);
    for op in c.decode().operations {
        match (&op.action, &op.key) {
            (OpType::Put(v), Key::Seq(_)) if op.insert => {
                let n = match v {
                    automerge::ScalarValue::Str(s) => s.chars().count(),
                    _ => 1,
                };
                added = added.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            }
            (OpType::Delete, Key::Seq(_)) => {
                removed = removed.saturating_add(1);
            }
            (OpType::Put(_), Key::Map(k))
                if k.as_str() == "deleted_at" && op.obj == ObjectId::Root =>
            {
                kind = VersionKind::Deleted;
            }
            (OpType::Delete, Key::Map(k))
                if k.as_str() == "deleted_at" && op.obj == ObjectId::Root =>
            {
                kind = VersionKind::Restored;
            }
            _ => {}
        }
    }
    (added, removed, kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::DiffSide;
    use crate::doc::{Draft, NoteEdit};
    use crate::id::DocId;
    use crate::key::DeviceKey;

    const MIN: i64 = 60 * 1000;

    fn at(key: &DeviceKey, ms: i64) -> Edit<'static> {
        Edit::new(key.member_id(), ms)
    }

    fn body(s: &str) -> NoteEdit {
        NoteEdit {
            body: Some(s.into()),
            ..Default::default()
        }
    }

    fn new_note(key: &DeviceKey, t: i64) -> Doc {
        Doc::new_note(
            DocId::random(),
            at(key, t),
            Draft {
                title: "Deploy".into(),
                body: "build\n".into(),
                tags: vec!["ops".into()],
                aliases: Vec::new(),
            },
        )
        .unwrap()
    }

    /// A note of 2,000 changes made side by side by as many members (each after the creation
    /// only): its history lists them, shows one and restores it, with
    /// only the last version current. Each version used to keep a copy of the heads after it,
    /// 2,000 heads each by the end.
    #[test]
    fn thousands_of_concurrent_changes_keep_one_set_of_heads() {
        let ada = DeviceKey::from_secret([1; 32]);
        let mut doc = new_note(&ada, 0);
        let base = doc.am.get_heads();
        for i in 0..2_000i64 {
            let mut fork = doc.am.fork_at(&base).unwrap();
            let mut secret = [2u8; 32];
            secret[..8].copy_from_slice(&i.to_be_bytes());
            fork.set_actor(DeviceKey::from_secret(secret).member_id().actor_id());
            let t = automerge::ROOT;
            fork.put(&t, "updated_at", i).unwrap();
            fork.commit_with(
                automerge::transaction::CommitOptions::default().with_time((i + 1) * 600),
            );
            doc.am.merge(&mut fork).unwrap();
        }
        assert!(doc.am.get_heads().len() > 1_000);
        let versions = doc.versions().unwrap();
        assert_eq!(versions.len(), MAX_VERSIONS.min(2_001));
        assert!(versions[0].current);
        assert!(versions[1..].iter().all(|v| !v.current));
        let middle = &versions[versions.len() / 2];
        assert_eq!(doc.version(&middle.id).unwrap().body, "build\n");
    }

    #[test]
    fn changes_group_by_author_and_pause() {
        let ana = DeviceKey::generate();
        let ben = DeviceKey::generate();
        let mut doc = new_note(&ana, 0);
        // Ana's sitting: the creation and two edits a minute apart.
        doc.edit_text(at(&ana, MIN), body("build\ntest\n")).unwrap();
        doc.edit_text(at(&ana, 2 * MIN), body("build\ntest\nship\n"))
            .unwrap();
        // Ben, right after: another author, another version.
        doc.edit_text(at(&ben, 3 * MIN), body("build\ntest\nship!\n"))
            .unwrap();
        // Ana again after a long pause: a new version.
        doc.edit_text(at(&ana, 30 * MIN), body("build\ntest\nship!\nrelax\n"))
            .unwrap();
        let v = doc.versions().unwrap();
        assert_eq!(v.len(), 3, "{v:#?}");
        // Newest first.
        assert_eq!(v[0].author, Some(ana.member_id()));
        assert!(v[0].current);
        assert_eq!(v[0].added, 6);
        assert_eq!(v[1].author, Some(ben.member_id()));
        assert_eq!((v[1].added, v[1].removed), (1, 0));
        assert_eq!(v[2].kind, VersionKind::Created);
        assert_eq!(v[2].changes, 3);
        assert_eq!((v[2].started_at, v[2].ended_at), (0, 2 * MIN));
        assert!(!v[1].current && !v[2].current);
        assert!(v.iter().all(|v| v.id.len() == VERSION_ID_LEN));
    }

    #[test]
    fn a_version_reads_as_it_was_and_diffs_against_now() {
        let key = DeviceKey::generate();
        let mut doc = new_note(&key, 0);
        doc.edit_text(
            at(&key, 60 * MIN),
            NoteEdit {
                title: Some("Deploy v2".into()),
                body: Some("build\nship\n".into()),
                tags: Some(vec!["ops".into(), "release".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        let versions = doc.versions().unwrap();
        let first = versions.last().unwrap();
        let view = doc.version(&first.id[..6]).unwrap();
        assert_eq!(view.title, "Deploy");
        assert_eq!(view.body, "build\n");
        assert_eq!(view.tags, vec!["ops"]);
        assert_eq!(view.title_now, "Deploy v2");
        assert_eq!(view.tags_now, vec!["ops", "release"]);
        let sides: Vec<(DiffSide, &str)> = view
            .diff
            .iter()
            .map(|l| (l.side, l.text.as_str()))
            .collect();
        assert_eq!(
            sides,
            vec![(DiffSide::Both, "build"), (DiffSide::Now, "ship")]
        );
        assert!(matches!(
            doc.version("zzzz"),
            Err(CoreError::NoSuchVersion(_))
        ));
        assert!(matches!(
            doc.version("ab"),
            Err(CoreError::NoSuchVersion(_))
        ));
    }

    #[test]
    fn restoring_a_version_is_a_new_change_that_merges() {
        let ana = DeviceKey::generate();
        let ben = DeviceKey::generate();
        let mut a = new_note(&ana, 0);
        a.edit_text(at(&ana, 60 * MIN), body("build\nbad idea\n"))
            .unwrap();
        let old = a.versions().unwrap().last().unwrap().id.clone();
        let changes_before = a.changes_since(&[]).len();
        // Ben holds the same note and edits its title concurrently.
        let mut b = Doc::load(a.id(), [a.save().as_slice()], ben.member_id()).unwrap();
        b.edit_text(
            at(&ben, 61 * MIN),
            NoteEdit {
                title: Some("Deploy (reviewed)".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(a.restore_version(at(&ana, 62 * MIN), &old).unwrap());
        // One new change; history is not rewritten.
        assert_eq!(a.changes_since(&[]).len(), changes_before + 1);
        assert_eq!(a.note().unwrap().body, "build\n");
        assert!(!a.restore_version(at(&ana, 63 * MIN), &old).unwrap());
        // Merged both ways: the restored body and Ben's concurrent title.
        let a_bytes = a.save();
        let b_bytes = b.save();
        a.apply_changes(&b_bytes).unwrap();
        b.apply_changes(&a_bytes).unwrap();
        for d in [&mut a, &mut b] {
            let n = d.note().unwrap();
            assert_eq!(n.body, "build\n");
            assert_eq!(n.title, "Deploy (reviewed)");
        }
        // The restore is a version of its own, on both, the same.
        assert_eq!(a.versions().unwrap(), b.versions().unwrap());
    }

    /// A peer took a file out of the note with its embed; restoring a version that embedded it
    /// puts the file back under its name, so the restored embed names it again.
    #[test]
    fn restoring_a_version_puts_back_the_files_it_embeds() {
        const H: &str = "1111111111111111111111111111111111111111111111111111111111111111";
        let ana = DeviceKey::generate();
        let ben = DeviceKey::generate();
        let mut a = new_note(&ana, 0);
        a.attach(at(&ana, MIN), "plan.png", H, 10, true).unwrap();
        let with_file = a
            .versions()
            .unwrap()
            .iter()
            .find(|v| v.author == Some(ana.member_id()))
            .unwrap()
            .id
            .clone();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], ben.member_id()).unwrap();
        b.edit_text(at(&ben, 70 * MIN), body("build\n")).unwrap();
        b.act_as(ben.member_id());
        b.guard(|d| {
            if let Some(map) = d.map(&ROOT, "attachments")? {
                d.am.delete(&map, "plan.png")?;
            }
            Ok(())
        })
        .unwrap();
        b.touch_and_commit(at(&ben, 71 * MIN)).unwrap();
        a.apply_changes(&b.save()).unwrap();
        assert!(a.attachments().unwrap().is_empty());
        assert!(a.restore_version(at(&ana, 80 * MIN), &with_file).unwrap());
        assert_eq!(a.note().unwrap().body, "build\n![[plan.png]]\n");
        let back = a.attachments().unwrap();
        assert_eq!(
            back.iter()
                .map(|x| (x.name.as_str(), x.hash.as_str(), x.size))
                .collect::<Vec<_>>(),
            [("plan.png", H, 10)]
        );
    }

    /// A hostile member filled the attachment map with junk keys: a restore puts nothing back
    /// past the bound on its keys (as attaching does), and still restores the text.
    #[test]
    fn restoring_a_version_puts_back_no_file_past_a_full_map() {
        use crate::limits::MAX_ATTACHMENTS;
        const H: &str = "1111111111111111111111111111111111111111111111111111111111111111";
        let ana = DeviceKey::generate();
        let rogue = DeviceKey::generate();
        let mut a = new_note(&ana, 0);
        a.attach(at(&ana, MIN), "plan.png", H, 10, true).unwrap();
        let with_file = a.versions().unwrap()[0].id.clone();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], rogue.member_id()).unwrap();
        b.edit_text(at(&rogue, 70 * MIN), body("junk\n")).unwrap();
        b.act_as(rogue.member_id());
        b.guard(|d| {
            let map = d.map(&ROOT, "attachments")?.unwrap();
            d.am.delete(&map, "plan.png")?;
            for i in 0..MAX_ATTACHMENTS {
                d.am.put(&map, format!("junk {i}").as_str(), 0)?;
            }
            Ok(())
        })
        .unwrap();
        b.touch_and_commit(at(&rogue, 71 * MIN)).unwrap();
        a.apply_changes(&b.save()).unwrap();
        assert!(a.restore_version(at(&ana, 80 * MIN), &with_file).unwrap());
        assert_eq!(a.note().unwrap().body, "build\n![[plan.png]]\n");
        assert_eq!(a.attachment_keys().unwrap(), MAX_ATTACHMENTS);
        assert!(a.attachments().unwrap().is_empty());
    }

    #[test]
    fn concurrent_branches_interleave_by_time_on_every_peer() {
        let ana = DeviceKey::generate();
        let ben = DeviceKey::generate();
        let mut a = new_note(&ana, 0);
        let mut b = Doc::load(a.id(), [a.save().as_slice()], ben.member_id()).unwrap();
        a.edit_text(at(&ana, 20 * MIN), body("build\nana\n"))
            .unwrap();
        b.edit_text(at(&ben, 10 * MIN), body("ben\nbuild\n"))
            .unwrap();
        b.edit_text(at(&ben, 40 * MIN), body("ben\nbuild\nmore\n"))
            .unwrap();
        let (ab, bb) = (a.save(), b.save());
        a.apply_changes(&bb).unwrap();
        b.apply_changes(&ab).unwrap();
        let va = a.versions().unwrap();
        assert_eq!(va, b.versions().unwrap());
        let authors: Vec<_> = va.iter().rev().map(|v| v.author).collect();
        let (ana_id, ben_id) = (Some(ana.member_id()), Some(ben.member_id()));
        assert_eq!(authors, vec![ana_id, ben_id, ana_id, ben_id]);
        assert!(va[0].current);
        // Ana's version is the note as she had it: without Ben's edit, which she had not seen
        // (though it is dated before hers); the current one has both.
        let ana_edit = &va[1];
        assert_eq!(a.version(&ana_edit.id).unwrap().body, "build\nana\n");
        assert_eq!(
            a.version(&va[0].id).unwrap().body,
            a.text(&ROOT, "body").unwrap()
        );
    }

    #[test]
    fn a_change_dated_into_the_past_stays_out_of_versions_made_without_it() {
        let (ana, mallory, ben) = (
            DeviceKey::generate(),
            DeviceKey::generate(),
            DeviceKey::generate(),
        );
        let mut a = new_note(&ana, 0);
        a.edit_text(at(&ana, MIN), body("build\nship\n")).unwrap();
        // Mallory vandalises the note as it was then, and dates it a minute later.
        let mut m = Doc::load(a.id(), [a.save().as_slice()], mallory.member_id()).unwrap();
        m.edit_text(at(&mallory, 2 * MIN), body("VANDAL\n"))
            .unwrap();
        // Ana goes on, not having seen it; Ben, later, has both and writes after them.
        a.edit_text(at(&ana, 60 * MIN), body("build\nship\ntest\n"))
            .unwrap();
        a.apply_changes(&m.save()).unwrap();
        a.edit_text(
            at(&ben, 90 * MIN),
            NoteEdit {
                title: Some("Deploy!".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let versions = a.versions().unwrap();
        let anas = versions
            .iter()
            .find(|v| v.author == Some(ana.member_id()) && v.started_at == 60 * MIN)
            .unwrap();
        assert_eq!(a.version(&anas.id).unwrap().body, "build\nship\ntest\n");
        assert!(a.text(&ROOT, "body").unwrap().contains("VANDAL"));
        assert!(a.restore_version(at(&ana, 100 * MIN), &anas.id).unwrap());
        assert_eq!(a.text(&ROOT, "body").unwrap(), "build\nship\ntest\n");
    }

    #[test]
    fn the_trash_keeps_a_deletion_thirty_days() {
        let ana = DeviceKey::generate();
        let ben = DeviceKey::generate();
        let mut doc = new_note(&ana, 0);
        assert!(!doc.undelete(at(&ana, MIN), 0).unwrap());
        doc.delete(at(&ben, DAY_MS)).unwrap();
        let t = doc.tombstone().unwrap().unwrap();
        assert_eq!(
            (t.deleted_at, t.deleted_by),
            (DAY_MS, Some(ben.member_id()))
        );
        assert_eq!(trash_days_left(t.deleted_at, DAY_MS + 1), 30);
        assert_eq!(trash_days_left(t.deleted_at, 30 * DAY_MS + 1), 1);
        assert_eq!(trash_days_left(t.deleted_at, 31 * DAY_MS), 0);
        // Too late: refused, nothing written.
        let mut late = Doc::load(doc.id(), [doc.save().as_slice()], ana.member_id()).unwrap();
        assert!(matches!(
            late.undelete(at(&ana, 31 * DAY_MS), t.deleted_at),
            Err(CoreError::TrashExpired { .. })
        ));
        assert!(late.take_unsaved().is_none());
        // In time: Ana restores Ben's deletion; the claims still hold, edits work again.
        assert!(doc.undelete(at(&ana, 2 * DAY_MS), t.deleted_at).unwrap());
        assert!(!doc.is_deleted().unwrap());
        doc.check_claims().unwrap();
        doc.edit_text(at(&ana, 3 * DAY_MS), body("back\n")).unwrap();
        let kinds: Vec<VersionKind> = doc.versions().unwrap().iter().map(|v| v.kind).collect();
        assert_eq!(
            kinds,
            vec![
                VersionKind::Edited,
                VersionKind::Restored,
                VersionKind::Deleted,
                VersionKind::Created
            ]
        );
    }

    #[test]
    fn a_deletion_concurrent_with_a_restore_stands() {
        let ana = DeviceKey::generate();
        let ben = DeviceKey::generate();
        let mut a = new_note(&ana, 0);
        a.delete(at(&ana, MIN)).unwrap();
        let mut b = Doc::load(a.id(), [a.save().as_slice()], ben.member_id()).unwrap();
        // Ben restores; Ana, not having seen it, restores and deletes again.
        b.undelete(at(&ben, 2 * MIN), MIN).unwrap();
        a.undelete(at(&ana, 2 * MIN), MIN).unwrap();
        a.delete(at(&ana, 3 * MIN)).unwrap();
        let (ab, bb) = (a.save(), b.save());
        a.apply_changes(&bb).unwrap();
        b.apply_changes(&ab).unwrap();
        assert!(a.is_deleted().unwrap() && b.is_deleted().unwrap());
        a.check_claims().unwrap();
    }
}
