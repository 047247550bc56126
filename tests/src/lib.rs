//! Helpers for Tacit's cross-crate tests: real `tacit` processes on temporary homes, seeded
//! randomness, and bounded waits that fail with a message instead of hanging.

pub mod converge;
pub mod netns;
pub mod nodes;
pub mod rawpeer;

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
        // mDNS multicasts on the machine's interfaces: off in every test but the one that
        // builds its own network namespaces.
        .env("TACIT_NO_MDNS", "1")
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
            .command(&["serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
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

/// How long a test waits for something that travels between nodes (a join, a change, a
/// reconnect) before it fails. Never a timing assertion: on a healthy run each wait ends far
/// sooner, and the limit only stops a broken run from hanging.
pub const SYNC_PATIENCE: Duration = Duration::from_secs(60);

/// Polls `probe` every 100 ms until it returns `Ok`, and returns that value; after `limit`,
/// panics naming `what` and the last `Err` the probe gave (what it saw instead). Slower than
/// [`wait_for`], for probes that start a process.
pub fn eventually<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if start.elapsed() >= limit => {
                panic!("timed out after {limit:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs `cmd` and returns its output, whatever its exit code; kills it and fails the test if
/// it still runs after [`COMMAND_LIMIT`]. `what` names it in that failure.
pub fn output_within_limit(mut cmd: Command, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(COMMAND_LIMIT) {
        Ok(out) => out.unwrap_or_else(|e| panic!("cannot collect the output of {what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("{what} still ran after {COMMAND_LIMIT:?}");
        }
    }
}

/// As [`output_within_limit`], and asserts that `cmd` succeeded (its standard error in the
/// failure).
pub fn succeeded(cmd: Command, what: &str) -> Output {
    let out = output_within_limit(cmd, what);
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A home for tests that sync: like every test command its commands run with mDNS off
/// ([`tacit_at`]), and [`NetHome::serve`] listens on 127.0.0.1 only.
pub struct NetHome {
    home: TestHome,
}

impl NetHome {
    /// A new home, initialised with the display name `name`.
    pub fn init(name: &str) -> NetHome {
        let home = NetHome {
            home: TestHome::new(),
        };
        let out = home.ok(&["init", "--name", name]);
        assert!(out.contains("Initialised"), "tacit init: {out}");
        home
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// A `tacit --home HOME args…` command (mDNS off, as every test command: [`tacit_at`]).
    pub fn command(&self, args: &[&str]) -> Command {
        self.home.command(args)
    }

    /// Runs `tacit args…`; returns its output whatever its exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.home.run(args)
    }

    /// Runs `tacit args…`, asserts it succeeded, returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        self.home.ok(args)
    }

    /// Runs `tacit args… --json` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        self.home.json(args)
    }

    /// Runs `tacit args… --json`; the parsed output, or the error it printed (for polling).
    pub fn try_json(&self, args: &[&str]) -> Result<serde_json::Value, String> {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.run(&args);
        if !out.status.success() {
            return Err(format!(
                "tacit {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("tacit {args:?}: bad JSON {e}"))
    }

    /// Runs `tacit args…`, asserts it failed with `code`, returns its standard error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "tacit {args:?}: expected exit {code}, got {}; stdout: {}; stderr: {err}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        err
    }

    /// The `tacit serve` command for this home on a free TCP port of 127.0.0.1, mDNS off.
    pub fn serve_command(&self) -> Command {
        self.command(&["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
    }

    /// Starts [`NetHome::serve_command`] and waits until it listens.
    pub fn serve(&self) -> Serving {
        Serving::start(self.serve_command(), self.path())
    }
}

/// A running `tacit serve` with its standard error in a log file. Dropping it kills the
/// process (SIGKILL) and reaps it, so a failing test leaves no server behind.
pub struct Serving {
    child: Child,
    home: PathBuf,
    log_dir: tempfile::TempDir,
    peer_id: String,
    listen: Vec<String>,
}

impl Serving {
    /// Spawns `cmd` (a `tacit --home HOME serve …`, possibly wrapped, e.g. by `ip netns exec`,
    /// which keeps the process id) with stderr to a log file outside the home, and waits until
    /// its control socket answers and its node listens. Fails the test, with the log, when the
    /// server exits or does not come up.
    pub fn start(mut cmd: Command, home: &Path) -> Serving {
        let log_dir = tempfile::Builder::new()
            .prefix("tacit-serve-log")
            .tempdir()
            .expect("temp dir for the serve log");
        let log = std::fs::File::create(log_dir.path().join("stderr.log")).expect("serve log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tacit serve");
        let mut serving = Serving {
            child,
            home: home.to_owned(),
            log_dir,
            peer_id: String::new(),
            listen: Vec::new(),
        };
        let sock = home.join("tacit.sock");
        let started = Instant::now();
        let limit = Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            serving.assert_running("start serving");
            assert!(
                started.elapsed() < limit,
                "tacit serve on {} did not open its control socket within {limit:?}; log:\n{}",
                home.display(),
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Status goes through the control socket: the node as the server runs it.
        let status = eventually("tacit serve to listen", limit, || {
            serving.assert_running("listen");
            let mut cmd = tacit_at(home, &["status", "--json"]);
            cmd.env("TACIT_NO_MDNS", "1");
            let out = output_within_limit(cmd, "tacit status --json");
            let status: serde_json::Value = serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("status: {e}: {}", String::from_utf8_lossy(&out.stderr)))?;
            let listening = status["listen_addrs"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
            if status["serving"] == true && listening {
                Ok(status)
            } else {
                Err(status.to_string())
            }
        });
        serving.peer_id = status["peer_id"].as_str().unwrap_or_default().to_owned();
        serving.listen = status["listen_addrs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        serving
    }

    /// Panics, with the log, if the server has exited.
    fn assert_running(&mut self, doing: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "tacit serve on {} exited ({status}) before it could {doing}; log:\n{}",
                self.home.display(),
                self.log()
            );
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its libp2p peer id.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// Where it listens (multiaddrs), as `status` reported once it was up.
    pub fn listen_addrs(&self) -> &[String] {
        &self.listen
    }

    /// Its first TCP listen address.
    pub fn tcp_addr(&self) -> &str {
        self.listen
            .iter()
            .find(|a| a.contains("/tcp/"))
            .unwrap_or_else(|| panic!("tacit serve listens on no TCP address: {:?}", self.listen))
    }

    /// The file its standard error goes to.
    pub fn log_path(&self) -> PathBuf {
        self.log_dir.path().join("stderr.log")
    }

    /// What it wrote on standard error so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    /// Kills it with SIGKILL (no chance to clean up, like a crash or `kill -9`) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it with SIGTERM and waits (bounded); returns whether it exited cleanly, and its
    /// log, which stays readable after the server is gone.
    pub fn stop(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        let clean = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.success(),
                Ok(None) if start.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break false;
                }
            }
        };
        (clean, self.log())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Logs to standard error as `RUST_LOG` says (for a failing test run with `--nocapture`); once
/// per test binary, and nothing when `RUST_LOG` is unset.
pub fn log_from_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
    });
}
