//! The sizes of a received document's fields, checked against the limits each writer keeps.
//!
//! A writer here refuses a value past a limit ([`crate::limits`]), but a peer's document is
//! whatever its writers sent: a title of megabytes, a tag set of a million keys, a profile
//! whose name is a book. Every member reads these fields again and again (listings, the people
//! directory, routing, the inbox), so [`Doc::check_claims_of`] refuses changes that leave a field
//! past its bound, as it refuses a broken claim.
//!
//! Texts and set sizes may pass a limit by merging (two members retyping a title at once each
//! leave their text), so their bound is [`RECEIVED_SLACK`] times the limit. Keys never grow by
//! merging (a tag or an attachment's name is written whole), so theirs is the limit itself.
//! A field already past its bound before the changes (a document held from before these checks)
//! is let pass if the changes do not make it larger: its editors can still delete it.

use automerge::{ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};

use super::Doc;
use crate::error::CoreError;
use crate::limits::{
    MAX_ANSWER_BYTES, MAX_ANSWERS, MAX_ATTACHMENT_NAME_BYTES, MAX_ATTACHMENTS, MAX_BIO_BYTES,
    MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS, RECEIVED_SLACK,
};

/// Bytes of UTF-8 a character may take.
const MAX_CHAR_BYTES: usize = 4;

/// Texts at the root: key and bound, in the document's own units (bytes or characters,
/// whichever its text encoding counts: never more than the bytes), a limit in characters
/// allowing 4 bytes each.
const TEXTS: [(&str, usize); 5] = [
    ("title", MAX_TITLE_CHARS * MAX_CHAR_BYTES * RECEIVED_SLACK),
    ("body", MAX_BODY_BYTES * RECEIVED_SLACK),
    ("name", MAX_NAME_CHARS * MAX_CHAR_BYTES * RECEIVED_SLACK),
    ("org", MAX_NAME_CHARS * MAX_CHAR_BYTES * RECEIVED_SLACK),
    ("bio", MAX_BIO_BYTES * RECEIVED_SLACK),
];

/// Maps at the root keyed by what they hold: key, what a key is, most entries, longest key in
/// bytes.
const SETS: [(&str, &str, usize, usize); 5] = [
    (
        "tags",
        "tag",
        MAX_TAGS * RECEIVED_SLACK,
        MAX_TAG_CHARS * MAX_CHAR_BYTES,
    ),
    (
        "expertise",
        "expertise tag",
        MAX_TAGS * RECEIVED_SLACK,
        MAX_TAG_CHARS * MAX_CHAR_BYTES,
    ),
    (
        "inline_tags",
        "inline tag",
        MAX_TAGS * RECEIVED_SLACK,
        MAX_TAG_CHARS * MAX_CHAR_BYTES,
    ),
    (
        "aliases",
        "alias",
        MAX_TAGS * RECEIVED_SLACK,
        MAX_TITLE_CHARS * MAX_CHAR_BYTES,
    ),
    (
        "attachments",
        "attachment name",
        MAX_ATTACHMENTS * RECEIVED_SLACK,
        MAX_ATTACHMENT_NAME_BYTES,
    ),
];

/// Most answers; each answer's body.
const ANSWERS: usize = MAX_ANSWERS * RECEIVED_SLACK;
const ANSWER_BODY: usize = MAX_ANSWER_BYTES * RECEIVED_SLACK;

/// One field's size beside its bound.
#[derive(Debug, Clone, Copy)]
struct Size {
    what: &'static str,
    size: usize,
    max: usize,
}

/// The document now, or as of some heads.
#[derive(Clone, Copy)]
pub(super) struct At<'a>(pub(super) Option<&'a [ChangeHash]>);

impl At<'_> {
    /// The value at `key` of `obj` (the winner, when concurrent writes left several).
    pub(super) fn get<'d>(
        self,
        doc: &'d Doc,
        obj: &ObjId,
        key: &str,
    ) -> Result<Option<(Value<'d>, ObjId)>, CoreError> {
        Ok(match self.0 {
            Some(heads) => doc.am.get_at(obj, key, heads)?,
            None => doc.am.get(obj, key)?,
        })
    }

    fn get_all<'d>(
        self,
        doc: &'d Doc,
        obj: &ObjId,
        key: &str,
    ) -> Result<Vec<(Value<'d>, ObjId)>, CoreError> {
        Ok(match self.0 {
            Some(heads) => doc.am.get_all_at(obj, key, heads)?,
            None => doc.am.get_all(obj, key)?,
        })
    }

    fn length(self, doc: &Doc, obj: &ObjId) -> usize {
        match self.0 {
            Some(heads) => doc.am.length_at(obj, heads),
            None => doc.am.length(obj),
        }
    }

    /// The size of a text (a text object's length, or a string's bytes).
    fn text_size(self, doc: &Doc, value: &Value<'_>, id: &ObjId) -> usize {
        match value {
            Value::Object(ObjType::Text) => self.length(doc, id),
            Value::Scalar(s) => s.as_str().map_or(0, str::len),
            Value::Object(_) => 0,
        }
    }

    pub(super) fn keys<'d>(self, doc: &'d Doc, obj: &ObjId) -> automerge::iter::Keys<'d> {
        match self.0 {
            Some(heads) => doc.am.keys_at(obj, heads),
            None => doc.am.keys(obj),
        }
    }
}

impl Doc {
    /// Refuses the document if it has a field past its bound that `batch` (the hashes of the
    /// changes just applied; empty when it is all new) made larger (see the module doc). Reads
    /// sizes only (lengths of texts and maps, lengths of keys), never a text itself.
    pub(super) fn check_sizes(&mut self, batch: &[[u8; 32]]) -> Result<(), CoreError> {
        let now = self.sizes(At(None))?;
        if now.iter().all(|s| s.size <= s.max) {
            return Ok(());
        }
        let before = if batch.is_empty() {
            None
        } else {
            let heads = self.heads_without(batch);
            (!heads.is_empty()).then_some(heads)
        };
        let before = match &before {
            Some(heads) => self.sizes(At(Some(heads)))?,
            None => Vec::new(),
        };
        for (i, s) in now.iter().enumerate() {
            let grew = before.get(i).is_none_or(|b| s.size > b.size);
            if s.size > s.max && grew {
                return Err(CoreError::Malformed(format!(
                    "a received document's {} is too large ({}, at most {})",
                    s.what, s.size, s.max
                )));
            }
        }
        Ok(())
    }

    /// The heads of the document without `batch` (and what depends on it).
    pub(super) fn heads_without(&mut self, batch: &[[u8; 32]]) -> Vec<ChangeHash> {
        let batch: std::collections::HashSet<&[u8; 32]> = batch.iter().collect();
        let kept: Vec<_> = self
            .changes_since(&[])
            .into_iter()
            .filter(|c| !batch.contains(&c.hash))
            .collect();
        let depended: std::collections::HashSet<[u8; 32]> =
            kept.iter().flat_map(|c| c.deps.iter().copied()).collect();
        kept.iter()
            .filter(|c| !depended.contains(&c.hash))
            .map(|c| ChangeHash(c.hash))
            .collect()
    }

    /// Every bounded size, in one fixed order (so that two calls line up).
    fn sizes(&self, at: At<'_>) -> Result<Vec<Size>, CoreError> {
        let mut out = Vec::with_capacity(TEXTS.len() + 2 * SETS.len() + 2);
        for (what, max) in TEXTS {
            let mut size = 0;
            for (value, id) in at.get_all(self, &ROOT, what)? {
                size = size.max(at.text_size(self, &value, &id));
            }
            out.push(Size { what, size, max });
        }
        for (what, key_is, most, longest) in SETS {
            let (mut n, mut key) = (0, 0);
            for (value, id) in at.get_all(self, &ROOT, what)? {
                if matches!(value, Value::Object(ObjType::Map)) {
                    let len = at.length(self, &id);
                    n = n.max(len);
                    // Keys are looked at only within the bound on their number.
                    key = key.max(
                        at.keys(self, &id)
                            .take(len.min(most))
                            .map(|k| k.len())
                            .max()
                            .unwrap_or(0),
                    );
                }
            }
            out.push(Size {
                what,
                size: n,
                max: most,
            });
            out.push(Size {
                what: key_is,
                size: key,
                max: longest,
            });
        }
        let (mut answers, mut body) = (0, 0);
        for (value, map) in at.get_all(self, &ROOT, "answers")? {
            if !matches!(value, Value::Object(ObjType::Map)) {
                continue;
            }
            let n = at.length(self, &map);
            answers = answers.max(n);
            if n > ANSWERS {
                continue;
            }
            let keys: Vec<String> = at.keys(self, &map).collect();
            for key in keys {
                for (value, answer) in at.get_all(self, &map, &key)? {
                    if !matches!(value, Value::Object(ObjType::Map)) {
                        continue;
                    }
                    for (value, id) in at.get_all(self, &answer, "body")? {
                        body = body.max(at.text_size(self, &value, &id));
                    }
                }
            }
        }
        out.push(Size {
            what: "number of answers",
            size: answers,
            max: ANSWERS,
        });
        out.push(Size {
            what: "answer body",
            size: body,
            max: ANSWER_BODY,
        });
        Ok(out)
    }
}
