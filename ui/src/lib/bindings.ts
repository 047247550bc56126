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
 * What a document is.
 */
export type Kind = "note" | "question" | "profile";

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
tags: Array<string>, };

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
expertise: Array<string> | null, };

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
 * Tags, sorted.
 */
tags: Array<string>, 
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
heads: Array<string>, };

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
score: number, };

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
expertise: Array<string>, };

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
org: string | null, } | { "op": "activate" } | { "op": "whoami" } | { "op": "profile_set", 
/**
 * What to change.
 */
edit: ProfileEdit, } | { "op": "note_new", 
/**
 * The note.
 */
draft: Draft, } | { "op": "note_list", 
/**
 * At most this many (the newest); all when absent.
 */
limit: number | null, } | { "op": "note_show", 
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
id: string, } | { "op": "ask", 
/**
 * The question.
 */
draft: Draft, } | { "op": "answer", 
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
limit: number | null, } | { "op": "question_show", 
/**
 * Id or unique prefix.
 */
id: string, } | { "op": "status" };

/**
 * A node's reply to a [`Request`].
 */
export type Response = { "reply": "init" } & InitReport | { "reply": "identity" } & Identity | { "reply": "created", 
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
window: boolean, } | { "reply": "status" } & Status;

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
db_bytes: number, };

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
deleted: boolean, };

/**
 * The kind of a failure, as it crosses the control socket (and later the UI boundary).
 */
export type ErrorKind = "not_initialised" | "in_use" | "not_found" | "invalid" | "conflict" | "corrupt" | "disk_full" | "stopped" | "internal";

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
