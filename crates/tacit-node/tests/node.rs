//! The `Node` handle over a real home: events, group commit under concurrency, the lock, and
//! damaged documents.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use tacit_node::core::{Draft, Kind, NoteEdit, ProfileEdit};
use tacit_node::{Event, Node, NodeError};

fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        tags: vec![],
        aliases: vec![],
    }
}

async fn new_home() -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let (node, report) = Node::init(
        dir.path(),
        ProfileEdit {
            name: Some("Ada".into()),
            ..ProfileEdit::default()
        },
    )
    .await
    .unwrap();
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
    // A question is an event too.
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
    // An edit that changes nothing writes nothing and is no event.
    let (other, _) = (
        node.note_new(draft("Still", "same")).await.unwrap(),
        next_event(&mut events).await,
    );
    let same = NoteEdit {
        body: Some("same".into()),
        ..NoteEdit::default()
    };
    assert!(!node.note_edit(&other.to_string(), same).await.unwrap());
    node.note_list().await.unwrap(); // a later request: any event of the edit came before it
    assert!(matches!(
        events.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Empty)
    ));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_request_in_it_and_leaves_nothing_behind() {
    let (dir, node) = new_home().await;
    let id = node
        .note_new(draft("kept", "old"))
        .await
        .unwrap()
        .to_string();
    // Another connection makes every chunk write fail, as a full disk would.
    let db = rusqlite::Connection::open(dir.path().join("tacit.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fail_writes BEFORE INSERT ON chunks BEGIN SELECT RAISE(ABORT, 'no room'); END;",
    )
    .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let node = node.clone();
        let id = id.clone();
        tasks.spawn(async move {
            let edit = NoteEdit {
                body: Some(format!("new {i}")),
                ..NoteEdit::default()
            };
            (
                node.note_new(draft(&format!("lost {i}"), "x")).await,
                node.note_edit(&id, edit).await,
            )
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (created, edited) = r.unwrap();
        let err = created.expect_err("a create in a failed commit must fail");
        assert!(err.to_string().contains("nothing was saved"), "{err}");
        assert!(edited.is_err(), "an edit in a failed commit must fail");
    }
    // Nothing of it is visible: not in listings, not in the cached document.
    let list = node.note_list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(node.note_show(&id).await.unwrap().body, "old");
    // Once writes work again, so does the node.
    db.execute_batch("DROP TRIGGER fail_writes;").unwrap();
    let edit = NoteEdit {
        body: Some("new".into()),
        ..NoteEdit::default()
    };
    assert!(node.note_edit(&id, edit).await.unwrap());
    node.shutdown().await;
    let node = Node::open(dir.path()).await.unwrap();
    assert_eq!(node.note_show(&id).await.unwrap().body, "new");
    assert_eq!(node.note_list().await.unwrap().len(), 1);
    node.shutdown().await;
}

#[tokio::test]
async fn an_editor_saving_from_a_stale_read_gets_a_conflict_not_an_overwrite() {
    let (_dir, node) = new_home().await;
    let id = node.note_new(draft("Plan", "one")).await.unwrap();
    let read = node.note_show(&id.to_string()).await.unwrap();
    // Another writer (the CLI, later a peer) changes the body.
    let theirs = NoteEdit {
        body: Some("one two".into()),
        ..NoteEdit::default()
    };
    assert!(node.note_edit(&id.to_string(), theirs).await.unwrap());
    // The window saves from what it read before: refused, their words stay.
    let mine = NoteEdit {
        body: Some("one three".into()),
        base: Some(read.heads.clone()),
        ..NoteEdit::default()
    };
    let err = node.note_edit(&id.to_string(), mine).await.unwrap_err();
    assert_eq!(err.kind(), tacit_node::ErrorKind::Conflict, "{err}");
    let now = node.note_show(&id.to_string()).await.unwrap();
    assert_eq!(now.body, "one two");
    // The reply to a save carries the heads the next save names as its base.
    let reply = node
        .execute(tacit_node::Request::NoteEdit {
            id: id.to_string(),
            edit: NoteEdit {
                body: Some("one two three".into()),
                base: Some(now.heads),
                ..NoteEdit::default()
            },
        })
        .await
        .unwrap();
    let tacit_node::Response::Done { heads, .. } = reply else {
        panic!("unexpected reply {reply:?}");
    };
    assert_eq!(node.note_show(&id.to_string()).await.unwrap().heads, heads);
    node.shutdown().await;
}

#[tokio::test]
async fn activate_reaches_the_window_and_says_when_there_is_none() {
    let (_dir, node) = new_home().await;
    let ask = || node.execute(tacit_node::Request::Activate { link: None });
    assert!(matches!(
        ask().await.unwrap(),
        tacit_node::Response::Activated { window: false }
    ));
    let mut window = node.on_activate();
    assert!(matches!(
        ask().await.unwrap(),
        tacit_node::Response::Activated { window: true }
    ));
    tokio::time::timeout(Duration::from_secs(10), window.recv())
        .await
        .expect("timed out waiting for the activation")
        .unwrap();
    node.shutdown().await;
}

#[tokio::test]
async fn the_control_socket_is_owner_only_and_never_was_otherwise() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, node) = new_home().await;
    let server = tacit_node::ControlServer::start(node.clone())
        .await
        .unwrap();
    let path = node.socket_path();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Nothing of the private staging directory is left in the home.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".tacit-sock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    server.stop().await;
    node.shutdown().await;
}

#[tokio::test]
async fn a_space_made_by_the_previous_version_keeps_its_notes_and_says_why_it_no_longer_syncs() {
    let (dir, node) = new_home().await;
    let personal = node.whoami().await.unwrap().personal_space;
    let id = node.note_new(draft("Kept", "from before")).await.unwrap();
    node.shutdown().await;
    // A shared space as the previous version stored it: an op in the old format (first byte
    // 0), and a note in it.
    {
        let db = rusqlite::Connection::open(dir.path().join("tacit.db")).unwrap();
        let space = "0123456789abcdef0123456789abcdef";
        db.execute(
            "INSERT INTO spaces (id, name, personal, created_at) VALUES (?1, 'Old team', 0, 1)",
            [space],
        )
        .unwrap();
        db.execute(
            "INSERT INTO space_ops (space, hash, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![space, vec![1u8; 32], vec![0u8, 1, 2, 3]],
        )
        .unwrap();
        db.execute(
            "UPDATE docs SET space = ?1 WHERE id = ?2",
            rusqlite::params![space, id.to_string()],
        )
        .unwrap();
    }
    let node = Node::open(dir.path()).await.unwrap();
    let spaces = match node.execute(tacit_node::Request::SpaceList).await.unwrap() {
        tacit_node::Response::Spaces { items } => items,
        other => panic!("{other:?}"),
    };
    let old = spaces.iter().find(|s| s.name == "Old team").unwrap();
    assert_eq!(old.sync, tacit_node::SyncState::Legacy);
    let notes = match node
        .execute(tacit_node::Request::NoteList {
            limit: None,
            space: Some("Old team".into()),
        })
        .await
        .unwrap()
    {
        tacit_node::Response::List { items } => items,
        other => panic!("{other:?}"),
    };
    assert_eq!(notes.len(), 1);
    assert_eq!(
        node.note_show(&id.to_string()).await.unwrap().body,
        "from before"
    );
    let err = node
        .execute(tacit_node::Request::NoteNew {
            draft: draft("New", ""),
            space: Some("Old team".into()),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("older Tacit"), "{err}");
    let _ = personal;
    node.shutdown().await;
}
