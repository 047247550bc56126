//! The one error type of the model.

use crate::id::MemberId;

/// Why a document operation was refused. Every message names the thing and, where there is one,
/// the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A title was empty or only whitespace.
    #[error("the title is empty; give a title")]
    EmptyTitle,
    /// A field was longer than its limit.
    #[error("the {field} is too long: {len} {unit}, the limit is {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
        /// "characters" or "bytes".
        unit: &'static str,
    },
    /// Too many tags.
    #[error("too many tags: {count}, the limit is {max}")]
    TooManyTags {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A tag was empty or held characters a tag cannot hold.
    #[error("invalid tag {tag:?}: a tag is 1 to {max} letters, digits or - _ / . without spaces", max = crate::limits::MAX_TAG_CHARS)]
    InvalidTag {
        /// The tag as given.
        tag: String,
    },
    /// An answer body was empty.
    #[error("the answer is empty; write an answer")]
    EmptyAnswer,
    /// The question has as many answers as it may hold.
    #[error("the question already has {max} answers, the limit")]
    TooManyAnswers {
        /// The limit.
        max: usize,
    },
    /// The answer id names no answer of this question.
    #[error("question has no answer {0}")]
    NoSuchAnswer(String),
    /// Only the asker may accept an answer.
    #[error("only the asker ({asker}) can accept an answer")]
    NotAsker {
        /// The member who asked.
        asker: MemberId,
    },
    /// A member thanked or voted for their own answer.
    #[error("you cannot {action} your own answer")]
    OwnAnswer {
        /// "thank" or "vote for".
        action: &'static str,
    },
    /// Only an answer's author changes what it links to.
    #[error("only the answer's author can do that to it")]
    NotAnswerAuthor,
    /// The operation expects another kind of document.
    #[error("{id} is a {actual}, not a {expected}")]
    WrongKind {
        /// The document.
        id: String,
        /// What it is.
        actual: &'static str,
        /// What the operation needs.
        expected: &'static str,
    },
    /// The document is deleted.
    #[error("{0} was deleted")]
    Deleted(String),
    /// The document was written by a newer Tacit.
    #[error(
        "document schema {found} is newer than this Tacit understands ({supported}); upgrade Tacit"
    )]
    NewerSchema {
        /// The document's schema.
        found: i64,
        /// The newest this build reads.
        supported: i64,
    },
    /// An attachment's name or entry cannot be used.
    #[error("attachment {name:?}: {reason}")]
    InvalidAttachment {
        /// The name as given.
        name: String,
        /// What is wrong with it, and the fix.
        reason: String,
    },
    /// The note has no attachment of that name.
    #[error("the note has no attachment {0:?}; `tacit attachments NOTE` lists them")]
    NoSuchAttachment(String),
    /// The document lacks a field its kind must have, or holds a value of the wrong type.
    #[error("malformed document: {0}")]
    Malformed(String),
    /// Received or stored bytes would inflate past the bound on one document
    /// ([`crate::chunks::MAX_INFLATED_BYTES`]): no honest node writes such a document.
    #[error("document {id} would inflate past {max_mib} MiB; refused")]
    Inflates {
        /// The document.
        id: String,
        /// The bound, in MiB.
        max_mib: u64,
    },
    /// Automerge refused the bytes or the operation.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// The document changed since the editor read it (see `NoteEdit::base`).
    #[error("{0} changed since it was read; read it again and reapply the edit")]
    Conflict(String),
    /// An answer id that is ambiguous among this question's answers.
    #[error("answer id {0} is ambiguous; give more characters")]
    AmbiguousAnswer(String),
    /// No version of the note has this id (see `tacit note history`).
    #[error("the note has no version {0}; `tacit note history ID` lists them")]
    NoSuchVersion(String),
    /// A version id prefix that names several versions.
    #[error("version id {0} is ambiguous; give more characters")]
    AmbiguousVersion(String),
    /// The document was deleted longer ago than the trash keeps documents.
    #[error(
        "{id} was deleted more than {days} days ago and has left the trash; it cannot be restored"
    )]
    TrashExpired {
        /// The document.
        id: String,
        /// How long the trash keeps a document, in days.
        days: i64,
    },
}
