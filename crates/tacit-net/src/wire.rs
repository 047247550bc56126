//! The messages of `/tacit/sync/1`: one long-lived stream per connection, each frame one
//! [`Message`] encoded with postcard (length-prefixed by the codec, which bounds its size).
//!
//! A session runs, per space both sides share:
//!
//! 1. [`Message::Hello`] (and later [`Message::Offer`]): the spaces in which, by the sender's own
//!    membership view, the receiver is a member — with a digest of the sender's membership ops.
//!    A peer that is not a member is offered nothing and learns nothing. A `Hello` of another
//!    version is answered with a `Bye` that says which side must upgrade.
//! 2. For an offered space whose digest differs, each side sends [`Message::OpHashes`] (every op
//!    it holds); the other answers with [`Message::Ops`] for those it holds and the sender lacks,
//!    in frames under the limits, and asks with [`Message::WantOps`] for those it lacks.
//! 3. [`Message::Recon`]: range-based set reconciliation ([`crate::recon`]) over (document id,
//!    heads hash), started by the side that accepted the stream
//!    ([`crate::session::starts_reconciliation`]) once both sides offered the space.
//! 4. whoever learns a range's differences acts on them: [`Message::Have`] then
//!    [`Message::Docs`] for documents the other side lacks (whole, as stored),
//!    [`Message::Want`] for those this side lacks, and [`Message::Sync`] (Automerge's sync
//!    protocol, ended by [`Message::Synced`]) for documents both hold with different heads;
//! 5. the stream stays open: every local change is pushed at once as [`Message::Change`] (the
//!    new Automerge changes; a receiver missing their dependencies falls back to `Sync`).
//!
//! Every document change travels with its author's signature ([`ChangeSig`]): in `Docs`, `Sync`
//! and `Change`. A receiver refuses a change without one.
//!
//! A joiner sends [`Message::Join`] (its signed join op, answering an invitation) after its
//! `Hello`; the inviter answers with the space's ops, or [`Message::JoinRefused`].
//!
//! Members tell each other where they can be reached with [`Message::Addrs`]: records
//! ([`MemberAddrs`]) each signed by the member it describes, sent only to peers that share a space
//! with that member, so that members meet each other and not only the inviter.

use serde::{Deserialize, Serialize};
use tacit_core::{ChangeSig, DocId, MemberId, OpHash, SpaceId};

use crate::recon::Part;

/// The protocol version this build speaks: 2 signs every change and admits joins by record; 3
/// has the side that accepts the sync stream start reconciliation (in 2 the side that opens it
/// did: between the two, neither would start, or both); 4 encodes ids as their bytes, range
/// prefixes as their fixed digits, sub-range fingerprints as one [`crate::recon::Part::Split`],
/// and ends a sync that left both sides equal with `Synced` (3 cannot read 4's messages).
pub const VERSION: u16 = 4;

/// Most spaces one `Hello` or `Offer` names.
pub const MAX_SPACES: usize = 1024;
/// Most membership ops one `Ops` carries.
pub const MAX_OPS: usize = 10_000;
/// Most reconciliation parts in one `Recon`, each split counted with its fingerprints
/// ([`crate::recon::weight`]); a step's answers past it go in further messages.
pub const MAX_PARTS: usize = 4096;
/// Most documents in one `Docs`.
pub const MAX_DOCS: usize = 256;
/// Most bytes the documents of one `Docs` frame may inflate to, all together: twice what one
/// document may ([`tacit_core::chunks::MAX_INFLATED_BYTES`]), so that a document at that limit
/// always fits. The limit per document alone let one frame of 256 small documents, each
/// inflating to just under it, have the receiver allocate 16 GiB; a sender packs its frames
/// under this, and a receiver takes a frame past it as hostile.
pub const MAX_DOCS_INFLATED: u64 = 2 * tacit_core::chunks::MAX_INFLATED_BYTES;
/// Most ids in one `Have` or `Want`.
pub const MAX_IDS: usize = 4096;
/// Most op hashes in one `OpHashes` or `WantOps`: a space's whole op set.
pub const MAX_OP_HASHES: usize = tacit_core::MAX_SPACE_OPS;
/// Most change signatures with one document, `Sync` or `Change`: a frame of 16 MiB holds about
/// 170,000; a document with more changes than this is sent as it is and its oldest changes'
/// signatures are dropped (the receiver then refuses it, which the sender logs).
pub const MAX_SIGS: usize = 131_072;

/// Most member address records in one `Addrs`.
pub const MAX_ADDR_RECORDS: usize = 256;
/// Most addresses in one member address record: a node's listen and external addresses (TCP and
/// QUIC, IPv4 and IPv6) plus a circuit address per relay.
pub const MAX_RECORD_ADDRS: usize = 16;
/// Longest address in a member address record, in bytes (a circuit address with two peer ids is
/// about 150).
pub const MAX_RECORD_ADDR_BYTES: usize = 256;

/// Where a member's device can be reached, signed by that member: what members share with each
/// other ([`Message::Addrs`]). A receiver keeps the newest record of each member of its spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAddrs {
    /// The member (the device's public key).
    pub member: MemberId,
    /// Its addresses as multiaddr strings: confirmed external ones first, then listen addresses,
    /// then relay circuit addresses.
    #[serde(deserialize_with = "bounded::<_, _, MAX_RECORD_ADDRS>")]
    pub addrs: Vec<String>,
    /// Whether the member serves circuit relay v2 at a public address (the first of `addrs`):
    /// members behind NATs may reserve a slot on it.
    pub relay: bool,
    /// When the member made the record, ms since the epoch; a newer record replaces an older one.
    pub at: i64,
    /// The member's Ed25519 signature of [`MemberAddrs::signed_bytes`], in two halves.
    pub sig: [[u8; 32]; 2],
}

impl MemberAddrs {
    /// What the signature covers: a domain tag, then every field but the signature.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"tacit member addrs v1\0".to_vec();
        out.extend_from_slice(self.member.as_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        out.push(u8::from(self.relay));
        for addr in &self.addrs {
            out.extend_from_slice(&(addr.len() as u64).to_be_bytes());
            out.extend_from_slice(addr.as_bytes());
        }
        out
    }

    /// Whether the record is within the limits and signed by its member.
    pub fn verify(&self) -> bool {
        if self.addrs.len() > MAX_RECORD_ADDRS
            || self.addrs.iter().any(|a| a.len() > MAX_RECORD_ADDR_BYTES)
        {
            return false;
        }
        let Ok(key) = libp2p::identity::ed25519::PublicKey::try_from_bytes(self.member.as_bytes())
        else {
            return false;
        };
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&self.sig[0]);
        sig[32..].copy_from_slice(&self.sig[1]);
        key.verify(&self.signed_bytes(), &sig)
    }
}

/// A space as offered to a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceOffer {
    /// The space (as hex text, as in every version: a `Hello` of any version decodes, so that
    /// a peer of another version is told which side must upgrade).
    pub space: SpaceId,
    /// Digest of the sender's membership op hashes.
    pub ops_digest: [u8; 32],
}

/// One whole document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WholeDoc {
    /// The document.
    #[serde(with = "raw")]
    pub id: DocId,
    /// Its Automerge bytes: the stored chunks concatenated, which load as one document.
    pub data: Vec<u8>,
    /// The signatures of its changes.
    pub sigs: Vec<ChangeSig>,
}

/// One frame of `/tacit/sync/1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// First frame of each side.
    Hello {
        /// [`VERSION`] of the sender.
        version: u16,
        /// Spaces the receiver is a member of, in the sender's view.
        #[serde(deserialize_with = "bounded::<_, _, MAX_SPACES>")]
        spaces: Vec<SpaceOffer>,
    },
    /// Spaces newly offered (the sender's view of the membership changed).
    Offer {
        /// Spaces now offered.
        #[serde(deserialize_with = "bounded::<_, _, MAX_SPACES>")]
        spaces: Vec<SpaceOffer>,
    },
    /// A joiner's signed join op, and the invitation it answers.
    Join {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The signed join op.
        op: Vec<u8>,
    },
    /// The join was refused.
    JoinRefused {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// Why, for the joiner to show.
        reason: String,
    },
    /// Every membership op the sender holds for a space, by hash.
    OpHashes {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The ops' hashes.
        hashes: Vec<OpHash>,
    },
    /// Membership ops the sender lacks and asks for.
    WantOps {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The ops' hashes.
        hashes: Vec<OpHash>,
    },
    /// Membership ops of a space.
    Ops {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// Signed ops.
        #[serde(deserialize_with = "bounded::<_, _, MAX_OPS>")]
        ops: Vec<Vec<u8>>,
    },
    /// Reconciliation of a space's documents.
    Recon {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// Steps about ranges.
        #[serde(deserialize_with = "bounded::<_, _, MAX_PARTS>")]
        parts: Vec<Part>,
    },
    /// Whole documents the receiver lacks.
    Docs {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The documents.
        #[serde(deserialize_with = "bounded::<_, _, MAX_DOCS>")]
        docs: Vec<WholeDoc>,
    },
    /// Documents the sender holds and the receiver lacks: they follow in `Docs` frames.
    Have {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The documents.
        #[serde(with = "raw::list")]
        ids: Vec<DocId>,
    },
    /// Documents the sender lacks and asks for.
    Want {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The documents.
        #[serde(with = "raw::list")]
        ids: Vec<DocId>,
    },
    /// One Automerge sync message about one document.
    Sync {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The document.
        #[serde(with = "raw")]
        id: DocId,
        /// `automerge::sync::Message::encode()`.
        msg: Vec<u8>,
        /// The signatures of the changes it carries.
        sigs: Vec<ChangeSig>,
    },
    /// The sender has nothing more to say about a document: its sync is done (it holds what
    /// the peer holds), or it cannot send a document it announced or was asked for.
    Synced {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The document.
        #[serde(with = "raw")]
        id: DocId,
    },
    /// A change made (or received) just now, pushed live: Automerge bytes to apply.
    Change {
        /// The space.
        #[serde(with = "raw")]
        space: SpaceId,
        /// The document.
        #[serde(with = "raw")]
        id: DocId,
        /// Changes (`save_after`), or the whole document when it is new.
        data: Vec<u8>,
        /// The signatures of the changes.
        sigs: Vec<ChangeSig>,
    },
    /// The sender closes the session.
    Bye {
        /// Why.
        reason: String,
    },
    /// Where members of the spaces both sides share can be reached (the sender's own record
    /// among them), each record signed by its member.
    Addrs {
        /// The records.
        #[serde(deserialize_with = "bounded::<_, _, MAX_ADDR_RECORDS>")]
        records: Vec<MemberAddrs>,
    },
}

/// A list of at most `MAX` items, refused as soon as its stated length passes it: before any
/// item is decoded. Each item costs more in memory than on the wire (an empty op or address is
/// 1 byte there and 24 here), so a frame full of them, decoded whole before its limits were
/// checked, took about 25 times its bytes.
fn bounded<'de, D, T, const MAX: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Items<T, const MAX: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const MAX: usize> serde::de::Visitor<'de> for Items<T, MAX> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX} items")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let over = || serde::de::Error::custom(format!("a list of more than {MAX} items"));
            let stated = seq.size_hint().unwrap_or(0);
            if stated > MAX {
                return Err(over());
            }
            let mut items = Vec::with_capacity(stated.min(1024));
            while let Some(item) = seq.next_element()? {
                if items.len() == MAX {
                    return Err(over());
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    d.deserialize_seq(Items::<T, MAX>(std::marker::PhantomData))
}

/// Ids as their 16 bytes on the wire (their serde form elsewhere is hex text: 33 bytes).
mod raw {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use tacit_core::RandomId;

    pub fn serialize<T: RandomId, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
        id.raw().serialize(s)
    }

    pub fn deserialize<'de, T: RandomId, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        <[u8; 16]>::deserialize(d).map(T::from_raw)
    }

    /// A list of ids.
    pub mod list {
        use serde::{Deserialize, Deserializer, Serializer};
        use tacit_core::RandomId;

        pub fn serialize<T: RandomId, S: Serializer>(ids: &[T], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(ids.iter().map(RandomId::raw))
        }

        pub fn deserialize<'de, T: RandomId, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<T>, D::Error> {
            let raw = Vec::<[u8; 16]>::deserialize(d)?;
            Ok(raw.into_iter().map(T::from_raw).collect())
        }
    }
}

/// A frame that is not a valid message.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not decodable.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Decodable but over a limit.
    #[error("message over its limit: {0}")]
    OverLimit(&'static str),
}

impl Message {
    /// The frame bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes and checks a frame's limits. Trailing bytes are refused.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let (msg, rest): (Message, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(WireError::Malformed(format!(
                "{} bytes after the message",
                rest.len()
            )));
        }
        let ok = match &msg {
            Message::Hello { spaces, .. } | Message::Offer { spaces } => spaces.len() <= MAX_SPACES,
            Message::Ops { ops, .. } => ops.len() <= MAX_OPS,
            Message::Recon { parts, .. } => crate::recon::weight(parts) <= MAX_PARTS,
            Message::Docs { docs, .. } => {
                docs.len() <= MAX_DOCS && docs.iter().all(|d| d.sigs.len() <= MAX_SIGS)
            }
            Message::Want { ids, .. } | Message::Have { ids, .. } => ids.len() <= MAX_IDS,
            Message::OpHashes { hashes, .. } | Message::WantOps { hashes, .. } => {
                hashes.len() <= MAX_OP_HASHES
            }
            Message::Sync { sigs, .. } | Message::Change { sigs, .. } => sigs.len() <= MAX_SIGS,
            Message::Addrs { records } => {
                records.len() <= MAX_ADDR_RECORDS
                    && records.iter().all(|r| {
                        r.addrs.len() <= MAX_RECORD_ADDRS
                            && r.addrs.iter().all(|a| a.len() <= MAX_RECORD_ADDR_BYTES)
                    })
            }
            _ => true,
        };
        if ok {
            Ok(msg)
        } else {
            Err(WireError::OverLimit("items in one message"))
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "hello",
            Message::Offer { .. } => "offer",
            Message::Join { .. } => "join",
            Message::JoinRefused { .. } => "join-refused",
            Message::Ops { .. } => "ops",
            Message::OpHashes { .. } => "op-hashes",
            Message::WantOps { .. } => "want-ops",
            Message::Recon { .. } => "recon",
            Message::Docs { .. } => "docs",
            Message::Have { .. } => "have",
            Message::Want { .. } => "want",
            Message::Synced { .. } => "synced",
            Message::Change { .. } => "change",
            Message::Sync { .. } => "sync",
            Message::Bye { .. } => "bye",
            Message::Addrs { .. } => "addrs",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let m = Message::Sync {
            space: SpaceId::random(),
            id: DocId::random(),
            msg: vec![1, 2, 3],
            sigs: vec![ChangeSig {
                hash: [1; 32],
                sig: [[2; 32]; 2],
            }],
        };
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        let mut long = m.encode();
        long.push(0);
        assert!(Message::decode(&long).is_err());
        assert!(Message::decode(&[0xff, 0xff, 0xff]).is_err());
        assert!(Message::decode(&[]).is_err());
    }

    #[test]
    fn a_member_addrs_record_verifies_only_as_signed() {
        let mut secret = [7u8; 32];
        let key = libp2p::identity::ed25519::Keypair::from(
            libp2p::identity::ed25519::SecretKey::try_from_bytes(&mut secret).unwrap(),
        );
        let member = MemberId::from_bytes(key.public().to_bytes());
        let mut record = MemberAddrs {
            member,
            addrs: vec!["/ip4/192.0.2.7/tcp/4001".into()],
            relay: false,
            at: 1_700_000_000_000,
            sig: [[0; 32]; 2],
        };
        let sig = key.sign(&record.signed_bytes());
        record.sig[0].copy_from_slice(&sig[..32]);
        record.sig[1].copy_from_slice(&sig[32..]);
        assert!(record.verify());
        let m = Message::Addrs {
            records: vec![record.clone()],
        };
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        let mut moved = record.clone();
        moved.addrs[0] = "/ip4/203.0.113.66/tcp/4001".into();
        assert!(!moved.verify(), "a changed address breaks the signature");
        let mut relay = record.clone();
        relay.relay = true;
        assert!(!relay.verify(), "a changed relay flag breaks the signature");
        let mut other = record;
        other.member = MemberId::from_bytes([7; 32]);
        assert!(!other.verify(), "another member's key does not verify it");
    }

    #[test]
    fn a_hello_keeps_the_encoding_every_version_reads_and_ids_elsewhere_are_bytes() {
        let space = SpaceId::from_bytes([0xab; 16]);
        let hello = Message::Hello {
            version: 3,
            spaces: vec![SpaceOffer {
                space,
                ops_digest: [7; 32],
            }],
        };
        // Variant 0, version 3, one offer, the space as 32 hex characters, the digest: as
        // versions 2 and 3 wrote it, so that a peer of any version reads the version.
        let mut expected = vec![0, 3, 1, 32];
        expected.extend("ab".repeat(16).bytes());
        expected.extend([7; 32]);
        assert_eq!(hello.encode(), expected);
        let synced = Message::Synced {
            space,
            id: DocId::from_bytes([1; 16]),
        };
        assert_eq!(synced.encode().len(), 1 + 16 + 16);
        assert_eq!(Message::decode(&synced.encode()).unwrap(), synced);
        let have = Message::Have {
            space,
            ids: vec![DocId::from_bytes([2; 16]); 3],
        };
        assert_eq!(have.encode().len(), 1 + 16 + 1 + 3 * 16);
        assert_eq!(Message::decode(&have.encode()).unwrap(), have);
    }

    #[test]
    fn a_list_longer_than_its_limit_is_refused_before_its_items_are_decoded() {
        // An `Ops` frame of 16 million empty ops (a byte each on the wire, 24 in memory): refused
        // from its stated length.
        let space = SpaceId::random();
        let ops = Message::Ops {
            space,
            ops: vec![Vec::new(); 2],
        };
        let mut frame = ops.encode();
        let at = frame.len() - 3; // the list's length (one byte: 2), then two empty ops
        assert_eq!(frame[at..], [2, 0, 0]);
        frame.truncate(at);
        frame.extend([0x80, 0x80, 0x80, 0x08]); // 16,777,216 as a varint, then the ops
        frame.resize(frame.len() + (1 << 24), 0);
        // (Postcard names no custom error: it is "malformed", where a list decoded whole, then
        // checked, is "over its limit".)
        let refused = |frame: &[u8]| matches!(Message::decode(frame), Err(WireError::Malformed(_)));
        assert!(refused(&frame));
        // At the limit, the list decodes; one more is refused as it is decoded.
        let ops = |n| Message::Ops {
            space,
            ops: vec![Vec::new(); n],
        };
        assert!(Message::decode(&ops(MAX_OPS).encode()).is_ok());
        assert!(refused(&ops(MAX_OPS + 1).encode()));
        let record = MemberAddrs {
            member: MemberId::from_bytes([3; 32]),
            addrs: vec![String::new(); MAX_RECORD_ADDRS + 1],
            relay: false,
            at: 1,
            sig: [[0; 32]; 2],
        };
        let m = Message::Addrs {
            records: vec![record],
        };
        assert!(refused(&m.encode()));
    }

    #[test]
    fn over_limit_lists_are_refused() {
        let m = Message::Want {
            space: SpaceId::random(),
            ids: (0..=MAX_IDS).map(|_| DocId::random()).collect(),
        };
        assert!(matches!(
            Message::decode(&m.encode()),
            Err(WireError::OverLimit(_))
        ));
    }
}
