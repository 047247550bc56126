//! Limits on what a document holds. Each bounds the cost of one document to every member that
//! stores, syncs and indexes it; a value written here past a limit is refused with a clear
//! error, never cut. A peer's document is checked as it is received (`doc/sizes.rs`, with
//! [`RECEIVED_SLACK`]); what is read of a field a writer could not have made (a display name
//! past its limit, the words of a title) is cut where it is read.

/// Longest title, in characters: a title is a line, not a paragraph.
pub const MAX_TITLE_CHARS: usize = 300;
/// Largest note or question body, in bytes (1 MiB): far above any written note, and small enough
/// that a hostile member cannot make every peer hold megabytes per document.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest answer body, in bytes.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Most answers one question holds.
pub const MAX_ANSWERS: usize = 1000;
/// Most tags on one document (also expertise tags on a profile).
pub const MAX_TAGS: usize = 32;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Longest display name or organisation, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest profile bio, in bytes.
pub const MAX_BIO_BYTES: usize = 4096;
/// Most attachments one note refers to: each is a small entry in the document (name, hash,
/// size); the bytes live beside the database, never in the document.
pub const MAX_ATTACHMENTS: usize = 1000;
/// Longest attachment name, in bytes: a file name most file systems accept (255).
pub const MAX_ATTACHMENT_NAME_BYTES: usize = 255;

/// How far past a limit a document received from a peer may be before it is refused: each
/// writer keeps to the limits, but concurrent edits merge (two members retyping a title each
/// leave their text), so a merged value may pass a limit without anyone breaking it. Four
/// times is far past any honest merge, and still bounds what a hostile member's document costs
/// every member that reads it.
pub const RECEIVED_SLACK: usize = 4;
/// Most words of a title that count for what it is about ([`crate::people::title_words`]).
pub const MAX_TITLE_WORDS: usize = 32;
