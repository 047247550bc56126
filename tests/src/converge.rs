//! Many members in one space, on 127.0.0.1 in this process (nodes as `tacit serve` and the app
//! run them, mDNS off), each changing a note at the same moment: what the convergence test
//! (`tests/converge.rs`) and benchmark (`benches/converge.rs`) share.
//!
//! The first member creates the space and invites the others with one ticket; they join, meet
//! each other (members share where they can be reached) until every one is connected to every
//! other, and each writes a note of its own; the first also writes a note they all share. At
//! the moment ([`Mesh::change_at_once`]) every member appends a line: the even ones to the
//! shared note (concurrent edits of one document), the odd ones to their own note. Converged
//! ([`Mesh::converged`]): every member's digest of the space is the same (the same heads of
//! every document) and every line is in its note.

use std::time::{Duration, Instant};

use tacit_node::core::{NoteEdit, Role};
use tacit_node::{ErrorKind, Node, Request, Response, SpaceDigest};

use crate::nodes::{PATIENCE, connected_to, invite_for, join, node, note_new, space_new, until};

/// The members and what they hold.
pub struct Mesh {
    /// The members' nodes; the first created the space.
    pub nodes: Vec<Node>,
    /// The space they share.
    pub space: String,
    /// The note every member holds, which the even members edit at once.
    pub shared: String,
    /// Each member's own note, by member.
    pub own: Vec<String>,
    dirs: Vec<tempfile::TempDir>,
}

/// One member's change at the moment.
#[derive(Debug, Clone)]
pub struct Change {
    /// The member (index into [`Mesh::nodes`]).
    pub member: usize,
    /// The note it appended to.
    pub note: String,
    /// The line it appended.
    pub line: String,
    /// When its task was released (the moment, as this task saw it).
    pub released: Instant,
    /// When its node had written the change.
    pub written: Instant,
    /// Tries refused because the note changed between reading and writing it.
    pub conflicts: u32,
}

/// The digest of `space` on `node`.
pub async fn digest(node: &Node, space: &str) -> Result<SpaceDigest, String> {
    let req = Request::SpaceDigest {
        space: space.to_owned(),
    };
    match node.execute(req).await {
        Ok(Response::Digest(d)) => Ok(d),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Appends `line` to note `id` on `node` as an editor does: reads it, writes it back with the
/// heads it read as the base, and reads again when it changed in between (a peer's change
/// arrived). Returns how many tries were refused.
pub async fn append(node: &Node, id: &str, line: &str) -> u32 {
    let mut conflicts = 0;
    loop {
        let view = node.note_show(id).await.expect("the note to edit");
        let edit = NoteEdit {
            body: Some(format!("{}{line}", view.body)),
            base: Some(view.heads),
            ..NoteEdit::default()
        };
        match node.note_edit(id, edit).await {
            Ok(_) => return conflicts,
            Err(e) if e.kind() == ErrorKind::Conflict => conflicts += 1,
            Err(e) => panic!("appending to {id}: {e}"),
        }
    }
}

impl Mesh {
    /// `n` members (at least 2), connected each to every other, holding the shared note and
    /// every member's own note.
    pub async fn build(n: usize) -> Mesh {
        assert!(n >= 2, "a mesh needs two members");
        let mut dirs = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..n {
            let dir = tempfile::tempdir().expect("a temporary home");
            nodes.push(node(dir.path(), &format!("Member {i:02}")).await);
            dirs.push(dir);
        }
        let space = space_new(&nodes[0], "Sixteen").await;
        let uses = u32::try_from(n - 1).expect("a small mesh");
        let ticket = invite_for(&nodes[0], &space, Role::Editor, None, Some(uses)).await;
        for (i, node) in nodes.iter().enumerate().skip(1) {
            let joined = join(node, &ticket)
                .await
                .unwrap_or_else(|e| panic!("member {i} cannot join: {e}"));
            assert_eq!(joined, space);
        }
        let mut peers = Vec::new();
        for node in &nodes {
            peers.push(node.status().await.expect("status").peer_id);
        }
        for (i, node) in nodes.iter().enumerate() {
            for (j, peer) in peers.iter().enumerate() {
                if i != j {
                    until(&format!("member {i} to connect to member {j}"), || {
                        connected_to(node, peer)
                    })
                    .await;
                }
            }
        }
        let shared = note_new(&nodes[0], &space, "Shared", "Everyone's note\n").await;
        let mut own = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let title = format!("Own note of member {i:02}");
            own.push(note_new(node, &space, &title, &format!("{title}\n")).await);
        }
        let mesh = Mesh {
            nodes,
            space,
            shared,
            own,
            dirs,
        };
        let held = mesh
            .wait_converged(&[], Duration::from_millis(20), PATIENCE)
            .await;
        if let Err(p) = held {
            panic!("timed out after {PATIENCE:?} waiting for every member to hold every note: {p}");
        }
        mesh
    }

    /// The note member `i` changes at the moment: the shared note for even members, its own
    /// for odd ones.
    pub fn target(&self, i: usize) -> &str {
        if i.is_multiple_of(2) {
            &self.shared
        } else {
            &self.own[i]
        }
    }

    /// Every member appends a line (naming `round`) to its note at the same moment: one task
    /// per member, held at a barrier until all are there, then released together. Returns
    /// once every node has written its change.
    pub async fn change_at_once(&self, round: u32) -> Vec<Change> {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(self.nodes.len()));
        let tasks: Vec<_> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let node = node.clone();
                let barrier = barrier.clone();
                let note = self.target(i).to_owned();
                let line = format!("[round {round} member {i:02}]\n");
                tokio::spawn(async move {
                    barrier.wait().await;
                    let released = Instant::now();
                    let conflicts = append(&node, &note, &line).await;
                    Change {
                        member: i,
                        note,
                        line,
                        released,
                        written: Instant::now(),
                        conflicts,
                    }
                })
            })
            .collect();
        let mut changes = Vec::new();
        for t in tasks {
            changes.push(t.await.expect("a change task"));
        }
        changes
    }

    /// `Ok` when every member's digest is the same and every change of `changes` is in its
    /// note on the first member (with the same heads everywhere, then on every member);
    /// otherwise what is not there yet.
    pub async fn converged(&self, changes: &[Change]) -> Result<(), String> {
        let digests =
            futures::future::join_all(self.nodes.iter().map(|n| digest(n, &self.space))).await;
        let mut first: Option<SpaceDigest> = None;
        let mut differ = Vec::new();
        for (i, d) in digests.into_iter().enumerate() {
            let d = d.map_err(|e| format!("member {i}: {e}"))?;
            match &first {
                None => first = Some(d),
                Some(f) if f.digest != d.digest => differ.push(i),
                Some(_) => {}
            }
        }
        if !differ.is_empty() {
            return Err(format!("members {differ:?} differ from member 0"));
        }
        let held = first.map(|d| d.docs).unwrap_or_default();
        let wanted = self.own.iter().chain(std::iter::once(&self.shared));
        let missing = wanted
            .filter(|id| !held.iter().any(|(h, _)| h.to_string() == **id))
            .count();
        if missing > 0 {
            return Err(format!("{missing} notes are missing"));
        }
        for c in changes {
            let body = self.nodes[0]
                .note_show(&c.note)
                .await
                .map_err(|e| format!("{}: {e}", c.note))?
                .body;
            if !body.contains(&c.line) {
                return Err(format!("{:?} is not in {} yet", c.line.trim(), c.note));
            }
        }
        Ok(())
    }

    /// Polls [`Mesh::converged`] every `poll` until it holds, and returns when it was seen to;
    /// after `limit`, the last thing missing.
    pub async fn wait_converged(
        &self,
        changes: &[Change],
        poll: Duration,
        limit: Duration,
    ) -> Result<Instant, String> {
        let start = Instant::now();
        loop {
            match self.converged(changes).await {
                Ok(()) => return Ok(Instant::now()),
                Err(p) if start.elapsed() >= limit => return Err(p),
                Err(_) => tokio::time::sleep(poll).await,
            }
        }
    }

    /// Stops every node, then removes their homes.
    pub async fn shutdown(self) {
        futures::future::join_all(self.nodes.iter().map(Node::shutdown)).await;
        drop(self.dirs);
    }
}
