//! The node's error type, and its form on the control socket.

use serde::{Deserialize, Serialize};
use tacit_core::CoreError;
use tacit_store::StoreError;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model refused the change.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The node's actor has stopped (shut down, or failed).
    #[error("the Tacit node has stopped")]
    Stopped,
    /// The home directory could not be found or used.
    #[error("{0}")]
    Home(String),
    /// The control socket failed.
    #[error("control socket {path}: {source}")]
    Socket {
        /// The socket path.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A running node answered with an error.
    #[error("{}", .0.message)]
    Remote(WireError),
    /// A group-committed write failed; nothing of it was saved.
    #[error("{}", .0.message)]
    Write(WireError),
    /// A failure inside the node that is not the caller's doing.
    #[error("internal error: {0}")]
    Internal(String),
    /// A request or reply on the control socket that is not what it should be.
    #[error("bad control message: {0}")]
    Protocol(String),
    /// A space, member or peer that is not there.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed: a role without the right, a refused join.
    #[error("{0}")]
    Refused(String),
    /// Input that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// A membership op that does not verify or is not allowed.
    #[error(transparent)]
    Space(#[from] tacit_core::SpaceError),
    /// A ticket that cannot be used.
    #[error(transparent)]
    Ticket(#[from] tacit_core::TicketError),
    /// No network, or a peer that could not be reached.
    #[error("{0}")]
    Offline(String),
    /// This node's own stored copy of a document does not load: its data is damaged. Nothing
    /// a peer did; a sync session leaves the document aside instead of ending.
    #[error("this node's copy of document {id} does not load: {source}")]
    Damaged {
        /// The document.
        id: tacit_core::DocId,
        /// Why it does not load.
        source: Box<CoreError>,
    },
}

/// The kind of a failure, as it crosses the control socket (and later the UI boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The home was never initialised.
    NotInitialised,
    /// Another process holds the home.
    InUse,
    /// No such document or answer.
    NotFound,
    /// The input was refused (empty title, too long, not allowed…).
    Invalid,
    /// The document changed since it was read; read it again.
    Conflict,
    /// The database is corrupt or not Tacit's.
    Corrupt,
    /// The disk is full.
    DiskFull,
    /// The node has stopped; nothing more can be asked of it until it is started again.
    Stopped,
    /// Not allowed for this member (role, membership).
    Refused,
    /// A peer could not be reached, or the node has no network.
    Offline,
    /// Anything else.
    Internal,
}

/// An error as it crosses the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct WireError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message a user reads.
    pub message: String,
}

impl NodeError {
    /// The kind of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            NodeError::Store(e) => match e {
                StoreError::NotInitialised { .. } => ErrorKind::NotInitialised,
                StoreError::InUse { .. } => ErrorKind::InUse,
                StoreError::NoSuchDocument(_) | StoreError::AmbiguousId { .. } => {
                    ErrorKind::NotFound
                }
                StoreError::Corrupt { .. } | StoreError::Foreign { .. } => ErrorKind::Corrupt,
                StoreError::DiskFull { .. } => ErrorKind::DiskFull,
                _ => ErrorKind::Internal,
            },
            NodeError::Core(e) => match e {
                CoreError::NoSuchAnswer(_)
                | CoreError::AmbiguousAnswer(_)
                | CoreError::NoSuchVersion(_)
                | CoreError::AmbiguousVersion(_)
                | CoreError::NoSuchAttachment(_) => ErrorKind::NotFound,
                CoreError::Conflict(_) => ErrorKind::Conflict,
                CoreError::Automerge(_) | CoreError::Malformed(_) => ErrorKind::Internal,
                _ => ErrorKind::Invalid,
            },
            NodeError::Remote(w) | NodeError::Write(w) => w.kind,
            NodeError::Stopped => ErrorKind::Stopped,
            NodeError::NotFound(_) => ErrorKind::NotFound,
            NodeError::Refused(_) => ErrorKind::Refused,
            NodeError::Invalid(_) | NodeError::Space(_) | NodeError::Ticket(_) => {
                ErrorKind::Invalid
            }
            NodeError::Offline(_) => ErrorKind::Offline,
            NodeError::Damaged { .. } => ErrorKind::Corrupt,
            _ => ErrorKind::Internal,
        }
    }

    /// This error as it crosses the control socket.
    pub fn to_wire(&self) -> WireError {
        WireError {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}
