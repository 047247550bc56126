//! The requests a node serves and their replies: the one vocabulary shared by the `Node` handle,
//! the control socket (one JSON object per line each way) and the CLI.

use serde::{Deserialize, Serialize};
use tacit_core::{
    AnswerId, DocId, Draft, Kind, MemberId, NoteEdit, NoteView, ProfileEdit, ProfileView,
    QuestionView, SpaceId,
};
use ts_rs::TS;

/// Something a user asks of a node. Document ids are given as text: a full id or a unique
/// prefix, resolved by the node.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// Initialise the home; on a running node this only reports that it already is.
    Init {
        /// Display name for a new profile.
        name: Option<String>,
        /// Organisation for a new profile.
        #[serde(default)]
        org: Option<String>,
    },
    /// Asks the process serving this home to bring its window forward (a second launch of the
    /// desktop app on the same home sends this). Answered by the node handle itself.
    Activate,
    /// Who this home's member is.
    Whoami,
    /// Change the profile.
    ProfileSet {
        /// What to change.
        edit: ProfileEdit,
    },
    /// Write a new note.
    NoteNew {
        /// The note.
        draft: Draft,
    },
    /// List notes, newest change first.
    NoteList {
        /// At most this many (the newest); all when absent.
        #[serde(default)]
        limit: Option<u32>,
    },
    /// One note.
    NoteShow {
        /// Id or unique prefix.
        id: String,
    },
    /// Change a note.
    NoteEdit {
        /// Id or unique prefix.
        id: String,
        /// What to change.
        edit: NoteEdit,
    },
    /// Delete a note (a tombstone).
    NoteRm {
        /// Id or unique prefix.
        id: String,
    },
    /// Ask a question.
    Ask {
        /// The question.
        draft: Draft,
    },
    /// Answer a question.
    Answer {
        /// Question id or prefix.
        question: String,
        /// The answer, Markdown.
        body: String,
    },
    /// Accept an answer (asker only).
    Accept {
        /// Question id or prefix.
        question: String,
        /// Answer id or prefix.
        answer: String,
    },
    /// Thank an answer's author.
    Thank {
        /// Question id or prefix.
        question: String,
        /// Answer id or prefix.
        answer: String,
    },
    /// List questions, newest change first.
    Questions {
        /// Only questions without an accepted answer.
        unanswered: bool,
        /// At most this many (the newest); all when absent.
        #[serde(default)]
        limit: Option<u32>,
    },
    /// One question with its answers.
    QuestionShow {
        /// Id or unique prefix.
        id: String,
    },
    /// The node's state.
    Status,
}

/// A node's reply to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "reply", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Response {
    /// To `Init`.
    Init(InitReport),
    /// To `Whoami` and `ProfileSet`.
    Identity(Identity),
    /// A new document's id (`NoteNew`, `Ask`).
    Created {
        /// The new document.
        id: DocId,
    },
    /// A new answer's id.
    Answered {
        /// The question.
        question: DocId,
        /// The new answer.
        id: AnswerId,
    },
    /// A listing.
    List {
        /// The documents.
        items: Vec<ListItem>,
    },
    /// One note.
    Note(NoteView),
    /// One question.
    Question(QuestionView),
    /// An operation that may have changed nothing (`NoteEdit`, `NoteRm`, `Accept`, `Thank`).
    Done {
        /// The document.
        id: DocId,
        /// Whether anything was written.
        changed: bool,
        /// The document's heads afterwards, as hex (the next edit's `base`).
        heads: Vec<String>,
    },
    /// To `Activate`.
    Activated {
        /// Whether a window was there to come forward.
        window: bool,
    },
    /// To `Status`.
    Status(Status),
}

/// What `tacit init` did.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct InitReport {
    /// False when the home was already initialised (and nothing changed).
    pub created: bool,
    /// The home directory.
    pub home: String,
    /// The member.
    pub member: MemberId,
    /// The personal space.
    pub personal_space: SpaceId,
}

/// This home's member.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Identity {
    /// The member id (the device's public key).
    pub member: MemberId,
    /// The personal space.
    pub personal_space: SpaceId,
    /// The profile.
    pub profile: ProfileView,
}

/// One document in a listing: metadata only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ListItem {
    /// Id.
    pub id: DocId,
    /// Kind.
    pub kind: Kind,
    /// Title.
    pub title: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Creator.
    pub author: MemberId,
    /// Space.
    pub space: SpaceId,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// Number of answers (questions).
    pub answers: u32,
    /// Whether an answer is accepted (questions).
    pub accepted: bool,
}

/// A node's state, for `tacit status`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Status {
    /// The home directory.
    pub home: String,
    /// The member.
    pub member: MemberId,
    /// Process id of the node.
    pub pid: u32,
    /// Whether the node serves the control socket (`tacit serve` or the app), or was opened by
    /// this command alone.
    pub serving: bool,
    /// Notes held (not deleted).
    pub notes: u64,
    /// Questions held (not deleted).
    pub questions: u64,
    /// Bytes of the database file and its write-ahead log.
    pub db_bytes: u64,
}

/// Events a node emits to its subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A document was created, changed or deleted.
    DocumentChanged {
        /// The document.
        id: DocId,
        /// Its space.
        space: SpaceId,
        /// Its kind.
        kind: Kind,
        /// Whether it is now deleted.
        deleted: bool,
    },
}
