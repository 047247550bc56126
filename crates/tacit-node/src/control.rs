//! The control socket: other processes (the `tacit` CLI) reach a running node through a Unix
//! socket in its home. Each line is one JSON [`Request`]; each reply is one JSON line,
//! `{"ok": Response}` or `{"error": {"kind", "message"}}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use crate::api::{Request, Response};
use crate::error::{ErrorKind, NodeError, WireError};
use crate::node::Node;

/// Longest request line: a body at its 1 MiB limit, escaped as JSON, fits with room to spare.
const MAX_LINE: usize = 8 * 1024 * 1024;
/// Connections served at once; more wait in the kernel's backlog. The socket is reachable only
/// by this user, so this bounds accidents (a runaway script), not attacks.
const MAX_CONNECTIONS: usize = 64;
/// How long a stopping server waits for running requests to be answered. Requests take
/// milliseconds; this only bounds a stuck one.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub use tacit_store::socket_path;

/// A reply line (one per request, serialised at once: its size does not matter).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
enum Reply {
    Ok(Response),
    Error(WireError),
}

/// Binds the socket owner-only from the moment anyone could reach it: it is bound inside a fresh
/// directory of mode 0700 next to `path`, made 0600 there, and only then moved to `path`. (A
/// socket bound in place takes its mode from the umask, and a chmod after `bind` leaves a window
/// in which another user could connect.)
fn bind_private(path: &std::path::Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the socket path has no directory"))?;
    let private = parent.join(format!(".tacit-sock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let staged = private.join("s");
    let result = (|| {
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

/// The served control socket; [`ControlServer::stop`] closes it and removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    node: Node,
}

impl ControlServer {
    /// Serves `node` on its home's socket. The caller holds the home's lock, so a socket file
    /// already there was left by a process that died and is replaced.
    pub async fn start(node: Node) -> Result<ControlServer, NodeError> {
        let path = node.socket_path();
        let sock_err = |source| NodeError::Socket {
            path: path.display().to_string(),
            source,
        };
        match std::fs::remove_file(&path) {
            Ok(()) => debug!("removed a stale control socket"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(sock_err(e)),
        }
        let listener = bind_private(&path).map_err(sock_err)?;
        node.set_serving(true);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, node.clone(), stopped));
        Ok(ControlServer {
            path,
            task,
            stop,
            node,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting; lets each connection finish the request it is running and send its
    /// reply (for up to [`DRAIN_TIMEOUT`]); removes the socket file. Call it before
    /// [`Node::shutdown`], so that no request is written without its reply being sent.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.node.set_serving(false);
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(listener: UnixListener, node: Node, stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let mut stop = stopped.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                Ok((stream, _)) => {
                    let node = node.clone();
                    let stopped = stopped.clone();
                    connections.spawn(async move {
                        if let Err(e) = serve_connection(node, stream, stopped).await {
                            debug!("control connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    warn!("control socket accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!("control connections still busy after {DRAIN_TIMEOUT:?}; closing them");
    }
}

async fn serve_connection(
    node: Node,
    stream: UnixStream,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Waiting for a request is where a stopping server leaves; a request that has arrived
        // is run and answered.
        let mut limited = (&mut read).take(MAX_LINE as u64 + 1);
        let n = tokio::select! {
            n = limited.read_until(b'\n', &mut line) => n?,
            _ = stopped.changed() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_LINE {
            Reply::Error(WireError {
                kind: ErrorKind::Invalid,
                message: format!("request longer than {MAX_LINE} bytes"),
            })
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(req) => match node.execute(req).await {
                    Ok(resp) => Reply::Ok(resp),
                    Err(e) => Reply::Error(e.to_wire()),
                },
                Err(e) => Reply::Error(WireError {
                    kind: ErrorKind::Invalid,
                    message: format!("malformed request: {e}"),
                }),
            }
        };
        let mut out = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
        out.push(b'\n');
        write.write_all(&out).await?;
        if line.len() > MAX_LINE {
            return Ok(()); // the rest of that line is not worth reading
        }
    }
}

/// A connection to a running node's control socket.
#[derive(Debug)]
pub struct Client {
    stream: BufReader<UnixStream>,
    path: PathBuf,
}

impl Client {
    /// Connects to the node serving `home`, or `None` when no node serves it.
    pub async fn connect(home: &Path) -> Result<Option<Client>, NodeError> {
        let path = socket_path(home);
        match UnixStream::connect(&path).await {
            Ok(s) => Ok(Some(Client {
                stream: BufReader::new(s),
                path,
            })),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(None)
            }
            Err(source) => Err(NodeError::Socket {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Sends one request and waits for its reply.
    pub async fn execute(&mut self, req: &Request) -> Result<Response, NodeError> {
        let sock_err = |source| NodeError::Socket {
            path: self.path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_vec(req).map_err(|e| NodeError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.stream
            .get_mut()
            .write_all(&line)
            .await
            .map_err(sock_err)?;
        let mut buf = Vec::new();
        let n = (&mut self.stream)
            .take(MAX_LINE as u64 * 2)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(sock_err)?;
        if n == 0 {
            return Err(NodeError::Protocol(
                "the running node closed the connection without a reply".into(),
            ));
        }
        match serde_json::from_slice::<Reply>(&buf) {
            Ok(Reply::Ok(r)) => Ok(r),
            Ok(Reply::Error(e)) => Err(NodeError::Remote(e)),
            Err(e) => Err(NodeError::Protocol(format!("malformed reply: {e}"))),
        }
    }
}
