//! The background fetch of small attachments: those of notes that arrive from peers, and a
//! sweep for the ones still missing.

use std::time::Duration;

use tacit_core::SpaceId;
use tacit_store::{BlobHash, Blobs};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use crate::error::NodeError;

use crate::base::{ActorLink, BlobMsg, ask_actor};

/// Notes waiting for their small attachments to be fetched; past it, a note's attachments
/// are fetched when it is opened instead.
/// What fetches an attachment: the sync engine (reached weakly, so that the fetcher ends with
/// it).
pub(crate) trait Fetches: Send + Sync {
    /// Attachments up to this size are fetched in the background.
    fn auto_fetch_limit(&self) -> u64;
    /// Fetches one attachment of `space` from a member holding it, also when it is held here
    /// for another space; `wait` for one to be connected.
    fn fetch(
        &self,
        space: SpaceId,
        hash: BlobHash,
        size: u64,
        wait: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send + '_>>;
}

const AUTO_QUEUE: usize = 256;

/// The least time between two sweeps for missing small attachments.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// What the background fetcher works on.
enum AutoItem {
    /// A note that just arrived: its small attachments.
    Note(tacit_core::DocId),
    /// A small attachment that a note here refers to and this node does not hold for the
    /// note's space (a sweep found it).
    Blob(SpaceId, BlobHash, u64),
}

/// Fetches the small attachments ([`BlobLimits::auto_fetch`]) of notes that arrive from peers,
/// and sweeps for the ones still missing — notes that arrived while no member holding their
/// attachments was reachable, or before a restart — when the network starts and after it
/// changes (a peer connected), at most every [`SWEEP_EVERY`].
pub(crate) async fn auto_fetch(
    engine: std::sync::Weak<dyn Fetches>,
    mut events: tokio::sync::broadcast::Receiver<crate::api::Event>,
    actor: ActorLink,
) {
    let (tx, mut rx) = mpsc::channel::<AutoItem>(AUTO_QUEUE);
    let weak = actor.weak();
    let max = {
        let engine = engine.clone();
        move || engine.upgrade().map_or(0, |e| e.auto_fetch_limit())
    };
    let max_for_sweep = max.clone();
    let listen = async move {
        // A sweep soon after the start (peers take a moment to connect), then after changes.
        let mut next_sweep = Some(Instant::now() + Duration::from_secs(2));
        let mut last_sweep: Option<Instant> = None;
        loop {
            let sweep_at = next_sweep;
            let event = tokio::select! {
                e = events.recv() => Some(e),
                () = async {
                    match sweep_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => None,
            };
            match event {
                None => {
                    next_sweep = None;
                    last_sweep = Some(Instant::now());
                    let max = max_for_sweep();
                    let missing = ask_actor(&weak, |reply| BlobMsg::Missing { max, reply })
                        .await
                        .unwrap_or_default();
                    for (space, hash, size) in missing {
                        if let Some(hash) = Blobs::parse_hash(&hash) {
                            let _ = tx.try_send(AutoItem::Blob(space, hash, size));
                        }
                    }
                }
                Some(Ok(crate::api::Event::DocumentChanged {
                    id,
                    kind: tacit_core::Kind::Note,
                    deleted: false,
                    remote: true,
                    ..
                })) => {
                    let _ = tx.try_send(AutoItem::Note(id));
                }
                Some(Ok(crate::api::Event::NetworkChanged)) => {
                    if next_sweep.is_none() {
                        let after = last_sweep.map_or_else(Instant::now, |t| t + SWEEP_EVERY);
                        next_sweep = Some(after.max(Instant::now() + Duration::from_secs(1)));
                    }
                }
                Some(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return,
            }
        }
    };
    let work = async move {
        while let Some(item) = rx.recv().await {
            let max = max();
            // A note that just arrived came from a member who is connected; a sweep's finds wait
            // for nobody (a member offline now is tried at a later sweep).
            let (wanted, wait): (Vec<(SpaceId, BlobHash, u64)>, bool) = match item {
                AutoItem::Blob(space, hash, size) => (vec![(space, hash, size)], false),
                AutoItem::Note(doc) => {
                    let wanted =
                        ask_actor(&actor.weak(), |reply| BlobMsg::Wanted { doc, max, reply })
                            .await
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|(space, hash, size)| {
                                Some((space, Blobs::parse_hash(&hash)?, size))
                            })
                            .collect();
                    (wanted, true)
                }
            };
            for (space, hash, size) in wanted {
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if size > max {
                    continue;
                }
                if let Err(e) = engine.fetch(space, hash, size, wait).await {
                    debug!(hash = %hash.to_hex(), "small attachment not fetched now: {e}");
                }
            }
        }
    };
    tokio::join!(listen, work);
}
