//! Attachments on the actor's side: recording a stored file on a note, listing a note's
//! attachments, what each written note refers to (kept by the store with the write), and answering the
//! blob transfers' questions (may this peer have this blob? how much does a space hold?).

use tacit_core::{Attachment, Kind};
use tacit_store::Blobs;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::{Actor, Outcome, ReplyTo};
use crate::api::{AttachmentInfo, Response};
use crate::base::{AttachReq, BlobMsg, now_ms};
use crate::error::NodeError;

impl Actor {
    /// Attaches a stored file to a note (a write: it waits for the group commit).
    pub(super) fn handle_attach(
        &mut self,
        req: AttachReq,
        reply: oneshot::Sender<Result<Response, NodeError>>,
    ) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.attach(req)))
            .unwrap_or_else(|_| {
                self.cache.clear();
                Err(NodeError::Internal(
                    "attaching failed on a damaged document (details in the log); nothing was saved"
                        .into(),
                ))
            });
        let result = result.map(|out| out.map(super::Answer::Response));
        // Before the reply, so that what the requester sees next is trimmed already. The file
        // just attached counts as new (its record's time is now), so it stays although the
        // note's reference to it is not written yet.
        self.trim_unreferenced_blobs();
        self.settle(ReplyTo::Request(reply), result);
    }

    fn attach(&mut self, req: AttachReq) -> Result<Outcome, NodeError> {
        let listed = self.resolve(&req.id, Kind::Note)?;
        // Without its record, this node would not serve its own file to the space.
        self.store
            .record_blob(&req.hash, req.size, now_ms(), listed.space)?;
        // A file held before (stored again, it was kept as it was) may have been removed since
        // as referred to by no note, before this request came.
        if let Some(hash) = Blobs::parse_hash(&req.hash)
            && !self.info.blobs.has(&hash)
        {
            return Err(NodeError::Refused(format!(
                "the file was removed from this home while it was being attached (no note \
                 referred to it); attach {} again",
                req.name
            )));
        }
        let mut used = String::new();
        let mut out = self.change(&listed, |doc, edit| {
            let (name, changed) = doc.attach(edit, &req.name, &req.hash, req.size, req.embed)?;
            used = name;
            Ok(changed)
        })?;
        let changed = matches!(out.answer, Response::Done { changed: true, .. });
        out.answer = Response::Attached {
            id: listed.id,
            reference: format!("![[{used}]]"),
            attachment: Attachment {
                name: used,
                hash: req.hash,
                size: req.size,
            },
            changed,
        };
        Ok(out)
    }

    /// A note's attachments, each with whether its bytes are here for the note's space: a file
    /// held for another space only is not shown in this one (a member naming its hash in a
    /// note would see it shown, or exported, or learn from the fetch whether it is held); it is
    /// fetched from this space's members first.
    pub(super) fn attachments(&mut self, id: &str) -> Result<Response, NodeError> {
        let listed = self.resolve(id, Kind::Note)?;
        let blobs = self.info.blobs.clone();
        let attachments = self.doc(listed.id)?.attachments()?;
        let store = &self.store;
        let items = attachments
            .into_iter()
            .map(|a| {
                let present = Blobs::parse_hash(&a.hash).is_some_and(|h| blobs.has(&h))
                    && store.blob_held_for(listed.space, &a.hash).unwrap_or(false);
                AttachmentInfo {
                    name: a.name,
                    hash: a.hash,
                    size: a.size,
                    present,
                }
            })
            .collect();
        Ok(Response::Attachments {
            id: listed.id,
            space: listed.space,
            items,
        })
    }

    /// Answers a blob transfer's question.
    pub(super) fn handle_blob(&mut self, msg: BlobMsg) {
        match msg {
            BlobMsg::Allowed {
                space,
                peer,
                hash,
                reply,
            } => {
                let member = self.spaces.get(&space).is_some_and(|s| {
                    !s.legacy
                        && s.membership.is_member(&peer)
                        && s.membership.is_member(&self.info.member)
                });
                // Only a member's question commits what is pending (a note attached to a
                // moment ago): a stranger's requests must not end group commits early. A file
                // held for another space only is not served, although a note of this one
                // names its hash.
                let referenced = member && {
                    self.flush();
                    self.store.blob_servable_in(space, &hash).unwrap_or(false)
                };
                let _ = reply.send(referenced);
            }
            BlobMsg::Members { space, reply } => {
                let members = self
                    .spaces
                    .get(&space)
                    .map(|s| {
                        s.membership
                            .members()
                            .keys()
                            .copied()
                            .filter(|m| *m != self.info.member)
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = reply.send(members);
            }
            BlobMsg::Missing { max, reply } => {
                self.flush(); // what a moment-old write refers to counts
                let missing = self
                    .store
                    .missing_blobs(max, crate::blobs::SWEEP_LIMIT)
                    .unwrap_or_default();
                let _ = reply.send(missing);
            }
            BlobMsg::Used { space, reply } => {
                // Asked as a fetch starts, its download marked as under way: the downloads
                // left off make room for it first (the oldest of its space's share go).
                self.trim_parts();
                let blobs = self.store.space_blob_bytes(space).unwrap_or(0);
                let parts = self
                    .store
                    .space_part_bytes(&self.info.blobs, space)
                    .unwrap_or(0);
                let _ = reply.send(blobs.saturating_add(parts));
            }
            BlobMsg::HeldFor { space, hash, reply } => {
                let held = self.store.blob_held_for(space, &hash).unwrap_or(false);
                let _ = reply.send(held);
            }
            BlobMsg::Wanted { doc, max, reply } => {
                // No flush: the note's event that asks this is announced once the note and its
                // references are committed (and a flush per note received would end the group
                // commits of a first sync early).
                let wanted = self.store.blobs_wanted_by(doc, max).unwrap_or_default();
                let _ = reply.send(wanted);
            }
            BlobMsg::Stored { hash, size, space } => {
                if let Err(e) = self.store.record_blob(&hash, size, now_ms(), space) {
                    warn!("cannot record a fetched attachment: {e}");
                }
                // No flush first: a file just stored is within the trim's grace period whether or
                // not the note that refers to it is written yet.
                self.trim_unreferenced_blobs();
            }
        }
    }

    /// Removes the oldest blobs no note refers to (taken out of their notes, or of notes that
    /// left the trash) while they take more than one space's quota
    /// ([`BlobLimits::space_quota`](crate::BlobLimits)). A space's quota counts only the blobs
    /// its notes (live or in the trash) refer to, so a member attaching files for others to
    /// fetch and then taking them out could otherwise fill this disk a quota at a time. Blobs
    /// stored in the last [`UNREFERENCED_GRACE_MS`] are left alone (a note being written may not
    /// refer to its file yet). The files of notes in the trash are kept, and count in their
    /// space's quota until the notes leave it. The downloads left off are trimmed too
    /// ([`Actor::trim_parts`]).
    pub(super) fn trim_unreferenced_blobs(&mut self) {
        // At most once a minute: an import attaching thousands of files asks after each, and
        // the query reads every file's row.
        let now = now_ms();
        if self
            .blobs_trimmed_at
            .is_some_and(|at| (0..TRIM_EVERY_MS).contains(&now.saturating_sub(at)))
        {
            return;
        }
        self.blobs_trimmed_at = Some(now);
        self.trim_parts();
        let keep = self
            .info
            .blob_limits
            .lock()
            .map_or(crate::BlobLimits::default().space_quota, |l| l.space_quota);
        let before = now.saturating_sub(UNREFERENCED_GRACE_MS);
        let unreferenced = match self.store.unreferenced_blobs(before) {
            Ok(u) => u,
            Err(e) => {
                warn!("cannot list the attachments no note refers to: {e}");
                return;
            }
        };
        let mut total: u64 = unreferenced.iter().map(|(_, size)| *size).sum();
        for (hex, size) in unreferenced {
            if total <= keep {
                break;
            }
            if let Some(hash) = Blobs::parse_hash(&hex)
                && let Err(e) = self.info.blobs.remove(&hash)
            {
                warn!(%hex, "cannot remove an attachment no note refers to: {e}");
                continue;
            }
            if let Err(e) = self.store.forget_blob(&hex) {
                warn!(%hex, "cannot forget a removed attachment: {e}");
                continue;
            }
            total = total.saturating_sub(size);
        }
    }

    /// Removes the downloads left off (`.part`, kept to resume from) that no live note refers
    /// to, that made no progress for [`PART_MAX_AGE`], or, the oldest first, past a space's
    /// share: downloads under way at their whole size and those left off take at most
    /// 1/[`PART_SHARE`] of its quota, and at most [`PARTS_PER_SPACE`] are left off. A member
    /// that sends every group of its files but the last would otherwise fill this disk with
    /// parts, outside any quota, forever. Downloads under way are never removed.
    fn trim_parts(&mut self) {
        let quota = self
            .info
            .blob_limits
            .lock()
            .map_or(crate::BlobLimits::default().space_quota, |l| l.space_quota);
        match self.store.trim_parts(
            &self.info.blobs,
            std::time::SystemTime::now(),
            PART_MAX_AGE,
            quota / PART_SHARE,
            PARTS_PER_SPACE,
        ) {
            Ok((0, _)) => {}
            Ok((n, bytes)) => debug!("{n} downloads left off removed ({bytes} bytes)"),
            Err(e) => warn!("cannot trim the downloads left off: {e}"),
        }
    }
}

/// A space's downloads, under way and left off, take at most this fraction of its quota
/// (1/4: 512 MiB of the 2 GiB by default): past it, the oldest left off go first. A quarter
/// leaves most of the quota to whole files, and room for several of the largest (100 MiB)
/// to resume.
const PART_SHARE: u64 = 4;

/// Downloads left off per space at most: a few cut transfers leave a handful (4 run at once);
/// the bound keeps what each trim looks at (a file and a row per part) small.
const PARTS_PER_SPACE: usize = 64;

/// A download left off that has not grown for this long is removed: whoever held it has not
/// sent the rest in a day.
const PART_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// The least time between two trims of the files no note refers to.
const TRIM_EVERY_MS: i64 = 60 * 1000;

/// How long a stored attachment is kept before it may count as referred to by no note.
const UNREFERENCED_GRACE_MS: i64 = 10 * 60 * 1000;
