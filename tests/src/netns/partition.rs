//! Two sides of one link that a test can cut, built from network namespaces: two hosts on each
//! side, each side's hosts on a bridge in its router, the routers joined by one link. Public
//! addresses (private ranges no other test uses, 10.77.0.0/16), no NAT.
//!
//! ```text
//!   host A 10.77.1.2 ─┐                                              ┌─ host C 10.77.2.2
//!                     ├─ router 1 ── 10.77.0.1 ═ the link ═ 10.77.0.2 ── router 2 ─┤
//!   host B 10.77.1.3 ─┘  (bridge 10.77.1.1)               (bridge 10.77.2.1)      └─ host D 10.77.2.3
//! ```
//!
//! **Shaping.** Every host's link to its router delays what the host sends by [`Shape::delay`]
//! and loses [`Shape::loss_percent`] of it, as `tc qdisc add dev eth0 root netem delay 150ms
//! loss 5%` on the host's side of the link does: between any two hosts, the same side or not, a
//! round trip takes twice the delay and each way loses the share. The kernel's netem is used
//! where it exists; where it does not (`sch_netem` is not built into every kernel, CI's among
//! them) the same is done in userspace ([`Shaper::Userspace`]): an iptables rule queues every
//! packet the host sends (NFQUEUE) to a thread of this process in the host's namespace, which
//! drops the share at random (seeded) and lets the rest go after the delay, in order. GSO is
//! off on the hosts' interfaces (`gso_max_segs 1`), so that loss strikes single packets, not
//! 64 KB bursts.
//!
//! **The cut.** [`Partition::cut`] makes both routers drop, silently (nftables, as a dead path
//! in the middle of the Internet does), everything forwarded over the link, both ways: hosts of
//! one side still reach each other; [`Partition::heal`] removes the rule.
//!
//! Namespaces are named `tpart{pid}x{n}…`, unique to the process and the topology; `Drop` stops
//! the shaping threads and deletes the namespaces (interfaces go with them), also when a test
//! panics, and [`Partition::build`] removes those of processes that are gone. Nothing is made
//! in the machine's own namespace.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::sockopt::{self, Timeout};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

use super::{Host, ip_in, nft_in, remove_stale_of, run, sysctl_in};

/// Every namespace made here starts with this, then the process id.
const NAME_PREFIX: &str = "tpart";

/// Topologies made by this process so far (for unique names).
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Packets a host's link holds at once; more are dropped, as a full queue does. netem's default
/// `limit`: at 150 ms, room for about 10 MB/s of full-size packets, far above what the tests
/// send.
const QUEUE_LIMIT: u32 = 1000;

/// How a host's link is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Added to every packet the host sends.
    pub delay: Duration,
    /// Share of the packets the host sends that are lost, in percent.
    pub loss_percent: u32,
}

impl Shape {
    /// A long, lossy path: 150 ms each way (300 ms round trip between any two hosts), 5 % of
    /// the packets lost each way.
    pub const WAN: Shape = Shape {
        delay: Duration::from_millis(150),
        loss_percent: 5,
    };
}

/// What shapes the links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shaper {
    /// The kernel's `netem` qdisc on each host's interface.
    Netem,
    /// iptables NFQUEUE and a thread of this process per host (the kernel has no netem).
    Userspace,
}

/// Why the topology cannot be built here, if it cannot: not root, no `ip` or `nft`, or no way
/// to shape a link (neither netem nor iptables with NFQUEUE).
pub fn skip_reason() -> Option<String> {
    if let Some(reason) = super::skip_reason() {
        return Some(reason);
    }
    shaper().err()
}

/// The shaper this machine offers (probed once, in a namespace of its own): netem when the
/// kernel has it (after `modprobe sch_netem` where that exists), else the userspace one when
/// iptables can queue packets.
pub fn shaper() -> Result<Shaper, String> {
    static PROBED: OnceLock<Result<Shaper, String>> = OnceLock::new();
    PROBED.get_or_init(probe_shaper).clone()
}

fn probe_shaper() -> Result<Shaper, String> {
    let ns = format!(
        "{NAME_PREFIX}{}probe{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    run("ip", &["netns", "add", &ns])?;
    let quiet = |program: &str, args: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec", &ns, program])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let netem = ["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"];
    let mut found = quiet("tc", &netem);
    if !found {
        // A kernel with netem as a module may not have loaded it yet.
        let loaded = Command::new("modprobe")
            .arg("sch_netem")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found = loaded && quiet("tc", &netem);
    }
    let result = if found {
        Ok(Shaper::Netem)
    } else if quiet(
        "iptables",
        &[
            "-w",
            "-A",
            "OUTPUT",
            "-o",
            "lo",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "0",
        ],
    ) {
        Ok(Shaper::Userspace)
    } else {
        Err(
            "no way to shape a link: the kernel has no netem (sch_netem), and iptables cannot \
             queue packets to userspace (NFQUEUE); install iptables (`apt-get install \
             iptables`) or use a kernel with netem"
                .to_owned(),
        )
    };
    let _ = run("ip", &["netns", "del", &ns]);
    result
}

/// The four hosts, the two routers and the link between them.
#[derive(Debug)]
pub struct Partition {
    /// Host A, side 1.
    pub a: Host,
    /// Host B, side 1.
    pub b: Host,
    /// Host C, side 2.
    pub c: Host,
    /// Host D, side 2.
    pub d: Host,
    /// What shapes the hosts' links.
    pub shaper: Shaper,
    /// The two routers' namespaces.
    routers: [String; 2],
    /// The userspace shapers, stopped on drop before the namespaces go.
    queues: Vec<QueueShaper>,
    /// Every namespace made, deleted on drop.
    namespaces: Vec<String>,
}

/// The nftables table that cuts the link in a router.
const CUT_TABLE: &str = "partition_cut";

impl Partition {
    /// Builds the topology, every host's link shaped as `shape` (the userspace shaper's losses
    /// drawn from `seed`). Fails with the command that failed.
    pub fn build(shape: Shape, seed: &[u8]) -> Result<Partition, String> {
        let shaper = shaper()?;
        remove_stale_of(NAME_PREFIX);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{NAME_PREFIX}{}x{n}", std::process::id());
        let name = |role: &str| format!("{prefix}{role}");
        let host = |role: &str, ip: [u8; 4]| Host {
            ns: name(role),
            ip: Ipv4Addr::from(ip),
        };
        let mut topo = Partition {
            a: host("a", [10, 77, 1, 2]),
            b: host("b", [10, 77, 1, 3]),
            c: host("c", [10, 77, 2, 2]),
            d: host("d", [10, 77, 2, 3]),
            shaper,
            routers: [name("r1"), name("r2")],
            queues: Vec::new(),
            namespaces: Vec::new(),
        };
        // From here on, `topo`'s Drop removes whatever was made, also on an error.
        let all: Vec<String> = topo
            .hosts()
            .iter()
            .map(|h| h.ns.clone())
            .chain(topo.routers.iter().cloned())
            .collect();
        for ns in &all {
            run("ip", &["netns", "add", ns])?;
            topo.namespaces.push(ns.clone());
            ip_in(ns, &["link", "set", "lo", "up"])?;
        }
        let [r1, r2] = topo.routers.clone();
        for (router, bridge) in [(&r1, "10.77.1.1/24"), (&r2, "10.77.2.1/24")] {
            ip_in(router, &["link", "add", "br0", "type", "bridge"])?;
            ip_in(router, &["addr", "add", bridge, "dev", "br0"])?;
            ip_in(router, &["link", "set", "br0", "up"])?;
            sysctl_in(router, "net.ipv4.ip_forward", "1")?;
        }
        let sides = [
            (&topo.a, "ha", &r1, "10.77.1.1"),
            (&topo.b, "hb", &r1, "10.77.1.1"),
            (&topo.c, "hc", &r2, "10.77.2.1"),
            (&topo.d, "hd", &r2, "10.77.2.1"),
        ];
        for (h, port, router, gateway) in sides {
            // A veth pair made directly inside its namespaces (no name in the root namespace).
            run(
                "ip",
                &[
                    "link", "add", "eth0", "netns", &h.ns, "type", "veth", "peer", "name", port,
                    "netns", router,
                ],
            )?;
            ip_in(&h.ns, &["link", "set", "eth0", "gso_max_segs", "1"])?;
            ip_in(router, &["link", "set", port, "master", "br0"])?;
            ip_in(router, &["link", "set", port, "up"])?;
            ip_in(
                &h.ns,
                &["addr", "add", &format!("{}/24", h.ip), "dev", "eth0"],
            )?;
            ip_in(&h.ns, &["link", "set", "eth0", "up"])?;
            ip_in(&h.ns, &["route", "add", "default", "via", gateway])?;
        }
        run(
            "ip",
            &[
                "link", "add", "wan", "netns", &r1, "type", "veth", "peer", "name", "wan", "netns",
                &r2,
            ],
        )?;
        for (router, addr, other_side, via) in [
            (&r1, "10.77.0.1/30", "10.77.2.0/24", "10.77.0.2"),
            (&r2, "10.77.0.2/30", "10.77.1.0/24", "10.77.0.1"),
        ] {
            ip_in(router, &["addr", "add", addr, "dev", "wan"])?;
            ip_in(router, &["link", "set", "wan", "up"])?;
            ip_in(router, &["route", "add", other_side, "via", via])?;
        }

        let hosts: Vec<Host> = topo.hosts().into_iter().cloned().collect();
        for (i, h) in hosts.iter().enumerate() {
            match shaper {
                Shaper::Netem => {
                    let delay = format!("{}ms", shape.delay.as_millis());
                    let loss = format!("{}%", shape.loss_percent);
                    let limit = QUEUE_LIMIT.to_string();
                    run(
                        "ip",
                        &[
                            "netns", "exec", &h.ns, "tc", "qdisc", "add", "dev", "eth0", "root",
                            "netem", "delay", &delay, "loss", &loss, "limit", &limit,
                        ],
                    )?;
                }
                Shaper::Userspace => {
                    let mut host_seed = seed.to_vec();
                    host_seed.push(i as u8);
                    let queue = QueueShaper::start(&h.ns, shape, crate::test_rng(&host_seed))?;
                    topo.queues.push(queue);
                    // Only once the queue has its reader: a queued packet nobody reads is lost.
                    run(
                        "ip",
                        &[
                            "netns",
                            "exec",
                            &h.ns,
                            "iptables",
                            "-w",
                            "-A",
                            "OUTPUT",
                            "-o",
                            "eth0",
                            "-j",
                            "NFQUEUE",
                            "--queue-num",
                            &QUEUE_NUM.to_string(),
                        ],
                    )?;
                }
            }
        }
        Ok(topo)
    }

    /// The four hosts: A and B on side 1, C and D on side 2.
    pub fn hosts(&self) -> [&Host; 4] {
        [&self.a, &self.b, &self.c, &self.d]
    }

    /// Cuts the link: both routers drop everything forwarded over it, both ways.
    pub fn cut(&self) -> Result<(), String> {
        let rules = format!(
            "table inet {CUT_TABLE} {{
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname \"wan\" drop
    oifname \"wan\" drop
  }}
}}
"
        );
        for router in &self.routers {
            nft_in(router, &rules)?;
        }
        Ok(())
    }

    /// Heals the link cut by [`Partition::cut`].
    pub fn heal(&self) -> Result<(), String> {
        for router in &self.routers {
            run(
                "ip",
                &[
                    "netns", "exec", router, "nft", "delete", "table", "inet", CUT_TABLE,
                ],
            )?;
        }
        Ok(())
    }

    /// `ping`'s closing lines for `count` pings from `from` to `to`, 50 ms apart: the share
    /// lost and the round trips (for printing).
    pub fn ping_summary(&self, from: &Host, to: Ipv4Addr, count: u32) -> String {
        let out = from
            .command("ping")
            .args([
                "-q",
                "-i0.05",
                "-W2",
                "-c",
                &count.to_string(),
                &to.to_string(),
            ])
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) => String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("packet loss") || l.starts_with("rtt"))
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("cannot run ping: {e}"),
        }
    }

    /// Whether `from` gets an answer from `to` to any of three pings (`ping` from iputils;
    /// see [`super::ping_missing`]), waiting up to two seconds for each.
    pub fn ping(&self, from: &Host, to: Ipv4Addr) -> bool {
        from.command("ping")
            .args(["-c3", "-i0.2", "-W2", &to.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        for q in &mut self.queues {
            q.stop();
        }
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("partition: cannot delete namespace {ns}: {e}");
            }
        }
    }
}

// The userspace shaper: nfnetlink_queue spoken over a netlink socket (the kernel's
// `include/uapi/linux/netfilter/nfnetlink_queue.h`). Every message: a netlink header, a
// `nfgenmsg` (family, version, queue number big-endian), then attributes.

/// The queue each host's packets go to (one reader per namespace).
const QUEUE_NUM: u16 = 0;
/// `NFNL_SUBSYS_QUEUE << 8` plus the message kind.
const MSG_PACKET: u16 = 3 << 8;
const MSG_VERDICT: u16 = (3 << 8) | 1;
const MSG_CONFIG: u16 = (3 << 8) | 2;
const MSG_VERDICT_BATCH: u16 = (3 << 8) | 3;
/// `NLMSG_ERROR`: the kernel's answer to a request asking for one (an error code, 0 for done).
const MSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
/// Configuration attributes: the command, the copy parameters, the queue's length.
const CFG_CMD: u16 = 1;
const CFG_PARAMS: u16 = 2;
const CFG_QUEUE_MAXLEN: u16 = 3;
const CFG_CMD_BIND: u8 = 1;
/// Only the packet's metadata comes to userspace, not its bytes: the shaper needs its id alone.
const COPY_META: u8 = 1;
/// Packet attribute: id, protocol, hook.
const PACKET_HDR: u16 = 1;
/// Verdict attribute: verdict, id (both big-endian).
const VERDICT_HDR: u16 = 2;
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
/// The socket's receive buffer: room for every held packet's notice many times over, so that
/// none is lost to a full buffer (a notice lost leaves its packet for the next batch verdict).
const RECV_BUFFER: usize = 4 << 20;
/// Longest wait for a packet when none is held, so that a stop is seen soon.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// One host's userspace shaper: a thread reading its queue.
#[derive(Debug)]
struct QueueShaper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl QueueShaper {
    /// Starts the thread, which moves into `ns`, binds the queue and then shapes; returns once
    /// the queue is bound.
    fn start(ns: &str, shape: Shape, rng: ChaCha8Rng) -> Result<QueueShaper, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, bound) = mpsc::channel();
        let thread = {
            let stop = stop.clone();
            let ns = ns.to_owned();
            std::thread::Builder::new()
                .name(format!("shaper {ns}"))
                .spawn(move || match bind_queue(&ns) {
                    Ok(sock) => {
                        let _ = ready.send(Ok(()));
                        if let Err(e) = shape_queue(&sock, shape, rng, &stop) {
                            eprintln!("partition: the shaper of {ns} stopped: {e}");
                        }
                    }
                    Err(e) => {
                        let _ = ready.send(Err(format!("shaper of {ns}: {e}")));
                    }
                })
                .map_err(|e| format!("cannot start a shaper thread: {e}"))?
        };
        let mut shaper = QueueShaper {
            stop,
            thread: Some(thread),
        };
        match bound.recv() {
            Ok(Ok(())) => Ok(shaper),
            Ok(Err(e)) => {
                shaper.stop();
                Err(e)
            }
            Err(_) => {
                shaper.stop();
                Err("the shaper thread ended before binding its queue".to_owned())
            }
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for QueueShaper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Moves this thread into `ns` and binds [`QUEUE_NUM`] there, copying metadata only, at most
/// [`QUEUE_LIMIT`] packets held.
fn bind_queue(ns: &str) -> Result<OwnedFd, String> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    rustix::thread::move_into_link_name_space(
        file.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| format!("cannot enter namespace {ns}: {e}"))?;
    let sock = rustix::net::socket(
        AddressFamily::NETLINK,
        SocketType::RAW,
        Some(netlink::NETFILTER),
    )
    .map_err(|e| format!("cannot open a netfilter netlink socket: {e}"))?;
    rustix::net::bind(&sock, &SocketAddrNetlink::new(0, 0))
        .map_err(|e| format!("cannot bind the netlink socket: {e}"))?;
    if sockopt::set_socket_recv_buffer_size_force(&sock, RECV_BUFFER).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(&sock, RECV_BUFFER);
    }
    sockopt::set_socket_timeout(&sock, Timeout::Recv, Some(Duration::from_secs(5)))
        .map_err(|e| format!("cannot set a receive timeout: {e}"))?;
    request(&sock, 1, &[(CFG_CMD, &[CFG_CMD_BIND, 0, 0, 0])])
        .map_err(|e| format!("cannot bind queue {QUEUE_NUM}: {e}"))?;
    let mut params = 0u32.to_be_bytes().to_vec(); // copy range (unused with metadata only)
    params.push(COPY_META);
    let limit = QUEUE_LIMIT.to_be_bytes();
    request(
        &sock,
        2,
        &[(CFG_PARAMS, &params), (CFG_QUEUE_MAXLEN, &limit)],
    )
    .map_err(|e| format!("cannot configure queue {QUEUE_NUM}: {e}"))?;
    Ok(sock)
}

/// A netlink message to the queue subsystem about [`QUEUE_NUM`].
fn message(kind: u16, flags: u16, seq: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![0u8, 0u8]; // nfgenmsg: AF_UNSPEC, version 0
    body.extend_from_slice(&QUEUE_NUM.to_be_bytes());
    for (kind, payload) in attrs {
        let len = 4 + payload.len();
        body.extend_from_slice(&(len as u16).to_ne_bytes());
        body.extend_from_slice(&kind.to_ne_bytes());
        body.extend_from_slice(payload);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // to the kernel
    msg.extend_from_slice(&body);
    msg
}

/// Sends a configuration request and waits for the kernel's answer to it.
fn request(sock: &OwnedFd, seq: u32, attrs: &[(u16, &[u8])]) -> Result<(), String> {
    let msg = message(MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, attrs);
    rustix::net::send(sock, &msg, SendFlags::empty()).map_err(|e| format!("send: {e}"))?;
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, _) = rustix::net::recv(sock, &mut buf[..], RecvFlags::empty())
            .map_err(|e| format!("{e}"))?;
        for (kind, msg_seq, payload) in messages(&buf[..n]) {
            if kind == MSG_ERROR && msg_seq == seq {
                let code = payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(i32::from_ne_bytes)
                    .ok_or("a short answer")?;
                return if code == 0 {
                    Ok(())
                } else {
                    Err(Errno::from_raw_os_error(-code).to_string())
                };
            }
        }
    }
}

/// The netlink messages in a datagram: kind, sequence number, payload after the header.
fn messages(buf: &[u8]) -> Vec<(u16, u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= buf.len() {
        let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let len = word(at) as usize;
        if len < 16 || at + len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        out.push((kind, word(at + 8), &buf[at + 16..at + len]));
        at += len.next_multiple_of(4);
    }
    out
}

/// The packet id in a packet notice's payload (after its `nfgenmsg`).
fn packet_id(payload: &[u8]) -> Option<u32> {
    let mut at = 4;
    while at + 4 <= payload.len() {
        let len = u16::from_ne_bytes([payload[at], payload[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x7fff;
        if len < 4 || at + len > payload.len() {
            return None;
        }
        if kind == PACKET_HDR && len >= 8 {
            let id = &payload[at + 4..at + 8];
            return Some(u32::from_be_bytes([id[0], id[1], id[2], id[3]]));
        }
        at += len.next_multiple_of(4);
    }
    None
}

/// Gives `id` (and, for a batch, every packet held before it) its verdict.
fn verdict(sock: &OwnedFd, kind: u16, verdict: u32, id: u32) -> Result<(), String> {
    let mut hdr = verdict.to_be_bytes().to_vec();
    hdr.extend_from_slice(&id.to_be_bytes());
    let msg = message(kind, NLM_F_REQUEST, 0, &[(VERDICT_HDR, &hdr)]);
    rustix::net::send(sock, &msg, SendFlags::empty())
        .map(|_| ())
        .map_err(|e| format!("cannot send a verdict: {e}"))
}

/// Shapes until `stop`: each packet is dropped with the loss share, or held and let go after
/// the delay. The delay is the same for every packet, so they go in the order they came, with
/// one batch verdict for all those due.
fn shape_queue(
    sock: &OwnedFd,
    shape: Shape,
    mut rng: ChaCha8Rng,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut held: VecDeque<(Instant, u32)> = VecDeque::new();
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut newest_due = None;
        while let Some(&(due, id)) = held.front() {
            if due > now {
                break;
            }
            newest_due = Some(id);
            held.pop_front();
        }
        if let Some(id) = newest_due {
            verdict(sock, MSG_VERDICT_BATCH, NF_ACCEPT, id)?;
        }
        let wait = held
            .front()
            .map_or(IDLE_POLL, |(due, _)| due.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), IDLE_POLL);
        sockopt::set_socket_timeout(sock, Timeout::Recv, Some(wait))
            .map_err(|e| format!("cannot set a receive timeout: {e}"))?;
        match rustix::net::recv(sock, &mut buf[..], RecvFlags::empty()) {
            Ok((n, _)) => {
                for (kind, _, payload) in messages(&buf[..n]) {
                    if kind != MSG_PACKET {
                        continue;
                    }
                    let Some(id) = packet_id(payload) else {
                        continue;
                    };
                    if rng.random_ratio(shape.loss_percent, 100) {
                        verdict(sock, MSG_VERDICT, NF_DROP, id)?;
                    } else {
                        held.push_back((Instant::now() + shape.delay, id));
                    }
                }
            }
            // Timed out, interrupted, or a notice lost to a full buffer (its packet goes
            // with the next batch verdict).
            Err(Errno::AGAIN | Errno::INTR | Errno::NOBUFS) => {}
            Err(e) => return Err(format!("cannot read the queue: {e}")),
        }
    }
    Ok(())
}
