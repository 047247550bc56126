//! The seed corpus: a handful of real encodings per target, made from the fixture. They are
//! written to `fuzz/seeds/<target>/` (`TACIT_BLESS=1 cargo test -p tacit-fuzz --test replay`)
//! and committed, so that fuzzing starts from inputs that reach deep into each target.

use automerge::sync::State;
use futures::executor::block_on;
use tacit_core::{ChangeSig, Doc, MemberId, OpBody, OpHash, Role, SignedOp, SpaceId, Ticket};
use tacit_net::codec::write_frame;
use tacit_net::recon::{ItemSet, Part};
use tacit_net::wire::{MemberAddrs, Message, SpaceOffer, VERSION, WholeDoc};

use crate::encode_records;
use crate::fixture::{T0, fixture};
use crate::net::{SET_SIZES, answer, recon_peer, recon_sets};
use crate::ops::{raw_record, sign_record};

/// One seed input.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The target it is for.
    pub target: &'static str,
    /// Its file name.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &str, bytes: Vec<u8>) -> Seed {
    Seed {
        target,
        name: name.to_owned(),
        bytes,
    }
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    out.extend(wire_and_frame());
    out.extend(recon());
    out.extend(ticket());
    out.extend(ops());
    out.extend(docs());
    out.extend(session());
    out.extend(blob_stream());
    out
}

/// The `blob_stream` target: the honest stream from the start and from the second group, one
/// with a byte changed in a group, and the raw stream as a holder would send it.
fn blob_stream() -> Vec<Seed> {
    let (_, _, [whole, _]) = crate::blob::blob();
    let mut raw = vec![0u8];
    raw.extend_from_slice(whole);
    vec![
        seed("blob_stream", "honest", vec![1]),
        seed("blob_stream", "honest-from-group-1", vec![3]),
        seed("blob_stream", "a-byte-changed", vec![1, 0x00, 0x10, 0x40]),
        seed("blob_stream", "raw", raw),
    ]
}

/// The `session` target reads any bytes (each picks from a small alphabet): a few runs of
/// bytes from a fixed generator, of growing length, as starting points.
fn session() -> Vec<Seed> {
    use sha2::Digest as _;
    [64usize, 256, 1024, 4096]
        .iter()
        .map(|&len| {
            let mut bytes = Vec::with_capacity(len);
            let mut block = 0u64;
            while bytes.len() < len {
                bytes.extend(sha2::Sha256::digest(block.to_le_bytes()));
                block += 1;
            }
            bytes.truncate(len);
            seed("session", &format!("run-{len}"), bytes)
        })
        .collect()
}

/// A signed address record of the editor.
fn addrs_record() -> MemberAddrs {
    let fx = fixture();
    let mut record = MemberAddrs {
        member: fx.editor.member_id(),
        addrs: vec![
            "/ip4/192.0.2.7/tcp/4001".into(),
            "/ip4/192.0.2.7/udp/4001/quic-v1".into(),
        ],
        relay: false,
        at: T0,
        sig: [[0; 32]; 2],
    };
    let sig = fx.editor.sign(&record.signed_bytes());
    record.sig[0].copy_from_slice(&sig[..32]);
    record.sig[1].copy_from_slice(&sig[32..]);
    record
}

/// The peer's first sync messages about the note, as the fixture's editor sends them to the
/// owner: its opening, and the one that carries its changes, with their signatures.
fn sync_messages() -> Vec<(Vec<u8>, Vec<ChangeSig>)> {
    let fx = fixture();
    let mut mine = Doc::load(fx.note_id, [fx.note_base.as_slice()], fx.owner.member_id())
        .expect("the note loads");
    let mut theirs = Doc::load(fx.note_id, [fx.note_full.as_slice()], fx.editor.member_id())
        .expect("the note loads");
    let (mut s_mine, mut s_theirs) = (State::new(), State::new());
    let mut out = Vec::new();
    // The peer's opening: its heads, and what it has.
    if let Some((m, _)) = theirs.sync_message(&mut State::new()) {
        out.push((m, Vec::new()));
    }
    for _ in 0..3 {
        if let Some((m, _)) = mine.sync_message(&mut s_mine) {
            let _ = theirs.receive_sync(&mut s_theirs, &m);
        }
        if let Some((m, sent)) = theirs.sync_message(&mut s_theirs) {
            let sigs = fx
                .note_sigs
                .iter()
                .filter(|s| sent.iter().any(|h| h.0 == s.hash))
                .copied()
                .collect();
            let _ = mine.receive_sync(&mut s_mine, &m);
            out.push((m, sigs));
        }
    }
    out
}

fn messages() -> Vec<(&'static str, Message)> {
    let fx = fixture();
    let space = fx.space;
    let hashes: Vec<OpHash> = fx.ops.iter().map(SignedOp::hash).collect();
    let (sync, sigs) = sync_messages().pop().unwrap_or_default();
    vec![
        (
            "hello",
            Message::Hello {
                version: VERSION,
                spaces: vec![SpaceOffer {
                    space,
                    ops_digest: tacit_core::set_digest(hashes.iter()),
                }],
            },
        ),
        (
            "op-hashes",
            Message::OpHashes {
                space,
                hashes: hashes.clone(),
            },
        ),
        (
            "ops",
            Message::Ops {
                space,
                ops: fx.ops.iter().take(4).map(SignedOp::to_bytes).collect(),
            },
        ),
        (
            "recon",
            Message::Recon {
                space,
                parts: vec![recon_sets()[5].set.start()],
            },
        ),
        (
            "want",
            Message::Want {
                space,
                ids: vec![fx.note_id, fx.question_id],
            },
        ),
        (
            "docs",
            Message::Docs {
                space,
                docs: vec![WholeDoc {
                    id: fx.question_id,
                    data: fx.question.clone(),
                    sigs: fx.question_sigs.clone(),
                }],
            },
        ),
        (
            "sync",
            Message::Sync {
                space,
                id: fx.note_id,
                msg: sync,
                sigs,
            },
        ),
        (
            "change",
            Message::Change {
                space,
                id: fx.note_id,
                data: fx.note_increment.clone(),
                sigs: fx.note_sigs.clone(),
            },
        ),
        (
            "addrs",
            Message::Addrs {
                records: vec![addrs_record()],
            },
        ),
        (
            "join-refused",
            Message::JoinRefused {
                space,
                reason: "the invitation expired".into(),
            },
        ),
        (
            "bye",
            Message::Bye {
                reason: "version 3 needed".into(),
            },
        ),
    ]
}

fn frames(frames: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        block_on(write_frame(&mut out, f, usize::MAX)).expect("writing to a Vec");
    }
    out
}

fn wire_and_frame() -> Vec<Seed> {
    let msgs = messages();
    let mut out: Vec<Seed> = msgs
        .iter()
        .map(|(name, m)| seed("wire", name, m.encode()))
        .collect();
    let enc: Vec<Vec<u8>> = msgs.iter().map(|(_, m)| m.encode()).collect();
    let small: Vec<&[u8]> = enc.iter().take(3).map(Vec::as_slice).collect();
    out.push(seed("frame", "three-messages", frames(&small)));
    out.push(seed(
        "frame",
        "empty-and-short",
        frames(&[b"", b"x", b"hello"]),
    ));
    let mut cut = frames(&[b"hello", b"world"]);
    cut.truncate(cut.len() - 2);
    out.push(seed("frame", "cut-short", cut));
    let mut huge = (16u32 * 1024 * 1024 + 1).to_be_bytes().to_vec();
    huge.extend_from_slice(b"abc");
    out.push(seed("frame", "over-the-limit", huge));
    let mut announced = (40u32).to_be_bytes().to_vec();
    announced.extend_from_slice(&[7; 40]);
    out.push(seed("frame", "over-the-small-limit", announced));
    out
}

/// Parts the `index`th set receives from a peer in an honest run where the peer holds a variant.
fn recon() -> Vec<Seed> {
    let space = fixture().space;
    let mut out = Vec::new();
    for (index, variant) in [(4u8, 0x85u8), (5, 0x8b), (6, 0x8f), (3, 0x03)] {
        let set = &recon_sets()[usize::from(index)].set;
        let peer: ItemSet = recon_peer(set, SET_SIZES[usize::from(index)], variant);
        // The peer starts; the set answers; the peer answers that: the set's next input.
        let mut to_set: Vec<Part> = vec![peer.start()];
        for round in 0..3 {
            let mut bytes = vec![index, variant];
            bytes.extend(
                Message::Recon {
                    space,
                    parts: to_set.clone(),
                }
                .encode(),
            );
            out.push(seed(
                "recon",
                &format!("set{index}-variant{variant:02x}-round{round}"),
                bytes,
            ));
            let Some((replies, _)) = answer(set, &to_set) else {
                break;
            };
            let Some((back, _)) = answer(&peer, &replies) else {
                break;
            };
            if back.is_empty() {
                break;
            }
            to_set = back;
        }
    }
    out
}

fn a_ticket() -> Ticket {
    let fx = fixture();
    Ticket {
        space: fx.space,
        name: "Platform".into(),
        invite: fx.open_invite,
        secret: fx.open_secret,
        role: Role::Editor,
        expires_at: Some(T0 + 86_400_000),
        inviter: fx.owner.member_id(),
        addrs: vec![
            "/ip4/192.0.2.7/udp/4001/quic-v1".into(),
            "/ip6/::1/tcp/4001".into(),
        ],
    }
}

fn ticket() -> Vec<Seed> {
    let t = a_ticket();
    let mut text = vec![0u8];
    text.extend_from_slice(t.to_string().as_bytes());
    let mut link = vec![0u8];
    link.extend_from_slice(format!("  tacit://join/{t}\n").as_bytes());
    // The payload: the version (variant 0 of the encoding) and the ticket.
    let mut payload = vec![1u8, 0];
    payload.extend(postcard::to_allocvec(&t).unwrap_or_default());
    let mut shouting = payload.clone();
    shouting[0] = 1 | 2 | 4 | 8 | (3 << 4);
    let mut forever = a_ticket();
    forever.expires_at = None;
    forever.addrs.clear();
    let mut bare = vec![1u8, 0];
    bare.extend(postcard::to_allocvec(&forever).unwrap_or_default());
    vec![
        seed("ticket", "text", text),
        seed("ticket", "link", link),
        seed("ticket", "payload", payload),
        seed("ticket", "payload-as-link-in-capitals", shouting),
        seed("ticket", "payload-no-expiry-no-addrs", bare),
    ]
}

/// `[i, 0, 0, …]`: the `i`th op the ops target knows (the fixture's, then those of the input).
fn nth(i: u8) -> OpHash {
    let mut h = [0u8; 32];
    h[0] = i;
    OpHash(h)
}

/// `[i, 0, 0, …]`: the `i`th fixture key's member.
fn key(i: u8) -> MemberId {
    let mut m = [0u8; 32];
    m[0] = i;
    MemberId::from_bytes(m)
}

fn ops() -> Vec<Seed> {
    let fx = fixture();
    let n = u8::try_from(fx.ops.len()).unwrap_or(u8::MAX);
    let open = u8::try_from(
        fx.ops
            .iter()
            .position(|o| o.hash() == fx.open_invite)
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let last = nth(n - 1);
    let join = |by: u8| {
        sign_record(
            by,
            Vec::new(),
            OpBody::Join {
                invite: nth(open),
                proof: [[0; 32]; 2],
                member_name: "Mallory".into(),
                member_org: "Elsewhere".into(),
            },
        )
    };
    let set =
        |cases: Vec<(u8, Vec<u8>)>| encode_records(cases.iter().map(|(t, b)| (*t, b.as_slice())));
    vec![
        seed(
            "ops",
            "raw-fixture-ops",
            set(fx.ops.iter().map(raw_record).collect()),
        ),
        seed(
            "ops",
            "stranger-joins-editor-admits",
            set(vec![
                join(3),
                sign_record(1, vec![last], OpBody::Admit { join: nth(n) }),
            ]),
        ),
        seed(
            "ops",
            "owner-removes-reader",
            set(vec![sign_record(
                0,
                vec![last],
                OpBody::Remove {
                    member: key(2),
                    cut: Vec::new(),
                },
            )]),
        ),
        seed(
            "ops",
            "editor-promotes-itself-and-reader-leaves",
            set(vec![
                sign_record(
                    1,
                    vec![last],
                    OpBody::SetRole {
                        member: key(1),
                        role: Role::Owner,
                        cut: Vec::new(),
                    },
                ),
                sign_record(
                    2,
                    vec![nth(0)],
                    OpBody::Remove {
                        member: key(2),
                        cut: Vec::new(),
                    },
                ),
            ]),
        ),
        seed(
            "ops",
            "owner-demotes-editor-and-withdraws",
            set(vec![
                sign_record(
                    0,
                    vec![last],
                    OpBody::SetRole {
                        member: key(1),
                        role: Role::Reader,
                        cut: vec![tacit_core::CutEntry::new(fx.note_id, &[5; 32])],
                    },
                ),
                sign_record(0, vec![nth(n)], OpBody::Withdraw { invite: nth(open) }),
            ]),
        ),
        seed(
            "ops",
            "stranger-creates",
            set(vec![sign_record(
                3,
                Vec::new(),
                OpBody::Create {
                    name: "Platform".into(),
                    nonce: [7; 16],
                    member_name: "Mallory".into(),
                    member_org: "Elsewhere".into(),
                },
            )]),
        ),
    ]
}

fn docs() -> Vec<Seed> {
    let fx = fixture();
    let with = |mode: u8, parts: &[&[u8]]| {
        let mut out = vec![mode];
        for p in parts {
            out.extend_from_slice(p);
        }
        out
    };
    let profile = 2 << 2;
    let question = 1 << 2;
    let mut out = vec![
        seed("doc_load", "note-signed", with(2, &[&fx.note_full])),
        seed(
            "doc_load",
            "note-in-chunks",
            with(1 | 2, &[&fx.note_base, &fx.note_increment]),
        ),
        seed("doc_load", "question", with(2 | question, &[&fx.question])),
        seed("doc_load", "profile", with(2 | profile, &[&fx.profile])),
        seed("doc_load", "note-unsigned", with(0, &[&fx.note_base])),
    ];
    let space: SpaceId = fx.space;
    for (i, (msg, sigs)) in sync_messages().into_iter().enumerate() {
        out.push(seed("sync_msg", &format!("raw-{i}"), msg.clone()));
        out.push(seed(
            "sync_msg",
            &format!("framed-{i}"),
            Message::Sync {
                space,
                id: fx.note_id,
                msg,
                sigs,
            }
            .encode(),
        ));
    }
    out
}
