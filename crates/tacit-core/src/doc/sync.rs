//! What syncing with peers needs of a document: Automerge's sync protocol, applying received
//! changes, and naming the author and time of each change so that the node can refuse changes
//! from members without write rights.
//!
//! Every entry point here takes bytes from the network: a panic inside Automerge on them becomes
//! a [`CoreError::Malformed`] for this document, never a crash.

use automerge::ChangeHash;
use automerge::sync::{Message, State, SyncDoc};

use super::Doc;
use crate::error::CoreError;
use crate::id::MemberId;

/// Who wrote one change, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeAuthor {
    /// The member, when the change's actor is a member id (32 bytes); `None` for any other actor.
    pub member: Option<MemberId>,
    /// The change's time in ms since the epoch (Automerge records whole seconds).
    pub at: i64,
}

/// [`super::screen`] for an encoded Automerge sync message: the changes it carries.
pub fn screen_sync(
    scopes: &[crate::id::SpaceId],
    doc: crate::id::DocId,
    msg: &[u8],
    sigs: &[super::ChangeSig],
) -> super::Screened {
    let Ok(Ok(msg)) = std::panic::catch_unwind(|| Message::decode(msg)) else {
        return super::Screened::Malformed;
    };
    super::screen(scopes, doc, msg.changes.iter(), sigs)
}

impl Doc {
    /// The author and time of every change not in the history of `heads` (all changes for
    /// empty `heads`).
    pub fn authors_since(&mut self, heads: &[ChangeHash]) -> Vec<ChangeAuthor> {
        self.am
            .get_changes_meta(heads)
            .iter()
            .map(|c| ChangeAuthor {
                member: MemberId::from_actor_id(&c.actor),
                at: c.timestamp.saturating_mul(1000),
            })
            .collect()
    }

    /// Whether some received changes wait for changes this document does not hold.
    pub fn lacks_changes(&mut self) -> bool {
        !self.am.get_missing_deps(&[]).is_empty()
    }

    /// Applies changes received from a peer (the bytes of `save()` or `save_after()`).
    pub fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), CoreError> {
        let id = self.id;
        super::check_chunks(id, bytes)?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.am.load_incremental(bytes)
        }))
        .map_err(|_| {
            CoreError::Malformed(format!("changes to document {id} could not be decoded"))
        })?
        .map_err(|e| CoreError::Malformed(format!("changes to document {id}: {e}")))?;
        Ok(())
    }

    /// The next Automerge sync message for a peer whose sync state is `state`, encoded, with
    /// the hashes of the changes it carries (their signatures go with it); `None` when there is
    /// nothing to say. A panic inside Automerge (a state damaged by an earlier hostile message)
    /// is "nothing to say": the session's next receive reports the damage.
    pub fn sync_message(&mut self, state: &mut State) -> Option<(Vec<u8>, Vec<ChangeHash>)> {
        let before = state.sent_hashes.clone();
        let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.am.sync().generate_sync_message(state)
        }))
        .unwrap_or(None)?;
        let sent = state.sent_hashes.difference(&before).copied().collect();
        Some((msg.encode(), sent))
    }

    /// Applies a peer's encoded Automerge sync message.
    pub fn receive_sync(&mut self, state: &mut State, msg: &[u8]) -> Result<(), CoreError> {
        let id = self.id;
        let msg = Message::decode(msg)
            .map_err(|e| CoreError::Malformed(format!("sync message for document {id}: {e}")))?;
        let mut inflated: u64 = 0;
        for chunk in msg.changes.iter() {
            inflated += super::chunks::check_inflation(
                chunk,
                super::chunks::MAX_INFLATED_BYTES.saturating_sub(inflated),
            )
            .map_err(|e| super::chunk_error(id, e))?;
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.am.sync().receive_sync_message(state, msg)
        }))
        .map_err(|_| {
            CoreError::Malformed(format!(
                "sync message for document {id} could not be applied"
            ))
        })?
        .map_err(|e| CoreError::Malformed(format!("sync message for document {id}: {e}")))
    }
}

impl Doc {
    /// Keeps only the changes `keep` accepts and those they depend on being kept: the document
    /// is rebuilt from them (changes that need a dropped one are dropped too). Returns how many
    /// changes were dropped.
    pub fn retain_changes(
        &mut self,
        keep: impl Fn(&ChangeHash) -> bool,
    ) -> Result<usize, CoreError> {
        let all = self.am.get_changes(&[]);
        let total = all.len();
        let mut kept: std::collections::HashSet<ChangeHash> = std::collections::HashSet::new();
        let mut changes = Vec::new();
        for c in all {
            if keep(&c.hash()) && c.deps().iter().all(|d| kept.contains(d)) {
                kept.insert(c.hash());
                changes.push(c);
            }
        }
        let actor = self.am.get_actor().clone();
        let mut fresh = automerge::AutoCommit::new();
        fresh
            .apply_changes(changes)
            .map_err(|e| CoreError::Malformed(format!("rebuilding document {}: {e}", self.id)))?;
        fresh.set_actor(actor);
        let removed = total - kept.len();
        self.am = fresh;
        self.saved = Vec::new();
        Ok(removed)
    }
}
