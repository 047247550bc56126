//! The vocabulary the parts of the node share: what the node is ([`NodeInfo`]), the actor's
//! mailbox ([`Msg`], reached through [`ActorLink`]) and what its messages carry, the names
//! searches resolve ([`Names`]), a document's links ([`LinkSource`]), the limits on
//! attachments, and the time ([`now_ms`]).
//!
//! Every other module of the node may use this one; it uses none of them but the leaves
//! (`api`, `error`, `clock`, `netview`, `replica`), so that the actor, search, blobs and sync
//! never import each other to talk.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tacit_core::{Doc, DocId, Kind, MemberId, NewChange, SpaceId, Summary};
use tacit_search::Entry;
use tacit_store::{BlobRef, Writer};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::api::{Request, Response};
use crate::error::NodeError;
use crate::netview::NetView;
use crate::replica::{ReplicaReply, ReplicaReq};

/// Facts about the node that never change while it runs.
#[derive(Debug)]
pub(crate) struct NodeInfo {
    pub(crate) home: std::path::PathBuf,
    pub(crate) member: MemberId,
    pub(crate) personal: SpaceId,
    /// Set while the control socket is served.
    pub(crate) serving: AtomicBool,
    /// The libp2p peer id (derived from the member key).
    pub(crate) peer_id: String,
    /// The network as the sync engine last saw it (empty without a network).
    pub(crate) net: std::sync::Mutex<NetView>,
    /// The names searches resolve filters with, as last read from the actor, and how many
    /// times they changed since (a search reads them again when that moved).
    pub(crate) names: std::sync::Mutex<Option<(u64, Arc<Names>)>>,
    pub(crate) names_changed: std::sync::atomic::AtomicU64,
    /// Every member of every space this home is in (this one too): the peers the network keeps
    /// slots, sessions and addresses for.
    pub(crate) members: std::sync::Mutex<HashSet<MemberId>>,
    /// Counts changes of `members`, so that the network hears of them.
    pub(crate) members_changed: AtomicU64,
    /// The home's blob directory: attachments' bytes.
    pub(crate) blobs: tacit_store::Blobs,
    /// Limits on attachments in force: the defaults or the network's options, with what the
    /// person set (kept in the home) over them; shared with the network's fetcher.
    pub(crate) blob_limits: Arc<std::sync::Mutex<BlobLimits>>,
}

impl NodeInfo {
    pub(crate) fn new(home: PathBuf, member: tacit_core::MemberId, personal: SpaceId) -> Self {
        Self {
            member,
            personal,
            serving: AtomicBool::new(false),
            peer_id: tacit_net::peer_id_of(&member)
                .map(|p| p.to_string())
                .unwrap_or_default(),
            net: Mutex::default(),
            names: Mutex::default(),
            names_changed: std::sync::atomic::AtomicU64::new(0),
            members: Mutex::default(),
            members_changed: std::sync::atomic::AtomicU64::new(1),
            blobs: tacit_store::Blobs::new(&home),
            blob_limits: Arc::default(),
            home,
        }
    }
}

/// Now, in milliseconds since the Unix epoch (moved on by [`crate::clock::advance`] in tests).
pub(crate) fn now_ms() -> i64 {
    if let Some(ms) = crate::clock::thread_time() {
        return ms;
    }
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    real.saturating_add(crate::clock::offset())
}

/// A message to the actor.
pub(crate) enum Msg {
    /// A request and where to send its reply.
    Request(Request, oneshot::Sender<Result<Response, NodeError>>),
    /// A sync session's request.
    Replica(ReplicaReq, oneshot::Sender<Result<ReplicaReply, NodeError>>),
    /// Flush, checkpoint and stop; reply when done.
    Shutdown(oneshot::Sender<()>),
    /// The names search filters and hits need.
    Names(oneshot::Sender<Names>),
    /// A document and the targets of its links, for `NoteLinks`.
    LinkSource(String, oneshot::Sender<Result<LinkSource, NodeError>>),
    /// Records a file stored in the blob directory as an attachment of a note.
    Attach(AttachReq, oneshot::Sender<Result<Response, NodeError>>),
    /// What the blob transfers ask of the store and the memberships.
    Blob(BlobMsg),
}

/// The actor, reached without keeping it alive.
#[derive(Clone)]
pub(crate) struct ActorLink {
    tx: mpsc::WeakSender<Msg>,
}

impl ActorLink {
    pub(crate) fn new(tx: &mpsc::Sender<Msg>) -> Self {
        Self { tx: tx.downgrade() }
    }

    /// The actor's sender, held weakly.
    pub(crate) fn weak(&self) -> mpsc::WeakSender<Msg> {
        self.tx.clone()
    }

    pub(crate) async fn ask(&self, req: ReplicaReq) -> Result<ReplicaReply, NodeError> {
        let tx = self.tx.upgrade().ok_or(NodeError::Stopped)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Msg::Replica(req, reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        drop(tx);
        rx.await.map_err(|_| NodeError::Stopped)?
    }

    /// A user's request, answered by the actor (the engine reads a space's members with it).
    pub(crate) async fn request(&self, req: Request) -> Result<Response, NodeError> {
        let tx = self.tx.upgrade().ok_or(NodeError::Stopped)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Msg::Request(req, reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        drop(tx);
        rx.await.map_err(|_| NodeError::Stopped)?
    }
}

/// A file stored by hash, to attach to a note.
pub(crate) struct AttachReq {
    /// The note (id or unique prefix).
    pub(crate) id: String,
    /// Its name in the note (made unique there).
    pub(crate) name: String,
    /// BLAKE3, 64 hex.
    pub(crate) hash: String,
    /// Bytes.
    pub(crate) size: u64,
    /// Append `![[name]]` to the body.
    pub(crate) embed: bool,
}

/// What the actor answers about blobs (kept off the network tasks).
pub(crate) enum BlobMsg {
    /// Whether `peer` may have `hash` from `space`: a member (reader or above) of a space this
    /// node is in, whose notes refer to it.
    Allowed {
        space: SpaceId,
        peer: tacit_core::MemberId,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
    /// The other members of `space` (the peers a fetch may ask).
    Members {
        space: SpaceId,
        reply: oneshot::Sender<Vec<tacit_core::MemberId>>,
    },
    /// Bytes counted in `space`'s quota: its blobs, its downloads left off, and those under
    /// way at their whole size (parts past their bounds are trimmed first).
    Used {
        space: SpaceId,
        reply: oneshot::Sender<u64>,
    },
    /// A blob is now held here, fetched from a member of `space`.
    Stored {
        hash: String,
        size: u64,
        space: SpaceId,
    },
    /// Whether the blob `hash` (64 hex) is held here for `space`.
    HeldFor {
        space: SpaceId,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
    /// The attachments of at most `max` bytes that the note `doc` refers to and this node does
    /// not hold for its space: `(space, hash, size)`.
    Wanted {
        doc: tacit_core::DocId,
        max: u64,
        reply: oneshot::Sender<Vec<(SpaceId, String, u64)>>,
    },
    /// Attachments of at most `max` bytes that notes here refer to and this node lacks:
    /// `(space, hash, size)`, a bounded number.
    Missing {
        max: u64,
        reply: oneshot::Sender<Vec<(SpaceId, String, u64)>>,
    },
}

/// Names of spaces and members, for resolving `space:` and `author:` filters and naming hits.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// This home's member.
    pub(crate) me: MemberId,
    /// Every space this home holds, the personal one first.
    pub(crate) spaces: Vec<(SpaceId, String)>,
    /// Every member known by name (this home's own name from its profile).
    pub(crate) members: Vec<(MemberId, String)>,
}

impl Names {
    /// The space a request names: id, unique id prefix or name.
    pub(crate) fn space(&self, name: &str) -> Result<SpaceId, NodeError> {
        let lower = name.trim().to_lowercase();
        let matches: Vec<SpaceId> = self
            .spaces
            .iter()
            .filter(|(id, n)| {
                n.to_lowercase() == lower
                    || (lower.len() >= 4 && id.to_string().starts_with(&lower))
            })
            .map(|(id, _)| *id)
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(NodeError::NotFound(format!("no space is called {name:?}"))),
            _ => Err(NodeError::Invalid(format!(
                "{name:?} names several spaces: give more of the id"
            ))),
        }
    }

    /// Spaces a `space:` filter names: an exact name, or names starting with it, or an id prefix.
    pub(crate) fn spaces_like(&self, name: &str) -> Vec<SpaceId> {
        let lower = name.trim().to_lowercase();
        let exact: Vec<SpaceId> = self
            .spaces
            .iter()
            .filter(|(_, n)| n.to_lowercase() == lower)
            .map(|(id, _)| *id)
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        self.spaces
            .iter()
            .filter(|(id, n)| {
                n.to_lowercase().starts_with(&lower)
                    || (lower.len() >= 4 && id.to_string().starts_with(&lower))
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Members an `author:` filter names: `me`, a word of their name (or its start), or an id
    /// prefix.
    pub(crate) fn members_like(&self, name: &str) -> Vec<MemberId> {
        let lower = name.trim().to_lowercase();
        if lower == "me" || lower == "myself" {
            return vec![self.me];
        }
        let mut out: Vec<MemberId> = self
            .members
            .iter()
            .filter(|(id, n)| {
                let n = n.to_lowercase();
                n == lower
                    || n.starts_with(&lower)
                    || n.split_whitespace().any(|w| w.starts_with(&lower))
                    || (lower.len() >= 4 && id.to_string().starts_with(&lower))
            })
            .map(|(id, _)| *id)
            .collect();
        if lower.len() >= 4 && self.me.to_string().starts_with(&lower) && !out.contains(&self.me) {
            out.push(self.me);
        }
        out
    }

    pub(crate) fn space_name(&self, id: SpaceId) -> String {
        self.spaces
            .iter()
            .find(|(s, _)| *s == id)
            .map_or_else(|| id.short(), |(_, n)| n.clone())
    }
}

/// A document whose links are asked for.
#[derive(Debug, Clone)]
pub(crate) struct LinkSource {
    pub(crate) id: DocId,
    pub(crate) space: SpaceId,
    pub(crate) title: String,
    pub(crate) aliases: Vec<String>,
    /// Link targets as written, each once, in order.
    pub(crate) links: Vec<String>,
}

/// Limits on attachments; defaults in [`BlobLimits::default`], set per node in
/// [`crate::NetOptions::blobs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLimits {
    /// Largest attachment stored or fetched, in bytes (100 MiB).
    pub max_file: u64,
    /// Most bytes of attachments held for one space (2 GiB): a fetch past it is refused.
    pub space_quota: u64,
    /// Attachments up to this size (1 MiB) are fetched as soon as their note arrives; larger
    /// ones when asked for (`tacit attachment save`, or opening the note in the app).
    pub auto_fetch: u64,
    /// Most bytes a second this node uploads per transfer; `None`: as fast as the link goes.
    pub upload_rate: Option<u64>,
    /// How long a download may go on slower than about 100 KiB/s while other members that may
    /// hold the file wait (60 s; 10 s at least): then it yields to them, and goes on later
    /// from where it stopped.
    pub turn: std::time::Duration,
}

impl Default for BlobLimits {
    fn default() -> Self {
        Self {
            max_file: 100 * 1024 * 1024,
            space_quota: 2 * 1024 * 1024 * 1024,
            auto_fetch: 1024 * 1024,
            upload_rate: None,
            turn: std::time::Duration::from_secs(60),
        }
    }
}

/// The limits a person set (`tacit attachment limits`, the app's Settings), kept in the home;
/// each one set overrides the node's default, also when the network starts with other options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct KeptLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_file: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) space_quota: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auto_fetch: Option<u64>,
}

/// The most a person may set as the largest attachment or a space's quota (1 TiB).
const MAX_SETTABLE: u64 = 1 << 40;

impl KeptLimits {
    /// `limits` with what was set here.
    pub(crate) fn apply(&self, mut limits: BlobLimits) -> BlobLimits {
        limits.max_file = self.max_file.unwrap_or(limits.max_file);
        limits.space_quota = self.space_quota.unwrap_or(limits.space_quota);
        limits.auto_fetch = self.auto_fetch.unwrap_or(limits.auto_fetch);
        limits
    }

    /// These limits with `change`'s set ones too, checked against `now` (the limits in force)
    /// for what is left unchanged.
    pub(crate) fn merged(
        &self,
        change: KeptLimits,
        now: BlobLimits,
    ) -> Result<KeptLimits, NodeError> {
        let mut merged = KeptLimits {
            max_file: change.max_file.or(self.max_file),
            space_quota: change.space_quota.or(self.space_quota),
            auto_fetch: change.auto_fetch.or(self.auto_fetch),
        };
        let mut after = change.apply(now);
        // A largest attachment lowered below what is fetched with a note takes that down too.
        if change.auto_fetch.is_none() && after.auto_fetch > after.max_file {
            after.auto_fetch = after.max_file;
            merged.auto_fetch = Some(after.max_file);
        }
        if after.max_file == 0 || after.space_quota == 0 {
            return Err(NodeError::Invalid(
                "the largest attachment and a space's quota must be more than 0 bytes".into(),
            ));
        }
        if after.max_file > MAX_SETTABLE || after.space_quota > MAX_SETTABLE {
            return Err(NodeError::Invalid(format!(
                "a limit of more than {} bytes (1 TiB) is not taken",
                MAX_SETTABLE
            )));
        }
        if after.auto_fetch > after.max_file {
            return Err(NodeError::Invalid(format!(
                "attachments fetched with their note ({} bytes) cannot be larger than the largest attachment ({} bytes)",
                after.auto_fetch, after.max_file
            )));
        }
        Ok(merged)
    }
}

/// What a document written now refers to, for the store to keep with the write (in its
/// transaction): a note's attachments (a deleted note's too), `None` (left as it is) for other
/// kinds and for a note whose attachments cannot be read. Taken from its search `entry`
/// when one was read already (it lists them), else from the document.
pub(crate) fn blob_refs_of(
    doc: &Doc,
    summary: &Summary,
    entry: Option<&Entry>,
) -> Option<Vec<BlobRef>> {
    if summary.kind != Kind::Note {
        return None;
    }
    // A deleted note keeps its references: its files stay while it is in the trash (the store
    // counts them as the note's until then, and serves and fetches only live notes' files).
    if let Some(entry) = entry.filter(|_| !summary.deleted) {
        return Some(
            entry
                .attachments
                .iter()
                .map(|a| (a.hash.clone(), a.size))
                .collect(),
        );
    }
    match doc.attachments() {
        Ok(attachments) => Some(attachments.into_iter().map(|a| (a.hash, a.size)).collect()),
        Err(e) => {
            warn!(id = %doc.id(), "cannot read a note's attachments: {e}");
            None
        }
    }
}

/// Each author's last change among `changes`.
pub(crate) fn writers_of(changes: &[NewChange]) -> Vec<Writer> {
    let mut out: Vec<Writer> = Vec::new();
    for c in changes {
        let Some(member) = c.author else { continue };
        match out.iter_mut().find(|w| w.member == member) {
            Some(w) if w.seq >= c.seq => {}
            Some(w) => {
                w.seq = c.seq;
                w.head = c.hash;
                w.at = c.at;
            }
            None => out.push(Writer {
                member,
                seq: c.seq,
                head: c.hash,
                at: c.at,
            }),
        }
    }
    out
}

/// Asks the actor what the blob transfers need to know; `None` when it has stopped.
pub(crate) async fn ask_actor<T>(
    actor: &mpsc::WeakSender<Msg>,
    make: impl FnOnce(oneshot::Sender<T>) -> BlobMsg,
) -> Option<T> {
    let tx = actor.upgrade()?;
    let (reply, rx) = oneshot::channel();
    tx.send(Msg::Blob(make(reply))).await.ok()?;
    drop(tx);
    rx.await.ok()
}

/// Who answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The node handle, before the actor: the network, search, attachments' bytes, activation.
    Handle,
    /// The actor, reading: it first commits what is pending, then replies at once.
    Read,
    /// The actor, writing: the reply waits for the group commit.
    Write,
}

/// Who answers `req`: the one place a request is routed. Every variant is named, so that a new
/// request cannot be added without deciding.
pub(crate) fn route(req: &Request) -> Route {
    use Request as R;
    match req {
        R::Activate { .. }
        | R::Connect { .. }
        | R::Peers
        | R::Network
        | R::RelayAdd { .. }
        | R::RelayRemove { .. }
        | R::SpaceJoin { .. }
        | R::Search { .. }
        | R::NoteLinks { .. }
        | R::Attach { .. }
        | R::AttachmentGet { .. }
        | R::AttachmentLimits { .. } => Route::Handle,
        R::Init { .. }
        | R::Whoami
        | R::NoteList { .. }
        | R::NoteShow { .. }
        | R::NoteHistory { .. }
        | R::NoteVersion { .. }
        | R::Trash { .. }
        | R::Questions { .. }
        | R::QuestionShow { .. }
        | R::Status
        | R::SpaceList
        | R::SpaceShow { .. }
        | R::SpaceInvites { .. }
        | R::Who { .. }
        | R::People { .. }
        | R::Person { .. }
        | R::Inbox
        | R::QuestionRoutes { .. }
        | R::Following
        | R::Record { .. }
        | R::RecordExport
        | R::RecordVerify { .. }
        | R::SpaceHealth { .. }
        | R::SpaceDigest { .. }
        | R::Export { .. }
        | R::Attachments { .. } => Route::Read,
        R::ProfileSet { .. }
        | R::NoteNew { .. }
        | R::NoteEdit { .. }
        | R::NoteRm { .. }
        | R::NoteRestore { .. }
        | R::QuestionRm { .. }
        | R::Restore { .. }
        | R::Ask { .. }
        | R::Answer { .. }
        | R::Accept { .. }
        | R::Thank { .. }
        | R::SpaceNew { .. }
        | R::SpaceInvite { .. }
        | R::SpaceRemove { .. }
        | R::SpaceLeave { .. }
        | R::SpaceRole { .. }
        | R::SpaceSettings { .. }
        | R::SpaceRevokeInvite { .. }
        | R::InboxSeen { .. }
        | R::Follow { .. }
        | R::Unfollow { .. }
        | R::Confirm { .. }
        | R::AnswerWithNote { .. }
        | R::ShareAsNote { .. }
        | R::Import { .. } => Route::Write,
    }
}
