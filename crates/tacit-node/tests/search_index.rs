//! The node's search index over a real home: a rebuild after an upgrade that waits for the
//! window's first paint, and an index writer that exists only while there is something to
//! write.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tacit_node::core::{Draft, ProfileEdit};
use tacit_node::{Node, OpenOptions, Request, Response};
use tacit_search::SearchIndex;

/// How long a bounded wait waits before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        tags: vec![],
        aliases: vec![],
    }
}

/// A home of `n` notes ("Note i", body "wordi"), its node stopped.
async fn home_of(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let profile = ProfileEdit {
        name: Some("Ada".into()),
        ..ProfileEdit::default()
    };
    let (node, _) = Node::init(dir.path(), profile).await.unwrap();
    for i in 0..n {
        node.note_new(draft(&format!("Note {i}"), &format!("word{i}")))
            .await
            .unwrap();
    }
    node.shutdown().await;
    dir
}

/// Marks the home's index as made by an older version, as an upgrade that changes it finds it.
fn outdate_index(home: &Path) -> String {
    let meta = home.join("index").join("meta.json");
    let older = std::fs::read_to_string(&meta)
        .unwrap()
        .replace("tacit-index-1", "tacit-index-0");
    std::fs::write(&meta, &older).unwrap();
    older
}

async fn titles(node: &Node, query: &str) -> Vec<String> {
    let req = Request::Search {
        query: query.into(),
        space: None,
        limit: Some(50),
    };
    match node.execute(req).await.unwrap() {
        Response::Hits { items, .. } => items.into_iter().map(|h| h.title).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_after_an_upgrade_waits_until_the_node_is_told_to_start_it() {
    let home = home_of(30).await;
    let older = outdate_index(home.path());
    let node = Node::open_with(home.path(), OpenOptions::default().deferred())
        .await
        .unwrap();
    // Held: the index is not touched (it says it will be rebuilt), and the node answers.
    let search = node.status().await.unwrap().search;
    assert!(search.rebuilding, "{search:?}");
    assert_eq!(search.docs, 0);
    assert_eq!(node.note_list().await.unwrap().len(), 30);
    assert_eq!(
        std::fs::read_to_string(home.path().join("index").join("meta.json")).unwrap(),
        older,
        "the old index was touched before the background work was started"
    );
    node.start_background();
    until("the index rebuilt", || async {
        let s = node.status().await.unwrap().search;
        s.docs == 30 && !s.rebuilding
    })
    .await;
    assert_eq!(titles(&node, "word29").await, vec!["Note 29"]);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_starts_a_held_rebuild() {
    let home = home_of(12).await;
    outdate_index(home.path());
    let node = Node::open_with(home.path(), OpenOptions::default().deferred())
        .await
        .unwrap();
    // A node without a control socket waits for the index to catch up before it answers.
    assert_eq!(titles(&node, "word7").await, vec!["Note 7"]);
    assert_eq!(node.status().await.unwrap().search.docs, 12);
    node.shutdown().await;
}

/// Whether another writer can be made on the home's index now (none is held).
fn writer_free(home: &Path) -> bool {
    let Ok(ix) = SearchIndex::open_existing(&home.join("index")) else {
        return false;
    };
    match ix.writer() {
        Ok(w) => {
            w.finish().unwrap();
            true
        }
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_writer_exists_only_while_there_is_something_to_write() {
    let home = home_of(3).await;
    let node = Node::open(home.path()).await.unwrap();
    // Caught up with nothing to index: no writer was made.
    assert_eq!(titles(&node, "word2").await, vec!["Note 2"]);
    assert!(
        writer_free(home.path()),
        "a writer is held with nothing to write"
    );
    // A change makes one; once idle the node lets it go.
    node.note_new(draft("Fresh", "lettuce")).await.unwrap();
    assert_eq!(titles(&node, "lettuce").await, vec!["Fresh"]);
    until("the node letting its index writer go", || async {
        writer_free(home.path())
    })
    .await;
    // And makes one again for the next change.
    node.note_new(draft("Later", "radish")).await.unwrap();
    assert_eq!(titles(&node, "radish").await, vec!["Later"]);
    node.shutdown().await;
}
