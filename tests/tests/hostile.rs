//! A space holds when one member turns hostile, or a stranger tries: each test is one attack,
//! made by hand-driven raw peers ([`RawPeer`]) against real nodes on 127.0.0.1 (mDNS off), and
//! shows that it fails to reach its goal, that the honest members keep syncing, and that nothing
//! acknowledged is lost.
//!
//! Where a test shows that something did *not* happen, it first makes the node handle what was
//! sent before (a [`RawPeer::ping`] round trip on the same session), or waits for a later honest
//! change to arrive on the same path.

use std::time::Duration;

use automerge::transaction::Transactable as _;
use automerge::{ROOT, ReadDoc as _};
use tacit_core::{ChangeSig, DeviceKey, DocId, OpBody, OpHash, SpaceId, Ticket};
use tacit_net::wire::{Message, WholeDoc};
use tacit_node::core::{NoteEdit, Role};
use tacit_node::{NetOptions, Node, Request, Response};
use tacit_tests::nodes::*;
use tacit_tests::rawpeer::{RawPeer, forge, now_ms, raw_member, sign_changes, sign_op};

fn space_id(space: &str) -> SpaceId {
    space.parse().expect("a space id")
}

fn doc_id(id: &str) -> DocId {
    id.parse().expect("a document id")
}

/// A free TCP port on 127.0.0.1 (for a node that must come back at the same address).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn at_port(port: u16) -> NetOptions {
    NetOptions {
        listen: vec![format!("/ip4/127.0.0.1/tcp/{port}")],
        mdns: false,
        ..NetOptions::default()
    }
}

/// `honest` writes a note and `to` receives it: the space still syncs.
async fn still_syncs(from: &Node, to: &Node, space: &str, what: &str) {
    note_reaches(
        from,
        to,
        space,
        &format!("Still syncing: {what}"),
        what,
        what,
    )
    .await;
}

/// The ops a node holds for a space, counted in its database.
fn stored_ops(home: &std::path::Path, space: &str) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        home.join("tacit.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database read-only");
    db.query_row(
        "SELECT count(*) FROM space_ops WHERE space = ?1",
        [space],
        |r| r.get(0),
    )
    .expect("count ops")
}

/// Peak resident memory of this test process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_cannot_be_minted_from_another_members_join() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    let editors = Ticket::parse(&invite(&owner, &space, Role::Editor).await).expect("ticket");
    join(&honest, &editors.to_string()).await.expect("Bo joins");
    // A reader sees every op, Bo's join among them.
    let mut reader = raw_member(&owner, &space, Role::Reader).await;
    reader
        .serve_until("Bo's join on the reader", PATIENCE, |p| {
            p.membership(sid).members().len() == 3
        })
        .await;
    assert!(
        !reader.received_contains(&editors.secret),
        "an op carried the invitation's secret"
    );
    // What Bo's join holds is bound to Bo: copied into another joiner's op it proves nothing.
    let bos_join = reader
        .ops(sid)
        .iter()
        .filter_map(|b| tacit_core::SignedOp::from_bytes(b).ok())
        .find(|o| matches!(o.op().body, OpBody::Join { .. }) && o.op().author != reader.member())
        .expect("Bo's join");
    let OpBody::Join { invite, proof, .. } = bos_join.op().body.clone() else {
        unreachable!()
    };
    let minted = DeviceKey::generate();
    let forged = sign_op(
        &minted,
        sid,
        vec![invite],
        now_ms(),
        OpBody::Join {
            invite,
            proof,
            member_name: "Minted".into(),
            member_org: String::new(),
        },
    );
    let mut stranger = RawPeer::connect_as(minted, &listen_addr(&owner).await)
        .await
        .expect("connect");
    stranger.hello(&[]).await.expect("hello");
    let refused = stranger
        .join_with(sid, forged.to_bytes())
        .await
        .expect_err("a join with another member's proof");
    assert!(refused.contains("no invitation here matches"), "{refused}");
    assert_eq!(member_names(&owner, &space).await.len(), 3);
    // The reader cannot upgrade itself either: its own proof needs the secret it never saw.
    still_syncs(&honest, &owner, &space, "after the minting attempt").await;
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_secret_does_not_take_a_joined_members_seat() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let once = invite_for(&owner, &space, Role::Editor, Some(3_600_000), Some(1)).await;
    let ticket = Ticket::parse(&once).expect("ticket");
    // Cy joins with the single-use ticket.
    let mut cy = RawPeer::connect(&listen_addr(&owner).await)
        .await
        .expect("connect");
    cy.hello(&[]).await.expect("hello");
    cy.join(&ticket).await.expect("Cy joins");
    until("Bo sees Cy", || async {
        detail(&honest, &space)
            .await
            .members
            .iter()
            .any(|m| m.member == cy.member())
    })
    .await;
    // A stranger with the same (forwarded) ticket, claiming to have joined an hour earlier,
    // asks the owner and the other member.
    for target in [&owner, &honest] {
        let key = DeviceKey::generate();
        let early = RawPeer::join_op_at(&key, &ticket, now_ms() - 3_600_000);
        let mut stranger = RawPeer::connect_as(key, &listen_addr(target).await)
            .await
            .expect("connect");
        stranger.hello(&[]).await.expect("hello");
        let refused = stranger
            .join_with(ticket.space, early.to_bytes())
            .await
            .expect_err("a replayed single-use secret");
        assert!(refused.contains("used"), "{refused}");
        stranger.shutdown().await;
    }
    let members = detail(&owner, &space).await.members;
    assert_eq!(members.len(), 3);
    assert!(
        members
            .iter()
            .any(|m| m.member == cy.member() && m.name == "Raw")
    );
    still_syncs(&owner, &honest, &space, "after the replay").await;
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_after_expiry_with_a_backdated_op_is_refused() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let made = now_ms();
    let short = invite_for(&owner, &space, Role::Editor, Some(1_000), None).await;
    let ticket = Ticket::parse(&short).expect("ticket");
    until("Bo holds the short invitation", || async {
        matches!(ask(&honest, Request::SpaceInvites { space: space.clone() }).await,
            Response::Invites { items, .. } if items.iter().any(|i| i.id == ticket.invite))
    })
    .await;
    // Past the expiry (a wait, not a timed assertion).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for target in [&owner, &honest] {
        let key = DeviceKey::generate();
        let backdated = RawPeer::join_op_at(&key, &ticket, made + 100);
        let mut late = RawPeer::connect_as(key, &listen_addr(target).await)
            .await
            .expect("connect");
        late.hello(&[]).await.expect("hello");
        let refused = late
            .join_with(ticket.space, backdated.to_bytes())
            .await
            .expect_err("a backdated join after the expiry");
        assert!(refused.contains("expired"), "{refused}");
        late.shutdown().await;
    }
    assert_eq!(detail(&owner, &space).await.members.len(), 2);
    still_syncs(&honest, &owner, &space, "after the late join").await;
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_owner_cannot_remove_the_owner_who_removed_him() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let mut rogue = raw_member(&owner, &space, Role::Owner).await;
    // The heads just after its own admission, before the accomplice's: naming these made its
    // answer ready before the removal, which then came too late to count.
    let after_admission = rogue.heads(sid);
    let mut accomplice = raw_member(&owner, &space, Role::Editor).await;
    rogue
        .serve_until("the rogue sees four members", PATIENCE, |p| {
            p.membership(sid).members().len() == 4
        })
        .await;
    let before_removal = rogue.heads(sid);
    let owner_id = owner.whoami().await.expect("whoami").member;
    ask(
        &owner,
        Request::SpaceRemove {
            space: space.clone(),
            member: rogue.member().to_string(),
        },
    )
    .await;
    until("Bo sees the rogue removed", || async {
        detail(&honest, &space)
            .await
            .removed
            .contains(&rogue.member())
    })
    .await;
    // The rogue signs the removal of the owner after the heads it held just after its own
    // admission, dated long before: "concurrent", it claims. And an owner's invitation, after
    // the heads it held before its removal, for good measure.
    let retaliation = sign_op(
        rogue.key(),
        sid,
        after_admission,
        now_ms() - 86_400_000,
        OpBody::Remove {
            member: owner_id,
            cut: Vec::new(),
        },
    );
    let backdoor = sign_op(
        rogue.key(),
        sid,
        before_removal,
        now_ms() - 86_400_000,
        OpBody::Invite {
            role: Role::Owner,
            expires_at: None,
            uses: None,
            key: [7; 32],
        },
    );
    let ops = vec![retaliation.to_bytes(), backdoor.to_bytes()];
    // Directly, and relayed by a member who is still one.
    rogue.push_ops(sid, ops.clone()).await.expect("send");
    accomplice.push_ops(sid, ops.clone()).await.expect("send");
    let mut to_bo = RawPeer::connect_as(accomplice.key().clone(), &listen_addr(&honest).await)
        .await
        .expect("connect");
    to_bo.learn_ops(sid, accomplice.ops(sid));
    to_bo.hello(&[sid]).await.expect("hello");
    to_bo.push_ops(sid, ops).await.expect("send");
    for raw in [&mut rogue, &mut accomplice, &mut to_bo] {
        raw.ping().await;
    }
    for n in [&owner, &honest] {
        let d = detail(n, &space).await;
        let ada = d.members.iter().find(|m| m.member == owner_id);
        assert_eq!(ada.map(|m| m.role), Some(Role::Owner), "{:?}", d.members);
        assert!(d.removed.contains(&rogue.member()));
        assert!(!d.removed.contains(&owner_id));
    }
    for home in [dirs[0].path(), dirs[1].path()] {
        assert!(
            !std::fs::read(home.join("tacit.db"))
                .unwrap_or_default()
                .windows(32)
                .any(|w| w == retaliation.hash().0),
            "the void op was stored"
        );
    }
    still_syncs(&owner, &honest, &space, "after the retaliation").await;
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

/// A hostile owner demotes a member with an empty cut, which refuses every change of theirs
/// everywhere else: the member's own node keeps their work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_with_an_empty_cut_does_not_erase_the_members_own_work() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let bo = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&bo, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let bo_id = member_id(&bo).await;
    let id = note_reaches(
        &bo,
        &owner,
        &space,
        "Bo's findings",
        "Measured twice.",
        "Bo's note",
    )
    .await;
    let mut rogue = raw_member(&owner, &space, Role::Owner).await;
    rogue
        .serve_until("the rogue sees three members", PATIENCE, |p| {
            p.membership(sid).members().len() == 3
        })
        .await;
    let demotion = sign_op(
        rogue.key(),
        sid,
        rogue.heads(sid),
        now_ms(),
        OpBody::SetRole {
            member: bo_id,
            role: Role::Reader,
            cut: Vec::new(),
        },
    );
    let mut to_bo = RawPeer::connect_as(rogue.key().clone(), &listen_addr(&bo).await)
        .await
        .expect("connect");
    to_bo.learn_ops(sid, rogue.ops(sid));
    to_bo.hello(&[sid]).await.expect("hello");
    to_bo
        .push_ops(sid, vec![demotion.to_bytes()])
        .await
        .expect("send");
    to_bo.ping().await;
    until("Bo sees himself demoted", || async {
        detail(&bo, &space)
            .await
            .members
            .iter()
            .any(|m| m.member == bo_id && m.role == Role::Reader)
    })
    .await;
    assert_eq!(
        body(&bo, &id).await.as_deref(),
        Some("Measured twice."),
        "Bo's own note was erased"
    );
    for n in [owner, bo] {
        n.shutdown().await;
    }
}

/// A change to `note` (bytes `base`) written as `actor`, signed by `signer`.
fn forged_edit(
    base: &[u8],
    id: DocId,
    sid: SpaceId,
    actor: tacit_core::MemberId,
    signer: &DeviceKey,
    under: &[OpHash],
    text: &str,
) -> (Vec<u8>, Vec<ChangeSig>) {
    let (data, hashes) = forge(base, actor, under, now_ms(), |doc| {
        let (_, body) = doc.get(ROOT, "body")?.expect("a body");
        let len = doc.text(&body)?.chars().count();
        doc.splice_text(&body, len, 0, text)?;
        Ok(())
    })
    .expect("a forged edit");
    (data, sign_changes(signer, sid, id, &hashes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_writes_as_the_owner_directly_or_relayed() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let plan = note_new(&owner, &space, "Plan", "as agreed\n").await;
    let pid = doc_id(&plan);
    let owner_id = owner.whoami().await.expect("whoami").member;
    let mut reader = raw_member(&owner, &space, Role::Reader).await;
    let mut editor = raw_member(&owner, &space, Role::Editor).await;
    let mut removed = raw_member(&owner, &space, Role::Editor).await;
    for raw in [&mut reader, &mut editor, &mut removed] {
        raw.serve_until("the plan on the raw member", PATIENCE, |p| {
            p.doc_bytes(pid).is_some()
        })
        .await;
    }
    let base = reader.doc_bytes(pid).expect("the plan").to_vec();
    let under = reader.heads(sid);
    ask(
        &owner,
        Request::SpaceRemove {
            space: space.clone(),
            member: removed.member().to_string(),
        },
    )
    .await;
    until("Bo sees the removal", || async {
        detail(&honest, &space)
            .await
            .removed
            .contains(&removed.member())
    })
    .await;
    // Each writes as the owner: signed with its own key, or with no signature at all, or as
    // itself but through the owner's actor id. Sent to the owner directly, and relayed by the
    // editor (still a member) to the owner and to Bo.
    let mut forged = Vec::new();
    for (who, key) in [
        ("reader", reader.key().clone()),
        ("editor", editor.key().clone()),
        ("removed", removed.key().clone()),
    ] {
        let text = format!("{who} writing as the owner\n");
        let (data, sigs) = forged_edit(&base, pid, sid, owner_id, &key, &under, &text);
        forged.push((text.clone(), data.clone(), sigs));
        forged.push((text, data, Vec::new()));
    }
    // The removed member writes as itself, backdated under the state before its removal.
    let late = "the removed member, backdated\n".to_owned();
    let (data, sigs) = forged_edit(
        &base,
        pid,
        sid,
        removed.member(),
        removed.key(),
        &under,
        &late,
    );
    forged.push((late, data, sigs));
    let mut to_bo = RawPeer::connect_as(editor.key().clone(), &listen_addr(&honest).await)
        .await
        .expect("connect");
    to_bo.learn_ops(sid, editor.ops(sid));
    to_bo.hello(&[sid]).await.expect("hello");
    for (_, data, sigs) in &forged {
        for raw in [&mut reader, &mut removed, &mut editor, &mut to_bo] {
            raw.push_change(sid, pid, data.clone(), sigs.clone())
                .await
                .expect("send");
        }
    }
    for raw in [&mut reader, &mut removed, &mut editor, &mut to_bo] {
        raw.ping().await;
    }
    // An honest edit after them arrives: the forged ones were handled, and refused.
    owner
        .note_edit(
            &plan,
            NoteEdit {
                body: Some("as agreed\nand signed\n".into()),
                ..NoteEdit::default()
            },
        )
        .await
        .expect("an honest edit");
    until("the honest edit on Bo", || async {
        body(&honest, &plan).await.as_deref() == Some("as agreed\nand signed\n")
    })
    .await;
    for (n, who) in [(&owner, "Ada"), (&honest, "Bo")] {
        let text = body(n, &plan).await.expect("the plan");
        for (forgery, _, _) in &forged {
            assert!(!text.contains(forgery.trim()), "{who} took: {forgery}");
        }
    }
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_keeps_sending_forgeries_is_cut_off_for_a_while() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let plan = note_new(&owner, &space, "Plan", "as agreed\n").await;
    let pid = doc_id(&plan);
    let owner_id = owner.whoami().await.expect("whoami").member;
    let mut editor = raw_member(&owner, &space, Role::Editor).await;
    editor
        .serve_until("the plan", PATIENCE, |p| p.doc_bytes(pid).is_some())
        .await;
    let base = editor.doc_bytes(pid).expect("the plan").to_vec();
    let under = editor.heads(sid);
    // Forgeries one after another, each a fresh change written as the owner: no honest node
    // sends one, so after a few the owner ends the session.
    for i in 0..12 {
        let text = format!("forgery {i}\n");
        let (data, sigs) = forged_edit(&base, pid, sid, owner_id, editor.key(), &under, &text);
        if editor.push_change(sid, pid, data, sigs).await.is_err() {
            break;
        }
    }
    editor.wait_end("after a dozen forgeries", PATIENCE).await;
    let key = editor.key().clone();
    let ops = editor.ops(sid).to_vec();
    let member = editor.member();
    editor.shutdown().await;
    // The owner's members list says what it did (its sessions are refused for a while).
    until("the members list says what it did", || async {
        detail(&owner, &space)
            .await
            .members
            .into_iter()
            .find(|m| m.member == member)
            .and_then(|m| m.why)
            .is_some_and(|why| why.contains("no honest one sends"))
    })
    .await;
    still_syncs(&owner, &honest, &space, "after the forgeries").await;
    // Later it is a member like any other again (removing it is the owner's call).
    let addr = listen_addr(&owner).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut later = RawPeer::connect_as(key, &addr)
        .await
        .expect("connect later");
    later.learn_ops(sid, &ops);
    later.hello(&[sid]).await.expect("hello");
    later
        .serve_until("the space offered again", PATIENCE, |p| p.was_offered(sid))
        .await;
    later.shutdown().await;
    assert_eq!(body(&owner, &plan).await.as_deref(), Some("as agreed\n"));
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_backdated_change_relayed_by_a_member_who_learnt_late_is_refused() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let (owner_port, honest_port) = (free_port(), free_port());
    let start = |dir: std::path::PathBuf, port: u16| async move {
        let n = Node::open(&dir).await.expect("open");
        n.start_network(at_port(port)).await.expect("network");
        n
    };
    let owner = node(dirs[0].path(), "Ada").await;
    owner.shutdown().await;
    let owner = start(dirs[0].path().to_path_buf(), owner_port).await;
    let honest = node(dirs[1].path(), "Bo").await;
    honest.shutdown().await;
    let honest = start(dirs[1].path().to_path_buf(), honest_port).await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let plan = note_new(&owner, &space, "Plan", "as agreed\n").await;
    let pid = doc_id(&plan);
    until("the plan on Bo", || async {
        body(&honest, &plan).await.is_some()
    })
    .await;
    let mut ex = raw_member(&owner, &space, Role::Editor).await;
    ex.serve_until("the plan on the editor", PATIENCE, |p| {
        p.doc_bytes(pid).is_some()
    })
    .await;
    until("Bo sees the editor", || async {
        detail(&honest, &space).await.members.len() == 3
    })
    .await;
    let (base, ops, under) = (
        ex.doc_bytes(pid).expect("the plan").to_vec(),
        ex.ops(sid).to_vec(),
        ex.heads(sid),
    );
    // Bo goes away; the owner removes the editor, and goes away too.
    honest.shutdown().await;
    ask(
        &owner,
        Request::SpaceRemove {
            space: space.clone(),
            member: ex.member().to_string(),
        },
    )
    .await;
    owner.shutdown().await;
    // Bo comes back alone; the removed editor reaches it first with a backdated edit.
    let honest = start(dirs[1].path().to_path_buf(), honest_port).await;
    let mut to_bo = RawPeer::connect_as(ex.key().clone(), &listen_addr(&honest).await)
        .await
        .expect("connect");
    to_bo.learn_ops(sid, &ops);
    to_bo.hello(&[sid]).await.expect("hello");
    let text = "written after the removal, dated before\n";
    let (data, hashes) = forge(&base, ex.member(), &under, now_ms() - 3_600_000, |doc| {
        let (_, body) = doc.get(ROOT, "body")?.expect("a body");
        doc.splice_text(&body, 0, 0, text)?;
        Ok(())
    })
    .expect("forge");
    let sigs = sign_changes(ex.key(), sid, pid, &hashes);
    to_bo.push_change(sid, pid, data, sigs).await.expect("send");
    until("Bo takes the edit, not knowing of the removal", || async {
        body(&honest, &plan).await.is_some_and(|b| b.contains(text))
    })
    .await;
    to_bo.shutdown().await;
    ex.shutdown().await;
    // The owner comes back at its address: Bo learns of the removal, and drops the change;
    // the owner never takes it, though Bo offers it.
    let owner = start(dirs[0].path().to_path_buf(), owner_port).await;
    until("Bo learns of the removal and drops the edit", || async {
        body(&honest, &plan)
            .await
            .is_some_and(|b| !b.contains(text))
    })
    .await;
    still_syncs(&honest, &owner, &space, "after the removal reached Bo").await;
    until("the plan is the same on both", || async {
        body(&owner, &plan).await == body(&honest, &plan).await
    })
    .await;
    assert!(!body(&owner, &plan).await.expect("plan").contains(text));
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_votes_thanks_and_accepts_do_not_count() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let owner_id = owner.whoami().await.expect("whoami").member;
    let question = match ask(
        &owner,
        Request::Ask {
            draft: tacit_node::core::Draft {
                title: "How do we rotate the TLS cert?".into(),
                ..Default::default()
            },
            space: Some(space.clone()),
        },
    )
    .await
    {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    };
    let qid = doc_id(&question);
    until("the question on Bo", || async {
        honest.question_show(&question).await.is_ok()
    })
    .await;
    let answer = honest
        .answer(&question, "Run the rotate playbook.")
        .await
        .expect("Bo answers")
        .to_string();
    let mut rogue = raw_member(&owner, &space, Role::Editor).await;
    rogue
        .serve_until("the answer on the rogue", PATIENCE, |p| {
            p.doc_bytes(qid).is_some_and(|b| {
                tacit_core::Doc::load(qid, [b], p.member())
                    .ok()
                    .and_then(|d| d.question().ok())
                    .is_some_and(|q| q.answers.len() == 1)
            })
        })
        .await;
    let base = rogue.doc_bytes(qid).expect("the question").to_vec();
    let under = rogue.heads(sid);
    let (me, owner_hex) = (rogue.member(), owner_id.to_string());
    let answer_key = answer.clone();
    // In the owner's name: a vote and a thank; in the asker's place: an acceptance; and the
    // answer's authorship claimed for the rogue.
    let attacks: Vec<(&str, Forgery)> = vec![
        ("vote", {
            let (a, o) = (answer_key.clone(), owner_hex.clone());
            Box::new(move |doc| {
                let ans = answer_obj(doc, &a)?;
                let (_, votes) = doc.get(&ans, "votes")?.expect("votes");
                doc.put(&votes, o.as_str(), 1)?;
                Ok(())
            })
        }),
        ("thank", {
            let (a, o) = (answer_key.clone(), owner_hex.clone());
            Box::new(move |doc| {
                let ans = answer_obj(doc, &a)?;
                let (_, thanks) = doc.get(&ans, "thanks")?.expect("thanks");
                doc.put(&thanks, o.as_str(), now_ms())?;
                Ok(())
            })
        }),
        ("accept", {
            let a = answer_key.clone();
            Box::new(move |doc| {
                doc.put(ROOT, "accepted", a.as_str())?;
                Ok(())
            })
        }),
        ("authorship", {
            let a = answer_key.clone();
            Box::new(move |doc| {
                let ans = answer_obj(doc, &a)?;
                doc.put(&ans, "author", me.to_string())?;
                Ok(())
            })
        }),
    ];
    for (what, f) in &attacks {
        let (data, hashes) = forge(&base, me, &under, now_ms(), |d| f(d)).expect(what);
        let sigs = sign_changes(rogue.key(), sid, qid, &hashes);
        rogue.push_change(sid, qid, data, sigs).await.expect("send");
    }
    rogue.ping().await;
    // The rogue's own vote, in its own name, does count: the rule is who, not what.
    let (data, hashes) = forge(&base, me, &under, now_ms(), |doc| {
        let ans = answer_obj(doc, &answer_key)?;
        let (_, votes) = doc.get(&ans, "votes")?.expect("votes");
        doc.put(&votes, me.to_string(), 1)?;
        Ok(())
    })
    .expect("an honest vote");
    let sigs = sign_changes(rogue.key(), sid, qid, &hashes);
    rogue.push_change(sid, qid, data, sigs).await.expect("send");
    for n in [&owner, &honest] {
        until("the rogue's own vote", || async {
            n.question_show(&question)
                .await
                .is_ok_and(|q| q.answers.first().is_some_and(|a| a.score == 1))
        })
        .await;
        let q = n.question_show(&question).await.expect("the question");
        assert_eq!(q.accepted, None);
        let a = &q.answers[0];
        assert!(a.thanked_by.is_empty(), "{:?}", a.thanked_by);
        assert_eq!(a.author, honest.whoami().await.expect("whoami").member);
    }
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

/// One forged edit of a question.
type Forgery = Box<dyn Fn(&mut automerge::AutoCommit) -> anyhow::Result<()>>;

fn answer_obj(doc: &automerge::AutoCommit, answer: &str) -> anyhow::Result<automerge::ObjId> {
    let (_, answers) = doc.get(ROOT, "answers")?.expect("answers");
    let (_, obj) = doc.get(&answers, answer)?.expect("the answer");
    Ok(obj)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_ops_is_neither_stored_nor_forwarded() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let mut flooder = raw_member(&owner, &space, Role::Reader).await;
    flooder
        .serve_until("the ops on the flooder", PATIENCE, |p| {
            p.membership(sid).members().len() == 3
        })
        .await;
    let before = stored_ops(dirs[0].path(), &space);
    let heads = flooder.heads(sid);
    // 12,000 ops that apply to nothing: a reader removing others, inviting and changing roles,
    // ops after deps nobody holds, and ops of another space.
    let key = flooder.key().clone();
    let mut junk: Vec<Vec<u8>> = Vec::new();
    for i in 0..12_000u32 {
        let at = now_ms() + i64::from(i);
        let op = match i % 4 {
            0 => sign_op(
                &key,
                sid,
                heads.clone(),
                at,
                OpBody::Remove {
                    member: DeviceKey::generate().member_id(),
                    cut: Vec::new(),
                },
            ),
            1 => sign_op(
                &key,
                sid,
                heads.clone(),
                at,
                OpBody::Invite {
                    role: Role::Owner,
                    expires_at: None,
                    uses: None,
                    key: [i as u8; 32],
                },
            ),
            2 => {
                let mut missing = [0u8; 32];
                missing[..4].copy_from_slice(&i.to_be_bytes());
                sign_op(
                    &key,
                    sid,
                    vec![OpHash(missing)],
                    at,
                    OpBody::Withdraw {
                        invite: OpHash([1; 32]),
                    },
                )
            }
            _ => sign_op(
                &key,
                SpaceId::random(),
                heads.clone(),
                at,
                OpBody::Remove {
                    member: key.member_id(),
                    cut: Vec::new(),
                },
            ),
        };
        junk.push(op.to_bytes());
    }
    for chunk in junk.chunks(2_000) {
        flooder.push_ops(sid, chunk.to_vec()).await.expect("send");
    }
    flooder.ping().await;
    assert!(flooder.ended().is_none(), "{:?}", flooder.ended());
    assert_eq!(
        stored_ops(dirs[0].path(), &space),
        before,
        "junk was stored"
    );
    // The honest members keep syncing, both ways, and Bo holds none of it either.
    still_syncs(&owner, &honest, &space, "after the flood, owner to Bo").await;
    still_syncs(&honest, &owner, &space, "after the flood, Bo to owner").await;
    assert_eq!(stored_ops(dirs[1].path(), &space), before);
    // A fresh session with the owner still works: nothing stored makes sessions fail.
    let (key, ops) = (flooder.key().clone(), flooder.ops(sid).to_vec());
    flooder.shutdown().await;
    let mut again = RawPeer::connect_as(key, &listen_addr(&owner).await)
        .await
        .expect("connect");
    again.learn_ops(sid, &ops);
    again.hello(&[sid]).await.expect("hello");
    again.ping().await;
    assert!(again.ended().is_none(), "{:?}", again.ended());
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_document_thousands_of_times_sends_it_once() {
    let dirs = [(); 1].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    let big = "lorem ipsum dolor sit amet ".repeat(20_000);
    let id = note_new(&owner, &space, "Big", &big).await;
    let mut raw = raw_member(&owner, &space, Role::Reader).await;
    raw.serve_until("the big note", PATIENCE, |p| {
        p.doc_bytes(doc_id(&id)).is_some()
    })
    .await;
    let before = raw.received_bytes().len();
    for _ in 0..8 {
        raw.send(Message::Want {
            space: sid,
            ids: vec![doc_id(&id); 4096],
        })
        .await
        .expect("send");
    }
    raw.ping().await;
    let after = raw.received_bytes().len() - before;
    assert!(
        after < 64 * 1024,
        "asking again for a document held unchanged sent {after} bytes"
    );
    owner.shutdown().await;
}

/// A compressed change chunk that inflates to `size` bytes of zeros.
fn deflate_bomb(size: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..size / zeros.len() {
        enc.write_all(&zeros).expect("deflate");
    }
    let bomb = enc.finish().expect("deflate");
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = bomb.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            chunk.push(byte);
            break;
        }
        chunk.push(byte | 0x80);
    }
    chunk.extend(bomb);
    chunk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_is_refused_before_it_inflates() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let honest = node(dirs[1].path(), "Bo").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let plan = note_new(&owner, &space, "Plan", "as agreed").await;
    // One gigabyte of zeros in about a megabyte.
    let bomb = deflate_bomb(1024 * 1024 * 1024);
    assert!(bomb.len() < 2 * 1024 * 1024);
    let peak = peak_rss();
    let sends = [
        Message::Change {
            space: sid,
            id: DocId::random(),
            data: bomb.clone(),
            sigs: Vec::new(),
        },
        Message::Change {
            space: sid,
            id: doc_id(&plan),
            data: bomb.clone(),
            sigs: Vec::new(),
        },
        Message::Docs {
            space: sid,
            docs: vec![WholeDoc {
                id: DocId::random(),
                data: bomb.clone(),
                sigs: Vec::new(),
            }],
        },
    ];
    // Each as a new document, a change and a whole document, by a member of its own: no
    // honest node sends one, so the session ends at the first.
    for m in sends {
        let mut raw = raw_member(&owner, &space, Role::Editor).await;
        raw.serve_until("the plan", PATIENCE, |p| {
            p.doc_bytes(doc_id(&plan)).is_some()
        })
        .await;
        raw.send(m).await.expect("send");
        raw.wait_end("after a bomb", PATIENCE).await;
        raw.shutdown().await;
    }
    let grown = peak_rss().saturating_sub(peak);
    assert!(
        grown < 256 * 1024 * 1024,
        "the bomb made the process grow by {} MiB",
        grown / (1024 * 1024)
    );
    assert_eq!(body(&owner, &plan).await.as_deref(), Some("as agreed"));
    still_syncs(&honest, &owner, &space, "after the bomb").await;
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

/// A libp2p node of a stranger's own (a new key, mDNS off), its events drained.
async fn stranger() -> tacit_net::Net {
    let cfg = tacit_net::NetConfig {
        mdns: false,
        ..tacit_net::NetConfig::new(DeviceKey::generate().secret())
    };
    let (net, mut events) = tacit_net::Net::start(cfg)
        .await
        .expect("a stranger's network");
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_strangers_do_not_keep_a_member_from_syncing() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node(dirs[0].path(), "Ada").await;
    let space = space_new(&owner, "Team").await;
    let honest = node(dirs[1].path(), "Bo").await;
    join(&honest, &invite(&owner, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    let addr: tacit_net::Multiaddr = listen_addr(&owner).await.parse().expect("an address");
    // 200 strangers connect (those past the cap are turned away at the handshake).
    let mut strangers = Vec::new();
    for _ in 0..200 {
        let net = stranger().await;
        let _ = net.dial(addr.clone()).await;
        strangers.push(net);
    }
    // Bo drops its connection and comes back while they are there: a member's slot is kept.
    let bo_dir = dirs[1].path().to_path_buf();
    honest.shutdown().await;
    let honest = Node::open(&bo_dir).await.expect("reopen Bo");
    honest.start_network(loopback()).await.expect("network");
    still_syncs(&owner, &honest, &space, "with 200 strangers, owner to Bo").await;
    still_syncs(&honest, &owner, &space, "with 200 strangers, Bo to owner").await;
    for net in strangers {
        net.shutdown().await;
    }
    for n in [owner, honest] {
        n.shutdown().await;
    }
}

/// A stranger opens a sync stream, sends join requests for spaces that are not there (each
/// answered with a refusal) and never reads: the answers fill the stream's window, and the
/// node's writes to it wait. The session still ends (it shares no space), and its stream with
/// it, instead of waiting for the stranger to read for ever while still reading what it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_that_never_reads_does_not_keep_its_session() {
    use futures::AsyncWriteExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = node(dir.path(), "Ada").await;
    let addr: tacit_net::Multiaddr = listen_addr(&owner).await.parse().expect("an address");
    let net = stranger().await;
    let peer = net.dial(addr).await.expect("dial");
    let mut stream = net.open_stream(peer).await.expect("a sync stream");
    let join = |n: u32| {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&n.to_be_bytes());
        Message::Join {
            space: SpaceId::from_bytes(b),
            op: Vec::new(),
        }
        .encode()
    };
    let started = std::time::Instant::now();
    let mut n = 0u32;
    let mut stalls = 0;
    // Written, never read, until the node resets the stream (about 1,000 join requests a
    // second; their refusals fill the stream's window within seconds). A write that waits is
    // tried again: the stream must end, not only stop being read.
    let ended = loop {
        n += 1;
        let wrote = tokio::time::timeout(
            Duration::from_secs(5),
            tacit_net::codec::write_frame(&mut stream, &join(n), 1 << 20),
        )
        .await;
        match wrote {
            Ok(Ok(())) => {}
            Ok(Err(e)) => break e.to_string(),
            Err(_) => stalls += 1,
        }
        if n.is_multiple_of(100) {
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if started.elapsed() > Duration::from_secs(120) {
            panic!(
                "the stream is still open after 2 minutes ({n} sent, {stalls} writes waited 5 s)"
            );
        }
    };
    eprintln!(
        "the stream ended after {:.1} s and {n} join requests ({stalls} writes waited 5 s): {ended}",
        started.elapsed().as_secs_f64()
    );
    net.shutdown().await;
    owner.shutdown().await;
}

/// The addresses a node's address book holds for `peer`, read from its database.
fn booked_addresses(home: &std::path::Path, peer: &str) -> Vec<String> {
    let db = rusqlite::Connection::open_with_flags(
        home.join("tacit.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database read-only");
    let mut stmt = db
        .prepare("SELECT addr FROM addresses WHERE peer = ?1 ORDER BY addr")
        .expect("prepare");
    stmt.query_map([peer], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("read addresses")
}

/// A member that signs a new address record of its own for every message, each with another
/// address, gets two writes to the node's address book: the first record at once, the newest
/// after the 10 s gap. Each record used to be written, one disk sync per address, on the node's
/// actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_flooding_address_records_gets_two_writes_not_one_per_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = node(dir.path(), "Ada").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    let mut flooder = raw_member(&owner, &space, Role::Editor).await;
    flooder.start_sync(sid).await.expect("sync starts");
    flooder
        .serve_until("the space's ops on the flooder", PATIENCE, |p| {
            p.membership(sid).members().len() == 2
        })
        .await;
    let key = flooder.key().clone();
    let member = flooder.member();
    let peer = flooder.net().peer_id().to_string();
    let addr = |i: i64| format!("/ip4/127.0.0.1/tcp/{}", 20_000 + i);
    let start = now_ms();
    let records: Vec<tacit_net::wire::MemberAddrs> = (0..512)
        .map(|i| {
            let mut r = tacit_net::wire::MemberAddrs {
                member,
                addrs: vec![addr(i)],
                relay: false,
                at: start + i,
                sig: [[0; 32]; 2],
            };
            let sig = key.sign(&r.signed_bytes());
            r.sig[0].copy_from_slice(&sig[..32]);
            r.sig[1].copy_from_slice(&sig[32..]);
            r
        })
        .collect();
    for chunk in records.chunks(256) {
        flooder
            .send(Message::Addrs {
                records: chunk.to_vec(),
            })
            .await
            .expect("records sent");
    }
    // The newest is written once the gap after the first has passed.
    let (first, newest) = (addr(0), addr(511));
    let t = std::time::Instant::now();
    let flooded = loop {
        let flooded: Vec<String> = booked_addresses(dir.path(), &peer)
            .into_iter()
            .filter(|a| (0..512).any(|i| *a == addr(i)))
            .collect();
        if flooded.contains(&newest) || t.elapsed() > PATIENCE {
            break flooded;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut expected = vec![first, newest];
    expected.sort();
    assert_eq!(flooded, expected, "the flooder's addresses in the book");
    // The node still serves the member.
    flooder.ping().await;
    assert!(flooder.ended().is_none(), "{:?}", flooder.ended());
}

/// A hostile member makes a note at a newcomer's profile id (derived from the member id, so
/// anyone can compute it) before the newcomer's profile arrives. The node used to keep that
/// note, and then refused the real profile (two first changes at one id): the newcomer's name,
/// expertise and opt-out of routed questions were lost on that node for good. Now a document at
/// a member's profile id that is not their profile is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_at_a_newcomers_profile_id_does_not_take_their_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = node(dir.path(), "Ada").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    let mut rogue = raw_member(&owner, &space, Role::Editor).await;
    let mut newcomer = raw_member(&owner, &space, Role::Editor).await;
    let target = tacit_core::Doc::profile_id(newcomer.member());
    push_squat(&mut rogue, sid, target).await;
    // Then the newcomer's real profile.
    push_profile(&mut newcomer, sid, Some("Partner Org")).await;
    profile_shown_and_no_squat(&owner, &newcomer, target).await;
    owner.shutdown().await;
}

/// The same squat made before the newcomer is a member: a member id is the same in every space,
/// so a hostile member who shares another space with someone about to be invited knows their
/// profile id first. The note is taken then (it is at no member's profile id yet), and removed
/// when the newcomer is admitted, so that their real profile is taken when it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_made_at_a_profile_id_before_its_member_joined_goes_when_they_join() {
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = node(dir.path(), "Ada").await;
    let space = space_new(&owner, "Team").await;
    let sid = space_id(&space);
    let mut rogue = raw_member(&owner, &space, Role::Editor).await;
    let mut newcomer = RawPeer::connect(&listen_addr(&owner).await)
        .await
        .expect("the newcomer connects");
    newcomer.hello(&[]).await.expect("hello");
    let target = tacit_core::Doc::profile_id(newcomer.member());
    push_squat(&mut rogue, sid, target).await;
    let show = || async {
        owner
            .execute(Request::NoteShow {
                id: target.to_string(),
            })
            .await
    };
    assert!(show().await.is_ok(), "the squat is taken before the join");
    // The newcomer joins, then sends its profile.
    let ticket = invite(&owner, &space, Role::Editor).await;
    newcomer
        .join(&Ticket::parse(&ticket).expect("a ticket"))
        .await
        .expect("the newcomer joins");
    push_profile(&mut newcomer, sid, None).await;
    profile_shown_and_no_squat(&owner, &newcomer, target).await;
    owner.shutdown().await;
}

/// Waits for `owner` to show the newcomer's profile, then checks it holds no note at `target`
/// (the newcomer's profile id).
async fn profile_shown_and_no_squat(owner: &Node, newcomer: &RawPeer, target: DocId) {
    let who = newcomer.member().to_string();
    until("the newcomer's profile on the owner", || async {
        matches!(
            owner.execute(Request::Person { member: who.clone() }).await,
            Ok(Response::Person(p)) if p.name == "Newcomer"
        )
    })
    .await;
    let held = owner
        .execute(Request::NoteShow {
            id: target.to_string(),
        })
        .await;
    assert!(held.is_err(), "the squatting note is held");
}

/// The rogue's note at `target` (a member's profile id), pushed and acknowledged.
async fn push_squat(rogue: &mut RawPeer, sid: SpaceId, target: DocId) {
    let under = rogue.heads(sid);
    let mut squat = tacit_core::Doc::new_note(
        target,
        tacit_core::Edit {
            by: rogue.member(),
            at: now_ms(),
            under: &under,
        },
        tacit_core::Draft {
            title: "Not a profile".into(),
            ..Default::default()
        },
    )
    .expect("note");
    let (data, changes) = squat.save_with_changes();
    let sigs = squat.sign_changes(rogue.key(), sid, &changes);
    rogue
        .push_change(sid, target, data, sigs)
        .await
        .expect("push the squat");
    rogue.ping().await;
}

/// The raw member's own profile, named "Newcomer", pushed to `sid` and acknowledged.
async fn push_profile(member: &mut RawPeer, sid: SpaceId, org: Option<&str>) {
    let mut profile = tacit_core::Doc::new_profile(
        tacit_core::Edit::new(member.member(), now_ms()),
        tacit_core::ProfileEdit {
            name: Some("Newcomer".into()),
            org: org.map(str::to_owned),
            ..Default::default()
        },
    )
    .expect("profile");
    let (data, changes) = profile.save_with_changes();
    let sigs = profile.sign_changes(member.key(), tacit_core::PROFILE_SCOPE, &changes);
    let id = tacit_core::Doc::profile_id(member.member());
    member
        .push_change(sid, id, data, sigs)
        .await
        .expect("push the profile");
    member.ping().await;
}

/// A hostile member asks 250 questions on a tag Ada follows, each dated ten years ahead. They
/// used to fill her inbox for good: it lists the newest 200 first, and these stayed the newest
/// for ten years, so a colleague's question on the tag asked afterwards was not listed. Now a
/// contribution dated ahead is taken as of when it was first received, and one member has at
/// most 20 items of a kind in an inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_dated_years_ahead_do_not_take_over_an_inbox() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let ada = node(dirs[0].path(), "Ada").await;
    let bo = node(dirs[1].path(), "Bo").await;
    let space = space_new(&ada, "Team").await;
    let sid = space_id(&space);
    join(&bo, &invite(&ada, &space, Role::Editor).await)
        .await
        .expect("Bo joins");
    ask(&ada, Request::Follow { tag: "tls".into() }).await;
    let mut rogue = raw_member(&ada, &space, Role::Editor).await;
    let ahead = now_ms() + 10 * 365 * 24 * 60 * 60 * 1000;
    let under = rogue.heads(sid);
    for i in 0..250 {
        let id = DocId::random();
        let mut q = tacit_core::Doc::new_question(
            id,
            tacit_core::Edit {
                by: rogue.member(),
                at: ahead + i,
                under: &under,
            },
            tacit_core::Draft {
                title: format!("Spam about certificates {i}"),
                tags: vec!["tls".into()],
                ..Default::default()
            },
        )
        .expect("question");
        let (data, changes) = q.save_with_changes();
        let sigs = q.sign_changes(rogue.key(), sid, &changes);
        rogue
            .push_change(sid, id, data, sigs)
            .await
            .expect("push a question");
    }
    rogue.ping().await;
    let honest = match ask(
        &bo,
        Request::Ask {
            draft: tacit_node::core::Draft {
                title: "Which CA signs the staging certificates?".into(),
                tags: vec!["tls".into()],
                ..Default::default()
            },
            space: Some(space.clone()),
        },
    )
    .await
    {
        Response::Created { id } => id,
        other => panic!("{other:?}"),
    };
    until("Bo's question in Ada's inbox", || async {
        match ada.execute(Request::Inbox).await {
            Ok(Response::Inbox { items, .. }) => items.iter().any(|i| i.question == honest),
            _ => false,
        }
    })
    .await;
    let Response::Inbox { items, .. } = ask(&ada, Request::Inbox).await else {
        panic!("an inbox");
    };
    let from_rogue = items.iter().filter(|i| i.by == rogue.member()).count();
    assert!(from_rogue <= 20, "{from_rogue} items from one member");
    assert!(
        items.iter().all(|i| i.at <= now_ms()),
        "an item dated ahead"
    );
    for n in [ada, bo] {
        n.shutdown().await;
    }
}

/// A member who takes another member's name — the same letters with a Cyrillic А — is told
/// apart from them wherever names are shown: the members list, the people page, a person's
/// page. The user keeps their own name; a third member sees both marked with their ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_taking_another_members_name_is_told_apart_from_them() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ada = node(dirs[0].path(), "Ada Lovelace").await;
    let bo = node(dirs[1].path(), "Bo").await;
    let mallory = node(dirs[2].path(), "Mallory").await;
    let space = space_new(&ada, "Team").await;
    for n in [&bo, &mallory] {
        join(n, &invite(&ada, &space, Role::Editor).await)
            .await
            .unwrap();
    }
    let twin = "\u{410}da Lovelace";
    let edit = tacit_node::core::ProfileEdit {
        name: Some(twin.into()),
        ..Default::default()
    };
    ask(&mallory, Request::ProfileSet { edit }).await;
    let (ada_id, mallory_id) = (member_id(&ada).await, member_id(&mallory).await);
    let marked = |name: &str, id: &tacit_core::MemberId| format!("{name} (#{})", id.short());
    // Bo, a third member, sees both marked once Mallory's profile reaches him.
    until("Mallory's look-alike name marked on Bo", || async {
        let mut names = member_names(&bo, &space).await;
        let mut want = vec![
            "Bo".to_owned(),
            marked("Ada Lovelace", &ada_id),
            marked(twin, &mallory_id),
        ];
        names.sort();
        want.sort();
        names == want
    })
    .await;
    // Ada keeps her own name; the look-alike is marked on her machine too.
    until("Mallory's look-alike name marked on Ada", || async {
        let names = member_names(&ada, &space).await;
        names.contains(&"Ada Lovelace".to_owned()) && names.contains(&marked(twin, &mallory_id))
    })
    .await;
    // The people page and a person's page say the same.
    match ask(
        &bo,
        Request::People {
            space: space.clone(),
        },
    )
    .await
    {
        Response::People { items, .. } => {
            let mallory_shown = items.iter().find(|p| p.member == mallory_id).unwrap();
            assert_eq!(mallory_shown.name, marked(twin, &mallory_id));
        }
        other => panic!("{other:?}"),
    }
    let person = Request::Person {
        member: mallory_id.to_string(),
    };
    match ask(&bo, person).await {
        Response::Person(p) => assert_eq!(p.name, marked(twin, &mallory_id)),
        other => panic!("{other:?}"),
    }
    for n in [&ada, &bo, &mallory] {
        n.shutdown().await;
    }
}

/// Peak resident memory of process `pid` (`VmHWM`), in bytes.
fn peak_rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The ticket `space invite SPACE --role ROLE` prints (alone on its last line).
fn cli_invite(home: &tacit_tests::NetHome, space: &str, role: &str) -> String {
    let out = home.ok(&["space", "invite", space, "--role", role]);
    out.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Whether `home` lists a note titled `title` in `space`.
fn cli_lists(home: &tacit_tests::NetHome, space: &str, title: &str) -> Result<(), String> {
    let list = home.try_json(&["note", "list", "--space", space])?;
    let titles: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["title"].as_str())
        .collect();
    if titles.contains(&title) {
        Ok(())
    } else {
        Err(format!("{titles:?}"))
    }
}

/// Documents in the frame of the test below, each inflating to just under the limit of one
/// document: 960 MiB in a frame of 1 MB. (One frame may carry 256, 15 GiB; before the limit per
/// frame, each one loaded stayed in memory until the whole frame had loaded.)
const HEAVY_DOCS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_documents_each_under_the_limit_does_not_exhaust_the_nodes_memory() {
    // The victim runs in its own process, so that its own peak memory is what is measured.
    let victim = tacit_tests::NetHome::init("Ada");
    let serving = victim.serve();
    let bo = tacit_tests::NetHome::init("Bo");
    let _bo_serving = bo.serve();
    let space = victim.json(&["space", "new", "Team"])["id"]
        .as_str()
        .expect("space new --json gives an id")
        .to_owned();
    let sid = space_id(&space);
    let joined = bo.json(&["space", "join", &cli_invite(&victim, &space, "editor")]);
    assert_eq!(joined["name"], "Team", "{joined}");
    // A hostile reader, by a ticket like any member's.
    let ticket = Ticket::parse(&cli_invite(&victim, &space, "reader")).expect("a ticket");
    let mut raw = RawPeer::connect(serving.tcp_addr())
        .await
        .expect("the raw peer connects");
    raw.hello(&[]).await.expect("hello");
    raw.join(&ticket).await.expect("the raw peer joins");
    raw.ping().await;
    // A note whose body is 60 MiB of one letter: 60 KB deflated.
    let under = raw.heads(sid);
    let mut note = tacit_core::Doc::new_note(
        DocId::random(),
        tacit_core::Edit {
            by: raw.member(),
            at: now_ms(),
            under: &under,
        },
        tacit_core::Draft {
            title: "Heavy".into(),
            body: String::new(),
            tags: Vec::new(),
            aliases: Vec::new(),
        },
    )
    .expect("a note");
    let (data, _) = note.save_with_changes();
    let mut heavy = automerge::AutoCommit::load(&data).expect("load");
    heavy
        .put(ROOT, "body", "a".repeat(60 * 1024 * 1024))
        .expect("put");
    let heavy = heavy.save();
    assert!(heavy.len() < 256 * 1024, "{} bytes", heavy.len());
    let docs: Vec<WholeDoc> = (0..HEAVY_DOCS)
        .map(|_| WholeDoc {
            id: DocId::random(),
            data: heavy.clone(),
            sigs: Vec::new(),
        })
        .collect();
    let before = peak_rss_of(serving.pid());
    assert!(before > 0, "no VmHWM for the victim's process");
    raw.send(Message::Docs { space: sid, docs })
        .await
        .expect("send");
    let end = raw
        .wait_end("after a frame of heavy documents", PATIENCE)
        .await;
    assert!(
        matches!(&end, tacit_tests::rawpeer::End::Bye(why) if why.contains("inflate")),
        "{end:?}"
    );
    let grown = peak_rss_of(serving.pid()).saturating_sub(before);
    eprintln!(
        "victim's peak memory: {} MiB before the frame, grown by {} MiB",
        before / (1024 * 1024),
        grown / (1024 * 1024)
    );
    assert!(
        grown < 256 * 1024 * 1024,
        "the frame made the victim grow by {} MiB",
        grown / (1024 * 1024)
    );
    raw.shutdown().await;
    // The victim still serves an honest member.
    let (title, body) = ("After the frame", "fine");
    bo.ok(&[
        "note", "new", "--space", &space, "--title", title, "--body", body,
    ]);
    tacit_tests::eventually(
        "the victim to receive Bo's note",
        tacit_tests::SYNC_PATIENCE,
        || cli_lists(&victim, &space, title),
    );
}
