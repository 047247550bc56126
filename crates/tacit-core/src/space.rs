//! The membership of a space: a grow-only set of signed ops, folded deterministically into the
//! member list.
//!
//! ```text
//! create ─┬─ invite(editor) ── join(bob) ── set_role(bob, reader)
//!         └─ invite(reader) ── join(carol)                 (a concurrent branch)
//! ```
//!
//! Each op names the ops it was made after (`deps`, usually the current [`Membership::heads`]).
//! [`Membership::fold`] applies ops in causal order, ties broken by (time, hash), and skips every op
//! its author had no right to make at that point. The same *set* of ops gives the same membership
//! on every peer, whatever order the ops arrived in. An op can only be made by its author: every
//! op is signed, and the space id is derived from its creator's key, so nobody else can sign a
//! genesis for it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::id::{MemberId, ParseIdError, SpaceId};
use crate::key::DeviceKey;
use crate::limits::MAX_NAME_CHARS;

/// Largest encoded op, in bytes, refused before decoding. The largest valid op (a join with
/// [`MAX_DEPS`] deps and two names of [`MAX_NAME_CHARS`] four-byte characters) is about 3 KiB.
pub const MAX_OP_BYTES: usize = 4096;
/// Most deps one op lists: enough to merge many concurrent heads in one op, few enough to keep an
/// op under [`MAX_OP_BYTES`]. With more heads, list some; later ops merge the rest.
pub const MAX_DEPS: usize = 64;

const SIGN_DOMAIN: &[u8] = b"tacit-space-op-v1\0";
const SPACE_ID_DOMAIN: &[u8] = b"tacit-space-id-v1\0";
const SECRET_DOMAIN: &[u8] = b"tacit-invite-secret-v1\0";
const SET_DOMAIN: &[u8] = b"tacit-op-set-v1\0";

/// Why a membership op or an invitation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// The encoded op is larger than [`MAX_OP_BYTES`].
    #[error("a membership op of {len} bytes is larger than the limit of {max}; it was refused")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a well-formed op.
    #[error("malformed membership op: {0}")]
    Malformed(&'static str),
    /// The op was written by a newer Tacit.
    #[error("membership op format {version} is newer than this Tacit understands; upgrade Tacit")]
    Unsupported {
        /// The format version found.
        version: u8,
    },
    /// The signature does not verify against the op's author.
    #[error("membership op signature does not verify: it was altered or not signed by its author")]
    BadSignature,
    /// The op's author is not the signing key's member.
    #[error("the op's author {author} is not this device's member {key}")]
    WrongAuthor {
        /// The author named in the op.
        author: MemberId,
        /// The signing device's member id.
        key: MemberId,
    },
    /// The space name is empty.
    #[error("the space name is empty; give the space a name")]
    EmptyName,
    /// A name is longer than [`MAX_NAME_CHARS`].
    #[error("the {field} is too long: {len} characters, the limit is {max}")]
    TooLong {
        /// Which name.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More deps than [`MAX_DEPS`].
    #[error("the op lists {count} deps, the limit is {max}; list fewer heads")]
    TooManyDeps {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A role name that is not a role.
    #[error("unknown role {0:?}: expected owner, editor or reader")]
    UnknownRole(String),
    /// No invitation with this hash was made in the space.
    #[error("this space has no invitation {0}; ask for a new ticket")]
    UnknownInvite(OpHash),
    /// The invitation expired.
    #[error("the invitation expired on {}; ask for a new ticket", crate::text::utc(*.at))]
    InviteExpired {
        /// Its expiry.
        at: i64,
    },
    /// The invitation was used as often as it may be.
    #[error("the invitation was already used as often as it allows ({uses}); ask for a new ticket")]
    InviteUsedUp {
        /// How many joins it allowed.
        uses: u32,
    },
}

/// What a member may do in a space. The order of the variants is part of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages members, and writes documents.
    Owner,
    /// Writes documents.
    Editor,
    /// Reads documents only.
    Reader,
}

impl Role {
    /// Whether the role writes documents (owner or editor).
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }

    /// Whether the role invites, removes members and changes roles (owner).
    pub fn can_manage(self) -> bool {
        self == Role::Owner
    }

    /// The role's name: `owner`, `editor` or `reader`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Reader => "reader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = SpaceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "editor" => Ok(Role::Editor),
            "reader" => Ok(Role::Reader),
            _ => Err(SpaceError::UnknownRole(s.to_owned())),
        }
    }
}

/// An op's identity: the SHA-256 of its full signed encoding. Hex in text, raw bytes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, TS)]
#[ts(type = "string")]
pub struct OpHash(pub [u8; 32]);

impl OpHash {
    /// The first 8 hex characters, for people to read.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for OpHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for OpHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpHash({})", self.short())
    }
}

impl FromStr for OpHash {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseIdError {
            what: "op",
            given: s.to_owned(),
            len: 64,
        })?;
        Ok(Self(bytes))
    }
}

impl Serialize for OpHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for OpHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(d).map(Self)
        }
    }
}

/// Ids as raw bytes in binary encodings (postcard), as hex in text ones (JSON).
pub(crate) mod raw {
    macro_rules! raw {
        ($name:ident, $ty:ty, $len:literal) => {
            pub mod $name {
                use serde::{Deserialize, Deserializer, Serialize, Serializer};

                pub fn serialize<S: Serializer>(id: &$ty, s: S) -> Result<S::Ok, S::Error> {
                    if s.is_human_readable() {
                        id.serialize(s)
                    } else {
                        id.as_bytes().serialize(s)
                    }
                }

                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                    if d.is_human_readable() {
                        <$ty>::deserialize(d)
                    } else {
                        <[u8; $len]>::deserialize(d).map(<$ty>::from_bytes)
                    }
                }
            }
        };
    }
    raw!(member, crate::id::MemberId, 32);
    raw!(space, crate::id::SpaceId, 16);
}

/// What an op does. The order of the variants is part of the wire format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpBody {
    /// The genesis: names the space; its author becomes its first owner.
    Create {
        /// The space's name.
        name: String,
        /// Random bytes from which, with the author, the space id is derived ([`space_id_for`]).
        nonce: [u8; 16],
        /// The creator's display name.
        member_name: String,
        /// The creator's organisation.
        member_org: String,
    },
    /// An owner's invitation: whoever shows the secret may join with `role`.
    Invite {
        /// The role a joiner gets.
        role: Role,
        /// Latest join time allowed, in ms since the epoch; `None`: no expiry.
        expires_at: Option<i64>,
        /// How many joins it allows; `None`: any number.
        uses: Option<u32>,
        /// [`secret_hash`] of the secret carried by the ticket.
        secret_hash: [u8; 32],
    },
    /// The author joins through an invitation, revealing its secret.
    Join {
        /// The invitation's op.
        invite: OpHash,
        /// The invitation's secret.
        secret: [u8; 32],
        /// The joiner's display name.
        member_name: String,
        /// The joiner's organisation.
        member_org: String,
    },
    /// An owner removes a member, or a member leaves (self-signed).
    Remove {
        /// Who is removed.
        #[serde(with = "raw::member")]
        member: MemberId,
    },
    /// An owner changes a member's role.
    SetRole {
        /// Whose role.
        #[serde(with = "raw::member")]
        member: MemberId,
        /// The new role.
        role: Role,
    },
}

/// A membership op before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The space it belongs to.
    #[serde(with = "raw::space")]
    pub space: SpaceId,
    /// Who made it; it must be signed by this member's key.
    #[serde(with = "raw::member")]
    pub author: MemberId,
    /// When, by the author's clock, in ms since the epoch.
    pub at: i64,
    /// The ops it was made after: empty for a create, at least one for every other op.
    pub deps: Vec<OpHash>,
    /// What it does.
    pub body: OpBody,
}

/// The encoding: a version tag, the op, its signature (as two halves: serde has no 64-byte
/// arrays, and postcard writes both forms as the same 64 raw bytes).
#[derive(Serialize, Deserialize)]
enum Wire {
    V1 { op: Op, sig: [[u8; 32]; 2] },
}

/// An op with its author's signature, as exchanged and stored. Only made by [`SignedOp::sign`] or
/// [`SignedOp::from_bytes`], so every `SignedOp` is well formed and correctly signed.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedOp {
    op: Op,
    bytes: Vec<u8>,
    hash: OpHash,
}

impl SignedOp {
    /// Signs `op` with `key`. The deps are sorted and deduplicated, and a join's invitation is
    /// added to its deps (a join is only decided after its invitation).
    pub fn sign(key: &DeviceKey, mut op: Op) -> Result<Self, SpaceError> {
        if op.author != key.member_id() {
            return Err(SpaceError::WrongAuthor {
                author: op.author,
                key: key.member_id(),
            });
        }
        if let OpBody::Join { invite, .. } = &op.body {
            op.deps.push(*invite);
        }
        op.deps.sort_unstable();
        op.deps.dedup();
        check(&op)?;
        let sig = key.sign(&signed_message(&op)?);
        Self::encode(op, split(sig))
    }

    /// Decodes and verifies an op from the network or disk: size, structure, limits, canonical
    /// encoding and signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpaceError> {
        if bytes.len() > MAX_OP_BYTES {
            return Err(SpaceError::TooLarge {
                len: bytes.len(),
                max: MAX_OP_BYTES,
            });
        }
        match bytes.first() {
            None => return Err(SpaceError::Malformed("no bytes")),
            Some(0) => {}
            Some(&version) => return Err(SpaceError::Unsupported { version }),
        }
        let Wire::V1 { op, sig } =
            postcard::from_bytes(bytes).map_err(|_| SpaceError::Malformed("undecodable"))?;
        check(&op)?;
        let signed = Self::encode(op, sig)?;
        if signed.bytes != bytes {
            return Err(SpaceError::Malformed("not in canonical form"));
        }
        let author = VerifyingKey::from_bytes(signed.op.author.as_bytes())
            .map_err(|_| SpaceError::BadSignature)?;
        let [a, b] = sig;
        let mut joined = [0u8; 64];
        joined[..32].copy_from_slice(&a);
        joined[32..].copy_from_slice(&b);
        author
            .verify_strict(
                &signed_message(&signed.op)?,
                &Signature::from_bytes(&joined),
            )
            .map_err(|_| SpaceError::BadSignature)?;
        Ok(signed)
    }

    fn encode(op: Op, sig: [[u8; 32]; 2]) -> Result<Self, SpaceError> {
        let wire = Wire::V1 { op, sig };
        let bytes =
            postcard::to_allocvec(&wire).map_err(|_| SpaceError::Malformed("unencodable"))?;
        if bytes.len() > MAX_OP_BYTES {
            return Err(SpaceError::TooLarge {
                len: bytes.len(),
                max: MAX_OP_BYTES,
            });
        }
        let hash = OpHash(Sha256::digest(&bytes).into());
        let Wire::V1 { op, .. } = wire;
        Ok(Self { op, bytes, hash })
    }

    /// The op.
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// The encoded, signed op.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded, signed op, owned.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The op's identity: SHA-256 of [`SignedOp::as_bytes`].
    pub fn hash(&self) -> OpHash {
        self.hash
    }
}

impl fmt::Debug for SignedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedOp({:?}, {:?})", self.hash, self.op)
    }
}

fn split(sig: [u8; 64]) -> [[u8; 32]; 2] {
    let mut halves = [[0u8; 32]; 2];
    halves[0].copy_from_slice(&sig[..32]);
    halves[1].copy_from_slice(&sig[32..]);
    halves
}

fn signed_message(op: &Op) -> Result<Vec<u8>, SpaceError> {
    postcard::to_extend(op, SIGN_DOMAIN.to_vec()).map_err(|_| SpaceError::Malformed("unencodable"))
}

/// What can be checked of an op alone: name lengths, deps.
fn check(op: &Op) -> Result<(), SpaceError> {
    if op.deps.len() > MAX_DEPS {
        return Err(SpaceError::TooManyDeps {
            count: op.deps.len(),
            max: MAX_DEPS,
        });
    }
    if !op.deps.windows(2).all(|w| w[0] < w[1]) {
        return Err(SpaceError::Malformed("deps are not sorted and distinct"));
    }
    let is_create = matches!(op.body, OpBody::Create { .. });
    if is_create != op.deps.is_empty() {
        return Err(SpaceError::Malformed(
            "a create op has no deps, every other op has at least one",
        ));
    }
    match &op.body {
        OpBody::Create {
            name,
            member_name,
            member_org,
            ..
        } => {
            if name.trim().is_empty() {
                return Err(SpaceError::EmptyName);
            }
            check_name("space name", name)?;
            check_name("member name", member_name)?;
            check_name("organisation", member_org)
        }
        OpBody::Join {
            invite,
            member_name,
            member_org,
            ..
        } => {
            if op.deps.binary_search(invite).is_err() {
                return Err(SpaceError::Malformed(
                    "a join does not list its invitation as a dep",
                ));
            }
            check_name("member name", member_name)?;
            check_name("organisation", member_org)
        }
        OpBody::Invite { .. } | OpBody::Remove { .. } | OpBody::SetRole { .. } => Ok(()),
    }
}

fn check_name(field: &'static str, name: &str) -> Result<(), SpaceError> {
    let len = name.chars().count();
    if len > MAX_NAME_CHARS {
        return Err(SpaceError::TooLong {
            field,
            len,
            max: MAX_NAME_CHARS,
        });
    }
    Ok(())
}

/// The id of the space created by `author` with `nonce`: the first 16 bytes of
/// SHA-256(`"tacit-space-id-v1\0"` ‖ author ‖ nonce).
pub fn space_id_for(author: &MemberId, nonce: &[u8; 16]) -> SpaceId {
    let digest = Sha256::new()
        .chain_update(SPACE_ID_DOMAIN)
        .chain_update(author.as_bytes())
        .chain_update(nonce)
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    SpaceId::from_bytes(id)
}

/// A new space: its id and its signed create op, with `key`'s member as the owner. Names are
/// trimmed.
pub fn new_space(
    key: &DeviceKey,
    name: &str,
    member_name: &str,
    member_org: &str,
    at: i64,
) -> Result<(SpaceId, SignedOp), SpaceError> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("the operating system's random generator failed");
    let space = space_id_for(&key.member_id(), &nonce);
    let op = Op {
        space,
        author: key.member_id(),
        at,
        deps: Vec::new(),
        body: OpBody::Create {
            name: name.trim().to_owned(),
            nonce,
            member_name: member_name.trim().to_owned(),
            member_org: member_org.trim().to_owned(),
        },
    };
    Ok((space, SignedOp::sign(key, op)?))
}

/// A fresh invitation secret from the operating system's generator.
pub fn new_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system's random generator failed");
    secret
}

/// The hash an invite op records for its secret.
pub fn secret_hash(secret: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(SECRET_DOMAIN)
        .chain_update(secret)
        .finalize()
        .into()
}

/// A digest of a set of ops: SHA-256 over the sorted, distinct hashes. Two peers with equal
/// digests hold the same set and need not exchange it.
pub fn set_digest<'a>(hashes: impl IntoIterator<Item = &'a OpHash>) -> [u8; 32] {
    let sorted: BTreeSet<&OpHash> = hashes.into_iter().collect();
    let mut h = Sha256::new().chain_update(SET_DOMAIN);
    for hash in sorted {
        h.update(hash.0);
    }
    h.finalize().into()
}

/// A current member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their role.
    pub role: Role,
    /// Display name, as given when joining.
    pub name: String,
    /// Organisation, as given when joining.
    pub org: String,
    /// When they joined (their join op's time), in ms since the epoch.
    pub joined_at: i64,
    /// The owner whose invitation they used; `None` for the creator.
    pub invited_by: Option<MemberId>,
    /// `None` while they can write; after losing write rights (demotion, removal), the time of
    /// the op that took them.
    pub write_until: Option<i64>,
}

/// A member who was removed or left. Removal is final: that member id never joins again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The member as they were when removed (with `write_until` set if they could write).
    pub member: Member,
    /// When, in ms since the epoch.
    pub at: i64,
    /// Who removed them (themselves when they left).
    pub by: MemberId,
}

/// An applied invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The role a joiner gets.
    pub role: Role,
    /// Latest join time allowed, in ms since the epoch.
    pub expires_at: Option<i64>,
    /// How many joins it allows.
    pub uses: Option<u32>,
    /// [`secret_hash`] of its secret.
    pub secret_hash: [u8; 32],
    /// The owner who made it.
    pub by: MemberId,
    /// When it was made.
    pub at: i64,
    /// How many joins used it.
    pub used: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Genesis {
    name: String,
    at: i64,
    creator: MemberId,
}

/// The membership of one space, folded from a set of signed ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    space: SpaceId,
    genesis: Option<Genesis>,
    members: BTreeMap<MemberId, Member>,
    removed: BTreeMap<MemberId, Removed>,
    invites: BTreeMap<OpHash, Invite>,
    applied: BTreeSet<OpHash>,
    rejected: BTreeSet<OpHash>,
    pending: BTreeSet<OpHash>,
    missing: BTreeSet<OpHash>,
    heads: BTreeSet<OpHash>,
}

impl Membership {
    /// Folds `ops` into the membership of `space`. Ops of other spaces are ignored, duplicates
    /// count once, and the result depends only on the set of ops, not on their order.
    ///
    /// Ops are applied in causal order (Kahn's algorithm); among the ops whose deps have all been
    /// decided, the smallest (time, hash) goes first. An op whose deps are not all in the set is
    /// pending. Adding ops can change earlier decisions (a concurrent join that sorts first takes
    /// an invitation's last use), so a membership is always folded from the whole set.
    pub fn fold<'a>(space: SpaceId, ops: impl IntoIterator<Item = &'a SignedOp>) -> Self {
        let ops: BTreeMap<OpHash, &Op> = ops
            .into_iter()
            .filter(|s| s.op.space == space)
            .map(|s| (s.hash, &s.op))
            .collect();
        let mut waiting: BTreeMap<OpHash, usize> = BTreeMap::new();
        let mut dependents: BTreeMap<OpHash, Vec<OpHash>> = BTreeMap::new();
        let mut ready = BinaryHeap::new();
        for (&hash, op) in &ops {
            // Deps are distinct: `check` refuses any op whose deps are not.
            for dep in &op.deps {
                dependents.entry(*dep).or_default().push(hash);
            }
            if op.deps.is_empty() {
                ready.push(Reverse((op.at, hash)));
            } else {
                waiting.insert(hash, op.deps.len());
            }
        }
        let mut m = Self {
            space,
            genesis: None,
            members: BTreeMap::new(),
            removed: BTreeMap::new(),
            invites: BTreeMap::new(),
            applied: BTreeSet::new(),
            rejected: BTreeSet::new(),
            pending: BTreeSet::new(),
            missing: BTreeSet::new(),
            heads: BTreeSet::new(),
        };
        while let Some(Reverse((_, hash))) = ready.pop() {
            let Some(op) = ops.get(&hash) else { continue };
            if m.apply(hash, op) {
                for dep in &op.deps {
                    m.heads.remove(dep);
                }
                m.heads.insert(hash);
                m.applied.insert(hash);
            } else {
                m.rejected.insert(hash);
            }
            for next in dependents.get(&hash).into_iter().flatten() {
                if let Some(n) = waiting.get_mut(next) {
                    *n -= 1;
                    if *n == 0 {
                        waiting.remove(next);
                        if let Some(op) = ops.get(next) {
                            ready.push(Reverse((op.at, *next)));
                        }
                    }
                }
            }
        }
        m.pending = waiting.into_keys().collect();
        m.missing = dependents
            .into_keys()
            .filter(|dep| !ops.contains_key(dep))
            .collect();
        m
    }

    /// Applies one op whose deps are decided; false if its author had no right to it. Before the
    /// create op there are no members, so nothing but a create can apply.
    fn apply(&mut self, hash: OpHash, op: &Op) -> bool {
        let author_manages = self.role(&op.author).is_some_and(Role::can_manage);
        match &op.body {
            OpBody::Create {
                name,
                nonce,
                member_name,
                member_org,
            } => {
                if self.genesis.is_some() || space_id_for(&op.author, nonce) != self.space {
                    return false;
                }
                self.genesis = Some(Genesis {
                    name: name.clone(),
                    at: op.at,
                    creator: op.author,
                });
                self.members.insert(
                    op.author,
                    Member {
                        role: Role::Owner,
                        name: member_name.clone(),
                        org: member_org.clone(),
                        joined_at: op.at,
                        invited_by: None,
                        write_until: None,
                    },
                );
            }
            OpBody::Invite {
                role,
                expires_at,
                uses,
                secret_hash,
            } => {
                if !author_manages {
                    return false;
                }
                self.invites.insert(
                    hash,
                    Invite {
                        role: *role,
                        expires_at: *expires_at,
                        uses: *uses,
                        secret_hash: *secret_hash,
                        by: op.author,
                        at: op.at,
                        used: 0,
                    },
                );
            }
            OpBody::Join {
                invite,
                secret,
                member_name,
                member_org,
            } => {
                if self.members.contains_key(&op.author) || self.removed.contains_key(&op.author) {
                    return false;
                }
                let Some(inv) = self.invites.get_mut(invite) else {
                    return false;
                };
                if secret_hash(secret) != inv.secret_hash
                    || inv.expires_at.is_some_and(|t| op.at > t)
                    || inv.uses.is_some_and(|n| inv.used >= n)
                {
                    return false;
                }
                inv.used = inv.used.saturating_add(1);
                let member = Member {
                    role: inv.role,
                    name: member_name.clone(),
                    org: member_org.clone(),
                    joined_at: op.at,
                    invited_by: Some(inv.by),
                    write_until: None,
                };
                self.members.insert(op.author, member);
            }
            OpBody::Remove { member } => {
                if !(author_manages || op.author == *member) || self.is_last_owner(member) {
                    return false;
                }
                let Some(mut gone) = self.members.remove(member) else {
                    return false;
                };
                if gone.role.can_write() {
                    gone.write_until = Some(op.at);
                }
                let removed = Removed {
                    member: gone,
                    at: op.at,
                    by: op.author,
                };
                self.removed.insert(*member, removed);
            }
            OpBody::SetRole { member, role } => {
                if !author_manages || (*role != Role::Owner && self.is_last_owner(member)) {
                    return false;
                }
                let Some(target) = self.members.get_mut(member) else {
                    return false;
                };
                if role.can_write() {
                    target.write_until = None;
                } else if target.role.can_write() {
                    target.write_until = Some(op.at);
                }
                target.role = *role;
            }
        }
        true
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

    /// Whether a document change by `member` made at `change_time` is authorised: they can write
    /// now, or they could and the change is from no later than when they lost the right.
    pub fn may_write(&self, member: &MemberId, change_time: i64) -> bool {
        let within = |m: &Member| m.write_until.is_some_and(|t| change_time <= t);
        match self.members.get(member) {
            Some(m) => m.role.can_write() || within(m),
            None => self.removed.get(member).is_some_and(|r| within(&r.member)),
        }
    }

    /// The applied invitations, with how often each was used.
    pub fn invites(&self) -> &BTreeMap<OpHash, Invite> {
        &self.invites
    }

    /// The invitation `invite`, if someone could join with it at `now`.
    pub fn invite_usable(&self, invite: &OpHash, now: i64) -> Result<&Invite, SpaceError> {
        let inv = self
            .invites
            .get(invite)
            .ok_or(SpaceError::UnknownInvite(*invite))?;
        if let Some(at) = inv.expires_at.filter(|&at| now > at) {
            return Err(SpaceError::InviteExpired { at });
        }
        if let Some(uses) = inv.uses.filter(|&n| inv.used >= n) {
            return Err(SpaceError::InviteUsedUp { uses });
        }
        Ok(inv)
    }

    /// The applied ops.
    pub fn applied(&self) -> &BTreeSet<OpHash> {
        &self.applied
    }

    /// The ops refused by the rules (kept for diagnostics).
    pub fn rejected(&self) -> &BTreeSet<OpHash> {
        &self.rejected
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u8) -> DeviceKey {
        DeviceKey::from_secret([n; 32])
    }

    fn join_body(invite: OpHash, secret: [u8; 32]) -> OpBody {
        OpBody::Join {
            invite,
            secret,
            member_name: "Bob".into(),
            member_org: "Acme".into(),
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
            let author = key.member_id();
            let op = Op {
                space: self.space,
                author,
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

        fn invite(
            &mut self,
            by: &DeviceKey,
            at: i64,
            role: Role,
            expires_at: Option<i64>,
            uses: Option<u32>,
        ) -> (OpHash, [u8; 32]) {
            let secret = new_secret();
            let secret_hash = secret_hash(&secret);
            let body = OpBody::Invite {
                role,
                expires_at,
                uses,
                secret_hash,
            };
            (self.push(by, at, body), secret)
        }

        /// `who` joins as a member with `role`, invited by `by`.
        fn add(&mut self, by: &DeviceKey, who: &DeviceKey, at: i64, role: Role) -> OpHash {
            let (invite, secret) = self.invite(by, at, role, None, None);
            self.push(who, at, join_body(invite, secret))
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
        let join = w.sign(&key(2), 3000, vec![], join_body(invite, secret));
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
    fn non_canonical_oversized_and_newer_encodings_are_refused() {
        let w = World::new(&key(1));
        let mut bytes = w.ops[0].to_bytes();
        bytes.push(0);
        assert_eq!(
            SignedOp::from_bytes(&bytes),
            Err(SpaceError::Malformed("not in canonical form"))
        );
        let big = vec![0; MAX_OP_BYTES + 1];
        assert!(matches!(
            SignedOp::from_bytes(&big),
            Err(SpaceError::TooLarge { .. })
        ));
        assert_eq!(
            SignedOp::from_bytes(&[1, 2, 3]),
            Err(SpaceError::Unsupported { version: 1 })
        );
        assert!(SignedOp::from_bytes(&[]).is_err());

        // Correctly signed, but its deps are out of order: one op, one encoding.
        let owner = key(1);
        let (a, b) = (OpHash([1; 32]), OpHash([2; 32]));
        let body = OpBody::Remove {
            member: key(2).member_id(),
        };
        let op = Op {
            space: w.space,
            author: owner.member_id(),
            at: 5,
            deps: vec![b, a],
            body,
        };
        let sig = split(owner.sign(&signed_message(&op).unwrap()));
        let bytes = postcard::to_allocvec(&Wire::V1 { op, sig }).unwrap();
        assert_eq!(
            SignedOp::from_bytes(&bytes),
            Err(SpaceError::Malformed("deps are not sorted and distinct"))
        );
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
        let remove = OpBody::Remove {
            member: other.member_id(),
        };
        let err = SignedOp::sign(&owner, op(&other, vec![dep], remove.clone())).unwrap_err();
        assert!(matches!(err, SpaceError::WrongAuthor { .. }), "{err}");
        let err = SignedOp::sign(&owner, op(&owner, vec![], remove.clone())).unwrap_err();
        assert!(matches!(err, SpaceError::Malformed(_)), "{err}");
        let many = (0..=MAX_DEPS).map(|i| OpHash([i as u8; 32])).collect();
        let err = SignedOp::sign(&owner, op(&owner, many, remove)).unwrap_err();
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
        assert!(m.may_write(&owner.member_id(), 0));
        assert_eq!(m.heads(), vec![w.ops[0].hash()]);
        assert!(m.rejected().is_empty() && m.pending().is_empty());
    }

    #[test]
    fn a_join_with_the_secret_makes_a_member_with_the_invitation_role() {
        let (owner, bob) = (key(1), key(2));
        let mut w = World::new(&owner);
        let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, Some(2));
        let join = w.push(&bob, 3000, join_body(invite, secret));
        let m = w.fold();
        let member = &m.members()[&bob.member_id()];
        assert_eq!(member.role, Role::Editor);
        assert_eq!((member.name.as_str(), member.org.as_str()), ("Bob", "Acme"));
        assert_eq!(member.joined_at, 3000);
        assert_eq!(member.invited_by, Some(owner.member_id()));
        assert_eq!(m.invites()[&invite].used, 1);
        assert!(m.invite_usable(&invite, 3000).is_ok());
        assert!(m.may_write(&bob.member_id(), 3000));
        assert_eq!(m.heads(), vec![join]);
        assert_eq!(m.applied().len(), 3);
    }

    #[test]
    fn a_join_with_the_wrong_secret_is_rejected() {
        let (owner, bob) = (key(1), key(2));
        let mut w = World::new(&owner);
        let (invite, _) = w.invite(&owner, 2000, Role::Editor, None, None);
        let join = w.push(&bob, 3000, join_body(invite, [7; 32]));
        let m = w.fold();
        assert!(!m.is_member(&bob.member_id()));
        assert!(m.rejected().contains(&join));
        assert_eq!(m.invites()[&invite].used, 0);
    }

    #[test]
    fn a_join_after_the_invitation_expired_is_rejected() {
        let (owner, bob, carol) = (key(1), key(2), key(3));
        let mut w = World::new(&owner);
        let (invite, secret) = w.invite(&owner, 2000, Role::Reader, Some(5000), None);
        w.push(&bob, 5001, join_body(invite, secret));
        w.push(&carol, 5000, join_body(invite, secret));
        let m = w.fold();
        assert!(!m.is_member(&bob.member_id()));
        assert!(m.is_member(&carol.member_id()));
        assert_eq!(
            m.invite_usable(&invite, 5001),
            Err(SpaceError::InviteExpired { at: 5000 })
        );
    }

    #[test]
    fn a_single_use_invitation_admits_one_of_two_concurrent_joiners_whatever_the_order() {
        let (owner, bob, carol) = (key(1), key(2), key(3));
        let mut w = World::new(&owner);
        let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, Some(1));
        let heads = w.fold().heads();
        let b = w.sign(&bob, 3000, heads.clone(), join_body(invite, secret));
        let c = w.sign(&carol, 3000, heads, join_body(invite, secret));
        let (winner, won) = if b.hash() < c.hash() {
            (bob.member_id(), b.hash())
        } else {
            (carol.member_id(), c.hash())
        };
        let ops = [&w.ops[0], &w.ops[1], &b, &c];
        let forward = Membership::fold(w.space, ops);
        let backward = Membership::fold(w.space, ops.into_iter().rev());
        assert_eq!(forward, backward);
        assert_eq!(forward.members().len(), 2);
        assert!(forward.is_member(&winner));
        assert_eq!(
            forward.invite_usable(&invite, 3000),
            Err(SpaceError::InviteUsedUp { uses: 1 })
        );
        assert_eq!(forward.heads(), vec![won], "the losing join is not a head");
    }

    #[test]
    fn an_invitation_signed_by_an_editor_is_rejected() {
        let (owner, bob, carol) = (key(1), key(2), key(3));
        let mut w = World::new(&owner);
        w.add(&owner, &bob, 2000, Role::Editor);
        let (invite, secret) = w.invite(&bob, 3000, Role::Editor, None, None);
        w.push(&carol, 4000, join_body(invite, secret));
        let m = w.fold();
        assert!(!m.is_member(&carol.member_id()));
        assert_eq!(m.rejected().len(), 2);
        assert_eq!(
            m.invite_usable(&invite, 4000),
            Err(SpaceError::UnknownInvite(invite))
        );
    }

    #[test]
    fn a_join_through_an_invitation_of_another_space_never_applies() {
        let (owner, bob) = (key(1), key(2));
        let mut w = World::new(&owner);
        let mut other = World::new(&owner);
        let (invite, secret) = other.invite(&owner, 2000, Role::Editor, None, None);
        let join = w.push(&bob, 3000, join_body(invite, secret));
        let m = Membership::fold(w.space, w.ops.iter().chain(&other.ops));
        assert!(!m.is_member(&bob.member_id()));
        // Its invitation is not in this space, so the join waits for it, forever.
        assert!(m.pending().contains(&join));
        assert!(m.missing().contains(&invite));
        assert_eq!(m.applied().len(), 1);
    }

    #[test]
    fn a_create_for_a_space_id_not_derived_from_its_author_is_rejected() {
        let (owner, mallory) = (key(1), key(9));
        let w = World::new(&owner);
        let OpBody::Create { nonce, .. } = w.ops[0].op().body else {
            unreachable!()
        };
        let mut forged = Vec::new();
        for nonce in [nonce, [0; 16]] {
            let body = OpBody::Create {
                name: "Mine now".into(),
                nonce,
                member_name: "Mallory".into(),
                member_org: String::new(),
            };
            forged.push(w.sign(&mallory, 0, vec![], body));
        }
        let alone = Membership::fold(w.space, &forged);
        assert_eq!(alone.creator(), None);
        assert!(alone.members().is_empty());
        assert_eq!(alone.rejected().len(), 2);
        let m = Membership::fold(w.space, forged.iter().chain(&w.ops));
        assert_eq!(m.creator(), Some(owner.member_id()));
        assert_eq!(m.name(), Some("Platform team"));
        assert!(!m.is_member(&mallory.member_id()));
    }

    #[test]
    fn a_member_who_is_not_an_owner_cannot_remove_another() {
        let (owner, bob, carol) = (key(1), key(2), key(3));
        let mut w = World::new(&owner);
        w.add(&owner, &bob, 2000, Role::Editor);
        w.add(&owner, &carol, 2000, Role::Reader);
        let remove = w.push(
            &bob,
            3000,
            OpBody::Remove {
                member: carol.member_id(),
            },
        );
        let m = w.fold();
        assert!(m.is_member(&carol.member_id()));
        assert!(m.rejected().contains(&remove));
    }

    #[test]
    fn a_member_can_leave() {
        let (owner, carol) = (key(1), key(3));
        let mut w = World::new(&owner);
        w.add(&owner, &carol, 2000, Role::Reader);
        w.push(
            &carol,
            3000,
            OpBody::Remove {
                member: carol.member_id(),
            },
        );
        let m = w.fold();
        assert!(!m.is_member(&carol.member_id()));
        let gone = &m.removed()[&carol.member_id()];
        assert_eq!((gone.at, gone.by), (3000, carol.member_id()));
    }

    #[test]
    fn the_last_owner_can_neither_leave_nor_be_demoted() {
        let (owner, bob) = (key(1), key(2));
        let mut w = World::new(&owner);
        let me = owner.member_id();
        w.push(&owner, 2000, OpBody::Remove { member: me });
        w.push(
            &owner,
            2000,
            OpBody::SetRole {
                member: me,
                role: Role::Editor,
            },
        );
        let m = w.fold();
        assert_eq!(m.role(&me), Some(Role::Owner));
        assert_eq!(m.rejected().len(), 2);

        w.add(&owner, &bob, 3000, Role::Owner);
        w.push(&owner, 4000, OpBody::Remove { member: me });
        let m = w.fold();
        assert!(!m.is_member(&me));
        assert_eq!(m.role(&bob.member_id()), Some(Role::Owner));
    }

    #[test]
    fn a_removed_member_is_ignored_from_then_on() {
        let (owner, bob, carol) = (key(1), key(2), key(3));
        let mut w = World::new(&owner);
        w.add(&owner, &bob, 2000, Role::Owner);
        w.add(&owner, &carol, 2000, Role::Editor);
        w.push(
            &owner,
            3000,
            OpBody::Remove {
                member: bob.member_id(),
            },
        );
        let before = w.fold().rejected().len();
        let (invite, secret) = w.invite(&bob, 4000, Role::Owner, None, None);
        w.push(&key(4), 4000, join_body(invite, secret));
        w.push(
            &bob,
            4000,
            OpBody::Remove {
                member: owner.member_id(),
            },
        );
        let role = OpBody::SetRole {
            member: carol.member_id(),
            role: Role::Reader,
        };
        w.push(&bob, 4000, role);
        let m = w.fold();
        assert_eq!(m.rejected().len(), before + 4);
        assert_eq!(m.members().len(), 2);
        assert_eq!(m.role(&carol.member_id()), Some(Role::Editor));
    }

    #[test]
    fn a_removed_member_cannot_rejoin() {
        let (owner, bob) = (key(1), key(2));
        let mut w = World::new(&owner);
        w.add(&owner, &bob, 2000, Role::Editor);
        w.push(
            &owner,
            3000,
            OpBody::Remove {
                member: bob.member_id(),
            },
        );
        let rejoin = w.add(&owner, &bob, 4000, Role::Editor);
        let m = w.fold();
        assert!(!m.is_member(&bob.member_id()));
        assert!(m.rejected().contains(&rejoin));
    }

    #[test]
    fn losing_write_rights_limits_may_write_to_changes_until_then() {
        let (owner, bob, carol) = (key(1), key(2), key(3));
        let (b, c) = (bob.member_id(), carol.member_id());
        let mut w = World::new(&owner);
        w.add(&owner, &bob, 2000, Role::Editor);
        w.add(&owner, &carol, 2000, Role::Editor);
        w.push(
            &owner,
            5000,
            OpBody::SetRole {
                member: b,
                role: Role::Reader,
            },
        );
        w.push(&owner, 7000, OpBody::Remove { member: c });
        let m = w.fold();
        assert_eq!(m.members()[&b].write_until, Some(5000));
        assert!(m.may_write(&b, 4999) && m.may_write(&b, 5000) && !m.may_write(&b, 5001));
        assert!(m.may_write(&c, 7000) && !m.may_write(&c, 7001));

        // Removing a reader keeps the time they stopped writing; promoting restores the right.
        w.push(&owner, 8000, OpBody::Remove { member: b });
        let m = w.fold();
        assert_eq!(m.removed()[&b].member.write_until, Some(5000));
        assert!(!m.may_write(&b, 6000));
        let dave = key(4);
        w.add(&owner, &dave, 9000, Role::Reader);
        let role = OpBody::SetRole {
            member: dave.member_id(),
            role: Role::Editor,
        };
        w.push(&owner, 9500, role);
        assert!(w.fold().may_write(&dave.member_id(), 20_000));
    }

    #[test]
    fn a_reader_may_never_write() {
        let (owner, carol) = (key(1), key(3));
        let mut w = World::new(&owner);
        w.add(&owner, &carol, 2000, Role::Reader);
        let m = w.fold();
        for t in [i64::MIN, 0, 2000, i64::MAX] {
            assert!(!m.may_write(&carol.member_id(), t));
            assert!(!m.may_write(&key(9).member_id(), t));
        }
    }

    #[test]
    fn an_op_waiting_for_its_dep_applies_when_the_dep_arrives() {
        let (owner, bob) = (key(1), key(2));
        let mut w = World::new(&owner);
        let (invite, secret) = w.invite(&owner, 2000, Role::Editor, None, None);
        let join = w.push(&bob, 3000, join_body(invite, secret));
        let without: Vec<_> = w.ops.iter().filter(|op| op.hash() != invite).collect();
        let m = Membership::fold(w.space, without);
        assert!(!m.is_member(&bob.member_id()));
        assert_eq!(m.pending().iter().collect::<Vec<_>>(), vec![&join]);
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
        assert!(
            Role::Editor.can_write() && !Role::Editor.can_manage() && !Role::Reader.can_write()
        );
    }

    const KEYS: u8 = 5;

    /// A history of valid and invalid ops among [`KEYS`] members, with concurrent branches, from
    /// `steps` (kind, a, b, c). Also returns forged encodings, which must never decode.
    fn history(steps: &[(u8, u8, u8, u8)]) -> (SpaceId, Vec<SignedOp>, Vec<Vec<u8>>) {
        let keys: Vec<DeviceKey> = (1..=KEYS).map(key).collect();
        let pick = |n: u8| &keys[usize::from(n) % keys.len()];
        let mut w = World::new(&keys[0]);
        let mut invites: Vec<(OpHash, [u8; 32])> = Vec::new();
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
            let target = pick(b).member_id();
            let role = [Role::Owner, Role::Editor, Role::Reader][usize::from(b / 8) % 3];
            // After the current heads, or, on a concurrent branch, after one older op.
            let deps = if c & 0x80 == 0 {
                m.heads()
            } else {
                let ours: Vec<_> = w.ops.iter().filter(|op| op.op().space == w.space).collect();
                vec![ours[usize::from(b) % ours.len()].hash()]
            };
            let body = match kind % 8 {
                0 | 1 => {
                    let secret = [u8::try_from(i).unwrap_or(0); 32];
                    let body = OpBody::Invite {
                        role,
                        expires_at: (c & 1 == 1).then_some(at + 300),
                        uses: (c & 2 == 2).then_some(1 + u32::from(c % 3)),
                        secret_hash: secret_hash(&secret),
                    };
                    let op = w.sign(by, at, deps, body);
                    invites.push((op.hash(), secret));
                    w.ops.push(op);
                    continue;
                }
                2 | 3 if !invites.is_empty() => {
                    let (invite, secret) = invites[usize::from(b) % invites.len()];
                    let secret = if a & 0x40 == 0 { secret } else { [0xee; 32] };
                    let joiner = pick(a);
                    w.ops
                        .push(w.sign(joiner, at, deps, join_body(invite, secret)));
                    continue;
                }
                4 => OpBody::Remove { member: target },
                5 => OpBody::SetRole {
                    member: target,
                    role,
                },
                6 => {
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
                    let body = OpBody::Remove {
                        member: by.member_id(),
                    };
                    let author = target;
                    let op = Op {
                        space: w.space,
                        author,
                        at,
                        deps,
                        body,
                    };
                    let sig = split(by.sign(&signed_message(&op).unwrap()));
                    if author != by.member_id() {
                        forged.push(postcard::to_allocvec(&Wire::V1 { op, sig }).unwrap());
                    }
                    let mut altered = w.ops[usize::from(a) % w.ops.len()].to_bytes();
                    let n = altered.len();
                    altered[usize::from(b) % n] ^= c | 1;
                    forged.push(altered);
                    continue;
                }
            };
            w.ops.push(w.sign(by, at, deps, body));
        }
        (w.space, w.ops, forged)
    }

    fn steps() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
        proptest::collection::vec(any::<(u8, u8, u8, u8)>(), 1..24)
    }

    /// Every op of the space is applied, rejected or pending, once; applied ops come after their
    /// deps; heads are applied.
    fn assert_consistent(space: SpaceId, ops: &[SignedOp], m: &Membership) {
        let ours: BTreeSet<OpHash> = ops
            .iter()
            .filter(|op| op.op().space == space)
            .map(SignedOp::hash)
            .collect();
        let decided = m.applied().len() + m.rejected().len() + m.pending().len();
        assert_eq!(decided, ours.len());
        let all: BTreeSet<OpHash> = m
            .applied()
            .iter()
            .chain(m.rejected())
            .chain(m.pending())
            .copied()
            .collect();
        assert_eq!(all, ours);
        for op in ops.iter().filter(|op| m.applied().contains(&op.hash())) {
            assert!(
                op.op()
                    .deps
                    .iter()
                    .all(|d| m.applied().contains(d) || m.rejected().contains(d))
            );
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
        let (mut joined, mut rejected, mut pending) = (0, 0, 0);
        let mut x: u32 = 12345;
        for _ in 0..16 {
            let steps: Vec<_> = (0..20)
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
            pending += m.pending().len();
        }
        assert!(
            joined > 10 && rejected > 10,
            "joined {joined}, rejected {rejected}"
        );
        assert_eq!(pending, 0);
    }
}
