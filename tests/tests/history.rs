//! Version history and the trash between two real nodes over libp2p on 127.0.0.1 (mDNS off):
//! versions by two authors after a sync, a restore that reaches both, and a peer's deletion
//! that lands in the trash and comes back from it on the peer too.

use tacit_node::core::{NoteEdit, Role, VersionKind};
use tacit_node::{Node, Request, Response, TrashItem, VersionDetail, VersionInfo};
use tacit_tests::nodes::*;

async fn history(node: &Node, id: &str) -> Vec<VersionInfo> {
    match ask(node, Request::NoteHistory { id: id.into() }).await {
        Response::History { items, .. } => items,
        other => panic!("{other:?}"),
    }
}

async fn version(node: &Node, id: &str, version: &str) -> VersionDetail {
    let req = Request::NoteVersion {
        id: id.into(),
        version: version.into(),
    };
    match ask(node, req).await {
        Response::Version(v) => v,
        other => panic!("{other:?}"),
    }
}

async fn trash(node: &Node) -> Vec<TrashItem> {
    match ask(node, Request::Trash { space: None }).await {
        Response::Trash { items } => items,
        other => panic!("{other:?}"),
    }
}

/// The ids of the search hits for `query`.
async fn hits(node: &Node, query: &str) -> Vec<String> {
    let req = Request::Search {
        query: query.into(),
        space: None,
        limit: None,
    };
    match ask(node, req).await {
        Response::Hits { items, .. } => items.into_iter().map(|h| h.id.to_string()).collect(),
        other => panic!("{other:?}"),
    }
}

async fn set_body(node: &Node, id: &str, text: &str) {
    let edit = NoteEdit {
        body: Some(text.into()),
        ..NoteEdit::default()
    };
    assert!(node.note_edit(id, edit).await.expect("edit"));
}

/// A raw peer that joins `space` on `a` with `role` and holds `doc`; with the document's bytes.
async fn raw_member_holding(
    a: &Node,
    space: &str,
    role: Role,
    doc: tacit_node::core::DocId,
) -> (tacit_tests::rawpeer::RawPeer, Vec<u8>) {
    let mut peer = tacit_tests::rawpeer::raw_member(a, space, role).await;
    peer.serve_until("the note on the raw peer", PATIENCE, |p| {
        p.doc_bytes(doc).is_some()
    })
    .await;
    let bytes = peer.doc_bytes(doc).expect("the note").to_vec();
    (peer, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_both_authors_after_a_sync_and_a_restore_reaches_both() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let id = note_new(&a, &space, "Runbook", "1. page the on-call\n").await;
    join(&b, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("join");
    assert!(
        body(&b, &id).await.is_some(),
        "the first sync brings the note"
    );

    // Bo edits, then Ada: each waits for the other's edit first.
    let bos = "1. page the on-call\n2. check the dashboard\n";
    set_body(&b, &id, bos).await;
    until("Bo's edit on A", || async {
        body(&a, &id).await.as_deref() == Some(bos)
    })
    .await;
    let adas = "1. page the on-call\n2. check the graphs\n3. write it down\n";
    set_body(&a, &id, adas).await;
    until("Ada's edit on B", || async {
        body(&b, &id).await.as_deref() == Some(adas)
    })
    .await;

    // Both list the same versions: Ada's creation, Bo's edit, Ada's edit, with names.
    let on_a = history(&a, &id).await;
    assert_eq!(on_a, history(&b, &id).await);
    let who: Vec<(Option<&str>, VersionKind)> = on_a
        .iter()
        .map(|v| (v.author_name.as_deref(), v.version.kind))
        .collect();
    assert_eq!(
        who,
        [
            (Some("Ada"), VersionKind::Edited),
            (Some("Bo"), VersionKind::Edited),
            (Some("Ada"), VersionKind::Created),
        ]
    );
    assert!(on_a[0].version.current && !on_a[1].version.current);

    // Bo's version, read on A, and its differences from now.
    let bo_version = on_a[1].version.id.clone();
    let then = version(&a, &id, &bo_version[..8]).await;
    assert_eq!(then.body, bos);
    assert!(
        then.diff.iter().any(|l| l.text == "2. check the dashboard"),
        "{:?}",
        then.diff
    );

    // Ada restores it: a new change that B takes like any edit.
    let req = Request::NoteRestore {
        id: id.clone(),
        version: bo_version.clone(),
    };
    assert!(matches!(
        ask(&a, req).await,
        Response::Done { changed: true, .. }
    ));
    assert_eq!(body(&a, &id).await.as_deref(), Some(bos));
    until("the restore on B", || async {
        body(&b, &id).await.as_deref() == Some(bos)
    })
    .await;
    // Nothing rewritten: the old versions are all there, and the restore is the newest.
    let after = history(&b, &id).await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[1].version.id, bo_version);
    assert_eq!(after[0].author_name.as_deref(), Some("Ada"));
    assert!(after[0].version.current);
    assert_eq!(after, history(&a, &id).await);

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peers_deletion_lands_in_the_trash_and_comes_back_on_the_peer_too() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let id = note_new(&a, &space, "Pager rota", "Mon: Ada\nTue: Bo\n").await;
    join(&b, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("join");
    assert!(trash(&a).await.is_empty());
    until("the note in A's search", || async {
        hits(&a, "rota").await.contains(&id)
    })
    .await;

    // Bo deletes it: gone from A's list, in A's trash, by Bo.
    b.note_rm(&id).await.expect("rm");
    until("Bo's deletion in A's trash", || async {
        trash(&a).await.iter().any(|t| t.id.to_string() == id)
    })
    .await;
    assert!(!has_title(&a, &space, "Pager rota").await);
    let t = trash(&a).await.remove(0);
    assert_eq!(t.title, "Pager rota");
    assert_eq!(t.space_name, "Team");
    assert_eq!(t.deleted_by_name.as_deref(), Some("Bo"));
    assert_eq!(t.days_left, 30);
    assert!(
        body(&a, &id).await.is_none(),
        "a deleted note does not show"
    );

    // Ada restores it (by a prefix, as from the trash): back on both, out of both trashes.
    let req = Request::Restore {
        id: id[..8].to_owned(),
    };
    assert!(matches!(
        ask(&a, req).await,
        Response::Done { changed: true, .. }
    ));
    assert!(has_title(&a, &space, "Pager rota").await);
    until("the note back on B", || async {
        body(&b, &id).await.as_deref() == Some("Mon: Ada\nTue: Bo\n")
    })
    .await;
    assert!(has_title(&b, &space, "Pager rota").await);
    assert!(trash(&a).await.is_empty() && trash(&b).await.is_empty());
    until("the restored note in B's search", || async {
        hits(&b, "rota").await.contains(&id)
    })
    .await;
    // It is an ordinary note again: edits flow.
    set_body(&b, &id, "Mon: Bo\nTue: Ada\n").await;
    until("an edit after the restore on A", || async {
        body(&a, &id).await.as_deref() == Some("Mon: Bo\nTue: Ada\n")
    })
    .await;
    let kinds: Vec<VersionKind> = history(&a, &id)
        .await
        .iter()
        .map(|v| v.version.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            VersionKind::Edited,
            VersionKind::Restored,
            VersionKind::Deleted,
            VersionKind::Created
        ]
    );

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cannot_restore_from_the_trash() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let id = note_new(&a, &space, "Secret plan", "x").await;
    join(&b, &invite(&a, &space, Role::Reader).await)
        .await
        .expect("join");
    a.note_rm(&id).await.expect("rm");
    until("the deletion in B's trash", || async {
        trash(&b).await.iter().any(|t| t.id.to_string() == id)
    })
    .await;
    let err = b
        .execute(Request::Restore { id: id.clone() })
        .await
        .expect_err("a reader restores nothing");
    assert_eq!(err.kind(), tacit_node::ErrorKind::Refused, "{err}");
    assert_eq!(trash(&b).await.len(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_pushed_by_a_reader_is_refused_and_one_by_an_editor_taken() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada").await;
    let space = space_new(&a, "Team").await;
    let sid = space.parse().expect("a space id");
    let id = note_new(&a, &space, "Old plan", "kept for the record").await;
    let doc = id.parse().expect("a document id");
    a.note_rm(&id).await.expect("rm");

    // A reader's node refuses it locally (tested above); a raw reader signs and pushes one.
    let (mut reader, bytes) = raw_member_holding(&a, &space, Role::Reader, doc).await;
    reader.push_undelete(sid, doc, &bytes).await.expect("push");
    reader.ping().await;
    assert_eq!(
        trash(&a).await.len(),
        1,
        "a reader's restore does not count"
    );
    assert!(body(&a, &id).await.is_none());
    reader.shutdown().await;

    // The same change by an editor is taken: the refusal is about the role.
    let (mut editor, bytes) = raw_member_holding(&a, &space, Role::Editor, doc).await;
    editor.push_undelete(sid, doc, &bytes).await.expect("push");
    until("the editor's restore on A", || async {
        body(&a, &id).await.as_deref() == Some("kept for the record")
    })
    .await;
    assert!(trash(&a).await.is_empty());
    editor.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_dated_a_year_back_still_gets_thirty_days_in_the_trash() {
    use tacit_tests::rawpeer::now_ms;

    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada").await;
    let space = space_new(&a, "Team").await;
    let sid = space.parse().expect("a space id");
    let id = note_new(&a, &space, "Runbook", "restart the cache first").await;
    let doc = id.parse().expect("a document id");

    // A hostile editor deletes the note in a change it dates a year ago.
    let (mut editor, bytes) = raw_member_holding(&a, &space, Role::Editor, doc).await;
    let year_ago = now_ms() - 365 * 24 * 60 * 60 * 1000;
    editor
        .push_delete_dated(sid, doc, &bytes, year_ago)
        .await
        .expect("push");
    until("the backdated deletion on A", || async {
        body(&a, &id).await.is_none()
    })
    .await;
    editor.shutdown().await;

    // Its 30 days count from its arrival here, not from the date it claims.
    let listed = trash(&a).await;
    assert_eq!(listed.len(), 1, "the deletion is in the trash");
    assert_eq!(
        listed[0].deleted_at, year_ago,
        "shown as its writer dated it"
    );
    assert_eq!(listed[0].days_left, 30);
    assert!(matches!(
        ask(&a, Request::Restore { id: id.clone() }).await,
        Response::Done { changed: true, .. }
    ));
    assert_eq!(
        body(&a, &id).await.as_deref(),
        Some("restart the cache first")
    );
    a.shutdown().await;
}
