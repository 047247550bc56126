//! Two organisations behind NATs and one public relay, built from Linux network namespaces.
//!
//! Depends on std only, so another crate's tests can use it with
//! `#[path = "…/tacit-net/tests/netns/mod.rs"] mod netns;`.
//!
//! ```text
//!   host A 192.168.1.2 ── NAT A ── 198.51.100.2 ┐
//!                                               ├── router (.1 on each /24) ── 203.0.113.10 relay
//!   host B 192.168.2.2 ── NAT B ── 192.0.2.2 ───┘
//! ```
//!
//! Each NAT is nftables `masquerade` on its WAN side (optionally `fully-random`, a
//! port-randomising NAT that defeats hole punching), with input and forward policy drop and
//! `ct state established,related accept`: unsolicited inbound packets are dropped, not rejected,
//! as a home or office router does. The public side uses documentation ranges (198.51.100.0/24,
//! 192.0.2.0/24, 203.0.113.0/24) that route nowhere outside the namespaces.
//!
//! Every namespace name starts with a prefix unique to the process and the topology, so tests in
//! parallel cannot collide; [`Topology`]'s `Drop` deletes them all (veth pairs go with them), also
//! when a test panics. Namespaces left by a process that was killed are removed by the next
//! [`Topology::build`]. [`skip_reason`] says why the topology cannot be built here (not root, no
//! `ip` or `nft`), so that tests can skip with a message instead of failing.

#![allow(dead_code)]

use std::{
    io::Write as _,
    net::Ipv4Addr,
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

/// Every namespace this module makes starts with this, then the process id.
const NAME_PREFIX: &str = "tnat";

/// Topologies made by this process so far (for unique names).
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why the topology cannot be built on this machine, if it cannot.
pub fn skip_reason() -> Option<String> {
    match Command::new("id").arg("-u").output() {
        Ok(out) if String::from_utf8_lossy(&out.stdout).trim() == "0" => {}
        Ok(_) => return Some("network namespaces need root; run the tests as root".to_owned()),
        Err(e) => return Some(format!("cannot run `id -u`: {e}")),
    }
    for (tool, args, package) in [
        ("ip", &["-V"][..], "iproute2"),
        ("nft", &["--version"][..], "nftables"),
    ] {
        let found = Command::new(tool)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            return Some(format!(
                "`{tool}` is missing; install it with `apt-get install {package}`"
            ));
        }
    }
    None
}

/// Why [`Topology::ping`] cannot run here, if it cannot (`ping` is not installed).
pub fn ping_missing() -> Option<String> {
    let found = Command::new("ping")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    (!found).then(|| "`ping` is missing; install it with `apt-get install iputils-ping`".to_owned())
}

/// How to build the NATs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `masquerade fully-random`: the NAT picks a random source port for every new mapping, so
    /// the port a peer observed is not the port another peer's packets must reach.
    pub fully_random: bool,
}

/// One host: the namespace it lives in and its address.
#[derive(Debug, Clone)]
pub struct Host {
    /// The namespace (for `ip netns exec`).
    pub ns: String,
    /// Its address on its own link.
    pub ip: Ipv4Addr,
}

impl Host {
    /// A command run inside this host's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, program]);
        cmd
    }
}

/// The two organisations, their NATs, the Internet router and the relay host.
#[derive(Debug)]
pub struct Topology {
    /// Host A, behind NAT A.
    pub a: Host,
    /// Host B, behind NAT B.
    pub b: Host,
    /// The public relay host (203.0.113.10).
    pub relay: Host,
    /// NAT A's public address.
    pub nat_a: Ipv4Addr,
    /// NAT B's public address.
    pub nat_b: Ipv4Addr,
    /// Every namespace made, deleted on drop.
    namespaces: Vec<String>,
}

/// Runs `ip` (or any tool) and turns a failure into a message with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    check(program, args, out)
}

fn check(program: &str, args: &[&str], out: Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `ip -n NS ARGS…`.
pub fn ip_in(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Loads an nftables ruleset into a namespace.
pub fn nft_in(ns: &str, ruleset: &str) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ruleset.as_bytes())
            .map_err(|e| format!("cannot write the nft ruleset: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("nft did not finish: {e}"))?;
    check("nft", &["-f", "-", "(in", ns, ")"], out)
}

/// Sets a sysctl inside a namespace (new namespaces start with forwarding off).
pub fn sysctl_in(ns: &str, key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    run(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            &format!("echo {value} > {path}"),
        ],
    )
}

/// Whether a process with this id runs.
fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes namespaces of this module whose process is gone (a test run that was killed).
fn remove_stale() {
    remove_stale_of(NAME_PREFIX);
}

/// Deletes the namespaces named `PREFIX{pid}…` whose process `pid` is gone.
pub fn remove_stale_of(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(pid) = pid.parse::<u32>()
            && !alive(pid)
        {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// The NAT router's rules: masquerade out of `wan`; nothing unsolicited in.
fn nat_ruleset(fully_random: bool) -> String {
    let random = if fully_random { " fully-random" } else { "" };
    format!(
        "table ip nat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname \"wan\" masquerade{random}
  }}
}}
table inet filter {{
  chain input {{
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname \"lo\" accept
    iifname \"lan\" accept
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname \"lan\" oifname \"wan\" accept
  }}
}}
"
    )
}

impl Topology {
    /// Builds the topology (about a second). Fails with the command that failed.
    pub fn build(opts: Options) -> Result<Topology, String> {
        remove_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{NAME_PREFIX}{}x{n}", std::process::id());
        let name = |role: &str| format!("{prefix}{role}");
        let mut topo = Topology {
            a: Host {
                ns: name("a"),
                ip: Ipv4Addr::new(192, 168, 1, 2),
            },
            b: Host {
                ns: name("b"),
                ip: Ipv4Addr::new(192, 168, 2, 2),
            },
            relay: Host {
                ns: name("r"),
                ip: Ipv4Addr::new(203, 0, 113, 10),
            },
            nat_a: Ipv4Addr::new(198, 51, 100, 2),
            nat_b: Ipv4Addr::new(192, 0, 2, 2),
            namespaces: Vec::new(),
        };
        // From here on, `topo`'s Drop removes whatever was made, also on an error.
        let (nat_a, nat_b, inet) = (name("na"), name("nb"), name("i"));
        for ns in [
            &topo.a.ns,
            &topo.b.ns,
            &topo.relay.ns,
            &nat_a,
            &nat_b,
            &inet,
        ] {
            run("ip", &["netns", "add", ns])?;
            topo.namespaces.push(ns.clone());
            ip_in(ns, &["link", "set", "lo", "up"])?;
        }
        // veth pairs, made directly inside their namespaces (no name in the root namespace).
        let link = |ns1: &str, if1: &str, ns2: &str, if2: &str| -> Result<(), String> {
            run(
                "ip",
                &[
                    "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns",
                    ns2,
                ],
            )?;
            ip_in(ns1, &["link", "set", if1, "up"])?;
            ip_in(ns2, &["link", "set", if2, "up"])
        };
        link(&topo.a.ns, "eth0", &nat_a, "lan")?;
        link(&topo.b.ns, "eth0", &nat_b, "lan")?;
        link(&nat_a, "wan", &inet, "toa")?;
        link(&nat_b, "wan", &inet, "tob")?;
        link(&topo.relay.ns, "eth0", &inet, "tor")?;

        let addr = |ns: &str, cidr: &str, dev: &str| ip_in(ns, &["addr", "add", cidr, "dev", dev]);
        let route = |ns: &str, via: &str| ip_in(ns, &["route", "add", "default", "via", via]);
        addr(&topo.a.ns, "192.168.1.2/24", "eth0")?;
        route(&topo.a.ns, "192.168.1.1")?;
        addr(&topo.b.ns, "192.168.2.2/24", "eth0")?;
        route(&topo.b.ns, "192.168.2.1")?;
        addr(&nat_a, "192.168.1.1/24", "lan")?;
        addr(&nat_a, "198.51.100.2/24", "wan")?;
        route(&nat_a, "198.51.100.1")?;
        addr(&nat_b, "192.168.2.1/24", "lan")?;
        addr(&nat_b, "192.0.2.2/24", "wan")?;
        route(&nat_b, "192.0.2.1")?;
        addr(&inet, "198.51.100.1/24", "toa")?;
        addr(&inet, "192.0.2.1/24", "tob")?;
        addr(&inet, "203.0.113.1/24", "tor")?;
        addr(&topo.relay.ns, "203.0.113.10/24", "eth0")?;
        route(&topo.relay.ns, "203.0.113.1")?;

        for ns in [&nat_a, &nat_b, &inet] {
            sysctl_in(ns, "net.ipv4.ip_forward", "1")?;
        }
        let rules = nat_ruleset(opts.fully_random);
        nft_in(&nat_a, &rules)?;
        nft_in(&nat_b, &rules)?;
        Ok(topo)
    }

    /// Runs `ping -c1` from one host to an address and says whether it answered (for checking
    /// the topology itself).
    pub fn ping(&self, from: &Host, to: Ipv4Addr) -> bool {
        from.command("ping")
            .args(["-c1", "-W1", &to.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Starts a program in a host's namespace with piped stdin and stdout; the returned guard
    /// kills it on drop. Keep the guards in variables declared after the topology, so that they
    /// drop (and the processes end) before the namespaces are deleted.
    pub fn spawn(&self, host: &Host, program: &str, args: &[String]) -> Result<Proc, String> {
        let child = host
            .command(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {program} in {}: {e}", host.ns))?;
        Ok(Proc(child))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("netns: cannot delete namespace {ns}: {e}");
            }
        }
    }
}

/// A process in a namespace, killed (and reaped) on drop.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
