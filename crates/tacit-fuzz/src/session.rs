//! The `session` target: the sync session's state machine (`tacit_net::session::Session`) fed an
//! arbitrary sequence of inputs — messages from a peer built from a small alphabet of spaces,
//! documents and ranges (so that they touch the machine's state instead of being refused at
//! once), local changes, membership changes, serve ticks, loads reported stored, joins — while
//! the node's answers to its questions are taken from the same bytes: a plausible reply, a
//! refusal, an error of either side, or a reply of the wrong kind.
//!
//! What must hold after every input: no panic; at most one question, as the last output; a
//! session that ends says so last and emits nothing after; it waits exactly when it asked; the
//! shared spaces are among those offered.

use std::sync::Arc;

use tacit_core::{DocId, OpHash, Screened, SpaceId, Ticket};
use tacit_net::recon::{ItemSet, Part, Prefix};
use tacit_net::session::{Answer, Applied, Ask, AskError, Class, Input, Output, Reply, Session};
use tacit_net::wire::{Message, SpaceOffer, VERSION, WholeDoc};

/// The largest frame the machine is told the peer takes (small, so that splitting shows).
const FRAME: usize = 64 * 1024;
/// Inputs one run feeds at most.
const MAX_INPUTS: usize = 512;

/// The bytes, read from the front.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn pick(&mut self, n: usize) -> usize {
        self.byte().map_or(0, |b| usize::from(b) % n.max(1))
    }
}

fn space(n: usize) -> SpaceId {
    SpaceId::from_bytes([n as u8 + 1; 16])
}

fn doc(n: usize) -> DocId {
    let mut b = [0u8; 16];
    b[0] = (n as u8).wrapping_mul(37);
    b[15] = n as u8;
    DocId::from_bytes(b)
}

fn offer(n: usize, digest: u8) -> SpaceOffer {
    SpaceOffer {
        space: space(n),
        ops_digest: [digest; 32],
    }
}

fn ids(b: &mut Bytes<'_>) -> Vec<DocId> {
    let n = b.pick(6);
    (0..n).map(|_| doc(b.pick(12))).collect()
}

/// A small item set, the same for a given byte.
fn items(seed: usize) -> ItemSet {
    let mut set = ItemSet::new();
    for i in 0..(seed % 5) * 20 {
        set.insert(*doc(i).as_bytes(), [(i + seed) as u8; 8]);
    }
    set
}

/// A message of the peer's.
fn message(b: &mut Bytes<'_>) -> Message {
    let s = space(b.pick(3));
    match b.pick(16) {
        0 => Message::Hello {
            version: if b.pick(8) == 0 { VERSION + 1 } else { VERSION },
            spaces: (0..b.pick(4)).map(|i| offer(i, b.pick(2) as u8)).collect(),
        },
        1 => Message::Offer {
            spaces: (0..b.pick(4)).map(|i| offer(i, b.pick(2) as u8)).collect(),
        },
        2 => Message::Join {
            space: s,
            op: vec![b.pick(256) as u8],
        },
        3 => Message::JoinRefused {
            space: s,
            reason: "no".into(),
        },
        4 => Message::OpHashes {
            space: s,
            hashes: (0..b.pick(4))
                .map(|_| OpHash([b.pick(4) as u8; 32]))
                .collect(),
        },
        5 => Message::WantOps {
            space: s,
            hashes: (0..b.pick(4))
                .map(|_| OpHash([b.pick(4) as u8; 32]))
                .collect(),
        },
        6 => Message::Ops {
            space: s,
            ops: (0..b.pick(3)).map(|_| vec![b.pick(4) as u8; 8]).collect(),
        },
        7 => {
            let set = items(b.pick(7));
            let part = match b.pick(3) {
                0 => set.start(),
                1 => Part::Same {
                    prefix: Prefix::ROOT,
                },
                _ => Part::Items {
                    prefix: Prefix::ROOT,
                    items: Vec::new(),
                },
            };
            Message::Recon {
                space: s,
                parts: vec![part],
            }
        }
        8 => Message::Have {
            space: s,
            ids: ids(b),
        },
        9 | 10 => Message::Want {
            space: s,
            ids: ids(b),
        },
        11 => Message::Docs {
            space: s,
            docs: ids(b)
                .into_iter()
                .map(|id| WholeDoc {
                    id,
                    data: vec![1; 8],
                    sigs: Vec::new(),
                })
                .collect(),
        },
        12 => Message::Sync {
            space: s,
            id: doc(b.pick(12)),
            msg: vec![b.pick(256) as u8; 4],
            sigs: Vec::new(),
        },
        13 => Message::Synced {
            space: s,
            id: doc(b.pick(12)),
        },
        14 => Message::Change {
            space: s,
            id: doc(b.pick(12)),
            data: vec![2; 8],
            sigs: Vec::new(),
        },
        _ => Message::Bye {
            reason: "done".into(),
        },
    }
}

/// The node's answer to `ask`: mostly what a node would say, sometimes a refusal, an error of
/// either side, or a reply of the wrong kind.
fn answer(b: &mut Bytes<'_>, ask: Ask) -> Answer {
    match b.pick(16) {
        0 => return Err(AskError::new(Class::Refused, "refused")),
        1 => return Err(AskError::new(Class::Peer, "the peer's")),
        2 => return Err(AskError::new(Class::Node, "this node's")),
        3 => return Ok(Reply::Done),
        _ => {}
    }
    Ok(match ask {
        Ask::Offers => Reply::Offers((0..b.pick(4)).map(|i| offer(i, 0)).collect()),
        Ask::OpHashes { .. } => {
            Reply::OpHashes((0..b.pick(4)).map(|i| OpHash([i as u8; 32])).collect())
        }
        Ask::Ops { .. } => Reply::Ops((0..b.pick(3)).map(|i| vec![i as u8; 8]).collect()),
        Ask::AddOps { .. } => Reply::OpsAdded {
            changed: b.pick(2) == 0,
            missing: (0..b.pick(3)).map(|i| OpHash([i as u8 + 9; 32])).collect(),
        },
        Ask::Admit { .. } => Reply::Admitted,
        Ask::JoinComplete { ticket, .. } => Reply::Joined {
            space: ticket.space,
            name: "joined".into(),
        },
        Ask::ReconStart { .. } => Reply::Part(items(b.pick(7)).start()),
        Ask::Recon { parts, .. } => {
            let set = items(b.pick(7));
            let mut replies = Vec::new();
            let mut diff = tacit_net::recon::Diff::default();
            for p in &parts {
                if let Ok((r, d)) = set.receive(p) {
                    replies.extend(r);
                    diff.extend(d);
                }
            }
            Reply::Recon { replies, diff }
        }
        Ask::Fetch { ids, .. } => {
            let mut docs = Vec::new();
            for id in ids {
                if b.pick(4) == 0 {
                    continue;
                }
                let data = vec![3; b.pick(4) * 20_000];
                let whole = WholeDoc {
                    id,
                    data,
                    sigs: Vec::new(),
                };
                docs.push((whole, [1; 8]));
            }
            Reply::Docs(docs)
        }
        Ask::Apply { .. } => Reply::Applied(match b.pick(5) {
            0 => Applied::Done,
            1 => Applied::Want,
            2 => Applied::Sync,
            3 => Applied::Later,
            _ => Applied::Refused,
        }),
        Ask::SyncOut { .. } | Ask::SyncIn { .. } => Reply::Sync {
            msg: (b.pick(2) == 0).then(|| (vec![4; 4], Vec::new())),
            later: b.pick(4) == 0,
        },
        Ask::Screen { bytes, sigs, .. } => Reply::Screened {
            verdict: match b.pick(6) {
                0 => Screened::Bomb,
                1 => Screened::Malformed,
                2 => Screened::Forged { forged: 1 },
                _ => Screened::Fine {
                    unsigned: Vec::new(),
                },
            },
            bytes,
            sigs,
        },
    })
}

/// Checks what one step returned.
fn check(machine: &Session, outputs: &[Output]) {
    let asks = outputs
        .iter()
        .filter(|o| matches!(o, Output::Ask(_)))
        .count();
    assert!(asks <= 1, "more than one question at once: {outputs:?}");
    if asks == 1 {
        assert!(
            matches!(outputs.last(), Some(Output::Ask(_))),
            "a question not last"
        );
    }
    if let Some(i) = outputs.iter().position(|o| matches!(o, Output::End(_))) {
        assert_eq!(i, outputs.len() - 1, "outputs after the end: {outputs:?}");
        assert!(machine.ended());
    } else {
        assert!(!machine.ended(), "ended without saying so");
    }
    assert_eq!(
        machine.waiting(),
        asks == 1,
        "waits without asking, or asks without waiting"
    );
}

/// The target.
pub fn session(data: &[u8]) {
    let mut b = Bytes(data);
    let first = b.pick(2) == 0;
    let mut machine = Session::new(first, FRAME);
    let mut loads: Vec<(SpaceId, Vec<DocId>)> = Vec::new();
    let ticket = Ticket {
        space: space(2),
        name: "Shared".into(),
        invite: OpHash([5; 32]),
        secret: [6; 32],
        role: tacit_core::Role::Editor,
        expires_at: None,
        inviter: crate::fixture::fixture().owner.member_id(),
        addrs: Vec::new(),
    };
    let mut outputs = machine.start();
    let mut inputs = 0;
    loop {
        check(&machine, &outputs);
        let mut question = None;
        for o in outputs {
            match o {
                Output::Load { space, docs } => {
                    loads.push((space, docs.iter().map(|d| d.id).collect()));
                }
                Output::Ask(ask) => question = Some(ask),
                _ => {}
            }
        }
        if let Some(ask) = question {
            let a = answer(&mut b, ask);
            outputs = machine.handle(Input::Answer(a));
            continue;
        }
        if machine.ended() {
            assert!(
                machine.handle(Input::Serve).is_empty(),
                "an ended session emitted"
            );
            return;
        }
        assert!(
            machine
                .shared()
                .iter()
                .all(|s| (0..3).any(|n| space(n) == *s))
        );
        inputs += 1;
        if b.0.is_empty() || inputs > MAX_INPUTS {
            return;
        }
        let input = match b.pick(12) {
            0..=4 => Input::Message(message(&mut b)),
            5 => Input::Local {
                space: space(b.pick(3)),
                id: doc(b.pick(12)),
                data: Arc::new(vec![7; 8]),
                sigs: Arc::new(Vec::new()),
            },
            6 => Input::Membership {
                space: space(b.pick(3)),
                ops: Arc::new(vec![vec![8; 8]]),
            },
            7 => Input::Lagged,
            8 => Input::Serve,
            9 => match loads.pop() {
                Some((space, ids)) => Input::Stored {
                    space,
                    ids,
                    answer: Ok(Reply::Stored {
                        refused: 0,
                        later: vec![doc(b.pick(12))],
                    }),
                },
                None => Input::IdleTimeout,
            },
            10 => Input::Join {
                ticket: Box::new(ticket.clone()),
                op: vec![9; 8],
            },
            _ => Input::Addrs(Vec::new()),
        };
        outputs = machine.handle(input);
    }
}
