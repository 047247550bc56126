//! The one error type of the crate. Every message a user may read names the file and the fix.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// What can go wrong with a home or its database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The home directory, its key or its database does not exist.
    #[error("no Tacit home at {}; run `tacit init` (or pass --home DIR)", .dir.display())]
    NotInitialised {
        /// The home directory.
        dir: PathBuf,
    },
    /// Another process holds the home's lock.
    #[error(
        "home {} is in use by another tacit process{}; stop it or pass --home",
        .dir.display(),
        pid_note(*.pid)
    )]
    InUse {
        /// The home directory.
        dir: PathBuf,
        /// The pid written in the lock file by its holder, when readable.
        pid: Option<u32>,
    },
    /// The database file is damaged.
    #[error(
        "database {} is corrupt ({detail}); it was left untouched: restore it from a backup or move it aside",
        .path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
    },
    /// The file is not a Tacit database (not SQLite, or another application's).
    #[error("{} is not a Tacit database; it was left untouched: move it aside or pass --home", .path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// The database was written by a newer Tacit.
    #[error(
        "database {} has schema version {found}, newer than the version {supported} this tacit supports; it was left untouched: upgrade tacit",
        .path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest schema version this build reads.
        supported: i64,
    },
    /// The device key file is unusable.
    #[error("device key {} is unusable: {detail}", .path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The home directory is unsafe to use (others can read it, and it cannot be tightened).
    #[error("{0}")]
    Home(String),
    /// No document has this id or prefix.
    #[error("no document {0}")]
    NoSuchDocument(String),
    /// Several documents start with this prefix.
    #[error("{prefix} matches {count} documents; give more characters")]
    AmbiguousId {
        /// The prefix given.
        prefix: String,
        /// How many documents it matches.
        count: usize,
    },
    /// The disk is full; the write was rolled back.
    #[error("the disk holding {} is full; nothing was written: free some space and retry", .path.display())]
    DiskFull {
        /// The file that could not be written (the database, an attachment).
        path: PathBuf,
    },
    /// A file operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// A stored row holds a value it cannot hold (a bad id, an unknown kind…).
    #[error("malformed data in the database: {0}")]
    Malformed(String),
}

fn pid_note(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

impl StoreError {
    /// An I/O error about `path` (a full disk gets its own variant).
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| match source.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                StoreError::DiskFull {
                    path: path.to_path_buf(),
                }
            }
            _ => StoreError::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// A SQLite error about the database at `path`: damage and a full disk get their own
    /// variants wherever they surface.
    pub(crate) fn sqlite(path: &Path, e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull {
                path: path.to_path_buf(),
            },
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Attaches the database path to a rusqlite result.
pub(crate) trait SqlContext<T> {
    /// Maps the error through [`StoreError::sqlite`].
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::sqlite(path, e))
    }
}
