//! A bare Tacit network node for tests and benchmarks in network namespaces: starts a [`Net`] from
//! command-line flags and prints what happens as JSON lines on stdout. Inbound sync streams are
//! echoed. Exits when stdin closes (so it never outlives the test that started it).
//!
//! ```text
//! netpeer --seed NAME [--listen ADDR]… [--relay-server] [--use-relay ADDR]… [--external ADDR]…
//!         [--dial ADDR]… [--autonat-boot-ms N] [--autonat-retry-ms N] [--only-global-ips]
//!         [--dial-timeout-ms N]
//! ```
//!
//! `--dial` waits until every `--use-relay` holds a reservation (so that the NAT mapping to the
//! relay exists and the node knows its observed address), dials, then opens a sync stream and
//! checks an echo. Both sides check again when the path to a peer they met through a relay
//! changes, or when a hole punch fails (libp2p reports the failure on the side that accepted
//! the relayed connection only). Every line has
//! `t_ms`, milliseconds since the node started. mDNS is always off.

use std::{collections::HashSet, time::Duration};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tacit_net::{Multiaddr, Net, NetConfig, NetEvent, PeerId, RelayState, codec::Framed};
use tokio::{sync::mpsc, time::Instant};

/// The largest frame the echo accepts; the check sends a few bytes.
const MAX_FRAME: usize = 64 * 1024;

/// How long a stream check may take before it reports failure.
const STREAM_CHECK_TIMEOUT: Duration = Duration::from_secs(20);

struct Args {
    seed: String,
    listen: Vec<Multiaddr>,
    relay_server: bool,
    relays: Vec<Multiaddr>,
    external: Vec<Multiaddr>,
    dial: Vec<Multiaddr>,
    autonat_boot: Option<Duration>,
    autonat_retry: Option<Duration>,
    only_global_ips: bool,
    dial_timeout: Option<Duration>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        seed: String::new(),
        listen: Vec::new(),
        relay_server: false,
        relays: Vec::new(),
        external: Vec::new(),
        dial: Vec::new(),
        autonat_boot: None,
        autonat_retry: None,
        only_global_ips: false,
        dial_timeout: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => args.seed = value()?,
            "--listen" => args.listen.push(value()?.parse()?),
            "--relay-server" => args.relay_server = true,
            "--use-relay" => args.relays.push(value()?.parse()?),
            "--external" => args.external.push(value()?.parse()?),
            "--dial" => args.dial.push(value()?.parse()?),
            "--autonat-boot-ms" => {
                args.autonat_boot = Some(Duration::from_millis(value()?.parse()?))
            }
            "--autonat-retry-ms" => {
                args.autonat_retry = Some(Duration::from_millis(value()?.parse()?))
            }
            "--only-global-ips" => args.only_global_ips = true,
            "--dial-timeout-ms" => {
                args.dial_timeout = Some(Duration::from_millis(value()?.parse()?))
            }
            other => bail!("unknown flag {other} (see the doc comment of examples/netpeer.rs)"),
        }
    }
    if args.seed.is_empty() {
        bail!("--seed NAME is needed (the node's key is derived from it)");
    }
    Ok(args)
}

/// Prints one JSON line with the time since start.
fn print(start: Instant, mut line: Value) {
    if let Value::Object(map) = &mut line {
        map.insert(
            "t_ms".to_owned(),
            json!(start.elapsed().as_secs_f64() * 1000.0),
        );
    }
    println!("{line}");
}

fn opt(peer: Option<PeerId>) -> Value {
    peer.map_or(Value::Null, |p| json!(p.to_string()))
}

/// Opens a sync stream to `peer`, sends a frame, and reports whether the echo came back and over
/// which path.
async fn stream_check(net: Net, peer: PeerId, start: Instant, why: &'static str) {
    let result = tokio::time::timeout(STREAM_CHECK_TIMEOUT, async {
        let stream = net.open_stream(peer).await?;
        let mut framed = Framed::new(stream, MAX_FRAME);
        framed.send(b"tacit").await?;
        let back = framed.recv().await?;
        framed.close().await?;
        anyhow::ensure!(back.as_deref() == Some(&b"tacit"[..]), "echo differs");
        Ok::<(), anyhow::Error>(())
    })
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("no echo within {STREAM_CHECK_TIMEOUT:?}")));
    let path = net
        .connected()
        .await
        .into_iter()
        .find(|(p, _)| *p == peer)
        .map(|(_, conns)| {
            if conns.iter().any(|c| c.relayed.is_none()) {
                None
            } else {
                conns.iter().find_map(|c| c.relayed)
            }
        });
    print(
        start,
        json!({
            "event": "stream",
            "why": why,
            "peer": peer.to_string(),
            "ok": result.is_ok(),
            "error": result.err().map(|e| format!("{e:#}")),
            "relayed": path.map_or(Value::Null, opt),
        }),
    );
}

async fn echo(stream: libp2p::Stream) {
    let mut framed = Framed::new(stream, MAX_FRAME);
    while let Ok(Some(frame)) = framed.recv().await {
        if framed.send(&frame).await.is_err() {
            break;
        }
    }
    let _ = framed.close().await;
}

#[tokio::main]
async fn main() -> Result<()> {
    let start = Instant::now();
    // Logs on standard error when RUST_LOG asks for them (the JSON lines stay on standard output).
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let args = parse_args()?;
    let secret: [u8; 32] = Sha256::digest(args.seed.as_bytes()).into();
    let mut cfg = NetConfig::new(secret);
    cfg.listen = args.listen;
    cfg.mdns = false;
    cfg.relay_server = args.relay_server;
    cfg.relays = args.relays.clone();
    cfg.external_addrs = args.external;
    cfg.autonat_only_global_ips = args.only_global_ips;
    // Test runs reuse nothing, but a relay restarted by a benchmark sees the same IPs again.
    cfg.limits.relay_retry = Duration::from_secs(1);
    if let Some(d) = args.autonat_boot {
        cfg.limits.autonat_boot_delay = d;
    }
    if let Some(d) = args.autonat_retry {
        cfg.limits.autonat_retry_interval = d;
    }
    if let Some(d) = args.dial_timeout {
        cfg.limits.dial_timeout = d;
    }
    let (net, mut events) = Net::start(cfg).await?;
    let listen: Vec<String> = net
        .listen_addrs()
        .await
        .iter()
        .map(|a| a.to_string())
        .collect();
    print(
        start,
        json!({"event": "started", "peer": net.peer_id().to_string(), "listen": listen}),
    );

    // Stdin closing (the test ended, or died) ends the node.
    let (quit_tx, mut quit) = mpsc::channel::<()>(1);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = quit_tx.blocking_send(());
    });

    let relays: HashSet<PeerId> = net.relays().await.iter().map(|r| r.peer).collect();
    let mut reserved: HashSet<PeerId> = HashSet::new();
    let mut to_dial = args.dial;
    let mut dialled: HashSet<PeerId> = HashSet::new();
    // Peers met through a relay: checked again when their path changes.
    let mut met_relayed: HashSet<PeerId> = HashSet::new();
    if relays.is_empty() {
        dial_all(&net, &mut to_dial, &mut dialled, start);
    }
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
            _ = quit.recv() => break,
        };
        let line = match event {
            NetEvent::IncomingStream { stream, .. } => {
                tokio::spawn(echo(stream));
                continue;
            }
            NetEvent::Listening { addr } => json!({"event": "listening", "addr": addr.to_string()}),
            NetEvent::Connected {
                peer,
                addr,
                outbound,
                relayed,
            } => {
                if dialled.contains(&peer) {
                    tokio::spawn(stream_check(net.clone(), peer, start, "connected"));
                }
                if relayed.is_some() {
                    met_relayed.insert(peer);
                }
                json!({"event": "connected", "peer": peer.to_string(), "addr": addr.to_string(),
                       "outbound": outbound, "relayed": opt(relayed)})
            }
            NetEvent::Disconnected { peer } => {
                json!({"event": "disconnected", "peer": peer.to_string()})
            }
            NetEvent::PathChanged {
                peer,
                relayed,
                addr,
            } => {
                if dialled.contains(&peer) || met_relayed.contains(&peer) {
                    tokio::spawn(stream_check(net.clone(), peer, start, "path"));
                }
                json!({"event": "path", "peer": peer.to_string(), "relayed": opt(relayed),
                       "addr": addr.to_string()})
            }
            NetEvent::HolePunch { peer, result } => {
                if (dialled.contains(&peer) || met_relayed.contains(&peer)) && result.is_err() {
                    tokio::spawn(stream_check(net.clone(), peer, start, "hole_punch_failed"));
                }
                json!({"event": "hole_punch", "peer": peer.to_string(), "ok": result.is_ok(),
                       "error": result.err()})
            }
            NetEvent::Reachability {
                reachability,
                external_addrs,
            } => {
                let external: Vec<String> = external_addrs.iter().map(|a| a.to_string()).collect();
                json!({"event": "reachability", "reachability": reachability, "external_addrs": external})
            }
            NetEvent::Relay { relay, state } => {
                let mut line = json!({"event": "relay", "relay": relay.to_string()});
                let fields = match &state {
                    RelayState::Pending => json!({"state": "pending"}),
                    RelayState::Reserved { circuit_addr } => {
                        reserved.insert(relay);
                        json!({"state": "reserved", "circuit_addr": circuit_addr.to_string()})
                    }
                    RelayState::Refused { reason } => json!({"state": "refused", "reason": reason}),
                    RelayState::Unreachable { reason } => {
                        json!({"state": "unreachable", "reason": reason})
                    }
                    RelayState::NotNeeded => json!({"state": "not_needed"}),
                    other => json!({"state": format!("{other:?}")}),
                };
                if let (Value::Object(line), Value::Object(fields)) = (&mut line, fields) {
                    line.extend(fields);
                }
                if !to_dial.is_empty() && relays.iter().all(|r| reserved.contains(r)) {
                    print(start, line);
                    dial_all(&net, &mut to_dial, &mut dialled, start);
                    continue;
                }
                line
            }
            NetEvent::Identified { .. } | NetEvent::Discovered { .. } => continue,
            other => json!({"event": "other", "debug": format!("{other:?}")}),
        };
        print(start, line);
    }
    net.shutdown().await;
    Ok(())
}

/// Dials every address in `to_dial` (each in its own task) and remembers the peers.
fn dial_all(
    net: &Net,
    to_dial: &mut Vec<Multiaddr>,
    dialled: &mut HashSet<PeerId>,
    start: Instant,
) {
    for addr in to_dial.drain(..) {
        if let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() {
            dialled.insert(peer);
        }
        print(
            start,
            json!({"event": "dialling", "addr": addr.to_string()}),
        );
        let net = net.clone();
        tokio::spawn(async move {
            let result = net.dial(addr.clone()).await;
            print(
                start,
                json!({"event": "dialled", "addr": addr.to_string(), "ok": result.is_ok(),
                       "error": result.err().map(|e| e.to_string())}),
            );
        });
    }
}
