//! Notes: made from a draft, read, edited as text, linked to the answers they came from, and
//! deleted (a tombstone).

use crate::error::CoreError;
use crate::id::{AnswerId, DocId};
use crate::limits::MAX_BODY_BYTES;
use crate::markdown::inline_tags;
use crate::text::{check_bytes, check_title, normalize_aliases, normalize_tags};
use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};

use super::{Doc, Draft, Edit, Kind, NoteEdit, NoteView};

impl Doc {
    /// A new note.
    pub fn new_note(id: DocId, edit: Edit, draft: Draft) -> Result<Self, CoreError> {
        Self::new_text_doc(id, Kind::Note, edit, draft)
    }

    /// A note or a question: title, body and tags, validated first.
    pub(super) fn new_text_doc(
        id: DocId,
        kind: Kind,
        edit: Edit,
        draft: Draft,
    ) -> Result<Self, CoreError> {
        let title = check_title(&draft.title)?;
        check_bytes("body", &draft.body, MAX_BODY_BYTES)?;
        let tags = normalize_tags(&draft.tags)?;
        let aliases = normalize_aliases(&draft.aliases)?;
        let mut doc = Self::create(id, kind, edit)?;
        doc.put_text(&ROOT, "title", &title)?;
        doc.put_text(&ROOT, "body", &draft.body)?;
        doc.put_set(&ROOT, "tags", &tags)?;
        if kind == Kind::Note {
            let inline = inline_tags(&draft.body);
            if !inline.is_empty() {
                doc.put_set(&ROOT, "inline_tags", &inline)?;
            }
        }
        if !aliases.is_empty() {
            doc.put_set(&ROOT, "aliases", &aliases)?;
        }
        if kind == Kind::Question {
            doc.am.put_object(ROOT, "answers", ObjType::Map)?;
            doc.am.put(ROOT, "accepted", automerge::ScalarValue::Null)?;
        }
        doc.commit(edit);
        Ok(doc)
    }

    /// The note.
    pub fn note(&mut self) -> Result<NoteView, CoreError> {
        let body = self.text(&ROOT, "body")?;
        self.note_with_body(body)
    }

    /// The note, with the body its caller has just written into it (a new note's draft):
    /// reading a long body back is most of what a view costs. Given any other body, the view
    /// says that one.
    pub fn note_with_body(&mut self, body: String) -> Result<NoteView, CoreError> {
        self.expect_kind(Kind::Note)?;
        let tags = self.key_set(&ROOT, "tags")?;
        Ok(NoteView {
            id: self.id,
            title: self.title()?,
            body,
            inline_tags: self.inline_tags(&tags)?,
            tags,
            aliases: self.key_set(&ROOT, "aliases")?,
            author: self.author()?,
            created_at: self.int(&ROOT, "created_at")?.unwrap_or(0),
            updated_at: self.int(&ROOT, "updated_at")?.unwrap_or(0),
            heads: self.heads_hex(),
            answered_in: self.answered_in()?,
            from_answer: self.made_from_answer()?,
        })
    }

    /// The answers written from this note.
    fn answered_in(&self) -> Result<Vec<(DocId, AnswerId)>, CoreError> {
        let mut out = Vec::new();
        if let Some(map) = self.map(&ROOT, "answered_in")? {
            for key in self.am.keys(&map).collect::<Vec<_>>() {
                let (Ok(q), Some(a)) = (
                    key.parse::<DocId>(),
                    self.string(&map, key.as_str())?
                        .and_then(|a| a.parse::<AnswerId>().ok()),
                ) else {
                    continue;
                };
                out.push((q, a));
            }
        }
        Ok(out)
    }

    fn made_from_answer(&self) -> Result<Option<(DocId, AnswerId)>, CoreError> {
        Ok(self.string(&ROOT, "from_answer")?.and_then(|s| {
            let (q, a) = s.split_once(':')?;
            Some((q.parse().ok()?, a.parse().ok()?))
        }))
    }

    /// Records on a note that an answer was written from it.
    pub fn link_answer(
        &mut self,
        edit: Edit,
        question: DocId,
        answer: AnswerId,
    ) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Note)?;
        self.expect_live()?;
        self.guard(|d| {
            let map = d.ensure_map(&ROOT, "answered_in")?;
            d.am.put(&map, question.to_string(), answer.to_string())?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Records on a new note the answer it was made from.
    pub fn set_from_answer(
        &mut self,
        edit: Edit,
        question: DocId,
        answer: AnswerId,
    ) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Note)?;
        self.guard(|d| {
            d.am.put(ROOT, "from_answer", format!("{question}:{answer}"))?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// A note's title, tags (inline ones too), creator and creation time, without reading its
    /// body.
    pub(crate) fn note_meta(&self) -> Result<NoteView, CoreError> {
        self.expect_kind(Kind::Note)?;
        let tags = self.key_set(&ROOT, "tags")?;
        Ok(NoteView {
            id: self.id,
            title: self.title()?,
            body: String::new(),
            inline_tags: self.inline_tags(&tags)?,
            tags,
            aliases: Vec::new(),
            author: self.author()?,
            created_at: self.int(&ROOT, "created_at")?.unwrap_or(0),
            updated_at: self.int(&ROOT, "updated_at")?.unwrap_or(0),
            heads: Vec::new(),
            answered_in: Vec::new(),
            from_answer: None,
        })
    }

    /// The current heads as sorted hex strings.
    pub fn heads_hex(&mut self) -> Vec<String> {
        let mut heads: Vec<String> = self
            .am
            .get_heads()
            .iter()
            .map(ToString::to_string)
            .collect();
        heads.sort();
        heads
    }

    /// Applies `change` to a note or a question (both have title, body and tags). Returns
    /// whether anything changed; an edit that changes nothing writes nothing.
    pub fn edit_text(&mut self, edit: Edit, change: NoteEdit) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        let kind = self.kind()?;
        if kind == Kind::Profile {
            return Err(self.wrong_kind(kind, "note"));
        }
        self.expect_live()?;
        if let Some(base) = &change.base {
            let mut base = base.clone();
            base.sort();
            if base != self.heads_hex() {
                return Err(CoreError::Conflict(self.id.to_string()));
            }
        }
        let title = change.title.as_deref().map(check_title).transpose()?;
        if let Some(body) = &change.body {
            check_bytes("body", body, MAX_BODY_BYTES)?;
        }
        let tags = change.tags.as_deref().map(normalize_tags).transpose()?;
        let aliases = change
            .aliases
            .as_deref()
            .map(normalize_aliases)
            .transpose()?;
        let mut changed = false;
        self.guard(|d| {
            if let Some(title) = &title {
                changed |= d.update_text(&ROOT, "title", title)?;
            }
            if let Some(body) = &change.body {
                changed |= d.update_note_body(body)?;
            }
            if let Some(tags) = &tags {
                changed |= d.update_set(&ROOT, "tags", tags)?;
            }
            if let Some(aliases) = &aliases {
                changed |= d.update_set(&ROOT, "aliases", aliases)?;
            }
            Ok(())
        })?;
        if changed {
            self.touch_and_commit(edit)?;
        }
        Ok(changed)
    }

    /// Writes a tombstone; the document stays so that the deletion syncs like any change.
    pub fn delete(&mut self, edit: Edit) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_live()?;
        self.guard(|d| {
            d.am.put(ROOT, "deleted_at", edit.at)?;
            d.am.put(ROOT, "deleted_by", edit.by.to_string())?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }
}
