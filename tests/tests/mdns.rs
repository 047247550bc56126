//! LAN discovery for real: two `tacit serve` processes with mDNS on, each in a network namespace
//! this test creates (joined by a veth pair), find each other with no address given anywhere.
//!
//! mDNS multicasts on every interface it sees, so it only ever runs inside these namespaces.
//! The test needs root and `ip` (iproute2); without them it says so and passes as a skip.

use std::path::Path;
use std::process::Command;

use tacit_core::Ticket;
use tacit_tests::{NetHome, SYNC_PATIENCE, Serving, eventually, output_within_limit, tacit_bin};

/// Why this test cannot run here, if it cannot.
fn cannot_run() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1)) // the effective uid
        .is_some_and(|uid| uid == "0");
    if !root {
        return Some("it creates network namespaces, which needs root".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("`ip` (Debian package iproute2) is missing".into()),
    }
}

/// Runs `ip args…`, failing the test with its error.
fn ip(args: &[&str]) {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    let out = output_within_limit(cmd, &format!("ip {args:?}"));
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two namespaces joined by a veth pair, 10.77.0.1/24 in `a` and 10.77.0.2/24 in `b`; deleted
/// when dropped (a namespace's deletion also removes its end of the pair).
struct Lan {
    a: String,
    b: String,
}

impl Lan {
    fn new() -> Lan {
        let pid = std::process::id();
        let lan = Lan {
            a: format!("tacit-mdns-a-{pid}"),
            b: format!("tacit-mdns-b-{pid}"),
        };
        // Leftovers of an earlier run that had this pid.
        lan.delete();
        // Interface names have at most 15 characters.
        let (va, vb) = (format!("tva{pid}"), format!("tvb{pid}"));
        ip(&["netns", "add", &lan.a]);
        ip(&["netns", "add", &lan.b]);
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb]);
        ip(&["link", "set", &va, "netns", &lan.a]);
        ip(&["link", "set", &vb, "netns", &lan.b]);
        for (ns, dev, addr) in [(&lan.a, &va, "10.77.0.1/24"), (&lan.b, &vb, "10.77.0.2/24")] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        lan
    }

    fn delete(&self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.delete();
    }
}

/// `tacit serve` for `home` inside namespace `ns`, listening on `ip`, with mDNS ON.
fn serve_in(ns: &str, home: &Path, ip: &str) -> Serving {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(tacit_bin())
        .arg("--home")
        .arg(home)
        .args(["serve", "--listen", &format!("/ip4/{ip}/tcp/0")])
        .env_remove("TACIT_NO_MDNS")
        .env_remove("TACIT_HOME")
        .env("RUST_LOG", "tacit_node=debug,tacit_net=debug,libp2p_mdns=debug,libp2p_swarm=debug,libp2p_stream=debug");
    let serving = Serving::start(cmd, home);
    let log = serving.log();
    assert!(
        !log.contains("mDNS is off"),
        "this server must run with mDNS on:\n{log}"
    );
    assert!(
        serving
            .listen_addrs()
            .iter()
            .all(|a| a.starts_with(&format!("/ip4/{ip}/"))),
        "listens only inside its namespace: {:?}",
        serving.listen_addrs()
    );
    serving
}

/// Asserts that a command run outside the namespace reached the server inside it through
/// the control socket (a Unix socket: namespaces do not separate it).
fn assert_served(home: &NetHome, serving: &Serving) {
    let status = home.json(&["status"]);
    assert_eq!(status["serving"], true, "{status}");
    assert_eq!(status["pid"], serving.pid(), "{status}");
    assert_eq!(status["peer_id"], serving.peer_id(), "{status}");
}

fn peers_of(home: &NetHome) -> Result<Vec<String>, String> {
    let status = home.try_json(&["status"])?;
    Ok(status["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["peer"].as_str().map(str::to_owned))
        .collect())
}

fn wait_for_note(home: &NetHome, who: &str, id: &str) {
    eventually(
        &format!("{who} to receive note {id}"),
        SYNC_PATIENCE,
        || {
            let list = home.try_json(&["note", "list", "--space", "Team"])?;
            let ids: Vec<&str> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["id"].as_str())
                .collect();
            if ids.contains(&id) {
                Ok(())
            } else {
                Err(format!("{ids:?}"))
            }
        },
    );
}

fn new_note(home: &NetHome, title: &str) -> String {
    let out = home.json(&[
        "note",
        "new",
        "--space",
        "Team",
        "--title",
        title,
        "--body",
        "on the LAN\n",
    ]);
    out["id"].as_str().expect("note id").to_owned()
}

#[test]
fn a_ticket_without_addresses_joins_a_peer_found_by_mdns() {
    if let Some(why) = cannot_run() {
        eprintln!("skipped: the mDNS test cannot run here: {why}");
        return;
    }
    // Declared first, dropped last: the servers die before their namespaces go.
    let lan = Lan::new();
    // Plain homes on the host's disk; every CLI command below runs outside the namespaces
    // (with mDNS off) and reaches the servers through their control sockets.
    let a = NetHome::init("Ada");
    let b = NetHome::init("Ben");
    let a_serve = serve_in(&lan.a, a.path(), "10.77.0.1");
    let b_serve = serve_in(&lan.b, b.path(), "10.77.0.2");
    assert_served(&a, &a_serve);
    assert_served(&b, &b_serve);

    let space = a.json(&["space", "new", "Team"]);
    let space = space["id"].as_str().expect("space id").to_owned();
    let first = new_note(&a, "Written before the join");
    let out = a.ok(&["space", "invite", "Team"]);
    let ticket = out.lines().last().unwrap_or_default().trim();
    let mut ticket = Ticket::parse(ticket).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(
        !ticket.addrs.is_empty(),
        "a serving node's ticket carries its addresses"
    );
    // Nothing tells B where A is: mDNS has to find it.
    ticket.addrs.clear();
    let bare = ticket.to_string();

    let out = b.run(&["space", "join", &bare, "--json"]);
    assert!(
        out.status.success(),
        "B's join by mDNS failed ({}): {}\nA's log:\n{}\nB's log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        a_serve.log(),
        b_serve.log()
    );
    let joined: serde_json::Value = serde_json::from_slice(&out.stdout).expect("join --json");
    assert_eq!(joined["id"], space.as_str(), "{joined}");
    wait_for_note(&b, "B", &first);
    let peers = peers_of(&b).expect("status on B");
    assert!(
        peers.iter().any(|p| p == a_serve.peer_id()),
        "B's peers should include A: {peers:?}"
    );

    let second = new_note(&a, "Written after the join");
    wait_for_note(&b, "B", &second);

    // Both restart on new ports: B's address book now holds only A's old address, and
    // nobody runs `connect`. They find each other again on the LAN.
    let old_a = a_serve.tcp_addr().to_owned();
    let (a_clean, a_log) = a_serve.stop();
    assert!(a_clean, "A's serve exits cleanly:\n{a_log}");
    let (b_clean, b_log) = b_serve.stop();
    assert!(b_clean, "B's serve exits cleanly:\n{b_log}");
    let a_serve = serve_in(&lan.a, a.path(), "10.77.0.1");
    let b_serve = serve_in(&lan.b, b.path(), "10.77.0.2");
    if a_serve.tcp_addr() == old_a {
        eprintln!("note: A got its old port again ({old_a}); the rediscovery proves less");
    }
    let third = new_note(&a, "Written after both restarted");
    wait_for_note(&b, "B", &third);
    eventually("B's status to list A again", SYNC_PATIENCE, || {
        let peers = peers_of(&b)?;
        if peers.iter().any(|p| p == a_serve.peer_id()) {
            Ok(())
        } else {
            Err(format!("{peers:?}"))
        }
    });
    assert!(
        b_serve.log().contains("discovered on the LAN"),
        "B found A by mDNS:\n{}",
        b_serve.log()
    );

    // B's server stops, so that the one-shot join below meets A alone. (With B up too, both
    // would open their sync stream to it at the same instant, and libp2p-stream drops an
    // inbound stream that arrives while another waits to be accepted: the connection to A
    // would get no session. A product bug, reported; not what this test is about.)
    let (b_clean, b_log) = b_serve.stop();
    assert!(b_clean, "B's serve exits cleanly:\n{b_log}");

    // A one-shot join (no server) from inside namespace b: its dial-only network has only
    // mDNS to find A, and the join waits for it.
    let c = NetHome::init("Cy");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lan.b])
        .arg(tacit_bin())
        .arg("--home")
        .arg(c.path())
        .args(["space", "join", &bare, "--json"])
        .env_remove("TACIT_NO_MDNS")
        .env_remove("TACIT_HOME")
        .env("RUST_LOG", "tacit_node=debug,tacit_net=debug,libp2p_mdns=debug,libp2p_swarm=debug,libp2p_stream=debug");
    let out = output_within_limit(cmd, "a one-shot `tacit space join` in namespace b");
    assert!(
        out.status.success(),
        "the one-shot join by mDNS failed ({}): {}\nA's log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        a_serve.log()
    );
    let notes = c.json(&["note", "list", "--space", "Team"]);
    for id in [&first, &second, &third] {
        assert!(
            notes
                .as_array()
                .into_iter()
                .flatten()
                .any(|n| n["id"] == id.as_str()),
            "note {id} missing on C after its one-shot join: {notes}"
        );
    }
}
