//! Tacit's full-text index: every note and question a home holds (answers included), in a
//! tantivy index in the home's `index/` directory.
//!
//! The index is derived data. The store is the truth: the index can be deleted at any time and
//! is rebuilt from the store, by itself, when it is missing, damaged or of an older version
//! ([`SearchIndex::open`] says which). Each indexed document carries the short hash of the
//! Automerge heads it was indexed at, so after a crash the node compares them with the store's
//! and indexes only what changed ([`SearchIndex::held`]).
//!
//! Queries ([`parse`]) are words, `"phrases"`, a trailing word matched as a prefix while the
//! person types, misspelt words matched within one or two edits, and the filters `tag:`,
//! `kind:`, `space:` and `author:` (the last two resolved to ids by the caller, see [`Scope`]).
//! Ranking puts title, alias and tag matches first; each hit has a one-line snippet with the
//! matched words marked ([`snippet`]).

mod entry;
mod error;
mod index;
mod query;
mod schema;
pub mod snippet;

pub use entry::Entry;
pub use error::SearchError;
pub use index::{Found, Hit, Hits, Opened, SearchIndex, Writer};
pub use query::{Parsed, Scope, parse};
