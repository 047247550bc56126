//! Downloads in progress (`.part`): what they count in a space's quota, and when they go.

use std::time::{Duration, SystemTime};

use tacit_core::{Doc, NoteEdit, SpaceId};

use super::store::store;
use super::{add_note, edit, write_of};
use crate::{BlobHash, Blobs, Chunk, DocWrite, Store};

const GROUP: usize = crate::BLOB_GROUP as usize;

/// A note of `space` that refers to `hashes` (each stated `size` bytes).
fn note_naming(store: &mut Store, space: SpaceId, hashes: &[BlobHash], size: u64) -> Doc {
    let (_, mut doc) = add_note(store, space, "files", 1_000);
    doc.edit_text(
        edit(2_000),
        NoteEdit {
            body: Some("![[file.bin]]".into()),
            ..NoteEdit::default()
        },
    )
    .unwrap();
    let chunk = Chunk::Increment(doc.take_unsaved().unwrap());
    let refs = hashes.iter().map(|h| (h.to_hex().to_string(), size));
    store
        .write(&[DocWrite {
            blob_refs: Some(refs.collect()),
            ..write_of(&mut doc, space, chunk)
        }])
        .unwrap();
    doc
}

/// Leaves a download of `hash` holding `groups` groups, as a cut transfer does; its time set to
/// `age` before now.
fn left_off(blobs: &Blobs, hash: &BlobHash, groups: usize, age: Duration) {
    let mut part = blobs.open_part(hash).unwrap();
    for _ in 0..groups {
        part.append_group(&[7u8; GROUP], None).unwrap();
    }
    part.sync().unwrap();
    drop(part);
    let file = std::fs::File::options()
        .write(true)
        .open(blobs.part_path(hash))
        .unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn hash(n: u8) -> BlobHash {
    blake3::hash(&[n])
}

const MIN: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Without this, a member could leave a verified `.part` of every file it names (send all but
/// its last group, then close the stream): parts held no room in any quota, and nothing ever
/// removed them.
#[test]
fn parts_count_in_their_spaces_quota_and_are_trimmed_when_unreferenced_stale_or_past_a_share() {
    let (dir, mut store) = store();
    let blobs = Blobs::new(dir.path());
    let (mine, theirs) = (SpaceId::random(), SpaceId::random());
    let named: Vec<BlobHash> = (0..5).map(hash).collect();
    note_naming(&mut store, mine, &named, 10 * GROUP as u64);
    note_naming(&mut store, theirs, &named[..1], 10 * GROUP as u64);
    // Parts of 2 groups each, the oldest first; one of a file no note names.
    for (k, h) in named.iter().enumerate() {
        left_off(&blobs, h, 2, MIN * (10 - k as u32));
    }
    let stray = hash(99);
    left_off(&blobs, &stray, 3, MIN);

    // Counted in the quota of each space whose notes name the file, beside the blobs.
    let part = 2 * GROUP as u64;
    assert_eq!(store.space_part_bytes(&blobs, mine).unwrap(), 5 * part);
    assert_eq!(store.space_part_bytes(&blobs, theirs).unwrap(), part);
    assert_eq!(store.space_blob_bytes(mine).unwrap(), 0);
    // A download under way counts as its whole size for the space it fetches for.
    let coming = hash(50);
    let reserved = blobs.reserve(&coming, theirs, 1000);
    assert_eq!(store.space_part_bytes(&blobs, theirs).unwrap(), part + 1000);
    drop(reserved);
    assert_eq!(store.space_part_bytes(&blobs, theirs).unwrap(), part);

    // Another run of the node finds what an earlier one left.
    let blobs = Blobs::new(dir.path());
    assert_eq!(blobs.parts().len(), 6);

    // No live note names it: removed. The others are kept while within the share.
    let now = SystemTime::now();
    let trim = |blobs: &Blobs, now, share| store.trim_parts(blobs, now, DAY, share, 64).unwrap();
    assert_eq!(trim(&blobs, now, 100 * part), (1, 3 * GROUP as u64));
    assert!(!blobs.part_path(&stray).exists());
    assert_eq!(blobs.parts().len(), 5);

    // Past the share of `mine`, the oldest go first (also from the other space's count).
    assert_eq!(trim(&blobs, now, 3 * part), (2, 2 * part));
    for (k, h) in named.iter().enumerate() {
        assert_eq!(blobs.part_path(h).exists(), k >= 2, "part {k}");
    }
    assert_eq!(store.space_part_bytes(&blobs, mine).unwrap(), 3 * part);
    assert_eq!(store.space_part_bytes(&blobs, theirs).unwrap(), 0);
    // A download under way takes its whole size of the share: older parts make room for it,
    // and its own part is never removed.
    let resumed = named[4];
    let reserved = blobs.reserve(&resumed, mine, 2 * part);
    assert_eq!(trim(&blobs, now, 3 * part), (1, part));
    assert!(blobs.part_path(&resumed).exists() && !blobs.part_path(&named[2]).exists());
    // Too many parts of one space: the oldest go.
    assert_eq!(
        store.trim_parts(&blobs, now, DAY, u64::MAX, 0).unwrap(),
        (1, part)
    );
    assert!(blobs.part_path(&resumed).exists() && !blobs.part_path(&named[3]).exists());
    // No progress for a day: removed, but for a download under way.
    assert_eq!(trim(&blobs, now + DAY, u64::MAX), (0, 0));
    drop(reserved);
    assert_eq!(trim(&blobs, now + DAY, u64::MAX), (1, part));
    assert!(blobs.parts().is_empty());
}

/// A part whose note went to the trash is removed (only live notes' files are fetched), while
/// the trash keeps the note's blobs.
#[test]
fn a_part_whose_note_is_deleted_is_removed() {
    let (dir, mut store) = store();
    let blobs = Blobs::new(dir.path());
    let space = SpaceId::random();
    let h = hash(1);
    let mut doc = note_naming(&mut store, space, &[h], 10 * GROUP as u64);
    left_off(&blobs, &h, 1, MIN);
    let now = SystemTime::now();
    assert_eq!(
        store.trim_parts(&blobs, now, DAY, u64::MAX, 64).unwrap(),
        (0, 0)
    );
    doc.delete(edit(3_000)).unwrap();
    let chunk = Chunk::Increment(doc.take_unsaved().unwrap());
    store.write(&[write_of(&mut doc, space, chunk)]).unwrap();
    assert_eq!(
        store.trim_parts(&blobs, now, DAY, u64::MAX, 64).unwrap(),
        (1, GROUP as u64)
    );
    assert!(!blobs.part_path(&h).exists());
}
