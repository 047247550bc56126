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
//! With [`Node::start_network`] the node also syncs its shared spaces. The sync engine owns the
//! libp2p network (`tacit-net`) and runs one session per connected peer; sessions do the network
//! I/O and load received documents on the blocking pool (both cores), while every decision about
//! documents and memberships is the actor's, through the same group commit as a user's writes:
//!
//! ```text
//! peer ──/tacit/sync/2──▶ session task ⇄ session state machine (tacit_net::session, no I/O)
//!                              │ questions (replica requests)
//!                              ▼
//!                            actor ──▶ Store
//!                              ◀── local changes, membership changes (broadcast) ──┘
//! ```
//!
//! The rules a peer's data passes (member of the space in this node's view; every change by a
//! member with write rights at its time; a document id never crosses spaces) live in
//! `actor/replica.rs`; the protocol's steps in `tacit_net::session`, which `sync/session.rs`
//! feeds with frames, the actor's answers and local changes.
//!
//! The modules, leaves first; none uses a module that uses it back (`tests/layout.rs`):
//!
//! ```text
//! api, error, clock        the request/response vocabulary, errors, the clock
//! netview, replica         the network view; what sessions ask of the actor (and load_whole)
//! base                     what the rest shares: NodeInfo, the actor's mailbox (Msg,
//!                          ActorLink), Names, LinkSource, attachment limits, route(), now_ms
//! membership, people       spaces held in memory (ops and their fold); the people cache
//! search                   the index thread and the search request
//! actor (+ attach, history, people, replica, spaces, vault: `impl Actor` by subject)
//! blobs                    attachments' bytes: serving and fetching /tacit/blob/2
//! sync (+ session, autofetch, addrs)   the engine, session drivers, background fetches
//! node, control            the Node handle; the control socket over it
//! sim                      (tests, feature `sim`) the deterministic simulation
//! ```
//!
//! Each `Request` is routed in one place (`base::route`: the node handle, or the actor
//! reading or writing), and everything a request does is one `actor::Effects`: its answer,
//! the writes committed before it is sent, the events and the pushes to peers after.
//!
//! Attachments' bytes never enter documents or the actor: they are stored by hash in the home's
//! blob directory (hashed off the executor), and travel between members on `/tacit/blob/2`,
//! served and fetched by the tasks in `blobs.rs`, which ask the actor only who may have what
//! (`docs/attachments.md`).
//!
//! This crate never depends on a UI toolkit, and never blocks the async executor: SQLite and
//! Automerge work runs on the actor's own thread.

mod actor;
pub mod api;
mod base;
mod blobs;
pub mod clock;
mod control;
mod error;
mod home;
mod membership;
mod netview;
mod node;
mod people;
mod replica;
mod search;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod sync;

pub use api::{
    AttachmentInfo, AttachmentLimitsView, ContributionView, Event, ExpertInfo, ExportPage,
    HealthView, Hit, Identity, ImportNote, ImportReport, InboxItem, InboxKind, InitReport,
    InviteInfo, LinkedDoc, Links, ListItem, MemberInfo, NetStatus, PeerInfo, PersonDetail,
    PersonInfo, Reachability, RecordStatement, RecordView, RelayInfo, RelaySource, RelayState,
    Request, Response, RouteInfo, SearchState, SpaceDetail, SpaceDigest, SpaceInfo, SpaceRecord,
    Status, SyncState, Traffic, TrashItem, VersionDetail, VersionInfo, Via,
};
pub use base::BlobLimits;
pub use control::{Client, ControlServer, socket_path};
pub use error::{ErrorKind, NodeError, WireError};
pub use home::{HOME_ENV, resolve_home};
pub use node::{Node, OpenOptions};
pub use sync::{AUTONAT_ANY_IP_ENV, NetOptions, RELAYS_ENV};
pub use tacit_core as core;
