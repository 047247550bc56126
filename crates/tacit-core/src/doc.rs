//! Documents: one place per kind for reading and changing the Automerge tree.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    AutoCommit, ChangeHash, LoadOptions, ObjId, ObjType, OnPartialLoad, ROOT, ReadDoc, Value,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::CoreError;
use crate::id::{AnswerId, DocId, MemberId};
use crate::limits::{
    MAX_ANSWER_BYTES, MAX_ANSWERS, MAX_BIO_BYTES, MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_TAGS,
};
use crate::markdown::inline_tags;
use crate::text::{
    check_bytes, check_chars, check_title, normalize_aliases, normalize_tag, normalize_tags,
};

mod attach;
mod authorship;
pub mod chunks;
mod claims;
mod history;
mod sync;
pub use attach::{Attachment, check_attachment_name, is_blob_hash, unique_attachment_name};
pub use authorship::{
    ChangeSig, NewChange, PROFILE_SCOPE, Screened, Verdict, authorize, last_by_author, parse_under,
    screen, under_message, unsigned,
};
pub use history::{
    MAX_VERSIONS, TRASH_DAYS, Tombstone, VERSION_ID_LEN, VERSION_PAUSE_MS, Version, VersionKind,
    VersionView, in_trash, trash_days_left, trash_since,
};
pub use sync::{ChangeAuthor, screen_sync};

/// The schema version this build writes, and the newest it reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Characters spliced at once when a text is written whole (see `Doc::put_text`).
const SPLICE_CHARS: usize = 16 * 1024;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A working note.
    Note,
    /// A question with its answers.
    Question,
    /// A member's profile.
    Profile,
}

impl Kind {
    /// The name stored in documents and metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Note => "note",
            Kind::Question => "question",
            Kind::Profile => "profile",
        }
    }

    /// The kind from its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "note" => Some(Kind::Note),
            "question" => Some(Kind::Question),
            "profile" => Some(Kind::Profile),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who makes a change, when (milliseconds since the Unix epoch), and under which membership
/// state of the document's space (its heads; empty in the personal space).
#[derive(Debug, Clone, Copy)]
pub struct Edit<'a> {
    /// The acting member.
    pub by: MemberId,
    /// The time of the change, in milliseconds since the Unix epoch.
    pub at: i64,
    /// The membership heads the change is written under, named in its commit message.
    pub under: &'a [crate::space::OpHash],
}

impl Edit<'static> {
    /// An edit by `by` at `at`, under no membership (the personal space).
    pub fn new(by: MemberId, at: i64) -> Self {
        Self { by, at, under: &[] }
    }
}

/// A new note or question: a title, a Markdown body, tags.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct Draft {
    /// Title (one line; a question's title is the question).
    pub title: String,
    /// Markdown body (a question's details).
    pub body: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Other names the note goes by (a `[[wiki link]]` to any of them reaches it); notes only.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Changes to a note; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct NoteEdit {
    /// New title.
    pub title: Option<String>,
    /// New full body; applied as a character diff.
    pub body: Option<String>,
    /// New set of tags.
    pub tags: Option<Vec<String>>,
    /// New set of aliases (notes only).
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    /// The heads the editor last read (see [`NoteView::heads`]). When given and the note has
    /// changed since, the edit is refused with [`CoreError::Conflict`] instead of undoing the
    /// other change; the editor merges and tries again. `None` edits whatever is current.
    #[serde(default)]
    pub base: Option<Vec<String>>,
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct ProfileEdit {
    /// Display name.
    pub name: Option<String>,
    /// Organisation.
    pub org: Option<String>,
    /// A few lines about the member.
    pub bio: Option<String>,
    /// Declared expertise tags (the whole set).
    pub expertise: Option<Vec<String>>,
    /// How many routed questions a day this member is offered at most (0: none); see
    /// [`crate::people::RoutingRules`]. Every member reads it from this profile, so all route
    /// alike.
    #[serde(default)]
    pub questions_per_day: Option<u32>,
}

/// What listings need of a document, kept in the store's columns so that a listing never loads
/// an Automerge document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The kind.
    pub kind: Kind,
    /// Title (a profile's display name).
    pub title: String,
    /// Tags (a profile's expertise).
    pub tags: Vec<String>,
    /// Who created it.
    pub author: MemberId,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
    /// Whether it carries a tombstone.
    pub deleted: bool,
    /// Number of answers (questions).
    pub answers: u32,
    /// Whether an answer is accepted (questions).
    pub accepted: bool,
}

/// A note as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NoteView {
    /// Id.
    pub id: DocId,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Tags, sorted: those given to the note (its tag list).
    pub tags: Vec<String>,
    /// Tags written in its body as `#tag` (Obsidian's inline tags) and not in [`NoteView::tags`],
    /// in the order written: they count as the note's tags (listings, filters, search, who knows
    /// what) and go when the text goes. See [`NoteView::all_tags`].
    #[serde(default)]
    pub inline_tags: Vec<String>,
    /// Other names of the note, sorted.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Creator.
    pub author: MemberId,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
    /// The Automerge heads this view was read at, as hex; an editor sends them back as
    /// [`NoteEdit::base`].
    pub heads: Vec<String>,
    /// The answers written from this note ("Answer with this note"): (question, answer).
    #[serde(default)]
    pub answered_in: Vec<(DocId, AnswerId)>,
    /// The answer this note was made from ("Share as a note"): (question, answer).
    #[serde(default)]
    pub from_answer: Option<(DocId, AnswerId)>,
}

impl NoteView {
    /// Every tag the note counts: its tag list and its inline `#tags`, sorted.
    pub fn all_tags(&self) -> Vec<String> {
        union_sorted(self.tags.clone(), self.inline_tags.clone())
    }
}

/// `a` and `b` (no element in both), sorted.
fn union_sorted(mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.extend(b);
    a.sort_unstable();
    a
}

/// An answer as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AnswerView {
    /// Id within the question.
    pub id: AnswerId,
    /// Who answered.
    pub author: MemberId,
    /// Markdown body.
    pub body: String,
    /// Time of answering, ms.
    pub created_at: i64,
    /// Whether the asker accepted it.
    pub accepted: bool,
    /// Members who thanked the author for it, sorted.
    pub thanked_by: Vec<MemberId>,
    /// Up votes minus down votes, one per member.
    pub score: i64,
    /// The note it was written from ("Answer with this note"), if any.
    #[serde(default)]
    pub from_note: Option<DocId>,
    /// The note its author shared it as ("Share as a note"), if any.
    #[serde(default)]
    pub shared_as: Option<DocId>,
    /// When it was last confirmed as still right (or written), ms.
    #[serde(default)]
    pub fresh_since: i64,
    /// Who confirmed it as still right, newest first, with when (ms).
    #[serde(default)]
    pub confirmed_by: Vec<(MemberId, i64)>,
}

/// A question as read, answers in display order: accepted first, then by score, then oldest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct QuestionView {
    /// Id.
    pub id: DocId,
    /// Title.
    pub title: String,
    /// Details.
    pub body: String,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// The asker.
    pub author: MemberId,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
    /// The accepted answer, if any.
    pub accepted: Option<AnswerId>,
    /// The answers.
    pub answers: Vec<AnswerView>,
}

/// A profile as read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct ProfileView {
    /// Display name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// About the member.
    pub bio: String,
    /// Declared expertise, sorted.
    pub expertise: Vec<String>,
    /// Routed questions a day this member accepts at most; the default when `None`.
    pub questions_per_day: Option<u32>,
}

/// One document: its id and its Automerge tree, written under the home's actor.
///
/// Every method that changes the document validates first and commits one Automerge change, or
/// changes nothing and returns the error. [`Doc::take_unsaved`] hands out the bytes the store
/// has not seen yet.
#[derive(Debug)]
pub struct Doc {
    id: DocId,
    am: AutoCommit,
    /// Heads the store already holds; `take_unsaved` returns the changes after them.
    saved: Vec<ChangeHash>,
}

impl Doc {
    fn create(id: DocId, kind: Kind, edit: Edit) -> Result<Self, CoreError> {
        let mut am = AutoCommit::new().with_actor(edit.by.actor_id());
        am.put(ROOT, "schema", SCHEMA_VERSION)?;
        am.put(ROOT, "kind", kind.as_str())?;
        am.put(ROOT, "created_at", edit.at)?;
        am.put(ROOT, "created_by", edit.by.to_string())?;
        am.put(ROOT, "updated_at", edit.at)?;
        Ok(Self {
            id,
            am,
            saved: Vec::new(),
        })
    }

    /// Loads a document from stored chunks (a snapshot followed by increments) and sets the
    /// home's actor, so that changes made here name this home's member.
    pub fn load<'a>(
        id: DocId,
        chunks: impl IntoIterator<Item = &'a [u8]>,
        actor: MemberId,
    ) -> Result<Self, CoreError> {
        // Concatenated chunks are one valid Automerge file; loading them in one call with
        // `OnPartialLoad::Error` refuses a damaged or truncated chunk instead of quietly
        // dropping its changes (which a later compaction would then make permanent).
        let bytes: Vec<u8> = chunks.into_iter().flatten().copied().collect();
        if bytes.is_empty() {
            return Err(CoreError::Malformed(format!("document {id} has no data")));
        }
        check_chunks(id, &bytes)?;
        // Bytes from disk or a peer are untrusted: a panic inside Automerge on them becomes an
        // error for this document, never a crash of the process.
        let loaded = std::panic::catch_unwind(|| {
            AutoCommit::load_with_options(
                &bytes,
                LoadOptions::new().on_partial_load(OnPartialLoad::Error),
            )
        });
        let mut am = loaded
            .map_err(|_| CoreError::Malformed(format!("document {id} could not be decoded")))??;
        if !am.get_missing_deps(&[]).is_empty() {
            return Err(CoreError::Malformed(format!(
                "document {id} lacks some of its changes; its data is incomplete"
            )));
        }
        am.set_actor(actor.actor_id());
        let saved = am.get_heads();
        let doc = Self { id, am, saved };
        doc.check_schema()?;
        doc.kind()?;
        doc.author()?;
        Ok(doc)
    }

    fn check_schema(&self) -> Result<(), CoreError> {
        let found = self
            .int(&ROOT, "schema")?
            .ok_or_else(|| CoreError::Malformed(format!("document {} has no schema", self.id)))?;
        if found > SCHEMA_VERSION {
            return Err(CoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// The document's id.
    pub fn id(&self) -> DocId {
        self.id
    }

    /// The document's kind.
    pub fn kind(&self) -> Result<Kind, CoreError> {
        let k = self.string(&ROOT, "kind")?.unwrap_or_default();
        Kind::parse(&k).ok_or_else(|| CoreError::Malformed(format!("unknown kind {k:?}")))
    }

    /// The current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        let bytes = self.am.save();
        self.saved = self.am.get_heads();
        bytes
    }

    /// The changes the store has not been given yet, or `None` when there are none.
    pub fn take_unsaved(&mut self) -> Option<Vec<u8>> {
        self.take_unsaved_changes().map(|(bytes, _)| bytes)
    }

    /// As [`Doc::take_unsaved`], with the changes the bytes hold (to sign and to record).
    pub fn take_unsaved_changes(&mut self) -> Option<(Vec<u8>, Vec<NewChange>)> {
        let saved = std::mem::take(&mut self.saved);
        let changes = self.changes_since(&saved);
        let bytes = self.am.save_after(&saved);
        self.saved = self.am.get_heads();
        (!bytes.is_empty()).then_some((bytes, changes))
    }

    /// The whole document, compacted, with all its changes.
    pub fn save_with_changes(&mut self) -> (Vec<u8>, Vec<NewChange>) {
        let changes = self.changes_since(&[]);
        (self.save(), changes)
    }

    /// Whether the document carries a tombstone.
    pub fn is_deleted(&self) -> Result<bool, CoreError> {
        Ok(self.int(&ROOT, "deleted_at")?.is_some())
    }

    /// Listing metadata for the store.
    pub fn summary(&self) -> Result<Summary, CoreError> {
        let kind = self.kind()?;
        let (title, tags) = match kind {
            Kind::Profile => (
                self.string(&ROOT, "name")?.unwrap_or_default(),
                self.key_set(&ROOT, "expertise")?,
            ),
            Kind::Note => {
                let tags = self.key_set(&ROOT, "tags")?;
                let inline = self.inline_tags(&tags)?;
                (self.text(&ROOT, "title")?, union_sorted(tags, inline))
            }
            _ => (self.text(&ROOT, "title")?, self.key_set(&ROOT, "tags")?),
        };
        let (answers, accepted) = if kind == Kind::Question {
            let n = match self.am.get(ROOT, "answers")? {
                Some((Value::Object(ObjType::Map), obj)) => self.am.length(&obj),
                _ => 0,
            };
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            (n, self.accepted_by_asker()?.is_some())
        } else {
            (0, false)
        };
        Ok(Summary {
            kind,
            title,
            tags,
            author: self.author()?,
            created_at: self.int(&ROOT, "created_at")?.unwrap_or(0),
            updated_at: self.int(&ROOT, "updated_at")?.unwrap_or(0),
            deleted: self.is_deleted()?,
            answers,
            accepted,
        })
    }

    /// The member who created the document.
    pub fn author(&self) -> Result<MemberId, CoreError> {
        let s = self.string(&ROOT, "created_by")?.unwrap_or_default();
        s.parse()
            .map_err(|_| CoreError::Malformed(format!("created_by {s:?} is not a member id")))
    }

    // ---- notes ---------------------------------------------------------------------------

    /// A new note.
    pub fn new_note(id: DocId, edit: Edit, draft: Draft) -> Result<Self, CoreError> {
        Self::new_text_doc(id, Kind::Note, edit, draft)
    }

    /// A note or a question: title, body and tags, validated first.
    fn new_text_doc(id: DocId, kind: Kind, edit: Edit, draft: Draft) -> Result<Self, CoreError> {
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
        self.expect_kind(Kind::Note)?;
        let tags = self.key_set(&ROOT, "tags")?;
        Ok(NoteView {
            id: self.id,
            title: self.text(&ROOT, "title")?,
            body: self.text(&ROOT, "body")?,
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
            title: self.text(&ROOT, "title")?,
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

    // ---- questions -----------------------------------------------------------------------

    /// A new question.
    pub fn new_question(id: DocId, edit: Edit, draft: Draft) -> Result<Self, CoreError> {
        Self::new_text_doc(id, Kind::Question, edit, draft)
    }

    /// The question with its answers. Only signed claims count (see `claims`): an answer's
    /// author is whoever made it, thanks and votes count in their givers' own names, and an
    /// acceptance only from the asker.
    pub fn question(&self) -> Result<QuestionView, CoreError> {
        self.expect_kind(Kind::Question)?;
        let accepted = self.accepted_by_asker()?;
        let mut answers = Vec::new();
        if let Some(map) = self.map(&ROOT, "answers")? {
            for key in self.am.keys(&map).collect::<Vec<_>>() {
                let Ok(id) = key.parse::<AnswerId>() else {
                    continue; // written by a future version or a hostile peer: not an answer
                };
                let Some(obj) = self.map(&map, key.as_str())? else {
                    continue;
                };
                let Some(author) = claims::writer(&obj) else {
                    continue;
                };
                let named = self.string(&obj, "author")?.unwrap_or_default();
                if named.parse::<MemberId>().ok() != Some(author) {
                    continue;
                }
                let mut thanked_by: Vec<MemberId> = match self.map(&obj, "thanks")? {
                    Some(thanks) => self
                        .signed_entries(&thanks, Some(author))?
                        .into_iter()
                        .map(|(m, _)| m)
                        .collect(),
                    None => Vec::new(),
                };
                thanked_by.sort();
                let mut score = 0;
                if let Some(votes) = self.map(&obj, "votes")? {
                    for (_, vote) in self.signed_entries(&votes, Some(author))? {
                        if let Value::Scalar(s) = vote {
                            score += s.as_i64().unwrap_or(0).signum();
                        }
                    }
                }
                let mut confirmed_by = self.confirmations(id)?;
                confirmed_by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let created_at = self.int(&obj, "created_at")?.unwrap_or(0);
                let linked = |key: &str| -> Result<Option<DocId>, CoreError> {
                    Ok(self.string(&obj, key)?.and_then(|s| s.parse().ok()))
                };
                answers.push(AnswerView {
                    id,
                    author,
                    body: self.text(&obj, "body")?,
                    created_at,
                    accepted: accepted == Some(id),
                    thanked_by,
                    score,
                    from_note: linked("from_note")?,
                    shared_as: linked("shared_as")?,
                    fresh_since: confirmed_by
                        .iter()
                        .map(|c| c.1)
                        .max()
                        .unwrap_or(0)
                        .max(created_at),
                    confirmed_by,
                });
            }
        }
        answers.sort_by(|a, b| {
            b.accepted
                .cmp(&a.accepted)
                .then(b.score.cmp(&a.score))
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(QuestionView {
            id: self.id,
            title: self.text(&ROOT, "title")?,
            body: self.text(&ROOT, "body")?,
            tags: self.key_set(&ROOT, "tags")?,
            author: self.author()?,
            created_at: self.int(&ROOT, "created_at")?.unwrap_or(0),
            updated_at: self.int(&ROOT, "updated_at")?.unwrap_or(0),
            accepted,
            answers,
        })
    }

    /// Adds an answer by `edit.by`; returns its id.
    pub fn add_answer(&mut self, edit: Edit, body: &str) -> Result<AnswerId, CoreError> {
        self.add_answer_from(edit, body, None)
    }

    /// Records on an answer of `edit.by`'s the note they shared it as.
    pub fn mark_shared(
        &mut self,
        edit: Edit,
        answer: AnswerId,
        note: DocId,
    ) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        if claims::writer(&obj) != Some(edit.by) {
            return Err(CoreError::NotAnswerAuthor);
        }
        self.guard(|d| {
            d.am.put(&obj, "shared_as", note.to_string())?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Adds an answer by `edit.by`, written from `from_note` when given; returns its id.
    pub fn add_answer_from(
        &mut self,
        edit: Edit,
        body: &str,
        from_note: Option<DocId>,
    ) -> Result<AnswerId, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        if body.trim().is_empty() {
            return Err(CoreError::EmptyAnswer);
        }
        check_bytes("answer", body, MAX_ANSWER_BYTES)?;
        let answers = self.answers_map()?;
        if self.am.length(&answers) >= MAX_ANSWERS {
            return Err(CoreError::TooManyAnswers { max: MAX_ANSWERS });
        }
        let id = AnswerId::random();
        self.guard(|d| {
            let obj = d.am.put_object(&answers, id.to_string(), ObjType::Map)?;
            d.am.put(&obj, "author", edit.by.to_string())?;
            d.am.put(&obj, "created_at", edit.at)?;
            d.put_text(&obj, "body", body)?;
            d.am.put_object(&obj, "thanks", ObjType::Map)?;
            d.am.put_object(&obj, "votes", ObjType::Map)?;
            if let Some(note) = from_note {
                d.am.put(&obj, "from_note", note.to_string())?;
            }
            Ok(())
        })?;
        self.touch_and_commit(edit)?;
        Ok(id)
    }

    /// The answer named by a full id or a unique prefix of one.
    pub fn resolve_answer(&self, prefix: &str) -> Result<AnswerId, CoreError> {
        let prefix = prefix.trim().to_lowercase();
        let answers = self.answers_map()?;
        let mut found = None;
        for key in self.am.keys(&answers) {
            if key.starts_with(&prefix) && !prefix.is_empty() {
                if found.is_some() {
                    return Err(CoreError::AmbiguousAnswer(prefix));
                }
                found = key.parse::<AnswerId>().ok();
            }
        }
        found.ok_or(CoreError::NoSuchAnswer(prefix))
    }

    /// Marks an answer accepted. Only the asker may.
    pub fn accept(&mut self, edit: Edit, answer: AnswerId) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let asker = self.author()?;
        if edit.by != asker {
            return Err(CoreError::NotAsker { asker });
        }
        self.answer_obj(answer)?;
        if self.accepted_by_asker()? == Some(answer) {
            return Ok(());
        }
        self.guard(|d| {
            d.am.put(ROOT, "accepted", answer.to_string())?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Thanks the author of an answer, once per member. Returns false when `edit.by` had already
    /// thanked it (nothing is written).
    pub fn thank(&mut self, edit: Edit, answer: AnswerId) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        if self.string(&obj, "author")?.as_deref() == Some(edit.by.to_string().as_str()) {
            return Err(CoreError::OwnAnswer { action: "thank" });
        }
        let thanks = self
            .map(&obj, "thanks")?
            .ok_or_else(|| CoreError::Malformed("answer has no thanks map".into()))?;
        let me = edit.by.to_string();
        if self.am.get(&thanks, me.as_str())?.is_some() {
            return Ok(false);
        }
        self.guard(|d| {
            d.am.put(&thanks, me.as_str(), edit.at)?;
            Ok(())
        })?;
        self.touch_and_commit(edit)?;
        Ok(true)
    }

    /// Votes an answer up (`up`) or down; one vote per member, a new vote replaces the old.
    pub fn vote(&mut self, edit: Edit, answer: AnswerId, up: bool) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        if self.string(&obj, "author")?.as_deref() == Some(edit.by.to_string().as_str()) {
            return Err(CoreError::OwnAnswer { action: "vote for" });
        }
        let votes = self
            .map(&obj, "votes")?
            .ok_or_else(|| CoreError::Malformed("answer has no votes map".into()))?;
        self.guard(|d| {
            d.am.put(&votes, edit.by.to_string(), if up { 1 } else { -1 })?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Who thanked the author of an answer, and when (ms): signed thanks only.
    pub fn thanks_of(&self, answer: AnswerId) -> Result<Vec<(MemberId, i64)>, CoreError> {
        self.signed_times(answer, "thanks")
    }

    /// Who confirmed an answer as still right, and when (ms): signed confirmations only.
    pub fn confirmations(&self, answer: AnswerId) -> Result<Vec<(MemberId, i64)>, CoreError> {
        self.signed_times(answer, "confirmed")
    }

    fn signed_times(&self, answer: AnswerId, set: &str) -> Result<Vec<(MemberId, i64)>, CoreError> {
        let obj = self.answer_obj(answer)?;
        // Thanks never count from the answer's author; confirmations do.
        let excluded = if set == "thanks" {
            claims::writer(&obj)
        } else {
            None
        };
        let Some(map) = self.map(&obj, set)? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(MemberId, i64)> = Vec::new();
        for (member, value) in self.signed_entries(&map, excluded)? {
            let at = match value {
                Value::Scalar(s) => s.as_i64().unwrap_or(0),
                _ => 0,
            };
            out.push((member, at));
        }
        Ok(out)
    }

    /// Marks an answer as still right, as of `edit.at`: its author asked to confirm it, or a
    /// member who checked it. One mark per member; a new one replaces theirs.
    pub fn confirm(&mut self, edit: Edit, answer: AnswerId) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        let me = edit.by.to_string();
        self.guard(|d| {
            let map = match d.map(&obj, "confirmed")? {
                Some(m) => m,
                // Made by whoever confirms first: the map itself names nobody.
                None => d.am.put_object(&obj, "confirmed", ObjType::Map)?,
            };
            d.am.put(&map, me.as_str(), edit.at)?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// When an answer was last confirmed as still right (or written), ms.
    pub fn fresh_since(&self, answer: AnswerId) -> Result<i64, CoreError> {
        let obj = self.answer_obj(answer)?;
        let written = self.int(&obj, "created_at")?.unwrap_or(0);
        let confirmed = self
            .confirmations(answer)?
            .into_iter()
            .map(|(_, at)| at)
            .max()
            .unwrap_or(0);
        Ok(written.max(confirmed))
    }

    fn answers_map(&self) -> Result<ObjId, CoreError> {
        self.map(&ROOT, "answers")?
            .ok_or_else(|| CoreError::Malformed("question has no answers map".into()))
    }

    fn answer_obj(&self, answer: AnswerId) -> Result<ObjId, CoreError> {
        let answers = self.answers_map()?;
        self.map(&answers, answer.to_string().as_str())?
            .ok_or_else(|| CoreError::NoSuchAnswer(answer.to_string()))
    }

    // ---- profiles ------------------------------------------------------------------------

    /// The id of a member's profile document: derived from the member id, so that every peer
    /// names the same document.
    pub fn profile_id(member: MemberId) -> DocId {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&member.as_bytes()[..16]);
        DocId::from_bytes(bytes)
    }

    /// A new profile for `edit.by`.
    pub fn new_profile(edit: Edit, change: ProfileEdit) -> Result<Self, CoreError> {
        let mut doc = Self::create(Self::profile_id(edit.by), Kind::Profile, edit)?;
        doc.am.put(ROOT, "name", "")?;
        doc.am.put(ROOT, "org", "")?;
        doc.put_text(&ROOT, "bio", "")?;
        doc.put_set(&ROOT, "expertise", &[])?;
        doc.commit(edit);
        doc.edit_profile(edit, change)?;
        Ok(doc)
    }

    /// The profile.
    pub fn profile(&self) -> Result<ProfileView, CoreError> {
        self.expect_kind(Kind::Profile)?;
        Ok(ProfileView {
            name: self.string(&ROOT, "name")?.unwrap_or_default(),
            org: self.string(&ROOT, "org")?.unwrap_or_default(),
            bio: self.text(&ROOT, "bio")?,
            expertise: self.key_set(&ROOT, "expertise")?,
            questions_per_day: match self.am.get(&ROOT, "questions_per_day")? {
                Some((automerge::Value::Scalar(v), _)) => match v.as_ref() {
                    automerge::ScalarValue::Uint(n) => u32::try_from(*n).ok(),
                    automerge::ScalarValue::Int(n) => u32::try_from(*n).ok(),
                    _ => None,
                }
                .map(|n| n.min(crate::people::MAX_QUESTIONS_PER_DAY)),
                _ => None,
            },
        })
    }

    /// Changes the profile; only its member may. Returns whether anything changed.
    pub fn edit_profile(&mut self, edit: Edit, change: ProfileEdit) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Profile)?;
        let clean =
            |field: &'static str, v: &Option<String>| -> Result<Option<String>, CoreError> {
                v.as_deref()
                    .map(|s| {
                        let s = s.trim().replace(['\r', '\n'], " ");
                        check_chars(field, &s, MAX_NAME_CHARS).map(|()| s)
                    })
                    .transpose()
            };
        let name = clean("name", &change.name)?;
        let org = clean("organisation", &change.org)?;
        if let Some(bio) = &change.bio {
            check_bytes("bio", bio, MAX_BIO_BYTES)?;
        }
        let expertise = change
            .expertise
            .as_deref()
            .map(normalize_tags)
            .transpose()?;
        let mut changed = false;
        self.guard(|d| {
            for (key, value) in [("name", &name), ("org", &org)] {
                if let Some(v) = value
                    && d.string(&ROOT, key)?.as_deref() != Some(v.as_str())
                {
                    d.am.put(ROOT, key, v.as_str())?;
                    changed = true;
                }
            }
            if let Some(bio) = &change.bio {
                changed |= d.update_text(&ROOT, "bio", bio)?;
            }
            if let Some(tags) = &expertise {
                changed |= d.update_set(&ROOT, "expertise", tags)?;
            }
            if let Some(n) = change.questions_per_day {
                let n = u64::from(n.min(crate::people::MAX_QUESTIONS_PER_DAY));
                if d.profile()?.questions_per_day != u32::try_from(n).ok() {
                    d.am.put(ROOT, "questions_per_day", automerge::ScalarValue::Uint(n))?;
                    changed = true;
                }
            }
            Ok(())
        })?;
        if changed {
            self.touch_and_commit(edit)?;
        }
        Ok(changed)
    }

    // ---- plumbing ------------------------------------------------------------------------

    /// Makes the next change `member`'s: its actor names its author, whose key signs it.
    fn act_as(&mut self, member: MemberId) {
        let actor = member.actor_id();
        if self.am.get_actor() != &actor {
            self.am.set_actor(actor);
        }
    }

    /// Runs `f`; if it fails, drops whatever ops it made so the document is as before.
    fn guard(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        let result = f(self);
        if result.is_err() {
            self.am.rollback();
        }
        result
    }

    fn commit(&mut self, edit: Edit<'_>) {
        // Automerge records seconds; the ms time lives in the document's own fields.
        let mut options = CommitOptions::default().with_time(edit.at.div_euclid(1000));
        if !edit.under.is_empty() {
            options.set_message(under_message(edit.under));
        }
        self.am.commit_with(options);
    }

    fn touch_and_commit(&mut self, edit: Edit<'_>) -> Result<(), CoreError> {
        if let Err(e) = self.am.put(ROOT, "updated_at", edit.at) {
            self.am.rollback();
            return Err(e.into());
        }
        self.commit(edit);
        Ok(())
    }

    fn expect_kind(&self, expected: Kind) -> Result<(), CoreError> {
        let kind = self.kind()?;
        if kind != expected {
            return Err(self.wrong_kind(kind, expected.as_str()));
        }
        Ok(())
    }

    fn wrong_kind(&self, actual: Kind, expected: &'static str) -> CoreError {
        CoreError::WrongKind {
            id: self.id.to_string(),
            actual: actual.as_str(),
            expected,
        }
    }

    fn expect_live(&self) -> Result<(), CoreError> {
        if self.is_deleted()? {
            return Err(CoreError::Deleted(self.id.to_string()));
        }
        Ok(())
    }

    fn put_text(&mut self, obj: &ObjId, key: &str, text: &str) -> Result<(), CoreError> {
        let t = self.am.put_object(obj, key, ObjType::Text)?;
        // In pieces, one change all the same: Automerge builds a splice's ops in one buffer,
        // and a 527 KB body spliced at once peaked at 173 MB against 102 MB in pieces (and
        // took longer).
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest
                .char_indices()
                .nth(SPLICE_CHARS)
                .map_or(rest.len(), |(i, _)| i);
            let (piece, after) = rest.split_at(end);
            // Appended at the end, counted as the document counts (whatever its text encoding).
            let at = self.am.length(&t);
            self.am.splice_text(&t, at, 0, piece)?;
            rest = after;
        }
        Ok(())
    }

    /// Replaces the text at `key` by `new` as a character diff; true if it differed.
    fn update_text(&mut self, obj: &ObjId, key: &str, new: &str) -> Result<bool, CoreError> {
        match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Text), t)) => {
                if self.am.text(&t)? == new {
                    return Ok(false);
                }
                self.am.update_text(&t, new)?;
            }
            _ => self.put_text(obj, key, new)?,
        }
        Ok(true)
    }

    fn put_set(&mut self, obj: &ObjId, key: &str, items: &[String]) -> Result<(), CoreError> {
        let set = self.am.put_object(obj, key, ObjType::Map)?;
        for item in items {
            self.am.put(&set, item.as_str(), true)?;
        }
        Ok(())
    }

    /// Makes the set at `key` hold exactly `items`; true if it differed. Adds and removes single
    /// keys, so that concurrent changes to different tags merge.
    fn update_set(&mut self, obj: &ObjId, key: &str, items: &[String]) -> Result<bool, CoreError> {
        let set = self.ensure_map(obj, key)?;
        let current: Vec<String> = self.am.keys(&set).collect();
        let mut changed = false;
        for old in &current {
            if !items.contains(old) {
                self.am.delete(&set, old.as_str())?;
                changed = true;
            }
        }
        for item in items {
            if !current.contains(item) {
                self.am.put(&set, item.as_str(), true)?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// The note's inline `#tags` that are not in `tags`, as many as fit beside them under
    /// [`MAX_TAGS`](crate::limits::MAX_TAGS). Read from the `inline_tags` set its writers keep
    /// beside the body (`update_inline_tags`), not from the body: reading a body costs
    /// about 100 ns a character (a 2.6 KB note, 0.25 ms), and listings read every note. A peer
    /// could write any tags there, as it could in `tags`: each is checked as a tag here.
    /// Only the first [`MAX_TAGS`] keys are looked at ([`Doc::key_set`]).
    fn inline_tags(&self, tags: &[String]) -> Result<Vec<String>, CoreError> {
        let room = MAX_TAGS.saturating_sub(tags.len());
        Ok(self
            .key_set(&ROOT, "inline_tags")?
            .into_iter()
            .filter(|t| !tags.contains(t) && normalize_tag(t).is_ok_and(|n| n == *t))
            .take(room)
            .collect())
    }

    /// Writes a note's body and, when it changed, the inline `#tags` kept beside it: every
    /// writer of a note's body goes through here, so the two never part.
    fn update_note_body(&mut self, body: &str) -> Result<bool, CoreError> {
        let changed = self.update_text(&ROOT, "body", body)?;
        if changed && self.kind()? == Kind::Note {
            self.update_inline_tags(body)?;
        }
        Ok(changed)
    }

    /// Makes the `inline_tags` set the inline `#tags` of `body` (the body just written).
    fn update_inline_tags(&mut self, body: &str) -> Result<bool, CoreError> {
        let inline = inline_tags(body);
        if inline.is_empty() && self.map(&ROOT, "inline_tags")?.is_none() {
            return Ok(false);
        }
        self.update_set(&ROOT, "inline_tags", &inline)
    }

    fn ensure_map(&mut self, obj: &ObjId, key: &str) -> Result<ObjId, CoreError> {
        match self.map(obj, key)? {
            Some(m) => Ok(m),
            None => Ok(self.am.put_object(obj, key, ObjType::Map)?),
        }
    }

    fn map(&self, obj: &ObjId, key: &str) -> Result<Option<ObjId>, CoreError> {
        Ok(match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Map), id)) => Some(id),
            _ => None,
        })
    }

    /// The keys of a set (tags, aliases, expertise, inline tags), sorted: at most the first
    /// [`MAX_TAGS`], the most any of them holds when written here. A hostile member's set of a
    /// million keys costs a listing no more than an honest one.
    fn key_set(&self, obj: &ObjId, key: &str) -> Result<Vec<String>, CoreError> {
        Ok(match self.map(obj, key)? {
            Some(set) => self.am.keys(&set).take(MAX_TAGS).collect(), // keys come sorted
            None => Vec::new(),
        })
    }

    fn text(&self, obj: &ObjId, key: &str) -> Result<String, CoreError> {
        Ok(match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Text), t)) => self.am.text(&t)?,
            Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_owned(),
            _ => String::new(),
        })
    }

    fn string(&self, obj: &ObjId, key: &str) -> Result<Option<String>, CoreError> {
        Ok(match self.am.get(obj, key)? {
            Some((Value::Scalar(s), _)) => s.as_str().map(str::to_owned),
            _ => None,
        })
    }

    fn int(&self, obj: &ObjId, key: &str) -> Result<Option<i64>, CoreError> {
        Ok(match self.am.get(obj, key)? {
            Some((Value::Scalar(s), _)) => s.as_i64(),
            _ => None,
        })
    }
}

/// Refuses stored or received bytes that would inflate past [`chunks::MAX_INFLATED_BYTES`] or are
/// not Automerge chunks, before Automerge sees them.
fn check_chunks(id: DocId, bytes: &[u8]) -> Result<(), CoreError> {
    chunks::check_inflation(bytes, chunks::MAX_INFLATED_BYTES)
        .map(|_| ())
        .map_err(|e| chunk_error(id, e))
}

fn chunk_error(id: DocId, e: chunks::ChunkError) -> CoreError {
    match e {
        chunks::ChunkError::TooLarge => CoreError::Inflates {
            id: id.to_string(),
            max_mib: chunks::MAX_INFLATED_BYTES / (1024 * 1024),
        },
        chunks::ChunkError::Malformed(why) => {
            CoreError::Malformed(format!("document {id} is not Automerge data: {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::DeviceKey;

    fn edit(key: &DeviceKey, at: i64) -> Edit<'static> {
        Edit::new(key.member_id(), at)
    }

    fn note(key: &DeviceKey) -> Doc {
        Doc::new_note(
            DocId::random(),
            edit(key, 1000),
            Draft {
                title: "Deploy checklist".into(),
                body: "1. build\n2. ship\n".into(),
                tags: vec!["Ops".into(), "#deploy".into()],
                aliases: Vec::new(),
            },
        )
        .unwrap()
    }

    #[test]
    fn a_note_round_trips_through_save_and_load() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        let bytes = doc.save();
        let mut loaded = Doc::load(doc.id(), [bytes.as_slice()], key.member_id()).unwrap();
        let view = loaded.note().unwrap();
        assert_eq!(view.title, "Deploy checklist");
        assert_eq!(view.body, "1. build\n2. ship\n");
        assert_eq!(view.tags, vec!["deploy", "ops"]);
        assert_eq!(view.author, key.member_id());
        assert_eq!(loaded.summary().unwrap().title, "Deploy checklist");
    }

    #[test]
    fn inline_tags_in_the_body_count_as_the_notes_tags_and_go_with_the_text() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        let body = |s: &str| NoteEdit {
            body: Some(s.into()),
            ..Default::default()
        };
        doc.edit_text(
            edit(&key, 2000),
            body("Roll back with #Rollback, see #ops and `#not-code`.\n"),
        )
        .unwrap();
        let view = doc.note().unwrap();
        assert_eq!(view.tags, vec!["deploy", "ops"], "the tag list as given");
        assert_eq!(view.inline_tags, vec!["rollback"], "not repeating #ops");
        assert_eq!(view.all_tags(), vec!["deploy", "ops", "rollback"]);
        assert_eq!(
            doc.summary().unwrap().tags,
            vec!["deploy", "ops", "rollback"]
        );
        doc.edit_text(edit(&key, 3000), body("Roll back.\n"))
            .unwrap();
        assert!(doc.note().unwrap().inline_tags.is_empty());
        assert_eq!(doc.summary().unwrap().tags, vec!["deploy", "ops"]);
        // No more than a document's tag limit count, however many the text holds.
        let many: String = (0..5000).map(|i| format!("#t{i} ")).collect();
        doc.edit_text(edit(&key, 4000), body(&many)).unwrap();
        assert_eq!(doc.summary().unwrap().tags.len(), crate::limits::MAX_TAGS);
        // A peer's set is read as tags, not trusted: junk is skipped, and past MAX_TAGS keys
        // nothing more is looked at (junk sorted first hides the rest).
        let set = doc.map(&ROOT, "inline_tags").unwrap().unwrap();
        for junk in ["Not A Tag", "UPPER"] {
            doc.am.put(&set, junk, true).unwrap();
        }
        let view = doc.note().unwrap();
        assert!(
            view.inline_tags.iter().all(|t| t.starts_with('t')),
            "{view:?}"
        );
        // The junk took two of the keys looked at; the rest fill the room beside the tags.
        assert_eq!(
            view.inline_tags.len(),
            crate::limits::MAX_TAGS - 2,
            "{view:?}"
        );
        for i in 0..crate::limits::MAX_TAGS {
            doc.am.put(&set, format!("!{i:04}").as_str(), true).unwrap();
        }
        assert!(doc.note().unwrap().inline_tags.is_empty());
    }

    #[test]
    fn an_edit_from_a_stale_base_is_refused_and_changes_nothing() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        let read = doc.note().unwrap();
        let body = |s: &str, base: &[String]| NoteEdit {
            body: Some(s.into()),
            base: Some(base.to_vec()),
            ..Default::default()
        };
        // Someone else's change lands after the editor read the note.
        assert!(
            doc.edit_text(edit(&key, 2000), body("theirs", &read.heads))
                .unwrap()
        );
        let after = doc.note().unwrap();
        assert_ne!(after.heads, read.heads);
        // The editor's save from the old base would undo it: refused, nothing written.
        let stale = doc.edit_text(edit(&key, 3000), body("mine", &read.heads));
        assert!(matches!(stale, Err(CoreError::Conflict(_))), "{stale:?}");
        assert_eq!(doc.note().unwrap(), after);
        // From the current heads it goes through.
        assert!(
            doc.edit_text(edit(&key, 4000), body("merged", &after.heads))
                .unwrap()
        );
        assert_eq!(doc.note().unwrap().body, "merged");
    }

    #[test]
    fn increments_after_a_snapshot_load_to_the_same_document() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        let snapshot = doc.save();
        assert!(doc.take_unsaved().is_none());
        let changed = doc
            .edit_text(
                edit(&key, 2000),
                NoteEdit {
                    body: Some("1. build\n2. test\n3. ship\n".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(changed);
        let inc = doc.take_unsaved().unwrap();
        let mut loaded = Doc::load(doc.id(), [&snapshot[..], &inc[..]], key.member_id()).unwrap();
        assert_eq!(loaded.note().unwrap().body, "1. build\n2. test\n3. ship\n");
        assert_eq!(loaded.note().unwrap().updated_at, 2000);
    }

    #[test]
    fn an_edit_that_changes_nothing_writes_nothing() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        doc.save();
        let same = NoteEdit {
            title: Some("Deploy checklist".into()),
            tags: Some(vec!["deploy".into(), "ops".into()]),
            ..Default::default()
        };
        assert!(!doc.edit_text(edit(&key, 5), same).unwrap());
        assert!(doc.take_unsaved().is_none());
    }

    #[test]
    fn concurrent_edits_of_one_body_merge_by_character() {
        let a = DeviceKey::generate();
        let b = DeviceKey::generate();
        let mut doc_a = note(&a);
        let bytes = doc_a.save();
        let mut doc_b = Doc::load(doc_a.id(), [bytes.as_slice()], b.member_id()).unwrap();
        let body = |s: &str| NoteEdit {
            body: Some(s.into()),
            ..Default::default()
        };
        doc_a
            .edit_text(edit(&a, 2), body("0. plan\n1. build\n2. ship\n"))
            .unwrap();
        doc_b
            .edit_text(edit(&b, 3), body("1. build\n2. ship\n3. celebrate\n"))
            .unwrap();
        doc_a.am.merge(&mut doc_b.am).unwrap();
        assert_eq!(
            doc_a.note().unwrap().body,
            "0. plan\n1. build\n2. ship\n3. celebrate\n"
        );
    }

    #[test]
    fn invalid_input_changes_nothing() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        doc.save();
        let bad = NoteEdit {
            title: Some("  ".into()),
            body: Some("new body".into()),
            ..Default::default()
        };
        assert!(matches!(
            doc.edit_text(edit(&key, 5), bad),
            Err(CoreError::EmptyTitle)
        ));
        let huge = NoteEdit {
            body: Some("x".repeat(MAX_BODY_BYTES + 1)),
            ..Default::default()
        };
        assert!(matches!(
            doc.edit_text(edit(&key, 5), huge),
            Err(CoreError::TooLong { .. })
        ));
        assert!(doc.take_unsaved().is_none());
        assert_eq!(doc.note().unwrap().body, "1. build\n2. ship\n");
    }

    #[test]
    fn questions_take_answers_accept_and_thanks() {
        let asker = DeviceKey::generate();
        let helper = DeviceKey::generate();
        let mut q = Doc::new_question(
            DocId::random(),
            edit(&asker, 1),
            Draft {
                title: "How do we rotate the TLS cert?".into(),
                body: String::new(),
                tags: vec!["tls".into()],
                aliases: Vec::new(),
            },
        )
        .unwrap();
        let first = q.add_answer(edit(&helper, 2), "certbot renew").unwrap();
        let second = q
            .add_answer(edit(&helper, 3), "run the rotate playbook")
            .unwrap();
        assert!(matches!(
            q.accept(edit(&helper, 4), second),
            Err(CoreError::NotAsker { .. })
        ));
        q.accept(edit(&asker, 5), second).unwrap();
        assert!(q.thank(edit(&asker, 6), second).unwrap());
        assert!(
            !q.thank(edit(&asker, 7), second).unwrap(),
            "one thanks per member"
        );
        assert!(matches!(
            q.thank(edit(&helper, 8), first),
            Err(CoreError::OwnAnswer { .. })
        ));
        let view = q.question().unwrap();
        assert_eq!(view.accepted, Some(second));
        assert_eq!(view.answers[0].id, second, "accepted answer comes first");
        assert_eq!(view.answers[0].thanked_by, vec![asker.member_id()]);
        assert_eq!(view.answers[1].id, first);
        let summary = q.summary().unwrap();
        assert_eq!((summary.answers, summary.accepted), (2, true));
        let prefix = &second.to_string()[..10];
        assert_eq!(q.resolve_answer(prefix).unwrap(), second);
        assert!(q.resolve_answer("zz").is_err());
    }

    #[test]
    fn a_long_body_is_written_in_pieces_and_reads_back_whole_in_one_change() {
        let key = DeviceKey::generate();
        // Several pieces of SPLICE_CHARS, with characters of 2, 3 and 4 bytes and a combining
        // mark across every boundary.
        let unit = "aé€😀e\u{301} ";
        let body = unit.repeat(3 * SPLICE_CHARS / unit.chars().count() + 5);
        let mut doc = Doc::new_note(
            DocId::random(),
            edit(&key, 1),
            Draft {
                title: "Long".into(),
                body: body.clone(),
                tags: Vec::new(),
                aliases: Vec::new(),
            },
        )
        .unwrap();
        assert_eq!(doc.note().unwrap().body, body);
        assert_eq!(
            doc.am.get_changes(&[]).len(),
            1,
            "one change for the whole note"
        );
    }

    #[test]
    fn a_tombstoned_document_refuses_edits() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        doc.delete(edit(&key, 9)).unwrap();
        assert!(doc.summary().unwrap().deleted);
        assert!(matches!(
            doc.edit_text(edit(&key, 10), NoteEdit::default()),
            Err(CoreError::Deleted(_))
        ));
    }

    #[test]
    fn a_profile_holds_name_org_bio_and_expertise() {
        let key = DeviceKey::generate();
        let mut p = Doc::new_profile(
            edit(&key, 1),
            ProfileEdit {
                name: Some("Ada".into()),
                org: Some("Analytical Engines".into()),
                bio: None,
                expertise: Some(vec!["math".into()]),
                questions_per_day: None,
            },
        )
        .unwrap();
        assert_eq!(p.id(), Doc::profile_id(key.member_id()));
        p.edit_profile(
            edit(&key, 2),
            ProfileEdit {
                bio: Some("Writes programs.".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let view = p.profile().unwrap();
        assert_eq!(view.name, "Ada");
        assert_eq!(view.org, "Analytical Engines");
        assert_eq!(view.bio, "Writes programs.");
        assert_eq!(view.expertise, vec!["math"]);
    }

    #[test]
    fn a_damaged_or_missing_increment_is_refused_not_dropped() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        let snapshot = doc.save();
        let mut incs = Vec::new();
        for i in 0..3 {
            let body = NoteEdit {
                body: Some(format!("rev {i}")),
                ..Default::default()
            };
            doc.edit_text(edit(&key, 10 + i), body).unwrap();
            incs.push(doc.take_unsaved().unwrap());
        }
        let id = doc.id();
        let all = [&snapshot[..], &incs[0][..], &incs[1][..], &incs[2][..]];
        assert_eq!(
            Doc::load(id, all, key.member_id())
                .unwrap()
                .note()
                .unwrap()
                .body,
            "rev 2"
        );
        // a flipped byte inside the second increment
        let mut bad = incs[1].clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        let damaged = [&snapshot[..], &incs[0][..], &bad[..], &incs[2][..]];
        assert!(Doc::load(id, damaged, key.member_id()).is_err());
        // a truncated increment
        let cut = &incs[1][..incs[1].len() - 3];
        assert!(Doc::load(id, [&snapshot[..], &incs[0][..], cut], key.member_id()).is_err());
        // a missing increment: the third depends on the second
        let gap = [&snapshot[..], &incs[0][..], &incs[2][..]];
        assert!(Doc::load(id, gap, key.member_id()).is_err());
    }

    #[test]
    fn garbage_bytes_are_an_error_not_a_panic() {
        let key = DeviceKey::generate();
        assert!(Doc::load(DocId::random(), [&b"not automerge"[..]], key.member_id()).is_err());
        let empty: [&[u8]; 0] = [];
        assert!(Doc::load(DocId::random(), empty, key.member_id()).is_err());
    }

    #[test]
    fn a_document_from_a_newer_schema_is_refused() {
        let key = DeviceKey::generate();
        let mut doc = note(&key);
        doc.am.put(ROOT, "schema", SCHEMA_VERSION + 1).unwrap();
        doc.am.commit();
        let bytes = doc.am.save();
        assert!(matches!(
            Doc::load(doc.id(), [bytes.as_slice()], key.member_id()),
            Err(CoreError::NewerSchema { .. })
        ));
    }
}
