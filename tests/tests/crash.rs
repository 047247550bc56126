//! Crash safety: a child process writes notes through the `Node` handle and reports each one
//! only after its write returned; the test kills it with SIGKILL at random moments. Every
//! reported note must be there, intact, after reopening, and SQLite's integrity check must pass.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tacit_node::Node;
use tacit_tests::{TestHome, test_rng};

/// Rounds of write-then-kill; each reopens the home the previous round's victim left behind.
const ROUNDS: usize = 50;

fn body(rev: usize) -> String {
    (0..=rev).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn notes_acknowledged_before_sigkill_survive_it() {
    let home = TestHome::new();
    home.ok(&["init", "--name", "Crash"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut rng = test_rng(b"notes_acknowledged_before_sigkill_survive_it");
    // note id -> highest revision acknowledged
    let mut acknowledged: HashMap<String, usize> = HashMap::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(home.path())
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn crash_writer");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let reader = {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().expect("lock").push(line);
                }
            })
        };
        // Wait for the first acknowledged write, then kill at a random moment after it.
        tacit_tests::wait_for(
            "the writer's first acknowledged write",
            Duration::from_secs(30),
            || !lines.lock().expect("lock").is_empty() || child.try_wait().ok().flatten().is_some(),
        );
        std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
        child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
        let status = child.wait().expect("reap");
        reader.join().expect("reader thread");
        // The kill must land while the writer runs; one that exited by itself tests nothing.
        if status.code().is_some() {
            let mut err = String::new();
            let _ =
                std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
            panic!("round {round}: the writer exited by itself ({status}): {err}");
        }
        for line in lines.lock().expect("lock").iter() {
            let (id, rev) = line.split_once(' ').expect("ID REV");
            let rev: usize = rev.parse().expect("rev");
            let entry = acknowledged.entry(id.to_owned()).or_default();
            *entry = (*entry).max(rev);
        }

        // Reopen: the lock of the killed process must not block, and everything reported is
        // there in full.
        runtime.block_on(async {
            let node = Node::open(home.path())
                .await
                .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
            for (id, rev) in &acknowledged {
                let note = node.note_show(id).await.unwrap_or_else(|e| {
                    panic!("round {round}: acknowledged note {id} is lost: {e}")
                });
                let lines = note.body.lines().count();
                assert!(
                    lines > *rev,
                    "round {round}: note {id} lost acknowledged revision {rev} (has {lines} lines)"
                );
                assert_eq!(
                    note.body,
                    body(lines - 1),
                    "round {round}: note {id} is not intact"
                );
            }
            node.shutdown().await;
        });
        let db = rusqlite::Connection::open_with_flags(
            home.path().join("tacit.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open db");
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok", "round {round}: integrity check");
    }
    assert!(
        acknowledged.len() >= ROUNDS,
        "too few writes to mean anything: {}",
        acknowledged.len()
    );
    eprintln!(
        "{ROUNDS} SIGKILLs, {} notes acknowledged, {} revisions checked",
        acknowledged.len(),
        acknowledged.values().map(|r| r + 1).sum::<usize>()
    );
}

/// Rounds of SIGKILL against `tacit serve` while CLI commands write through it.
const SERVE_ROUNDS: usize = 10;

#[test]
fn notes_acknowledged_by_a_sigkilled_serve_survive_it() {
    let home = TestHome::new();
    home.ok(&["init", "--name", "Crash"]);
    let mut rng = test_rng(b"notes_acknowledged_by_a_sigkilled_serve_survive_it");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..SERVE_ROUNDS {
        let served = home.serve();
        let pid = served.pid().to_string();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Writers: sequential `tacit note new` in two threads; an id counts once printed.
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let stop = stop.clone();
                let path = home.path().to_path_buf();
                let cmd = move |n: usize| {
                    tacit_tests::tacit_at(
                        &path,
                        &["note", "new", "--title", &format!("r{round}-w{w}-n{n}")],
                    )
                };
                std::thread::spawn(move || {
                    let mut ids = Vec::new();
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let out = cmd(n).output().expect("run tacit");
                        if out.status.success() {
                            ids.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
                        }
                        n += 1;
                    }
                    ids
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(20..300)));
        let status = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        drop(served);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            acknowledged.extend(w.join().expect("writer"));
        }
        let listed = home.json(&["note", "list"]);
        let listed: std::collections::HashSet<&str> = listed
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|n| n["id"].as_str())
            .collect();
        for id in &acknowledged {
            assert!(
                listed.contains(id.as_str()),
                "round {round}: acknowledged note {id} is lost"
            );
        }
        // A note committed just before the kill may lack its reply: more is allowed, less is not.
        assert!(listed.len() >= acknowledged.len());
    }
    assert!(acknowledged.len() >= SERVE_ROUNDS);
}
