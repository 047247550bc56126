//! Real nodes on loopback (mDNS off): connections, sync streams, identify, limits and failures.

use std::{future::Future, time::Duration};

use anyhow::{Context as _, Result, bail};
use tacit_core::DeviceKey;
use tacit_net::{
    ConnectionInfo, Limits, Multiaddr, Net, NetConfig, NetError, NetEvent, PeerId, codec::Framed,
    member_of, peer_id_of,
};
use tokio::sync::mpsc::Receiver;

/// Only a bound on hangs: nothing here should take more than a fraction of it.
const WAIT: Duration = Duration::from_secs(30);

const TCP: &str = "/ip4/127.0.0.1/tcp/0";
const QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

fn config(listen: &[&str]) -> NetConfig {
    let mut cfg = NetConfig::new(DeviceKey::generate().secret());
    cfg.listen = listen
        .iter()
        .map(|a| a.parse().expect("a valid multiaddr"))
        .collect();
    cfg.mdns = false;
    cfg
}

async fn start(listen: &[&str]) -> Result<(Net, Receiver<NetEvent>)> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Ok(Net::start(config(listen)).await?)
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(WAIT, fut)
        .await
        .with_context(|| format!("timed out after {WAIT:?} waiting for {what}"))
}

/// The first event for which `pick` returns something; other events are skipped.
async fn expect<T>(
    events: &mut Receiver<NetEvent>,
    what: &str,
    mut pick: impl FnMut(NetEvent) -> Option<T>,
) -> Result<T> {
    within(what, async {
        loop {
            match events.recv().await {
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

/// Waits until `check` holds, polling; for states that have no event of their own.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) -> Result<()> {
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Waits for `events` to report `peer` connected.
async fn connected_event(events: &mut Receiver<NetEvent>, peer: PeerId) -> Result<()> {
    expect(
        events,
        &format!("Connected {{ peer: {peer} }}"),
        |e| match e {
            NetEvent::Connected { peer: p, .. } if p == peer => Some(()),
            _ => None,
        },
    )
    .await
}

fn addr_with(addrs: &[Multiaddr], proto: &str) -> Result<Multiaddr> {
    addrs
        .iter()
        .find(|a| a.to_string().contains(proto))
        .cloned()
        .with_context(|| format!("no {proto} address among {addrs:?}"))
}

/// Serves echo on every inbound sync stream: each frame is sent back.
fn echo_server(mut events: Receiver<NetEvent>, max: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetEvent::IncomingStream { stream, .. } = event {
                tokio::spawn(async move {
                    let mut framed = Framed::new(stream, max);
                    while let Ok(Some(frame)) = framed.recv().await {
                        if framed.send(&frame).await.is_err() {
                            break;
                        }
                    }
                    let _ = framed.close().await;
                });
            }
        }
    })
}

/// B opens a sync stream to A (which echoes) and checks the frames come back whole.
async fn check_echo(b: &Net, a: PeerId) -> Result<()> {
    let max = Limits::default().max_frame;
    let stream = within("open_stream", b.open_stream(a)).await??;
    let mut framed = Framed::new(stream, max);
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let frames: Vec<&[u8]> = vec![b"hello", b"", &big, b"bye"];
    for frame in &frames {
        within("send", framed.send(frame)).await??;
    }
    for frame in &frames {
        let back = within("echo", framed.recv())
            .await??
            .context("stream ended early")?;
        assert_eq!(back.len(), frame.len());
        assert!(back == *frame, "echoed frame differs");
    }
    within("close", framed.close()).await??;
    assert!(within("end of stream", framed.recv()).await??.is_none());
    Ok(())
}

async fn connect_and_echo(transport: &str) -> Result<()> {
    let (a, mut a_events) = start(&[transport]).await?;
    let (b, mut b_events) = start(&[]).await?;
    let a_addr = addr_with(
        &a.listen_addrs().await,
        transport.split('/').nth(3).unwrap_or(""),
    )?;

    let dialled = within("dial", b.dial(a_addr.clone())).await??;
    assert_eq!(dialled, a.peer_id());

    let (peer, outbound) = expect(&mut a_events, "A sees B connect", |e| match e {
        NetEvent::Connected { peer, outbound, .. } => Some((peer, outbound)),
        _ => None,
    })
    .await?;
    assert_eq!((peer, outbound), (b.peer_id(), false));
    let (peer, addr, outbound, relayed) = expect(&mut b_events, "B sees A connect", |e| match e {
        NetEvent::Connected {
            peer,
            addr,
            outbound,
            relayed,
        } => Some((peer, addr, outbound, relayed)),
        _ => None,
    })
    .await?;
    assert_eq!(
        (peer, &addr, outbound, relayed),
        (a.peer_id(), &a_addr, true, None)
    );
    let connected = b.connected().await;
    assert_eq!(
        connected,
        vec![(
            a.peer_id(),
            vec![ConnectionInfo {
                addr: a_addr,
                relayed: None,
                outbound: true
            }]
        )]
    );

    let server = echo_server(a_events, Limits::default().max_frame);
    check_echo(&b, a.peer_id()).await?;

    b.shutdown().await;
    a.shutdown().await;
    server.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_echo_over_tcp() -> Result<()> {
    connect_and_echo("/ip4/127.0.0.1/tcp/0").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_echo_over_quic() -> Result<()> {
    connect_and_echo("/ip4/127.0.0.1/udp/0/quic-v1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_peer_id_is_its_device_keys_member_id() -> Result<()> {
    let key = DeviceKey::generate();
    let member = key.member_id();
    let peer = peer_id_of(&member).context("a device key is a valid Ed25519 key")?;
    assert_eq!(member_of(&peer), Some(member));

    let (net, _events) = Net::start(NetConfig::new(key.secret())).await?;
    assert_eq!(net.peer_id(), peer);
    assert!(
        net.listen_addrs().await.is_empty(),
        "no listen addresses configured"
    );
    net.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_reports_the_bound_addresses() -> Result<()> {
    let (a, mut events) = start(&[TCP, QUIC]).await?;
    let addrs = a.listen_addrs().await;
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    for addr in &addrs {
        let text = addr.to_string();
        assert!(text.starts_with("/ip4/127.0.0.1/"), "{text}");
        assert!(
            !text.ends_with("/0") && !text.contains("/0/"),
            "port 0 was not resolved: {text}"
        );
        assert!(!text.contains("/p2p/"), "{text}");
    }
    for _ in 0..2 {
        let addr = expect(&mut events, "Listening", |e| match e {
            NetEvent::Listening { addr } => Some(addr),
            _ => None,
        })
        .await?;
        assert!(addrs.contains(&addr));
    }
    a.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_tells_the_dialer_where_the_listener_listens() -> Result<()> {
    let (a, mut a_events) = start(&[TCP, QUIC]).await?;
    let (b, mut b_events) = start(&[]).await?;
    let a_addrs = a.listen_addrs().await;
    b.dial(addr_with(&a_addrs, "tcp")?).await?;

    let (peer, mut told) = expect(&mut b_events, "B's Identified", |e| match e {
        NetEvent::Identified { peer, listen_addrs } => Some((peer, listen_addrs)),
        _ => None,
    })
    .await?;
    assert_eq!(peer, a.peer_id());
    let mut expected = a_addrs.clone();
    told.sort();
    expected.sort();
    assert_eq!(told, expected);

    let (peer, told) = expect(&mut a_events, "A's Identified", |e| match e {
        NetEvent::Identified { peer, listen_addrs } => Some((peer, listen_addrs)),
        _ => None,
    })
    .await?;
    assert_eq!(peer, b.peer_id());
    assert!(told.is_empty(), "B listens nowhere: {told:?}");

    b.shutdown().await;
    a.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_beyond_the_per_peer_limit_is_refused_and_the_first_keeps_serving()
-> Result<()> {
    let mut a_cfg = config(&[TCP]);
    a_cfg.limits.max_established_per_peer = 1;
    let (a, mut a_events) = Net::start(a_cfg).await?;
    let (b, _b_events) = start(&[]).await?;
    let a_addr = addr_with(&a.listen_addrs().await, "tcp")?;

    b.dial(a_addr.clone()).await?;
    connected_event(&mut a_events, b.peer_id()).await?;
    let server = echo_server(a_events, Limits::default().max_frame);
    // B allows 3 per peer, so it opens a second connection; A must refuse it. Depending on which
    // side finishes the handshake first, B sees the dial fail or the connection close at once.
    let _ = within("second dial", b.dial(a_addr.clone())).await?;
    eventually("B back to one connection to A", async || {
        let conns = b.connected().await;
        conns.len() == 1 && conns[0].1.len() == 1
    })
    .await?;
    let on_a = a.connected().await;
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a[0].0, b.peer_id());
    assert_eq!(on_a[0].1.len(), 1, "A kept a second connection: {on_a:?}");

    check_echo(&b, a.peer_id()).await?;

    b.shutdown().await;
    a.shutdown().await;
    server.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_the_total_limit_is_refused_and_the_node_keeps_serving() -> Result<()> {
    let mut a_cfg = config(&[TCP]);
    a_cfg.limits.max_established = 1;
    let (a, mut a_events) = Net::start(a_cfg).await?;
    let (b, _b_events) = start(&[]).await?;
    let (c, _c_events) = start(&[]).await?;
    let a_addr = addr_with(&a.listen_addrs().await, "tcp")?;

    b.dial(a_addr.clone()).await?;
    // `dial` returns when B's side is up; A counts the connection when its side is.
    connected_event(&mut a_events, b.peer_id()).await?;
    let server = echo_server(a_events, Limits::default().max_frame);
    let _ = within("C's dial", c.dial(a_addr.clone())).await?;
    eventually("C without a connection to A", async || {
        c.connected().await.is_empty()
    })
    .await?;
    let on_a = a.connected().await;
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(on_a[0].0, b.peer_id());

    check_echo(&b, a.peer_id()).await?;
    // C's refused stream cannot be opened either (A refuses the connection it would need).
    assert!(c.open_stream(a.peer_id()).await.is_err());

    for net in [&a, &b, &c] {
        net.shutdown().await;
    }
    server.abort();
    Ok(())
}

/// A loopback port on which nothing listens (bound, then released).
fn free_port_tcp() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn free_port_udp() -> Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialling_a_tcp_port_where_nothing_listens_fails() -> Result<()> {
    let (b, _events) = start(&[]).await?;
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", free_port_tcp()?).parse()?;
    let err = within("the failed dial", b.dial(addr.clone()))
        .await?
        .expect_err("nothing listens there");
    let text = err.to_string();
    assert!(matches!(err, NetError::Dial { .. }), "{err:?}");
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.contains("refused"), "{text}");
    b.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialling_a_quic_port_where_nothing_listens_fails() -> Result<()> {
    let (b, _events) = start(&[]).await?;
    let addr: Multiaddr = format!("/ip4/127.0.0.1/udp/{}/quic-v1", free_port_udp()?).parse()?;
    let err = within("the failed dial", b.dial(addr.clone()))
        .await?
        .expect_err("nothing listens there");
    assert!(
        matches!(err, NetError::Dial { .. } | NetError::DialTimeout { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    b.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_on_a_port_in_use_says_so() -> Result<()> {
    let (a, _events) = start(&[TCP, QUIC]).await?;
    for addr in a.listen_addrs().await {
        let mut cfg = config(&[]);
        cfg.listen = vec![addr.clone()];
        let err = Net::start(cfg).await.expect_err("the port is taken");
        let text = err.to_string();
        assert!(matches!(err, NetError::Listen { .. }), "{err:?}");
        assert!(
            text.starts_with(&format!("cannot listen on {addr}: address in use")),
            "{text}"
        );
    }
    a.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_peer_connects_to_the_expected_peer_only() -> Result<()> {
    let (a, _a_events) = start(&[TCP]).await?;
    let (b, _b_events) = start(&[]).await?;
    let (c, _c_events) = start(&[]).await?;
    let a_addrs = a.listen_addrs().await;

    // C expects someone else at A's address.
    let err = within("wrong peer", c.dial_peer(b.peer_id(), a_addrs.clone()))
        .await?
        .expect_err("A is not B");
    assert!(err.to_string().contains("not the peer expected"), "{err}");
    // Without any address for it.
    assert!(
        within("no address", c.dial_peer(b.peer_id(), vec![]))
            .await?
            .is_err()
    );

    within("dial_peer", b.dial_peer(a.peer_id(), a_addrs.clone())).await??;
    assert_eq!(b.connected().await.len(), 1);
    // Already connected: returns at once, no second connection.
    within("dial_peer again", b.dial_peer(a.peer_id(), a_addrs)).await??;
    assert_eq!(b.connected().await[0].1.len(), 1);

    for net in [&a, &b, &c] {
        net.shutdown().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_and_shutdown_are_seen_by_the_other_side() -> Result<()> {
    let (a, mut a_events) = start(&[TCP]).await?;
    let (b, mut b_events) = start(&[]).await?;
    let (c, _c_events) = start(&[]).await?;
    let a_addr = addr_with(&a.listen_addrs().await, "tcp")?;

    b.dial(a_addr.clone()).await?;
    connected_event(&mut a_events, b.peer_id()).await?;
    b.disconnect(a.peer_id()).await;
    for (events, peer) in [(&mut a_events, b.peer_id()), (&mut b_events, a.peer_id())] {
        let gone = expect(events, "Disconnected", |e| match e {
            NetEvent::Disconnected { peer } => Some(peer),
            _ => None,
        })
        .await?;
        assert_eq!(gone, peer);
    }
    assert!(b.connected().await.is_empty());

    c.dial(a_addr.clone()).await?;
    connected_event(&mut a_events, c.peer_id()).await?;
    c.shutdown().await;
    let gone = expect(&mut a_events, "C's Disconnected", |e| match e {
        NetEvent::Disconnected { peer } => Some(peer),
        _ => None,
    })
    .await?;
    assert_eq!(gone, c.peer_id());
    // A shut-down handle refuses work instead of hanging.
    assert!(matches!(c.dial(a_addr).await, Err(NetError::Shutdown)));
    assert!(matches!(
        c.open_stream(a.peer_id()).await,
        Err(NetError::Shutdown)
    ));
    assert!(c.listen_addrs().await.is_empty());
    c.shutdown().await;

    a.shutdown().await;
    b.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_stream_to_an_unknown_peer_fails() -> Result<()> {
    let (b, _events) = start(&[]).await?;
    let stranger = peer_id_of(&DeviceKey::generate().member_id()).context("valid key")?;
    let err = within("open_stream", b.open_stream(stranger))
        .await?
        .expect_err("no address for it");
    assert!(matches!(err, NetError::OpenStream { .. }), "{err:?}");
    b.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_inbound_streams_is_not_dropped() -> Result<()> {
    /// Streams opened at once from several peers: more than libp2p-stream's own queue holds.
    const PEERS: usize = 4;
    const STREAMS_PER_PEER: usize = 4;
    let (a, a_events) = start(&[TCP]).await?;
    let a_addr = a.listen_addrs().await[0].clone();
    let server = echo_server(a_events, Limits::default().max_frame);
    let mut dialers = Vec::new();
    for _ in 0..PEERS {
        let (b, events) = start(&[]).await?;
        within("dial", b.dial(a_addr.clone())).await??;
        dialers.push((b, events));
    }
    let mut tasks = Vec::new();
    for (b, _) in &dialers {
        for _ in 0..STREAMS_PER_PEER {
            let b = b.clone();
            let a = a.peer_id();
            tasks.push(tokio::spawn(async move {
                let stream = b.open_stream(a).await?;
                let mut framed = Framed::new(stream, 1024);
                framed.send(b"burst").await?;
                let back = framed.recv().await?;
                anyhow::ensure!(back.as_deref() == Some(&b"burst"[..]), "echo: {back:?}");
                Ok::<(), anyhow::Error>(())
            }));
        }
    }
    for (i, task) in tasks.into_iter().enumerate() {
        within("a stream's echo", task)
            .await??
            .with_context(|| format!("stream {i} of the burst"))?;
    }
    for (b, _) in &dialers {
        b.shutdown().await;
    }
    a.shutdown().await;
    server.abort();
    Ok(())
}
