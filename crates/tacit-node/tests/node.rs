//! The `Node` handle over a real home: events, group commit under concurrency, the lock, and
//! damaged documents.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use tacit_node::core::{Draft, Kind, NoteEdit};
use tacit_node::{Event, Node, NodeError};

fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        tags: vec![],
    }
}

async fn new_home() -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let (node, report) = Node::init(dir.path(), Some("Ada".into())).await.unwrap();
    assert!(report.created);
    (dir, node)
}

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("timed out waiting for a node event")
        .expect("event channel open")
}

#[tokio::test]
async fn every_committed_change_is_an_event() {
    let (_dir, node) = new_home().await;
    let mut events = node.subscribe();
    let id = node.note_new(draft("Evented", "x")).await.unwrap();
    let Event::DocumentChanged {
        id: got,
        kind,
        deleted,
        ..
    } = next_event(&mut events).await
    else {
        panic!("unexpected event");
    };
    assert_eq!((got, kind, deleted), (id, Kind::Note, false));
    let edit = NoteEdit {
        body: Some("y".into()),
        ..NoteEdit::default()
    };
    assert!(node.note_edit(&id.to_string(), edit).await.unwrap());
    assert!(
        matches!(next_event(&mut events).await, Event::DocumentChanged { id: got, .. } if got == id)
    );
    node.note_rm(&id.to_string()).await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        Event::DocumentChanged { deleted: true, .. }
    ));
    // An edit that changes nothing is no event.
    let q = node
        .ask(Draft {
            title: "Q".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    assert!(
        matches!(next_event(&mut events).await, Event::DocumentChanged { id: got, kind: Kind::Question, .. } if got == q)
    );
    assert!(events.try_recv().is_err());
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_all_durable_and_see_each_other() {
    let (dir, node) = new_home().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let node = node.clone();
        tasks.spawn(async move {
            let id = node.note_new(draft(&format!("n{i}"), "0\n")).await.unwrap();
            // Resolve by prefix right after creation, while other creates share the batch.
            let prefix = &id.to_string()[..12];
            let edit = NoteEdit {
                body: Some("0\n1\n".into()),
                ..NoteEdit::default()
            };
            assert!(node.note_edit(prefix, edit).await.unwrap());
            assert_eq!(node.note_show(prefix).await.unwrap().body, "0\n1\n");
            id
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.push(r.unwrap());
    }
    assert_eq!(node.note_list().await.unwrap().len(), 200);
    node.shutdown().await;
    assert!(matches!(node.note_list().await, Err(NodeError::Stopped)));

    let node = Node::open(dir.path()).await.unwrap();
    assert_eq!(node.note_list().await.unwrap().len(), 200);
    for id in ids {
        assert_eq!(
            node.note_show(&id.to_string()).await.unwrap().body,
            "0\n1\n"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn a_home_opened_by_a_node_is_in_use_for_another() {
    let (dir, node) = new_home().await;
    let err = Node::open(dir.path()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("in use") && msg.contains(&std::process::id().to_string()),
        "{msg}"
    );
    node.shutdown().await;
    Node::open(dir.path()).await.unwrap().shutdown().await;
}

#[tokio::test]
async fn a_damaged_document_is_an_error_and_the_rest_still_works() {
    let (dir, node) = new_home().await;
    let good = node.note_new(draft("good", "fine")).await.unwrap();
    let bad = node
        .note_new(draft("bad", "will be damaged"))
        .await
        .unwrap();
    node.shutdown().await;
    {
        let conn = rusqlite::Connection::open(dir.path().join("tacit.db")).unwrap();
        let n = conn
            .execute(
                "UPDATE chunks SET data = X'856f4a83deadbeef00' WHERE doc = ?1",
                [bad.to_string()],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let node = Node::open(dir.path()).await.unwrap();
    assert_eq!(node.note_list().await.unwrap().len(), 2);
    assert!(node.note_show(&bad.to_string()).await.is_err());
    let edit = NoteEdit {
        title: Some("x".into()),
        ..NoteEdit::default()
    };
    assert!(node.note_edit(&bad.to_string(), edit).await.is_err());
    assert_eq!(
        node.note_show(&good.to_string()).await.unwrap().body,
        "fine"
    );
    node.shutdown().await;
}
