//! The trash keeps a deleted document 30 days, by the node's clock, and the attachments no note
//! refers to up to a quota. The tests move the process's clock forward (`clock::advance`), which
//! every node of the process shares: they take turns (`CLOCK`).

use std::path::{Path, PathBuf};
use tacit_node::clock;
use tacit_node::{Node, Request, Response, TrashItem};
use tacit_tests::nodes::*;

const DAY: i64 = 24 * 60 * 60 * 1000;

/// Held by each test while it runs: the clock is the process's.
static CLOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn trash(node: &Node) -> Vec<TrashItem> {
    match ask(node, Request::Trash { space: None }).await {
        Response::Trash { items } => items,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_note_leaves_the_trash_after_thirty_days_and_cannot_be_restored() {
    let _turn = CLOCK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada").await;
    let id = note_new(&a, "Personal", "Scratch", "p50 12 ms").await;
    a.note_rm(&id).await.expect("rm");
    assert_eq!(trash(&a).await[0].days_left, 30);

    clock::advance(29 * DAY + 60_000);
    let left = trash(&a).await;
    assert_eq!(left.len(), 1, "still in the trash on its 30th day");
    assert_eq!(left[0].days_left, 1);

    clock::advance(DAY);
    assert!(
        trash(&a).await.is_empty(),
        "gone from the trash after 30 days"
    );
    let err = a
        .execute(Request::Restore { id: id.clone() })
        .await
        .expect_err("too late to restore");
    assert!(err.to_string().contains("left the trash"), "{err}");
    // Nothing was purged: the tombstoned document is still held (and keeps syncing).
    let held = a
        .note_show(&id)
        .await
        .expect_err("a deleted note does not show");
    assert!(held.to_string().contains("was deleted"), "{held}");
    a.shutdown().await;
}

fn blob_path(home: &Path, hash: &str) -> PathBuf {
    home.join("blobs").join(&hash[..2]).join(hash)
}

/// Attaches a new file of `len` bytes to `note`; its hash.
async fn attach(node: &Node, note: &str, dir: &Path, name: &str, len: usize) -> String {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8) ^ name.as_bytes()[0].wrapping_mul(31))
        .chain(name.bytes())
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("write the file");
    match ask(
        node,
        Request::Attach {
            id: note.into(),
            path: path.to_string_lossy().into_owned(),
            name: None,
            embed: true,
        },
    )
    .await
    {
        Response::Attached { attachment, .. } => attachment.hash,
        other => panic!("{other:?}"),
    }
}

/// A member could attach files for the others to fetch, then take them out (or delete the notes
/// and wait out the trash) and attach more: a space's quota counts only what notes refer to, so
/// each round used to stay on the others' disks for good. Now the files no note refers to are
/// kept up to one space's quota, the oldest removed first once they are 10 minutes old; the
/// files of notes in the trash are kept until the notes leave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_no_note_refers_to_are_kept_up_to_a_quota() {
    let _turn = CLOCK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada").await;
    ask(
        &a,
        Request::AttachmentLimits {
            max_file: None,
            space_quota: Some(300_000),
            auto_fetch: None,
        },
    )
    .await;
    let scans = note_new(&a, "Personal", "Scans", "Three scans.").await;
    let mut old = Vec::new();
    for name in ["a.pdf", "b.pdf", "c.pdf"] {
        old.push(attach(&a, &scans, files.path(), name, 200_000).await);
        clock::advance(1_000);
    }
    a.note_rm(&scans).await.expect("rm");
    let held = || -> Vec<bool> {
        old.iter()
            .map(|h| blob_path(dir.path(), h).is_file())
            .collect()
    };
    // In the trash, the note keeps its files, past the quota too.
    let later = note_new(&a, "Personal", "Later", "One more.").await;
    clock::advance(11 * 60 * 1000);
    let kept = attach(&a, &later, files.path(), "d.pdf", 1_000).await;
    assert_eq!(held(), [true, true, true]);
    // Out of the trash, no note refers to them: 600 KB, 300 KB kept, the two oldest go.
    clock::advance(30 * DAY);
    let newest = attach(&a, &later, files.path(), "e.pdf", 1_000).await;
    assert_eq!(held(), [false, false, true]);
    for h in [&kept, &newest] {
        assert!(
            blob_path(dir.path(), h).is_file(),
            "a file a note refers to went"
        );
    }
    a.shutdown().await;
}
