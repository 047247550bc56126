//! Helpers for Tacit's cross-crate tests: real `tacit` processes on temporary homes, seeded
//! randomness, and bounded waits that fail with a message instead of hanging.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Longest a one-shot command may run in a test before it counts as hung.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// The `tacit` binary of this build (`target/<profile>/tacit`, beside the test's own `deps/`).
/// The test command builds it first (`cargo build --workspace --bins`).
pub fn tacit_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = dir.join(format!("tacit{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A `tacit --home HOME args…` command, with no inherited `TACIT_HOME` or `RUST_LOG`.
pub fn tacit_at(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(tacit_bin());
    cmd.arg("--home")
        .arg(home)
        .args(args)
        .env_remove("TACIT_HOME")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// A random generator seeded from the test's name, so every run of a test sees the same numbers.
pub fn test_rng(name: &[u8]) -> ChaCha8Rng {
    let mut seed = [0u8; 32];
    for (i, b) in name.iter().enumerate() {
        seed[i % 32] = seed[i % 32].wrapping_mul(31).wrapping_add(*b);
    }
    ChaCha8Rng::from_seed(seed)
}

/// Waits until `cond` holds, polling; panics naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temporary home directory, and `tacit` commands run against it.
pub struct TestHome {
    dir: tempfile::TempDir,
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHome {
    /// A fresh, uninitialised home (the directory exists but is empty).
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("tacit-test")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `tacit --home HOME args…` command, with no inherited `TACIT_HOME`.
    pub fn command(&self, args: &[&str]) -> Command {
        tacit_at(self.path(), args)
    }

    /// Runs `tacit args…` and returns its output, whatever its exit code. A command still
    /// running after [`COMMAND_LIMIT`] is killed and fails the test (a `serve` that should
    /// have refused to start, say), instead of hanging it.
    pub fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tacit");
        let pid = child.id().to_string();
        // Collect on another thread, so that a large output never blocks the child on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(COMMAND_LIMIT) {
            Ok(out) => out.expect("collect tacit's output"),
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                let stderr = rx
                    .recv()
                    .ok()
                    .and_then(Result::ok)
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default();
                panic!("tacit {args:?} still ran after {COMMAND_LIMIT:?}; stderr: {stderr}");
            }
        }
    }

    /// Runs `tacit args…`, asserts it succeeded, returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tacit {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs `tacit args… --json` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("tacit {args:?}: bad JSON {e}: {out}"))
    }

    /// Runs `tacit args…`, asserts it failed with `code`, returns its standard error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "tacit {args:?}: expected exit {code}, got {}; stderr: {err}",
            out.status
        );
        err
    }

    /// Starts `tacit serve` on this home and waits until its control socket answers.
    pub fn serve(&self) -> Served {
        let child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tacit serve");
        let served = Served { child };
        let sock = self.path().join("tacit.sock");
        wait_for(
            "tacit serve's control socket",
            Duration::from_secs(20),
            || std::os::unix::net::UnixStream::connect(&sock).is_ok(),
        );
        served
    }
}

/// A running `tacit serve`; stopped with SIGTERM (and reaped) when dropped.
pub struct Served {
    child: Child,
}

impl Served {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and waits for it; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if start.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}
