//! The scenarios of `tests/nat.rs` and `examples/natbench.rs`: `netpeer` processes in the
//! namespaces of [`netns`](super::netns), driven through their JSON lines.

#![allow(dead_code)]

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::netns::{Host, Options, Proc, Topology};

/// A transport to run a scenario over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP + Noise + Yamux.
    Tcp,
    /// QUIC.
    Quic,
}

impl Transport {
    /// The listen address on `ip`, port 4001.
    pub fn listen(self, ip: std::net::Ipv4Addr) -> String {
        match self {
            Transport::Tcp => format!("/ip4/{ip}/tcp/4001"),
            Transport::Quic => format!("/ip4/{ip}/udp/4001/quic-v1"),
        }
    }

    /// The part of an address that names this transport.
    pub fn marker(self) -> &'static str {
        match self {
            Transport::Tcp => "/tcp/",
            Transport::Quic => "/quic-v1",
        }
    }
}

/// Which transports the hosts listen on, and which one A and B reach the relay by.
#[derive(Debug, Clone, Copy)]
pub struct Paths {
    /// What the relay, A and B listen on (port 4001 each).
    pub listen: &'static [Transport],
    /// The relay address A is given.
    pub a_via: Transport,
    /// The relay address B is given.
    pub b_via: Transport,
}

impl Paths {
    /// Everything over `transport` alone.
    pub fn only(transport: Transport) -> Self {
        let listen: &'static [Transport] = match transport {
            Transport::Tcp => &[Transport::Tcp],
            Transport::Quic => &[Transport::Quic],
        };
        Paths {
            listen,
            a_via: transport,
            b_via: transport,
        }
    }

    fn listen_args(self, ip: std::net::Ipv4Addr) -> Vec<String> {
        self.listen
            .iter()
            .flat_map(|t| ["--listen".to_owned(), t.listen(ip)])
            .collect()
    }
}

/// AutoNAT's first probe, for the nodes in the namespaces.
const AUTONAT_BOOT_MS: &str = "1000";
/// AutoNAT's retry while unsure (a dial-back that fails takes the dial timeout, 10 s).
const AUTONAT_RETRY_MS: &str = "5000";

/// Where the example binary is: `target/<profile>/examples/netpeer`, next to `deps/` where test
/// binaries live (`cargo test` builds the examples too).
pub fn netpeer_path() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or("the test binary has no directory")?
        .to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let path = dir.join("examples").join("netpeer");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing; build it with `cargo build -p tacit-net --example netpeer`",
            path.display()
        ))
    }
}

/// A `netpeer` process and the JSON lines it printed.
pub struct Peer {
    /// The process (killed on drop).
    _proc: Proc,
    lines: mpsc::Receiver<Value>,
    /// Every line read so far, for error messages.
    pub seen: Vec<Value>,
    name: String,
}

impl Peer {
    /// Starts `netpeer ARGS` in `host`'s namespace.
    pub fn start(
        topo: &Topology,
        host: &Host,
        name: &str,
        args: &[String],
    ) -> Result<Peer, String> {
        let bin = netpeer_path()?;
        let mut proc = topo.spawn(host, &bin.to_string_lossy(), args)?;
        let stdout = proc.0.stdout.take().ok_or("netpeer has no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && tx.send(value).is_err()
                {
                    break;
                }
            }
        });
        Ok(Peer {
            _proc: proc,
            lines,
            seen: Vec::new(),
            name: name.to_owned(),
        })
    }

    /// The first line (from now on) for which `pick` returns something, within `within`.
    pub fn wait<T>(
        &mut self,
        what: &str,
        within: Duration,
        mut pick: impl FnMut(&Value) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = pick(&line);
                    self.seen.push(line);
                    if let Some(found) = found {
                        return Ok(found);
                    }
                }
                Err(e) => {
                    let seen: Vec<String> = self.seen.iter().map(|v| v.to_string()).collect();
                    return Err(format!(
                        "{}: no {what} within {within:?} ({e}); its lines:\n{}",
                        self.name,
                        seen.join("\n")
                    ));
                }
            }
        }
    }
}

/// A string field of a JSON line.
pub fn field<'a>(line: &'a Value, key: &str) -> Option<&'a str> {
    line.get(key).and_then(Value::as_str)
}

fn is(line: &Value, event: &str) -> bool {
    field(line, "event") == Some(event)
}

fn t_ms(line: &Value) -> f64 {
    line.get("t_ms").and_then(Value::as_f64).unwrap_or(0.0)
}

/// How long a step may take at most; only a bound on hangs.
pub const STEP: Duration = Duration::from_secs(30);

/// The relay and the two peers of a hole-punch scenario, started and reserved.
pub struct Scene {
    /// The relay process.
    pub relay: Peer,
    /// The relay's peer id.
    pub relay_peer: String,
    /// A, behind NAT A, reserved on the relay.
    pub a: Peer,
    /// A's peer id.
    pub a_peer: String,
    /// A's circuit address.
    pub circuit: String,
}

/// A dial timeout short enough that a hole punch through port-randomising NATs gives up (after
/// libp2p's 3 attempts) within seconds, long enough for a dial between namespaces (milliseconds).
const DIAL_TIMEOUT_MS: &str = "3000";

/// Starts the relay (public addresses given) and A (reserving on it).
pub fn start_relay_and_a(topo: &Topology, paths: Paths) -> Result<Scene, String> {
    let s = |x: &str| x.to_owned();
    let mut args = vec![s("--seed"), s("relay"), s("--relay-server")];
    for t in paths.listen {
        args.extend([s("--listen"), t.listen(topo.relay.ip)]);
        args.extend([s("--external"), t.listen(topo.relay.ip)]);
    }
    args.extend([
        s("--autonat-boot-ms"),
        s(AUTONAT_BOOT_MS),
        s("--autonat-retry-ms"),
        s(AUTONAT_RETRY_MS),
    ]);
    let mut relay = Peer::start(topo, &topo.relay, "relay", &args)?;
    let relay_peer = relay.wait("start", STEP, |l| {
        is(l, "started").then(|| field(l, "peer").unwrap_or("").to_owned())
    })?;
    let relay_addr = format!("{}/p2p/{relay_peer}", paths.a_via.listen(topo.relay.ip));
    let mut args = vec![
        s("--seed"),
        s("a"),
        s("--dial-timeout-ms"),
        s(DIAL_TIMEOUT_MS),
        s("--use-relay"),
        relay_addr,
        s("--autonat-boot-ms"),
        s(AUTONAT_BOOT_MS),
        s("--autonat-retry-ms"),
        s(AUTONAT_RETRY_MS),
    ];
    args.extend(paths.listen_args(topo.a.ip));
    let mut a = Peer::start(topo, &topo.a, "A", &args)?;
    let a_peer = a.wait("start", STEP, |l| {
        is(l, "started").then(|| field(l, "peer").unwrap_or("").to_owned())
    })?;
    let circuit = a.wait("reservation", STEP, |l| {
        (is(l, "relay") && field(l, "state") == Some("reserved"))
            .then(|| field(l, "circuit_addr").unwrap_or("").to_owned())
    })?;
    Ok(Scene {
        relay,
        relay_peer,
        a,
        a_peer,
        circuit,
    })
}

/// What B saw after dialling A's circuit.
#[derive(Debug)]
pub struct Outcome {
    /// From B's dial to its relayed connection to A.
    pub relayed_ms: f64,
    /// From B's dial to the direct connection, if the hole punch worked.
    pub direct_ms: Option<f64>,
    /// The direct connection's address.
    pub direct_addr: Option<String>,
    /// Why the hole punch failed, if it did.
    pub hole_punch_error: Option<String>,
    /// The stream checks B made, in order: (why, ok, relayed by).
    pub streams: Vec<(String, bool, Option<String>)>,
    /// Why the stream checks that failed did.
    pub stream_errors: Vec<String>,
}

/// Builds the topology, starts relay, A and B (which dials A's circuit), and waits until the
/// connection is direct or the hole punch has failed, and the stream check after it is done.
pub fn hole_punch(transport: Transport, opts: Options) -> Result<Outcome, String> {
    hole_punch_over(Paths::only(transport), opts)
}

/// [`hole_punch`] with each host's transports as `paths` says.
pub fn hole_punch_over(paths: Paths, opts: Options) -> Result<Outcome, String> {
    let topo = Topology::build(opts)?;
    let mut scene = start_relay_and_a(&topo, paths)?;
    let relay_addr = format!(
        "{}/p2p/{}",
        paths.b_via.listen(topo.relay.ip),
        scene.relay_peer
    );
    let s = |x: &str| x.to_owned();
    let mut args = vec![
        s("--seed"),
        s("b"),
        s("--dial-timeout-ms"),
        s(DIAL_TIMEOUT_MS),
        s("--use-relay"),
        relay_addr,
        s("--dial"),
        scene.circuit.clone(),
    ];
    args.extend(paths.listen_args(topo.b.ip));
    let mut b = Peer::start(&topo, &topo.b, "B", &args)?;
    let a_peer = scene.a_peer.clone();
    let b_peer = b.wait("start", STEP, |l| {
        is(l, "started").then(|| field(l, "peer").unwrap_or("").to_owned())
    })?;
    let t0 = b.wait("dial", STEP, |l| is(l, "dialling").then(|| t_ms(l)))?;
    let (t_relayed, relayed) = b.wait("connection to A", STEP, |l| {
        (is(l, "connected") && field(l, "peer") == Some(&a_peer))
            .then(|| (t_ms(l), field(l, "relayed").map(str::to_owned)))
    })?;
    if relayed.as_deref() != Some(scene.relay_peer.as_str()) {
        return Err(format!(
            "B's first connection to A is not through the relay: relayed by {relayed:?}"
        ));
    }
    let mut outcome = Outcome {
        relayed_ms: t_relayed - t0,
        direct_ms: None,
        direct_addr: None,
        hole_punch_error: None,
        streams: Vec::new(),
        stream_errors: Vec::new(),
    };
    // Until the path is direct (then a stream check on it) or the hole punch failed (then a
    // stream check on the relayed path). libp2p reports a failed hole punch only on the side
    // that accepted the relayed connection, A: watch A when a failure is expected.
    let (watched, other) = if opts.fully_random {
        (&mut scene.a, b_peer)
    } else {
        (&mut b, a_peer)
    };
    let mut done = false;
    while !done {
        watched.wait("direct connection or hole-punch failure", STEP, |l| {
            if is(l, "path") && field(l, "peer") == Some(&other) && l["relayed"].is_null() {
                outcome.direct_ms = Some(t_ms(l) - t0);
                outcome.direct_addr = field(l, "addr").map(str::to_owned);
            } else if is(l, "hole_punch") && l["ok"] == Value::Bool(false) {
                outcome.hole_punch_error = field(l, "error").map(str::to_owned);
            } else if is(l, "stream") && field(l, "peer") == Some(&other) {
                let why = field(l, "why").unwrap_or("").to_owned();
                done = why != "connected";
                outcome.streams.push((
                    why,
                    l["ok"] == Value::Bool(true),
                    field(l, "relayed").map(str::to_owned),
                ));
                if let Some(error) = field(l, "error") {
                    outcome.stream_errors.push(error.to_owned());
                }
            } else {
                return None;
            }
            Some(())
        })?;
    }
    Ok(outcome)
}

/// What the relay and A (which knows only the relay) learn about their reachability.
pub fn reachability() -> Result<(String, String), String> {
    let topo = Topology::build(Options::default())?;
    let mut scene = start_relay_and_a(&topo, Paths::only(Transport::Tcp))?;
    // A dial-back to A is dropped by its NAT: the probe fails after the dial timeout (10 s).
    let wait = Duration::from_secs(60);
    let a = scene.a.wait("reachability private", wait, |l| {
        (is(l, "reachability") && field(l, "reachability") == Some("private"))
            .then(|| l.to_string())
    })?;
    let relay = scene.relay.wait("reachability public", wait, |l| {
        (is(l, "reachability") && field(l, "reachability") == Some("public")).then(|| l.to_string())
    })?;
    Ok((a, relay))
}
