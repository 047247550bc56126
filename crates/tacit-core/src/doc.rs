//! Documents: one place per kind for reading and changing the Automerge tree.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    AutoCommit, ChangeHash, LoadOptions, ObjId, ObjType, OnPartialLoad, ROOT, ReadDoc, Value,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::CoreError;
use crate::id::{AnswerId, DocId, MemberId};
use crate::limits::MAX_TAGS;
use crate::markdown::inline_tags;
use crate::text::normalize_tag;

mod attach;
mod authorship;
pub mod chunks;
mod claims;
mod history;
mod note;
mod profile;
mod question;
mod sizes;
mod sync;
pub use attach::{Attachment, check_attachment_name, is_blob_hash, unique_attachment_name};
pub use authorship::{
    ChangeSig, NewChange, PROFILE_SCOPE, Prejudged, Screened, Verdict, authorize, last_by_author,
    parse_under, prejudge, scope_of, screen, under_message, unsigned,
};
pub use history::{
    MAX_VERSIONS, TRASH_DAYS, Tombstone, VERSION_ID_LEN, VERSION_PAUSE_MS, Version, VersionKind,
    VersionView, in_trash, trash_days_left, trash_since,
};
pub use sync::{ChangeAuthor, keep_sync_state, screen_sync};

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
    /// When it was deleted (ms, the deleter's clock) and by whom, as its tombstone states: kept
    /// in the row so that the trash lists deletions without loading their documents. `None`
    /// when not deleted, or in a row written before this was kept.
    #[serde(default)]
    pub deleted_at: Option<i64>,
    /// See [`Summary::deleted_at`].
    #[serde(default)]
    pub deleted_by: Option<MemberId>,
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

    /// The note's listing, as [`Doc::summary`] gives it for a live note: for a caller that
    /// read the view for more than the listing.
    pub fn summary(&self) -> Summary {
        Summary {
            kind: Kind::Note,
            title: self.title.clone(),
            tags: self.all_tags(),
            author: self.author,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted: false,
            deleted_at: None,
            deleted_by: None,
            answers: 0,
            accepted: false,
        }
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
    /// The signatures of changes Automerge holds waiting for changes they depend on (see
    /// [`Doc::with_waiting_sigs`]): kept with the waiting changes themselves, so both go
    /// together (the document leaving the cache, or being rebuilt).
    waiting_sigs: Vec<ChangeSig>,
    /// The changes Automerge holds waiting, by hash, with their size: counted, so that they
    /// stay within [`sync::MAX_WAITING_CHANGES`] and [`sync::MAX_WAITING_BYTES`].
    waiting: std::collections::HashMap<ChangeHash, u64>,
}

/// The short hash of a document's heads (each a 32-byte Automerge change hash), in any order:
/// SHA-256 of the sorted heads, cut to 8 bytes.
pub fn heads_hash<'a>(heads: impl IntoIterator<Item = &'a [u8; 32]>) -> [u8; 8] {
    use sha2::Digest as _;
    let mut sorted: Vec<&[u8; 32]> = heads.into_iter().collect();
    sorted.sort_unstable();
    let mut h = sha2::Sha256::new();
    h.update(b"tacit-heads-v1\0");
    for head in sorted {
        h.update(head);
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize()[..8]);
    out
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
            waiting_sigs: Vec::new(),
            waiting: Default::default(),
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
        let doc = Self {
            id,
            am,
            saved,
            waiting_sigs: Vec::new(),
            waiting: Default::default(),
        };
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

    /// The short hash of the current heads ([`heads_hash`]): what reconciliation compares and
    /// the store keeps.
    pub fn heads_hash(&mut self) -> [u8; 8] {
        let heads = self.heads();
        heads_hash(heads.iter().map(|h| &h.0))
    }

    /// The whole document, compacted: the changes applied, not those waiting for a change they
    /// depend on (Automerge keeps those apart and, by default, saves them too). A saved
    /// document is what the store keeps (a compaction, a rebuild) and what a peer receives
    /// whole; with a waiting change in it, it would not load ("lacks some of its changes").
    pub fn save(&mut self) -> Vec<u8> {
        let bytes = self.save_applied();
        self.saved = self.am.get_heads();
        bytes
    }

    /// The whole document without the changes waiting for others (what [`Doc::save`] returns),
    /// leaving what the store is known to hold as it is.
    fn save_applied(&mut self) -> Vec<u8> {
        self.am.save_with_options(automerge::SaveOptions {
            retain_orphans: false,
            ..automerge::SaveOptions::default()
        })
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

    /// The changes after `heads`, in the format [`Doc::take_unsaved`] gives them; `heads` must
    /// all be the document's.
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.am.save_after(heads)
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
        let tomb = self.tombstone()?;
        let (deleted_at, deleted_by) =
            (tomb.map(|t| t.deleted_at), tomb.and_then(|t| t.deleted_by));
        let (title, tags) = match kind {
            Kind::Profile => (self.profile_name()?.0, self.key_set(&ROOT, "expertise")?),
            Kind::Note => {
                return Ok(Summary {
                    deleted: tomb.is_some(),
                    deleted_at,
                    deleted_by,
                    ..self.note_meta()?.summary()
                });
            }
            _ => (self.title()?, self.key_set(&ROOT, "tags")?),
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
            deleted: tomb.is_some(),
            deleted_at,
            deleted_by,
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
            let piece = crate::text::char_prefix(rest, SPLICE_CHARS);
            let after = &rest[piece.len()..];
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
            // Keys come sorted; a peer's may hold control characters (see `one_line`).
            Some(set) => self
                .am
                .keys(&set)
                .take(MAX_TAGS)
                .map(crate::text::one_line)
                .collect(),
            None => Vec::new(),
        })
    }

    /// The title as shown: on one line (see [`crate::text::one_line`]).
    fn title(&self) -> Result<String, CoreError> {
        Ok(crate::text::one_line(self.text(&ROOT, "title")?))
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
mod tests;
