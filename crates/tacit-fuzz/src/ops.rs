//! The membership ops target.

use std::collections::{BTreeMap, HashMap, HashSet};

use tacit_core::{
    InviteKey, MAX_OPS_PER_AUTHOR, MAX_SPACE_OPS, MemberId, Membership, Op, OpBody, OpHash, Role,
    SignedOp, SpaceId,
};

use crate::fixture::{Fixture, fixture};
use crate::records;

/// Most records one input holds: a batch of ops as one `Ops` message could bring, kept small so
/// that an input folds in microseconds.
const MAX_RECORDS: usize = 16;

/// Record tags: raw op bytes as a peer sends them, or an op the target signs (see [`ops`]).
pub(crate) const RAW: u8 = 0;
/// An `Op` (postcard) the target signs with key `tag >> 1` of owner, editor, reader, stranger.
pub(crate) const SIGN: u8 = 1;

/// Fills in what a fuzzer cannot guess, so that its ops reach the fold's rules: a zero space is
/// the fixture's; a dep or a named op `[i, 0, 0, …]` is the `i`th known op; a member
/// `[i, 0, 0, …]` is the `i`th fixture key; a zero proof of a join of the open invitation is the
/// right proof. The author is always the signing key's member.
fn fill_in(fx: &Fixture, op: &mut Op, key: usize, known: &[OpHash]) {
    let keys = fx.keys();
    let pick = |h: &mut OpHash| {
        if h.0[1..].iter().all(|&b| b == 0) && !known.is_empty() {
            *h = known[usize::from(h.0[0]) % known.len()];
        }
    };
    let member = |m: &mut MemberId| {
        if m.as_bytes()[1..].iter().all(|&b| b == 0) {
            *m = keys[usize::from(m.as_bytes()[0]) % keys.len()].member_id();
        }
    };
    if op.space.as_bytes().iter().all(|&b| b == 0) {
        op.space = fx.space;
    }
    op.author = keys[key].member_id();
    op.deps.iter_mut().for_each(pick);
    match &mut op.body {
        OpBody::Join { invite, proof, .. } => {
            pick(invite);
            if *proof == [[0; 32]; 2] && *invite == fx.open_invite {
                *proof =
                    InviteKey::from_secret(&fx.open_secret).prove(op.space, *invite, op.author);
            }
        }
        OpBody::Admit { join } => pick(join),
        OpBody::Withdraw { invite } => pick(invite),
        OpBody::Remove { member: m, .. } | OpBody::SetRole { member: m, .. } => member(m),
        OpBody::Create { .. } | OpBody::Invite { .. } => {}
    }
}

/// The members and their roles, and who was removed.
fn roster(m: &Membership) -> (BTreeMap<MemberId, Role>, Vec<MemberId>) {
    (
        m.members().iter().map(|(id, m)| (*id, m.role)).collect(),
        m.removed().keys().copied().collect(),
    )
}

/// Membership ops from a peer, added to the seeded space as the node adds them.
///
/// The input is records `[tag][len: u16 le][bytes]`: tag 0, raw op bytes as a peer sends them
/// (`SignedOp::peek`, then `SignedOp::from_bytes`); tag `2k+1`, an `Op` (postcard) that the target
/// fills in ([`fill_in`]) and signs with key `k` (owner, editor, reader, stranger) — an op this
/// build signs must decode to itself. The ops that decode are kept as the node keeps them (the
/// space's, new, within the per-author and per-space limits) and folded with the space's ops.
///
/// What must hold: the fold does not depend on the order of the ops; ops whose authors are no
/// members (forged, or a stranger's) change no membership; ops of members who do not manage
/// (the editor's and the reader's) change no other member's role and remove nobody but their
/// author.
pub fn ops(data: &[u8]) {
    let fx = fixture();
    let held: HashSet<OpHash> = fx.ops.iter().map(SignedOp::hash).collect();
    let mut known: Vec<OpHash> = fx.ops.iter().map(SignedOp::hash).collect();
    let mut new: Vec<SignedOp> = Vec::new();
    let mut authored: HashMap<MemberId, usize> = HashMap::new();
    for (tag, bytes) in records(data, MAX_RECORDS) {
        let op = if tag & 1 == RAW {
            let _ = SignedOp::peek(bytes);
            match SignedOp::from_bytes(bytes) {
                Ok(op) => op,
                Err(_) => continue,
            }
        } else {
            let Ok(mut op) = postcard::from_bytes::<Op>(bytes) else {
                continue;
            };
            let key = usize::from(tag >> 1) % fx.keys().len();
            fill_in(fx, &mut op, key, &known);
            let Ok(signed) = SignedOp::sign(fx.keys()[key], op) else {
                continue;
            };
            match SignedOp::from_bytes(signed.as_bytes()) {
                Ok(back) => assert!(back == signed, "a signed op decodes to another op"),
                Err(e) => panic!("an op this build signed does not decode: {e}"),
            }
            signed
        };
        // As the node: only the space's ops, new ones, within the limits.
        if op.op().space != fx.space
            || held.contains(&op.hash())
            || new.iter().any(|o| o.hash() == op.hash())
        {
            continue;
        }
        let author = op.op().author;
        let count = authored
            .entry(author)
            .or_insert_with(|| fx.membership.authored(&author));
        if *count >= MAX_OPS_PER_AUTHOR || held.len() + new.len() >= MAX_SPACE_OPS {
            continue;
        }
        *count += 1;
        known.push(op.hash());
        new.push(op);
    }
    if new.is_empty() {
        return;
    }

    let all: Vec<&SignedOp> = fx.ops.iter().chain(&new).collect();
    let folded = Membership::fold(fx.space, all.iter().copied());
    let reversed = Membership::fold(fx.space, all.iter().rev().copied());
    assert!(
        folded == reversed,
        "the fold depends on the order of the ops"
    );
    let _ = folded.heads();
    let _ = folded.missing();

    let (before, _) = roster(&fx.membership);
    let (after, removed) = roster(&folded);
    let is_member = |m: &MemberId| fx.membership.is_member(m);
    if new.iter().all(|o| !is_member(&o.op().author)) {
        assert_eq!(
            roster(&folded),
            roster(&fx.membership),
            "ops by non-members changed the membership"
        );
    }
    let owner = |m: &MemberId| fx.membership.role(m) == Some(Role::Owner);
    if new.iter().all(|o| !owner(&o.op().author)) {
        let left: HashSet<MemberId> = new
            .iter()
            .filter_map(|o| match &o.op().body {
                OpBody::Remove { member, .. } if *member == o.op().author => Some(*member),
                _ => None,
            })
            .collect();
        for (member, role) in &before {
            if left.contains(member) {
                continue;
            }
            assert_eq!(
                after.get(member),
                Some(role),
                "ops by members who do not manage changed another member's role"
            );
            assert!(
                !removed.contains(member),
                "ops by members who do not manage removed another member"
            );
        }
    }
}

/// A signed op's record for the seeds: the op as a peer sends it.
pub(crate) fn raw_record(op: &SignedOp) -> (u8, Vec<u8>) {
    (RAW, op.to_bytes())
}

/// An op to sign, for the seeds: signed with key `key` (0 owner … 3 stranger) in the fixture's
/// space.
pub(crate) fn sign_record(key: u8, deps: Vec<OpHash>, body: OpBody) -> (u8, Vec<u8>) {
    let op = Op {
        space: SpaceId::from_bytes([0; 16]),
        author: MemberId::from_bytes([0; 32]),
        at: crate::fixture::T0 + 1,
        deps,
        body,
    };
    (
        SIGN | (key << 1),
        postcard::to_allocvec(&op).unwrap_or_default(),
    )
}
