// Generated from the Rust types by `TACIT_BLESS=1 cargo test -p tacit-desktop bindings`. Do not edit.

/**
 * A document's id: random, 128 bits.
 */
export type DocId = string;

/**
 * An answer's id within its question: random, 128 bits.
 */
export type AnswerId = string;

/**
 * A space's id: random, 128 bits.
 */
export type SpaceId = string;

/**
 * A member: the Ed25519 public key of their device.
 */
export type MemberId = string;

/**
 * An op's identity: the SHA-256 of its full signed encoding. Hex in text, raw bytes on the wire.
 */
export type OpHash = string;

/**
 * What a document is.
 */
export type Kind = "note" | "question" | "profile";

/**
 * What a member may do in a space. The order of the variants is part of the wire format.
 */
export type Role = "owner" | "editor" | "reader";

/**
 * A new note or question: a title, a Markdown body, tags.
 */
export type Draft = { 
/**
 * Title (one line; a question's title is the question).
 */
title: string, 
/**
 * Markdown body (a question's details).
 */
body: string, 
/**
 * Tags.
 */
tags: Array<string>, 
/**
 * Other names the note goes by (a `[[wiki link]]` to any of them reaches it); notes only.
 */
aliases: Array<string>, };

/**
 * Changes to a note; `None` leaves a field as it is.
 */
export type NoteEdit = { 
/**
 * New title.
 */
title: string | null, 
/**
 * New full body; applied as a character diff.
 */
body: string | null, 
/**
 * New set of tags.
 */
tags: Array<string> | null, 
/**
 * New set of aliases (notes only).
 */
aliases: Array<string> | null, 
/**
 * The heads the editor last read (see [`NoteView::heads`]). When given and the note has
 * changed since, the edit is refused with [`CoreError::Conflict`] instead of undoing the
 * other change; the editor merges and tries again. `None` edits whatever is current.
 */
base: Array<string> | null, };

/**
 * Changes to a profile; `None` leaves a field as it is.
 */
export type ProfileEdit = { 
/**
 * Display name.
 */
name: string | null, 
/**
 * Organisation.
 */
org: string | null, 
/**
 * A few lines about the member.
 */
bio: string | null, 
/**
 * Declared expertise tags (the whole set).
 */
expertise: Array<string> | null, 
/**
 * How many routed questions a day this member is offered at most (0: none); see
 * [`crate::people::RoutingRules`]. Every member reads it from this profile, so all route
 * alike.
 */
questions_per_day: number | null, };

/**
 * A note as read.
 */
export type NoteView = { 
/**
 * Id.
 */
id: DocId, 
/**
 * Title.
 */
title: string, 
/**
 * Markdown body.
 */
body: string, 
/**
 * Tags, sorted: those given to the note (its tag list).
 */
tags: Array<string>, 
/**
 * Tags written in its body as `#tag` (Obsidian's inline tags) and not in [`NoteView::tags`],
 * in the order written: they count as the note's tags (listings, filters, search, who knows
 * what) and go when the text goes. See [`NoteView::all_tags`].
 */
inline_tags: Array<string>, 
/**
 * Other names of the note, sorted.
 */
aliases: Array<string>, 
/**
 * Creator.
 */
author: MemberId, 
/**
 * Creation time, ms.
 */
created_at: number, 
/**
 * Last change, ms.
 */
updated_at: number, 
/**
 * The Automerge heads this view was read at, as hex; an editor sends them back as
 * [`NoteEdit::base`].
 */
heads: Array<string>, 
/**
 * The answers written from this note ("Answer with this note"): (question, answer).
 */
answered_in: Array<[DocId, AnswerId]>, 
/**
 * The answer this note was made from ("Share as a note"): (question, answer).
 */
from_answer: [DocId, AnswerId] | null, };

/**
 * An answer as read.
 */
export type AnswerView = { 
/**
 * Id within the question.
 */
id: AnswerId, 
/**
 * Who answered.
 */
author: MemberId, 
/**
 * Markdown body.
 */
body: string, 
/**
 * Time of answering, ms.
 */
created_at: number, 
/**
 * Whether the asker accepted it.
 */
accepted: boolean, 
/**
 * Members who thanked the author for it, sorted.
 */
thanked_by: Array<MemberId>, 
/**
 * Up votes minus down votes, one per member.
 */
score: number, 
/**
 * The note it was written from ("Answer with this note"), if any.
 */
from_note: DocId | null, 
/**
 * The note its author shared it as ("Share as a note"), if any.
 */
shared_as: DocId | null, 
/**
 * When it was last confirmed as still right (or written), ms.
 */
fresh_since: number, 
/**
 * Who confirmed it as still right, newest first, with when (ms).
 */
confirmed_by: Array<[MemberId, number]>, };

/**
 * A question as read, answers in display order: accepted first, then by score, then oldest.
 */
export type QuestionView = { 
/**
 * Id.
 */
id: DocId, 
/**
 * Title.
 */
title: string, 
/**
 * Details.
 */
body: string, 
/**
 * Tags, sorted.
 */
tags: Array<string>, 
/**
 * The asker.
 */
author: MemberId, 
/**
 * Creation time, ms.
 */
created_at: number, 
/**
 * Last change, ms.
 */
updated_at: number, 
/**
 * The accepted answer, if any.
 */
accepted: AnswerId | null, 
/**
 * The answers.
 */
answers: Array<AnswerView>, };

/**
 * A profile as read.
 */
export type ProfileView = { 
/**
 * Display name.
 */
name: string, 
/**
 * Organisation.
 */
org: string, 
/**
 * About the member.
 */
bio: string, 
/**
 * Declared expertise, sorted.
 */
expertise: Array<string>, 
/**
 * Routed questions a day this member accepts at most; the default when `None`.
 */
questions_per_day: number | null, };

/**
 * Something a user asks of a node. Document ids are given as text: a full id or a unique
 * prefix, resolved by the node.
 */
export type Request = { "op": "init", 
/**
 * Display name for a new profile.
 */
name: string | null, 
/**
 * Organisation for a new profile.
 */
org: string | null, } | { "op": "activate", 
/**
 * A `tacit://join/…` link the second launch was opened with, for the window to offer.
 */
link: string | null, } | { "op": "whoami" } | { "op": "profile_set", 
/**
 * What to change.
 */
edit: ProfileEdit, } | { "op": "note_new", 
/**
 * The note.
 */
draft: Draft, 
/**
 * The space (id, unique id prefix or name); the personal space when absent.
 */
space: string | null, } | { "op": "note_list", 
/**
 * At most this many (the newest); all when absent.
 */
limit: number | null, 
/**
 * The space (id, unique id prefix or name); the personal space when absent.
 */
space: string | null, } | { "op": "note_show", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "note_edit", 
/**
 * Id or unique prefix.
 */
id: string, 
/**
 * What to change.
 */
edit: NoteEdit, } | { "op": "note_rm", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "note_history", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "note_version", 
/**
 * Note id or unique prefix.
 */
id: string, 
/**
 * Version id or unique prefix (from `NoteHistory`).
 */
version: string, } | { "op": "note_restore", 
/**
 * Note id or unique prefix.
 */
id: string, 
/**
 * Version id or unique prefix (from `NoteHistory`).
 */
version: string, } | { "op": "question_rm", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "trash", 
/**
 * Only this space (id, unique id prefix or name); every space when absent.
 */
space: string | null, } | { "op": "restore", 
/**
 * Id or unique prefix of a deleted document.
 */
id: string, } | { "op": "ask", 
/**
 * The question.
 */
draft: Draft, 
/**
 * The space (id, unique id prefix or name); the personal space when absent.
 */
space: string | null, } | { "op": "answer", 
/**
 * Question id or prefix.
 */
question: string, 
/**
 * The answer, Markdown.
 */
body: string, } | { "op": "accept", 
/**
 * Question id or prefix.
 */
question: string, 
/**
 * Answer id or prefix.
 */
answer: string, } | { "op": "thank", 
/**
 * Question id or prefix.
 */
question: string, 
/**
 * Answer id or prefix.
 */
answer: string, } | { "op": "questions", 
/**
 * Only questions without an accepted answer.
 */
unanswered: boolean, 
/**
 * At most this many (the newest); all when absent.
 */
limit: number | null, 
/**
 * The space (id, unique id prefix or name); the personal space when absent.
 */
space: string | null, } | { "op": "question_show", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "status" } | { "op": "space_new", 
/**
 * Its name.
 */
name: string, } | { "op": "space_list" } | { "op": "space_show", 
/**
 * Id, unique id prefix or name.
 */
space: string, } | { "op": "space_invite", 
/**
 * Id, unique id prefix or name.
 */
space: string, 
/**
 * The role the joiner gets.
 */
role: Role, 
/**
 * How long the ticket stays valid, in ms; forever when absent.
 */
expires_in: number | null, 
/**
 * How many people may join with it; any number when absent.
 */
uses: number | null, } | { "op": "space_join", 
/**
 * The ticket (`tacit1…` or `tacit://join/…`).
 */
ticket: string, } | { "op": "space_remove", 
/**
 * Id, unique id prefix or name.
 */
space: string, 
/**
 * Member id or unique prefix.
 */
member: string, } | { "op": "space_leave", 
/**
 * Id, unique id prefix or name.
 */
space: string, } | { "op": "space_role", 
/**
 * Id, unique id prefix or name.
 */
space: string, 
/**
 * Member id, unique prefix or name.
 */
member: string, 
/**
 * The new role.
 */
role: Role, } | { "op": "space_settings", 
/**
 * Id, unique id prefix or name.
 */
space: string, 
/**
 * Days after which an answer not confirmed as still right is marked possibly stale,
 * and its author asked to confirm it (182 by default).
 */
stale_after_days: number | null, } | { "op": "space_invites", 
/**
 * Id, unique id prefix or name.
 */
space: string, } | { "op": "space_revoke_invite", 
/**
 * Id, unique id prefix or name.
 */
space: string, 
/**
 * The invitation's id or a unique prefix of it (4+ hex digits).
 */
invite: string, } | { "op": "connect", 
/**
 * Its multiaddr.
 */
addr: string, } | { "op": "peers" } | { "op": "who", 
/**
 * Tags (`#tls`, `tag:tls`) and words.
 */
topic: string, 
/**
 * Only members of this space (id, unique id prefix or name); every space when absent.
 */
space: string | null, 
/**
 * At most this many; 10 when absent.
 */
limit: number | null, } | { "op": "people", 
/**
 * Id, unique id prefix or name.
 */
space: string, } | { "op": "person", 
/**
 * Member id, unique prefix or name (in any space this home shares with them).
 */
member: string, } | { "op": "question_routes", 
/**
 * Question id or unique prefix.
 */
question: string, } | { "op": "inbox" } | { "op": "inbox_seen", 
/**
 * Item keys from `Inbox`.
 */
keys: Array<string>, } | { "op": "follow", 
/**
 * The tag.
 */
tag: string, } | { "op": "unfollow", 
/**
 * The tag.
 */
tag: string, } | { "op": "following" } | { "op": "record", 
/**
 * Member id, unique prefix or name.
 */
member: string | null, 
/**
 * Only this space.
 */
space: string | null, } | { "op": "record_export" } | { "op": "record_verify", 
/**
 * The statement, as exported.
 */
statement: string, } | { "op": "space_health", 
/**
 * Id, unique id prefix or name.
 */
space: string, } | { "op": "space_digest", 
/**
 * Id, unique id prefix or name.
 */
space: string, } | { "op": "confirm", 
/**
 * Question id or unique prefix.
 */
question: string, 
/**
 * Answer id or unique prefix.
 */
answer: string, } | { "op": "answer_with_note", 
/**
 * Question id or unique prefix.
 */
question: string, 
/**
 * Note id or unique prefix.
 */
note: string, } | { "op": "share_as_note", 
/**
 * Question id or unique prefix.
 */
question: string, 
/**
 * Answer id or unique prefix.
 */
answer: string, 
/**
 * Where the note goes.
 */
space: string | null, } | { "op": "network" } | { "op": "relay_add", 
/**
 * The relay's multiaddr, ending in `/p2p/PEER_ID`.
 */
addr: string, } | { "op": "relay_remove", 
/**
 * The relay's peer id, or its multiaddr as given.
 */
relay: string, } | { "op": "search", 
/**
 * Words (a trailing word also matches as a prefix while typing; a misspelt word
 * still matches), `"phrases"`, and filters `tag:x`, `kind:note|question`,
 * `space:NAME` and `author:NAME`.
 */
query: string, 
/**
 * Only this space (id, unique id prefix or name).
 */
space: string | null, 
/**
 * At most this many hits; 20 when absent.
 */
limit: number | null, } | { "op": "note_links", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "import", 
/**
 * The space (id, unique id prefix or name); the personal space when absent.
 */
space: string | null, 
/**
 * The notes, at most 1,000 per request.
 */
notes: Array<ImportNote>, } | { "op": "attach", 
/**
 * The note (id or unique prefix).
 */
id: string, 
/**
 * The file to attach, on this machine, by its absolute path (read by the node; a relative
 * path is refused, as the node would read it from its own working folder).
 */
path: string, 
/**
 * Its name in the note; the file's own name when absent (made unique in the note).
 */
name: string | null, 
/**
 * Append `![[name]]` to the note's body (an import leaves the body as it is).
 */
embed: boolean, } | { "op": "attachments", 
/**
 * The note (id or unique prefix).
 */
id: string, } | { "op": "attachment_get", 
/**
 * The note (id or unique prefix).
 */
id: string, 
/**
 * The attachment's name in the note.
 */
name: string, } | { "op": "attachment_limits", 
/**
 * Largest attachment stored or fetched, in bytes.
 */
max_file: number | null, 
/**
 * Most bytes of attachments held for one space.
 */
space_quota: number | null, 
/**
 * Attachments up to this size are fetched as soon as their note arrives (0: none).
 */
auto_fetch: number | null, } | { "op": "export", 
/**
 * The space (id, unique id prefix or name); the personal space when absent.
 */
space: string | null, 
/**
 * Start after this id (the previous page's `next`).
 */
after: DocId | null, 
/**
 * At most this many documents; 200 when absent.
 */
limit: number | null, };

/**
 * A node's reply to a [`Request`].
 */
export type Response = { "reply": "init" } & InitReport | { "reply": "attached", 
/**
 * The note.
 */
id: DocId, 
/**
 * The attachment as the note records it (its name made unique in the note).
 */
attachment: Attachment, 
/**
 * The reference to it in a body: `![[name]]`.
 */
reference: string, 
/**
 * Whether the note changed (the same file under the same name changes nothing).
 */
changed: boolean, } | { "reply": "attachments", 
/**
 * The note.
 */
id: DocId, 
/**
 * Its space.
 */
space: SpaceId, 
/**
 * Its attachments, by name.
 */
items: Array<AttachmentInfo>, } | { "reply": "attachment_limits" } & AttachmentLimitsView | { "reply": "attachment_file", 
/**
 * The attachment.
 */
attachment: AttachmentInfo, 
/**
 * Its bytes on this machine (read-only: copy them elsewhere to change them).
 */
path: string, 
/**
 * Bytes fetched from a member now (0 when it was held already).
 */
fetched: number, 
/**
 * Where the fetch began: past 0 when it resumed an interrupted download.
 */
resumed_from: number, } | { "reply": "identity" } & Identity | { "reply": "created", 
/**
 * The new document.
 */
id: DocId, } | { "reply": "answered", 
/**
 * The question.
 */
question: DocId, 
/**
 * The new answer.
 */
id: AnswerId, } | { "reply": "list", 
/**
 * The documents.
 */
items: Array<ListItem>, } | { "reply": "note" } & NoteView | { "reply": "question" } & QuestionView | { "reply": "done", 
/**
 * The document.
 */
id: DocId, 
/**
 * Whether anything was written.
 */
changed: boolean, 
/**
 * The document's heads afterwards, as hex (the next edit's `base`).
 */
heads: Array<string>, } | { "reply": "activated", 
/**
 * Whether a window was there to come forward.
 */
window: boolean, } | { "reply": "status" } & Status | { "reply": "space_created", 
/**
 * The space.
 */
id: SpaceId, 
/**
 * Its name.
 */
name: string, } | { "reply": "spaces", 
/**
 * The spaces, the personal one first.
 */
items: Array<SpaceInfo>, } | { "reply": "space" } & SpaceDetail | { "reply": "invites", 
/**
 * The space.
 */
space: SpaceId, 
/**
 * Its open invitations.
 */
items: Array<InviteInfo>, } | { "reply": "ticket", 
/**
 * The ticket to pass on.
 */
ticket: string, 
/**
 * When it stops working, ms since the epoch.
 */
expires_at: number | null, } | { "reply": "connected", 
/**
 * The peer dialled.
 */
peer: string, } | { "reply": "peers", 
/**
 * Connected peers.
 */
items: Array<PeerInfo>, } | { "reply": "experts", 
/**
 * Members, best first.
 */
items: Array<ExpertInfo>, } | { "reply": "people", 
/**
 * The space.
 */
space: SpaceId, 
/**
 * Its members, most giving first.
 */
items: Array<PersonInfo>, } | { "reply": "person" } & PersonDetail | { "reply": "routes", 
/**
 * The question.
 */
question: DocId, 
/**
 * The offers, round by round.
 */
items: Array<RouteInfo>, } | { "reply": "inbox", 
/**
 * Newest first.
 */
items: Array<InboxItem>, 
/**
 * How many are not seen yet.
 */
unread: number, } | { "reply": "following", 
/**
 * The tags followed.
 */
tags: Array<string>, } | { "reply": "record" } & RecordView | { "reply": "record_statement", 
/**
 * The statement.
 */
statement: string, } | { "reply": "record_verified" } & RecordStatement | { "reply": "health" } & HealthView | { "reply": "digest" } & SpaceDigest | { "reply": "network" } & NetStatus | { "reply": "hits", 
/**
 * The hits, best first.
 */
items: Array<Hit>, 
/**
 * How many documents matched in all (`items` holds at most the limit).
 */
total: number, } | { "reply": "links" } & Links | { "reply": "imported" } & ImportReport | { "reply": "exported" } & ExportPage | { "reply": "history", 
/**
 * The note.
 */
id: DocId, 
/**
 * Its versions, newest first.
 */
items: Array<VersionInfo>, } | { "reply": "version" } & VersionDetail | { "reply": "trash", 
/**
 * Deleted documents still restorable, newest deletion first.
 */
items: Array<TrashItem>, };

/**
 * What `tacit init` did.
 */
export type InitReport = { 
/**
 * False when the home was already initialised (and nothing changed).
 */
created: boolean, 
/**
 * The home directory.
 */
home: string, 
/**
 * The member.
 */
member: MemberId, 
/**
 * The personal space.
 */
personal_space: SpaceId, };

/**
 * This home's member.
 */
export type Identity = { 
/**
 * The member id (the device's public key).
 */
member: MemberId, 
/**
 * The personal space.
 */
personal_space: SpaceId, 
/**
 * The profile.
 */
profile: ProfileView, };

/**
 * One document in a listing: metadata only.
 */
export type ListItem = { 
/**
 * Id.
 */
id: DocId, 
/**
 * Kind.
 */
kind: Kind, 
/**
 * Title.
 */
title: string, 
/**
 * Tags.
 */
tags: Array<string>, 
/**
 * Creator.
 */
author: MemberId, 
/**
 * Space.
 */
space: SpaceId, 
/**
 * Creation time, ms since the epoch.
 */
created_at: number, 
/**
 * Last change, ms since the epoch.
 */
updated_at: number, 
/**
 * Number of answers (questions).
 */
answers: number, 
/**
 * Whether an answer is accepted (questions).
 */
accepted: boolean, };

/**
 * A node's state, for `tacit status`.
 */
export type Status = { 
/**
 * The home directory.
 */
home: string, 
/**
 * The member.
 */
member: MemberId, 
/**
 * Process id of the node.
 */
pid: number, 
/**
 * Whether the node serves the control socket (`tacit serve` or the app), or was opened by
 * this command alone.
 */
serving: boolean, 
/**
 * Notes held (not deleted).
 */
notes: number, 
/**
 * Questions held (not deleted).
 */
questions: number, 
/**
 * Bytes of the database file and its write-ahead log.
 */
db_bytes: number, 
/**
 * The libp2p peer id (the device's address on the network).
 */
peer_id: string, 
/**
 * Where the node listens; empty when it has no network (a one-shot command).
 */
listen_addrs: Array<string>, 
/**
 * Connected peers.
 */
peers: Array<PeerInfo>, 
/**
 * Every space with its sync state.
 */
spaces: Array<SpaceInfo>, 
/**
 * The search index.
 */
search: SearchState, 
/**
 * Whether peers can dial this node directly.
 */
reachability: Reachability, 
/**
 * Addresses confirmed reachable from outside (by AutoNAT, or declared with
 * `--external-addr`).
 */
external_addrs: Array<string>, 
/**
 * The relays this node uses and their reservations.
 */
relays: Array<RelayInfo>, 
/**
 * Whether this node serves circuit relay v2 for others (`tacit serve --relay`).
 */
relay_server: boolean, };

/**
 * How far the search index is.
 */
export type SearchState = { 
/**
 * Documents in the index.
 */
docs: number, 
/**
 * Changes written to the store but not yet searchable (normally for well under a second).
 */
pending: number, 
/**
 * Whether the index is being rebuilt from the store (it was missing, damaged or of an
 * older version); search answers from what is indexed so far.
 */
rebuilding: boolean, };

/**
 * A document that matched a search.
 */
export type Hit = { 
/**
 * The document.
 */
id: DocId, 
/**
 * Note or question.
 */
kind: Kind, 
/**
 * Its title.
 */
title: string, 
/**
 * Ranges of `title` that matched, as `[start, end)` offsets in Unicode characters.
 */
title_marks: Array<[number, number]>, 
/**
 * Its space.
 */
space: SpaceId, 
/**
 * The space's name.
 */
space_name: string, 
/**
 * A passage of the body (or of an answer) around the best match, one line.
 */
snippet: string, 
/**
 * Ranges of `snippet` that matched, as `[start, end)` offsets in Unicode characters.
 */
snippet_marks: Array<[number, number]>, 
/**
 * Its tags.
 */
tags: Array<string>, 
/**
 * Who wrote it.
 */
author: MemberId, 
/**
 * Last change, ms since the epoch.
 */
updated_at: number, 
/**
 * Relevance: higher is better, comparable within one search only.
 */
score: number, };

/**
 * A document at the other end of a link.
 */
export type LinkedDoc = { 
/**
 * The document.
 */
id: DocId, 
/**
 * Note or question.
 */
kind: Kind, 
/**
 * Its title.
 */
title: string, 
/**
 * Its space.
 */
space: SpaceId, };

/**
 * A note's links, both ways.
 */
export type Links = { 
/**
 * The note.
 */
id: DocId, 
/**
 * The notes its `[[wiki links]]` reach (by title or alias, in its space), in the order
 * they first appear.
 */
outgoing: Array<LinkedDoc>, 
/**
 * Link targets that name no note in its space.
 */
unresolved: Array<string>, 
/**
 * The notes and questions of its space that link to it, newest change first.
 */
backlinks: Array<LinkedDoc>, };

/**
 * A note read from a Markdown file, for [`Request::Import`].
 */
export type ImportNote = { 
/**
 * Where it came from, relative to the imported folder with `/` separators
 * (`projects/plan.md`). Importing the same key into the same space again updates the note.
 */
key: string, 
/**
 * The id named in the file's front matter (a Tacit export's): that document is updated
 * when this space holds it, or created with this id when no space does.
 */
id: DocId | null, 
/**
 * Note or question (an exported question comes back as a question).
 */
kind: Kind, 
/**
 * Title, body, tags and aliases.
 */
draft: Draft, 
/**
 * When it was written, ms since the epoch (front matter `created`, or the file's time);
 * now when absent.
 */
created_at: number | null, };

/**
 * What an import did.
 */
export type ImportReport = { 
/**
 * Notes created.
 */
created: number, 
/**
 * Notes imported before whose text changed.
 */
updated: number, 
/**
 * Notes imported before and unchanged.
 */
unchanged: number, 
/**
 * The document each imported note went to, in the order given.
 */
ids: Array<DocId>, };

/**
 * One page of an export.
 */
export type ExportPage = { 
/**
 * The space.
 */
space: SpaceId, 
/**
 * Its name.
 */
space_name: string, 
/**
 * Notes of this page.
 */
notes: Array<NoteView>, 
/**
 * Questions of this page, with their answers.
 */
questions: Array<QuestionView>, 
/**
 * Names of the members who wrote them, where known.
 */
names: Array<[MemberId, string]>, 
/**
 * The `after` of the next page; `None` on the last page.
 */
next: DocId | null, };

/**
 * A file attached to a note, as the note records it.
 */
export type Attachment = { 
/**
 * Its name within the note (what `![[name]]` in the body refers to).
 */
name: string, 
/**
 * The BLAKE3 hash of its bytes, 64 lowercase hex characters.
 */
hash: string, 
/**
 * Its size in bytes.
 */
size: number, };

/**
 * A note's attachment, and whether its bytes are on this machine.
 */
export type AttachmentInfo = { 
/**
 * Its name in the note.
 */
name: string, 
/**
 * BLAKE3 hash of its bytes (64 hex).
 */
hash: string, 
/**
 * Size in bytes.
 */
size: number, 
/**
 * Whether its bytes are held here for the note's space.
 */
present: boolean, };

/**
 * This node's limits on attachments, in bytes.
 */
export type AttachmentLimitsView = { 
/**
 * Largest attachment stored or fetched.
 */
max_file: number, 
/**
 * Most bytes of attachments held for one space.
 */
space_quota: number, 
/**
 * Attachments up to this size are fetched as soon as their note arrives.
 */
auto_fetch: number, };

/**
 * How far a space is in sync with the members this node reaches.
 */
export type SyncState = "local" | "offline" | "syncing" | "up_to_date" | "removed" | "legacy";

/**
 * A space in a listing.
 */
export type SpaceInfo = { 
/**
 * The space.
 */
id: SpaceId, 
/**
 * Its name.
 */
name: string, 
/**
 * Whether it is this home's personal space.
 */
personal: boolean, 
/**
 * This member's role (owner in the personal space).
 */
role: Role, 
/**
 * Members (1 for the personal space).
 */
members: number, 
/**
 * Members connected now.
 */
connected: number, 
/**
 * Sync state.
 */
sync: SyncState, 
/**
 * Days after which an unconfirmed answer is marked possibly stale.
 */
stale_after_days: number, };

/**
 * A member of a space.
 */
export type MemberInfo = { 
/**
 * The member id.
 */
member: MemberId, 
/**
 * Name given when joining.
 */
name: string, 
/**
 * Organisation given when joining.
 */
org: string, 
/**
 * Role.
 */
role: Role, 
/**
 * When they joined, ms since the epoch.
 */
joined_at: number, 
/**
 * Whether this is this home's member.
 */
me: boolean, 
/**
 * Whether their device is connected now.
 */
connected: boolean, 
/**
 * How it is connected, when it is (another member only).
 */
via: Via | null, 
/**
 * Why another member is not connected, and what to do about it.
 */
why: string | null, };

/**
 * One space with its members.
 */
export type SpaceDetail = { 
/**
 * The space.
 */
info: SpaceInfo, 
/**
 * Its members, owners first.
 */
members: Array<MemberInfo>, 
/**
 * Removed members.
 */
removed: Array<MemberId>, };

/**
 * An invitation that can still admit someone.
 */
export type InviteInfo = { 
/**
 * The invite op (what `SpaceRevokeInvite` takes).
 */
id: OpHash, 
/**
 * The role a joiner gets.
 */
role: Role, 
/**
 * When it expires, ms since the epoch; never when absent.
 */
expires_at: number | null, 
/**
 * How many joins it allows; any number when absent.
 */
uses: number | null, 
/**
 * How many joins it still allows; any number when absent.
 */
uses_left: number | null, 
/**
 * How many members joined with it.
 */
used: number, 
/**
 * The owner who made it.
 */
by: MemberId, 
/**
 * Their name.
 */
by_name: string, 
/**
 * When it was made, ms since the epoch.
 */
created_at: number, };

/**
 * A connected peer.
 */
export type PeerInfo = { 
/**
 * The libp2p peer id.
 */
peer: string, 
/**
 * The member, when the peer id is a member key.
 */
member: MemberId | null, 
/**
 * Whether sync with it goes over a direct connection or through a relay.
 */
via: Via, 
/**
 * The relay's peer id when `via` is `relayed`.
 */
relay: string | null, 
/**
 * Remote addresses of its connections.
 */
addrs: Array<string>, 
/**
 * Spaces shared with it (by this node's view).
 */
spaces: Array<SpaceId>, 
/**
 * Traffic of the sync session with it so far.
 */
traffic: Traffic, };

/**
 * What one sync session exchanged.
 */
export type Traffic = { 
/**
 * Frames sent.
 */
frames_out: number, 
/**
 * Frames received.
 */
frames_in: number, 
/**
 * Bytes sent (frame payloads and their 4-byte length prefixes).
 */
bytes_out: number, 
/**
 * Bytes received.
 */
bytes_in: number, 
/**
 * Round trips: how often a frame arrived after this side had sent since the last one.
 */
round_trips: number, };

/**
 * How a connected peer is reached.
 */
export type Via = "direct" | "relayed";

/**
 * Whether a node can be dialled from outside, as AutoNAT last found.
 */
export type Reachability = "public" | "private" | "unknown";

/**
 * Where a relay's reservation stands.
 */
export type RelayState = "offline" | "pending" | "reserved" | "refused" | "unreachable" | "not_needed";

/**
 * Where a relay came from.
 */
export type RelaySource = "configured" | "member";

/**
 * A relay this node uses.
 */
export type RelayInfo = { 
/**
 * The relay's peer id.
 */
peer: string, 
/**
 * Its address, ending in `/p2p/PEER`.
 */
addr: string, 
/**
 * Where the reservation stands.
 */
state: RelayState, 
/**
 * The circuit address when reserved; why, in words, when refused or unreachable.
 */
detail: string | null, 
/**
 * Whether it was given by the person or learnt from a member.
 */
source: RelaySource, };

/**
 * The network as a node sees it, for `status`, `tacit relay list` and the app's Settings.
 */
export type NetStatus = { 
/**
 * Whether peers can dial this node directly.
 */
reachability: Reachability, 
/**
 * Addresses confirmed reachable from outside (by AutoNAT, or declared with
 * `--external-addr`).
 */
external_addrs: Array<string>, 
/**
 * The relays this node uses and their reservations.
 */
relays: Array<RelayInfo>, 
/**
 * Whether this node serves circuit relay v2 for others (`tacit serve --relay`).
 */
relay_server: boolean, };

/**
 * What a member did.
 */
export type Act = "asked" | "answered" | "wrote" | "thanked" | "confirmed";

/**
 * One reason a member knows about a topic, for people to read.
 */
export type Reason = { 
/**
 * What they did.
 */
act: Act, 
/**
 * Accepted answers (for `Answered`): counted apart.
 */
accepted: boolean, 
/**
 * The tag (`#tls`) or word (`deploy`) it was about; empty for declared expertise.
 */
about: string, 
/**
 * How many times.
 */
count: number, 
/**
 * The latest, ms.
 */
last_at: number, 
/**
 * Listed in their profile's expertise rather than shown by their work.
 */
declared: boolean, 
/**
 * The sentence: "3 accepted answers on #tls, last in November".
 */
text: string, };

/**
 * A member's record: what they gave and asked.
 */
export type Record = { 
/**
 * Answers written.
 */
answers: number, 
/**
 * Of them, accepted by the asker.
 */
accepted: number, 
/**
 * Thanks received for their answers.
 */
thanks_received: number, 
/**
 * Notes written in shared spaces.
 */
notes: number, 
/**
 * Questions asked.
 */
questions: number, 
/**
 * Thanks given to others.
 */
thanks_given: number, 
/**
 * Their latest contribution, ms (0 when none).
 */
last_at: number, };

/**
 * A space's health: whether knowledge flows, and where it waits.
 */
export type Health = { 
/**
 * Current members.
 */
members: number, 
/**
 * Members who gave (answered, wrote, thanked or confirmed) in the last 30 days.
 */
givers_30d: number, 
/**
 * `givers_30d` / `members`, 0 to 1; the 90-9-1 rule of thumb puts it near 0.1.
 */
giver_share: number, 
/**
 * Median time from a question to its first answer, ms, over answered questions.
 */
median_first_answer_ms: number | null, 
/**
 * Questions asked.
 */
questions: number, 
/**
 * Of them, with at least one answer.
 */
answered: number, 
/**
 * `answered` / `questions`, 0 to 1 (1 when there are none).
 */
answered_share: number, 
/**
 * Questions without an answer, oldest first: (question, asked at).
 */
unanswered: Array<[DocId, number]>, 
/**
 * Members who gave most since the start of this month (UTC), most first, with how often.
 */
top_givers: Array<[MemberId, number]>, };

/**
 * A member who knows about a topic.
 */
export type ExpertInfo = { 
/**
 * The member.
 */
member: MemberId, 
/**
 * Name (from their profile).
 */
name: string, 
/**
 * Organisation.
 */
org: string, 
/**
 * Whether they are in another organisation than this member.
 */
partner: boolean, 
/**
 * How strongly their work shows it (for ordering; no unit).
 */
score: number, 
/**
 * Why: "3 accepted answers on #tls, last in November 2026".
 */
reasons: Array<Reason>, };

/**
 * A member of a space as a person.
 */
export type PersonInfo = { 
/**
 * The member.
 */
member: MemberId, 
/**
 * Name.
 */
name: string, 
/**
 * Organisation.
 */
org: string, 
/**
 * Whether they are in another organisation than this member.
 */
partner: boolean, 
/**
 * Role in the space.
 */
role: Role, 
/**
 * Declared expertise.
 */
expertise: Array<string>, 
/**
 * What their work in the space is most about (tags), most first.
 */
topics: Array<string>, 
/**
 * Their record in the space.
 */
record: Record, 
/**
 * When their device was last connected to this one, ms; `None` if never seen.
 */
last_seen: number | null, 
/**
 * Whether it is connected now.
 */
connected: boolean, 
/**
 * Whether this is this home's member.
 */
me: boolean, };

/**
 * A record in one space.
 */
export type SpaceRecord = { 
/**
 * The space.
 */
space: SpaceId, 
/**
 * Its name.
 */
name: string, 
/**
 * The record there.
 */
record: Record, };

/**
 * One contribution, as a person page lists it.
 */
export type ContributionView = { 
/**
 * What they did.
 */
act: Act, 
/**
 * The document.
 */
doc: DocId, 
/**
 * Its title.
 */
title: string, 
/**
 * Its space.
 */
space: SpaceId, 
/**
 * When, ms.
 */
at: number, 
/**
 * For an answer: accepted.
 */
accepted: boolean, };

/**
 * One person, in every space this home shares with them.
 */
export type PersonDetail = { 
/**
 * The member.
 */
member: MemberId, 
/**
 * Name.
 */
name: string, 
/**
 * Organisation.
 */
org: string, 
/**
 * A few lines about them.
 */
bio: string, 
/**
 * Declared expertise.
 */
expertise: Array<string>, 
/**
 * Whether they are in another organisation than this member.
 */
partner: boolean, 
/**
 * Their record over every shared space.
 */
record: Record, 
/**
 * Their record per space.
 */
spaces: Array<SpaceRecord>, 
/**
 * What their work is most about (tags), with how many contributions.
 */
topics: Array<[string, number]>, 
/**
 * Their latest contributions, newest first.
 */
recent: Array<ContributionView>, 
/**
 * When last seen connected, ms.
 */
last_seen: number | null, };

/**
 * Why something is in the inbox.
 */
export type InboxKind = "routed" | "answer" | "followed" | "stale";

/**
 * One inbox item.
 */
export type InboxItem = { 
/**
 * Stable key (what `InboxSeen` takes).
 */
key: string, 
/**
 * Why it is here.
 */
kind: InboxKind, 
/**
 * The question.
 */
question: DocId, 
/**
 * Its title.
 */
title: string, 
/**
 * Its space.
 */
space: SpaceId, 
/**
 * The answer (for `answer` and `stale`).
 */
answer: AnswerId | null, 
/**
 * Who: the asker, or the answer's author.
 */
by: MemberId, 
/**
 * Their name.
 */
by_name: string, 
/**
 * When it arrived here, ms.
 */
at: number, 
/**
 * In words: why this member was asked, or what to do.
 */
reason: string, 
/**
 * Whether this member has seen it.
 */
seen: boolean, };

/**
 * One offer of a question to a member.
 */
export type RouteInfo = { 
/**
 * The member.
 */
member: MemberId, 
/**
 * Their name.
 */
name: string, 
/**
 * 0 when asked, 1 a day later without an answer, and so on.
 */
round: number, 
/**
 * When the offer was made, ms.
 */
at: number, };

/**
 * A member's record.
 */
export type RecordView = { 
/**
 * The member.
 */
member: MemberId, 
/**
 * Name.
 */
name: string, 
/**
 * Overall (or in the space asked for).
 */
record: Record, 
/**
 * Per space.
 */
spaces: Array<SpaceRecord>, };

/**
 * A record statement, signed by its member: what `RecordExport` makes and `RecordVerify`
 * checks.
 */
export type RecordStatement = { 
/**
 * The format.
 */
tacit_record: number, 
/**
 * The member (their public key).
 */
member: MemberId, 
/**
 * Their name.
 */
name: string, 
/**
 * Their organisation.
 */
org: string, 
/**
 * When it was made, ms.
 */
made_at: number, 
/**
 * Overall.
 */
record: Record, 
/**
 * Per space: the space, its name, its member count, the record there.
 */
spaces: Array<SpaceRecord>, 
/**
 * The member's Ed25519 signature over the statement without this field, hex.
 */
signature: string, };

/**
 * A space's health, with names.
 */
export type HealthView = { 
/**
 * The space.
 */
space: SpaceId, 
/**
 * The figures.
 */
health: Health, 
/**
 * The unanswered questions' titles, in the order of `health.unanswered`.
 */
unanswered_titles: Array<string>, 
/**
 * The top givers' names, in the order of `health.top_givers`.
 */
top_giver_names: Array<string>, };

/**
 * A space's documents as one node holds them, for checking that members have converged.
 */
export type SpaceDigest = { 
/**
 * The space.
 */
space: SpaceId, 
/**
 * One hash over every entry of `docs` (32 hex digits): equal on two nodes exactly when
 * their `docs` are (but for a hash collision).
 */
digest: string, 
/**
 * Every document of the space (notes, questions, deleted ones, and the members' profiles)
 * in id order, with the short hash of its Automerge heads (16 hex digits, the hash that
 * set reconciliation compares).
 */
docs: Array<[DocId, string]>, };

/**
 * What a version did to the document.
 */
export type VersionKind = "created" | "edited" | "deleted" | "restored";

/**
 * One version of a note (see `tacit_core::Version`), with its author's name.
 */
export type VersionInfo = { 
/**
 * The author's display name, when this home knows it.
 */
author_name: string | null, 
/**
 * Its id: the first [`VERSION_ID_LEN`] hex characters of its last change's hash.
 */
id: string, 
/**
 * Who wrote it (`None`: an actor that is not a member, never shown as anyone).
 */
author: MemberId | null, 
/**
 * Time of its first change, ms (as its author's clock said; shown, never trusted).
 */
started_at: number, 
/**
 * Time of its last change, ms.
 */
ended_at: number, 
/**
 * How many changes it groups.
 */
changes: number, 
/**
 * Characters it inserted (in the title, body and answers).
 */
added: number, 
/**
 * Characters it deleted.
 */
removed: number, 
/**
 * What it did.
 */
kind: VersionKind, 
/**
 * Whether it is the document as it is now (the newest version, with nothing concurrent
 * after it).
 */
current: boolean, };

/**
 * Where a line of a diff is.
 */
export type DiffSide = "both" | "then" | "now";

/**
 * One line of a diff.
 */
export type DiffLine = { 
/**
 * Which text holds it.
 */
side: DiffSide, 
/**
 * The line, without its line break.
 */
text: string, };

/**
 * A past version of a note and how it differs from now.
 */
export type VersionDetail = { 
/**
 * The note.
 */
note: DocId, 
/**
 * The version.
 */
version: VersionInfo, 
/**
 * Its title.
 */
title: string, 
/**
 * Its body.
 */
body: string, 
/**
 * Its tags.
 */
tags: Array<string>, 
/**
 * The title now.
 */
title_now: string, 
/**
 * The tags now.
 */
tags_now: Array<string>, 
/**
 * The body's lines: `then` only in the version, `now` only in the note now.
 */
diff: Array<DiffLine>, };

/**
 * A deleted note or question in the trash.
 */
export type TrashItem = { 
/**
 * The document.
 */
id: DocId, 
/**
 * Note or question.
 */
kind: Kind, 
/**
 * Its title.
 */
title: string, 
/**
 * Its space.
 */
space: SpaceId, 
/**
 * The space's name.
 */
space_name: string, 
/**
 * When it was deleted, ms since the epoch (the deleter's clock).
 */
deleted_at: number, 
/**
 * Who deleted it.
 */
deleted_by: MemberId | null, 
/**
 * Their display name, when this home knows it.
 */
deleted_by_name: string | null, 
/**
 * Whole days before it leaves the trash and can no longer be restored.
 */
days_left: number, };

/**
 * Events a node emits to its subscribers.
 */
export type Event = { "event": "document_changed", 
/**
 * The document.
 */
id: DocId, 
/**
 * Its space.
 */
space: SpaceId, 
/**
 * Its kind.
 */
kind: Kind, 
/**
 * Whether it is now deleted.
 */
deleted: boolean, 
/**
 * Whether the change came from a peer.
 */
remote: boolean, } | { "event": "spaces_changed", 
/**
 * The space.
 */
space: SpaceId, } | { "event": "network_changed" } | { "event": "inbox_changed" } | { "event": "attachment_progress", 
/**
 * Its hash (64 hex).
 */
hash: string, 
/**
 * Bytes held so far (verified).
 */
done: number, 
/**
 * Its size.
 */
total: number, 
/**
 * Whether the fetch stopped without it (the verified bytes are kept to resume).
 */
failed: boolean, };

/**
 * The kind of a failure, as it crosses the control socket (and later the UI boundary).
 */
export type ErrorKind = "not_initialised" | "in_use" | "not_found" | "invalid" | "conflict" | "corrupt" | "disk_full" | "stopped" | "refused" | "offline" | "internal";

/**
 * An error as it crosses the control socket.
 */
export type WireError = { 
/**
 * What kind of failure.
 */
kind: ErrorKind, 
/**
 * The message a user reads.
 */
message: string, };

/**
 * What the window shows: the first-run screen, the app, or why the home cannot be opened.
 */
export type AppState = { "state": "first_run", 
/**
 * The home directory.
 */
home: string, } | { "state": "ready", 
/**
 * The home directory.
 */
home: string, 
/**
 * This home's member and profile.
 */
identity: Identity, } | { "state": "failed", 
/**
 * The home directory.
 */
home: string, 
/**
 * What went wrong and what to do.
 */
error: WireError, };

/**
 * Whether this app takes part in the network (shared spaces, peers).
 */
export type NetworkState = { "state": "starting" } | { "state": "running", 
/**
 * Whether peers on the LAN are found by mDNS.
 */
mdns: boolean, } | { "state": "failed", 
/**
 * Why, and what to do.
 */
error: string, };

/**
 * What an invitation says, read before joining (nothing is sent anywhere to read it).
 */
export type TicketInfo = { 
/**
 * The space.
 */
space: SpaceId, 
/**
 * Its name.
 */
name: string, 
/**
 * The role a joiner gets.
 */
role: Role, 
/**
 * When it stops working, ms since the epoch; never when absent.
 */
expires_at: number | null, 
/**
 * Whether it has expired already.
 */
expired: boolean, 
/**
 * Who made it.
 */
inviter: MemberId, };

/**
 * A moment of the UI's launch (its script ran, the app state came, the first screen rendered…),
 * sent with [`ui_painted`] so that the log shows where the first paint's time went.
 */
export type UiMark = { 
/**
 * What happened.
 */
name: string, 
/**
 * When, ms since the page began loading (`performance.now()`).
 */
at: number, };

/**
 * The quick capture shortcut as the Settings page shows it.
 */
export type CaptureSettings = { 
/**
 * The shortcut as written (`Ctrl+Alt+N`); empty when quick capture is off.
 */
shortcut: string, 
/**
 * Whether the desktop gave it to Tacit: pressing it anywhere opens the capture window.
 */
active: boolean, 
/**
 * Why it is not active, when it is set but not active.
 */
error: string | null, };

/**
 * How far an import or export is.
 */
export type Progress = { 
/**
 * Files done.
 */
done: number, 
/**
 * Files in all (0 while unknown).
 */
total: number, 
/**
 * The file being read or written, relative to the folder.
 */
path: string, };

/**
 * A file, and what about it the user should know.
 */
export type FileNote = { 
/**
 * The file, relative to the folder, with `/` separators.
 */
path: string, 
/**
 * Why it was skipped or failed, or what was left out of it.
 */
reason: string, };

/**
 * What an import did.
 */
export type ImportSummary = { 
/**
 * Notes and questions created.
 */
created: number, 
/**
 * Notes imported before whose text changed.
 */
updated: number, 
/**
 * Notes imported before and unchanged.
 */
unchanged: number, 
/**
 * Files that are not Markdown, and folders not entered.
 */
skipped: Array<FileNote>, 
/**
 * Markdown files that could not be imported (not UTF-8, too large, refused).
 */
failed: Array<FileNote>, 
/**
 * Imported files of which something was left out (a bad tag, unreadable front matter).
 */
warnings: Array<FileNote>, 
/**
 * Files attached to the imported notes (those their `![[embeds]]` name).
 */
attachments: number, };

/**
 * What an export wrote.
 */
export type ExportSummary = { 
/**
 * Notes written.
 */
notes: number, 
/**
 * Questions written.
 */
questions: number, 
/**
 * Files written.
 */
files: number, 
/**
 * Attachments written into the attachment folders.
 */
attachments: number, 
/**
 * Attachments left out (not on this machine and no member reachable), with why.
 */
missing: Array<FileNote>, 
/**
 * The folder.
 */
dir: string, };
