//! The security rules of shared spaces, proven against real libp2p peers on 127.0.0.1 (mDNS
//! off): full nodes in this process, and hand-driven raw peers ([`RawPeer`]) that send what an
//! honest node never would.
//!
//! - a connected non-member learns nothing of a space, not even that it exists;
//! - a removed member receives nothing new, and its changes are refused by everyone;
//! - a reader's changes are refused by everyone;
//! - malformed frames and sync messages close only the session that sent them;
//! - a wrong, expired, forged or malformed ticket admits nobody;
//! - a signed change that arrives before the change it depends on counts once that one
//!   arrives: its signature is kept while it waits;
//! - a member that reconnects at once, or opens its stream again over a connection the node
//!   still takes for live, gets a session on its new stream.
//!
//! Waits are bounded and fail with a message; where a test shows that something did *not*
//! happen, it first makes the node handle everything sent before (a [`RawPeer::ping`] round
//! trip through the same session) or waits for a later honest change to arrive.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tacit_core::{DeviceKey, DocId, OpBody, OpHash, SpaceId, Ticket};
use tacit_net::recon::{Fingerprint, Part, Prefix};
use tacit_net::wire::{Message, SpaceOffer, WholeDoc};
use tacit_node::core::{NoteEdit, Role};
use tacit_node::{Node, Request, Response, SyncState};
use tacit_tests::nodes::*;
use tacit_tests::rawpeer::{
    End, RAW_PATIENCE, RawPeer, contains, forge, now_ms, raw_member, sign_changes, sign_op,
    sync_carrying,
};
use tacit_tests::test_rng;

/// How long a test lets in-flight work settle before it checks that something did not happen,
/// where no round trip can prove that the work was done (another node's session). Only ever
/// makes a test more likely to see a leak; never asserted on.
const SETTLE: Duration = Duration::from_millis(400);

/// A new note in `space` and an edit of `note` on `node` both fail with an error containing
/// `why`.
async fn writes_are_refused(node: &Node, space: &str, note: &str, why: &str) {
    let err = try_note_new(node, space, "Refused", "")
        .await
        .expect_err("a new note that should be refused");
    assert!(err.to_string().contains(why), "{err}");
    let edit = NoteEdit {
        body: Some("a refused edit".into()),
        ..NoteEdit::default()
    };
    let err = node
        .note_edit(note, edit)
        .await
        .expect_err("an edit that should be refused");
    assert!(err.to_string().contains(why), "{err}");
}

/// Every regular file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read a home directory") {
            let path = entry.expect("a directory entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("file metadata");
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                // A file removed between listing and reading (a WAL checkpointed) holds nothing.
                if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path, bytes));
                }
            }
        }
    }
    out
}

/// Which of the named byte strings occur in which file under `dir`, as "file: name" lines.
fn found_in_home(dir: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let files = files_under(dir);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("tacit.db")),
        "no tacit.db under {}",
        dir.display()
    );
    let mut found = Vec::new();
    for (path, bytes) in &files {
        for (name, needle) in needles {
            if contains(bytes, needle) {
                found.push(format!("{}: {name}", path.display()));
            }
        }
    }
    found
}

/// Which of the named byte strings a raw peer received.
fn found_in_received(raw: &RawPeer, needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let got = raw.received_bytes();
    needles
        .iter()
        .filter(|(_, needle)| contains(&got, needle))
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// What must not leak of a space: its id (hex either case, and raw), its name, and canaries.
fn secrets_of(space: &str, name: &str, canaries: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let id: SpaceId = space.parse().expect("a space id");
    let mut needles = vec![
        ("the space id (hex)", space.as_bytes().to_vec()),
        (
            "the space id (upper-case hex)",
            space.to_ascii_uppercase().into_bytes(),
        ),
        ("the space id (raw bytes)", id.as_bytes().to_vec()),
        ("the space name", name.as_bytes().to_vec()),
    ];
    for c in canaries {
        needles.push(("a canary", c.as_bytes().to_vec()));
    }
    needles
}

/// A canary string unlikely to occur by chance, from the test's seeded generator.
fn canary(rng: &mut impl rand::Rng, label: &str) -> String {
    format!("canary-{label}-{:016x}", rng.random::<u64>())
}

fn space_id(space: &str) -> SpaceId {
    space.parse().expect("a space id")
}

fn doc_id(id: &str) -> DocId {
    id.parse().expect("a document id")
}

/// A well-formed Automerge sync message (from an empty document), so that a refusal is about
/// who sent it, not about its bytes.
fn valid_sync_message() -> Vec<u8> {
    use automerge::sync::SyncDoc as _;
    let mut doc = automerge::AutoCommit::new();
    let mut state = automerge::sync::State::new();
    doc.sync()
        .generate_sync_message(&mut state)
        .expect("an empty document has a first sync message")
        .encode()
}

// ---- 1. non-members ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_non_member_learns_nothing_of_a_space() {
    let mut rng = test_rng(b"a_connected_non_member_learns_nothing_of_a_space");
    let dirs = [(); 3].map(|_| tempfile::tempdir().expect("temp dir"));
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let c = node(dirs[2].path(), "Cy").await;

    let name = format!("Team {}", canary(&mut rng, "name"));
    let first = canary(&mut rng, "first");
    let second = canary(&mut rng, "second");
    let space = space_new(&a, &name).await;
    let note = note_new(
        &a,
        &space,
        &format!("Plan {first}"),
        &format!("body {first}"),
    )
    .await;
    let ticket = invite(&a, &space, Role::Editor).await;
    join(&b, &ticket).await.expect("B joins");
    assert_eq!(
        body(&b, &note).await.as_deref(),
        Some(format!("body {first}").as_str())
    );

    // C: a full node that dials A; and a raw peer that says hello and offers nothing.
    let a_addr = listen_addr(&a).await;
    match ask(
        &c,
        Request::Connect {
            addr: a_addr.clone(),
        },
    )
    .await
    {
        Response::Connected { peer } => assert_eq!(peer, a.peer_id()),
        other => panic!("{other:?}"),
    }
    let mut raw = RawPeer::connect(&a_addr).await.expect("raw peer connects");
    raw.hello(&[]).await.expect("hello");
    let raw_peer = tacit_net::peer_id_of(&raw.member())
        .expect("a device key is a peer id")
        .to_string();
    until("A sees C and the raw peer connected", || async {
        connected_to(&a, c.peer_id()).await && connected_to(&a, &raw_peer).await
    })
    .await;

    // A keeps writing while C is connected; B gets it live, so A is pushing.
    let live = note_new(
        &a,
        &space,
        &format!("Live {second}"),
        &format!("body {second}"),
    )
    .await;
    until("A's second note on B", || async {
        body(&b, &live).await.as_deref() == Some(format!("body {second}").as_str())
    })
    .await;
    // Every frame the raw peer sent has been handled by A's session with it; C's session
    // gets the same time to misbehave.
    raw.ping().await;
    tokio::time::sleep(SETTLE).await;

    let secrets = secrets_of(&space, &name, &[&first, &second]);
    // Neither side counts the other as sharing anything.
    for p in peers(&a).await {
        if p.peer == c.peer_id() || p.peer == raw_peer {
            assert!(
                p.spaces.is_empty(),
                "A shares {:?} with {}",
                p.spaces,
                p.peer
            );
        }
    }
    for p in peers(&c).await {
        assert!(
            p.spaces.is_empty(),
            "C shares {:?} with {}",
            p.spaces,
            p.peer
        );
    }
    // C holds only its personal space, and nothing of the shared one is anywhere in its home.
    match ask(&c, Request::SpaceList).await {
        Response::Spaces { items } => {
            assert_eq!(items.len(), 1, "{items:?}");
            assert!(items[0].personal);
        }
        other => panic!("{other:?}"),
    }
    let leaks = found_in_home(dirs[2].path(), &secrets);
    assert!(leaks.is_empty(), "C's home holds: {leaks:?}");
    // The search would find them: in B's home, a member's, they are all there.
    let held = found_in_home(dirs[1].path(), &secrets);
    for what in ["the space id (hex)", "the space name", "a canary"] {
        assert!(
            held.iter().any(|h| h.ends_with(what)),
            "B's home lacks {what}: {held:?}"
        );
    }
    // The raw peer was offered nothing and received nothing of the space.
    assert!(!raw.was_offered(space_id(&space)));
    let leaks = found_in_received(&raw, &secrets);
    assert!(leaks.is_empty(), "the raw peer received: {leaks:?}");

    // Knowing the space's and a document's id is not enough: a non-member that offers the
    // space, reconciles it, asks for the document and starts an Automerge sync of it gets
    // nothing back.
    let sid = space_id(&space);
    let did = doc_id(&note);
    let asks = [
        Message::Offer {
            spaces: vec![SpaceOffer {
                space: sid,
                ops_digest: [0; 32],
            }],
        },
        Message::Recon {
            space: sid,
            parts: vec![Part::Fingerprint {
                prefix: Prefix::ROOT,
                fp: Fingerprint::default(),
            }],
        },
        Message::Recon {
            space: sid,
            parts: vec![root_split(256)],
        },
        Message::Want {
            space: sid,
            ids: vec![did],
        },
        Message::Sync {
            space: sid,
            id: did,
            msg: valid_sync_message(),
            sigs: Vec::new(),
        },
    ];
    let before = raw.received_bytes().len();
    for m in asks {
        raw.send(m).await.expect("send");
    }
    raw.ping().await;
    assert!(raw.ended().is_none(), "{:?}", raw.ended());
    let answer = &raw.received_bytes()[before..];
    for (what, needle) in secrets_of(&space, &name, &[&first, &second]) {
        // The raw peer named the space itself; only the documents' content must not come back.
        if what == "a canary" {
            assert!(!contains(answer, &needle), "the raw peer received {what}");
        }
    }
    assert!(
        !contains(answer, did.as_bytes()),
        "A answered about the document"
    );

    raw.shutdown().await;
    for n in [a, b, c] {
        n.shutdown().await;
    }
    // Once C's database is checkpointed and closed, still nothing.
    let leaks = found_in_home(dirs[2].path(), &secrets);
    assert!(
        leaks.is_empty(),
        "C's home holds, after shutdown: {leaks:?}"
    );
}

// ---- 2. removed members --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_receives_nothing_new_and_its_changes_are_refused() {
    let mut rng = test_rng(b"a_removed_member_receives_nothing_new_and_its_changes_are_refused");
    let dirs = [(); 3].map(|_| tempfile::tempdir().expect("temp dir"));
    let a = node(dirs[0].path(), "Ada").await;
    let c = node(dirs[1].path(), "Cy").await;
    let d = node(dirs[2].path(), "Di").await;

    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let plan = note_new(&a, &space, "Plan", "as agreed").await;
    let ticket = invite(&a, &space, Role::Editor).await;
    join(&c, &ticket).await.expect("C joins");
    join(&d, &ticket).await.expect("D joins");

    // B: a raw member, joined by ticket, holding the plan.
    let a_addr = listen_addr(&a).await;
    let mut b = RawPeer::connect(&a_addr).await.expect("B connects");
    b.hello(&[]).await.expect("hello");
    b.join(&Ticket::parse(&ticket).expect("ticket"))
        .await
        .expect("B joins");
    b.serve_until("the plan on B", PATIENCE, |p| {
        p.doc_bytes(doc_id(&plan)).is_some()
    })
    .await;
    // The ops B holds as a member, to offer the space with later as if it never saw its removal.
    let ops = b.ops(sid).to_vec();
    // While a member, B gets A's changes live: the control for what follows.
    let before = canary(&mut rng, "before");
    note_new(&a, &space, &before, "written while B was a member").await;
    b.serve_until("A's live note on B", PATIENCE, |p| {
        p.notes().iter().any(|(_, t, _)| *t == before)
    })
    .await;
    assert!(b.received_contains(before.as_bytes()));
    // And B's changes are taken: the same push that is refused after the removal.
    let member_note = b
        .push_note(sid, "Pushed by B while a member", "")
        .await
        .expect("push");
    until("B's note on C, while a member", || async {
        body(&c, &member_note.to_string()).await.is_some()
    })
    .await;

    // A removes B and D.
    let d_member = d.whoami().await.expect("whoami").member;
    for m in [b.member(), d_member] {
        ask(
            &a,
            Request::SpaceRemove {
                space: space.clone(),
                member: m.to_string(),
            },
        )
        .await;
    }
    for (who, n) in [("C", &c), ("D", &d)] {
        until(&format!("{who} sees B and D removed"), || async {
            let dt = detail(n, &space).await;
            dt.removed.contains(&b.member()) && dt.removed.contains(&d_member)
        })
        .await;
    }
    // D, removed, may no longer write there.
    writes_are_refused(&d, &space, &plan, "no longer a member").await;
    until("D's space list says it was removed", || async {
        matches!(ask(&d, Request::SpaceList).await, Response::Spaces { items }
            if items.iter().any(|s| s.id.to_string() == space && s.sync == SyncState::Removed))
    })
    .await;

    // A writes after the removal; C gets it, B and D never do.
    let after = canary(&mut rng, "after");
    let after_id = note_new(&a, &space, &after, &format!("body {after}")).await;
    until("A's note after the removal on C", || async {
        body(&c, &after_id).await.is_some()
    })
    .await;
    b.ping().await;
    tokio::time::sleep(SETTLE).await;
    while b.recv(Duration::from_millis(50)).await.is_some() {}
    assert!(
        !b.received_contains(after.as_bytes()),
        "the removed raw member received A's new note"
    );
    assert!(
        !has_title(&d, &space, &after).await,
        "the removed node received A's new note"
    );

    // B pushes a new note and an edit of the plan: on its open session with A, on a new
    // session with A, and to C directly.
    let plan_bytes = b.doc_bytes(doc_id(&plan)).expect("the plan").to_vec();
    let pushed_title = "Pushed by B after removal";
    let pushed_body = "B's edit after removal";
    b.push_note(sid, pushed_title, "").await.expect("push");
    b.push_edit(sid, doc_id(&plan), &plan_bytes, pushed_body)
        .await
        .expect("push");
    b.ping().await;
    let b_key = b.key().clone();
    b.shutdown().await;
    let b_peer = tacit_net::peer_id_of(&b_key.member_id())
        .expect("peer id")
        .to_string();
    until("A sees B gone", || async {
        !connected_to(&a, &b_peer).await
    })
    .await;
    let c_addr = listen_addr(&c).await;
    for (to, addr) in [("A", &a_addr), ("C", &c_addr)] {
        let mut again = RawPeer::connect_as(b_key.clone(), addr)
            .await
            .expect("B connects again");
        again.learn_ops(sid, &ops);
        again.hello(&[sid]).await.expect("hello");
        again
            .send(Message::Recon {
                space: sid,
                parts: vec![Part::Fingerprint {
                    prefix: Prefix::ROOT,
                    fp: Fingerprint::default(),
                }],
            })
            .await
            .expect("recon");
        again
            .send(Message::Recon {
                space: sid,
                parts: vec![root_split(256)],
            })
            .await
            .expect("split");
        again
            .send(Message::Want {
                space: sid,
                ids: vec![doc_id(&after_id)],
            })
            .await
            .expect("want");
        again.push_note(sid, pushed_title, "").await.expect("push");
        again
            .push_edit(sid, doc_id(&plan), &plan_bytes, pushed_body)
            .await
            .expect("push");
        again.ping().await;
        assert!(
            !again.was_offered(sid),
            "{to} offered the space to a removed member"
        );
        assert!(
            !again.received_contains(after.as_bytes()),
            "{to} sent a removed member the new note"
        );
        again.shutdown().await;
    }

    // Honest changes after the pushes still flow between A and C.
    note_reaches(&c, &a, &space, "Later, from C", "", "C's later note on A").await;
    note_reaches(&a, &c, &space, "Later, from A", "", "A's later note on C").await;
    for (who, n) in [("A", &a), ("C", &c)] {
        assert!(
            !has_title(n, &space, pushed_title).await,
            "{who} shows the removed member's note"
        );
        assert_eq!(
            body(n, &plan).await.as_deref(),
            Some("as agreed"),
            "{who} shows the removed member's edit"
        );
    }

    for n in [a, c, d] {
        n.shutdown().await;
    }
    let leaks = found_in_home(dirs[2].path(), &[("the note after removal", after.into())]);
    assert!(leaks.is_empty(), "D's home holds: {leaks:?}");
}

/// Regression: a session that handled the broadcast of one removal after a second removal had
/// already dropped its peer sent that peer the ops of the first (without its own removal), and
/// then nothing: the removed member was never told, so it went on writing changes nobody would
/// take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_removed_one_after_another_are_each_told_of_their_removal() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let a = node(dirs[0].path(), "Ada").await;
    let d = node(dirs[1].path(), "Di").await;
    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let ticket = invite(&a, &space, Role::Editor).await;
    join(&d, &ticket).await.expect("D joins");
    let parsed = Ticket::parse(&ticket).expect("ticket");
    let a_addr = listen_addr(&a).await;
    let mut raws = Vec::new();
    for _ in 0..3 {
        let mut raw = RawPeer::connect(&a_addr).await.expect("raw peer connects");
        raw.hello(&[]).await.expect("hello");
        raw.join(&parsed).await.expect("the raw peer joins");
        raws.push(raw);
    }
    let d_member = d.whoami().await.expect("whoami").member;
    // Removed back to back, D last: every session sees the earlier removals after the later.
    let mut removed: Vec<_> = raws.iter().map(RawPeer::member).collect();
    removed.push(d_member);
    for m in &removed {
        ask(
            &a,
            Request::SpaceRemove {
                space: space.clone(),
                member: m.to_string(),
            },
        )
        .await;
    }
    until("D is told of its removal", || async {
        detail(&d, &space).await.removed.contains(&d_member)
    })
    .await;
    let err = try_note_new(&d, &space, "Still here?", "")
        .await
        .expect_err("a removed member writes");
    assert!(err.to_string().contains("no longer a member"), "{err}");
    for raw in &mut raws {
        let me = raw.member();
        raw.serve_until("a raw member is told of its removal", PATIENCE, |p| {
            let ops: Vec<_> = p
                .ops(sid)
                .iter()
                .filter_map(|b| tacit_core::SignedOp::from_bytes(b).ok())
                .collect();
            tacit_core::Membership::fold(sid, ops.iter())
                .removed()
                .contains_key(&me)
        })
        .await;
    }
    for raw in raws {
        raw.shutdown().await;
    }
    a.shutdown().await;
    d.shutdown().await;
}

// ---- 3. readers ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readers_changes_are_refused_by_everyone() {
    let dirs = [(); 3].map(|_| tempfile::tempdir().expect("temp dir"));
    let a = node(dirs[0].path(), "Ada").await;
    let c = node(dirs[1].path(), "Cy").await;
    let r = node(dirs[2].path(), "Rae").await;

    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let plan = note_new(&a, &space, "Plan", "as agreed").await;
    join(&c, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("C joins");
    let readers = invite(&a, &space, Role::Reader).await;
    join(&r, &readers).await.expect("R joins");

    // The reader node reads, and may not write.
    assert_eq!(titles(&r, &space).await, ["Plan"]);
    writes_are_refused(&r, &space, &plan, "reader").await;

    // A raw reader pushes anyway: a new note and an edit, to A and to C.
    let a_addr = listen_addr(&a).await;
    let mut raw = raw_member(&a, &space, Role::Reader).await;
    raw.serve_until("the plan on the raw reader", PATIENCE, |p| {
        p.doc_bytes(doc_id(&plan)).is_some()
    })
    .await;
    let plan_bytes = raw.doc_bytes(doc_id(&plan)).expect("the plan").to_vec();
    let pushed_title = "Pushed by a reader";
    let pushed_body = "a reader's edit";
    raw.push_note(sid, pushed_title, "").await.expect("push");
    raw.push_edit(sid, doc_id(&plan), &plan_bytes, pushed_body)
        .await
        .expect("push");
    raw.ping().await;
    assert!(raw.ended().is_none(), "{:?}", raw.ended());

    let raw_member = raw.member();
    until("C knows the raw reader as a member", || async {
        detail(&c, &space)
            .await
            .members
            .iter()
            .any(|m| m.member == raw_member && m.role == Role::Reader)
    })
    .await;
    let mut to_c = RawPeer::connect_as(raw.key().clone(), &listen_addr(&c).await)
        .await
        .expect("the raw reader connects to C");
    to_c.learn_ops(sid, raw.ops(sid));
    to_c.hello(&[sid]).await.expect("hello");
    to_c.serve_until("C offers the space to its reader", PATIENCE, |p| {
        p.was_offered(sid)
    })
    .await;
    to_c.push_note(sid, pushed_title, "").await.expect("push");
    to_c.push_edit(sid, doc_id(&plan), &plan_bytes, pushed_body)
        .await
        .expect("push");
    to_c.ping().await;

    // The same pushes from a raw editor are taken: the refusals are about the role.
    let mut editor = RawPeer::connect(&a_addr)
        .await
        .expect("raw editor connects");
    editor.hello(&[]).await.expect("hello");
    editor
        .join(&Ticket::parse(&invite(&a, &space, Role::Editor).await).expect("ticket"))
        .await
        .expect("the raw editor joins");
    editor
        .serve_until("the plan on the raw editor", PATIENCE, |p| {
            p.doc_bytes(doc_id(&plan)).is_some()
        })
        .await;
    let editor_title = "Pushed by an editor";
    let editor_note = editor.push_note(sid, editor_title, "").await.expect("push");
    let editor_body = "as agreed, and the raw editor's";
    editor
        .push_edit(sid, doc_id(&plan), &plan_bytes, editor_body)
        .await
        .expect("push");
    for (who, n) in [("A", &a), ("C", &c), ("R", &r)] {
        until(
            &format!("the raw editor's note and edit on {who}"),
            || async {
                body(n, &editor_note.to_string()).await.is_some()
                    && body(n, &plan).await.as_deref() == Some(editor_body)
            },
        )
        .await;
    }
    editor.shutdown().await;

    // An honest editor's change afterwards arrives everywhere: the nodes kept serving.
    c.note_edit(
        &plan,
        NoteEdit {
            body: Some("as agreed, and C's edit".into()),
            ..NoteEdit::default()
        },
    )
    .await
    .expect("C edits");
    for (who, n) in [("A", &a), ("R", &r)] {
        until(&format!("C's edit on {who}"), || async {
            body(n, &plan).await.as_deref() == Some("as agreed, and C's edit")
        })
        .await;
    }
    raw.serve_until("C's edit on the raw reader", PATIENCE, |p| {
        p.notes()
            .iter()
            .any(|(_, _, b)| b.as_str() == "as agreed, and C's edit")
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    for (who, n) in [("A", &a), ("C", &c), ("R", &r)] {
        assert!(
            !has_title(n, &space, pushed_title).await,
            "{who} shows the reader's note"
        );
        let b = body(n, &plan).await.unwrap_or_default();
        assert!(
            !b.contains(pushed_body),
            "{who} shows the reader's edit: {b}"
        );
    }

    raw.shutdown().await;
    to_c.shutdown().await;
    for n in [a, c, r] {
        n.shutdown().await;
    }
}

// ---- 4. malformed input --------------------------------------------------------------------

/// The whole id space split `n` ways, every sub-range empty (honest splits are 16 or 256 ways).
fn root_split(n: usize) -> Part {
    Part::Split {
        prefix: Prefix::ROOT,
        fps: vec![Fingerprint::default(); n],
    }
}

/// One kind of hostile input, sent by its own raw peer.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    HugeLength,
    RandomFrame,
    GarbageSync,
    GarbageChange,
    GarbageDocs,
    BadReconPrefix,
    /// A split into 17 sub-ranges: not a split (`ReconError::BadSplit`).
    BadSplit,
    /// Splits weighing more than a `Recon` may (`MAX_PARTS`, each split counted with its
    /// fingerprints): refused as the frame is decoded.
    OverweightRecon,
    FutureVersion,
    OlderVersion,
}

impl Hostile {
    /// Whether the node ends the session. Garbage document bytes in `Change` and `Docs` are
    /// refused document by document and the session goes on: Automerge's incremental load
    /// skips chunks it cannot parse rather than failing, and a whole document that does not load
    /// may be an honest newer peer's (a kind or schema this build does not know).
    fn ends_session(self) -> bool {
        !matches!(self, Hostile::GarbageChange | Hostile::GarbageDocs)
    }

    /// Whether the peer must be a member for the input to reach the code that parses it.
    fn needs_membership(self) -> bool {
        matches!(
            self,
            Hostile::GarbageSync
                | Hostile::GarbageChange
                | Hostile::GarbageDocs
                | Hostile::BadReconPrefix
                | Hostile::BadSplit
                | Hostile::OverweightRecon
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_and_sync_messages_close_only_that_session() {
    let mut rng = test_rng(b"malformed_frames_and_sync_messages_close_only_that_session");
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let plan = note_new(&a, &space, "Plan", "as agreed").await;
    let ticket = invite(&a, &space, Role::Editor).await;
    let parsed = Ticket::parse(&ticket).expect("ticket");
    join(&b, &ticket).await.expect("B joins");
    let a_addr = listen_addr(&a).await;

    let cases = [
        Hostile::HugeLength,
        Hostile::RandomFrame,
        Hostile::GarbageSync,
        Hostile::GarbageChange,
        Hostile::GarbageDocs,
        Hostile::BadReconPrefix,
        Hostile::BadSplit,
        Hostile::OverweightRecon,
        Hostile::FutureVersion,
        Hostile::OlderVersion,
    ];
    for case in cases {
        let mut raw = RawPeer::connect(&a_addr).await.expect("raw peer connects");
        if case.needs_membership() {
            raw.hello(&[]).await.expect("hello");
            raw.join(&parsed).await.expect("the raw peer joins");
            raw.serve_until(&format!("{case:?}: the plan"), PATIENCE, |p| {
                p.doc_bytes(doc_id(&plan)).is_some()
            })
            .await;
        }
        let mut garbage = vec![0u8; 64];
        rand::Rng::fill(&mut rng, garbage.as_mut_slice());
        match case {
            Hostile::HugeLength => raw
                .send_bytes_unframed(&[0xff, 0xff, 0xff, 0xff])
                .await
                .expect("send"),
            Hostile::RandomFrame => {
                // A first byte past the last variant: never a message.
                garbage[0] = 0xee;
                raw.send_raw(&garbage).await.expect("send");
            }
            Hostile::GarbageSync => raw
                .send(Message::Sync {
                    space: sid,
                    id: doc_id(&plan),
                    msg: garbage,
                    sigs: Vec::new(),
                })
                .await
                .expect("send"),
            Hostile::GarbageChange => raw
                .send(Message::Change {
                    space: sid,
                    id: doc_id(&plan),
                    data: garbage,
                    sigs: Vec::new(),
                })
                .await
                .expect("send"),
            Hostile::GarbageDocs => raw
                .send(Message::Docs {
                    space: sid,
                    docs: vec![WholeDoc {
                        id: DocId::random(),
                        data: garbage,
                        sigs: Vec::new(),
                    }],
                })
                .await
                .expect("send"),
            Hostile::BadReconPrefix => raw
                .send(Message::Recon {
                    space: sid,
                    parts: vec![Part::Fingerprint {
                        // Digits past its depth are set: not a prefix.
                        prefix: Prefix {
                            depth: 1,
                            bits: [0xff; 16],
                        },
                        fp: Fingerprint::default(),
                    }],
                })
                .await
                .expect("send"),
            Hostile::BadSplit => raw
                .send(Message::Recon {
                    space: sid,
                    parts: vec![root_split(17)],
                })
                .await
                .expect("send"),
            Hostile::OverweightRecon => {
                // 16 disjoint 256-way splits: 16 × 257 fingerprints to compare, over 4,096.
                let parts = Prefix::ROOT
                    .children()
                    .into_iter()
                    .map(|prefix| Part::Split {
                        prefix,
                        fps: vec![Fingerprint::default(); 256],
                    })
                    .collect::<Vec<_>>();
                assert!(tacit_net::recon::weight(&parts) > tacit_net::wire::MAX_PARTS);
                raw.send(Message::Recon { space: sid, parts })
                    .await
                    .expect("send")
            }
            Hostile::FutureVersion => raw
                .send(Message::Hello {
                    version: 999,
                    spaces: vec![],
                })
                .await
                .expect("send"),
            // A peer of the previous protocol: told to upgrade, never half-synced.
            Hostile::OlderVersion => raw
                .send(Message::Hello {
                    version: tacit_net::wire::VERSION - 1,
                    spaces: vec![],
                })
                .await
                .expect("send"),
        }
        if case.ends_session() {
            let end = raw.wait_end(&format!("{case:?}"), RAW_PATIENCE).await;
            if let End::Bye(reason) = &end {
                assert!(!reason.is_empty(), "{case:?}: a Bye without a reason");
            }
            if matches!(case, Hostile::OlderVersion | Hostile::FutureVersion) {
                let End::Bye(reason) = &end else {
                    panic!("{case:?}: closed without saying why: {end:?}");
                };
                assert!(reason.contains("upgrade"), "{case:?}: {reason}");
            }
        } else {
            // Handled (the ping comes back after it), refused, and nothing of it kept.
            raw.ping().await;
            assert!(raw.ended().is_none(), "{case:?}: {:?}", raw.ended());
            assert_eq!(titles(&a, &space).await, ["Plan"], "{case:?}");
        }
        // A runs on, and the plan is as it was.
        let status = a.status().await.expect("A still answers");
        assert!(
            status.peers.iter().any(|p| p.peer == b.peer_id()),
            "{case:?}: A lost B"
        );
        assert_eq!(body(&a, &plan).await.as_deref(), Some("as agreed"));
        raw.shutdown().await;
    }

    // B's session with A carried on through all of it: changes flow both ways.
    note_reaches(
        &b,
        &a,
        &space,
        "From B",
        "after the garbage",
        "B's note on A",
    )
    .await;
    note_reaches(
        &a,
        &b,
        &space,
        "From A",
        "after the garbage",
        "A's note on B",
    )
    .await;
    assert_eq!(titles(&a, &space).await.len(), 3);

    a.shutdown().await;
    b.shutdown().await;
}

// ---- 5. tickets and joins ------------------------------------------------------------------

/// How an inviter refuses a join that does not prove it holds one of its invitations: the same
/// words whatever is wrong, so that a peer cannot probe which spaces the node holds.
const NO_MATCH: &str = "no invitation here matches this ticket";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_forged_join_is_refused() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let ticket = invite(&a, &space, Role::Editor).await;
    let parsed = Ticket::parse(&ticket).expect("ticket");
    let only_ada = vec!["Ada".to_owned()];

    // A ticket whose secret is changed (and re-encoded, so it parses): refused by A.
    let mut wrong = parsed.clone();
    wrong.secret[0] ^= 1;
    let err = join(&b, &wrong.to_string())
        .await
        .expect_err("a wrong secret");
    assert!(err.to_string().contains(NO_MATCH), "{err}");
    assert_eq!(member_names(&a, &space).await, only_ada);

    // An expired ticket: refused before dialling…
    let expiring = invite_for(&a, &space, Role::Editor, Some(1), None).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let err = join(&b, &expiring).await.expect_err("an expired ticket");
    assert!(err.to_string().contains("expired"), "{err}");
    // …and by A, for a joiner that sends it anyway.
    let a_addr = listen_addr(&a).await;
    let mut raw = RawPeer::connect(&a_addr).await.expect("raw peer connects");
    raw.hello(&[]).await.expect("hello");
    let why = raw
        .join(&Ticket::parse(&expiring).expect("ticket"))
        .await
        .expect_err("an expired invitation");
    assert!(why.contains("expired"), "{why}");

    // A join signed by another key than the joining device's: refused.
    let other = DeviceKey::generate();
    let forged = RawPeer::join_op(&other, &parsed);
    let why = raw
        .join_with(parsed.space, forged.to_bytes())
        .await
        .expect_err("a join signed by another key");
    assert!(why.contains(NO_MATCH), "{why}");
    // A join whose signed bytes were altered after signing: refused.
    let mut altered = RawPeer::join_op(raw.key(), &parsed).to_bytes();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let why = raw
        .join_with(parsed.space, altered)
        .await
        .expect_err("an altered join");
    assert!(why.contains(NO_MATCH), "{why}");
    raw.ping().await;
    assert!(!raw.was_offered(parsed.space));
    raw.shutdown().await;
    assert_eq!(member_names(&a, &space).await, only_ada);

    // Text that is not a ticket, or a damaged one: refused with what to do.
    let err = join(&b, "hello, please join my space")
        .await
        .expect_err("not a ticket");
    assert!(
        err.to_string().contains("does not start with tacit1"),
        "{err}"
    );
    let mut damaged = ticket.clone().into_bytes();
    let i = damaged.len() / 2;
    damaged[i] = if damaged[i] == b'a' { b'b' } else { b'a' };
    let damaged = String::from_utf8(damaged).expect("ascii");
    let err = join(&b, &damaged).await.expect_err("a damaged ticket");
    assert!(err.to_string().contains("damaged"), "{err}");
    let err = join(&b, &ticket[..ticket.len() / 2])
        .await
        .expect_err("half a ticket");
    assert!(err.to_string().contains("damaged"), "{err}");

    // None of it left B with the space, or A with another member; the real ticket still works.
    match ask(&b, Request::SpaceList).await {
        Response::Spaces { items } => assert_eq!(items.len(), 1, "{items:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(member_names(&a, &space).await, only_ada);
    join(&b, &ticket).await.expect("the real ticket");
    assert_eq!(member_names(&a, &space).await, ["Ada", "Bo"]);
    // Leaving tells the inviter, although the space is gone from B's home at once.
    ask(
        &b,
        Request::SpaceLeave {
            space: space.clone(),
        },
    )
    .await;
    until("A sees B leave", || async {
        member_names(&a, &space).await == only_ada
    })
    .await;

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_cannot_be_sent_is_said_to_be_done_with() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(dir.path(), "Ada").await;
    let space = space_new(&a, "Team").await;
    note_new(&a, &space, "Held by A", "").await;
    let ticket = Ticket::parse(&invite(&a, &space, Role::Editor).await).expect("ticket");
    let mut raw = RawPeer::connect(&listen_addr(&a).await)
        .await
        .expect("raw peer");
    raw.join(&ticket).await.expect("raw joins");
    // A document A does not hold (in this space or at all): without an answer the asker would
    // wait for it forever and show the space as syncing.
    let missing = DocId::random();
    raw.send(Message::Want {
        space: space_id(&space),
        ids: vec![missing],
    })
    .await
    .expect("want");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Synced for a document A cannot send"
        );
        match raw.recv(Duration::from_millis(200)).await {
            Some(Message::Synced { id, .. }) if id == missing => break,
            _ => {}
        }
    }
    raw.shutdown().await;
    a.shutdown().await;
}

/// Ada (a node in `dir`) owns a space with a note "Plan" ("as agreed"), and a raw peer joined
/// it as an editor and holds the note. Returns Ada, the raw peer, the space, the note and the
/// raw peer's bytes of it.
async fn raw_editor_of_a_plan(dir: &Path) -> (Node, RawPeer, SpaceId, String, Vec<u8>) {
    let a = node(dir, "Ada").await;
    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let plan = note_new(&a, &space, "Plan", "as agreed\n").await;
    let pid = doc_id(&plan);
    let ticket = Ticket::parse(&invite(&a, &space, Role::Editor).await).expect("ticket");
    let mut raw = RawPeer::connect(&listen_addr(&a).await)
        .await
        .expect("raw peer");
    raw.join(&ticket).await.expect("raw joins");
    raw.serve_until("the plan on the raw peer", PATIENCE, |p| {
        p.doc_bytes(pid).is_some()
    })
    .await;
    let base = raw.doc_bytes(pid).expect("the plan").to_vec();
    (a, raw, sid, plan, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_change_that_arrives_before_its_dependency_counts_with_its_signature() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, mut raw, sid, plan, base) = raw_editor_of_a_plan(dir.path()).await;
    let pid = doc_id(&plan);
    let under = raw.heads(sid);
    let append = |base: &[u8], line: &str| {
        forge(base, raw.member(), &under, now_ms(), |doc| {
            use automerge::ReadDoc as _;
            use automerge::transaction::Transactable as _;
            let (_, body) = doc.get(automerge::ROOT, "body")?.expect("a body");
            let len = doc.text(&body)?.chars().count();
            doc.splice_text(&body, len, 0, line)?;
            Ok(())
        })
        .expect("an edit")
    };
    let (first, first_hashes) = append(&base, "first line\n");
    let (second, second_hashes) = append(&[base.as_slice(), &first].concat(), "second line\n");
    // The second change first: A's copy keeps it waiting for the first, which comes in the
    // next message with its own signature only.
    for (changes, hashes) in [(second, &second_hashes), (first, &first_hashes)] {
        raw.send(Message::Sync {
            space: sid,
            id: pid,
            msg: sync_carrying(changes, hashes),
            sigs: sign_changes(raw.key(), sid, pid, hashes),
        })
        .await
        .expect("sync");
    }
    until("both lines in A's plan", || async {
        body(&a, &plan)
            .await
            .is_some_and(|b| b.contains("first line") && b.contains("second line"))
    })
    .await;
    assert!(raw.ended().is_none(), "{:?}", raw.ended());
    raw.shutdown().await;
    a.shutdown().await;
}

/// `n` changes by `actor` one after another on the document `base`, each appending `line(i)` to
/// its body and naming the membership heads `under`: the bytes and hash of each.
fn chain(
    base: &[u8],
    actor: tacit_core::MemberId,
    under: &[tacit_core::OpHash],
    n: usize,
    line: impl Fn(usize) -> String,
) -> Vec<(Vec<u8>, [u8; 32])> {
    use automerge::transaction::{CommitOptions, Transactable as _};
    use automerge::{ROOT, ReadDoc as _};
    let mut doc = automerge::AutoCommit::load(base).expect("the base");
    doc.set_actor(actor.actor_id());
    (0..n)
        .map(|i| {
            let before = doc.get_heads();
            let (_, body) = doc.get(ROOT, "body").expect("read").expect("a body");
            let len = doc.length(&body);
            doc.splice_text(&body, len, 0, &line(i)).expect("an edit");
            doc.commit_with(
                CommitOptions::default()
                    .with_time(now_ms().div_euclid(1000))
                    .with_message(tacit_core::under_message(under)),
            );
            let hash = doc.get_heads()[0].0;
            (doc.save_after(&before), hash)
        })
        .collect()
}

/// Changes a node dropped for leaving too many waiting (300 of about 1 KB after a withheld
/// one, each in a sync message of its own: past both of `tacit_core`'s `MAX_WAITING_CHANGES`
/// and `MAX_WAITING_BYTES`) apply when they are sent again after the withheld one, each once,
/// and the member is not taken for hostile (an honest one can leave changes waiting too). This
/// shows the drop loses nothing and blames nobody; that the node holds no more than the bounds
/// is shown in `tacit-core` (`a_peer_cannot_make_a_document_keep_more_than_the_bound_of_waiting_changes`)
/// and measured by the hostile benchmark's waiting-changes phase: without the drop, this test
/// passes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_left_waiting_past_the_bound_are_dropped_and_apply_when_sent_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, mut raw, sid, plan, base) = raw_editor_of_a_plan(dir.path()).await;
    let pid = doc_id(&plan);
    let changes = chain(&base, raw.member(), &raw.heads(sid), 301, |i| {
        format!("line {i} {}\n", "x".repeat(1000))
    });
    let (first, rest) = changes.split_first().expect("changes");
    let key = raw.key().clone();
    let send = |changes: &[(Vec<u8>, [u8; 32])]| {
        let bytes: Vec<u8> = changes.iter().flat_map(|(b, _)| b.clone()).collect();
        let hashes: Vec<[u8; 32]> = changes.iter().map(|(_, h)| *h).collect();
        Message::Sync {
            space: sid,
            id: pid,
            msg: sync_carrying(bytes, &hashes[hashes.len() - 1..]),
            sigs: sign_changes(&key, sid, pid, &hashes),
        }
    };
    for change in rest {
        let msg = send(std::slice::from_ref(change));
        raw.send(msg).await.expect("a waiting change");
    }
    let msg = send(std::slice::from_ref(first));
    raw.send(msg).await.expect("the withheld change");
    let msg = send(rest);
    raw.send(msg).await.expect("the rest again");
    until("every line in A's plan", || async {
        body(&a, &plan)
            .await
            .is_some_and(|b| b.contains("line 0 ") && b.contains("line 300 "))
    })
    .await;
    let text = body(&a, &plan).await.expect("the plan");
    assert_eq!(text.matches("line ").count(), 301, "each line once");
    assert!(raw.ended().is_none(), "{:?}", raw.ended());
    raw.shutdown().await;
    a.shutdown().await;
}

/// Bo (in `dirs[1]`) starts again and is in session with Ada: a note Ada writes in `space`
/// reaches it.
async fn bo_back(dirs: &[tempfile::TempDir; 2], a: &Node, space: &str) -> Node {
    let b = Node::open(dirs[1].path()).await.expect("reopen B");
    b.start_network(loopback()).await.expect("B's network");
    let fine = note_new(a, space, "Fine", "still syncing\n").await;
    until("A's note on B", || async {
        body(&b, &fine).await.is_some()
    })
    .await;
    b
}

/// Ada (in `dirs[0]`, running) owns a space with a note "Broken on Bo" (`text`) that Bo (in
/// `dirs[1]`, an editor) received; Bo is stopped, and its stored copy of the note overwritten
/// with bytes that do not load (a damaged disk). Returns Ada, the space and the note.
async fn damaged_on_bo(dirs: &[tempfile::TempDir; 2], text: &str) -> (Node, String, String) {
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let space = space_new(&a, "Team").await;
    let broken = note_new(&a, &space, "Broken on Bo", text).await;
    join(&b, &invite(&a, &space, Role::Editor).await)
        .await
        .expect("join");
    assert!(body(&b, &broken).await.is_some());
    b.shutdown().await;
    let db = rusqlite::Connection::open(dirs[1].path().join("tacit.db")).expect("B's database");
    let damaged = db
        .execute(
            "UPDATE chunks SET data = X'856f4a830102030405' WHERE doc = ?1",
            [&broken],
        )
        .expect("B's chunks overwritten");
    assert!(damaged > 0, "B's chunks of the note");
    (a, space, broken)
}

/// A node whose stored copy of a document no longer loads (a damaged disk), while it and the
/// other members hold the same version of it (nothing to sync: reconciliation finds them equal),
/// asks the members for their copy when the document is read, and that copy replaces the
/// damaged one: the note opens again, and after a restart too. Before, only a member's next
/// change to it brought the copy, and a note nobody edited stayed unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_copy_that_nobody_changes_is_repaired_from_a_member_when_it_is_read() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, space, broken) = damaged_on_bo(&dirs, "as agreed\n").await;
    let b = bo_back(&dirs, &a, &space).await;
    // Reading it fails as corrupt, and asks A for its copy.
    let err = b
        .execute(Request::NoteShow { id: broken.clone() })
        .await
        .expect_err("the damaged note does not open");
    assert!(err.to_string().contains(&broken[..8]), "{err}");
    until("the damaged note replaced by A's copy", || async {
        body(&b, &broken).await.as_deref() == Some("as agreed\n")
    })
    .await;
    b.shutdown().await;
    let b = Node::open(dirs[1].path()).await.expect("reopen B again");
    assert_eq!(body(&b, &broken).await.as_deref(), Some("as agreed\n"));
    a.shutdown().await;
    b.shutdown().await;
}

/// A member that dials a node and opens no sync stream (as a node of sync protocol 4 did when
/// its peer id was the larger: it left the stream to the smaller) still gets a session: the
/// node, whose peer id is the smaller, opens the stream after a wait, and the member, which
/// accepted it, starts reconciliation and receives the space's notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_dials_and_opens_no_stream_gets_one_from_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "Ada").await;
    let space = space_new(&a, "Team").await;
    let plan = note_new(&a, &space, "Plan", "as agreed\n").await;
    let a_peer: tacit_net::PeerId = a.peer_id().parse().unwrap();
    let key = std::iter::repeat_with(DeviceKey::generate)
        .find(|k| tacit_net::peer_id_of(&k.member_id()).is_some_and(|p| p > a_peer))
        .unwrap();
    let addr = listen_addr(&a).await;
    let ticket = Ticket::parse(&invite(&a, &space, Role::Editor).await).unwrap();
    let mut joined = RawPeer::connect_as(key.clone(), &addr)
        .await
        .expect("connect");
    joined.hello(&[]).await.expect("hello");
    joined.join(&ticket).await.expect("join");
    let ops = joined.ops(ticket.space).to_vec();
    joined.shutdown().await;

    let mut older = RawPeer::connect_waiting(key, &addr)
        .await
        .expect("the node opens the sync stream");
    assert!(older.first(), "the side that accepted the stream starts");
    older.learn_ops(ticket.space, &ops);
    older.hello(&[ticket.space]).await.expect("hello");
    older
        .serve_until("the space offered", PATIENCE, |p| {
            p.was_offered(ticket.space)
        })
        .await;
    older.start_sync(ticket.space).await.expect("start");
    older
        .serve_until("the plan", PATIENCE, |p| {
            p.notes().iter().any(|(_, title, _)| title == "Plan")
        })
        .await;
    assert!(older.doc_bytes(doc_id(&plan)).is_some());
    older.shutdown().await;
    a.shutdown().await;
}

/// A member whose connection drops and who reconnects at once gets a session on the new
/// connection, every time, even while the node is still ending the old session (its actor busy
/// with ops the member sent just before it dropped): the new stream replaces the session of
/// the closed connection instead of being refused as a second stream with the member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_reconnects_at_once_gets_a_session_every_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(dir.path(), "Ada").await;
    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let addr = listen_addr(&a).await;
    let mut raw = raw_member(&a, &space, Role::Editor).await;
    let key = raw.key().clone();
    for round in 0..10u32 {
        let ops = raw.ops(sid).to_vec();
        // Ops after a dependency nobody holds: work for the node's actor, which the old
        // session's end waits behind.
        let busy: Vec<Vec<u8>> = (0..2_000u32)
            .map(|i| {
                let mut missing = [0u8; 32];
                missing[..4].copy_from_slice(&round.to_be_bytes());
                missing[4..8].copy_from_slice(&i.to_be_bytes());
                sign_op(
                    &key,
                    sid,
                    vec![OpHash(missing)],
                    now_ms() + i64::from(i),
                    OpBody::Withdraw {
                        invite: OpHash([1; 32]),
                    },
                )
                .to_bytes()
            })
            .collect();
        raw.push_ops(sid, busy).await.expect("send");
        raw.shutdown().await;
        raw = RawPeer::connect_as(key.clone(), &addr)
            .await
            .expect("reconnect");
        raw.learn_ops(sid, &ops);
        if let Err(e) = raw.hello(&[sid]).await {
            panic!("round {round}: hello: {e:#}");
        }
        raw.ping().await;
        assert!(raw.ended().is_none(), "round {round}: {:?}", raw.ended());
    }
    raw.shutdown().await;
    a.shutdown().await;
}

/// A member that opens its sync stream again while, to the node, its session on the first one
/// still runs (the member's connection broke without a word and the node has not noticed) gets
/// a session on the new stream: the node holds it for a moment, then it replaces the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_opens_its_stream_again_gets_a_session_on_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(dir.path(), "Ada").await;
    let space = space_new(&a, "Team").await;
    let sid = space_id(&space);
    let mut raw = raw_member(&a, &space, Role::Editor).await;
    raw.open_again().await.expect("a second stream");
    raw.hello(&[sid]).await.expect("hello on the second stream");
    raw.ping().await;
    assert!(raw.ended().is_none(), "{:?}", raw.ended());
    // The first stream is no longer read: the note can only come over the second.
    let plan = note_new(&a, &space, "Plan", "as agreed\n").await;
    raw.serve_until("the space offered", PATIENCE, |p| p.was_offered(sid))
        .await;
    raw.start_sync(sid).await.expect("start");
    raw.serve_until("the plan over the second stream", PATIENCE, |p| {
        p.doc_bytes(doc_id(&plan)).is_some()
    })
    .await;
    raw.shutdown().await;
    a.shutdown().await;
}

/// A node whose own stored copy of a document does not load (its data damaged on disk) does
/// not blame the member who sends changes to it or reconciles it: the member is not taken for
/// a hostile one (its sessions refused for a while, the members list saying what it did), the
/// space's other documents keep syncing, and the member's next change to the document brings
/// its whole copy, which replaces the damaged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_copy_of_a_document_is_not_blamed_on_the_member_who_sends_it() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, space, broken) = damaged_on_bo(&dirs, "one\n").await;
    a.note_edit(
        &broken,
        NoteEdit {
            body: Some("one\ntwo\n".into()),
            ..NoteEdit::default()
        },
    )
    .await
    .unwrap();
    let b = bo_back(&dirs, &a, &space).await;
    // A changes the damaged note again while the session runs, then writes another note.
    a.note_edit(
        &broken,
        NoteEdit {
            body: Some("one\ntwo\nthree\n".into()),
            ..NoteEdit::default()
        },
    )
    .await
    .unwrap();
    let after = note_new(&a, &space, "After", "still syncing\n").await;
    until("A's next note on B", || async {
        body(&b, &after).await.is_some()
    })
    .await;
    let ada = detail(&b, &space)
        .await
        .members
        .into_iter()
        .find(|m| m.name == "Ada")
        .expect("Ada in B's members list");
    assert_eq!(ada.why, None, "A was taken for a hostile member");
    assert!(ada.connected);
    until("the damaged note replaced by A's copy", || async {
        body(&b, &broken).await.as_deref() == Some("one\ntwo\nthree\n")
    })
    .await;
    // Repaired for good: it loads from B's store again after a restart.
    b.shutdown().await;
    let b = Node::open(dirs[1].path()).await.expect("reopen B again");
    assert_eq!(
        body(&b, &broken).await.as_deref(),
        Some("one\ntwo\nthree\n")
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// A member's sync message with a Bloom filter of one byte that asks for 2³² − 1 probes, and
/// heads A does not hold: Automerge would test each of A's changes against it, after allocating
/// the probes (16 GiB), on A's actor. It is refused before Automerge sees it: the member's
/// session ends as hostile (a sync message that is not one), and A goes on syncing with others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bloom_filter_of_billions_of_probes_is_refused_and_syncing_goes_on() {
    use automerge::sync::{BloomFilter, Have, Message as SyncMessage, State, SyncDoc as _};
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, mut raw, sid, plan, base) = raw_editor_of_a_plan(dir.path()).await;
    let pid = doc_id(&plan);
    let mut doc = automerge::AutoCommit::load(&base).expect("the plan loads");
    let honest = doc
        .sync()
        .generate_sync_message(&mut State::new())
        .expect("a first message");
    let hostile = SyncMessage {
        heads: vec![automerge::ChangeHash([9; 32])],
        have: vec![Have {
            last_sync: Vec::new(),
            bloom: BloomFilter::try_from(&[1u8, 8, 0xff, 0xff, 0xff, 0xff, 0x0f, 0][..])
                .expect("a filter"),
        }],
        ..honest
    };
    raw.send(Message::Sync {
        space: sid,
        id: pid,
        msg: hostile.encode(),
        sigs: Vec::new(),
    })
    .await
    .expect("sync");
    let end = raw.wait_end("the hostile member's session", PATIENCE).await;
    assert!(format!("{end:?}").contains("not one"), "{end:?}");
    // A's actor is free: a member joining now gets the plan.
    let bdir = tempfile::tempdir().expect("temp dir");
    let b = node(bdir.path(), "Bo").await;
    join(&b, &invite(&a, &sid.to_string(), Role::Reader).await)
        .await
        .expect("Bo joins");
    until("the plan on Bo", || async {
        body(&b, &plan)
            .await
            .is_some_and(|t| t.contains("as agreed"))
    })
    .await;
    raw.shutdown().await;
    for n in [a, b] {
        n.shutdown().await;
    }
}
