//! A note's attachments: what the document records of each file attached to it.
//!
//! The bytes never enter the document. The note holds, under `attachments`, one small map per
//! file, keyed by its name within the note:
//!
//! ```text
//! attachments: { "diagram.png": { hash: "<64 hex, BLAKE3>", size: <bytes> }, … }
//! body: "… ![[diagram.png]] …"          (the reference Obsidian users know)
//! ```
//!
//! The files themselves are content-addressed blobs beside the database (the store's blob
//! directory), fetched from members by hash. A peer's entries are read leniently: one that is
//! malformed (a bad hash, a missing size) is skipped, never trusted and never a panic.

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::sizes::At;
use super::{Doc, Edit, Kind};
use crate::error::CoreError;
use crate::limits::{MAX_ATTACHMENT_NAME_BYTES, MAX_ATTACHMENTS, MAX_BODY_BYTES};

/// A file attached to a note, as the note records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Attachment {
    /// Its name within the note (what `![[name]]` in the body refers to).
    pub name: String,
    /// The BLAKE3 hash of its bytes, 64 lowercase hex characters.
    pub hash: String,
    /// Its size in bytes.
    #[ts(type = "number")]
    pub size: u64,
}

/// Whether `hash` is a BLAKE3 hash as attachments record it: 64 lowercase hex characters.
pub fn is_blob_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks an attachment name: a plain file name (no folder), without the characters an
/// Obsidian embed cannot hold (`[ ] | # ^`), no control characters, at most 255 bytes.
pub fn check_attachment_name(name: &str) -> Result<(), CoreError> {
    let bad = |reason: &str| CoreError::InvalidAttachment {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.trim().is_empty() || name == "." || name == ".." {
        return Err(bad("the name is empty; give the file a name"));
    }
    if name.len() > MAX_ATTACHMENT_NAME_BYTES {
        return Err(bad(&format!(
            "the name is longer than {MAX_ATTACHMENT_NAME_BYTES} bytes; rename the file"
        )));
    }
    if name.trim() != name {
        return Err(bad("the name starts or ends with a space; rename the file"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '/' | '\\' | '[' | ']' | '|' | '#' | '^'))
    {
        return Err(bad(
            "a name holds no folder and none of [ ] | # ^ or control characters; rename the file",
        ));
    }
    Ok(())
}

/// `name`, or `stem 2.ext`, `stem 3.ext` … : the first that `taken` does not hold.
pub fn unique_attachment_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(name) {
        return name.to_owned();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    let mut n = 2u32;
    loop {
        let candidate = format!("{stem} {n}{ext}");
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

impl Doc {
    /// The note's attachments, sorted by name. Malformed entries (a peer's) are skipped; only
    /// the first [`MAX_ATTACHMENTS`] entries are looked at, so a hostile member's map of a
    /// million junk keys costs a reader no more than a full honest one.
    pub fn attachments(&self) -> Result<Vec<Attachment>, CoreError> {
        self.attachments_in(None)
    }

    /// [`Doc::attachments`] as they were at `heads` (now when `None`).
    pub(crate) fn attachments_in(
        &self,
        heads: Option<&[automerge::ChangeHash]>,
    ) -> Result<Vec<Attachment>, CoreError> {
        let at = At(heads);
        let get = |obj: &automerge::ObjId, key: &str| at.get(self, obj, key);
        let Some((Value::Object(automerge::ObjType::Map), map)) = get(&ROOT, "attachments")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let names: Vec<String> = at.keys(self, &map).take(MAX_ATTACHMENTS).collect();
        for name in names {
            let Some((Value::Object(automerge::ObjType::Map), entry)) = get(&map, name.as_str())?
            else {
                continue;
            };
            let hash = match get(&entry, "hash")? {
                Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_owned(),
                _ => String::new(),
            };
            let size = match get(&entry, "size")? {
                Some((Value::Scalar(s), _)) => match s.as_ref() {
                    ScalarValue::Uint(n) => Some(*n),
                    ScalarValue::Int(n) => u64::try_from(*n).ok(),
                    _ => None,
                },
                _ => None,
            };
            let (Some(size), true) = (size, is_blob_hash(&hash)) else {
                continue;
            };
            if check_attachment_name(&name).is_err() {
                continue;
            }
            out.push(Attachment { name, hash, size });
        }
        Ok(out)
    }

    /// Puts back `want` (attachments as [`Doc::attachments_in`] read them at a past version)
    /// where missing or different now, while the map holds fewer than [`MAX_ATTACHMENTS`]
    /// keys (as [`Doc::attach`] does). Others stay: this app never takes a file out of a note
    /// (text that no longer embeds it leaves it listed), so restoring older text keeps the
    /// files attached since. Within a change under way ([`Doc::guard`]); returns whether
    /// anything changed.
    pub(crate) fn put_back_attachments(&mut self, want: &[Attachment]) -> Result<bool, CoreError> {
        let now = self.attachments()?;
        let mut changed = false;
        for w in want.iter().filter(|w| !now.contains(w)) {
            let replaces = now.iter().any(|a| a.name == w.name);
            if !replaces && self.attachment_keys()? >= MAX_ATTACHMENTS {
                break;
            }
            self.put_attachment_entry(&w.name, &w.hash, w.size)?;
            changed = true;
        }
        Ok(changed)
    }

    /// How many keys the attachment map holds, a peer's junk too.
    pub(super) fn attachment_keys(&self) -> Result<usize, CoreError> {
        Ok(self
            .map(&ROOT, "attachments")?
            .map_or(0, |m| self.am.length(&m)))
    }

    /// Writes the attachment map's entry `name` (a new object, replacing any there).
    fn put_attachment_entry(&mut self, name: &str, hash: &str, size: u64) -> Result<(), CoreError> {
        let map = self.ensure_map(&ROOT, "attachments")?;
        let entry = self.am.put_object(&map, name, automerge::ObjType::Map)?;
        self.am.put(&entry, "hash", hash)?;
        self.am.put(&entry, "size", ScalarValue::Uint(size))?;
        Ok(())
    }

    /// The attachment named `name`.
    pub fn attachment(&self, name: &str) -> Result<Attachment, CoreError> {
        self.attachments()?
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| CoreError::NoSuchAttachment(name.to_owned()))
    }

    /// Attaches a file (already stored by hash) to a note under `name`, or under `name 2.ext`
    /// … when another file holds that name; the same file under the same name changes
    /// nothing. With `embed`, `![[name]]` is appended to the body. Returns the name used and
    /// whether the note changed.
    pub fn attach(
        &mut self,
        edit: Edit,
        name: &str,
        hash: &str,
        size: u64,
        embed: bool,
    ) -> Result<(String, bool), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Note)?;
        self.expect_live()?;
        check_attachment_name(name)?;
        if !is_blob_hash(hash) {
            return Err(CoreError::InvalidAttachment {
                name: name.to_owned(),
                reason: format!("{hash:?} is not a BLAKE3 hash (64 lowercase hex)"),
            });
        }
        let existing = self.attachments()?;
        let same = existing.iter().find(|a| a.name == name && a.hash == hash);
        if same.is_some() && !embed {
            return Ok((name.to_owned(), false));
        }
        let used = match same {
            Some(a) => a.name.clone(),
            None => {
                // Every key counts, a peer's junk too: past the limit a new entry could sort
                // after the entries readers look at, and be attached but never seen.
                if self.attachment_keys()? >= MAX_ATTACHMENTS {
                    return Err(CoreError::InvalidAttachment {
                        name: name.to_owned(),
                        reason: format!(
                            "the note has {MAX_ATTACHMENTS} attachments, the limit; attach to another note"
                        ),
                    });
                }
                unique_attachment_name(name, |n| existing.iter().any(|a| a.name == n))
            }
        };
        let body = if embed {
            let mut body = self.text(&ROOT, "body")?;
            if !body.is_empty() && !body.ends_with('\n') {
                body.push('\n');
            }
            body.push_str(&format!("![[{used}]]\n"));
            crate::text::check_bytes("body", &body, MAX_BODY_BYTES)?;
            Some(body)
        } else {
            None
        };
        self.guard(|d| {
            if same.is_none() {
                d.put_attachment_entry(&used, hash, size)?;
            }
            if let Some(body) = &body {
                d.update_note_body(body)?;
            }
            Ok(())
        })?;
        self.touch_and_commit(edit)?;
        Ok((used, true))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{DeviceKey, DocId, Draft};

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn attach_records_names_and_embeds_once_per_file() {
        let key = DeviceKey::from_secret([7; 32]);
        let edit = Edit::new(key.member_id(), 1_000);
        let draft = Draft {
            title: "Plan".into(),
            body: "text".into(),
            ..Draft::default()
        };
        let mut doc = Doc::new_note(DocId::random(), edit, draft).unwrap();
        let (name, changed) = doc.attach(edit, "diagram.png", H1, 10, true).unwrap();
        assert_eq!((name.as_str(), changed), ("diagram.png", true));
        // Another file under a taken name gets a name of its own.
        let (name, _) = doc.attach(edit, "diagram.png", H2, 20, true).unwrap();
        assert_eq!(name, "diagram 2.png");
        // The same file under the same name, not embedded: nothing changes.
        let (_, changed) = doc.attach(edit, "diagram.png", H1, 10, false).unwrap();
        assert!(!changed);
        let note = doc.note().unwrap();
        assert_eq!(note.body, "text\n![[diagram.png]]\n![[diagram 2.png]]\n");
        let all = doc.attachments().unwrap();
        assert_eq!(all.len(), 2);
        // Sorted by name: "diagram 2.png" before "diagram.png".
        assert_eq!(
            (all[0].name.as_str(), all[0].hash.as_str(), all[0].size),
            ("diagram 2.png", H2, 20)
        );
        assert_eq!(all[1].name, "diagram.png");
        assert!(doc.attach(edit, "a/b.png", H1, 1, false).is_err());
        assert!(doc.attach(edit, "b.png", "nothex", 1, false).is_err());
    }

    #[test]
    fn a_peers_junk_entries_are_skipped_and_only_the_first_entries_looked_at() {
        let key = DeviceKey::from_secret([7; 32]);
        let edit = Edit::new(key.member_id(), 1_000);
        let draft = Draft {
            title: "Plan".into(),
            ..Draft::default()
        };
        let mut doc = Doc::new_note(DocId::random(), edit, draft).unwrap();
        doc.attach(edit, "b.png", H1, 10, false).unwrap();
        // A hostile writer's entries: no size, a bad hash, a folder in the name, not a map.
        let map = doc.map(&ROOT, "attachments").unwrap().unwrap();
        let e = doc
            .am
            .put_object(&map, "a-nosize.png", automerge::ObjType::Map)
            .unwrap();
        doc.am.put(&e, "hash", H2).unwrap();
        let e = doc
            .am
            .put_object(&map, "a-badhash.png", automerge::ObjType::Map)
            .unwrap();
        doc.am.put(&e, "hash", "XYZ").unwrap();
        doc.am.put(&e, "size", ScalarValue::Uint(1)).unwrap();
        let e = doc
            .am
            .put_object(&map, "a/../x.png", automerge::ObjType::Map)
            .unwrap();
        doc.am.put(&e, "hash", H2).unwrap();
        doc.am.put(&e, "size", ScalarValue::Uint(1)).unwrap();
        doc.am.put(&map, "a-scalar.png", 5).unwrap();
        let names: Vec<String> = doc
            .attachments()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["b.png"]);
        // Past the limit of entries, a reader stops looking: junk sorted first hides the rest.
        for i in 0..MAX_ATTACHMENTS {
            doc.am
                .put(&map, format!("a{i:05}.png").as_str(), 0)
                .unwrap();
        }
        assert!(doc.attachments().unwrap().is_empty());
        // And no honest attachment is taken that would sort among the unseen: the map is full.
        let err = doc.attach(edit, "z.png", H1, 10, false).unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
    }

    #[test]
    fn names_are_made_unique_before_the_extension() {
        let taken = ["a.png", "a 2.png", "README"];
        let t = |n: &str| taken.contains(&n);
        assert_eq!(unique_attachment_name("a.png", t), "a 3.png");
        assert_eq!(unique_attachment_name("README", t), "README 2");
        assert_eq!(unique_attachment_name("b.png", t), "b.png");
    }
}
