//! Relays, hole punching, reachability and the stranger cap, with real nodes on loopback
//! (mDNS off). The same behaviour through real NATs is in `nat.rs`.

use std::{collections::HashSet, future::Future, time::Duration};

use anyhow::{Context as _, Result, bail, ensure};
use futures::StreamExt as _;
use libp2p::{SwarmBuilder, noise, swarm::SwarmEvent, tcp, yamux};
use tacit_core::DeviceKey;
use tacit_net::{
    Limits, Multiaddr, Net, NetConfig, NetEvent, PeerId, Reachability, RelayState, codec::Framed,
};
use tokio::sync::{mpsc, oneshot};

/// Only a bound on hangs: nothing here should take more than a fraction of it.
const WAIT: Duration = Duration::from_secs(30);

/// Long enough that AutoNAT never probes during a test that must stay "unknown" (on loopback
/// every node is reachable, and a public node gives up its relay reservations).
const NEVER: Duration = Duration::from_secs(3600);

/// The frame size for echo checks (well under the relay's per-circuit byte limit).
const MAX_FRAME: usize = 1024 * 1024;

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(WAIT, fut)
        .await
        .with_context(|| format!("timed out after {WAIT:?} waiting for {what}"))
}

/// Waits until `check` holds, polling; for states that have no event of their own.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) -> Result<()> {
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn free_tcp() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn config(listen: &[Multiaddr]) -> NetConfig {
    let mut cfg = NetConfig::new(DeviceKey::generate().secret());
    cfg.listen = listen.to_vec();
    cfg.mdns = false;
    cfg.autonat_only_global_ips = false;
    cfg.limits.autonat_boot_delay = NEVER;
    cfg.limits.relay_retry = Duration::from_millis(500);
    cfg
}

fn tcp_any() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().expect("valid")
}

/// A running node whose events are pumped: inbound sync streams are echoed, everything else is
/// passed on to `events`.
struct Node {
    net: Net,
    events: mpsc::UnboundedReceiver<NetEvent>,
}

impl Node {
    async fn start(cfg: NetConfig) -> Result<Node> {
        // RUST_LOG=tacit_net=debug,libp2p_dcutr=debug… shows what the nodes do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (net, mut raw) = Net::start(cfg).await?;
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = raw.recv().await {
                match event {
                    NetEvent::IncomingStream { stream, .. } => {
                        tokio::spawn(async move {
                            let mut framed = Framed::new(stream, MAX_FRAME);
                            while let Ok(Some(frame)) = framed.recv().await {
                                if framed.send(&frame).await.is_err() {
                                    break;
                                }
                            }
                            let _ = framed.close().await;
                        });
                    }
                    other => {
                        let _ = tx.send(other);
                    }
                }
            }
        });
        Ok(Node { net, events })
    }

    /// The first event for which `pick` returns something; other events are skipped.
    async fn expect<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(NetEvent) -> Option<T>,
    ) -> Result<T> {
        within(what, async {
            loop {
                match self.events.recv().await {
                    Some(event) => {
                        if let Some(found) = pick(event) {
                            return Ok(found);
                        }
                    }
                    None => bail!("event channel closed while waiting for {what}"),
                }
            }
        })
        .await?
    }

    /// Waits for the reservation on `relay` and returns the circuit address.
    async fn reserved(&mut self, relay: PeerId) -> Result<Multiaddr> {
        self.expect("a relay reservation", |e| match e {
            NetEvent::Relay {
                relay: r,
                state: RelayState::Reserved { circuit_addr },
            } if r == relay => Some(circuit_addr),
            _ => None,
        })
        .await
    }
}

/// A relay server on loopback, given its address as public.
async fn relay_server(limits: impl FnOnce(&mut Limits)) -> Result<(Node, Multiaddr)> {
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", free_tcp()?).parse()?;
    let mut cfg = config(std::slice::from_ref(&addr));
    cfg.relay_server = true;
    cfg.external_addrs = vec![addr.clone()];
    limits(&mut cfg.limits);
    let relay = Node::start(cfg).await?;
    let with_peer = addr.with(libp2p::multiaddr::Protocol::P2p(relay.net.peer_id()));
    Ok((relay, with_peer))
}

/// Opens a sync stream to `peer` (which echoes) and checks frames come back whole.
async fn check_echo(net: &Net, peer: PeerId) -> Result<()> {
    let stream = within("open_stream", net.open_stream(peer)).await??;
    let mut framed = Framed::new(stream, MAX_FRAME);
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let frames: Vec<&[u8]> = vec![b"hello", &big, b"bye"];
    for frame in &frames {
        within("send", framed.send(frame)).await??;
        let back = within("echo", framed.recv())
            .await??
            .context("stream ended early")?;
        ensure!(back == *frame, "echoed frame differs");
    }
    within("close", framed.close()).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reserves_on_its_relay_and_a_peer_reaches_it_through_the_circuit() -> Result<()> {
    let (mut relay, relay_addr) = relay_server(|_| {}).await?;
    let relay_peer = relay.net.peer_id();

    // Neither A nor B listens directly, so no hole punch can make their connection direct: it
    // stays relayed. (A node needs no listener of its own to be reached through a relay.)
    let mut cfg = config(&[]);
    cfg.relays = vec![relay_addr.clone()];
    let mut a = Node::start(cfg).await?;
    let circuit = a.reserved(relay_peer).await?;
    ensure!(
        circuit.to_string().ends_with(&format!(
            "/p2p/{relay_peer}/p2p-circuit/p2p/{}",
            a.net.peer_id()
        )),
        "circuit address {circuit} is not the relay's /p2p-circuit to A"
    );
    ensure!(
        a.net.listen_addrs().await.contains(&circuit),
        "listen_addrs lacks the circuit address"
    );
    let relays = a.net.relays().await;
    ensure!(
        relays.len() == 1
            && relays[0].peer == relay_peer
            && relays[0].state
                == RelayState::Reserved {
                    circuit_addr: circuit.clone()
                },
        "relays() is {relays:?}"
    );
    relay
        .expect("the relay sees A", |e| match e {
            NetEvent::Connected { peer, relayed, .. } if peer == a.net.peer_id() => Some(relayed),
            _ => None,
        })
        .await?
        .map_or(Ok(()), |r| bail!("A reached the relay through {r}"))?;

    let mut b = Node::start(config(&[])).await?;
    let a_peer = a.net.peer_id();
    within("B dials A's circuit", b.net.dial(circuit.clone())).await??;
    let relayed = b
        .expect("B sees A connect", |e| match e {
            NetEvent::Connected { peer, relayed, .. } if peer == a_peer => Some(relayed),
            _ => None,
        })
        .await?;
    ensure!(
        relayed == Some(relay_peer),
        "B's connection to A: relayed by {relayed:?}"
    );
    let relayed = a
        .expect("A sees B connect", |e| match e {
            NetEvent::Connected { peer, relayed, .. } if peer == b.net.peer_id() => Some(relayed),
            _ => None,
        })
        .await?;
    ensure!(
        relayed == Some(relay_peer),
        "A's connection from B: relayed by {relayed:?}"
    );
    let conns = b.net.connected().await;
    let to_a = conns
        .iter()
        .find(|(p, _)| *p == a_peer)
        .context("B lists no connection to A")?;
    ensure!(
        to_a.1.iter().all(|c| c.relayed == Some(relay_peer)),
        "connected() shows {to_a:?}"
    );
    check_echo(&b.net, a_peer).await?;

    // Relays at runtime: drop it, add it again.
    ensure!(
        a.net.remove_relay(relay_peer).await,
        "the relay was not in use"
    );
    ensure!(a.net.relays().await.is_empty(), "relays() after remove");
    eventually("the circuit address goes", async || {
        !a.net.listen_addrs().await.contains(&circuit)
    })
    .await?;
    a.net.add_relay(relay_addr).await?;
    a.reserved(relay_peer).await?;

    for net in [&b.net, &a.net, &relay.net] {
        net.shutdown().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_address_without_a_peer_id_is_refused_with_the_fix() -> Result<()> {
    let mut cfg = config(&[]);
    cfg.relays = vec!["/ip4/127.0.0.1/tcp/4001".parse()?];
    let err = Net::start(cfg)
        .await
        .err()
        .context("started without a relay peer id")?;
    ensure!(err.to_string().contains("/p2p/RELAY_PEER_ID"), "{err}");

    let a = Node::start(config(&[])).await?;
    let err = a
        .net
        .add_relay("/ip4/127.0.0.1/tcp/4001".parse()?)
        .await
        .err()
        .context("add_relay took an address without a peer id")?;
    ensure!(err.to_string().contains("/p2p/RELAY_PEER_ID"), "{err}");
    a.net.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_relay_refuses_and_the_node_says_so_in_words() -> Result<()> {
    let (relay, relay_addr) = relay_server(|l| l.relay_max_reservations = 0).await?;
    let mut cfg = config(&[tcp_any()]);
    cfg.relays = vec![relay_addr];
    let mut a = Node::start(cfg).await?;
    let reason = a
        .expect("the relay's refusal", |e| match e {
            NetEvent::Relay {
                state: RelayState::Refused { reason },
                ..
            } => Some(reason),
            _ => None,
        })
        .await?;
    ensure!(reason.contains("the relay is full"), "reason: {reason}");
    let relays = a.net.relays().await;
    ensure!(
        matches!(&relays[..], [r] if matches!(&r.state, RelayState::Refused { .. } | RelayState::Pending)),
        "relays() is {relays:?}"
    );
    a.net.shutdown().await;
    relay.net.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_not_a_relay_refuses_and_the_node_says_so_in_words() -> Result<()> {
    let plain = Node::start(config(&[tcp_any()])).await?;
    let addr = plain.net.listen_addrs().await[0]
        .clone()
        .with(libp2p::multiaddr::Protocol::P2p(plain.net.peer_id()));
    let mut cfg = config(&[tcp_any()]);
    cfg.relays = vec![addr];
    let mut a = Node::start(cfg).await?;
    let reason = a
        .expect("the refusal", |e| match e {
            NetEvent::Relay {
                state: RelayState::Refused { reason },
                ..
            } => Some(reason),
            _ => None,
        })
        .await?;
    ensure!(
        reason.contains("does not serve relay reservations"),
        "reason: {reason}"
    );
    a.net.shutdown().await;
    plain.net.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_connection_becomes_direct_and_new_streams_use_the_direct_one() -> Result<()> {
    let (relay, relay_addr) = relay_server(|_| {}).await?;
    let relay_peer = relay.net.peer_id();
    // Both listen on loopback, so the hole punch can succeed; both use the relay, so each has a
    // connection to it and learns its observed address.
    let mut a_cfg = config(&[tcp_any()]);
    a_cfg.relays = vec![relay_addr.clone()];
    let mut a = Node::start(a_cfg).await?;
    let circuit = a.reserved(relay_peer).await?;
    let mut b_cfg = config(&[tcp_any()]);
    b_cfg.relays = vec![relay_addr];
    let mut b = Node::start(b_cfg).await?;
    b.reserved(relay_peer).await?;

    let a_peer = a.net.peer_id();
    within("B dials A's circuit", b.net.dial(circuit.clone())).await??;
    let relayed = b
        .expect("B connects to A", |e| match e {
            NetEvent::Connected { peer, relayed, .. } if peer == a_peer => Some(relayed),
            _ => None,
        })
        .await?;
    ensure!(
        relayed == Some(relay_peer),
        "first connection relayed by {relayed:?}"
    );
    // A stream over the circuit (or already direct: on loopback the hole punch is quick).
    check_echo(&b.net, a_peer)
        .await
        .context("the first stream")?;
    let path = b
        .expect("the path to A to change", |e| match e {
            NetEvent::PathChanged { peer, relayed, .. } if peer == a_peer => Some(relayed),
            _ => None,
        })
        .await?;
    ensure!(path.is_none(), "path changed to {path:?}, not direct");
    let conns = b.net.connected().await;
    let to_a = &conns
        .iter()
        .find(|(p, _)| *p == a_peer)
        .context("B lists no connection to A")?
        .1;
    ensure!(
        to_a.iter().any(|c| c.relayed.is_none()),
        "connected() shows no direct connection: {to_a:?}"
    );

    // Streams opened now must all be on the direct connection: once the relay is gone (and the
    // relayed connection with it), every one still works. With a random pick among the two
    // connections, 8 streams would all survive by chance once in 256 runs.
    let mut streams = Vec::new();
    for i in 0..8 {
        let stream = within("open_stream", b.net.open_stream(a_peer)).await??;
        let mut framed = Framed::new(stream, MAX_FRAME);
        within("send", framed.send(b"hello")).await??;
        let back = within("echo", framed.recv()).await??;
        ensure!(
            back.as_deref() == Some(&b"hello"[..]),
            "stream {i} echoed {back:?}"
        );
        streams.push(framed);
    }
    relay.net.shutdown().await;
    eventually("the relayed connection to close", async || {
        b.net
            .connected()
            .await
            .iter()
            .filter(|(p, _)| *p == a_peer)
            .all(|(_, cs)| cs.iter().all(|c| c.relayed.is_none()))
    })
    .await?;
    for (i, framed) in streams.iter_mut().enumerate() {
        within("send", framed.send(b"still here"))
            .await?
            .with_context(|| format!("stream {i} broke with the relay: it was relayed"))?;
        let back = within("echo", framed.recv())
            .await?
            .with_context(|| format!("stream {i} broke with the relay: it was relayed"))?;
        ensure!(
            back.as_deref() == Some(&b"still here"[..]),
            "stream {i} echoed {back:?}"
        );
    }
    b.net.shutdown().await;
    a.net.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_dial_each_other_back_learn_they_are_public_and_drop_their_reservations()
-> Result<()> {
    let (relay, relay_addr) = relay_server(|_| {}).await?;
    let relay_peer = relay.net.peer_id();
    let mut cfg = config(&[tcp_any()]);
    cfg.relays = vec![relay_addr];
    cfg.limits.autonat_boot_delay = Duration::from_millis(500);
    let mut a = Node::start(cfg).await?;
    ensure!(
        a.net.reachability().await == Reachability::Unknown,
        "reachability before any probe"
    );
    let a_addr = a
        .net
        .listen_addrs()
        .await
        .into_iter()
        .find(|a| !a.to_string().contains("p2p-circuit"))
        .context("A has no direct listen address")?;
    // On loopback the relay dials A back: A is public, and gives up its reservation.
    let external = a
        .expect("reachability public", |e| match e {
            NetEvent::Reachability {
                reachability: Reachability::Public,
                external_addrs,
            } if external_addrs.contains(&a_addr) => Some(external_addrs),
            _ => None,
        })
        .await?;
    ensure!(
        external.contains(&a_addr),
        "external {external:?} lacks {a_addr}"
    );
    ensure!(
        a.net.reachability().await == Reachability::Public,
        "reachability()"
    );
    ensure!(
        a.net.external_addrs().await.contains(&a_addr),
        "external_addrs() lacks {a_addr}"
    );
    eventually("the relay to be not needed", async || {
        a.net
            .relays()
            .await
            .iter()
            .all(|r| r.peer == relay_peer && r.state == RelayState::NotNeeded)
    })
    .await?;
    a.net.shutdown().await;
    relay.net.shutdown().await;
    Ok(())
}

/// A bare libp2p node (no Tacit protocols) that dials `target` and keeps the connection until
/// told to stop; reports whether its dial got a connection.
fn stranger(
    target: Multiaddr,
    done: oneshot::Sender<bool>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let built = SwarmBuilder::with_new_identity().with_tokio().with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        );
        let Ok(builder) = built else {
            let _ = done.send(false);
            return;
        };
        let mut swarm = builder
            .with_behaviour(|_| libp2p::swarm::dummy::Behaviour)
            .expect("infallible")
            .with_swarm_config(|c| c.with_idle_connection_timeout(NEVER))
            .build();
        if swarm.dial(target).is_err() {
            let _ = done.send(false);
            return;
        }
        let mut done = Some(done);
        let mut stop = stop;
        loop {
            tokio::select! {
                event = swarm.select_next_some() => match event {
                    SwarmEvent::ConnectionEstablished { .. } => {
                        if let Some(d) = done.take() { let _ = d.send(true); }
                    }
                    SwarmEvent::OutgoingConnectionError { .. } => {
                        if let Some(d) = done.take() { let _ = d.send(false); }
                    }
                    _ => {}
                },
                _ = stop.changed() => return,
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_strangers_cannot_take_the_slots_of_members() -> Result<()> {
    const STRANGERS: usize = 200;
    /// Dials in flight at once: under `max_pending_incoming`, so every stranger reaches the gate.
    const WAVE: usize = 8;
    let mut cfg = config(&[tcp_any()]);
    cfg.limits.idle_timeout = NEVER;
    let max = cfg.limits.max_stranger_connections as usize;
    let target = Node::start(cfg).await?;
    let addr = target.net.listen_addrs().await[0].clone();

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for wave in (0..STRANGERS).collect::<Vec<_>>().chunks(WAVE) {
        let mut waits = Vec::new();
        for _ in wave {
            let (done, wait) = oneshot::channel();
            stranger(addr.clone(), done, stop.clone());
            waits.push(wait);
        }
        for wait in waits {
            // Established, or refused by the gate during the upgrade: either way it was tried.
            let _ = within("a stranger's dial", wait).await?;
        }
    }
    // The gate kept `max` of the 200 and refused the rest.
    eventually("the refused strangers to be gone", async || {
        target.net.connected().await.len() == max
    })
    .await?;
    ensure!(
        target.net.stranger_connections().await == max,
        "stranger count {}",
        target.net.stranger_connections().await
    );

    // A member still gets in and syncs.
    let member = Node::start(config(&[])).await?;
    target
        .net
        .set_members(HashSet::from([member.net.peer_id()]))
        .await;
    within("the member dials", member.net.dial(addr)).await??;
    check_echo(&member.net, target.net.peer_id()).await?;
    let connected = target.net.connected().await;
    ensure!(
        connected.iter().any(|(p, _)| *p == member.net.peer_id()),
        "the member is not connected"
    );
    ensure!(
        connected.len() == max + 1,
        "{} peers connected",
        connected.len()
    );

    let _ = stop_tx.send(true);
    member.net.shutdown().await;
    target.net.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_is_renewed_and_outlives_its_duration() -> Result<()> {
    /// The relay's reservation lifetime; the client renews at three quarters of it.
    const DURATION: Duration = Duration::from_secs(4);
    let (relay, relay_addr) = relay_server(|l| l.relay_reservation_duration = DURATION).await?;
    let relay_peer = relay.net.peer_id();
    let mut cfg = config(&[]);
    cfg.relays = vec![relay_addr];
    let mut a = Node::start(cfg).await?;
    let circuit = a.reserved(relay_peer).await?;
    // Past two lifetimes: without renewal the relay would have dropped the reservation and
    // refused the circuit ("no reservation").
    tokio::time::sleep(DURATION * 5 / 2).await;
    let b = Node::start(config(&[])).await?;
    within("B dials A's circuit", b.net.dial(circuit)).await??;
    check_echo(&b.net, a.net.peer_id()).await?;
    let relays = a.net.relays().await;
    ensure!(
        matches!(&relays[..], [r] if matches!(r.state, RelayState::Reserved { .. })),
        "relays() is {relays:?}"
    );
    for net in [&b.net, &a.net, &relay.net] {
        net.shutdown().await;
    }
    Ok(())
}
