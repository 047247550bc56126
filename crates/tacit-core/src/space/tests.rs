#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::ops::{signed_message, split};
use super::*;
use crate::id::{DocId, SpaceId};
use crate::key::DeviceKey;
use crate::limits::MAX_NAME_CHARS;

fn key(n: u8) -> DeviceKey {
    DeviceKey::from_secret([n; 32])
}

fn remove(member: &DeviceKey) -> OpBody {
    OpBody::Remove {
        member: member.member_id(),
        cut: Vec::new(),
    }
}

fn set_role(member: &DeviceKey, role: Role) -> OpBody {
    OpBody::SetRole {
        member: member.member_id(),
        role,
        cut: Vec::new(),
    }
}

/// A space under construction: ops signed by real keys, each made after the current heads.
struct World {
    space: SpaceId,
    ops: Vec<SignedOp>,
}

impl World {
    fn new(owner: &DeviceKey) -> Self {
        let (space, create) = new_space(owner, " Platform team ", "Ada", "Acme", 1000).unwrap();
        Self {
            space,
            ops: vec![create],
        }
    }

    fn fold(&self) -> Membership {
        Membership::fold(self.space, &self.ops)
    }

    fn sign(&self, key: &DeviceKey, at: i64, deps: Vec<OpHash>, body: OpBody) -> SignedOp {
        let op = Op {
            space: self.space,
            author: key.member_id(),
            at,
            deps,
            body,
        };
        SignedOp::sign(key, op).unwrap()
    }

    /// Adds an op made after the current heads; returns its hash.
    fn push(&mut self, key: &DeviceKey, at: i64, body: OpBody) -> OpHash {
        let op = self.sign(key, at, self.fold().heads(), body);
        let hash = op.hash();
        self.ops.push(op);
        hash
    }

    /// Adds an op made after `deps` (a concurrent branch); returns its hash.
    fn push_after(&mut self, key: &DeviceKey, at: i64, deps: Vec<OpHash>, body: OpBody) -> OpHash {
        let op = self.sign(key, at, deps, body);
        let hash = op.hash();
        self.ops.push(op);
        hash
    }

    fn invite(
        &mut self,
        by: &DeviceKey,
        at: i64,
        role: Role,
        expires_at: Option<i64>,
        uses: Option<u32>,
    ) -> (OpHash, [u8; 32]) {
        let secret = new_secret();
        let body = OpBody::Invite {
            role,
            expires_at,
            uses,
            key: InviteKey::from_secret(&secret).public(),
        };
        (self.push(by, at, body), secret)
    }

    /// `who`'s join through `invite`, proved with `secret`, made after the invite only.
    fn join(&self, who: &DeviceKey, at: i64, invite: OpHash, secret: &[u8; 32]) -> SignedOp {
        let proof = InviteKey::from_secret(secret).prove(self.space, invite, who.member_id());
        self.sign(who, at, vec![invite], join_body(invite, proof))
    }

    /// `who` joins as a member with `role`, invited and admitted by `by`; returns the admission.
    fn add(&mut self, by: &DeviceKey, who: &DeviceKey, at: i64, role: Role) -> OpHash {
        let (invite, secret) = self.invite(by, at, role, None, None);
        let join = self.join(who, at, invite, &secret);
        let hash = join.hash();
        self.ops.push(join);
        self.push(by, at, OpBody::Admit { join: hash })
    }
}

fn join_body(invite: OpHash, proof: [[u8; 32]; 2]) -> OpBody {
    OpBody::Join {
        invite,
        proof,
        member_name: "Bob".into(),
        member_org: "Acme".into(),
    }
}

#[test]
fn a_signed_op_round_trips_through_bytes() {
    let owner = key(1);
    let mut w = World::new(&owner);
    w.invite(&owner, 2000, Role::Editor, Some(9000), Some(3));
    for op in &w.ops {
        let decoded = SignedOp::from_bytes(op.as_bytes()).unwrap();
        assert_eq!(&decoded, op);
        assert_eq!(decoded.to_bytes(), op.to_bytes());
        assert_eq!(decoded.hash(), OpHash(Sha256::digest(op.as_bytes()).into()));
    }
    let hash = w.ops[1].hash();
    assert_eq!(hash.to_string().parse::<OpHash>().unwrap(), hash);
    let json = serde_json::to_string(&hash).unwrap();
    assert_eq!(json, format!("\"{hash}\""));
    assert_eq!(serde_json::from_str::<OpHash>(&json).unwrap(), hash);
}

#[test]
fn a_flipped_bit_anywhere_in_a_signed_op_is_refused() {
    let owner = key(1);
    let mut w = World::new(&owner);
    let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, None);
    let join = w.join(&key(2), 3000, invite, &secret);
    for op in [&w.ops[0], &join] {
        for i in 0..op.as_bytes().len() {
            for bit in [0x01, 0x80] {
                let mut bytes = op.to_bytes();
                bytes[i] ^= bit;
                assert!(
                    SignedOp::from_bytes(&bytes).is_err(),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
    }
}

#[test]
fn non_canonical_oversized_older_and_newer_encodings_are_refused() {
    let w = World::new(&key(1));
    let mut bytes = w.ops[0].to_bytes();
    bytes.push(0);
    assert_eq!(
        SignedOp::from_bytes(&bytes),
        Err(SpaceError::Malformed("not in canonical form"))
    );
    let big = vec![1; MAX_CUT_OP_BYTES + 1];
    assert!(matches!(
        SignedOp::from_bytes(&big),
        Err(SpaceError::TooLarge { .. })
    ));
    assert_eq!(
        SignedOp::from_bytes(&[2, 2, 3]),
        Err(SpaceError::Unsupported { version: 2 })
    );
    assert_eq!(
        SignedOp::from_bytes(&[0, 2, 3]),
        Err(SpaceError::Legacy { version: 1 })
    );
    assert!(SignedOp::from_bytes(&[]).is_err());

    // Correctly signed, but its deps are out of order: one op, one encoding.
    let owner = key(1);
    let (a, b) = (OpHash([1; 32]), OpHash([2; 32]));
    let op = Op {
        space: w.space,
        author: owner.member_id(),
        at: 5,
        deps: vec![b, a],
        body: remove(&key(2)),
    };
    let sig = split(owner.sign(&signed_message(&op).unwrap()));
    let mut bytes = vec![1u8];
    bytes.extend(postcard::to_allocvec(&(op, sig)).unwrap());
    assert_eq!(
        SignedOp::from_bytes(&bytes),
        Err(SpaceError::Malformed("deps are not sorted and distinct"))
    );
}

#[test]
fn an_op_without_a_cut_is_held_to_the_small_limit() {
    let owner = key(1);
    let w = World::new(&owner);
    let dep = w.ops[0].hash();
    let many: Vec<CutEntry> = (0..200u32)
        .map(|i| {
            let mut doc = [0u8; 16];
            doc[..4].copy_from_slice(&i.to_be_bytes());
            CutEntry { doc, head: [7; 8] }
        })
        .collect();
    let op = Op {
        space: w.space,
        author: owner.member_id(),
        at: 5,
        deps: vec![dep],
        body: OpBody::Remove {
            member: key(2).member_id(),
            cut: many,
        },
    };
    let signed = SignedOp::sign(&owner, op).unwrap();
    assert!(signed.as_bytes().len() > MAX_OP_BYTES);
    assert_eq!(SignedOp::from_bytes(signed.as_bytes()).unwrap(), signed);
}

#[test]
fn signing_checks_the_author_the_names_and_the_deps() {
    let (owner, other) = (key(1), key(2));
    let w = World::new(&owner);
    let dep = w.ops[0].hash();
    let op = |author: &DeviceKey, deps: Vec<OpHash>, body: OpBody| Op {
        space: w.space,
        author: author.member_id(),
        at: 5,
        deps,
        body,
    };
    let err = SignedOp::sign(&owner, op(&other, vec![dep], remove(&other))).unwrap_err();
    assert!(matches!(err, SpaceError::WrongAuthor { .. }), "{err}");
    let err = SignedOp::sign(&owner, op(&owner, vec![], remove(&other))).unwrap_err();
    assert!(matches!(err, SpaceError::Malformed(_)), "{err}");
    let many = (0..=MAX_DEPS).map(|i| OpHash([i as u8; 32])).collect();
    let err = SignedOp::sign(&owner, op(&owner, many, remove(&other))).unwrap_err();
    assert!(
        matches!(err, SpaceError::TooManyDeps { count: 65, .. }),
        "{err}"
    );
    assert_eq!(
        new_space(&owner, "  ", "Ada", "", 1).unwrap_err(),
        SpaceError::EmptyName
    );
    let long = "é".repeat(MAX_NAME_CHARS + 1);
    let err = new_space(&owner, "Team", &long, "", 1).unwrap_err();
    assert!(
        err.to_string().contains("member name is too long: 101"),
        "{err}"
    );
    assert!(new_space(&owner, "Team", &long[2..], "", 1).is_ok());
}

#[test]
fn the_creator_is_the_first_owner() {
    let owner = key(1);
    let w = World::new(&owner);
    let m = w.fold();
    assert_eq!(m.space(), w.space);
    assert_eq!(m.name(), Some("Platform team"));
    assert_eq!(m.creator(), Some(owner.member_id()));
    assert_eq!(m.created_at(), Some(1000));
    assert_eq!(m.role(&owner.member_id()), Some(Role::Owner));
    assert!(m.can_write(&owner.member_id()));
    assert_eq!(m.heads(), vec![w.ops[0].hash()]);
    assert!(m.rejected().is_empty() && m.pending().is_empty());
}

#[test]
fn an_admitted_join_makes_a_member_with_the_invitation_role() {
    let (owner, bob) = (key(1), key(2));
    let mut w = World::new(&owner);
    let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, Some(2));
    let join = w.join(&bob, 3000, invite, &secret);
    let join_hash = join.hash();
    w.ops.push(join);
    let m = w.fold();
    assert!(!m.is_member(&bob.member_id()), "a join alone admits nobody");
    assert!(m.unadmitted().contains(&join_hash));
    assert_eq!(m.joiner(&join_hash), Some(bob.member_id()));

    let admit = w.push(&owner, 3001, OpBody::Admit { join: join_hash });
    let m = w.fold();
    let member = &m.members()[&bob.member_id()];
    assert_eq!(member.role, Role::Editor);
    assert_eq!((member.name.as_str(), member.org.as_str()), ("Bob", "Acme"));
    assert_eq!(member.joined_at, 3001);
    assert_eq!(member.invited_by, Some(owner.member_id()));
    assert_eq!(member.admitted_by, Some(owner.member_id()));
    assert_eq!(m.invites()[&invite].used, 1);
    assert!(m.invite_usable(&invite, 3000).is_ok());
    assert!(m.can_write(&bob.member_id()));
    assert_eq!(m.heads(), vec![admit]);
    assert!(m.applied().contains(&join_hash) && m.unadmitted().is_empty());
}

#[test]
fn any_member_may_admit_but_not_the_joiner_itself() {
    let (owner, reader, bob) = (key(1), key(2), key(3));
    let mut w = World::new(&owner);
    w.add(&owner, &reader, 2000, Role::Reader);
    let (invite, secret) = w.invite(&owner, 2100, Role::Editor, None, None);
    let join = w.join(&bob, 3000, invite, &secret);
    let jh = join.hash();
    w.ops.push(join);
    let own = w.push(&bob, 3001, OpBody::Admit { join: jh });
    assert!(!w.fold().is_member(&bob.member_id()));
    assert!(w.fold().rejected().contains(&own));
    w.push(&reader, 3002, OpBody::Admit { join: jh });
    let m = w.fold();
    assert_eq!(
        m.members()[&bob.member_id()].admitted_by,
        Some(reader.member_id())
    );
}

#[test]
fn a_join_with_a_wrong_proof_or_another_joiners_proof_is_refused() {
    let (owner, bob, mallory) = (key(1), key(2), key(3));
    let mut w = World::new(&owner);
    let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, None);
    let wrong = w.join(&bob, 3000, invite, &[7; 32]);
    // Mallory copies Bob's proof into her own join: it is bound to Bob.
    let bobs = w.join(&bob, 3000, invite, &secret);
    let OpBody::Join { proof, .. } = bobs.op().body.clone() else {
        unreachable!()
    };
    let stolen = w.sign(&mallory, 3000, vec![invite], join_body(invite, proof));
    for join in [wrong, stolen] {
        let h = join.hash();
        w.ops.push(join);
        w.push(&owner, 3001, OpBody::Admit { join: h });
        let m = w.fold();
        assert!(m.rejected().contains(&h), "{h:?}");
        assert_eq!(m.members().len(), 1);
        assert_eq!(m.invites()[&invite].used, 0);
    }
}

#[test]
fn an_admission_after_the_expiry_or_the_last_use_or_a_withdrawal_is_refused() {
    let (owner, bob, carol, dave) = (key(1), key(2), key(3), key(4));
    let mut w = World::new(&owner);
    let (expiring, s1) = w.invite(&owner, 2000, Role::Reader, Some(5000), None);
    let late = w.join(&bob, 4000, expiring, &s1);
    let lh = late.hash();
    w.ops.push(late);
    w.push(&owner, 5001, OpBody::Admit { join: lh });
    assert!(!w.fold().is_member(&bob.member_id()));
    assert_eq!(
        w.fold().invite_usable(&expiring, 5001),
        Err(SpaceError::InviteExpired { at: 5000 })
    );

    let (once, s2) = w.invite(&owner, 6000, Role::Reader, None, Some(1));
    for who in [&carol, &dave] {
        let j = w.join(who, 6100, once, &s2);
        let jh = j.hash();
        w.ops.push(j);
        w.push(&owner, 6200, OpBody::Admit { join: jh });
    }
    let m = w.fold();
    assert!(m.is_member(&carol.member_id()) && !m.is_member(&dave.member_id()));
    assert_eq!(
        m.invite_usable(&once, 6300),
        Err(SpaceError::InviteUsedUp { uses: 1 })
    );

    let (withdrawn, s3) = w.invite(&owner, 7000, Role::Editor, None, None);
    w.push(&owner, 7001, OpBody::Withdraw { invite: withdrawn });
    let j = w.join(&bob, 7002, withdrawn, &s3);
    let jh = j.hash();
    w.ops.push(j);
    w.push(&owner, 7003, OpBody::Admit { join: jh });
    let m = w.fold();
    assert!(!m.is_member(&bob.member_id()));
    assert_eq!(
        m.invite_usable(&withdrawn, 7004),
        Err(SpaceError::InviteWithdrawn)
    );
}

#[test]
fn a_single_use_invitation_admits_one_of_two_concurrent_admissions_whatever_the_order() {
    let (owner, bob, carol) = (key(1), key(2), key(3));
    let mut w = World::new(&owner);
    let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, Some(1));
    let jb = w.join(&bob, 3000, invite, &secret);
    let jc = w.join(&carol, 3000, invite, &secret);
    let heads = w.fold().heads();
    let ab = w.sign(
        &owner,
        3000,
        [heads.clone(), vec![jb.hash()]].concat(),
        OpBody::Admit { join: jb.hash() },
    );
    let ac = w.sign(
        &owner,
        9,
        [heads, vec![jc.hash()]].concat(),
        OpBody::Admit { join: jc.hash() },
    );
    let ops = [&w.ops[0], &w.ops[1], &jb, &jc, &ab, &ac];
    let forward = Membership::fold(w.space, ops);
    let backward = Membership::fold(w.space, ops.into_iter().rev());
    assert_eq!(forward, backward);
    assert_eq!(forward.members().len(), 2);
    assert!(forward.is_member(&bob.member_id()) != forward.is_member(&carol.member_id()));
}

#[test]
fn a_removed_owners_backdated_removal_of_the_remover_is_void() {
    let (owner, bob, carol) = (key(1), key(2), key(3));
    let mut w = World::new(&owner);
    w.add(&owner, &bob, 2000, Role::Owner);
    w.add(&owner, &carol, 2000, Role::Owner);
    let before_removal = w.fold().heads();
    let removal = w.push(&owner, 3000, remove(&bob));
    // Bob, removed, names the heads from before his removal and an earlier time.
    let retaliation = w.push_after(&bob, 10, before_removal.clone(), remove(&owner));
    let invite = w.push_after(
        &bob,
        10,
        before_removal,
        OpBody::Invite {
            role: Role::Owner,
            expires_at: None,
            uses: None,
            key: [9; 32],
        },
    );
    let m = w.fold();
    assert!(m.is_member(&owner.member_id()));
    assert!(!m.is_member(&bob.member_id()));
    assert!(m.applied().contains(&removal));
    assert!(m.rejected().contains(&retaliation) && m.rejected().contains(&invite));
    assert!(!m.invites().contains_key(&invite));
    assert_eq!(m.removed()[&bob.member_id()].op, removal);
    // Whatever order the ops arrive in.
    assert_eq!(Membership::fold(w.space, w.ops.iter().rev()), m);
}

/// A removed junior owner's answer to his removal, made after his own admission only: naming
/// old deps made it ready before the removal, so it used to go first and win.
#[test]
fn a_removed_owners_answer_naming_old_deps_is_void_whatever_it_does() {
    let (ada, bob, carol, dave) = (key(1), key(2), key(3), key(4));
    let mut w = World::new(&ada);
    let bob_admitted = w.add(&ada, &bob, 2000, Role::Owner);
    w.add(&ada, &carol, 2100, Role::Editor);
    w.add(&ada, &dave, 2200, Role::Editor);
    let removal = w.push(&ada, 3000, remove(&bob));
    let answers = [
        remove(&ada),
        set_role(&ada, Role::Reader),
        remove(&carol),
        set_role(&dave, Role::Owner),
        OpBody::Invite {
            role: Role::Owner,
            expires_at: None,
            uses: None,
            key: [9; 32],
        },
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        let mut w = World {
            space: w.space,
            ops: w.ops.clone(),
        };
        let answer = w.push_after(&bob, 2500, vec![bob_admitted], answer);
        // Dave, promoted by Bob's answer, removes Ada in turn.
        let puppet = (i == 3).then(|| w.push_after(&dave, 2600, vec![answer], remove(&ada)));
        let m = w.fold();
        assert!(m.applied().contains(&removal), "answer {i}");
        assert!(m.rejected().contains(&answer), "answer {i}");
        assert!(
            puppet.is_none_or(|p| m.rejected().contains(&p)),
            "answer {i}"
        );
        assert_eq!(m.role(&ada.member_id()), Some(Role::Owner), "answer {i}");
        assert_eq!(m.role(&carol.member_id()), Some(Role::Editor), "answer {i}");
        assert_eq!(m.role(&dave.member_id()), Some(Role::Editor), "answer {i}");
        assert!(!m.is_member(&bob.member_id()), "answer {i}");
        assert!(m.invites().values().all(|inv| inv.by != bob.member_id()));
        assert_eq!(
            Membership::fold(w.space, w.ops.iter().rev()),
            m,
            "answer {i}"
        );
    }
}

/// A junior owner's removal of a senior one stands when nobody removed him: seniority decides
/// races, not who may remove whom.
#[test]
fn a_junior_owner_may_remove_a_senior_one_who_did_not_remove_him() {
    let (ada, bob) = (key(1), key(2));
    let mut w = World::new(&ada);
    let bob_admitted = w.add(&ada, &bob, 2000, Role::Owner);
    let removal = w.push_after(&bob, 3000, vec![bob_admitted], remove(&ada));
    let m = w.fold();
    assert!(m.applied().contains(&removal));
    assert!(!m.is_member(&ada.member_id()) && m.role(&bob.member_id()) == Some(Role::Owner));
}

/// The secrets a removed member holds open no door: the invitation they joined through and
/// those they made, whether the admission comes after the removal or concurrently with it.
#[test]
fn a_removed_member_cannot_come_back_under_a_new_key_through_an_old_invitation() {
    let (ada, bob, carol, bob2, bob3, eve) = (key(1), key(2), key(3), key(4), key(5), key(6));
    let mut w = World::new(&ada);
    let (team, team_secret) = w.invite(&ada, 2000, Role::Editor, None, None);
    let jb = w.join(&bob, 2100, team, &team_secret);
    let jb_hash = jb.hash();
    w.ops.push(jb);
    w.push(&ada, 2200, OpBody::Admit { join: jb_hash });
    w.add(&ada, &carol, 2300, Role::Editor);
    let before = w.fold().heads();
    w.push(&ada, 3000, remove(&bob));
    // After the removal: Carol's node admits Bob's new key through the team invitation.
    let j2 = w.join(&bob2, 4000, team, &team_secret);
    let j2_hash = j2.hash();
    w.ops.push(j2);
    let after = w.push(&carol, 4000, OpBody::Admit { join: j2_hash });
    // Concurrently with it: a node that had not heard of it yet admits another new key.
    let j3 = w.join(&bob3, 2400, team, &team_secret);
    let j3_hash = j3.hash();
    w.ops.push(j3);
    let concurrent = w.push_after(
        &carol,
        2400,
        [before, vec![j3_hash]].concat(),
        OpBody::Admit { join: j3_hash },
    );
    let m = w.fold();
    assert!(m.invites()[&team].withdrawn);
    assert!(m.rejected().contains(&after) && m.rejected().contains(&concurrent));
    assert!(!m.is_member(&bob2.member_id()) && !m.is_member(&bob3.member_id()));
    assert!(
        m.is_member(&carol.member_id()),
        "admitted before the removal"
    );
    assert_eq!(Membership::fold(w.space, w.ops.iter().rev()), m);
    let _ = eve;
}

/// A member demoted to reader cannot admit a puppet as an editor through the invitation they
/// joined by, whatever time the admission claims.
#[test]
fn a_demoted_member_cannot_admit_a_puppet_with_the_role_they_lost() {
    let (ada, bob, puppet) = (key(1), key(2), key(3));
    let mut w = World::new(&ada);
    let (inv, secret) = w.invite(&ada, 2000, Role::Editor, None, None);
    let jb = w.join(&bob, 2100, inv, &secret);
    let jb_hash = jb.hash();
    w.ops.push(jb);
    w.push(&ada, 2200, OpBody::Admit { join: jb_hash });
    w.push(&ada, 3000, set_role(&bob, Role::Reader));
    let jp = w.join(&puppet, 2300, inv, &secret);
    let jp_hash = jp.hash();
    w.ops.push(jp);
    let admit = w.push(&bob, 2300, OpBody::Admit { join: jp_hash });
    let m = w.fold();
    assert!(m.rejected().contains(&admit));
    assert!(!m.is_member(&puppet.member_id()));
    assert_eq!(m.role(&bob.member_id()), Some(Role::Reader));
}

#[test]
fn two_owners_removing_each_other_at_once_leave_the_senior_one() {
    let (owner, bob, carol) = (key(1), key(2), key(3));
    let mut w = World::new(&owner);
    w.add(&owner, &bob, 2000, Role::Owner);
    w.add(&owner, &carol, 2000, Role::Editor);
    let heads = w.fold().heads();
    let by_owner = w.push_after(&owner, 5000, heads.clone(), remove(&bob));
    let by_bob = w.push_after(&bob, 1, heads.clone(), remove(&owner));
    // Bob also demoted Carol concurrently: void with his other concurrent ops.
    let demote = w.push_after(&bob, 1, heads, set_role(&carol, Role::Reader));
    let m = w.fold();
    assert!(m.is_member(&owner.member_id()) && !m.is_member(&bob.member_id()));
    assert!(m.applied().contains(&by_owner));
    assert!(m.rejected().contains(&by_bob) && m.rejected().contains(&demote));
    assert_eq!(m.role(&carol.member_id()), Some(Role::Editor));
}

#[test]
fn a_demoted_owners_concurrent_management_is_void_but_not_the_rest() {
    let (owner, bob, carol, dave) = (key(1), key(2), key(3), key(4));
    let mut w = World::new(&owner);
    w.add(&owner, &bob, 2000, Role::Owner);
    let (invite, secret) = w.invite(&owner, 2100, Role::Reader, None, None);
    let join = w.join(&dave, 2200, invite, &secret);
    let jh = join.hash();
    w.ops.push(join);
    let heads = w.fold().heads();
    w.push_after(&owner, 3000, heads.clone(), set_role(&bob, Role::Editor));
    let bobs_invite = w.push_after(
        &bob,
        3000,
        heads.clone(),
        OpBody::Invite {
            role: Role::Owner,
            expires_at: None,
            uses: None,
            key: [1; 32],
        },
    );
    let bobs_admit = w.push_after(
        &bob,
        3000,
        [heads, vec![jh]].concat(),
        OpBody::Admit { join: jh },
    );
    let m = w.fold();
    assert_eq!(m.role(&bob.member_id()), Some(Role::Editor));
    assert!(m.rejected().contains(&bobs_invite));
    assert!(
        m.applied().contains(&bobs_admit),
        "admitting needs no ownership"
    );
    assert!(m.is_member(&dave.member_id()));
    let _ = carol;
}

#[test]
fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let (owner, bob) = (key(1), key(2));
    let mut w = World::new(&owner);
    let me = owner.member_id();
    w.push(&owner, 2000, remove(&owner));
    w.push(&owner, 2000, set_role(&owner, Role::Editor));
    let m = w.fold();
    assert_eq!(m.role(&me), Some(Role::Owner));
    assert_eq!(m.rejected().len(), 2);

    w.add(&owner, &bob, 3000, Role::Owner);
    w.push(&owner, 4000, remove(&owner));
    let m = w.fold();
    assert!(!m.is_member(&me));
    assert_eq!(m.role(&bob.member_id()), Some(Role::Owner));
}

#[test]
fn a_member_can_leave_and_a_removed_member_cannot_rejoin() {
    let (owner, bob, carol) = (key(1), key(2), key(3));
    let mut w = World::new(&owner);
    w.add(&owner, &carol, 2000, Role::Reader);
    w.push(&carol, 3000, remove(&carol));
    let m = w.fold();
    assert!(!m.is_member(&carol.member_id()));
    let gone = &m.removed()[&carol.member_id()];
    assert_eq!((gone.at, gone.by), (3000, carol.member_id()));

    w.add(&owner, &bob, 4000, Role::Editor);
    w.push(&owner, 5000, remove(&bob));
    let rejoin = w.add(&owner, &bob, 6000, Role::Editor);
    let m = w.fold();
    assert!(!m.is_member(&bob.member_id()));
    assert!(m.rejected().contains(&rejoin));
}

#[test]
fn losing_write_rights_records_the_cut_and_promotion_lifts_it() {
    let (owner, bob, carol) = (key(1), key(2), key(3));
    let (b, c) = (bob.member_id(), carol.member_id());
    let mut w = World::new(&owner);
    w.add(&owner, &bob, 2000, Role::Editor);
    w.add(&owner, &carol, 2000, Role::Reader);
    let doc = DocId::from_bytes([5; 16]);
    let cut = vec![CutEntry::new(doc, &[6; 32])];
    let demotion = w.push(
        &owner,
        3000,
        OpBody::SetRole {
            member: b,
            role: Role::Reader,
            cut: cut.clone(),
        },
    );
    let m = w.fold();
    assert!(!m.can_write(&b));
    let wc = m.write_cut(&b).unwrap();
    assert_eq!(wc.op, demotion);
    assert_eq!(wc.cut.get(doc.as_bytes()), Some(&[6u8; 8]));
    assert!(m.write_cut(&c).is_none(), "a reader never wrote");
    w.push(&owner, 4000, set_role(&bob, Role::Editor));
    assert!(w.fold().write_cut(&b).is_none() && w.fold().can_write(&b));
    let removal = w.push(&owner, 5000, OpBody::Remove { member: b, cut });
    assert_eq!(w.fold().write_cut(&b).unwrap().op, removal);
}

#[test]
fn history_answers_what_an_op_was_made_after() {
    let (owner, bob) = (key(1), key(2));
    let mut w = World::new(&owner);
    let admit = w.add(&owner, &bob, 2000, Role::Editor);
    let heads = w.fold().heads();
    let later = w.push(&owner, 3000, set_role(&bob, Role::Reader));
    let m = w.fold();
    assert!(m.in_history(&w.ops[0].hash(), &heads));
    assert!(m.in_history(&admit, &[admit]));
    assert!(!m.in_history(&later, &heads));
    assert!(m.in_history(&later, &m.heads()));
    assert!(!m.in_history(&later, &[OpHash([3; 32])]));
    assert!(m.knows(&later) && !m.knows(&OpHash([3; 32])));
    assert_eq!(m.authored(&owner.member_id()), 4);
}

#[test]
fn an_op_waiting_for_its_dep_applies_when_the_dep_arrives() {
    let (owner, bob) = (key(1), key(2));
    let mut w = World::new(&owner);
    let admit = w.add(&owner, &bob, 2000, Role::Editor);
    let invite = w.ops[1].hash();
    let without: Vec<_> = w.ops.iter().filter(|op| op.hash() != invite).collect();
    let m = Membership::fold(w.space, without);
    assert!(!m.is_member(&bob.member_id()));
    assert!(m.pending().contains(&admit));
    assert_eq!(m.missing().iter().collect::<Vec<_>>(), vec![&invite]);
    let m = w.fold();
    assert!(m.is_member(&bob.member_id()));
    assert!(m.pending().is_empty() && m.missing().is_empty());
}

#[test]
fn the_set_digest_ignores_order_and_duplicates() {
    let (a, b) = (OpHash([1; 32]), OpHash([2; 32]));
    assert_eq!(set_digest(&[a, b]), set_digest(&[b, a, b]));
    assert_ne!(set_digest(&[a]), set_digest(&[a, b]));
}

#[test]
fn roles_read_and_print_as_lowercase_words() {
    for role in [Role::Owner, Role::Editor, Role::Reader] {
        assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
        assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
    }
    assert!("admin".parse::<Role>().is_err());
    assert!(Role::Editor.can_write() && !Role::Editor.can_manage() && !Role::Reader.can_write());
}

const KEYS: u8 = 5;

/// A history of valid and invalid ops among [`KEYS`] members, with concurrent branches, from
/// `steps` (kind, a, b, c). Also returns forged encodings, which must never decode.
fn history(steps: &[(u8, u8, u8, u8)]) -> (SpaceId, Vec<SignedOp>, Vec<Vec<u8>>) {
    let keys: Vec<DeviceKey> = (1..=KEYS).map(key).collect();
    let pick = |n: u8| &keys[usize::from(n) % keys.len()];
    let mut w = World::new(&keys[0]);
    let mut invites: Vec<(OpHash, [u8; 32])> = Vec::new();
    let mut joins: Vec<OpHash> = Vec::new();
    let mut forged = Vec::new();
    for (i, &(kind, a, b, c)) in steps.iter().enumerate() {
        let m = w.fold();
        // Times collide and run backwards, as clocks do.
        let at = 1000 + i64::from(c % 16) * 100;
        let owner = m.members().iter().find(|(_, m)| m.role == Role::Owner);
        let by = match owner {
            Some((id, _)) if a & 0x20 == 0 => keys
                .iter()
                .find(|k| k.member_id() == *id)
                .unwrap_or(&keys[0]),
            _ => pick(a),
        };
        let target = pick(b);
        let role = [Role::Owner, Role::Editor, Role::Reader][usize::from(b / 8) % 3];
        // After the current heads, or, on a concurrent branch, after one older op.
        let deps = if c & 0x80 == 0 {
            m.heads()
        } else {
            vec![w.ops[usize::from(b) % w.ops.len()].hash()]
        };
        let body = match kind % 9 {
            0 | 1 => {
                let secret = [u8::try_from(i).unwrap_or(0); 32];
                let body = OpBody::Invite {
                    role,
                    expires_at: (c & 1 == 1).then_some(at + 300),
                    uses: (c & 2 == 2).then_some(1 + u32::from(c % 3)),
                    key: InviteKey::from_secret(&secret).public(),
                };
                let op = w.sign(by, at, deps, body);
                invites.push((op.hash(), secret));
                w.ops.push(op);
                continue;
            }
            2 if !invites.is_empty() => {
                let (invite, secret) = invites[usize::from(b) % invites.len()];
                let secret = if a & 0x40 == 0 { secret } else { [0xee; 32] };
                let j = w.join(pick(a), at, invite, &secret);
                let jh = j.hash();
                joins.push(jh);
                w.ops.push(j);
                if a & 0x10 == 0 {
                    // Admitted at once by whoever signs this step.
                    let admit = w.sign(
                        by,
                        at,
                        [deps, vec![jh]].concat(),
                        OpBody::Admit { join: jh },
                    );
                    w.ops.push(admit);
                }
                continue;
            }
            3 if !joins.is_empty() => OpBody::Admit {
                join: joins[usize::from(b) % joins.len()],
            },
            4 => remove(target),
            5 => set_role(target, role),
            6 if !invites.is_empty() => OpBody::Withdraw {
                invite: invites[usize::from(b) % invites.len()].0,
            },
            7 => {
                // A genesis of another space, delivered here: ignored.
                let (author, nonce) = (pick(a), [a; 16]);
                let space = space_id_for(&author.member_id(), &nonce);
                let create = OpBody::Create {
                    name: "Elsewhere".into(),
                    nonce,
                    member_name: String::new(),
                    member_org: String::new(),
                };
                let op = Op {
                    space,
                    author: author.member_id(),
                    at,
                    deps: vec![],
                    body: create,
                };
                w.ops.push(SignedOp::sign(author, op).unwrap());
                continue;
            }
            _ => {
                // Signed by `by` but claiming another author, or altered after signing.
                let op = Op {
                    space: w.space,
                    author: target.member_id(),
                    at,
                    deps,
                    body: remove(by),
                };
                let sig = split(by.sign(&signed_message(&op).unwrap()));
                if target.member_id() != by.member_id() {
                    let mut bytes = vec![1u8];
                    bytes.extend(postcard::to_allocvec(&(op, sig)).unwrap());
                    forged.push(bytes);
                }
                let mut altered = w.ops[usize::from(a) % w.ops.len()].to_bytes();
                let n = altered.len();
                altered[usize::from(b) % n] ^= c | 1;
                forged.push(altered);
                continue;
            }
        };
        // A body that needs what is not there yet (no invites, no joins) signs as an admit of
        // nothing: it must be rejected like any other.
        let signed = Op {
            space: w.space,
            author: by.member_id(),
            at,
            deps: deps.clone(),
            body,
        };
        match SignedOp::sign(by, signed) {
            Ok(op) => w.ops.push(op),
            Err(_) => continue,
        }
    }
    (w.space, w.ops, forged)
}

fn steps() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    proptest::collection::vec(any::<(u8, u8, u8, u8)>(), 1..28)
}

/// Every op of the space is decided once: applied, rejected, unadmitted or pending; applied ops
/// come after their deps; heads are applied.
fn assert_consistent(space: SpaceId, ops: &[SignedOp], m: &Membership) {
    let ours: BTreeSet<OpHash> = ops
        .iter()
        .filter(|op| op.op().space == space)
        .map(SignedOp::hash)
        .collect();
    let all: Vec<OpHash> = m
        .applied()
        .iter()
        .chain(m.rejected())
        .chain(m.unadmitted())
        .chain(m.pending())
        .copied()
        .collect();
    assert_eq!(all.len(), ours.len(), "each op decided once");
    assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), ours);
    for op in ops.iter().filter(|op| m.applied().contains(&op.hash())) {
        assert!(op.op().deps.iter().all(|d| ours.contains(d)));
    }
    assert!(m.heads().iter().all(|h| m.applied().contains(h)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_order_and_any_duplicates_fold_to_the_same_membership(
        steps in steps(),
        swaps in proptest::collection::vec(any::<(usize, usize)>(), 0..64),
        dups in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let (space, ops, forged) = history(&steps);
        for bytes in &forged {
            prop_assert!(SignedOp::from_bytes(bytes).is_err());
        }
        let expected = Membership::fold(space, &ops);
        assert_consistent(space, &ops, &expected);
        prop_assert_eq!(&Membership::fold(space, ops.iter().rev()), &expected);
        let mut shuffled = ops.clone();
        for (i, j) in swaps {
            let n = shuffled.len();
            shuffled.swap(i % n, j % n);
        }
        for d in dups {
            shuffled.push(ops[d % ops.len()].clone());
        }
        prop_assert_eq!(&Membership::fold(space, &shuffled), &expected);
        prop_assert!(expected.members().values().any(|m| m.role == Role::Owner));
    }

    #[test]
    fn folding_a_prefix_then_adding_the_rest_equals_folding_all(
        steps in steps(),
        split in any::<usize>(),
    ) {
        let (space, ops, _) = history(&steps);
        let (prefix, rest) = ops.split_at(split % (ops.len() + 1));
        let partial = Membership::fold(space, prefix);
        assert_consistent(space, prefix, &partial);
        let all = Membership::fold(space, prefix.iter().chain(rest.iter().rev()));
        prop_assert_eq!(all, Membership::fold(space, &ops));
    }
}

#[test]
fn generated_histories_admit_members_and_reject_ops() {
    // The property tests mean little if their histories are all rejections.
    let (mut joined, mut rejected, mut removed) = (0, 0, 0);
    let mut x: u32 = 12345;
    for _ in 0..32 {
        let steps: Vec<_> = (0..40)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let [a, b, c, d] = x.to_be_bytes();
                (a, b, c, d)
            })
            .collect();
        let (space, ops, _) = history(&steps);
        let m = Membership::fold(space, &ops);
        joined += m.members().len() + m.removed().len() - 1;
        rejected += m.rejected().len();
        removed += m.removed().len();
    }
    assert!(
        joined > 8 && rejected > 10 && removed > 0,
        "joined {joined}, rejected {rejected}, removed {removed}"
    );
}

/// The names a creator and a joiner sign (a hostile joiner signs what it likes) are folded on
/// one line, without control characters or direction overrides: the ops stay as signed, so
/// every member still folds the same membership, and only what is shown changes.
#[test]
fn names_in_ops_are_folded_on_one_line_without_controls() {
    let (owner, bob) = (key(1), key(2));
    let (space, create) = new_space(&owner, "Team\n\x1b[2J", "Ada\u{202E}", "Acme", 1000).unwrap();
    let mut w = World {
        space,
        ops: vec![create],
    };
    let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, None);
    let proof = InviteKey::from_secret(&secret).prove(w.space, invite, bob.member_id());
    let body = OpBody::Join {
        invite,
        proof,
        member_name: "Bob\nabc123  Forged row".into(),
        member_org: "Ev\x1b]0;x\x07il".into(),
    };
    let join = w.sign(&bob, 3000, vec![invite], body);
    let join_hash = join.hash();
    w.ops.push(join);
    w.push(&owner, 3001, OpBody::Admit { join: join_hash });
    let m = w.fold();
    assert_eq!(m.name(), Some("Team  [2J"));
    let ada = &m.members()[&owner.member_id()];
    assert_eq!(ada.name, "Ada");
    let bob_shown = &m.members()[&bob.member_id()];
    assert_eq!(bob_shown.name, "Bob abc123  Forged row");
    assert_eq!(bob_shown.org, "Ev ]0;x il");
}
