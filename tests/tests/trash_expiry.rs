//! The trash keeps a deleted document 30 days, by the node's clock. One test in this binary: it
//! moves the process's clock forward (`clock::advance`), which every node of the process shares.

use tacit_node::clock;
use tacit_node::{Node, Request, Response, TrashItem};
use tacit_tests::nodes::*;

const DAY: i64 = 24 * 60 * 60 * 1000;

async fn trash(node: &Node) -> Vec<TrashItem> {
    match ask(node, Request::Trash { space: None }).await {
        Response::Trash { items } => items,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_note_leaves_the_trash_after_thirty_days_and_cannot_be_restored() {
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
