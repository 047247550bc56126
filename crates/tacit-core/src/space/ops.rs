//! Membership ops: what each says, how it is signed and encoded, and what can be checked of one
//! op alone.

use std::collections::BTreeSet;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    MAX_CUT_ENTRIES, MAX_CUT_OP_BYTES, MAX_DEPS, MAX_OP_BYTES, OpHash, Role, SpaceError, raw,
};
use crate::id::{DocId, MemberId, SpaceId};
use crate::key::DeviceKey;
use crate::limits::MAX_NAME_CHARS;

const SIGN_DOMAIN: &[u8] = b"tacit-space-op-v2\0";
const SPACE_ID_DOMAIN: &[u8] = b"tacit-space-id-v1\0";
const INVITE_KEY_DOMAIN: &[u8] = b"tacit-invite-key-v1\0";
const PROOF_DOMAIN: &[u8] = b"tacit-join-proof-v1\0";
const SET_DOMAIN: &[u8] = b"tacit-op-set-v1\0";

/// The first byte of an encoding this build writes; `0` marks the older format.
const FORMAT: u8 = 1;

/// One document of a cut: the document and the first 8 bytes of the hash of the last change the
/// removed (or demoted) member had made to it, as the remover held it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CutEntry {
    /// The document.
    pub doc: [u8; 16],
    /// The first 8 bytes of the member's last change to it.
    pub head: [u8; 8],
}

impl CutEntry {
    /// The entry for a document and a full change hash.
    pub fn new(doc: DocId, change: &[u8; 32]) -> Self {
        let mut head = [0u8; 8];
        head.copy_from_slice(&change[..8]);
        Self {
            doc: *doc.as_bytes(),
            head,
        }
    }

    /// The document.
    pub fn doc_id(&self) -> DocId {
        DocId::from_bytes(self.doc)
    }
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
    /// An owner's invitation: whoever proves it holds the secret may ask to join with `role`.
    Invite {
        /// The role a joiner gets.
        role: Role,
        /// Latest admission time allowed, in ms since the epoch; `None`: no expiry.
        expires_at: Option<i64>,
        /// How many admissions it allows; `None`: any number.
        uses: Option<u32>,
        /// The public key derived from the ticket's secret ([`InviteKey`]).
        key: [u8; 32],
    },
    /// The author asks to join through an invitation, proving it holds its secret.
    Join {
        /// The invitation's op.
        invite: OpHash,
        /// The invitation key's signature over (space, invitation, joiner): [`InviteKey::prove`].
        proof: [[u8; 32]; 2],
        /// The joiner's display name.
        member_name: String,
        /// The joiner's organisation.
        member_org: String,
    },
    /// A member admits a join, having checked the invitation's expiry by its own clock and its
    /// uses in its own view. The join must be one of the deps.
    Admit {
        /// The join op.
        join: OpHash,
    },
    /// An owner withdraws an invitation: nobody is admitted through it any more.
    Withdraw {
        /// The invite op.
        invite: OpHash,
    },
    /// An owner removes a member, or a member leaves (self-signed).
    Remove {
        /// Who is removed.
        #[serde(with = "raw::member")]
        member: MemberId,
        /// The removed member's last change per document, as the remover held them.
        cut: Vec<CutEntry>,
    },
    /// An owner changes a member's role.
    SetRole {
        /// Whose role.
        #[serde(with = "raw::member")]
        member: MemberId,
        /// The new role.
        role: Role,
        /// When the member loses write rights: their last change per document, as the owner
        /// held them; empty otherwise.
        cut: Vec<CutEntry>,
    },
}

impl OpBody {
    /// A short name for logs and listings.
    pub fn name(&self) -> &'static str {
        match self {
            OpBody::Create { .. } => "create",
            OpBody::Invite { .. } => "invite",
            OpBody::Join { .. } => "join",
            OpBody::Admit { .. } => "admit",
            OpBody::Withdraw { .. } => "withdraw",
            OpBody::Remove { .. } => "remove",
            OpBody::SetRole { .. } => "set-role",
        }
    }

    /// Whether only an owner may sign it (a member leaving removes itself).
    /// The member whose rights the op takes, when it is another's: a removal, or a role change
    /// to one that cannot manage.
    pub fn takes_rights_of(&self, author: &MemberId) -> Option<MemberId> {
        match self {
            OpBody::Remove { member, .. } if member != author => Some(*member),
            OpBody::SetRole { member, role, .. } if member != author && !role.can_manage() => {
                Some(*member)
            }
            _ => None,
        }
    }

    pub(crate) fn needs_owner(&self, author: &MemberId) -> bool {
        match self {
            OpBody::Invite { .. } | OpBody::Withdraw { .. } | OpBody::SetRole { .. } => true,
            OpBody::Remove { member, .. } => member != author,
            OpBody::Create { .. } | OpBody::Join { .. } | OpBody::Admit { .. } => false,
        }
    }
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
    /// When, by the author's clock, in ms since the epoch. Shown to people; no rule trusts it
    /// but an admission's expiry check (made by a member against its own clock).
    pub at: i64,
    /// The ops it was made after: empty for a create, at least one for every other op.
    pub deps: Vec<OpHash>,
    /// What it does.
    pub body: OpBody,
}

/// The encoding: a format tag, the op, its signature (as two halves: serde has no 64-byte arrays,
/// and postcard writes both forms as the same 64 raw bytes). The first variant stands for the
/// older format, which is recognised by its tag and never decoded.
#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // built once per encode or decode, never held
enum Wire {
    Legacy,
    V2 { op: Op, sig: [[u8; 32]; 2] },
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
    /// Signs `op` with `key`. The deps are sorted and deduplicated; a join's invitation and an
    /// admission's join are added to the deps (each is decided only after what it names).
    pub fn sign(key: &DeviceKey, mut op: Op) -> Result<Self, SpaceError> {
        if op.author != key.member_id() {
            return Err(SpaceError::WrongAuthor {
                author: op.author,
                key: key.member_id(),
            });
        }
        match &op.body {
            OpBody::Join { invite, .. } => op.deps.push(*invite),
            OpBody::Admit { join } => op.deps.push(*join),
            _ => {}
        }
        op.deps.sort_unstable();
        op.deps.dedup();
        if let OpBody::Remove { cut, .. } | OpBody::SetRole { cut, .. } = &mut op.body {
            cut.sort_unstable();
            cut.dedup_by_key(|e| e.doc);
        }
        check(&op)?;
        let sig = key.sign(&signed_message(&op)?);
        Self::encode(op, split(sig))
    }

    /// What an op's bytes claim, decoded without checking anything (its signature least of
    /// all): for refusing, before paying for a signature check, ops that could not count
    /// whoever signed them. Never trust what it returns.
    pub fn peek(bytes: &[u8]) -> Option<Op> {
        if bytes.len() > MAX_CUT_OP_BYTES || bytes.first() != Some(&FORMAT) {
            return None;
        }
        match postcard::from_bytes(bytes) {
            Ok(Wire::V2 { op, .. }) => Some(op),
            _ => None,
        }
    }

    /// Decodes and verifies an op from the network or disk: size, structure, limits, canonical
    /// encoding and signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpaceError> {
        if bytes.len() > MAX_CUT_OP_BYTES {
            return Err(SpaceError::TooLarge {
                len: bytes.len(),
                max: MAX_CUT_OP_BYTES,
            });
        }
        match bytes.first() {
            None => return Err(SpaceError::Malformed("no bytes")),
            Some(0) => return Err(SpaceError::Legacy { version: 1 }),
            Some(&FORMAT) => {}
            Some(&version) => return Err(SpaceError::Unsupported { version }),
        }
        let Ok(Wire::V2 { op, sig }) = postcard::from_bytes(bytes) else {
            return Err(SpaceError::Malformed("undecodable"));
        };
        check(&op)?;
        let signed = Self::encode(op, sig)?;
        if signed.bytes != bytes {
            return Err(SpaceError::Malformed("not in canonical form"));
        }
        let author = VerifyingKey::from_bytes(signed.op.author.as_bytes())
            .map_err(|_| SpaceError::BadSignature)?;
        author
            .verify_strict(&signed_message(&signed.op)?, &join_sig(sig))
            .map_err(|_| SpaceError::BadSignature)?;
        Ok(signed)
    }

    fn encode(op: Op, sig: [[u8; 32]; 2]) -> Result<Self, SpaceError> {
        let wire = Wire::V2 { op, sig };
        let bytes =
            postcard::to_allocvec(&wire).map_err(|_| SpaceError::Malformed("unencodable"))?;
        let Wire::V2 { op, .. } = wire else {
            return Err(SpaceError::Malformed("unencodable"));
        };
        let max = max_bytes(&op.body);
        if bytes.len() > max {
            return Err(SpaceError::TooLarge {
                len: bytes.len(),
                max,
            });
        }
        let hash = OpHash(Sha256::digest(&bytes).into());
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
        write!(
            f,
            "SignedOp({:?}, {} by {}, deps {:?})",
            self.hash,
            self.op.body.name(),
            self.op.author.short(),
            self.op.deps
        )
    }
}

/// The size limit of an encoded op with this body.
fn max_bytes(body: &OpBody) -> usize {
    match body {
        OpBody::Remove { cut, .. } | OpBody::SetRole { cut, .. } if !cut.is_empty() => {
            MAX_CUT_OP_BYTES
        }
        _ => MAX_OP_BYTES,
    }
}

pub(crate) fn split(sig: [u8; 64]) -> [[u8; 32]; 2] {
    let mut halves = [[0u8; 32]; 2];
    halves[0].copy_from_slice(&sig[..32]);
    halves[1].copy_from_slice(&sig[32..]);
    halves
}

fn join_sig(sig: [[u8; 32]; 2]) -> Signature {
    let [a, b] = sig;
    let mut joined = [0u8; 64];
    joined[..32].copy_from_slice(&a);
    joined[32..].copy_from_slice(&b);
    Signature::from_bytes(&joined)
}

pub(crate) fn signed_message(op: &Op) -> Result<Vec<u8>, SpaceError> {
    postcard::to_extend(op, SIGN_DOMAIN.to_vec()).map_err(|_| SpaceError::Malformed("unencodable"))
}

/// What can be checked of an op alone: name lengths, deps, cuts.
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
        OpBody::Admit { join } => {
            if op.deps.binary_search(join).is_err() {
                return Err(SpaceError::Malformed(
                    "an admission does not list its join as a dep",
                ));
            }
            Ok(())
        }
        OpBody::Remove { cut, .. } | OpBody::SetRole { cut, .. } => {
            if cut.len() > MAX_CUT_ENTRIES {
                return Err(SpaceError::CutTooLarge {
                    count: cut.len(),
                    max: MAX_CUT_ENTRIES,
                });
            }
            if !cut.windows(2).all(|w| w[0].doc < w[1].doc) {
                return Err(SpaceError::Malformed("a cut is not sorted by document"));
            }
            Ok(())
        }
        OpBody::Invite { .. } | OpBody::Withdraw { .. } => Ok(()),
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

/// The key pair of an invitation, derived from the secret a ticket carries. The invite op records
/// only its public half; a joiner signs with the private half, so the secret never travels in an
/// op and a join cannot be replayed by anyone else.
pub struct InviteKey(SigningKey);

impl InviteKey {
    /// The key derived from a ticket's secret.
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        let seed: [u8; 32] = Sha256::new()
            .chain_update(INVITE_KEY_DOMAIN)
            .chain_update(secret)
            .finalize()
            .into();
        Self(SigningKey::from_bytes(&seed))
    }

    /// The public half, as the invite op records it.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The proof that `joiner` holds this invitation: a signature over (space, invitation,
    /// joiner), bound to the joiner so that nobody else can use it.
    pub fn prove(&self, space: SpaceId, invite: OpHash, joiner: MemberId) -> [[u8; 32]; 2] {
        split(
            self.0
                .sign(&proof_message(space, invite, joiner))
                .to_bytes(),
        )
    }

    /// Whether `proof` is this invitation key's proof for `joiner`.
    pub fn verify(
        public: &[u8; 32],
        space: SpaceId,
        invite: OpHash,
        joiner: MemberId,
        proof: [[u8; 32]; 2],
    ) -> bool {
        VerifyingKey::from_bytes(public).is_ok_and(|key| {
            key.verify_strict(&proof_message(space, invite, joiner), &join_sig(proof))
                .is_ok()
        })
    }
}

impl fmt::Debug for InviteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InviteKey({})", hex::encode(&self.public()[..4]))
    }
}

fn proof_message(space: SpaceId, invite: OpHash, joiner: MemberId) -> Vec<u8> {
    let mut msg = PROOF_DOMAIN.to_vec();
    msg.extend_from_slice(space.as_bytes());
    msg.extend_from_slice(&invite.0);
    msg.extend_from_slice(joiner.as_bytes());
    msg
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
    crate::random::fill(&mut nonce);
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
    crate::random::fill(&mut secret);
    secret
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
