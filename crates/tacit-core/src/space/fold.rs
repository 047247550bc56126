//! Folding a set of ops into a membership: causal order, admission, strong removal, seniority.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use super::ops::{CutEntry, InviteKey, Op, OpBody, SignedOp, space_id_for};
use super::{OpHash, Role, SpaceError};
use crate::id::{MemberId, SpaceId};
use crate::text::one_line;

/// A current member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their role.
    pub role: Role,
    /// Display name, as given when joining.
    pub name: String,
    /// Organisation, as given when joining.
    pub org: String,
    /// When they were admitted (the admission's time; the create's for the creator), in ms.
    pub joined_at: i64,
    /// The owner whose invitation they used; `None` for the creator.
    pub invited_by: Option<MemberId>,
    /// The member who admitted them; `None` for the creator.
    pub admitted_by: Option<MemberId>,
    /// The invitation they joined through; `None` for the creator.
    pub invite: Option<OpHash>,
    /// Order of admission (the creator is 0): who goes first when two members' ops race.
    pub seniority: u64,
}

/// A member who was removed or left. Removal is final: that member id never joins again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The member as they were when removed.
    pub member: Member,
    /// When, by the remover's clock, in ms since the epoch.
    pub at: i64,
    /// Who removed them (themselves when they left).
    pub by: MemberId,
    /// The removal op.
    pub op: OpHash,
}

/// An invitation made in the space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The role a joiner gets.
    pub role: Role,
    /// Latest admission time allowed, in ms since the epoch.
    pub expires_at: Option<i64>,
    /// How many admissions it allows.
    pub uses: Option<u32>,
    /// The invitation's public key.
    pub key: [u8; 32],
    /// The owner who made it.
    pub by: MemberId,
    /// When it was made.
    pub at: i64,
    /// How many members were admitted through it.
    pub used: u32,
    /// Whether an owner withdrew it.
    pub withdrawn: bool,
}

/// The op that took a member's write right (a removal or a demotion) and its cut: the member's
/// last change per document as the author of that op held them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCut {
    /// The removal or demotion.
    pub op: OpHash,
    /// Document → first 8 bytes of the member's last change there.
    pub cut: BTreeMap<[u8; 16], [u8; 8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Genesis {
    name: String,
    at: i64,
    creator: MemberId,
}

/// A join whose proof checked out, waiting for (or given) its admission.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Join {
    joiner: MemberId,
    invite: OpHash,
    name: String,
    org: String,
}

/// The membership of one space, folded from a set of signed ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    space: SpaceId,
    genesis: Option<Genesis>,
    members: BTreeMap<MemberId, Member>,
    removed: BTreeMap<MemberId, Removed>,
    invites: BTreeMap<OpHash, Invite>,
    joins: BTreeMap<OpHash, Join>,
    /// Invitation → the admissions applied through it.
    admitted_through: BTreeMap<OpHash, Vec<OpHash>>,
    write_cuts: BTreeMap<MemberId, WriteCut>,
    /// Every op of the space in the set, with its deps and author.
    graph: BTreeMap<OpHash, (MemberId, Vec<OpHash>)>,
    applied: BTreeSet<OpHash>,
    rejected: BTreeSet<OpHash>,
    unadmitted: BTreeSet<OpHash>,
    pending: BTreeSet<OpHash>,
    missing: BTreeSet<OpHash>,
    heads: BTreeSet<OpHash>,
    next_seniority: u64,
}

/// The history of ops (everything reachable through deps), computed once per op and fold, as
/// one bit per op of the set.
struct Histories {
    index: HashMap<OpHash, usize>,
    of: HashMap<OpHash, Vec<u64>>,
}

impl Histories {
    fn new(ops: &BTreeMap<OpHash, &Op>) -> Self {
        Self {
            index: ops.keys().enumerate().map(|(i, h)| (*h, i)).collect(),
            of: HashMap::new(),
        }
    }

    /// Whether `op` is in the history of `of` (`of` itself is not).
    fn contains(&mut self, of: OpHash, op: &OpHash, ops: &BTreeMap<OpHash, &Op>) -> bool {
        let Some(&i) = self.index.get(op) else {
            return false;
        };
        let index = &self.index;
        let bits = self.of.entry(of).or_insert_with(|| {
            let mut bits = vec![0u64; index.len().div_ceil(64)];
            let mut todo: Vec<OpHash> = ops.get(&of).map(|o| o.deps.clone()).unwrap_or_default();
            while let Some(h) = todo.pop() {
                let (Some(&j), Some(o)) = (index.get(&h), ops.get(&h)) else {
                    continue;
                };
                if bits[j / 64] & (1 << (j % 64)) == 0 {
                    bits[j / 64] |= 1 << (j % 64);
                    todo.extend(o.deps.iter().copied());
                }
            }
            bits
        });
        bits[i / 64] & (1 << (i % 64)) != 0
    }
}

impl Membership {
    fn empty(space: SpaceId) -> Self {
        Self {
            space,
            genesis: None,
            members: BTreeMap::new(),
            removed: BTreeMap::new(),
            invites: BTreeMap::new(),
            joins: BTreeMap::new(),
            admitted_through: BTreeMap::new(),
            write_cuts: BTreeMap::new(),
            graph: BTreeMap::new(),
            applied: BTreeSet::new(),
            rejected: BTreeSet::new(),
            unadmitted: BTreeSet::new(),
            pending: BTreeSet::new(),
            missing: BTreeSet::new(),
            heads: BTreeSet::new(),
            next_seniority: 0,
        }
    }

    /// Folds `ops` into the membership of `space`. Ops of other spaces are ignored, duplicates
    /// count once, and the result depends only on the set of ops, not on their order.
    ///
    /// Ops are applied in causal order (Kahn's algorithm); among the ops whose deps have all been
    /// decided, those of the most senior author go first, then the smallest hash. An op whose
    /// deps are not all in the set is pending. When a removal (or an owner's demotion) applies,
    /// every op of the member it takes rights from that is not in its history is void, and the
    /// fold starts again without them; each round voids at least one more op, so it ends.
    ///
    /// An op made concurrently with a more senior member's removal or demotion of its author
    /// waits until that removal is decided, however early the deps it names: a removed member
    /// cannot remove the remover (or anyone) by naming old deps. Only a cycle of such waits,
    /// which only made-up histories form, is broken, by letting the most senior author's op go.
    pub fn fold<'a>(space: SpaceId, ops: impl IntoIterator<Item = &'a SignedOp>) -> Self {
        let ops: BTreeMap<OpHash, &Op> = ops
            .into_iter()
            .filter(|s| s.op().space == space)
            .map(|s| (s.hash(), s.op()))
            .collect();
        let mut void = BTreeSet::new();
        let mut histories = Histories::new(&ops);
        loop {
            let (m, newly_void) = Self::fold_once(space, &ops, &void, &mut histories);
            if newly_void.is_empty() {
                return m;
            }
            void.extend(newly_void);
        }
    }

    fn fold_once(
        space: SpaceId,
        ops: &BTreeMap<OpHash, &Op>,
        void: &BTreeSet<OpHash>,
        histories: &mut Histories,
    ) -> (Self, BTreeSet<OpHash>) {
        let mut m = Self::empty(space);
        let mut waiting: BTreeMap<OpHash, usize> = BTreeMap::new();
        let mut dependents: BTreeMap<OpHash, Vec<OpHash>> = BTreeMap::new();
        let mut ready = BinaryHeap::new();
        for (&hash, op) in ops {
            m.graph.insert(hash, (op.author, op.deps.clone()));
            // Deps are distinct: `check` refuses any op whose deps are not.
            for dep in &op.deps {
                dependents.entry(*dep).or_default().push(hash);
            }
            if op.deps.is_empty() {
                ready.push(Reverse((u64::MAX, hash)));
            } else {
                waiting.insert(hash, op.deps.len());
            }
        }
        let mut newly_void = BTreeSet::new();
        // The ops that take a member's rights, by that member; what waits for them; what is done.
        let mut takers: HashMap<MemberId, Vec<OpHash>> = HashMap::new();
        for (&hash, op) in ops {
            if let Some(target) = op.body.takes_rights_of(&op.author)
                && !void.contains(&hash)
            {
                takers.entry(target).or_default().push(hash);
            }
        }
        let mut done: HashSet<OpHash> = HashSet::new();
        let mut waiting_for_takers: BTreeMap<MemberId, Vec<OpHash>> = BTreeMap::new();
        let mut forced: HashSet<OpHash> = HashSet::new();
        loop {
            let Some(Reverse((_, hash))) = ready.pop() else {
                // Only ops waiting for a removal are left, in a cycle: the most senior goes.
                let Some((rank, hash)) = waiting_for_takers
                    .values()
                    .flatten()
                    .map(|h| (m.rank_of(ops, h), *h))
                    .min()
                else {
                    break;
                };
                for held in waiting_for_takers.values_mut() {
                    held.retain(|h| *h != hash);
                }
                waiting_for_takers.retain(|_, held| !held.is_empty());
                forced.insert(hash);
                ready.push(Reverse((rank, hash)));
                continue;
            };
            let Some(op) = ops.get(&hash) else { continue };
            if !forced.contains(&hash)
                && !void.contains(&hash)
                && m.waits_for_taker(hash, op, &takers, &done, ops, histories)
            {
                waiting_for_takers.entry(op.author).or_default().push(hash);
                continue;
            }
            done.insert(hash);
            let outcome = if void.contains(&hash) {
                Outcome::Rejected
            } else {
                m.apply(hash, op, ops, histories, &mut newly_void)
            };
            match outcome {
                Outcome::Applied => {
                    for dep in &op.deps {
                        m.heads.remove(dep);
                    }
                    m.heads.insert(hash);
                    m.applied.insert(hash);
                }
                Outcome::Recorded => {}
                Outcome::Rejected => {
                    m.rejected.insert(hash);
                }
            }
            // A taker decided: the ops of its member that waited for it are looked at again.
            if let Some(target) = op.body.takes_rights_of(&op.author)
                && let Some(held) = waiting_for_takers.remove(&target)
            {
                for h in held {
                    ready.push(Reverse((m.rank_of(ops, &h), h)));
                }
            }
            for next in dependents.get(&hash).into_iter().flatten() {
                if let Some(n) = waiting.get_mut(next) {
                    *n -= 1;
                    if *n == 0 {
                        waiting.remove(next);
                        ready.push(Reverse((m.rank_of(ops, next), *next)));
                    }
                }
            }
        }
        m.unadmitted = m
            .joins
            .keys()
            .filter(|j| !m.applied.contains(*j))
            .copied()
            .collect();
        m.pending = waiting.into_keys().collect();
        m.missing = dependents
            .into_keys()
            .filter(|dep| !ops.contains_key(dep))
            .collect();
        (m, newly_void)
    }

    /// Where an op goes among those ready: its author's seniority (non-members last).
    fn rank_of(&self, ops: &BTreeMap<OpHash, &Op>, op: &OpHash) -> u64 {
        ops.get(op)
            .and_then(|o| self.members.get(&o.author))
            .map_or(u64::MAX, |m| m.seniority)
    }

    /// Whether `op` must wait: a more senior member's removal or demotion of its author is in
    /// the set, not decided yet, and not made after `op` (which cannot be in its history either,
    /// since everything before `op` is decided).
    fn waits_for_taker(
        &self,
        hash: OpHash,
        op: &Op,
        takers: &HashMap<MemberId, Vec<OpHash>>,
        done: &HashSet<OpHash>,
        ops: &BTreeMap<OpHash, &Op>,
        histories: &mut Histories,
    ) -> bool {
        let Some(author) = self.members.get(&op.author) else {
            return false;
        };
        if matches!(op.body, OpBody::Remove { member, .. } if member == op.author) {
            return false;
        }
        takers.get(&op.author).into_iter().flatten().any(|taker| {
            !done.contains(taker)
                && ops
                    .get(taker)
                    .and_then(|t| self.members.get(&t.author))
                    .is_some_and(|by| by.seniority < author.seniority)
                && !histories.contains(*taker, &hash, ops)
        })
    }

    /// Applies one op whose deps are decided. Before the create op there are no members, so
    /// nothing but a create can apply.
    fn apply(
        &mut self,
        hash: OpHash,
        op: &Op,
        ops: &BTreeMap<OpHash, &Op>,
        histories: &mut Histories,
        newly_void: &mut BTreeSet<OpHash>,
    ) -> Outcome {
        let author_manages = self.role(&op.author).is_some_and(Role::can_manage);
        match &op.body {
            OpBody::Create {
                name,
                nonce,
                member_name,
                member_org,
            } => {
                if self.genesis.is_some() || space_id_for(&op.author, nonce) != self.space {
                    return Outcome::Rejected;
                }
                self.genesis = Some(Genesis {
                    name: one_line(name.clone()),
                    at: op.at,
                    creator: op.author,
                });
                let seniority = self.next_seniority();
                self.members.insert(
                    op.author,
                    Member {
                        role: Role::Owner,
                        name: one_line(member_name.clone()),
                        org: one_line(member_org.clone()),
                        joined_at: op.at,
                        invited_by: None,
                        admitted_by: None,
                        invite: None,
                        seniority,
                    },
                );
            }
            OpBody::Invite {
                role,
                expires_at,
                uses,
                key,
            } => {
                if !author_manages {
                    return Outcome::Rejected;
                }
                self.invites.insert(
                    hash,
                    Invite {
                        role: *role,
                        expires_at: *expires_at,
                        uses: *uses,
                        key: *key,
                        by: op.author,
                        at: op.at,
                        used: 0,
                        withdrawn: false,
                    },
                );
            }
            OpBody::Join {
                invite,
                proof,
                member_name,
                member_org,
            } => {
                let Some(inv) = self.invites.get(invite) else {
                    return Outcome::Rejected;
                };
                if !InviteKey::verify(&inv.key, self.space, *invite, op.author, *proof) {
                    return Outcome::Rejected;
                }
                self.joins.insert(
                    hash,
                    Join {
                        joiner: op.author,
                        invite: *invite,
                        name: one_line(member_name.clone()),
                        org: one_line(member_org.clone()),
                    },
                );
                // Recorded, not applied: a join makes nobody a member until it is admitted.
                return Outcome::Recorded;
            }
            OpBody::Admit { join } => {
                if !self.members.contains_key(&op.author) {
                    return Outcome::Rejected;
                }
                let Some(j) = self.joins.get(join).cloned() else {
                    return Outcome::Rejected;
                };
                if self.members.contains_key(&j.joiner) || self.removed.contains_key(&j.joiner) {
                    return Outcome::Rejected;
                }
                let Some(inv) = self.invites.get_mut(&j.invite) else {
                    return Outcome::Rejected;
                };
                if inv.withdrawn
                    || inv.expires_at.is_some_and(|t| op.at > t)
                    || inv.uses.is_some_and(|n| inv.used >= n)
                {
                    return Outcome::Rejected;
                }
                inv.used = inv.used.saturating_add(1);
                let (role, invited_by) = (inv.role, inv.by);
                self.admitted_through
                    .entry(j.invite)
                    .or_default()
                    .push(hash);
                let seniority = self.next_seniority();
                self.members.insert(
                    j.joiner,
                    Member {
                        role,
                        name: j.name,
                        org: j.org,
                        joined_at: op.at,
                        invited_by: Some(invited_by),
                        admitted_by: Some(op.author),
                        invite: Some(j.invite),
                        seniority,
                    },
                );
                self.applied.insert(*join);
            }
            OpBody::Withdraw { invite } => {
                if !author_manages {
                    return Outcome::Rejected;
                }
                let Some(inv) = self.invites.get_mut(invite) else {
                    return Outcome::Rejected;
                };
                inv.withdrawn = true;
            }
            OpBody::Remove { member, cut } => {
                if !(author_manages || op.author == *member) || self.is_last_owner(member) {
                    return Outcome::Rejected;
                }
                let Some(gone) = self.members.remove(member) else {
                    return Outcome::Rejected;
                };
                if gone.role.can_write() {
                    self.write_cuts.insert(*member, write_cut(hash, cut));
                }
                if op.author != *member {
                    // The secrets they hold open no door: the invitations they made, and the
                    // one they joined through.
                    let theirs = self.invites_of(member).chain(gone.invite).collect();
                    self.withdraw_all(hash, theirs, ops, histories, newly_void);
                }
                self.removed.insert(
                    *member,
                    Removed {
                        member: gone,
                        at: op.at,
                        by: op.author,
                        op: hash,
                    },
                );
                self.void_concurrent(hash, *member, false, ops, histories, newly_void);
            }
            OpBody::SetRole { member, role, cut } => {
                if !author_manages || (*role != Role::Owner && self.is_last_owner(member)) {
                    return Outcome::Rejected;
                }
                let Some(target) = self.members.get_mut(member) else {
                    return Outcome::Rejected;
                };
                let was = target.role;
                target.role = *role;
                let joined_through = target.invite;
                if role.can_write() {
                    self.write_cuts.remove(member);
                } else if was.can_write() {
                    self.write_cuts.insert(*member, write_cut(hash, cut));
                }
                // A demoted member's secrets open no door wider than their new role: the
                // invitations they made as an owner, and the one they joined through when it
                // gives more than they now have.
                let mut theirs: BTreeSet<OpHash> = BTreeSet::new();
                if was.can_manage() && !role.can_manage() {
                    theirs.extend(self.invites_of(member));
                }
                if let Some(inv) = joined_through
                    && self
                        .invites
                        .get(&inv)
                        .is_some_and(|i| power(i.role) > power(*role))
                {
                    theirs.insert(inv);
                }
                self.withdraw_all(hash, theirs, ops, histories, newly_void);
                if was.can_manage() && !role.can_manage() {
                    self.void_concurrent(hash, *member, true, ops, histories, newly_void);
                }
            }
        }
        Outcome::Applied
    }

    /// Strong removal: the ops of `member` already applied that are not in the history of
    /// `by` (the removal or demotion) were made concurrently with it or backdated: void them.
    /// A demotion voids only the ops that needed ownership.
    fn void_concurrent(
        &mut self,
        by: OpHash,
        member: MemberId,
        only_owner_ops: bool,
        ops: &BTreeMap<OpHash, &Op>,
        histories: &mut Histories,
        newly_void: &mut BTreeSet<OpHash>,
    ) {
        let theirs: Vec<OpHash> = self
            .applied
            .iter()
            .filter(|h| {
                ops.get(*h).is_some_and(|o| {
                    o.author == member && (!only_owner_ops || o.body.needs_owner(&member))
                })
            })
            .copied()
            .collect();
        if theirs.is_empty() {
            return;
        }
        newly_void.extend(
            theirs
                .into_iter()
                .filter(|h| !histories.contains(by, h, ops)),
        );
    }

    /// The invitations `member` made.
    fn invites_of<'s>(&'s self, member: &'s MemberId) -> impl Iterator<Item = OpHash> + 's {
        self.invites
            .iter()
            .filter(move |(_, inv)| inv.by == *member)
            .map(|(h, _)| *h)
    }

    /// Withdraws `invites` as part of `by` (a removal or demotion), and voids the admissions
    /// through them not in its history: someone admitted concurrently with it is not admitted.
    fn withdraw_all(
        &mut self,
        by: OpHash,
        invites: BTreeSet<OpHash>,
        ops: &BTreeMap<OpHash, &Op>,
        histories: &mut Histories,
        newly_void: &mut BTreeSet<OpHash>,
    ) {
        if invites.is_empty() {
            return;
        }
        for inv in &invites {
            if let Some(i) = self.invites.get_mut(inv) {
                i.withdrawn = true;
            }
        }
        let through: Vec<OpHash> = invites
            .iter()
            .filter_map(|inv| self.admitted_through.get(inv))
            .flatten()
            .copied()
            .collect();
        newly_void.extend(
            through
                .into_iter()
                .filter(|h| !histories.contains(by, h, ops)),
        );
    }

    fn next_seniority(&mut self) -> u64 {
        let s = self.next_seniority;
        self.next_seniority += 1;
        s
    }

    fn is_last_owner(&self, member: &MemberId) -> bool {
        self.role(member) == Some(Role::Owner)
            && self
                .members
                .values()
                .filter(|m| m.role == Role::Owner)
                .count()
                == 1
    }

    /// The space.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// The space's name, once its create op is applied.
    pub fn name(&self) -> Option<&str> {
        self.genesis.as_ref().map(|g| g.name.as_str())
    }

    /// When the space was created, in ms since the epoch.
    pub fn created_at(&self) -> Option<i64> {
        self.genesis.as_ref().map(|g| g.at)
    }

    /// Who created the space.
    pub fn creator(&self) -> Option<MemberId> {
        self.genesis.as_ref().map(|g| g.creator)
    }

    /// The current members.
    pub fn members(&self) -> &BTreeMap<MemberId, Member> {
        &self.members
    }

    /// The current member whose profile document `profile` is, if any (a profile's id is the
    /// first 16 bytes of its member's id: found as a range of the member map, not by a walk).
    pub fn member_with_profile(&self, profile: crate::DocId) -> Option<MemberId> {
        let (mut low, mut high) = ([0u8; 32], [0xffu8; 32]);
        low[..16].copy_from_slice(profile.as_bytes());
        high[..16].copy_from_slice(profile.as_bytes());
        self.members
            .range(MemberId::from_bytes(low)..=MemberId::from_bytes(high))
            .map(|(m, _)| *m)
            .find(|m| crate::Doc::profile_id(*m) == profile)
    }

    /// The members who were removed or left.
    pub fn removed(&self) -> &BTreeMap<MemberId, Removed> {
        &self.removed
    }

    /// A current member's role.
    pub fn role(&self, member: &MemberId) -> Option<Role> {
        self.members.get(member).map(|m| m.role)
    }

    /// Whether `member` is a current member.
    pub fn is_member(&self, member: &MemberId) -> bool {
        self.members.contains_key(member)
    }

    /// Whether `member` writes documents now (a current owner or editor).
    pub fn can_write(&self, member: &MemberId) -> bool {
        self.role(member).is_some_and(Role::can_write)
    }

    /// For a member who wrote and no longer may (removed or demoted): the op that took the right,
    /// with its cut.
    pub fn write_cut(&self, member: &MemberId) -> Option<&WriteCut> {
        if self.can_write(member) {
            return None;
        }
        self.write_cuts.get(member)
    }

    /// The invitations made in the space, with how often each was used.
    pub fn invites(&self) -> &BTreeMap<OpHash, Invite> {
        &self.invites
    }

    /// The invitation `invite`, if someone could be admitted with it at `now`.
    pub fn invite_usable(&self, invite: &OpHash, now: i64) -> Result<&Invite, SpaceError> {
        let inv = self
            .invites
            .get(invite)
            .ok_or(SpaceError::UnknownInvite(*invite))?;
        if inv.withdrawn {
            return Err(SpaceError::InviteWithdrawn);
        }
        if let Some(at) = inv.expires_at.filter(|&at| now > at) {
            return Err(SpaceError::InviteExpired { at });
        }
        if let Some(uses) = inv.uses.filter(|&n| inv.used >= n) {
            return Err(SpaceError::InviteUsedUp { uses });
        }
        Ok(inv)
    }

    /// The joiner of a recorded join op, if its proof checked out.
    pub fn joiner(&self, join: &OpHash) -> Option<MemberId> {
        self.joins.get(join).map(|j| j.joiner)
    }

    /// The applied ops: those that count. An admitted join counts with its admission.
    pub fn applied(&self) -> &BTreeSet<OpHash> {
        &self.applied
    }

    /// The ops refused by the rules or voided by a removal (kept for diagnostics).
    pub fn rejected(&self) -> &BTreeSet<OpHash> {
        &self.rejected
    }

    /// Joins with a valid proof that no counting admission admits.
    pub fn unadmitted(&self) -> &BTreeSet<OpHash> {
        &self.unadmitted
    }

    /// The ops waiting for deps that are not in the set yet.
    pub fn pending(&self) -> &BTreeSet<OpHash> {
        &self.pending
    }

    /// The deps named by some op but not in the set: what to ask peers for.
    pub fn missing(&self) -> &BTreeSet<OpHash> {
        &self.missing
    }

    /// The applied ops that no applied op lists as a dep, sorted: the deps of the next op.
    pub fn heads(&self) -> Vec<OpHash> {
        self.heads.iter().copied().collect()
    }

    /// Whether the op is in the set (applied, refused or waiting).
    pub fn knows(&self, op: &OpHash) -> bool {
        self.graph.contains_key(op)
    }

    /// Whether `target` is one of `heads` or in their history. Unknown heads have no history.
    pub fn in_history(&self, target: &OpHash, heads: &[OpHash]) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<OpHash> = heads.to_vec();
        while let Some(h) = todo.pop() {
            if h == *target {
                return true;
            }
            if seen.insert(h)
                && let Some((_, deps)) = self.graph.get(&h)
            {
                todo.extend(deps.iter().copied());
            }
        }
        false
    }

    /// How many ops of the set `member` signed.
    pub fn authored(&self, member: &MemberId) -> usize {
        self.graph.values().filter(|(a, _)| a == member).count()
    }

    /// How many ops the set holds.
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    /// Whether the set holds no op.
    pub fn is_empty(&self) -> bool {
        self.graph.is_empty()
    }
}

/// What applying one op did.
enum Outcome {
    Applied,
    /// A join: valid, waiting for its admission.
    Recorded,
    Rejected,
}

/// How much a role may do: an owner more than an editor, an editor more than a reader.
fn power(role: Role) -> u8 {
    match role {
        Role::Owner => 2,
        Role::Editor => 1,
        Role::Reader => 0,
    }
}

fn write_cut(op: OpHash, cut: &[CutEntry]) -> WriteCut {
    WriteCut {
        op,
        cut: cut.iter().map(|e| (e.doc, e.head)).collect(),
    }
}
