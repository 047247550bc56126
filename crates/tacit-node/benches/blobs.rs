//! The attachment benchmark (not a test): prints figures beside a peer figure from the same run,
//! and asserts nothing.
//!
//! `cargo bench -p tacit-node --bench blobs` (optionally `-- --mb N --memory-mb M`)
//!
//! Two nodes in this process, on 127.0.0.1 over TCP (mDNS off), each with its own home; B is a
//! reader of A's space, and A attaches a file of N MiB (default 256) to a note:
//!
//! 1. throughput: the time B takes to fetch it (`/tacit/blob/2`, checked group by group as it
//!    streams, its outboard built from the checked groups' chaining values, synced, then moved
//!    into place) — beside `std::fs::copy` of the same bytes in the same run (goal: at least
//!    half its speed), and beside the same copy then synced (a fetched attachment is on disk
//!    before it counts as held);
//! 2. memory: the process's peak resident memory (the kernel's high-water mark, reset first) while B fetches a file of
//!    M MiB (default 1024) — its peak above the level before the transfer, beside the same for
//!    the N MiB file (goal: flat, not proportional to the file).

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tacit_node::core::{Draft, Role};
use tacit_node::{BlobLimits, NetOptions, Node, Request, Response};

#[path = "common/memory.rs"]
mod memory;
#[path = "common/nodes.rs"]
mod nodes;
#[path = "common/notes.rs"]
mod notes;

/// The allocator the `tacit` binary and the desktop app use, so that memory figures are theirs.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const MIB: u64 = 1024 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb = notes::arg(&args, "--mb", 256) as u64;
    let memory_mb = notes::arg(&args, "--memory-mb", 1024) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("Tacit attachment benchmark (two nodes in one process, 127.0.0.1, TCP)");
    rt.block_on(run(mb, memory_mb));
}

fn options() -> NetOptions {
    NetOptions {
        blobs: BlobLimits {
            max_file: 8 * 1024 * MIB,
            space_quota: 64 * 1024 * MIB,
            ..BlobLimits::default()
        },
        ..nodes::loopback()
    }
}

async fn node(dir: &Path, name: &str) -> Node {
    nodes::node(dir, name, options()).await
}

/// A file of `mib` MiB of pseudo-random bytes (xorshift: not compressible, cheap to make), its
/// bytes set by `seed`: two files of the same bytes would be one attachment, already held.
fn make_file(path: &Path, mib: u64, seed: u64) {
    let mut f =
        std::io::BufWriter::with_capacity(4 * MIB as usize, std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (seed << 32);
    let mut buf = vec![0u8; MIB as usize];
    for _ in 0..mib {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
    f.flush().unwrap();
}

struct Pair {
    a: Node,
    b: Node,
    note: String,
    _dirs: [tempfile::TempDir; 2],
}

async fn pair() -> Pair {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "Ada").await;
    let b = node(dirs[1].path(), "Bo").await;
    let Response::SpaceCreated { id: space, .. } = a
        .execute(Request::SpaceNew {
            name: "Bench".into(),
        })
        .await
        .unwrap()
    else {
        panic!("space")
    };
    let Response::Ticket { ticket, .. } = a
        .execute(Request::SpaceInvite {
            space: space.to_string(),
            role: Role::Reader,
            expires_in: Some(3_600_000),
            uses: Some(1),
        })
        .await
        .unwrap()
    else {
        panic!("ticket")
    };
    let Response::Created { id: note } = a
        .execute(Request::NoteNew {
            draft: Draft {
                title: "Files".into(),
                ..Draft::default()
            },
            space: Some(space.to_string()),
        })
        .await
        .unwrap()
    else {
        panic!("note")
    };
    b.execute(Request::SpaceJoin { ticket }).await.unwrap();
    let note = note.to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.note_show(&note).await.is_err() {
        assert!(Instant::now() < deadline, "the note never reached B");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Pair {
        a,
        b,
        note,
        _dirs: dirs,
    }
}

/// Attaches `file` on A; the time it took (hashing and the outboard) and its name.
async fn attach(p: &Pair, file: &Path) -> (Duration, String) {
    let t = Instant::now();
    let Response::Attached { attachment, .. } =
        p.a.execute(Request::Attach {
            id: p.note.clone(),
            path: file.display().to_string(),
            name: None,
            embed: true,
        })
        .await
        .unwrap()
    else {
        panic!("attach")
    };
    (t.elapsed(), attachment.name)
}

/// What a fetch took.
struct Fetched {
    took: Duration,
    /// Peak resident memory above the level before.
    grew: u64,
    path: PathBuf,
    /// CPU time of the process (both nodes, every thread) during the fetch.
    cpu: Option<f64>,
}

impl Fetched {
    /// "x.xx core-seconds, y.y of the 2 cores busy".
    fn cpu_line(&self) -> String {
        match self.cpu {
            Some(cpu) => format!(
                "{cpu:.2} core-seconds ({:.2} of the 2 cores busy)",
                cpu / self.took.as_secs_f64()
            ),
            None => "not known here".to_owned(),
        }
    }
}

/// B fetches the attachment: the time, the memory and the CPU it took.
async fn fetch(p: &Pair, name: &str) -> Fetched {
    // The note's change that records the attachment reaches B first.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed =
            p.b.execute(Request::Attachments { id: p.note.clone() })
                .await;
        if matches!(listed, Ok(Response::Attachments { ref items, .. }) if items.iter().any(|a| a.name == name))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the attachment never reached B's note"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = memory::proc_status_kb("VmRSS").unwrap_or(0) * 1024;
    assert!(
        memory::reset_peak(),
        "/proc/self/clear_refs is needed to measure the peak"
    );
    let cpu = memory::cpu_seconds();
    let t = Instant::now();
    let Response::AttachmentFile { path, fetched, .. } =
        p.b.execute(Request::AttachmentGet {
            id: p.note.clone(),
            name: name.into(),
        })
        .await
        .unwrap()
    else {
        panic!("fetch")
    };
    let took = t.elapsed();
    let cpu = memory::cpu_seconds()
        .zip(cpu)
        .map(|(after, before)| after - before);
    let peak = memory::proc_status_kb("VmHWM").unwrap_or(0) * 1024;
    assert!(fetched > 0, "nothing was fetched");
    Fetched {
        took,
        grew: peak.saturating_sub(before),
        path: PathBuf::from(path),
        cpu,
    }
}

fn rate(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

async fn run(mb: u64, memory_mb: u64) {
    let work = tempfile::tempdir().unwrap();
    let p = pair().await;

    // 1. Throughput beside a file copy.
    let file = work.path().join("file.bin");
    make_file(&file, mb, 1);
    let bytes = mb * MIB;
    let t = Instant::now();
    std::fs::copy(&file, work.path().join("copy.bin")).unwrap();
    let copy = t.elapsed();
    let _ = std::fs::remove_file(work.path().join("copy.bin"));
    // The same, then on disk, as a stored attachment is before it counts as held.
    let t = Instant::now();
    std::fs::copy(&file, work.path().join("copy.bin")).unwrap();
    std::fs::File::open(work.path().join("copy.bin"))
        .unwrap()
        .sync_all()
        .unwrap();
    let durable = t.elapsed();
    let _ = std::fs::remove_file(work.path().join("copy.bin"));
    let (attach_time, name) = attach(&p, &file).await;
    let fetched = fetch(&p, &name).await;
    let (took, grew) = (fetched.took, fetched.grew);
    assert_eq!(std::fs::metadata(&fetched.path).unwrap().len(), bytes);
    println!();
    println!("throughput, {mb} MiB");
    println!(
        "  std::fs::copy           {:>8.1} MiB/s  ({:.2} s)",
        rate(bytes, copy),
        copy.as_secs_f64()
    );
    println!(
        "  std::fs::copy + fsync   {:>8.1} MiB/s  ({:.2} s)",
        rate(bytes, durable),
        durable.as_secs_f64()
    );
    println!(
        "  attach (hash, outboard) {:>8.1} MiB/s  ({:.2} s)",
        rate(bytes, attach_time),
        attach_time.as_secs_f64()
    );
    println!(
        "  fetch A → B             {:>8.1} MiB/s  ({:.2} s)  = {:.2}× the copy, {:.2}× the copy + fsync (goal ≥ 0.5)",
        rate(bytes, took),
        took.as_secs_f64(),
        copy.as_secs_f64() / took.as_secs_f64(),
        durable.as_secs_f64() / took.as_secs_f64()
    );
    println!("  CPU during the fetch: {}", fetched.cpu_line());
    println!(
        "  resident memory during the fetch: +{:.1} MiB",
        grew as f64 / MIB as f64
    );
    let _ = std::fs::remove_file(&file);

    // 2. Memory for a large file.
    let big = work.path().join("big.bin");
    make_file(&big, memory_mb, 2);
    let (_, big_name) = attach(&p, &big).await;
    let _ = std::fs::remove_file(&big);
    let big_fetch = fetch(&p, &big_name).await;
    let (took, big_grew) = (big_fetch.took, big_fetch.grew);
    println!();
    println!("memory, {memory_mb} MiB");
    println!(
        "  fetch A → B             {:>8.1} MiB/s  ({:.2} s)",
        rate(memory_mb * MIB, took),
        took.as_secs_f64()
    );
    println!("  CPU during the fetch: {}", big_fetch.cpu_line());
    println!(
        "  resident memory during the fetch: +{:.1} MiB (with {mb} MiB: +{:.1} MiB; goal: flat)",
        big_grew as f64 / MIB as f64,
        grew as f64 / MIB as f64
    );
    p.a.shutdown().await;
    p.b.shutdown().await;
}
