//! Sixteen members converge: sixteen nodes on 127.0.0.1 (in this process, mDNS off), all in one
//! space and each connected to every other, each append a line to a note at the same moment
//! (half of them to one shared note, half to a note of their own); every member ends up with
//! every line and the same heads of every document of the space. No timing is asserted: the
//! benchmark `benches/converge.rs` measures how long it takes.

use std::time::Duration;

use tacit_tests::converge::Mesh;

/// Members.
const MEMBERS: usize = 16;
/// Longest the test waits for convergence before it fails (the benchmark's goal is 2 s).
const PATIENCE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_members_changing_notes_at_the_same_moment_converge() {
    let mesh = Mesh::build(MEMBERS).await;
    let changes = mesh.change_at_once(0).await;
    assert_eq!(changes.len(), MEMBERS);
    if let Err(missing) = mesh
        .wait_converged(&changes, Duration::from_millis(50), PATIENCE)
        .await
    {
        panic!("the members did not converge within {PATIENCE:?}: {missing}");
    }

    // Every member holds every line, once, and the same heads of the changed notes.
    let targets: Vec<&str> = (0..MEMBERS).map(|i| mesh.target(i)).collect();
    let reference: Vec<_> = {
        let mut views = Vec::new();
        for id in &targets {
            views.push(mesh.nodes[0].note_show(id).await.expect("a changed note"));
        }
        views
    };
    for (i, node) in mesh.nodes.iter().enumerate() {
        for (id, want) in targets.iter().zip(&reference) {
            let view = node.note_show(id).await.expect("a changed note");
            assert_eq!(view.heads, want.heads, "member {i}: the heads of {id}");
            assert_eq!(view.body, want.body, "member {i}: the body of {id}");
        }
    }
    for c in &changes {
        let body = &reference[c.member].body;
        assert_eq!(
            body.matches(c.line.as_str()).count(),
            1,
            "member {}'s line {:?} in {body:?}",
            c.member,
            c.line
        );
    }
    mesh.shutdown().await;
}
