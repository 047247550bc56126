//! Hole-punching benchmark in network namespaces: the topology of `tests/nat.rs` (two hosts
//! behind their own NATs, one public relay), built anew for every attempt (fresh conntrack
//! state), `netpeer` processes in it. Prints, for TCP and QUIC: time from B's dial to its relayed
//! connection to A, time from the dial until the connection is direct, and the share of attempts
//! that became direct.
//!
//! ```text
//! cargo build -p tacit-net --examples && sudo target/debug/examples/natbench [--runs 20] [--fully-random]
//! ```
//!
//! Needs root, `ip` and `nft`. Measures; asserts nothing.
//!
//! Measured on the 2-core development machine (debug build, 20 attempts each): TCP relayed in
//! 5.6 ms (median; p90 7.1), direct after 14.9 ms (p90 18.6), 20/20 upgraded; QUIC relayed in
//! 5.1 ms (p90 5.5), direct after 15.5 ms (p90 16.7), 20/20 upgraded. With `--fully-random`
//! (5 attempts each): relayed as fast, 0/5 upgraded over either transport. The namespaces have
//! no latency, so these are the protocol's own costs, not an Internet path's.

#[path = "../tests/nat_scenario/mod.rs"]
mod nat_scenario;
#[path = "../tests/netns/mod.rs"]
mod netns;

use nat_scenario::{Transport, hole_punch};
use netns::{Options, skip_reason};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "median {:7.1} ms  p90 {:7.1} ms  max {:7.1} ms",
        percentile(&values, 0.5),
        percentile(&values, 0.9),
        values.last().copied().unwrap_or(f64::NAN)
    )
}

fn main() {
    let mut runs = 20usize;
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("--runs needs a number"))
            }
            "--fully-random" => opts.fully_random = true,
            other => panic!("unknown argument {other}; see the doc comment of natbench.rs"),
        }
    }
    if let Some(reason) = skip_reason() {
        eprintln!("natbench cannot run here: {reason}");
        std::process::exit(2);
    }
    println!(
        "{runs} attempts per transport, NATs {}",
        if opts.fully_random {
            "masquerade fully-random"
        } else {
            "masquerade"
        }
    );
    for transport in [Transport::Tcp, Transport::Quic] {
        let mut relayed = Vec::new();
        let mut direct = Vec::new();
        let mut errors = 0;
        for i in 0..runs {
            match hole_punch(transport, opts) {
                Ok(outcome) => {
                    relayed.push(outcome.relayed_ms);
                    if let Some(d) = outcome.direct_ms {
                        direct.push(d);
                    }
                }
                Err(e) => {
                    errors += 1;
                    eprintln!("{transport:?} attempt {i}: {e}");
                }
            }
        }
        println!("{transport:?}:");
        println!("  relayed connection: {}", summary(relayed.clone()));
        println!("  direct connection:  {}", summary(direct.clone()));
        println!(
            "  upgraded to direct: {}/{} ({:.0} %), {errors} attempts failed to set up",
            direct.len(),
            runs,
            100.0 * direct.len() as f64 / runs as f64
        );
    }
}
