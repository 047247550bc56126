//! The Tacit node: the engine every front end drives.
//!
//! One actor thread owns the home (its lock, its store, a bounded cache of loaded documents);
//! callers hold a cloneable [`Node`] handle whose async methods send requests over a bounded
//! channel and await a reply. A reply of success means the change is on disk. Changes are
//! broadcast as [`Event`]s to [`Node::subscribe`]rs. The [`ControlServer`] serves the same
//! requests to other processes on a Unix socket in the home; [`Client`] is its other end.
//!
//! ```text
//! CLI ──socket──▶ ControlServer ─┐
//! app / tests ───────────────────┴─▶ Node ──bounded mpsc──▶ actor thread ──▶ Store (SQLite)
//!                                        ◀──── events (broadcast) ◀───┘
//! ```
//!
//! This crate never depends on a UI toolkit, and never blocks the async executor: SQLite and
//! Automerge work runs on the actor's own thread.

mod actor;
pub mod api;
mod control;
mod error;
mod home;
mod netview;
mod node;
mod replica;
mod sync;

pub use api::{
    Event, Identity, InitReport, ListItem, MemberInfo, PeerInfo, Request, Response, SpaceDetail,
    SpaceInfo, Status, SyncState, Traffic,
};
pub use control::{Client, ControlServer, socket_path};
pub use error::{ErrorKind, NodeError, WireError};
pub use home::{HOME_ENV, resolve_home};
pub use node::Node;
pub use sync::NetOptions;
pub use tacit_core as core;
