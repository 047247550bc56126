//! Helpers for tests that run several nodes in this process: nodes on 127.0.0.1 with mDNS
//! off, the space and note requests they make, and bounded waits.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tacit_node::core::{Draft, MemberId, ProfileEdit, Role};
use tacit_node::{NetOptions, Node, NodeError, PeerInfo, Request, Response, SpaceDetail};

/// Longest any wait in these tests may take before it fails (never a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Listen on 127.0.0.1 only, with mDNS off: the only network tests may use.
pub fn loopback() -> NetOptions {
    NetOptions {
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        mdns: false,
        ..NetOptions::default()
    }
}

/// A new home at `dir` with a profile named `name`, its network on loopback.
pub async fn node(dir: &Path, name: &str) -> Node {
    crate::log_from_env();
    let profile = ProfileEdit {
        name: Some(name.into()),
        org: Some(format!("{name} Org")),
        ..ProfileEdit::default()
    };
    let (node, _) = Node::init(dir, profile).await.expect("init");
    node.start_network(loopback()).await.expect("network");
    node
}

/// Runs a request that must succeed.
pub async fn ask(node: &Node, req: Request) -> Response {
    node.execute(req).await.expect("request")
}

/// The member id of `node`'s home.
pub async fn member_id(node: &Node) -> MemberId {
    match ask(node, Request::Status).await {
        Response::Status(s) => s.member,
        other => panic!("{other:?}"),
    }
}

/// Creates a space; its id.
pub async fn space_new(node: &Node, name: &str) -> String {
    match ask(node, Request::SpaceNew { name: name.into() }).await {
        Response::SpaceCreated { id, .. } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

/// A ticket to `space` for `role`, with the given expiry (ms) and uses.
pub async fn invite_for(
    node: &Node,
    space: &str,
    role: Role,
    expires_in: Option<u64>,
    uses: Option<u32>,
) -> String {
    let req = Request::SpaceInvite {
        space: space.into(),
        role,
        expires_in,
        uses,
    };
    match ask(node, req).await {
        Response::Ticket { ticket, .. } => ticket,
        other => panic!("{other:?}"),
    }
}

/// A ticket to `space` for `role`, valid for an hour, any number of uses.
pub async fn invite(node: &Node, space: &str, role: Role) -> String {
    invite_for(node, space, role, Some(3_600_000), None).await
}

/// Joins by ticket; the space id.
pub async fn join(node: &Node, ticket: &str) -> Result<String, NodeError> {
    match node
        .execute(Request::SpaceJoin {
            ticket: ticket.into(),
        })
        .await?
    {
        Response::SpaceCreated { id, .. } => Ok(id.to_string()),
        other => panic!("{other:?}"),
    }
}

/// Writes a note in `space`; its id, or the node's refusal.
pub async fn try_note_new(
    node: &Node,
    space: &str,
    title: &str,
    body: &str,
) -> Result<String, NodeError> {
    let req = Request::NoteNew {
        draft: Draft {
            title: title.into(),
            body: body.into(),
            tags: vec![],
            aliases: Vec::new(),
        },
        space: Some(space.into()),
    };
    match node.execute(req).await? {
        Response::Created { id } => Ok(id.to_string()),
        other => panic!("{other:?}"),
    }
}

/// Writes a note in `space` that must succeed; its id.
pub async fn note_new(node: &Node, space: &str, title: &str, body: &str) -> String {
    try_note_new(node, space, title, body)
        .await
        .expect("a new note")
}

/// The titles of the notes of `space`, newest first.
pub async fn titles(node: &Node, space: &str) -> Vec<String> {
    let req = Request::NoteList {
        limit: None,
        space: Some(space.into()),
    };
    match ask(node, req).await {
        Response::List { items } => items.into_iter().map(|i| i.title).collect(),
        other => panic!("{other:?}"),
    }
}

/// Whether `space` holds a note titled `title`.
pub async fn has_title(node: &Node, space: &str, title: &str) -> bool {
    titles(node, space).await.iter().any(|t| t == title)
}

/// A note's body, if the node holds it.
pub async fn body(node: &Node, id: &str) -> Option<String> {
    node.note_show(id).await.ok().map(|n| n.body)
}

/// A space with its members.
pub async fn detail(node: &Node, space: &str) -> SpaceDetail {
    match ask(
        node,
        Request::SpaceShow {
            space: space.into(),
        },
    )
    .await
    {
        Response::Space(d) => d,
        other => panic!("{other:?}"),
    }
}

/// The names of a space's members, sorted.
pub async fn member_names(node: &Node, space: &str) -> Vec<String> {
    let mut names: Vec<String> = detail(node, space)
        .await
        .members
        .into_iter()
        .map(|m| m.name)
        .collect();
    names.sort();
    names
}

/// Connected peers.
pub async fn peers(node: &Node) -> Vec<PeerInfo> {
    match ask(node, Request::Peers).await {
        Response::Peers { items } => items,
        other => panic!("{other:?}"),
    }
}

/// Whether `peer` is connected.
pub async fn connected_to(node: &Node, peer: &str) -> bool {
    peers(node).await.iter().any(|p| p.peer == peer)
}

/// The node's first listen address (a `/ip4/127.0.0.1/tcp/…` multiaddr).
pub async fn listen_addr(node: &Node) -> String {
    let status = node.status().await.expect("status");
    let addr = status
        .listen_addrs
        .into_iter()
        .next()
        .expect("a listening node");
    assert!(addr.starts_with("/ip4/127.0.0.1/"), "{addr}");
    addr
}

/// Polls `check` until it holds; fails after [`PATIENCE`] with `what`.
pub async fn until<F, Fut>(what: &str, mut check: F)
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

/// Writes a note on `from` in `space` and waits until `to` holds it (`what` names the wait in
/// a failure); its id.
pub async fn note_reaches(
    from: &Node,
    to: &Node,
    space: &str,
    title: &str,
    text: &str,
    what: &str,
) -> String {
    let id = note_new(from, space, title, text).await;
    until(what, || async { body(to, &id).await.is_some() }).await;
    id
}
