//! The index's errors.

use std::path::PathBuf;

/// What went wrong with the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// tantivy failed (an I/O error, a damaged file).
    #[error("the search index at {path}: {source}")]
    Index {
        /// The index directory.
        path: PathBuf,
        /// What tantivy said.
        #[source]
        source: tantivy::TantivyError,
    },
    /// A thread making snippets panicked.
    #[error("a search thread failed")]
    Panicked,
    /// The index directory could not be made or cleared.
    #[error("the search index at {path}: {source}")]
    Io {
        /// The index directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
