//! The requests a node serves and their replies: the one vocabulary shared by the `Node` handle,
//! the control socket (one JSON object per line each way) and the CLI.

use serde::{Deserialize, Serialize};
use tacit_core::diff::DiffLine;
use tacit_core::{
    AnswerId, Attachment, DocId, Draft, Kind, MemberId, NoteEdit, NoteView, ProfileEdit,
    ProfileView, QuestionView, Role, SpaceId, Version,
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
    Activate {
        /// A `tacit://join/…` link the second launch was opened with, for the window to offer.
        #[serde(default)]
        link: Option<String>,
    },
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
        /// The space (id, unique id prefix or name); the personal space when absent.
        #[serde(default)]
        space: Option<String>,
    },
    /// List notes, newest change first.
    NoteList {
        /// At most this many (the newest); all when absent.
        #[serde(default)]
        limit: Option<u32>,
        /// The space (id, unique id prefix or name); the personal space when absent.
        #[serde(default)]
        space: Option<String>,
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
    /// Delete a note (a tombstone): it goes to the trash for 30 days.
    NoteRm {
        /// Id or unique prefix.
        id: String,
    },
    /// A note's versions, newest first: its changes grouped by author and pauses.
    NoteHistory {
        /// Id or unique prefix.
        id: String,
    },
    /// One past version of a note, with its body's diff against now.
    NoteVersion {
        /// Note id or unique prefix.
        id: String,
        /// Version id or unique prefix (from `NoteHistory`).
        version: String,
    },
    /// Make a note read as one of its past versions again, as a new change.
    NoteRestore {
        /// Note id or unique prefix.
        id: String,
        /// Version id or unique prefix (from `NoteHistory`).
        version: String,
    },
    /// Delete a question (a tombstone): it goes to the trash for 30 days.
    QuestionRm {
        /// Id or unique prefix.
        id: String,
    },
    /// The trash: notes and questions deleted (here or by a peer) in the last 30 days, newest
    /// deletion first.
    Trash {
        /// Only this space (id, unique id prefix or name); every space when absent.
        #[serde(default)]
        space: Option<String>,
    },
    /// Take a note or question out of the trash, as a new change that syncs to the space's
    /// members.
    Restore {
        /// Id or unique prefix of a deleted document.
        id: String,
    },
    /// Ask a question.
    Ask {
        /// The question.
        draft: Draft,
        /// The space (id, unique id prefix or name); the personal space when absent.
        #[serde(default)]
        space: Option<String>,
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
        /// The space (id, unique id prefix or name); the personal space when absent.
        #[serde(default)]
        space: Option<String>,
    },
    /// One question with its answers.
    QuestionShow {
        /// Id or unique prefix.
        id: String,
    },
    /// The node's state.
    Status,
    /// Create a shared space; this member is its owner.
    SpaceNew {
        /// Its name.
        name: String,
    },
    /// Every space this home holds.
    SpaceList,
    /// One space with its members.
    SpaceShow {
        /// Id, unique id prefix or name.
        space: String,
    },
    /// Invite someone: a ticket to pass on.
    SpaceInvite {
        /// Id, unique id prefix or name.
        space: String,
        /// The role the joiner gets.
        role: Role,
        /// How long the ticket stays valid, in ms; forever when absent.
        #[serde(default)]
        expires_in: Option<u64>,
        /// How many people may join with it; any number when absent.
        #[serde(default)]
        uses: Option<u32>,
    },
    /// Join a space by ticket: dial the inviter, join, sync.
    SpaceJoin {
        /// The ticket (`tacit1…` or `tacit://join/…`).
        ticket: String,
    },
    /// Remove a member (owners only).
    SpaceRemove {
        /// Id, unique id prefix or name.
        space: String,
        /// Member id or unique prefix.
        member: String,
    },
    /// Leave a space: tell its members, then delete it from this home.
    SpaceLeave {
        /// Id, unique id prefix or name.
        space: String,
    },
    /// Change a member's role (owners only).
    SpaceRole {
        /// Id, unique id prefix or name.
        space: String,
        /// Member id, unique prefix or name.
        member: String,
        /// The new role.
        role: Role,
    },
    /// Changes this home's settings for a space.
    SpaceSettings {
        /// Id, unique id prefix or name.
        space: String,
        /// Days after which an answer not confirmed as still right is marked possibly stale,
        /// and its author asked to confirm it (182 by default).
        #[serde(default)]
        stale_after_days: Option<u32>,
    },
    /// The invitations of a space that can still admit someone.
    SpaceInvites {
        /// Id, unique id prefix or name.
        space: String,
    },
    /// Withdraw an invitation (owners only).
    SpaceRevokeInvite {
        /// Id, unique id prefix or name.
        space: String,
        /// The invitation's id or a unique prefix of it (4+ hex digits).
        invite: String,
    },
    /// Dial a peer.
    Connect {
        /// Its multiaddr.
        addr: String,
    },
    /// Connected peers.
    Peers,
    /// Who knows about a topic, best first, with the reasons.
    Who {
        /// Tags (`#tls`, `tag:tls`) and words.
        topic: String,
        /// Only members of this space (id, unique id prefix or name); every space when absent.
        #[serde(default)]
        space: Option<String>,
        /// At most this many; 10 when absent.
        #[serde(default)]
        limit: Option<u32>,
    },
    /// The members of a space as people: organisation, expertise, record, last seen.
    People {
        /// Id, unique id prefix or name.
        space: String,
    },
    /// One person: profile, record overall and per space, what they know about.
    Person {
        /// Member id, unique prefix or name (in any space this home shares with them).
        member: String,
    },
    /// Which members a question is offered to, round by round (as this node computes it from
    /// the documents it holds; every member computes the same).
    QuestionRoutes {
        /// Question id or unique prefix.
        question: String,
    },
    /// Questions offered to this member, answers to its questions, questions on followed tags,
    /// and its answers to confirm.
    Inbox,
    /// Marks inbox items as seen (by their keys).
    InboxSeen {
        /// Item keys from `Inbox`.
        keys: Vec<String>,
    },
    /// Follows a tag: questions on it land in the inbox.
    Follow {
        /// The tag.
        tag: String,
    },
    /// Stops following a tag.
    Unfollow {
        /// The tag.
        tag: String,
    },
    /// The tags this member follows.
    Following,
    /// A member's record (this member's when absent), overall or in one space.
    Record {
        /// Member id, unique prefix or name.
        #[serde(default)]
        member: Option<String>,
        /// Only this space.
        #[serde(default)]
        space: Option<String>,
    },
    /// This member's record as a statement signed with its key, for another organisation.
    RecordExport,
    /// Checks a signed record statement.
    RecordVerify {
        /// The statement, as exported.
        statement: String,
    },
    /// A space's health: who gives, how fast questions are answered, what waits.
    SpaceHealth {
        /// Id, unique id prefix or name.
        space: String,
    },
    /// Every document of a space as this node holds it, each with the short hash of its heads:
    /// two members whose digests are equal hold the same version of every document.
    SpaceDigest {
        /// Id, unique id prefix or name.
        space: String,
    },
    /// Confirms an answer as still right.
    Confirm {
        /// Question id or unique prefix.
        question: String,
        /// Answer id or unique prefix.
        answer: String,
    },
    /// Answers a question with a note: the answer carries the note's text and names it; the
    /// note (if this member may write it) names the answer.
    AnswerWithNote {
        /// Question id or unique prefix.
        question: String,
        /// Note id or unique prefix.
        note: String,
    },
    /// Makes a note of an answer, in `space` (the personal space when absent): linked to it.
    ShareAsNote {
        /// Question id or unique prefix.
        question: String,
        /// Answer id or unique prefix.
        answer: String,
        /// Where the note goes.
        #[serde(default)]
        space: Option<String>,
    },
    /// The network as this node sees it: reachability, external addresses, relays.
    Network,
    /// Use a relay (kept in the home): a slot is reserved on it while this node is not publicly
    /// reachable, so that members behind other NATs can reach it.
    RelayAdd {
        /// The relay's multiaddr, ending in `/p2p/PEER_ID`.
        addr: String,
    },
    /// Stop using a relay (and forget it in the home).
    RelayRemove {
        /// The relay's peer id, or its multiaddr as given.
        relay: String,
    },
    /// Search every note and question this home holds, best first.
    Search {
        /// Words (a trailing word also matches as a prefix while typing; a misspelt word
        /// still matches), `"phrases"`, and filters `tag:x`, `kind:note|question`,
        /// `space:NAME` and `author:NAME`.
        query: String,
        /// Only this space (id, unique id prefix or name).
        #[serde(default)]
        space: Option<String>,
        /// At most this many hits; 20 when absent.
        #[serde(default)]
        limit: Option<u32>,
    },
    /// The notes a note links to with `[[wiki links]]`, and the notes and questions linking
    /// to it.
    NoteLinks {
        /// Id or unique prefix.
        id: String,
    },
    /// Write notes read from a Markdown folder, in one transaction: a note imported before
    /// (the same `key` in the same space, or the same `id`) is updated, the others created.
    Import {
        /// The space (id, unique id prefix or name); the personal space when absent.
        #[serde(default)]
        space: Option<String>,
        /// The notes, at most 1,000 per request.
        notes: Vec<ImportNote>,
    },
    /// Attach a file to a note: it is stored once, by its BLAKE3 hash, beside the database,
    /// and the note records its name, hash and size.
    Attach {
        /// The note (id or unique prefix).
        id: String,
        /// The file to attach, on this machine, by its absolute path (read by the node; a relative
        /// path is refused, as the node would read it from its own working folder).
        path: String,
        /// Its name in the note; the file's own name when absent (made unique in the note).
        #[serde(default)]
        name: Option<String>,
        /// Append `![[name]]` to the note's body (an import leaves the body as it is).
        #[serde(default)]
        embed: bool,
    },
    /// A note's attachments, and whether each is held here.
    Attachments {
        /// The note (id or unique prefix).
        id: String,
    },
    /// Where an attachment's bytes are on this machine, fetched first from a member of the
    /// note's space when not held here.
    AttachmentGet {
        /// The note (id or unique prefix).
        id: String,
        /// The attachment's name in the note.
        name: String,
    },
    /// This node's limits on attachments: each one given is changed (kept in the home, in force
    /// at once); with none given, they are shown.
    AttachmentLimits {
        /// Largest attachment stored or fetched, in bytes.
        #[serde(default)]
        #[ts(type = "number | null")]
        max_file: Option<u64>,
        /// Most bytes of attachments held for one space.
        #[serde(default)]
        #[ts(type = "number | null")]
        space_quota: Option<u64>,
        /// Attachments up to this size are fetched as soon as their note arrives (0: none).
        #[serde(default)]
        #[ts(type = "number | null")]
        auto_fetch: Option<u64>,
    },
    /// One page of a space's notes and questions, whole, in id order, for an export.
    Export {
        /// The space (id, unique id prefix or name); the personal space when absent.
        #[serde(default)]
        space: Option<String>,
        /// Start after this id (the previous page's `next`).
        #[serde(default)]
        after: Option<DocId>,
        /// At most this many documents; 200 when absent.
        #[serde(default)]
        limit: Option<u32>,
    },
}

/// A node's reply to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "reply", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Response {
    /// To `Init`.
    Init(InitReport),
    /// To `Attach`.
    Attached {
        /// The note.
        id: DocId,
        /// The attachment as the note records it (its name made unique in the note).
        attachment: Attachment,
        /// The reference to it in a body: `![[name]]`.
        reference: String,
        /// Whether the note changed (the same file under the same name changes nothing).
        changed: bool,
    },
    /// To `Attachments`.
    Attachments {
        /// The note.
        id: DocId,
        /// Its space.
        space: SpaceId,
        /// Its attachments, by name.
        items: Vec<AttachmentInfo>,
    },
    /// To `AttachmentLimits`.
    AttachmentLimits(AttachmentLimitsView),
    /// To `AttachmentGet`.
    AttachmentFile {
        /// The attachment.
        attachment: AttachmentInfo,
        /// Its bytes on this machine (read-only: copy them elsewhere to change them).
        path: String,
        /// Bytes fetched from a member now (0 when it was held already).
        #[ts(type = "number")]
        fetched: u64,
        /// Where the fetch began: past 0 when it resumed an interrupted download.
        #[ts(type = "number")]
        resumed_from: u64,
    },
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
    /// A new space (`SpaceNew`) or a space joined (`SpaceJoin`).
    SpaceCreated {
        /// The space.
        id: SpaceId,
        /// Its name.
        name: String,
    },
    /// To `SpaceList`.
    Spaces {
        /// The spaces, the personal one first.
        items: Vec<SpaceInfo>,
    },
    /// To `SpaceShow`, `SpaceRemove`, `SpaceLeave`, `SpaceRole`, `SpaceSettings`.
    Space(SpaceDetail),
    /// To `SpaceInvites` and `SpaceRevokeInvite`: the open invitations, newest first.
    Invites {
        /// The space.
        space: SpaceId,
        /// Its open invitations.
        items: Vec<InviteInfo>,
    },
    /// To `SpaceInvite`.
    Ticket {
        /// The ticket to pass on.
        ticket: String,
        /// When it stops working, ms since the epoch.
        expires_at: Option<i64>,
    },
    /// To `Connect`.
    Connected {
        /// The peer dialled.
        peer: String,
    },
    /// To `Peers`.
    Peers {
        /// Connected peers.
        items: Vec<PeerInfo>,
    },
    /// To `Who`.
    Experts {
        /// Members, best first.
        items: Vec<ExpertInfo>,
    },
    /// To `People`.
    People {
        /// The space.
        space: SpaceId,
        /// Its members, most giving first.
        items: Vec<PersonInfo>,
    },
    /// To `Person`.
    Person(PersonDetail),
    /// To `QuestionRoutes`.
    Routes {
        /// The question.
        question: DocId,
        /// The offers, round by round.
        items: Vec<RouteInfo>,
    },
    /// To `Inbox`.
    Inbox {
        /// Newest first.
        items: Vec<InboxItem>,
        /// How many are not seen yet.
        unread: u32,
    },
    /// To `Following`, `Follow`, `Unfollow`.
    Following {
        /// The tags followed.
        tags: Vec<String>,
    },
    /// To `Record`.
    Record(RecordView),
    /// To `RecordExport`: the signed statement (JSON text).
    RecordStatement {
        /// The statement.
        statement: String,
    },
    /// To `RecordVerify`: whose record it is, and that its signature holds.
    RecordVerified(RecordStatement),
    /// To `SpaceHealth`.
    Health(HealthView),
    /// To `SpaceDigest`.
    Digest(SpaceDigest),
    /// To `Network`, `RelayAdd` and `RelayRemove`.
    Network(NetStatus),
    /// To `Search`.
    Hits {
        /// The hits, best first.
        items: Vec<Hit>,
        /// How many documents matched in all (`items` holds at most the limit).
        total: u32,
    },
    /// To `NoteLinks`.
    Links(Links),
    /// To `Import`.
    Imported(ImportReport),
    /// To `Export`.
    Exported(ExportPage),
    /// To `NoteHistory`.
    History {
        /// The note.
        id: DocId,
        /// Its versions, newest first.
        items: Vec<VersionInfo>,
    },
    /// To `NoteVersion`.
    Version(VersionDetail),
    /// To `Trash`.
    Trash {
        /// Deleted documents still restorable, newest deletion first.
        items: Vec<TrashItem>,
    },
}

/// One version of a note (see `tacit_core::Version`), with its author's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VersionInfo {
    /// The version (its fields appear at the top level in JSON).
    #[serde(flatten)]
    #[ts(flatten)]
    pub version: Version,
    /// The author's display name, when this home knows it.
    pub author_name: Option<String>,
}

/// A past version of a note and how it differs from now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VersionDetail {
    /// The note.
    pub note: DocId,
    /// The version.
    pub version: VersionInfo,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The title now.
    pub title_now: String,
    /// The tags now.
    pub tags_now: Vec<String>,
    /// The body's lines: `then` only in the version, `now` only in the note now.
    pub diff: Vec<DiffLine>,
}

/// A deleted note or question in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrashItem {
    /// The document.
    pub id: DocId,
    /// Note or question.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// Its space.
    pub space: SpaceId,
    /// The space's name.
    pub space_name: String,
    /// When it was deleted, ms since the epoch (the deleter's clock).
    pub deleted_at: i64,
    /// Who deleted it.
    pub deleted_by: Option<MemberId>,
    /// Their display name, when this home knows it.
    pub deleted_by_name: Option<String>,
    /// Whole days before it leaves the trash and can no longer be restored.
    pub days_left: u32,
}

/// A document that matched a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Hit {
    /// The document.
    pub id: DocId,
    /// Note or question.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// Ranges of `title` that matched, as `[start, end)` offsets in Unicode characters.
    pub title_marks: Vec<(u32, u32)>,
    /// Its space.
    pub space: SpaceId,
    /// The space's name.
    pub space_name: String,
    /// A passage of the body (or of an answer) around the best match, one line.
    pub snippet: String,
    /// Ranges of `snippet` that matched, as `[start, end)` offsets in Unicode characters.
    pub snippet_marks: Vec<(u32, u32)>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Who wrote it.
    pub author: MemberId,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// Relevance: higher is better, comparable within one search only.
    pub score: f32,
}

/// A document at the other end of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LinkedDoc {
    /// The document.
    pub id: DocId,
    /// Note or question.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// Its space.
    pub space: SpaceId,
}

/// A note's links, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Links {
    /// The note.
    pub id: DocId,
    /// The notes its `[[wiki links]]` reach (by title or alias, in its space), in the order
    /// they first appear.
    pub outgoing: Vec<LinkedDoc>,
    /// Link targets that name no note in its space.
    pub unresolved: Vec<String>,
    /// The notes and questions of its space that link to it, newest change first.
    pub backlinks: Vec<LinkedDoc>,
}

/// A note read from a Markdown file, for [`Request::Import`].
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ImportNote {
    /// Where it came from, relative to the imported folder with `/` separators
    /// (`projects/plan.md`). Importing the same key into the same space again updates the note.
    pub key: String,
    /// The id named in the file's front matter (a Tacit export's): that document is updated
    /// when this space holds it, or created with this id when no space does.
    #[serde(default)]
    pub id: Option<DocId>,
    /// Note or question (an exported question comes back as a question).
    pub kind: Kind,
    /// Title, body, tags and aliases.
    pub draft: Draft,
    /// When it was written, ms since the epoch (front matter `created`, or the file's time);
    /// now when absent.
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ImportReport {
    /// Notes created.
    pub created: u32,
    /// Notes imported before whose text changed.
    pub updated: u32,
    /// Notes imported before and unchanged.
    pub unchanged: u32,
    /// The document each imported note went to, in the order given.
    pub ids: Vec<DocId>,
}

/// A note's attachment, and whether its bytes are on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttachmentInfo {
    /// Its name in the note.
    pub name: String,
    /// BLAKE3 hash of its bytes (64 hex).
    pub hash: String,
    /// Size in bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// Whether its bytes are held here for the note's space.
    pub present: bool,
}

/// This node's limits on attachments, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttachmentLimitsView {
    /// Largest attachment stored or fetched.
    #[ts(type = "number")]
    pub max_file: u64,
    /// Most bytes of attachments held for one space.
    #[ts(type = "number")]
    pub space_quota: u64,
    /// Attachments up to this size are fetched as soon as their note arrives.
    #[ts(type = "number")]
    pub auto_fetch: u64,
}

/// One page of an export.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExportPage {
    /// The space.
    pub space: SpaceId,
    /// Its name.
    pub space_name: String,
    /// Notes of this page.
    pub notes: Vec<NoteView>,
    /// Questions of this page, with their answers.
    pub questions: Vec<QuestionView>,
    /// Names of the members who wrote them, where known.
    pub names: Vec<(MemberId, String)>,
    /// The `after` of the next page; `None` on the last page.
    pub next: Option<DocId>,
}

/// How far a space is in sync with the members this node reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Never shared: the personal space.
    Local,
    /// No other member is connected.
    Offline,
    /// Exchanging with at least one connected member.
    Syncing,
    /// Every connected member holds what this node holds.
    UpToDate,
    /// This member was removed from the space (or left it on another device): nothing syncs,
    /// and the copy here is kept, read-only.
    Removed,
    /// Made by an older Tacit, whose membership this one no longer trusts: the notes are kept
    /// here, read-only, and nothing syncs; share them again in a new space.
    Legacy,
}

/// An invitation that can still admit someone.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct InviteInfo {
    /// The invite op (what `SpaceRevokeInvite` takes).
    pub id: tacit_core::OpHash,
    /// The role a joiner gets.
    pub role: Role,
    /// When it expires, ms since the epoch; never when absent.
    pub expires_at: Option<i64>,
    /// How many joins it allows; any number when absent.
    pub uses: Option<u32>,
    /// How many joins it still allows; any number when absent.
    pub uses_left: Option<u32>,
    /// How many members joined with it.
    pub used: u32,
    /// The owner who made it.
    pub by: MemberId,
    /// Their name.
    pub by_name: String,
    /// When it was made, ms since the epoch.
    pub created_at: i64,
}

/// A space in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SpaceInfo {
    /// The space.
    pub id: SpaceId,
    /// Its name.
    pub name: String,
    /// Whether it is this home's personal space.
    pub personal: bool,
    /// This member's role (owner in the personal space).
    pub role: Role,
    /// Members (1 for the personal space).
    pub members: u32,
    /// Members connected now.
    pub connected: u32,
    /// Sync state.
    pub sync: SyncState,
    /// Days after which an unconfirmed answer is marked possibly stale.
    pub stale_after_days: u32,
}

/// A member of a space.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct MemberInfo {
    /// The member id.
    pub member: MemberId,
    /// Name given when joining.
    pub name: String,
    /// Organisation given when joining.
    pub org: String,
    /// Role.
    pub role: Role,
    /// When they joined, ms since the epoch.
    pub joined_at: i64,
    /// Whether this is this home's member.
    pub me: bool,
    /// Whether their device is connected now.
    pub connected: bool,
    /// How it is connected, when it is (another member only).
    pub via: Option<Via>,
    /// Why another member is not connected, and what to do about it.
    pub why: Option<String>,
}

/// One space with its members.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SpaceDetail {
    /// The space.
    pub info: SpaceInfo,
    /// Its members, owners first.
    pub members: Vec<MemberInfo>,
    /// Removed members.
    pub removed: Vec<MemberId>,
}

/// How a connected peer is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Over a direct connection (on the LAN, to a public address, or hole-punched).
    #[default]
    Direct,
    /// Only through a relay (`PeerInfo::relay`): both sides are behind NATs and no direct
    /// connection is up (yet).
    Relayed,
}

/// A connected peer.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PeerInfo {
    /// The libp2p peer id.
    pub peer: String,
    /// The member, when the peer id is a member key.
    pub member: Option<MemberId>,
    /// Whether sync with it goes over a direct connection or through a relay.
    pub via: Via,
    /// The relay's peer id when `via` is `relayed`.
    pub relay: Option<String>,
    /// Remote addresses of its connections.
    pub addrs: Vec<String>,
    /// Spaces shared with it (by this node's view).
    pub spaces: Vec<SpaceId>,
    /// Traffic of the sync session with it so far.
    pub traffic: Traffic,
}

/// What one sync session exchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Traffic {
    /// Frames sent.
    pub frames_out: u64,
    /// Frames received.
    pub frames_in: u64,
    /// Bytes sent (frame payloads and their 4-byte length prefixes).
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Round trips: how often a frame arrived after this side had sent since the last one.
    pub round_trips: u64,
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
    /// The libp2p peer id (the device's address on the network).
    pub peer_id: String,
    /// Where the node listens; empty when it has no network (a one-shot command).
    pub listen_addrs: Vec<String>,
    /// Connected peers.
    pub peers: Vec<PeerInfo>,
    /// Every space with its sync state.
    pub spaces: Vec<SpaceInfo>,
    /// The search index.
    pub search: SearchState,
    /// Reachability, external addresses and relays (their fields appear at the top level in
    /// JSON).
    #[serde(flatten)]
    #[ts(flatten)]
    pub network: NetStatus,
}

/// Whether a node can be dialled from outside, as AutoNAT last found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// Another node dialled this one back: peers can connect to it directly.
    Public,
    /// Dial-backs failed: this node is behind a NAT or firewall; peers reach it through a relay
    /// (then, often, directly after a hole punch).
    Private,
    /// Not probed yet, or nobody to probe with (no network, no peer, no relay).
    #[default]
    Unknown,
}

/// Where a relay's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RelayState {
    /// The node's network is not running (kept in the home, used once it runs).
    Offline,
    /// Connecting to the relay, or waiting for its answer.
    Pending,
    /// The relay holds a slot: peers reach this node at the circuit address (`detail`).
    Reserved,
    /// The relay answered and refused; `detail` says why and what to do.
    Refused,
    /// The relay could not be reached; `detail` says why. Asked again later.
    Unreachable,
    /// This node is publicly reachable: it needs no reservation.
    NotNeeded,
}

/// Where a relay came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RelaySource {
    /// Given by the person (`--use-relay`, `TACIT_RELAYS`, `tacit relay add`, Settings): kept in
    /// the home.
    Configured,
    /// A member of one of this node's spaces that serves as a relay at a public address (it
    /// says so in the addresses members share); used while it does.
    Member,
}

/// A relay this node uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RelayInfo {
    /// The relay's peer id.
    pub peer: String,
    /// Its address, ending in `/p2p/PEER`.
    pub addr: String,
    /// Where the reservation stands.
    pub state: RelayState,
    /// The circuit address when reserved; why, in words, when refused or unreachable.
    pub detail: Option<String>,
    /// Whether it was given by the person or learnt from a member.
    pub source: RelaySource,
}

/// The network as a node sees it, for `status`, `tacit relay list` and the app's Settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NetStatus {
    /// Whether peers can dial this node directly.
    pub reachability: Reachability,
    /// Addresses confirmed reachable from outside (by AutoNAT, or declared with
    /// `--external-addr`).
    pub external_addrs: Vec<String>,
    /// The relays this node uses and their reservations.
    pub relays: Vec<RelayInfo>,
    /// Whether this node serves circuit relay v2 for others (`tacit serve --relay`).
    pub relay_server: bool,
}

/// How far the search index is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SearchState {
    /// Documents in the index.
    pub docs: u64,
    /// Changes written to the store but not yet searchable (normally for well under a second).
    pub pending: u64,
    /// Whether the index is being rebuilt from the store (it was missing, damaged or of an
    /// older version); search answers from what is indexed so far.
    pub rebuilding: bool,
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
        /// Whether the change came from a peer.
        #[serde(default)]
        remote: bool,
    },
    /// A space was created, joined, left, or its members changed.
    SpacesChanged {
        /// The space.
        space: SpaceId,
    },
    /// Peers connected or disconnected, or a space's sync state changed.
    NetworkChanged,
    /// The inbox may have changed otherwise than by a document (a tag followed, items seen).
    InboxChanged,
    /// An attachment is being fetched from a member: a few times a second, and once at the end
    /// (`done == total`) or when it stopped (`failed`).
    AttachmentProgress {
        /// Its hash (64 hex).
        hash: String,
        /// Bytes held so far (verified).
        #[ts(type = "number")]
        done: u64,
        /// Its size.
        #[ts(type = "number")]
        total: u64,
        /// Whether the fetch stopped without it (the verified bytes are kept to resume).
        #[serde(default)]
        failed: bool,
    },
}

/// A member who knows about a topic.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExpertInfo {
    /// The member.
    pub member: MemberId,
    /// Name (from their profile).
    pub name: String,
    /// Organisation.
    pub org: String,
    /// Whether they are in another organisation than this member.
    pub partner: bool,
    /// How strongly their work shows it (for ordering; no unit).
    pub score: f64,
    /// Why: "3 accepted answers on #tls, last in November 2026".
    pub reasons: Vec<tacit_core::people::Reason>,
}

/// A member of a space as a person.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PersonInfo {
    /// The member.
    pub member: MemberId,
    /// Name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// Whether they are in another organisation than this member.
    pub partner: bool,
    /// Role in the space.
    pub role: Role,
    /// Declared expertise.
    pub expertise: Vec<String>,
    /// What their work in the space is most about (tags), most first.
    pub topics: Vec<String>,
    /// Their record in the space.
    pub record: tacit_core::people::Record,
    /// When their device was last connected to this one, ms; `None` if never seen.
    pub last_seen: Option<i64>,
    /// Whether it is connected now.
    pub connected: bool,
    /// Whether this is this home's member.
    pub me: bool,
}

/// One person, in every space this home shares with them.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PersonDetail {
    /// The member.
    pub member: MemberId,
    /// Name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// A few lines about them.
    pub bio: String,
    /// Declared expertise.
    pub expertise: Vec<String>,
    /// Whether they are in another organisation than this member.
    pub partner: bool,
    /// Their record over every shared space.
    pub record: tacit_core::people::Record,
    /// Their record per space.
    pub spaces: Vec<SpaceRecord>,
    /// What their work is most about (tags), with how many contributions.
    pub topics: Vec<(String, u32)>,
    /// Their latest contributions, newest first.
    pub recent: Vec<ContributionView>,
    /// When last seen connected, ms.
    pub last_seen: Option<i64>,
}

/// A record in one space.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SpaceRecord {
    /// The space.
    pub space: SpaceId,
    /// Its name.
    pub name: String,
    /// The record there.
    pub record: tacit_core::people::Record,
}

/// One contribution, as a person page lists it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContributionView {
    /// What they did.
    pub act: tacit_core::people::Act,
    /// The document.
    pub doc: DocId,
    /// Its title.
    pub title: String,
    /// Its space.
    pub space: SpaceId,
    /// When, ms.
    pub at: i64,
    /// For an answer: accepted.
    pub accepted: bool,
}

/// Why something is in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum InboxKind {
    /// A question offered to this member: its record matches.
    Routed,
    /// An answer to this member's question.
    Answer,
    /// A question on a tag this member follows.
    Followed,
    /// An answer of this member's not confirmed for a long time: is it still right?
    Stale,
}

/// One inbox item.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct InboxItem {
    /// Stable key (what `InboxSeen` takes).
    pub key: String,
    /// Why it is here.
    pub kind: InboxKind,
    /// The question.
    pub question: DocId,
    /// Its title.
    pub title: String,
    /// Its space.
    pub space: SpaceId,
    /// The answer (for `answer` and `stale`).
    pub answer: Option<AnswerId>,
    /// Who: the asker, or the answer's author.
    pub by: MemberId,
    /// Their name.
    pub by_name: String,
    /// When it arrived here, ms.
    pub at: i64,
    /// In words: why this member was asked, or what to do.
    pub reason: String,
    /// Whether this member has seen it.
    pub seen: bool,
}

/// A member's record.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RecordView {
    /// The member.
    pub member: MemberId,
    /// Name.
    pub name: String,
    /// Overall (or in the space asked for).
    pub record: tacit_core::people::Record,
    /// Per space.
    pub spaces: Vec<SpaceRecord>,
}

/// A record statement, signed by its member: what `RecordExport` makes and `RecordVerify`
/// checks.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RecordStatement {
    /// The format.
    pub tacit_record: u32,
    /// The member (their public key).
    pub member: MemberId,
    /// Their name.
    pub name: String,
    /// Their organisation.
    pub org: String,
    /// When it was made, ms.
    pub made_at: i64,
    /// Overall.
    pub record: tacit_core::people::Record,
    /// Per space: the space, its name, its member count, the record there.
    pub spaces: Vec<SpaceRecord>,
    /// The member's Ed25519 signature over the statement without this field, hex.
    pub signature: String,
}

/// A space's health, with names.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct HealthView {
    /// The space.
    pub space: SpaceId,
    /// The figures.
    pub health: tacit_core::people::Health,
    /// The unanswered questions' titles, in the order of `health.unanswered`.
    pub unanswered_titles: Vec<String>,
    /// The top givers' names, in the order of `health.top_givers`.
    pub top_giver_names: Vec<String>,
}

/// A space's documents as one node holds them, for checking that members have converged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SpaceDigest {
    /// The space.
    pub space: SpaceId,
    /// One hash over every entry of `docs` (32 hex digits): equal on two nodes exactly when
    /// their `docs` are (but for a hash collision).
    pub digest: String,
    /// Every document of the space (notes, questions, deleted ones, and the members' profiles)
    /// in id order, with the short hash of its Automerge heads (16 hex digits, the hash that
    /// set reconciliation compares).
    pub docs: Vec<(DocId, String)>,
}

/// One offer of a question to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RouteInfo {
    /// The member.
    pub member: MemberId,
    /// Their name.
    pub name: String,
    /// 0 when asked, 1 a day later without an answer, and so on.
    pub round: u32,
    /// When the offer was made, ms.
    pub at: i64,
}
