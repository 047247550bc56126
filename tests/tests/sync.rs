//! Shared spaces between nodes in one process, over real libp2p connections on 127.0.0.1
//! (mDNS off): joining by ticket, live changes both ways, and offline edits that merge.

use tacit_node::core::{Draft, NoteEdit, Role};
use tacit_node::{Node, Request, Response, SyncState};
use tacit_tests::nodes::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_by_ticket_and_changes_flow_both_ways_live() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;

    let space = space_new(&a, "Team").await;
    let before = note_new(&a, &space, "Written before B joined", "first words").await;
    let ticket = invite_for(&a, &space, Role::Editor, Some(3_600_000), Some(1)).await;

    let joined = join(&b, &ticket).await.expect("join");
    assert_eq!(joined, space);
    // The first sync is complete when the join returns.
    assert_eq!(titles(&b, &space).await, vec!["Written before B joined"]);
    assert_eq!(body(&b, &before).await.as_deref(), Some("first words"));

    // A ticket for one use admits nobody else.
    let dir_c = tempfile::tempdir().unwrap();
    let c = node(dir_c.path(), "Cy").await;
    let err = join(&c, &ticket).await.expect_err("a used ticket");
    assert!(err.to_string().contains("used"), "{err}");

    // A → B, live, with no command on B.
    let from_a = note_new(&a, &space, "From A", "hello B").await;
    until("A's new note on B", || async {
        body(&b, &from_a).await.as_deref() == Some("hello B")
    })
    .await;
    // B → A: a new note, then an edit of A's note.
    let from_b = note_new(&b, &space, "From B", "hello A").await;
    until("B's new note on A", || async {
        body(&a, &from_b).await.as_deref() == Some("hello A")
    })
    .await;
    b.note_edit(
        &before,
        NoteEdit {
            body: Some("first words, and B's".into()),
            ..NoteEdit::default()
        },
    )
    .await
    .unwrap();
    until("B's edit on A", || async {
        body(&a, &before).await.as_deref() == Some("first words, and B's")
    })
    .await;

    // Questions and answers travel the same way.
    let q = match ask(
        &b,
        Request::Ask {
            draft: Draft {
                title: "Where is the build cache?".into(),
                body: String::new(),
                tags: vec!["ci".into()],
                aliases: Vec::new(),
            },
            space: Some(space.clone()),
        },
    )
    .await
    {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    };
    until("B's question on A", || async {
        a.question_show(&q).await.is_ok()
    })
    .await;
    a.answer(&q, "In target/, kept between runs").await.unwrap();
    until("A's answer on B", || async {
        b.question_show(&q)
            .await
            .is_ok_and(|q| q.answers.len() == 1)
    })
    .await;

    // Both see each other as members, connected, and the space up to date.
    let detail = match ask(
        &a,
        Request::SpaceShow {
            space: space.clone(),
        },
    )
    .await
    {
        Response::Space(d) => d,
        other => panic!("{other:?}"),
    };
    let names: Vec<&str> = detail.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Ada", "Bo"]);
    assert!(detail.members.iter().all(|m| m.connected));
    until("the space up to date on A", || async {
        matches!(ask(&a, Request::SpaceList).await, Response::Spaces { items }
            if items.iter().any(|s| s.name == "Team" && s.sync == SyncState::UpToDate))
    })
    .await;

    // Nothing of the shared space leaked into the personal ones.
    assert!(titles(&b, "Personal").await.is_empty());

    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_apart_merge_when_the_members_meet_again() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let id = note_new(&a, &space, "Plan", "alpha\nbeta\ngamma\n").await;
    let ticket = invite(&a, &space, Role::Editor).await;
    join(&b, &ticket).await.expect("join");
    assert!(body(&b, &id).await.is_some());

    // B goes away; both edit the same note apart.
    b.shutdown().await;
    a.note_edit(
        &id,
        NoteEdit {
            body: Some("alpha from A\nbeta\ngamma\n".into()),
            ..NoteEdit::default()
        },
    )
    .await
    .unwrap();
    let b = Node::open(dirs[1].path()).await.expect("reopen B");
    b.note_edit(
        &id,
        NoteEdit {
            body: Some("alpha\nbeta\ngamma from B\n".into()),
            ..NoteEdit::default()
        },
    )
    .await
    .unwrap();
    // B comes back: it dials A from its address book by itself; no `connect`.
    b.start_network(loopback()).await.unwrap();
    let merged = "alpha from A\nbeta\ngamma from B\n";
    until("the merged note on A", || async {
        body(&a, &id).await.as_deref() == Some(merged)
    })
    .await;
    until("the merged note on B", || async {
        body(&b, &id).await.as_deref() == Some(merged)
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_member_admits_a_joiner_while_the_inviter_is_away() {
    let dirs = [
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    ];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let c = node(dirs[2].path(), "Cy").await;
    let space = space_new(&a, "Team").await;
    join(&c, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("C joins");
    // A's ticket for B names A alone: a forwarded ticket tells nobody who else is in the
    // space or where. The invitation reaches C before A's next note does, on the same session.
    let ticket = invite(&a, &space, Role::Editor).await;
    let parsed = tacit_node::core::Ticket::parse(&ticket).unwrap();
    let c_peer = c.peer_id().to_owned();
    assert!(
        parsed
            .addrs
            .iter()
            .all(|a| !a.contains("/p2p/") && !a.contains(&c_peer)),
        "{parsed:?}"
    );
    let id = note_new(&a, &space, "Before A left", "").await;
    until("A's note on C", || async { body(&c, &id).await.is_some() }).await;
    a.shutdown().await;

    // B reaches C another way (the LAN, or an address given by hand), and C admits it.
    ask(
        &b,
        Request::Connect {
            addr: listen_addr(&c).await,
        },
    )
    .await;
    join(&b, &ticket).await.expect("C admits B");
    assert_eq!(titles(&b, &space).await, ["Before A left"]);
    let detail = match ask(
        &c,
        Request::SpaceShow {
            space: space.clone(),
        },
    )
    .await
    {
        Response::Space(d) => d,
        other => panic!("{other:?}"),
    };
    assert!(detail.members.iter().any(|m| m.name == "Bo"));
    b.shutdown().await;
    c.shutdown().await;
}

/// The join returns once the first sync is done when the inviter starts the reconciliation (it
/// does: the joiner dials it and opens the sync stream, and the side that accepted a stream
/// starts), so the joiner, holding nothing, answers with an empty item list and must then wait
/// for what the inviter sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_returns_after_the_first_sync_when_the_inviter_starts_it() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let x = node(dirs[0].path(), "Ada").await;
    let y = node(dirs[1].path(), "Bo").await;
    let (inviter, joiner) = (x, y);
    let space = space_new(&inviter, "Team").await;
    for i in 0..300 {
        note_new(&inviter, &space, &format!("Note {i}"), "words").await;
    }
    let ticket = invite(&inviter, &space, Role::Editor).await;
    join(&joiner, &ticket).await.expect("join");
    assert_eq!(titles(&joiner, &space).await.len(), 300);
    inviter.shutdown().await;
    joiner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_profile_travels_into_the_spaces_they_share() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    join(&b, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("join");
    // Bo renames himself after joining: the member list and author search follow.
    b.profile_set(tacit_node::core::ProfileEdit {
        name: Some("Bo Renamed".into()),
        org: Some("Partner Org".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    until("Bo's new name on Ada's member list", || async {
        detail(&a, &space)
            .await
            .members
            .iter()
            .any(|m| m.name == "Bo Renamed" && m.org == "Partner Org")
    })
    .await;
    let note = note_new(&b, &space, "Written by Bo", "").await;
    until("Bo's note on Ada", || async {
        body(&a, &note).await.is_some()
    })
    .await;
    let hits = match ask(
        &a,
        Request::Search {
            query: "author:renamed".into(),
            space: None,
            limit: None,
        },
    )
    .await
    {
        Response::Hits { items, .. } => items,
        other => panic!("{other:?}"),
    };
    assert!(hits.iter().any(|h| h.title == "Written by Bo"), "{hits:?}");
    a.shutdown().await;
    b.shutdown().await;
}

/// Two members that dial each other at the same moment open a sync stream each (the dialer of
/// a connection opens it): both sides keep the same one, the smaller peer id's, and changes flow
/// both ways on it, not on two sessions that each side half closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_dial_each_other_at_once_keep_one_session_and_sync() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let mut b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    join(&b, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("join");
    for round in 0..3 {
        b.shutdown().await;
        let from_a = note_new(&a, &space, &format!("A, apart {round}"), "from A").await;
        let b2 = Node::open(dirs[1].path()).await.expect("reopen B");
        b2.start_network(loopback()).await.unwrap();
        let (a_addr, b_addr) = (listen_addr(&a).await, listen_addr(&b2).await);
        // Both dial at once (B also dials A from its address book by itself).
        let (x, y) = tokio::join!(
            a.execute(Request::Connect { addr: b_addr }),
            b2.execute(Request::Connect { addr: a_addr })
        );
        // One of the two may find the other connected already.
        let _ = (x, y);
        until("A's note made apart on B", || async {
            body(&b2, &from_a).await.is_some()
        })
        .await;
        let from_b = note_new(&b2, &space, &format!("B, after {round}"), "from B").await;
        until("B's note on A", || async {
            body(&a, &from_b).await.is_some()
        })
        .await;
        let from_a = note_new(&a, &space, &format!("A, after {round}"), "from A").await;
        until("A's next note on B", || async {
            body(&b2, &from_a).await.is_some()
        })
        .await;
        // One session each way of looking: each side syncs the space with the other.
        let (a_peer, b_peer) = (a.peer_id().to_owned(), b2.peer_id().to_owned());
        until("a session on both sides", || async {
            syncing_with(&a, &b_peer).await && syncing_with(&b2, &a_peer).await
        })
        .await;
        b = b2;
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// Whether `node` has a sync session with `peer` in which a space is shared.
async fn syncing_with(node: &Node, peer: &str) -> bool {
    peers(node)
        .await
        .iter()
        .any(|p| p.peer == peer && !p.spaces.is_empty())
}
