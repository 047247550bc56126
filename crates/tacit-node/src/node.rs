//! The `Node` handle: cloneable, async, one method per thing a user can do.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tacit_core::{
    AnswerId, DeviceKey, Doc, DocId, Draft, Edit, NoteEdit, NoteView, ProfileEdit, QuestionView,
    SpaceId, Ticket,
};
use tacit_store::{Chunk, DocWrite, Home, SpaceRow};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::actor::{Actor, MAX_BATCH};
use crate::api::{
    Event, Identity, InitReport, ListItem, NetStatus, RelayInfo, RelaySource, RelayState, Request,
    Response, Status,
};
use crate::base::ActorLink;
use crate::base::{KeptLimits, Msg, NodeInfo, now_ms};
use crate::error::NodeError;
use crate::replica::{ReplicaReply, ReplicaReq, Replicated};
use crate::search::Search;
use crate::sync::{Engine, NetOptions, check_relay, max_relays};
use serde::Serialize;

/// Requests queued for the actor before callers wait: two full group-commit batches.
const REQUEST_QUEUE: usize = 2 * MAX_BATCH;
/// Events buffered per subscriber; one that falls further behind is told it lagged and should
/// reload what it shows.
const EVENT_BUFFER: usize = 1024;
/// Activation requests buffered: one is enough to raise a window; a few cover a burst.
const ACTIVATIONS: usize = 4;
/// Local changes buffered per sync session; a session that falls further behind reconciles
/// again instead.
pub(crate) const REPLICA_BUFFER: usize = 4096;

/// The search index's directory in the home.
const INDEX_DIR: &str = "index";

/// Store keys of the home's identity.
const META_MEMBER: &str = "member";
const META_PERSONAL_SPACE: &str = "personal_space";
/// Store key of the relays the person gave (`--use-relay`, `tacit relay add`, Settings): a JSON
/// list of multiaddrs, each ending in `/p2p/PEER_ID`.
const META_RELAYS: &str = "relays";
/// Store key of the limits on attachments the person set (`tacit attachment limits`, Settings):
/// a JSON object with any of `max_file`, `space_quota`, `auto_fetch` (bytes).
const META_ATTACHMENT_LIMITS: &str = "attachment_limits";

/// How [`Node::open_with`] starts a node.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Hold the background work (the search index catching up with the store, which after an
    /// upgrade rebuilds it) until [`Node::start_background`] or the first search: a window
    /// paints first.
    pub defer_background: bool,
}

impl OpenOptions {
    /// These options with the background work held (see the field `defer_background`).
    pub fn deferred(mut self) -> Self {
        self.defer_background = true;
        self
    }
}

/// A running node. Clones share the one actor; it stops at [`Node::shutdown`] or when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Node {
    tx: mpsc::Sender<Msg>,
    events: broadcast::Sender<Event>,
    /// Fired by `Request::Activate` (with the link it carries, if any); the desktop app
    /// listens to bring its window forward.
    activations: broadcast::Sender<Option<String>>,
    info: Arc<NodeInfo>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Local changes and membership changes, for the sync sessions.
    replica: broadcast::Sender<Replicated>,
    /// The network, once started.
    engine: Arc<Mutex<Option<Arc<Engine>>>>,
    /// The device key's secret: the network identity.
    secret: Arc<[u8; 32]>,
    /// The search index, or why it could not be opened.
    search: Result<Arc<Search>, String>,
    /// The relays the person gave, as kept in the home (see [`META_RELAYS`]).
    relays: Arc<tokio::sync::Mutex<Vec<String>>>,
    /// The database, for writing the relays on a connection of their own (the actor owns the
    /// main one; a relay is added or removed rarely).
    store_path: PathBuf,
    /// The limits on attachments the person set, as kept in the home.
    kept_limits: Arc<tokio::sync::Mutex<KeptLimits>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("home", &self.info.home)
            .field("member", &self.info.member)
            .finish()
    }
}

impl Node {
    /// Opens an initialised home and starts its node. Fails with a "run `tacit init`" error on
    /// a home that was never initialised, and names the pid of another process holding it.
    pub async fn open(dir: &Path) -> Result<Node, NodeError> {
        Self::open_with(dir, OpenOptions::default()).await
    }

    /// [`Node::open`], with options (the desktop app defers background work until its window
    /// has painted).
    pub async fn open_with(dir: &Path, options: OpenOptions) -> Result<Node, NodeError> {
        let dir = dir.to_path_buf();
        // All of it blocks (files, SQLite, the index's metadata): off the async workers.
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let (home, store, info, key) = open_home(&dir)?;
            let relays = kept_relays(&store)?;
            let limits = kept_limits(&store);
            tracing::debug!(
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "home and store opened"
            );
            Ok::<_, NodeError>(Self::start(
                home,
                store,
                info,
                key,
                (relays, limits),
                options,
            ))
        })
        .await
        .map_err(|e| NodeError::Internal(format!("opening the home panicked: {e}")))?
    }

    /// Starts the background work a node opened with [`OpenOptions::defer_background`] holds:
    /// the search index catching up with the store (a rebuild after an upgrade). A search
    /// starts it too. Does nothing when it has started.
    pub fn start_background(&self) {
        if let Ok(search) = &self.search {
            search.begin();
        }
    }

    /// Initialises the home at `dir` (device key, member, personal space, profile) and starts
    /// its node. On a home already initialised it changes nothing and says so
    /// (`created: false`).
    pub async fn init(dir: &Path, profile: ProfileEdit) -> Result<(Node, InitReport), NodeError> {
        let dir = dir.to_path_buf();
        let created = tokio::task::spawn_blocking(move || init_home(&dir, profile))
            .await
            .map_err(|e| NodeError::Internal(format!("initialising the home panicked: {e}")))??;
        let (home, store, info, key, created) = created;
        let relays = kept_relays(&store)?;
        let limits = kept_limits(&store);
        let report = InitReport {
            created,
            home: info.home.display().to_string(),
            member: info.member,
            personal_space: info.personal,
        };
        Ok((
            Self::start(
                home,
                store,
                info,
                key,
                (relays, limits),
                OpenOptions::default(),
            ),
            report,
        ))
    }

    fn start(
        home: Home,
        store: tacit_store::Store,
        info: NodeInfo,
        key: DeviceKey,
        (relays, limits): (Vec<String>, KeptLimits),
        options: OpenOptions,
    ) -> Node {
        if let Ok(mut l) = info.blob_limits.lock() {
            *l = limits.apply(*l);
        }
        let info = Arc::new(info);
        let store_path = store.path().to_path_buf();
        let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (replica, _) = broadcast::channel(REPLICA_BUFFER);
        let secret = Arc::new(key.secret());
        let started = std::time::Instant::now();
        let search = Search::start(
            &info.home.join(INDEX_DIR),
            store.path(),
            info.member,
            options.defer_background,
        );
        if let Err(e) = &search {
            tracing::warn!("search is unavailable: {e}");
        }
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "search index opened"
        );
        let actor = Actor::new(
            home,
            store,
            info.clone(),
            key,
            events.clone(),
            replica.clone(),
            search.as_ref().ok().cloned(),
        );
        let thread = std::thread::Builder::new()
            .name("tacit-node".into())
            .spawn(move || actor.run(rx))
            .map_err(|e| tracing::error!("cannot start the node thread: {e}"))
            .ok();
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "node started (search index and actor)"
        );
        Node {
            tx,
            events,
            activations: broadcast::channel(ACTIVATIONS).0,
            info,
            thread: Arc::new(Mutex::new(thread)),
            replica,
            engine: Arc::default(),
            secret,
            search,
            relays: Arc::new(tokio::sync::Mutex::new(relays)),
            store_path,
            kept_limits: Arc::new(tokio::sync::Mutex::new(limits)),
        }
    }

    /// Starts the network: listens, dials members seen before, syncs shared spaces. Until
    /// this is called the node works alone (as one-shot CLI commands do).
    ///
    /// `opts.relays` are kept in the home and used together with those kept before; a node
    /// that does not listen (a one-shot command) only dials out and uses none.
    pub async fn start_network(&self, mut opts: NetOptions) -> Result<(), NodeError> {
        if self.engine().is_some() {
            return Ok(());
        }
        // What the person set wins over the options' limits; held until the network runs with
        // them, so that a change made meanwhile is not overwritten by the start.
        let kept_limits = self.kept_limits.lock().await;
        opts.blobs = kept_limits.apply(opts.blobs);
        let given: Vec<String> = opts
            .relays
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .map(|r| check_relay(r).map(|(_, a)| a.to_string()))
            .collect::<Result<_, _>>()?;
        {
            let mut kept = self.relays.lock().await;
            let mut list = kept.clone();
            for r in given {
                if !list.contains(&r) {
                    list.push(r);
                }
            }
            if list.len() > max_relays() {
                return Err(NodeError::Invalid(format!(
                    "{} relays given (with those kept in the home), at most {} are used; remove some with `tacit relay remove`",
                    list.len(),
                    max_relays()
                )));
            }
            if list != *kept {
                self.save_relays(&list).await?;
                *kept = list.clone();
            }
            opts.relays = if opts.listen.is_empty() {
                Vec::new()
            } else {
                list.into_iter()
                    .filter(|r| check_relay(r).is_ok())
                    .collect()
            };
        }
        let engine = Engine::start(
            opts,
            *self.secret,
            ActorLink::new(&self.tx),
            self.info.clone(),
            self.events.clone(),
            self.replica.clone(),
        )
        .await?;
        drop(kept_limits);
        if let Ok(mut slot) = self.engine.lock() {
            *slot = Some(engine);
        }
        let _ = self.events.send(Event::NetworkChanged);
        Ok(())
    }

    fn engine(&self) -> Option<Arc<Engine>> {
        self.engine.lock().ok().and_then(|e| e.clone())
    }

    /// The engine, or the error a command needing the network gets without one.
    fn network(&self) -> Result<Arc<Engine>, NodeError> {
        self.engine().ok_or_else(|| {
            NodeError::Offline(
                "this needs the network: run `tacit serve` (or the app) and try again".into(),
            )
        })
    }

    /// The libp2p peer id of this node.
    pub fn peer_id(&self) -> &str {
        &self.info.peer_id
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.info.home
    }

    /// The control socket path of this home.
    pub fn socket_path(&self) -> PathBuf {
        tacit_store::socket_path(&self.info.home)
    }

    /// Events: every document change, as it is committed.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Activation requests: each `Request::Activate` (a second launch of the app on this home)
    /// arrives here, with the `tacit://join/…` link that launch was given, if any.
    pub fn on_activate(&self) -> broadcast::Receiver<Option<String>> {
        self.activations.subscribe()
    }

    /// Marks whether the control socket is served (shown by `status`).
    pub(crate) fn set_serving(&self, on: bool) {
        self.info
            .serving
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs one request. Success means every change it made is on disk.
    pub async fn execute(&self, req: Request) -> Result<Response, NodeError> {
        if crate::base::route(&req) != crate::base::Route::Handle {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Msg::Request(req, reply))
                .await
                .map_err(|_| NodeError::Stopped)?;
            return rx.await.map_err(|_| NodeError::Stopped)?;
        }
        match req {
            Request::Activate { link } => {
                // Nothing to store: answered here, by whoever listens for activations.
                let window = self.activations.send(link).is_ok();
                Ok(Response::Activated { window })
            }
            Request::Connect { addr } => {
                let peer = self.network()?.connect(&addr).await?;
                Ok(Response::Connected { peer })
            }
            Request::Peers => {
                let items = self.info.net.lock().map(|v| v.peers()).unwrap_or_default();
                Ok(Response::Peers { items })
            }
            Request::Network => Ok(Response::Network(self.network_status().await)),
            Request::RelayAdd { addr } => self.relay_add(&addr).await,
            Request::RelayRemove { relay } => self.relay_remove(&relay).await,
            Request::SpaceJoin { ticket } => self.join(&ticket).await,
            Request::Search {
                query,
                space,
                limit,
            } => self.search(&query, space.as_deref(), limit).await,
            Request::NoteLinks { id } => self.links(&id).await,
            Request::Attach {
                id,
                path,
                name,
                embed,
            } => self.attach(id, path, name, embed).await,
            Request::AttachmentGet { id, name } => self.attachment_get(&id, &name).await,
            Request::AttachmentLimits {
                max_file,
                space_quota,
                auto_fetch,
            } => {
                let change = KeptLimits {
                    max_file,
                    space_quota,
                    auto_fetch,
                };
                self.attachment_limits(change).await
            }
            _ => Err(NodeError::Internal(
                "a request the actor answers was routed to the node handle".into(),
            )),
        }
    }

    /// Stores a file by its hash (off the executor, streamed) and records it on a note.
    async fn attach(
        &self,
        id: String,
        path: String,
        name: Option<String>,
        embed: bool,
    ) -> Result<Response, NodeError> {
        let src = PathBuf::from(&path);
        // A relative path would be read from this node's working folder (the home folder of
        // a service, say), not the caller's: an import of a vault holding
        // `Documents/budget.xlsx` would attach the node's own file of that name.
        if !src.is_absolute() {
            return Err(NodeError::Invalid(format!(
                "{path} is a relative path, which the node would read from its own working \
                 folder; give the file's absolute path"
            )));
        }
        let name = match name {
            Some(n) => n,
            None => src
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
                .ok_or_else(|| NodeError::Invalid(format!("{path} names no file")))?,
        };
        tacit_core::check_attachment_name(&name)?;
        let blobs = self.info.blobs.clone();
        let max = self.blob_limits().max_file;
        let (hash, size) = tokio::task::spawn_blocking(move || blobs.import_file(&src, max))
            .await
            .map_err(|e| NodeError::Internal(format!("storing the file panicked: {e}")))?
            .map_err(|e| match e {
                tacit_store::StoreError::Malformed(m) => NodeError::Invalid(m),
                e => NodeError::from(e),
            })?;
        let req = crate::base::AttachReq {
            id,
            name,
            hash: hash.to_hex().to_string(),
            size,
            embed,
        };
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Attach(req, reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)?
    }

    /// The limits on attachments in force.
    fn blob_limits(&self) -> crate::base::BlobLimits {
        self.info.blob_limits.lock().map(|l| *l).unwrap_or_default()
    }

    /// Shows the limits on attachments, or changes the ones `change` sets: kept in the home and
    /// in force at once (the fetches that run keep the limits they started with).
    async fn attachment_limits(&self, change: KeptLimits) -> Result<Response, NodeError> {
        if change != KeptLimits::default() {
            let mut kept = self.kept_limits.lock().await;
            let merged = kept.merged(change, self.blob_limits())?;
            self.save_meta(META_ATTACHMENT_LIMITS, &merged).await?;
            *kept = merged;
            if let Ok(mut l) = self.info.blob_limits.lock() {
                *l = merged.apply(*l);
            }
        }
        Ok(Response::AttachmentLimits(self.blob_limits().into()))
    }

    /// An attachment's bytes on this machine, fetched from a member first when missing.
    async fn attachment_get(&self, id: &str, name: &str) -> Result<Response, NodeError> {
        let (reply, rx) = oneshot::channel();
        let req = Request::Attachments { id: id.to_owned() };
        self.tx
            .send(Msg::Request(req, reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        let Response::Attachments { space, items, .. } =
            rx.await.map_err(|_| NodeError::Stopped)??
        else {
            return Err(NodeError::Internal(
                "unexpected reply to Attachments".into(),
            ));
        };
        let mut info = items
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| tacit_core::CoreError::NoSuchAttachment(name.to_owned()))?;
        let hash = tacit_store::Blobs::parse_hash(&info.hash).ok_or_else(|| {
            NodeError::Invalid(format!("attachment {name:?} has a malformed hash"))
        })?;
        let mut fetched = crate::blobs::Fetched::default();
        if !info.present {
            let engine = self.engine().ok_or_else(|| {
                NodeError::Offline(format!(
                    "attachment {name:?} is not on this machine yet, and fetching it from a member needs the network: run `tacit serve` or the app"
                ))
            })?;
            fetched = engine
                .fetch_blob(space, hash, info.size, true, false)
                .await?;
            info.present = true;
        }
        Ok(Response::AttachmentFile {
            path: self.info.blobs.path(&hash).display().to_string(),
            attachment: info,
            fetched: fetched.bytes,
            resumed_from: fetched.resumed_from,
        })
    }

    /// Reachability, external addresses and relays; without a network, the relays kept in the
    /// home (`offline`).
    async fn network_status(&self) -> NetStatus {
        let running = self.engine().is_some();
        if running && let Ok(view) = self.info.net.lock() {
            return view.network();
        }
        let relays = self
            .relays
            .lock()
            .await
            .iter()
            .filter_map(|r| {
                let (peer, addr) = check_relay(r).ok()?;
                Some(RelayInfo {
                    peer: peer.to_string(),
                    addr: addr.to_string(),
                    state: RelayState::Offline,
                    detail: None,
                    source: RelaySource::Configured,
                })
            })
            .collect();
        NetStatus {
            relays,
            ..NetStatus::default()
        }
    }

    /// Uses a relay from now on and keeps it in the home.
    async fn relay_add(&self, addr: &str) -> Result<Response, NodeError> {
        let (peer, parsed) = check_relay(addr)?;
        let text = parsed.to_string();
        {
            let mut kept = self.relays.lock().await;
            let mut list: Vec<String> = kept
                .iter()
                .filter(|r| check_relay(r).ok().map(|(p, _)| p) != Some(peer))
                .cloned()
                .collect();
            list.push(text.clone());
            if list.len() > max_relays() {
                return Err(NodeError::Invalid(format!(
                    "already {} relays in use, the most a node uses; remove one first (`tacit relay remove PEER_ID`)",
                    max_relays()
                )));
            }
            if list != *kept {
                self.save_relays(&list).await?;
                *kept = list;
            }
        }
        if let Some(engine) = self.engine() {
            engine.add_relay(&text).await?;
        }
        let _ = self.events.send(Event::NetworkChanged);
        Ok(Response::Network(self.network_status().await))
    }

    /// Stops using a relay given by the person (by peer id or address) and forgets it.
    async fn relay_remove(&self, relay: &str) -> Result<Response, NodeError> {
        let relay = relay.trim();
        let matches = |r: &String| {
            r == relay
                || check_relay(r)
                    .is_ok_and(|(p, a)| p.to_string() == relay || a.to_string() == relay)
        };
        let found: Option<String> = {
            let mut kept = self.relays.lock().await;
            match kept.iter().find(|r| matches(r)).cloned() {
                Some(r) => {
                    let list: Vec<String> = kept.iter().filter(|k| **k != r).cloned().collect();
                    self.save_relays(&list).await?;
                    *kept = list;
                    Some(r)
                }
                None => None,
            }
        };
        let engine = self.engine();
        match (found, engine) {
            (Some(r), Some(engine)) => {
                if let Ok((peer, _)) = check_relay(&r) {
                    engine.remove_relay(peer).await;
                }
            }
            (Some(_), None) => {}
            (None, engine) => {
                let from_member = engine.is_some_and(|e| {
                    relay
                        .parse::<tacit_net::PeerId>()
                        .ok()
                        .or_else(|| check_relay(relay).ok().map(|(p, _)| p))
                        .and_then(|p| e.relay_source(&p))
                        == Some(RelaySource::Member)
                });
                return Err(if from_member {
                    NodeError::Refused(format!(
                        "relay {relay} is a member of one of your spaces that serves as a relay; it is used while it does, and cannot be removed here"
                    ))
                } else {
                    NodeError::NotFound(format!(
                        "no relay {relay} is kept in this home; `tacit relay list` shows them"
                    ))
                });
            }
        }
        let _ = self.events.send(Event::NetworkChanged);
        Ok(Response::Network(self.network_status().await))
    }

    /// Writes the relays into the home.
    async fn save_relays(&self, relays: &[String]) -> Result<(), NodeError> {
        self.save_meta(META_RELAYS, relays).await
    }

    /// Writes a setting kept in the home (as JSON, under `key`), on a database connection of
    /// its own (the actor owns the main one; settings change rarely).
    async fn save_meta(
        &self,
        key: &'static str,
        value: &(impl Serialize + ?Sized),
    ) -> Result<(), NodeError> {
        let path = self.store_path.clone();
        let json = serde_json::to_string(value)
            .map_err(|e| NodeError::Internal(format!("encoding {key}: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let mut store = tacit_store::Store::open(&path, false)?;
            store.set_meta(key, &json)?;
            Ok::<_, NodeError>(())
        })
        .await
        .map_err(|e| NodeError::Internal(format!("saving {key} panicked: {e}")))?
    }

    async fn join(&self, ticket: &str) -> Result<Response, NodeError> {
        let ticket = Ticket::parse(ticket)?;
        ticket.check_expiry(now_ms())?;
        let engine = self.network()?;
        let op = match self
            .replica_ask(ReplicaReq::JoinOp {
                ticket: Box::new(ticket.clone()),
            })
            .await?
        {
            ReplicaReply::JoinOp(op) => op,
            _ => return Err(NodeError::Internal("unexpected reply to a join".into())),
        };
        let (id, name) = engine.join(ticket, op).await?;
        Ok(Response::SpaceCreated { id, name })
    }

    async fn search(
        &self,
        query: &str,
        space: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Response, NodeError> {
        let search = self.search_index()?;
        let names = self.names().await?;
        crate::search::search(search, self.one_shot(), names, query, space, limit).await
    }

    /// The names of spaces and members: kept from the last search until the actor says they
    /// changed, as a search per keystroke should not wait for the actor.
    async fn names(&self) -> Result<Arc<crate::base::Names>, NodeError> {
        use std::sync::atomic::Ordering;
        let generation = self.info.names_changed.load(Ordering::Relaxed);
        if let Some((g, names)) = self.info.names.lock().ok().and_then(|n| n.clone())
            && g == generation
        {
            return Ok(names);
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Names(reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        let names = Arc::new(rx.await.map_err(|_| NodeError::Stopped)?);
        if let Ok(mut cached) = self.info.names.lock() {
            *cached = Some((generation, names.clone()));
        }
        Ok(names)
    }

    async fn links(&self, id: &str) -> Result<Response, NodeError> {
        let search = self.search_index()?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::LinkSource(id.to_owned(), reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        let source = rx.await.map_err(|_| NodeError::Stopped)??;
        crate::search::links(search, self.one_shot(), source).await
    }

    /// Whether this node serves only the command that opened it (no control socket).
    fn one_shot(&self) -> bool {
        !self.info.serving.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn search_index(&self) -> Result<Arc<Search>, NodeError> {
        self.search
            .clone()
            .map_err(|e| NodeError::Internal(format!("search is unavailable: {e}")))
    }

    async fn replica_ask(&self, req: ReplicaReq) -> Result<ReplicaReply, NodeError> {
        ActorLink::new(&self.tx).ask(req).await
    }

    /// Writes what is pending, checkpoints the database and stops the actor. Later calls on
    /// any clone fail with [`NodeError::Stopped`].
    pub async fn shutdown(&self) {
        let engine = self.engine.lock().ok().and_then(|mut e| e.take());
        if let Some(engine) = engine {
            engine.shutdown().await;
        }
        let (done, rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done)).await.is_ok() {
            let _ = rx.await;
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Ok(search) = self.search.clone() {
            let _ = tokio::task::spawn_blocking(move || search.stop()).await;
        }
    }

    /// This home's member and profile.
    pub async fn whoami(&self) -> Result<Identity, NodeError> {
        match self.execute(Request::Whoami).await? {
            Response::Identity(i) => Ok(i),
            other => Err(unexpected(&other)),
        }
    }

    /// Changes the profile; returns it as it now is.
    pub async fn profile_set(&self, edit: ProfileEdit) -> Result<Identity, NodeError> {
        match self.execute(Request::ProfileSet { edit }).await? {
            Response::Identity(i) => Ok(i),
            other => Err(unexpected(&other)),
        }
    }

    /// Writes a new note; returns its id once it is on disk.
    pub async fn note_new(&self, draft: Draft) -> Result<DocId, NodeError> {
        created(
            self.execute(Request::NoteNew { draft, space: None })
                .await?,
        )
    }

    /// Notes, newest change first (metadata only).
    pub async fn note_list(&self) -> Result<Vec<ListItem>, NodeError> {
        list(
            self.execute(Request::NoteList {
                limit: None,
                space: None,
            })
            .await?,
        )
    }

    /// One note, by id or unique prefix.
    pub async fn note_show(&self, id: &str) -> Result<NoteView, NodeError> {
        match self.execute(Request::NoteShow { id: id.into() }).await? {
            Response::Note(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }

    /// Changes a note; returns whether anything changed.
    pub async fn note_edit(&self, id: &str, edit: NoteEdit) -> Result<bool, NodeError> {
        done(
            self.execute(Request::NoteEdit {
                id: id.into(),
                edit,
            })
            .await?,
        )
    }

    /// Deletes a note.
    pub async fn note_rm(&self, id: &str) -> Result<(), NodeError> {
        done(self.execute(Request::NoteRm { id: id.into() }).await?).map(|_| ())
    }

    /// Asks a question; returns its id.
    pub async fn ask(&self, draft: Draft) -> Result<DocId, NodeError> {
        created(self.execute(Request::Ask { draft, space: None }).await?)
    }

    /// Answers a question; returns the answer's id.
    pub async fn answer(&self, question: &str, body: &str) -> Result<AnswerId, NodeError> {
        let req = Request::Answer {
            question: question.into(),
            body: body.into(),
        };
        match self.execute(req).await? {
            Response::Answered { id, .. } => Ok(id),
            other => Err(unexpected(&other)),
        }
    }

    /// Accepts an answer (only the asker may).
    pub async fn accept(&self, question: &str, answer: &str) -> Result<bool, NodeError> {
        done(
            self.execute(Request::Accept {
                question: question.into(),
                answer: answer.into(),
            })
            .await?,
        )
    }

    /// Thanks an answer's author; false if this member already had.
    pub async fn thank(&self, question: &str, answer: &str) -> Result<bool, NodeError> {
        done(
            self.execute(Request::Thank {
                question: question.into(),
                answer: answer.into(),
            })
            .await?,
        )
    }

    /// Questions, newest change first; `unanswered` keeps those with no accepted answer.
    pub async fn questions(&self, unanswered: bool) -> Result<Vec<ListItem>, NodeError> {
        list(
            self.execute(Request::Questions {
                unanswered,
                limit: None,
                space: None,
            })
            .await?,
        )
    }

    /// One question with its answers.
    pub async fn question_show(&self, id: &str) -> Result<QuestionView, NodeError> {
        match self
            .execute(Request::QuestionShow { id: id.into() })
            .await?
        {
            Response::Question(q) => Ok(q),
            other => Err(unexpected(&other)),
        }
    }

    /// The node's state.
    pub async fn status(&self) -> Result<Status, NodeError> {
        match self.execute(Request::Status).await? {
            Response::Status(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }
}

/// An initialised home's parts: its lock, store, identity and device key.
pub(crate) fn open_home(
    dir: &Path,
) -> Result<(Home, tacit_store::Store, NodeInfo, DeviceKey), NodeError> {
    let home = Home::open(dir, false)?;
    let key = home.load_key()?;
    let store = home.open_store(false)?;
    let info = recorded_identity(&store, dir, &key)?.ok_or_else(|| {
        tacit_store::StoreError::NotInitialised {
            dir: dir.to_path_buf(),
        }
    })?;
    Ok((home, store, info, key))
}

/// Creates what a home lacks; each step is idempotent, so an init interrupted at any point is
/// completed by running it again.
pub(crate) fn init_home(
    dir: &Path,
    profile: ProfileEdit,
) -> Result<(Home, tacit_store::Store, NodeInfo, DeviceKey, bool), NodeError> {
    let home = Home::open(dir, true)?;
    let (key, _) = home.init_key()?;
    let mut store = home.open_store(true)?;
    if let Some(info) = recorded_identity(&store, dir, &key)? {
        return Ok((home, store, info, key, false));
    }
    let member = key.member_id();
    let now = now_ms();
    // Each step is idempotent and the personal space id is recorded first, so an init cut short
    // at any point is completed by the next one without leaving a second personal space.
    let personal = match store.meta(META_PERSONAL_SPACE)?.map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            let p = SpaceId::random();
            store.set_meta(META_PERSONAL_SPACE, &p.to_string())?;
            p
        }
    };
    store.add_space(&SpaceRow {
        id: personal,
        name: "Personal".into(),
        personal: true,
        created_at: now,
    })?;
    let mut profile = Doc::new_profile(Edit::new(member, now), profile)?;
    let (data, changes) = profile.save_with_changes();
    let sigs = changes
        .iter()
        .map(|c| {
            tacit_core::ChangeSig::sign(&key, tacit_core::PROFILE_SCOPE, profile.id(), &c.hash)
        })
        .collect();
    store.write(&[DocWrite {
        id: profile.id(),
        space: personal,
        summary: profile.summary()?,
        heads: Some(profile.heads_hash()),
        chunk: Chunk::Snapshot(data),
        sigs,
        writers: crate::base::writers_of(&changes),
        contributions: None,
        blob_refs: None,
    }])?;
    // A new home holds no document made before contributions were kept.
    store.set_meta(crate::actor::META_CONTRIBUTIONS, "1")?;
    // Written last: a home counts as initialised only once everything above is on disk.
    store.set_meta(META_MEMBER, &member.to_string())?;
    Ok((
        home,
        store,
        NodeInfo::new(dir.into(), member, personal),
        key,
        true,
    ))
}

/// The member and personal space recorded in the store, checked against the device key; `None`
/// when `init` has not completed.
fn recorded_identity(
    store: &tacit_store::Store,
    dir: &Path,
    key: &tacit_core::DeviceKey,
) -> Result<Option<NodeInfo>, NodeError> {
    let (Some(member), Some(personal)) =
        (store.meta(META_MEMBER)?, store.meta(META_PERSONAL_SPACE)?)
    else {
        return Ok(None);
    };
    if member != key.member_id().to_string() {
        return Err(NodeError::Home(format!(
            "the device key in {} does not belong to this home's member {member}; restore the home's own device.key",
            dir.display()
        )));
    }
    let personal = personal.parse().map_err(|_| {
        tacit_store::StoreError::Malformed(format!("personal space id {personal:?}"))
    })?;
    Ok(Some(NodeInfo::new(dir.into(), key.member_id(), personal)))
}

/// The limits on attachments kept in the home; damaged ones are logged and read as none set.
fn kept_limits(store: &tacit_store::Store) -> KeptLimits {
    match store.meta(META_ATTACHMENT_LIMITS) {
        Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::warn!(
                "the attachment limits kept in {} are damaged ({e}); the defaults are used",
                store.path().display()
            );
            KeptLimits::default()
        }),
        Ok(None) => KeptLimits::default(),
        Err(e) => {
            tracing::warn!("cannot read the attachment limits: {e}; the defaults are used");
            KeptLimits::default()
        }
    }
}

/// The relays kept in the home. A damaged list is logged and read as none: the node still opens,
/// and the relays can be added again.
fn kept_relays(store: &tacit_store::Store) -> Result<Vec<String>, NodeError> {
    match store.meta(META_RELAYS)? {
        None => Ok(Vec::new()),
        Some(json) => Ok(serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::warn!(
                "the relays kept in {} are damaged ({e}); add them again with `tacit relay add`",
                store.path().display()
            );
            Vec::new()
        })),
    }
}

fn unexpected(r: &Response) -> NodeError {
    NodeError::Protocol(format!("unexpected reply {r:?}"))
}

fn created(r: Response) -> Result<DocId, NodeError> {
    match r {
        Response::Created { id } => Ok(id),
        other => Err(unexpected(&other)),
    }
}

fn done(r: Response) -> Result<bool, NodeError> {
    match r {
        Response::Done { changed, .. } => Ok(changed),
        other => Err(unexpected(&other)),
    }
}

fn list(r: Response) -> Result<Vec<ListItem>, NodeError> {
    match r {
        Response::List { items } => Ok(items),
        other => Err(unexpected(&other)),
    }
}
