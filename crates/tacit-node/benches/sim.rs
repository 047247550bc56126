//! The deterministic simulation over many seeds (`tacit_node::sim`): every seed must converge;
//! prints how many steps after the faults stopped it took (median and worst), the frames and
//! faults, and the time.
//!
//! `cargo bench -p tacit-node --bench sim --features sim` runs 10,000 seeds; `TACIT_SIM_SEEDS=N`
//! runs N, `TACIT_SIM_FROM=S` starts at seed S, and `TACIT_SIM_SEED=S` replays one seed
//! (with `RUST_LOG=tacit_node=debug`, say, to see what the nodes did).

use std::time::Instant;

use tacit_node::sim::{self, Config};

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .without_time()
            .try_init();
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let count = env("TACIT_SIM_SEEDS", 10_000);
    let from = env("TACIT_SIM_FROM", 1);
    let config = Config::default();
    println!("simulation: {count} seeds from {from}; {config:?}");
    let started = Instant::now();
    let seeds: Vec<u64> = match std::env::var(sim::SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (from..from + count).collect(),
    };
    let mut settle = Vec::with_capacity(seeds.len());
    let (mut frames, mut faults) = (0usize, 0usize);
    let mut failed = Vec::new();
    for (done, seed) in seeds.iter().enumerate() {
        match sim::run(*seed, &config) {
            Ok(o) => {
                settle.push(o.settle_steps);
                frames += o.frames;
                faults += o.faults;
            }
            Err(f) => {
                println!("FAILED {f}");
                failed.push(*seed);
            }
        }
        if (done + 1) % 500 == 0 {
            println!(
                "  {} seeds, {} failed, {:.0} s",
                done + 1,
                failed.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    settle.sort_unstable();
    let median = settle.get(settle.len() / 2).copied().unwrap_or(0);
    let worst = settle.last().copied().unwrap_or(0);
    println!(
        "{} seeds converged, {} failed {:?}; steps to converge after the faults: median {median}, worst {worst}; {frames} frames, {faults} faults; {:.1} s ({:.1} ms a seed)",
        settle.len(),
        failed.len(),
        failed,
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / seeds.len().max(1) as f64
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
