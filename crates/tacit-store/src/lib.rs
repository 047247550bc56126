//! Tacit's persistence: a *home* directory (device key, lock, control socket path) and the SQLite
//! database inside it, which holds every document as Automerge chunks plus the metadata columns
//! that listings read; and beside it, attachments' bytes as content-addressed blobs ([`Blobs`]).
//!
//! This crate owns the bytes on disk and nothing else: it never interprets Automerge data (the
//! caller hands it chunks and a [`tacit_core::Summary`]), never opens the network, and never
//! replaces or writes to a database it does not recognise. A corrupt, foreign or newer database is
//! reported with its path and left byte-for-byte untouched.
//!
//! The invariant, per document:
//!
//! ```text
//! docs row (metadata, small)  ──<  chunks: [snapshot] increment increment …   (ordered by seq)
//! ```
//!
//! The chunks, concatenated in order, load the whole document. A write is one SQLite transaction
//! (WAL, `synchronous=FULL`): when [`Store::write`] returns `Ok`, the data survives `kill -9` and
//! power loss; when it fails, nothing of it was written. Compaction replaces all chunks of a document
//! by one snapshot in the same kind of transaction, so a crash leaves either the old chunks or the
//! new snapshot, never a mix. One process at a time owns a home: [`Home::open`] takes an advisory
//! lock that the kernel drops when the process dies.

mod blobs;
mod error;
mod export;
mod home;
mod people;
mod rows;
mod schema;
mod search;
mod shared;
mod store;
mod tree;

pub use blobs::{BLOB_DIR, BlobHash, BlobRef, Blobs, Part};
pub use error::StoreError;
pub use home::{Home, socket_path};
pub use people::SpaceContribution;
pub use rows::{Chunk, DocWrite, ListFilter, Listed, SpaceRow, StoreStats, Writer};
pub use search::IndexRow;
pub use shared::{ADDRESSES_PER_PEER, Address, MAX_BOOK_PEERS, StoredHeads};
pub use store::{COMPACT_AFTER_CHUNKS, Store};
pub use tree::{
    GROUP as BLOB_GROUP, LengthDiffers, encode_stream as encode_blob_stream, verify_stream,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
