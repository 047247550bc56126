//! Search over a real home: every kind of query through the node, changes (local, a peer's,
//! deletions) reaching the index, the index damaged or lost, a `tacit serve` killed mid-way,
//! and the CLI's `search` and `note links`.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::collections::BTreeSet;

use tacit_node::core::{Draft, NoteEdit, ProfileEdit, Role};
use tacit_node::{Hit, Node, Request, Response};
use tacit_tests::TestHome;
use tacit_tests::nodes::*;

async fn hits(node: &Node, query: &str) -> Vec<Hit> {
    hits_in(node, query, None).await
}

async fn hits_in(node: &Node, query: &str, space: Option<&str>) -> Vec<Hit> {
    let req = Request::Search {
        query: query.into(),
        space: space.map(Into::into),
        limit: Some(50),
    };
    match ask(node, req).await {
        Response::Hits { items, .. } => items,
        other => panic!("{other:?}"),
    }
}

async fn found(node: &Node, query: &str) -> Vec<String> {
    hits(node, query)
        .await
        .into_iter()
        .map(|h| h.title)
        .collect()
}

async fn found_set(node: &Node, query: &str) -> BTreeSet<String> {
    found(node, query).await.into_iter().collect()
}

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

async fn write(node: &Node, space: Option<&str>, title: &str, body: &str, tags: &[&str]) -> String {
    let req = Request::NoteNew {
        draft: Draft {
            title: title.into(),
            body: body.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            aliases: vec![],
        },
        space: space.map(Into::into),
    };
    match ask(node, req).await {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

async fn ask_question(node: &Node, space: Option<&str>, title: &str, body: &str) -> String {
    let req = Request::Ask {
        draft: Draft {
            title: title.into(),
            body: body.into(),
            tags: vec![],
            aliases: vec![],
        },
        space: space.map(Into::into),
    };
    match ask(node, req).await {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

async fn edit_body(node: &Node, id: &str, body: &str) {
    let edit = NoteEdit {
        body: Some(body.into()),
        ..NoteEdit::default()
    };
    assert!(node.note_edit(id, edit).await.expect("edit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_phrases_prefixes_typos_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada Lovelace").await;
    let team = space_new(&a, "Platform Team").await;
    write(
        &a,
        None,
        "Deploying to Kubernetes",
        "We roll out with helm charts.",
        &["ops"],
    )
    .await;
    write(
        &a,
        None,
        "Lunch spots",
        "Ramen near the station; the kubernetes meetup is on Fridays.",
        &["food"],
    )
    .await;
    write(
        &a,
        Some(&team),
        "Release checklist",
        "Tag it, then the blue green switch, then announce.",
        &["ops", "release"],
    )
    .await;
    let q = ask_question(
        &a,
        Some(&team),
        "How do we rotate certificates?",
        "They expire yearly.",
    )
    .await;
    a.answer(&q, "Run the renewal job; it restarts the ingress.")
        .await
        .unwrap();

    // A word; title matches rank before body matches.
    assert_eq!(
        found(&a, "kubernetes ").await,
        vec!["Deploying to Kubernetes", "Lunch spots"]
    );
    assert_eq!(found(&a, "\"blue green\"").await, vec!["Release checklist"]);
    assert!(found(&a, "\"green blue\"").await.is_empty());
    assert_eq!(
        found(&a, "certif").await,
        vec!["How do we rotate certificates?"]
    );
    assert_eq!(found(&a, "kubernets ").await[0], "Deploying to Kubernetes");
    // Answers are searched with their question.
    assert_eq!(
        found(&a, "ingress ").await,
        vec!["How do we rotate certificates?"]
    );
    // Filters.
    assert_eq!(
        found_set(&a, "tag:ops").await,
        set(&["Deploying to Kubernetes", "Release checklist"])
    );
    assert_eq!(
        found(&a, "kind:question").await,
        vec!["How do we rotate certificates?"]
    );
    assert_eq!(
        found_set(&a, "space:platform").await,
        set(&["Release checklist", "How do we rotate certificates?"])
    );
    assert_eq!(
        found(&a, "space:\"Platform Team\" tag:ops").await,
        vec!["Release checklist"]
    );
    assert_eq!(
        found(&a, "author:ada helm").await,
        vec!["Deploying to Kubernetes"]
    );
    assert_eq!(
        found(&a, "author:me kind:question").await,
        vec!["How do we rotate certificates?"]
    );
    assert!(found(&a, "author:nobody").await.is_empty());
    assert!(found(&a, "space:nowhere").await.is_empty());
    // The request's space.
    let personal: Vec<String> = hits_in(&a, "the ", Some("Personal"))
        .await
        .into_iter()
        .map(|h| h.title)
        .collect();
    assert_eq!(personal, vec!["Lunch spots"]);
    // Hits say where they are and why they matched.
    let h = &hits(&a, "helm charts").await[0];
    assert_eq!(h.space_name, "Personal");
    assert_eq!(h.snippet, "We roll out with helm charts.");
    assert_eq!(h.snippet_marks, vec![(17, 21), (22, 28)]);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_found_by_its_new_words_at_once_and_a_deleted_note_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada").await;
    let id = write(&a, None, "Plan", "the first draft mentions aardvarks", &[]).await;
    assert_eq!(found(&a, "aardvarks ").await, vec!["Plan"]);
    edit_body(&a, &id, "the second draft mentions zebras").await;
    // A search after a write sees it: no waiting.
    assert_eq!(found(&a, "zebras ").await, vec!["Plan"]);
    assert!(found(&a, "aardvarks ").await.is_empty());
    a.note_rm(&id).await.unwrap();
    assert!(found(&a, "zebras ").await.is_empty());
    assert!(found(&a, "plan ").await.is_empty());
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peers_notes_and_edits_are_found() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    for i in 0..30 {
        write(
            &a,
            Some(&space),
            &format!("Note {i}"),
            &format!("shared words number{i}"),
            &[],
        )
        .await;
    }
    let id = write(
        &a,
        Some(&space),
        "Incident review",
        "the pager went off twice",
        &[],
    )
    .await;
    join(&b, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("join");
    // Everything received in the first sync is searchable.
    assert_eq!(found(&b, "number29 ").await, vec!["Note 29"]);
    assert_eq!(hits(&b, "shared ").await.len(), 30);
    // A's edit, then B's search.
    edit_body(
        &a,
        &id,
        "the pager went off twice; root cause was a flapping switch",
    )
    .await;
    until("A's edit searchable on B", || async {
        found(&b, "flapping ").await == vec!["Incident review"]
    })
    .await;
    // B's answer to A's question is searchable on A.
    let q = ask_question(&a, Some(&space), "Who owns the switch?", "").await;
    until("A's question on B", || async {
        !found(&b, "owns ").await.is_empty()
    })
    .await;
    b.answer(&q, "Network operations, ask Grace").await.unwrap();
    until("B's answer searchable on A", || async {
        found(&a, "grace ").await == vec!["Who owns the switch?"]
    })
    .await;
    // A member's name finds what they wrote.
    assert_eq!(
        found(&b, "author:ada incident").await,
        vec!["Incident review"]
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_damaged_or_outdated_index_is_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let profile = ProfileEdit {
        name: Some("Ada".into()),
        ..ProfileEdit::default()
    };
    let (a, _) = Node::init(dir.path(), profile).await.unwrap();
    for i in 0..40 {
        write(
            &a,
            None,
            &format!("Note {i}"),
            &format!("body of note{i}"),
            &[],
        )
        .await;
    }
    a.shutdown().await;
    let index = dir.path().join("index");
    type Harm = fn(&std::path::Path);
    let damage: [(&str, Harm); 3] = [
        ("deleted", |ix| std::fs::remove_dir_all(ix).unwrap()),
        ("metadata garbage", |ix| {
            std::fs::write(ix.join("meta.json"), b"\x00garbage").unwrap()
        }),
        ("segments truncated", |ix| {
            for f in std::fs::read_dir(ix).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|e| e != "json" && e != "lock") {
                    std::fs::write(&p, b"x").unwrap();
                }
            }
        }),
    ];
    for (what, harm) in damage {
        harm(&index);
        let a = Node::open(dir.path())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(found(&a, "note39 ").await, vec!["Note 39"], "{what}");
        assert_eq!(hits(&a, "body ").await.len(), 40, "{what}");
        assert_eq!(a.status().await.unwrap().search.docs, 40, "{what}");
        a.shutdown().await;
    }
}

#[test]
fn notes_acknowledged_by_a_killed_serve_are_found_after_it() {
    let home = TestHome::new();
    home.ok(&["init", "--name", "Ada"]);
    let served = home.serve();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(home.ok(&[
            "note",
            "new",
            "--title",
            &format!("Note {i}"),
            "--body",
            &format!("kill{i} words"),
        ]));
    }
    let pid = served.pid().to_string();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    drop(served);
    // A one-shot command opens the home; its index catches up with the store first.
    for i in [0, 7, 19] {
        let out = home.json(&["search", &format!("kill{i}")]);
        let titles: Vec<&str> = out
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, vec![format!("Note {i}")]);
    }
}

#[test]
fn the_cli_searches_and_lists_links_both_ways() {
    let home = TestHome::new();
    home.ok(&["init", "--name", "Ada"]);
    let runbook = home
        .ok(&[
            "note",
            "new",
            "--title",
            "Runbook",
            "--body",
            "Restart the ingress.",
            "--tag",
            "ops",
        ])
        .trim()
        .to_owned();
    let incident = home
        .ok(&[
            "note",
            "new",
            "--title",
            "Incident 7",
            "--body",
            "We followed [[Runbook]] and [[Postmortem template|the template]].",
        ])
        .trim()
        .to_owned();
    home.ok(&["space", "new", "Team"]);
    home.ok(&[
        "note",
        "new",
        "--space",
        "Team",
        "--title",
        "Team runbook copy",
        "--body",
        "see [[Runbook]]",
    ]);

    let out = home.json(&["search", "runbok"]);
    let first = &out.as_array().unwrap()[0];
    for key in ["id", "kind", "title", "space", "snippet", "score"] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
    assert_eq!(first["title"], "Runbook");
    assert_eq!(first["kind"], "note");
    assert_eq!(
        home.json(&["search", "runbook", "--space", "Team"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        home.json(&["search", "runbook", "--limit", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let text = home.ok(&["search", "ingress"]);
    assert!(
        text.contains("Runbook") && text.contains("*ingress*"),
        "{text}"
    );
    assert_eq!(home.ok(&["search", "zzzzqx"]).trim(), "no matches");

    let links = home.json(&["note", "links", &incident]);
    assert_eq!(links["outgoing"][0]["id"], runbook.as_str());
    assert_eq!(links["unresolved"][0], "Postmortem template");
    let back = home.json(&["note", "links", &runbook]);
    let from: Vec<&str> = back["backlinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    // Only from its own space: the Team note links to a "Runbook" of the Team space.
    assert_eq!(from, vec![incident.as_str()]);
    let text = home.ok(&["note", "links", &runbook]);
    assert!(
        text.contains("Linked from:") && text.contains("Incident 7"),
        "{text}"
    );
}
