//! Targets over documents: a whole document received, and an Automerge sync message.

use std::collections::{HashMap, HashSet};

use automerge::ChangeHash;
use automerge::sync::State;
use tacit_core::markdown::wiki_links;
use tacit_core::{
    ChangeSig, Doc, DocId, Kind, NewChange, PROFILE_SCOPE, Screened, SpaceId, Verdict, authorize,
    screen, screen_sync, unsigned,
};
use tacit_net::recon::heads_hash;
use tacit_net::wire::Message;

use crate::fixture::{Fixture, fixture};

/// The first bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The scope a document's changes are signed in (the node's `scope_of`).
fn scope_of(kind: Kind, space: SpaceId) -> SpaceId {
    if kind == Kind::Profile {
        PROFILE_SCOPE
    } else {
        space
    }
}

/// `data` cut before every Automerge chunk header after the first, as the store keeps a
/// snapshot and its increments.
fn split_chunks(data: &[u8]) -> Vec<&[u8]> {
    let mut cuts: Vec<usize> = data
        .windows(MAGIC.len())
        .enumerate()
        .filter(|(i, w)| *i > 0 && *w == MAGIC)
        .map(|(i, _)| i)
        .collect();
    cuts.push(data.len());
    let mut out = Vec::with_capacity(cuts.len());
    let mut start = 0;
    for cut in cuts {
        out.push(&data[start..cut]);
        start = cut;
    }
    out
}

/// The ids a document input may be loaded as: the fixture's note, question and the editor's
/// profile, and an id no document has.
fn doc_id(fx: &Fixture, choice: u8) -> DocId {
    match choice % 4 {
        0 => fx.note_id,
        1 => fx.question_id,
        2 => Doc::profile_id(fx.editor.member_id()),
        _ => DocId::from_bytes([0x33; 16]),
    }
}

/// What the search entry and the listing read of a document (tacit-search's `Entry::from_doc`,
/// in tacit-core's calls), and what a member opening it reads: its history.
fn read_all(doc: &mut Doc) {
    let _ = doc.summary();
    let _ = doc.tombstone();
    if !doc.is_deleted().unwrap_or(true) {
        match doc.kind() {
            Ok(Kind::Note) => {
                if let Ok(n) = doc.note() {
                    let _ = n.all_tags();
                    let _ = wiki_links(&n.body);
                }
                let _ = doc.attachments();
            }
            Ok(Kind::Question) => {
                if let Ok(q) = doc.question() {
                    let _ = wiki_links(&q.body);
                    for a in &q.answers {
                        let _ = wiki_links(&a.body);
                    }
                }
            }
            Ok(Kind::Profile) => {
                let _ = doc.profile();
            }
            Err(_) => {}
        }
    }
    let _ = doc.versions();
}

/// The node's judgement of changes from a peer (its `judge`): unsigned ones and those the
/// membership refuses are dropped, then the claims rules; what is left is read and saved.
/// Whether every change was kept.
fn judge(fx: &Fixture, doc: &mut Doc, kind: Kind, new: &[NewChange], sigs: &[ChangeSig]) -> bool {
    let scope = scope_of(kind, fx.space);
    let by_hash: HashMap<[u8; 32], ChangeSig> = sigs.iter().map(|s| (s.hash, *s)).collect();
    let mut drop: HashSet<[u8; 32]> = unsigned(scope, doc.id(), new, &by_hash)
        .into_iter()
        .collect();
    if kind != Kind::Profile {
        let verdicts = authorize(doc, &fx.membership, new);
        assert_eq!(verdicts.len(), new.len(), "one verdict per change");
        for (verdict, c) in verdicts.into_iter().zip(new) {
            if verdict != Verdict::Counts {
                drop.insert(c.hash);
            }
        }
    }
    let mut kept = true;
    if !drop.is_empty() {
        kept = false;
        if doc.retain_changes(|h| !drop.contains(&h.0)).is_err() {
            return false;
        }
    }
    if doc.check_claims().is_err() {
        let batch: HashSet<[u8; 32]> = new.iter().map(|c| c.hash).collect();
        if doc.retain_changes(|h| !batch.contains(&h.0)).is_err() {
            return false;
        }
        return false;
    }
    if doc.summary().is_err() {
        return false;
    }
    let _ = doc.take_unsaved_changes();
    let (_, changes) = doc.save_with_changes();
    let _ = heads_hash(doc.heads().iter().map(|h| &h.0));
    let _ = doc.contributions_with(&changes);
    kept
}

/// A whole document received from a peer: `[mode][Automerge bytes]`. Mode bit 0 cuts the bytes
/// into chunks at each chunk header (as stored: a snapshot and increments); bit 1 sends the
/// fixture's signatures with it; bits 2–3 choose the document id.
///
/// As the node: `screen` of the chunks, then what `load_whole` does (`Doc::load`, the summary,
/// the changes and their signatures, the heads, the search entry's reads, contributions), then the
/// judgement of its changes. A document that loads saves to bytes that load to the same heads (a
/// compaction must never lose a document).
pub fn doc_load(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let chunks = if mode & 1 != 0 {
        split_chunks(bytes)
    } else {
        vec![bytes]
    };
    let sigs: Vec<ChangeSig> = if mode & 2 != 0 {
        [&fx.note_sigs, &fx.question_sigs, &fx.profile_sigs]
            .into_iter()
            .flatten()
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    let id = doc_id(fx, mode >> 2);
    let scopes = [fx.space, PROFILE_SCOPE];
    let _ = screen(&scopes, id, chunks.iter().copied(), &sigs);

    let me = fx.owner.member_id();
    let Ok(mut doc) = Doc::load(id, chunks.iter().copied(), me) else {
        return;
    };
    let Ok(summary) = doc.summary() else {
        return;
    };
    let changes = doc.changes_since(&[]);
    let heads = doc.heads();
    let _ = heads_hash(heads.iter().map(|h| &h.0));
    read_all(&mut doc);
    let _ = doc.contributions_with(&changes);

    let saved = doc.save();
    match Doc::load(id, [saved.as_slice()], me) {
        Ok(mut again) => assert_eq!(
            sorted(again.heads()),
            sorted(heads),
            "a document saved again loads with other heads"
        ),
        Err(e) => panic!("a document that loaded does not load once saved: {e}"),
    }

    judge(fx, &mut doc, summary.kind, &changes, &sigs);
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort_unstable();
    heads
}

/// An Automerge sync message from a peer about the fixture's note: a `Message::Sync` frame (or,
/// when the bytes are no such frame, the bytes as the sync message, without signatures).
///
/// As the node: `screen_sync`; when it passes, `Doc::receive_sync` into the note as this side
/// holds it (the owner's first version), the judgement of the new changes, and the reply
/// (`Doc::sync_message`). The same message is then received again on the same state, as a peer
/// that repeats itself would have it.
pub fn sync_msg(data: &[u8]) {
    let fx = fixture();
    let (msg, sigs) = match Message::decode(data) {
        Ok(Message::Sync { msg, sigs, .. }) => (msg, sigs),
        _ => (data.to_vec(), Vec::new()),
    };
    let scopes = [fx.space, PROFILE_SCOPE];
    if !matches!(
        screen_sync(&scopes, fx.note_id, &msg, &sigs),
        Screened::Fine { .. }
    ) {
        return;
    }
    let mut doc = Doc::load(fx.note_id, [fx.note_base.as_slice()], fx.owner.member_id())
        .expect("the fixture's note loads");
    let mut state = State::new();
    for _ in 0..2 {
        let before = doc.heads();
        if doc.receive_sync(&mut state, &msg).is_err() {
            // The node drops the document from its cache: the next message loads it again.
            return;
        }
        let new = doc.changes_since(&before);
        if !new.is_empty() {
            let Ok(kind) = doc.kind() else {
                return;
            };
            if !judge(fx, &mut doc, kind, &new, &sigs) {
                // The state believes changes were applied that were not: the node starts it
                // afresh.
                state = State::new();
            }
            read_all(&mut doc);
        }
        let _ = doc.sync_message(&mut state);
    }
}
