//! Nodes for the benchmarks: a home with a profile, its network on 127.0.0.1 (mDNS off).

#![allow(dead_code)]

use std::path::Path;

use tacit_node::core::ProfileEdit;
use tacit_node::{NetOptions, Node};

/// Listening on 127.0.0.1 only, mDNS off.
pub fn loopback() -> NetOptions {
    NetOptions {
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        mdns: false,
        ..NetOptions::default()
    }
}

/// A new home at `dir` with a profile named `name`, its network started with `opts`.
pub async fn node(dir: &Path, name: &str, opts: NetOptions) -> Node {
    let profile = ProfileEdit {
        name: Some(name.into()),
        ..ProfileEdit::default()
    };
    let (node, _) = Node::init(dir, profile).await.unwrap();
    node.start_network(opts).await.unwrap();
    node
}
