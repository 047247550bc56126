//! Real `tacit serve` processes in network namespaces that the test builds itself: the topology
//! of `crates/tacit-net/tests/netns` (two organisations, each behind an nftables masquerade NAT
//! that drops unsolicited inbound packets; a router between three public /24s; one public host).
//!
//! ```text
//!   host A 192.168.1.2 ── NAT A ── 198.51.100.2 ┐
//!                                               ├── router ── 203.0.113.10 public host
//!   host B 192.168.2.2 ── NAT B ── 192.0.2.2 ───┘
//! ```
//!
//! Commands to a served home (`status`, `space join`, `note new`…) run outside the namespaces:
//! they reach the server through its control socket, a Unix socket, which namespaces do not
//! separate. Only the servers themselves live inside.
//!
//! [`partition`] builds another topology: two sides of one shaped link that a test can cut.

use std::path::Path;

use crate::{NetHome, SYNC_PATIENCE, Serving, eventually, tacit_bin};

#[path = "../../crates/tacit-net/tests/netns/mod.rs"]
mod topology;

pub use topology::{
    Host, Options, Topology, ip_in, nft_in, ping_missing, remove_stale_of, run, skip_reason,
    sysctl_in,
};

#[cfg(target_os = "linux")]
pub mod partition;

/// The lock file that gives network-namespace tests their turn (see [`take_turn`]).
const TURN_FILE: &str = "tacit-netns-tests.lock";

/// A network-namespace test's turn, held until dropped.
#[derive(Debug)]
pub struct Turn {
    _lock: std::fs::File,
}

/// Waits for, and takes, the turn of one network-namespace test among every test process on
/// this machine: an exclusive lock on a file in the temporary directory. The NAT and the
/// partition tests are separate test binaries, which a runner may start side by side
/// (`cargo nextest` does), and several topologies of busy servers at once on a 2-core machine
/// make hole punches miss and stretch every wait. A lock is per open file, so two tests of one
/// process also wait for each other; it goes with the process, also when it is killed.
pub fn take_turn() -> Turn {
    let path = std::env::temp_dir().join(TURN_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the turn lock {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    Turn { _lock: file }
}

/// The public host's address (the relay, or a public member).
pub const PUBLIC_IP: &str = "203.0.113.10";

/// The port every server in the namespaces listens on (TCP and QUIC): a fixed port, so that the
/// NAT maps the listen port for every peer, which hole punching needs.
pub const PORT: u16 = 4001;

/// The TCP and QUIC listen addresses on `ip`, as `--listen` arguments.
pub fn listen_args(ip: &str) -> Vec<String> {
    vec![
        "--listen".into(),
        format!("/ip4/{ip}/tcp/{PORT}"),
        "--listen".into(),
        format!("/ip4/{ip}/udp/{PORT}/quic-v1"),
    ]
}

/// Starts `tacit serve ARGS` for `home` inside `host`'s namespace, with mDNS off, AutoNAT allowed
/// to use the documentation ranges the topology is built from (`TACIT_AUTONAT_ANY_IP`), and the
/// node's and the network's logs at `log` (a `RUST_LOG` filter) in the server's log file.
pub fn serve_in(host: &Host, home: &NetHome, args: &[String], log: &str) -> Serving {
    let mut cmd = host.command(&tacit_bin().to_string_lossy());
    cmd.arg("--home")
        .arg(home.path())
        .arg("serve")
        .args(args)
        .env_remove("TACIT_HOME")
        .env_remove("TACIT_RELAYS")
        .env("TACIT_NO_MDNS", "1")
        .env(tacit_node::AUTONAT_ANY_IP_ENV, "1")
        .env("RUST_LOG", log);
    Serving::start(cmd, home.path())
}

/// Whether `needle` occurs in any file under `dir` (read as bytes; what cannot be read is
/// reported as found, so that a check for absence never passes by accident).
pub fn found_in_files(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            found.push(format!("{} (unreadable)", d.display()));
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                            found.push(path.display().to_string());
                        }
                    }
                    Err(e) => found.push(format!("{} (unreadable: {e})", path.display())),
                }
            }
        }
    }
    found
}

/// A member behind a NAT: `tacit serve` on its host's address, with `extra` options.
pub fn serve_member(host: &Host, home: &NetHome, extra: &[String], log: &str) -> Serving {
    let mut args = listen_args(&host.ip.to_string());
    args.extend_from_slice(extra);
    serve_in(host, home, &args, log)
}

/// The public host serving as a relay only, with its public address given.
pub fn serve_relay(topo: &Topology, home: &NetHome, log: &str) -> Serving {
    let mut args = vec!["--relay".to_owned()];
    args.extend(listen_args(PUBLIC_IP));
    args.extend([
        "--external-addr".to_owned(),
        format!("/ip4/{PUBLIC_IP}/tcp/{PORT}"),
        "--external-addr".to_owned(),
        format!("/ip4/{PUBLIC_IP}/udp/{PORT}/quic-v1"),
    ]);
    serve_in(&topo.relay, home, &args, log)
}

/// Waits until every relay of `home`'s node holds a reservation.
pub fn wait_reserved(home: &NetHome, who: &str) {
    eventually(&format!("{who}'s relay reservation"), SYNC_PATIENCE, || {
        let status = home.try_json(&["status"])?;
        let relays = status["relays"].as_array().cloned().unwrap_or_default();
        if !relays.is_empty() && relays.iter().all(|r| r["state"] == "reserved") {
            Ok(())
        } else {
            Err(status["relays"].to_string())
        }
    });
}
