//! A deterministic simulation of whole nodes: real actors over real stores (SQLite files in a
//! temporary folder), each pair of nodes joined by a pair of session state machines
//! ([`tacit_net::session::Session`]) over an in-memory network, everything driven one step at a
//! time by a scheduler that a seed decides.
//!
//! A run sets up a space (its owner makes a few notes, the first members join through the
//! network), then for a while lets the scheduler interleave deliveries, local changes, loads
//! and serving with edits, joins, a removal and faults: connections cut, the nodes split into
//! two sides that cannot reach each other, nodes restarted from their disk, and frames dropped,
//! duplicated or swapped (a connection that saw that is cut once the faults stop, as a real
//! stream would fail). Then the faults stop and the run goes on until nothing is left to do;
//! it fails unless that happens within [`Config::settle_limit`] steps, every session is quiet,
//! and every member holds the same documents (reconciliation's fingerprint of ids and heads),
//! the same membership ops and the same members, with every edit of a member in them.
//!
//! Everything random comes from the seed: the schedule, and on this thread the ids and keys
//! the model makes ([`tacit_core::random`]) and the time ([`crate::clock`]). A failing seed
//! says so and replays exactly with `TACIT_SIM_SEED`.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use tacit_core::{DocId, MemberId, NoteEdit, ProfileEdit, Role, SpaceId};
use tacit_net::session::{End, Input, JoinOutcome, Output, Session};
use tacit_net::wire::{Message, WholeDoc};
use tokio::sync::{broadcast, oneshot};

use crate::actor::Actor;
use crate::api::{Event, Request, Response};
use crate::base::Msg;
use crate::error::NodeError;
use crate::replica::{ReplicaReply, ReplicaReq, Replicated, SessionId, load_whole};
use crate::sync::session::{Work, answer_of, work_of};

/// The environment variable that replays one seed.
pub const SEED_ENV: &str = "TACIT_SIM_SEED";

/// The simulated time a run starts at (ms since the epoch), and how far a step moves it.
const START_MS: i64 = 1_767_225_600_000;
const STEP_MS: i64 = 20;
/// Frames a side lets queue toward its peer before it serves more documents (the driver's
/// byte threshold, in frames).
const SERVE_BELOW: usize = 8;
/// Steps the first members have to join before the run counts as broken.
const SETUP_LIMIT: usize = 50_000;

/// What a run does.
#[derive(Debug, Clone)]
pub struct Config {
    /// Members from the start, the owner among them.
    pub members: usize,
    /// Nodes that join while the faults go on.
    pub joiners: usize,
    /// Edits made while the faults go on (notes created, or changed).
    pub edits: usize,
    /// Steps of faults.
    pub fault_steps: usize,
    /// Whether there are faults at all (else only the interleaving is random).
    pub faults: bool,
    /// Steps after the faults within which everything must be done.
    pub settle_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            members: 3,
            joiners: 1,
            edits: 12,
            fault_steps: 400,
            faults: true,
            settle_limit: 20_000,
        }
    }
}

/// How a run went.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Steps from the end of the faults until nothing was left to do.
    pub settle_steps: usize,
    /// Steps in all.
    pub steps: usize,
    /// Frames sent.
    pub frames: usize,
    /// Faults made.
    pub faults: usize,
    /// A hash of every frame sent, in order: equal for two runs of a seed.
    pub trace: u64,
}

/// A run that failed: its seed and why.
#[derive(Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub why: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "simulation seed {} failed: {} (replay: {SEED_ENV}={})",
            self.seed, self.why, self.seed
        )
    }
}

impl std::error::Error for Failure {}

/// Runs one seed.
pub fn run(seed: u64, config: &Config) -> Result<Outcome, Failure> {
    let _seeded = Seeded::new(seed);
    let mut sim = Sim::new(seed, config).map_err(|why| Failure { seed, why })?;
    sim.run().map_err(|why| Failure {
        seed,
        why: format!("{why} (at step {}, {} faults)", sim.step, sim.fault_count),
    })
}

/// The seed of this thread's randomness and time while a run goes on.
struct Seeded;

impl Seeded {
    fn new(seed: u64) -> Self {
        tacit_core::random::seed_this_thread(Some(seed));
        crate::clock::set_thread_time(Some(START_MS));
        Seeded
    }
}

impl Drop for Seeded {
    fn drop(&mut self) {
        tacit_core::random::seed_this_thread(None);
        crate::clock::set_thread_time(None);
    }
}

/// The scheduler's generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `per_mille` times in a thousand.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// One node: its actor (none while it restarts) and what the run knows of it.
struct SimNode {
    dir: PathBuf,
    actor: Option<Actor>,
    replica: broadcast::Sender<Replicated>,
    member: MemberId,
    /// A member of the space (it joined, or made it).
    joined: bool,
    /// A join through the owner is under way.
    joining: bool,
    /// Removed by the owner: it no longer connects.
    removed: bool,
    /// Restarting until this step.
    down_until: Option<usize>,
}

/// One side of a connection.
struct Side {
    node: usize,
    id: SessionId,
    machine: Session,
    replica: broadcast::Receiver<Replicated>,
    /// Frames to this side, in order.
    inbox: VecDeque<Vec<u8>>,
    /// `Docs` frames received and not yet loaded.
    loads: VecDeque<(SpaceId, Vec<WholeDoc>)>,
}

/// A connection between two nodes: a session on each side.
struct Conn {
    sides: [Side; 2],
    /// Frames were dropped, duplicated or swapped on it: a session may end as hostile, and it
    /// is cut once the faults stop.
    damaged: bool,
}

/// What the scheduler may do next.
#[derive(Debug, Clone, Copy)]
enum Action {
    Deliver(usize, usize),
    Replicate(usize, usize),
    Load(usize, usize),
    Serve(usize, usize),
    Idle(usize),
    Connect(usize, usize),
    Join(usize),
    Up(usize),
    Edit(usize),
    Cut(usize),
    Split,
    Heal,
    Restart(usize),
    Garble(usize, usize),
    Remove(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Setup,
    Faults,
    Settle,
}

struct Sim {
    config: Config,
    rng: Rng,
    /// Holds the homes; removed with the run.
    _root: tempfile::TempDir,
    nodes: Vec<SimNode>,
    conns: Vec<Conn>,
    seed: u64,
    space: SpaceId,
    ticket: String,
    /// The side each node is on while the network is split.
    split: Option<Vec<bool>>,
    phase: Phase,
    step: usize,
    next_session: SessionId,
    edits_left: usize,
    /// The edits made: by which node, and the word it wrote.
    edits: Vec<(usize, String)>,
    removal_done: bool,
    fault_count: usize,
    /// The last question a node failed to answer, for a failure's message.
    last_error: String,
    frames: usize,
    trace: u64,
}

type Check<T = ()> = Result<T, String>;

impl Sim {
    fn new(seed: u64, config: &Config) -> Check<Self> {
        // In memory where there is a tmpfs: what a run tests is the logic, and a commit's
        // fsync on a disk costs more than the rest of the step.
        let shm = std::path::Path::new("/dev/shm");
        let root = (if shm.is_dir() {
            tempfile::tempdir_in(shm).or_else(|_| tempfile::tempdir())
        } else {
            tempfile::tempdir()
        })
        .map_err(|e| format!("temporary folder: {e}"))?;
        let mut nodes = Vec::new();
        for i in 0..config.members + config.joiners {
            let dir = root.path().join(format!("node{i}"));
            let profile = ProfileEdit {
                name: Some(format!("Node {i}")),
                ..ProfileEdit::default()
            };
            let (home, store, info, key, _) =
                crate::node::init_home(&dir, profile).map_err(|e| format!("init node {i}: {e}"))?;
            let member = info.member;
            let (actor, replica) = start_actor(home, store, info, key);
            nodes.push(SimNode {
                dir,
                actor: Some(actor),
                replica,
                member,
                joined: i == 0,
                joining: false,
                removed: false,
                down_until: None,
            });
        }
        let mut sim = Sim {
            config: config.clone(),
            rng: Rng(seed ^ 0x5eed),
            _root: root,
            seed,
            nodes,
            conns: Vec::new(),
            space: SpaceId::from_bytes([0; 16]),
            ticket: String::new(),
            split: None,
            phase: Phase::Setup,
            step: 0,
            next_session: 1,
            edits_left: config.edits,
            edits: Vec::new(),
            removal_done: false,
            fault_count: 0,
            last_error: String::new(),
            frames: 0,
            trace: 0xcbf2_9ce4_8422_2325,
        };
        match sim.request(0, Request::SpaceNew { name: "Sim".into() })? {
            Response::SpaceCreated { id, .. } => sim.space = id,
            other => return Err(format!("space new: {other:?}")),
        }
        match sim.request(
            0,
            Request::SpaceInvite {
                space: sim.space.to_string(),
                role: Role::Editor,
                expires_in: None,
                uses: None,
            },
        )? {
            Response::Ticket { ticket, .. } => sim.ticket = ticket,
            other => return Err(format!("invite: {other:?}")),
        }
        for n in 0..3 {
            sim.new_note(0, &format!("Owner's note {n}"), "made before anyone joined")?;
        }
        Ok(sim)
    }

    fn run(&mut self) -> Check<Outcome> {
        // The first members join, without faults.
        while !self.nodes[..self.config.members].iter().all(|n| n.joined) {
            self.tick()?;
            if self.step > SETUP_LIMIT {
                return Err("the first members did not join".into());
            }
        }
        self.phase = Phase::Faults;
        for _ in 0..self.config.fault_steps {
            self.tick()?;
        }
        // The faults stop: the network heals, restarted nodes come back, damaged connections
        // fail.
        self.phase = Phase::Settle;
        self.split = None;
        for n in 0..self.nodes.len() {
            if self.nodes[n].down_until.is_some() {
                self.up(n)?;
            }
        }
        let mut c = 0;
        while c < self.conns.len() {
            if self.conns[c].damaged {
                self.close(c);
            } else {
                c += 1;
            }
        }
        let healed_at = self.step;
        while self.tick()? {
            if self.step - healed_at > self.config.settle_limit {
                return Err(format!(
                    "not settled {} steps after the faults stopped: {}",
                    self.config.settle_limit,
                    self.busy()
                ));
            }
        }
        let settle_steps = self.step - healed_at;
        self.check()?;
        Ok(Outcome {
            seed: self.seed,
            settle_steps,
            steps: self.step,
            frames: self.frames,
            faults: self.fault_count,
            trace: self.trace,
        })
    }

    /// Takes one step; false when nothing was left to do (after the faults).
    fn tick(&mut self) -> Check<bool> {
        self.step += 1;
        crate::clock::set_thread_time(Some(START_MS + self.step as i64 * STEP_MS));
        let actions = self.actions();
        if actions.is_empty() {
            return Ok(false);
        }
        let action = actions[self.rng.below(actions.len())];
        self.perform(action)?;
        Ok(true)
    }

    fn up_node(&self, n: usize) -> bool {
        self.nodes[n].actor.is_some()
    }

    /// Whether `a` and `b` may hold a connection: both running, on the same side of a split,
    /// and both members (or one joining through the owner).
    fn may_connect(&self, a: usize, b: usize) -> bool {
        if !self.up_node(a) || !self.up_node(b) {
            return false;
        }
        if let Some(side) = &self.split
            && side[a] != side[b]
        {
            return false;
        }
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        if na.removed || nb.removed {
            return false;
        }
        (na.joined && nb.joined) || (a == 0 && !nb.joined) || (b == 0 && !na.joined)
    }

    fn conn_between(&self, a: usize, b: usize) -> Option<usize> {
        self.conns.iter().position(|c| {
            (c.sides[0].node == a && c.sides[1].node == b)
                || (c.sides[0].node == b && c.sides[1].node == a)
        })
    }

    /// Everything that may happen next; some kinds are listed more than once to happen more
    /// often.
    fn actions(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        for (c, conn) in self.conns.iter().enumerate() {
            for i in 0..2 {
                let side = &conn.sides[i];
                if !side.inbox.is_empty() {
                    actions.extend([Action::Deliver(c, i); 3]);
                }
                if !side.replica.is_empty() {
                    actions.push(Action::Replicate(c, i));
                }
                if !side.loads.is_empty() {
                    actions.push(Action::Load(c, i));
                }
                if side.machine.has_serving() && conn.sides[1 - i].inbox.len() < SERVE_BELOW {
                    actions.push(Action::Serve(c, i));
                }
            }
            if !conn.sides[0].machine.in_use() && !conn.sides[1].machine.in_use() {
                actions.push(Action::Idle(c));
            }
        }
        let n = self.nodes.len();
        for a in 0..n {
            for b in a + 1..n {
                if self.conn_between(a, b).is_none() && self.may_connect(a, b) {
                    actions.push(Action::Connect(a, b));
                }
            }
            let node = &self.nodes[a];
            if !node.joined
                && !node.joining
                && !node.removed
                && (a < self.config.members || self.phase != Phase::Setup)
                && let Some(c) = self.conn_between(a, 0)
                && !self.conns[c].sides.iter().any(|s| s.machine.waiting())
            {
                actions.push(Action::Join(a));
            }
            if node.down_until.is_some_and(|until| until <= self.step) {
                actions.push(Action::Up(a));
            }
        }
        if self.phase != Phase::Faults {
            return actions;
        }
        // Edits, spread over the fault phase so that all of them are made.
        let left_steps = (self.config.fault_steps + self.step)
            .saturating_sub(self.step)
            .max(1);
        if self.edits_left > 0 && self.rng.below(left_steps) < self.edits_left * 4 {
            let writers: Vec<usize> = (0..n)
                .filter(|&i| self.nodes[i].joined && !self.nodes[i].removed && self.up_node(i))
                .collect();
            if !writers.is_empty() {
                actions.push(Action::Edit(writers[self.rng.below(writers.len())]));
            }
        }
        if !self.config.faults || !self.rng.chance(40) {
            return actions;
        }
        // A fault, now and then.
        let mut faults = Vec::new();
        for c in 0..self.conns.len() {
            faults.push(Action::Cut(c));
            for i in 0..2 {
                if !self.conns[c].sides[i].inbox.is_empty() {
                    faults.push(Action::Garble(c, i));
                }
            }
        }
        faults.push(if self.split.is_some() {
            Action::Heal
        } else {
            Action::Split
        });
        for a in 0..n {
            if self.up_node(a) {
                faults.push(Action::Restart(a));
            }
            if a != 0 && !self.removal_done && self.nodes[a].joined && self.rng.chance(50) {
                faults.push(Action::Remove(a));
            }
        }
        actions.push(faults[self.rng.below(faults.len())]);
        actions
    }

    fn perform(&mut self, action: Action) -> Check {
        match action {
            Action::Deliver(c, i) => {
                let Some(bytes) = self.conns[c].sides[i].inbox.pop_front() else {
                    return Ok(());
                };
                match Message::decode(&bytes) {
                    Ok(msg) => self.feed(c, i, Input::Message(msg))?,
                    Err(e) => self.ended(c, i, End::Hostile(format!("undecodable frame: {e}")))?,
                }
            }
            Action::Replicate(c, i) => {
                let side = &mut self.conns[c].sides[i];
                let input = match side.replica.try_recv() {
                    Ok(Replicated::Change {
                        space,
                        id,
                        data,
                        sigs,
                        origin,
                    }) => {
                        if origin == Some(side.id) {
                            return Ok(());
                        }
                        Input::Local {
                            space,
                            id,
                            data,
                            sigs,
                        }
                    }
                    Ok(Replicated::Membership { space, ops }) => Input::Membership { space, ops },
                    Ok(Replicated::Repair { space, id }) => Input::Repair { space, id },
                    Err(broadcast::error::TryRecvError::Lagged(_)) => Input::Lagged,
                    Err(_) => return Ok(()),
                };
                self.feed(c, i, input)?;
            }
            Action::Load(c, i) => {
                let Some((space, docs)) = self.conns[c].sides[i].loads.pop_front() else {
                    return Ok(());
                };
                let (n, id) = (self.conns[c].sides[i].node, self.conns[c].sides[i].id);
                let peer = self.nodes[self.conns[c].sides[1 - i].node].member;
                let me = self.nodes[n].member;
                let ids: Vec<DocId> = docs.iter().map(|d| d.id).collect();
                let mut loaded = Vec::new();
                let mut hostile = None;
                for d in docs {
                    match load_whole(d, space, me) {
                        Ok(l) => loaded.push(l),
                        Err(e @ tacit_core::CoreError::Inflates { .. }) => hostile = Some(e),
                        Err(_) => {}
                    }
                }
                let answer = match hostile {
                    Some(e) => Err(tacit_net::session::AskError::new(
                        tacit_net::session::Class::Peer,
                        NodeError::Invalid(e.to_string()),
                    )),
                    None => answer_of(
                        &"a simulated peer",
                        self.ask(
                            n,
                            ReplicaReq::Put {
                                space,
                                peer,
                                docs: loaded,
                                origin: id,
                            },
                        ),
                    ),
                };
                self.feed(c, i, Input::Stored { space, ids, answer })?;
            }
            Action::Serve(c, i) => self.feed(c, i, Input::Serve)?,
            Action::Idle(c) => self.feed(c, 0, Input::IdleTimeout)?,
            Action::Connect(a, b) => self.connect(a, b)?,
            Action::Join(n) => {
                let Some(c) = self.conn_between(n, 0) else {
                    return Ok(());
                };
                let ticket = tacit_core::Ticket::parse(&self.ticket)
                    .map_err(|e| format!("the ticket: {e}"))?;
                let op = match self.ask(
                    n,
                    ReplicaReq::JoinOp {
                        ticket: Box::new(ticket.clone()),
                    },
                ) {
                    Ok(ReplicaReply::JoinOp(op)) => op,
                    other => return Err(format!("join op of node {n}: {other:?}")),
                };
                self.nodes[n].joining = true;
                let i = usize::from(self.conns[c].sides[1].node == n);
                self.feed(
                    c,
                    i,
                    Input::Join {
                        ticket: Box::new(ticket),
                        op,
                    },
                )?;
            }
            Action::Up(n) => self.up(n)?,
            Action::Edit(n) => self.edit(n)?,
            Action::Cut(c) => {
                self.fault_count += 1;
                self.close(c);
            }
            Action::Split => {
                self.fault_count += 1;
                let n = self.nodes.len();
                // A proper, non-empty side.
                let mask = 1 + self.rng.below((1 << n) - 2);
                let side: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
                let mut c = 0;
                while c < self.conns.len() {
                    let (a, b) = (self.conns[c].sides[0].node, self.conns[c].sides[1].node);
                    if side[a] != side[b] {
                        self.close(c);
                    } else {
                        c += 1;
                    }
                }
                self.split = Some(side);
            }
            Action::Heal => self.split = None,
            Action::Restart(n) => {
                self.fault_count += 1;
                let mut c = 0;
                while c < self.conns.len() {
                    if self.conns[c].sides.iter().any(|s| s.node == n) {
                        self.close(c);
                    } else {
                        c += 1;
                    }
                }
                // Dropped as a killed process would be: what it acknowledged is on disk.
                self.nodes[n].actor = None;
                self.nodes[n].joining = false;
                self.nodes[n].down_until = Some(self.step + 5 + self.rng.below(40));
            }
            Action::Garble(c, i) => {
                self.fault_count += 1;
                let inbox = &mut self.conns[c].sides[i].inbox;
                match self.rng.below(3) {
                    0 => {
                        inbox.pop_front();
                    }
                    1 => {
                        if let Some(f) = inbox.front().cloned() {
                            inbox.push_front(f);
                        }
                    }
                    _ => {
                        if inbox.len() > 1 {
                            inbox.swap(0, 1);
                        }
                    }
                }
                self.conns[c].damaged = true;
            }
            Action::Remove(n) => {
                self.fault_count += 1;
                if !self.up_node(0) {
                    return Ok(());
                }
                self.request(
                    0,
                    Request::SpaceRemove {
                        space: self.space.to_string(),
                        member: self.nodes[n].member.to_string(),
                    },
                )?;
                self.nodes[n].removed = true;
                self.removal_done = true;
            }
        }
        Ok(())
    }

    /// Opens a connection: a session on each side, started.
    fn connect(&mut self, a: usize, b: usize) -> Check {
        let side = |sim: &mut Sim, node: usize, first: bool| {
            let id = sim.next_session;
            sim.next_session += 1;
            Side {
                node,
                id,
                machine: Session::new(first, tacit_net::Limits::default().max_frame),
                replica: sim.nodes[node].replica.subscribe(),
                inbox: VecDeque::new(),
                loads: VecDeque::new(),
            }
        };
        let sides = [side(self, a, true), side(self, b, false)];
        self.conns.push(Conn {
            sides,
            damaged: false,
        });
        let c = self.conns.len() - 1;
        for i in 0..2 {
            if !self.alive(c, a, b) {
                break;
            }
            let outputs = self.conns[c].sides[i].machine.start();
            self.carry(c, i, outputs)?;
        }
        Ok(())
    }

    /// Whether connection `c` is still the one between `a` and `b`.
    fn alive(&self, c: usize, a: usize, b: usize) -> bool {
        self.conns
            .get(c)
            .is_some_and(|conn| conn.sides[0].node == a && conn.sides[1].node == b)
    }

    /// Feeds side `i` of connection `c` one input and carries out what it returns.
    fn feed(&mut self, c: usize, i: usize, input: Input) -> Check {
        let outputs = self.conns[c].sides[i].machine.handle(input);
        self.carry(c, i, outputs)
    }

    /// Carries out outputs of side `i` of connection `c`, answering its questions at once.
    fn carry(&mut self, c: usize, i: usize, mut outputs: Vec<Output>) -> Check {
        loop {
            let mut question = None;
            for output in outputs {
                match output {
                    Output::Send(msg) => {
                        let bytes = msg.encode();
                        self.frames += 1;
                        for b in &bytes {
                            self.trace = (self.trace ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
                        }
                        self.conns[c].sides[1 - i].inbox.push_back(bytes);
                    }
                    Output::Ask(ask) => question = Some(ask),
                    Output::Load { space, docs } => {
                        self.conns[c].sides[i].loads.push_back((space, docs));
                    }
                    Output::Join(outcome) => {
                        let n = self.conns[c].sides[i].node;
                        self.nodes[n].joining = false;
                        if let JoinOutcome::Joined { .. } = outcome {
                            self.nodes[n].joined = true;
                        }
                    }
                    Output::PeerAddrs(_) | Output::Refused(_) => {}
                    Output::End(end) => return self.ended(c, i, end),
                }
            }
            let Some(ask) = question else {
                return Ok(());
            };
            let side = &self.conns[c].sides[i];
            let (n, session) = (side.node, side.id);
            let peer = self.nodes[self.conns[c].sides[1 - i].node].member;
            let asked: String = format!("{ask:?}").chars().take(160).collect();
            let answer = match work_of(ask, peer, session) {
                Work::Replica(req) => answer_of(&"a simulated peer", self.ask(n, req)),
                Work::Screen(job) => Ok(job.run()),
            };
            if let Err(e) = &answer {
                self.last_error = format!("node {n} answered {asked}… with {e:?}");
            }
            outputs = self.conns[c].sides[i].machine.handle(Input::Answer(answer));
        }
    }

    /// A session of connection `c` ended: the connection closes. An honest run ends sessions
    /// only for want of a shared space, unless frames were garbled on the connection.
    fn ended(&mut self, c: usize, i: usize, end: End) -> Check {
        let (a, b) = (self.conns[c].sides[i].node, self.conns[c].sides[1 - i].node);
        let expected = match &end {
            End::Idle(_) | End::Bye(_) => true,
            End::Hostile(_) | End::Failed(_) | End::Stopped => self.conns[c].damaged,
        };
        self.close(c);
        if expected {
            Ok(())
        } else {
            Err(format!(
                "node {a}'s session with node {b} ended: {end} (the last failed answer: {})",
                self.last_error
            ))
        }
    }

    /// Closes connection `c`: each node forgets the session's sync states.
    fn close(&mut self, c: usize) {
        let conn = self.conns.swap_remove(c);
        for side in conn.sides {
            if side.machine.waiting() {
                // A join carried on it ends with it.
                self.nodes[side.node].joining = false;
            }
            if self.nodes[side.node].joining
                && !self
                    .conns
                    .iter()
                    .any(|c| c.sides.iter().any(|s| s.node == side.node))
            {
                self.nodes[side.node].joining = false;
            }
            let _ = self.ask(side.node, ReplicaReq::EndSession { session: side.id });
        }
    }

    /// Brings a restarted node back, from its disk.
    fn up(&mut self, n: usize) -> Check {
        let (home, store, info, key) = crate::node::open_home(&self.nodes[n].dir)
            .map_err(|e| format!("reopening node {n}: {e}"))?;
        let (actor, replica) = start_actor(home, store, info, key);
        let node = &mut self.nodes[n];
        node.actor = Some(actor);
        node.replica = replica;
        node.down_until = None;
        Ok(())
    }

    /// A person's edit on node `n`: a new note now and then, else a word added to a note.
    fn edit(&mut self, n: usize) -> Check {
        self.edits_left = self.edits_left.saturating_sub(1);
        let word = format!("edit{}by{n}", self.edits.len());
        let notes = self.notes(n)?;
        if notes.is_empty() || self.rng.chance(300) {
            self.new_note(n, &word, "a new note")?;
        } else {
            let id = notes[self.rng.below(notes.len())];
            let body = match self.request(n, Request::NoteShow { id: id.to_string() })? {
                Response::Note(view) => view.body,
                other => return Err(format!("note show: {other:?}")),
            };
            let edit = NoteEdit {
                body: Some(format!("{body}\n{word}")),
                ..NoteEdit::default()
            };
            self.request(
                n,
                Request::NoteEdit {
                    id: id.to_string(),
                    edit,
                },
            )?;
        }
        self.edits.push((n, word));
        Ok(())
    }

    fn new_note(&mut self, n: usize, title: &str, body: &str) -> Check {
        let draft = tacit_core::Draft {
            title: title.into(),
            body: body.into(),
            tags: Vec::new(),
            aliases: Vec::new(),
        };
        self.request(
            n,
            Request::NoteNew {
                draft,
                space: Some(self.space.to_string()),
            },
        )?;
        Ok(())
    }

    /// The notes of the space on node `n`.
    fn notes(&mut self, n: usize) -> Check<Vec<DocId>> {
        match self.request(
            n,
            Request::NoteList {
                limit: None,
                space: Some(self.space.to_string()),
            },
        )? {
            Response::List { items } => Ok(items.into_iter().map(|i| i.id).collect()),
            other => Err(format!("note list: {other:?}")),
        }
    }

    /// Asks node `n`'s actor as a session would.
    fn ask(&mut self, n: usize, req: ReplicaReq) -> Result<ReplicaReply, NodeError> {
        let actor = self.nodes[n].actor.as_mut().ok_or(NodeError::Stopped)?;
        let (tx, mut rx) = oneshot::channel();
        actor.process(Msg::Replica(req, tx));
        rx.try_recv()
            .map_err(|_| NodeError::Internal("the actor did not answer".into()))?
    }

    /// A person's request to node `n`.
    fn request(&mut self, n: usize, req: Request) -> Check<Response> {
        let actor = self.nodes[n]
            .actor
            .as_mut()
            .ok_or_else(|| format!("node {n} is down"))?;
        let (tx, mut rx) = oneshot::channel();
        actor.process(Msg::Request(req, tx));
        rx.try_recv()
            .map_err(|_| format!("node {n} did not answer"))?
            .map_err(|e| format!("node {n}: {e}"))
    }

    /// What ops are, for a failure's message.
    fn op_names(&mut self, n: usize, hashes: Vec<tacit_core::OpHash>) -> String {
        let space = self.space;
        let peer = self.nodes[n].member;
        let ops = match self.ask(
            n,
            ReplicaReq::Ops {
                space,
                peer,
                hashes: Some(hashes),
            },
        ) {
            Ok(ReplicaReply::Ops(ops)) => ops,
            other => return format!("{other:?}"),
        };
        let names: Vec<String> = ops
            .iter()
            .filter_map(|b| tacit_core::SignedOp::from_bytes(b).ok())
            .map(|op| {
                let author = self
                    .nodes
                    .iter()
                    .position(|x| x.member == op.op().author)
                    .map_or("?".into(), |i| i.to_string());
                format!("{} by {author}", op.op().body.name())
            })
            .collect();
        names.join(", ")
    }

    /// What is still going on, for a run that does not settle.
    fn busy(&self) -> String {
        let mut parts = Vec::new();
        for conn in &self.conns {
            let (a, b) = (&conn.sides[0], &conn.sides[1]);
            parts.push(format!(
                "{}<->{}: inbox {}/{}, loads {}/{}, quiet {}/{}",
                a.node,
                b.node,
                a.inbox.len(),
                b.inbox.len(),
                a.loads.len(),
                b.loads.len(),
                a.machine.quiet(),
                b.machine.quiet()
            ));
        }
        parts.join("; ")
    }

    /// After the run: every session quiet, and every member holding the same.
    fn check(&mut self) -> Check {
        for conn in &self.conns {
            for side in &conn.sides {
                if !side.machine.quiet() {
                    let peer = conn
                        .sides
                        .iter()
                        .find(|s| s.node != side.node)
                        .map(|s| s.node);
                    return Err(format!(
                        "node {}'s session with node {peer:?} is not quiet although nothing is left to do: {}",
                        side.node,
                        side.machine.outstanding()
                    ));
                }
            }
        }
        let members: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| !self.nodes[n].removed)
            .collect();
        for &n in &members {
            if !self.nodes[n].joined {
                return Err(format!("node {n} never joined"));
            }
        }
        let space = self.space;
        let mut views = Vec::new();
        for &n in &members {
            let me = self.nodes[n].member;
            // Reconciliation's first step: the same set gives the same step.
            let fingerprint = match self.ask(n, ReplicaReq::ReconStart { space }) {
                Ok(ReplicaReply::Part(part)) => part,
                other => return Err(format!("node {n}'s fingerprint: {other:?}")),
            };
            let mut ops = match self.ask(n, ReplicaReq::OpHashes { space, peer: me }) {
                Ok(ReplicaReply::OpHashes(h)) => h,
                other => return Err(format!("node {n}'s ops: {other:?}")),
            };
            ops.sort_unstable();
            let people: BTreeSet<MemberId> = match self.request(
                n,
                Request::SpaceShow {
                    space: space.to_string(),
                },
            )? {
                Response::Space(detail) => detail.members.iter().map(|m| m.member).collect(),
                other => return Err(format!("space show: {other:?}")),
            };
            views.push((n, fingerprint, ops, people));
        }
        let (first, rest) = views.split_first().ok_or("no member")?;
        for v in rest {
            if v.1 != first.1 {
                return Err(format!(
                    "nodes {} and {} hold different documents ({:?} / {:?})",
                    first.0, v.0, first.1, v.1
                ));
            }
            if v.2 != first.2 {
                let (a, b) = (first.0, v.0);
                let only = |x: &[tacit_core::OpHash],
                            y: &[tacit_core::OpHash]|
                 -> Vec<tacit_core::OpHash> {
                    x.iter().filter(|h| !y.contains(h)).copied().collect()
                };
                let (only_a, only_b) = (only(&first.2, &v.2), only(&v.2, &first.2));
                let names_a = self.op_names(a, only_a);
                let names_b = self.op_names(b, only_b);
                return Err(format!(
                    "nodes {a} and {b} hold different membership ops: only {a}: {names_a}; only {b}: {names_b}"
                ));
            }
            if v.3 != first.3 {
                return Err(format!(
                    "nodes {} and {} see different members",
                    first.0, v.0
                ));
            }
        }
        // Every edit of a member is there (one member suffices: they hold the same).
        let n = first.0;
        let mut text = String::new();
        for id in self.notes(n)? {
            if let Response::Note(view) =
                self.request(n, Request::NoteShow { id: id.to_string() })?
            {
                text.push_str(&view.title);
                text.push('\n');
                text.push_str(&view.body);
                text.push('\n');
            }
        }
        for (author, word) in &self.edits {
            if !self.nodes[*author].removed && !text.contains(word.as_str()) {
                return Err(format!("node {author}'s edit {word} was lost"));
            }
        }
        Ok(())
    }
}

/// An actor over an opened home (no search index), with the channel its sessions hear from.
fn start_actor(
    home: tacit_store::Home,
    store: tacit_store::Store,
    info: crate::base::NodeInfo,
    key: tacit_core::DeviceKey,
) -> (Actor, broadcast::Sender<Replicated>) {
    let (replica, _) = broadcast::channel(crate::node::REPLICA_BUFFER);
    let (events, _) = broadcast::channel::<Event>(16);
    let actor = Actor::new(
        home,
        store,
        Arc::new(info),
        key,
        events,
        replica.clone(),
        None,
    );
    (actor, replica)
}

/// Runs seeds `from..from + count` (or only the one `TACIT_SIM_SEED` names); the outcomes,
/// or the first failure.
pub fn run_many(from: u64, count: u64, config: &Config) -> Result<Vec<Outcome>, Failure> {
    if let Some(seed) = std::env::var(SEED_ENV).ok().and_then(|s| s.parse().ok()) {
        return run(seed, config).map(|o| vec![o]);
    }
    (from..from + count).map(|seed| run(seed, config)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_exactly() {
        let config = Config::default();
        let a = run(7, &config).unwrap_or_else(|f| panic!("{f}"));
        let b = run(7, &config).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(a.trace, b.trace, "two runs of one seed differ");
        assert_eq!(a.steps, b.steps);
    }

    /// Seeds that found a bug, kept for ever: 1, a joiner holding its join op twice; 38, an
    /// early reconciliation step never answered; 1296 and 2210, a strong removal that left a
    /// document with nothing of its own and failed the session that brought the ops.
    #[test]
    fn the_seeds_that_found_bugs_converge() {
        for seed in [1, 38, 1296, 2210] {
            run(seed, &Config::default()).unwrap_or_else(|f| panic!("{f}"));
        }
    }

    /// Seeds to run in `cargo test` (`TACIT_SIM_SEEDS`, 200 by default), in two halves that
    /// run side by side.
    fn half(second: bool) -> (u64, u64) {
        let count: u64 = std::env::var("TACIT_SIM_SEEDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        let first = count / 2;
        if second {
            (1 + first, count - first)
        } else {
            (1, first)
        }
    }

    fn converge(second: bool) {
        let (from, count) = half(second);
        let outcomes = run_many(from, count, &Config::default()).unwrap_or_else(|f| panic!("{f}"));
        let worst = outcomes.iter().map(|o| o.settle_steps).max().unwrap_or(0);
        eprintln!(
            "{} seeds from {from} converged; worst {worst} steps after the faults",
            outcomes.len()
        );
    }

    #[test]
    fn members_converge_after_faults_in_a_few_hundred_seeds() {
        converge(false);
    }

    #[test]
    fn members_converge_after_faults_in_a_few_hundred_more_seeds() {
        converge(true);
    }
}
