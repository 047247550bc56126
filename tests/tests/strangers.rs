//! Strangers (peers that are members of none of a node's spaces, such as a joiner until it is
//! admitted) share a small part of the node's connection slots, and peer ids, which cost
//! nothing, do not add up: one address holds only a few of those slots, and when they are all
//! taken a newcomer takes the slot of the oldest stranger. Real nodes on loopback, mDNS off.
//!
//! Every process on this machine can connect from any 127.0.0.x address, so the per-address cap
//! counts loopback only when asked ([`Limits::per_ip_cap_on_loopback`]); these tests ask. The
//! strangers are bare networks listening on QUIC at 127.0.0.2 and up, which QUIC dials leave
//! from (its socket is the listener's); the owner listens on QUIC only, so that a joiner's dial
//! is one connection; the joiner comes from 127.0.0.1.

use std::time::Duration;

use tacit_net::{Limits, Multiaddr, Net, NetConfig};
use tacit_node::core::Role;
use tacit_node::{NetOptions, Node};
use tacit_tests::nodes::*;
use tacit_tests::test_rng;

/// Stranger slots of the owner in these tests.
const SLOTS: u32 = 8;
/// Stranger connections one address may hold.
const PER_IP: u32 = 3;
/// How long an idle connection stays up here: past any wait of these tests, so that a stranger
/// holds its slot as one that keeps a stream open would (the default idle timeout is a minute).
const HELD: Duration = Duration::from_secs(3600);

/// The owner's network: QUIC on 127.0.0.1, the stranger caps of these tests.
fn owner_options(eviction_age: Duration) -> NetOptions {
    NetOptions {
        listen: vec!["/ip4/127.0.0.1/udp/0/quic-v1".into()],
        mdns: false,
        limits: Limits {
            max_stranger_connections: SLOTS,
            max_stranger_connections_per_ip: PER_IP,
            per_ip_cap_on_loopback: true,
            stranger_eviction_age: eviction_age,
            // Strangers that keep their connections busy, as an attacker would.
            idle_timeout: HELD,
            ..Limits::default()
        },
        ..NetOptions::default()
    }
}

/// A new home at `dir` named `name`, its network started with `opts`.
async fn node_with(dir: &std::path::Path, name: &str, opts: NetOptions) -> Node {
    tacit_tests::log_from_env();
    let profile = tacit_node::core::ProfileEdit {
        name: Some(name.into()),
        ..Default::default()
    };
    let (node, _) = Node::init(dir, profile).await.expect("init");
    node.start_network(opts).await.expect("network");
    node
}

/// The node's QUIC listen address.
async fn quic_addr(node: &Node) -> Multiaddr {
    let status = node.status().await.expect("status");
    status
        .listen_addrs
        .iter()
        .find(|a| a.contains("/quic-v1"))
        .expect("a QUIC address")
        .parse()
        .expect("a multiaddr")
}

/// A stranger with a key from `rng`, whose dials leave from `ip`.
async fn stranger_at(ip: &str, rng: &mut impl rand::RngCore) -> Net {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let cfg = NetConfig {
        listen: vec![
            format!("/ip4/{ip}/udp/0/quic-v1")
                .parse()
                .expect("an address"),
        ],
        mdns: false,
        limits: Limits {
            idle_timeout: HELD,
            ..Limits::default()
        },
        ..NetConfig::new(secret)
    };
    let (net, mut events) = Net::start(cfg).await.expect("a stranger's network");
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    net
}

/// Whether `net` holds a connection to anyone.
async fn connected(net: &Net) -> bool {
    !net.connected().await.is_empty()
}

/// Strangers connected now, of `nets`.
async fn still_connected(nets: &[Net]) -> usize {
    let mut n = 0;
    for net in nets {
        n += usize::from(connected(net).await);
    }
    n
}

/// Three times as many strangers as there are slots, each with a fresh peer id, from one
/// address: they used to take every slot, and a joiner (a stranger until admitted) could not
/// connect. Now that address holds `PER_IP`, and the joiner joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_from_one_address_do_not_keep_a_joiner_out() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    // The default eviction age: the joiner comes while every stranger is younger than it.
    let owner = node_with(
        dirs[0].path(),
        "Ada",
        owner_options(Limits::default().stranger_eviction_age),
    )
    .await;
    let space = space_new(&owner, "Team").await;
    let ticket = invite(&owner, &space, Role::Editor).await;
    let addr = quic_addr(&owner).await;
    let mut rng = test_rng(b"strangers_from_one_address_do_not_keep_a_joiner_out");
    let mut strangers = Vec::new();
    for _ in 0..3 * SLOTS {
        let net = stranger_at("127.0.0.2", &mut rng).await;
        // Up on this side, or refused during the upgrade: either way it was tried.
        let _ = net.dial(addr.clone()).await;
        strangers.push(net);
    }
    until(
        &format!("at most {PER_IP} strangers from 127.0.0.2 to stay connected"),
        || async { still_connected(&strangers).await <= PER_IP as usize },
    )
    .await;
    assert!(
        still_connected(&strangers).await > 0,
        "the address's share was refused too"
    );

    let joiner = node(dirs[1].path(), "Bo").await;
    let joined = tokio::time::timeout(PATIENCE, join(&joiner, &ticket))
        .await
        .expect("the join ends")
        .expect("Bo joins while strangers from one address hold what they may");
    assert_eq!(joined, space);
    for net in strangers {
        net.shutdown().await;
    }
    for n in [owner, joiner] {
        n.shutdown().await;
    }
}

/// Strangers from as many addresses as there are slots take them all, each within its
/// address's share: a joiner still connects, in the slot of the oldest stranger (past the
/// eviction age, set short here), and joins. It used to be refused like any stranger past the
/// cap, for as long as they held on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_takes_the_slot_of_the_oldest_stranger_when_all_are_taken() {
    const EVICTION_AGE: Duration = Duration::from_secs(1);
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let owner = node_with(dirs[0].path(), "Ada", owner_options(EVICTION_AGE)).await;
    let space = space_new(&owner, "Team").await;
    let ticket = invite(&owner, &space, Role::Editor).await;
    let addr = quic_addr(&owner).await;
    let mut rng = test_rng(b"a_joiner_takes_the_slot_of_the_oldest_stranger_when_all_are_taken");
    let mut strangers = Vec::new();
    for i in 0..SLOTS {
        let net = stranger_at(&format!("127.0.0.{}", 2 + i), &mut rng).await;
        net.dial(addr.clone()).await.expect("a free slot");
        let peer = net.peer_id().to_string();
        until(&format!("the owner to hold stranger {i}"), || {
            connected_to(&owner, &peer)
        })
        .await;
        strangers.push(net);
    }
    // Every slot is taken, and every stranger is past the eviction age.
    tokio::time::sleep(EVICTION_AGE).await;
    assert_eq!(still_connected(&strangers).await, SLOTS as usize);

    let joiner = node(dirs[1].path(), "Bo").await;
    let joined = tokio::time::timeout(PATIENCE, join(&joiner, &ticket))
        .await
        .expect("the join ends")
        .expect("Bo joins although strangers held every slot");
    assert_eq!(joined, space);
    // The oldest stranger made room; the newest kept its slot.
    until("the oldest stranger to be evicted", || async {
        !connected(&strangers[0]).await
    })
    .await;
    let newest = strangers.last().expect("strangers");
    assert!(connected(newest).await, "the newest stranger was evicted");
    for net in strangers {
        net.shutdown().await;
    }
    for n in [owner, joiner] {
        n.shutdown().await;
    }
}
