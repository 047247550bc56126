//! `import_dir` and `export_dir` on a real node in this process (as the desktop app calls them),
//! and the node's rules for `Request::Import`: batches, ids, limits.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::path::Path;

use tacit_core::{DocId, Draft, Kind, ProfileEdit};
use tacit_node::{ErrorKind, ImportNote, Node, Request, Response};
use tacit_vault::{Progress, Requester, export_dir, import_dir};

async fn new_home(dir: &Path) -> Node {
    let (node, _) = Node::init(
        dir,
        ProfileEdit {
            name: Some("Ada".into()),
            ..ProfileEdit::default()
        },
    )
    .await
    .unwrap();
    node
}

fn import_note(key: &str, id: Option<DocId>, title: &str) -> ImportNote {
    ImportNote {
        key: key.into(),
        id,
        kind: Kind::Note,
        draft: Draft {
            title: title.into(),
            body: format!("body of {title}"),
            tags: vec!["t".into()],
            aliases: vec![],
        },
        created_at: Some(1_000),
    }
}

async fn import(node: &mut Node, space: Option<&str>, notes: Vec<ImportNote>) -> Response {
    let space = space.map(str::to_owned);
    Requester::execute(node, Request::Import { space, notes })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_large_folder_goes_in_several_batches_and_comes_back_out() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(&tmp.path().join("home")).await;
    let vault = tmp.path().join("vault");
    // More than two batches of 500, in nested folders.
    for i in 0..1_100 {
        let dir = vault.join(format!("d{}/e{}", i % 3, i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("note {i}.md")),
            format!("Note {i} links [[note {}]]. #n{}\n", i + 1, i % 5),
        )
        .unwrap();
    }
    let mut seen: Vec<Progress> = Vec::new();
    let summary = import_dir(&mut node, &vault, None, |p| seen.push(p.clone()))
        .await
        .unwrap();
    assert_eq!(summary.created, 1_100);
    assert!(summary.failed.is_empty() && summary.warnings.is_empty());
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (1_100, 1_100));

    let summary = import_dir(&mut node, &vault, None, |_| {}).await.unwrap();
    assert_eq!((summary.created, summary.unchanged), (0, 1_100));

    let out = tmp.path().join("out");
    let mut progress = 0;
    let summary = export_dir(&mut node, &out, Some("Personal"), |p| progress = p.done)
        .await
        .unwrap();
    assert_eq!(
        (summary.notes, summary.files, progress),
        (1_100, 1_100, 1_100)
    );
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, 1_100, "one file per note, straight in the folder");
    node.shutdown().await;
}

#[tokio::test]
async fn ids_from_front_matter_are_kept_unless_another_space_holds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(tmp.path()).await;
    let id = DocId::random();
    let Response::Imported(r) =
        import(&mut node, None, vec![import_note("a.md", Some(id), "A")]).await
    else {
        panic!("not an import report")
    };
    assert_eq!((r.created, r.ids.clone()), (1, vec![id]));

    // Same id, other key, same space: the same document, updated.
    let Response::Imported(r) = import(
        &mut node,
        None,
        vec![import_note("moved/a.md", Some(id), "A2")],
    )
    .await
    else {
        panic!("not an import report")
    };
    assert_eq!((r.updated, r.ids.clone()), (1, vec![id]));

    // Same id in another space: a document of that space, with an id of its own.
    let Response::SpaceCreated { .. } = Requester::execute(
        &mut node,
        Request::SpaceNew {
            name: "Team".into(),
        },
    )
    .await
    .unwrap() else {
        panic!("no space")
    };
    let Response::Imported(r) = import(
        &mut node,
        Some("Team"),
        vec![import_note("a.md", Some(id), "A")],
    )
    .await
    else {
        panic!("not an import report")
    };
    assert_eq!(r.created, 1);
    assert_ne!(r.ids[0], id);
    node.shutdown().await;
}

#[tokio::test]
async fn the_node_refuses_oversized_and_ambiguous_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(tmp.path()).await;
    let many: Vec<ImportNote> = (0..1_001)
        .map(|i| import_note(&format!("{i}.md"), None, "x"))
        .collect();
    let e = Requester::execute(
        &mut node,
        Request::Import {
            space: None,
            notes: many,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("at most 1000"), "{e}");

    // Two notes that name one document: refused whole, nothing written.
    let twice = vec![
        import_note("A.md", None, "x"),
        import_note("a.md", None, "y"),
    ];
    let e = Requester::execute(
        &mut node,
        Request::Import {
            space: None,
            notes: twice,
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("both go to document"), "{e}");
    // A bad note fails its batch, and nothing of the batch is kept.
    let mut bad = import_note("b.md", None, "ok");
    bad.draft.title = " ".into();
    let e = Requester::execute(
        &mut node,
        Request::Import {
            space: None,
            notes: vec![import_note("c.md", None, "fine"), bad],
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(node.note_list().await.unwrap().is_empty());
    node.shutdown().await;
}

/// The desktop app runs imports on its async runtime's worker threads: the futures must be
/// `Send` when the progress callback is.
#[allow(dead_code)]
fn imports_and_exports_are_send(node: &mut Node, dir: &Path) {
    fn send<T: Send>(_: T) {}
    send(import_dir(node, dir, None, |_: &Progress| {}));
    send(export_dir(node, dir, None, |_: &Progress| {}));
}
