//! Identifiers: random 128-bit ids for documents, answers and spaces; member ids are Ed25519 public
//! keys. All print as lowercase hex; documents and answers may be named by a unique prefix.

use std::fmt;
use std::str::FromStr;

/// An id string that is not what it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} id {given:?} is not valid: expected {len} hex characters")]
pub struct ParseIdError {
    /// Which kind of id.
    pub what: &'static str,
    /// The string given.
    pub given: String,
    /// How many hex characters the id has.
    pub len: usize,
}

/// An id of 16 random bytes, whatever it names: how a format that carries ids as their bytes
/// (the sync protocol) writes and reads any of them. Their serde form is hex text.
pub trait RandomId: Sized {
    /// The id's bytes.
    fn raw(&self) -> [u8; 16];
    /// The id with these bytes.
    fn from_raw(bytes: [u8; 16]) -> Self;
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ts_rs::TS)]
        #[ts(type = "string")]
        pub struct $name([u8; 16]);

        impl $name {
            /// Length of the id in hex characters.
            pub const HEX_LEN: usize = 32;

            /// A fresh random id (from the operating system's generator; see [`crate::random`]).
            pub fn random() -> Self {
                let mut bytes = [0u8; 16];
                // The OS generator failing is not recoverable: nothing could be written safely.
                $crate::random::fill(&mut bytes);
                Self(bytes)
            }

            /// The id from its raw bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// The first 8 hex characters, for people to read and type.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
        }

        impl $crate::id::RandomId for $name {
            fn raw(&self) -> [u8; 16] {
                self.0
            }
            fn from_raw(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 16];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseIdError {
                    what: $what,
                    given: s.to_owned(),
                    len: Self::HEX_LEN,
                })?;
                Ok(Self(bytes))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

random_id!(
    /// A document's id: random, 128 bits.
    DocId,
    "document"
);
random_id!(
    /// An answer's id within its question: random, 128 bits.
    AnswerId,
    "answer"
);
random_id!(
    /// A space's id: random, 128 bits.
    SpaceId,
    "space"
);

impl DocId {
    /// An id derived from `namespace` (SHA-256, truncated): the same bytes always give the same
    /// id, so a caller names a document it may create again (an imported file) without storing
    /// a mapping. `namespace` should start with a string saying what it derives for.
    pub fn derive(namespace: &[u8]) -> DocId {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"tacit/doc-id/derive/v1\0")
            .chain_update(namespace)
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        DocId(bytes)
    }
}

/// A member: the Ed25519 public key of their device.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ts_rs::TS)]
#[ts(type = "string")]
pub struct MemberId([u8; 32]);

impl MemberId {
    /// Length in hex characters.
    pub const HEX_LEN: usize = 64;

    /// The member id from the raw public key bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw public key bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 8 hex characters, for people to read.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// The Automerge actor id under which this member's changes are written, so that every
    /// change names its author.
    pub fn actor_id(&self) -> automerge::ActorId {
        automerge::ActorId::from(&self.0[..])
    }

    /// The member whose actor id this is, if it is one (32 bytes).
    pub fn from_actor_id(actor: &automerge::ActorId) -> Option<Self> {
        <[u8; 32]>::try_from(actor.to_bytes()).ok().map(Self)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({})", self.short())
    }
}

impl FromStr for MemberId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseIdError {
            what: "member",
            given: s.to_owned(),
            len: Self::HEX_LEN,
        })?;
        Ok(Self(bytes))
    }
}

impl serde::Serialize for MemberId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MemberId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_id_round_trips_through_text_and_json() {
        let id = DocId::random();
        assert_eq!(id.to_string().parse::<DocId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<DocId>(&json).unwrap(), id);
        assert_eq!(id.short().len(), 8);
    }

    #[test]
    fn malformed_ids_are_refused_with_the_expected_length() {
        let err = "xyz".parse::<DocId>().unwrap_err();
        assert!(err.to_string().contains("32 hex characters"), "{err}");
        assert!("00".repeat(31).parse::<MemberId>().is_err());
    }

    #[test]
    fn member_id_round_trips_through_the_actor_id() {
        let m = MemberId::from_bytes([7; 32]);
        assert_eq!(MemberId::from_actor_id(&m.actor_id()), Some(m));
    }
}
