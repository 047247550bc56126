//! The membership of a space: a grow-only set of signed ops, folded deterministically into the
//! member list.
//!
//! ```text
//! create ─┬─ invite(editor) ── join(bob) ── admit(bob) ── set_role(bob, reader)
//!         └─ invite(reader) ── join(carol) ── admit(carol)        (a concurrent branch)
//! ```
//!
//! Each op names the ops it was made after (`deps`, usually the current [`Membership::heads`]), so
//! the set is a causal graph: an op's *history* is every op reachable through its deps, which is
//! everything its author had seen. [`Membership::fold`] applies ops in causal order and skips every
//! op its author had no right to make; the same *set* gives the same membership on every peer,
//! whatever order the ops arrived in. No rule reads an op's claimed time except an admission's
//! (made by a member against its own clock, see below): a time cannot be checked, a hash can.
//!
//! - **Invitations never publish their secret.** An invite records the public half of a key pair
//!   derived from the ticket's secret; a join proves possession by that key's signature over
//!   (space, invitation, joiner), which nobody can reuse for another joiner.
//! - **Admission is recorded.** A join alone makes nobody a member: a member who holds the
//!   invitation checks its expiry against its own clock and its uses against its own view, then
//!   signs an `admit` op after the join. Every peer folds the same admits, so all reach the same
//!   verdict, and no time claimed by a joiner can reopen an expired or used-up invitation.
//! - **Strong removal.** When a member is removed, every op they signed that is not in the history
//!   of the removal (made concurrently with it, or after it and backdated by naming old deps) is
//!   void, whatever time it claims. Demoting an owner voids their concurrent management ops the
//!   same way. Two owners who remove each other concurrently cannot be told apart from a removed
//!   owner who retaliates with a backdated removal (both name the same deps), so the fold settles
//!   every such race by seniority: among ops ready at the same time, those of the member admitted
//!   first go first, and the other's concurrent ops are void. A removed owner therefore never
//!   removes the owner who removed him, unless he was admitted before him.
//! - **Cuts.** A removal or a demotion from a writing role records a *cut*: for each document, a
//!   short hash of the last change of the member that the remover held. A document change by a
//!   member who can no longer write counts only if it lies in the history of that change (see
//!   `crate::authorship`), so backdating a change cannot get it past the cut.

mod fold;
mod ops;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ts_rs::TS;

use crate::id::{MemberId, ParseIdError};

pub use fold::{Invite, Member, Membership, Removed, WriteCut};
pub use ops::{
    CutEntry, InviteKey, Op, OpBody, SignedOp, new_secret, new_space, set_digest, space_id_for,
};

/// Largest encoded op without a cut, in bytes, refused before decoding. The largest valid one (a
/// join with [`MAX_DEPS`] deps and two names of [`MAX_NAME_CHARS`] four-byte characters) is about
/// 3 KiB.
///
/// [`MAX_NAME_CHARS`]: crate::limits::MAX_NAME_CHARS
pub const MAX_OP_BYTES: usize = 4096;
/// Most documents one cut names: more than a member writes in a space, and it keeps a removal op
/// under [`MAX_CUT_OP_BYTES`].
pub const MAX_CUT_ENTRIES: usize = 40_000;
/// Largest encoded op that carries a cut (a removal or a demotion): [`MAX_CUT_ENTRIES`] entries of
/// 24 bytes plus an ordinary op. It must fit in one sync frame.
pub const MAX_CUT_OP_BYTES: usize = MAX_OP_BYTES + MAX_CUT_ENTRIES * 24;
/// Most deps one op lists: enough to merge many concurrent heads in one op, few enough to keep an
/// op under [`MAX_OP_BYTES`]. With more heads, list some; later ops merge the rest.
pub const MAX_DEPS: usize = 64;
/// Most ops one space holds. Each member costs about three (invite, join, admit); 20,000 leaves
/// room for thousands of members and still bounds what a flood can make every member store.
pub const MAX_SPACE_OPS: usize = 20_000;
/// Most ops one author signs in one space: an owner inviting and admitting a large organisation
/// stays under it, a member signing junk without end does not.
pub const MAX_OPS_PER_AUTHOR: usize = 2_000;
/// Room a space keeps past [`MAX_SPACE_OPS`] for an owner's removals, demotions and
/// withdrawals, beyond their [`MAX_OPS_PER_AUTHOR`]: a set filled to the cap (by puppets that
/// members admitted) still takes the removal that ends it, on every member alike.
pub const MANAGEMENT_OPS_RESERVE: usize = 2_000;

/// Why a membership op or an invitation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// The encoded op is larger than its limit.
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
    /// The op was written by an older Tacit, whose spaces this one no longer syncs.
    #[error(
        "this membership op was made by an older Tacit (format {version}); share the space again from a new one"
    )]
    Legacy {
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
    /// A name is longer than its limit.
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
    /// More cut entries than [`MAX_CUT_ENTRIES`].
    #[error("the removal names {count} documents, the limit is {max}")]
    CutTooLarge {
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
    /// The invitation was withdrawn by an owner.
    #[error("the invitation was withdrawn by an owner; ask for a new ticket")]
    InviteWithdrawn,
    /// The join's proof does not verify against the invitation's key.
    #[error("the join does not prove it holds the invitation's secret")]
    BadProof,
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
