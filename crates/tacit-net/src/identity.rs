//! Member ids and libp2p peer ids: the same Ed25519 public key in two encodings.
//!
//! A libp2p `PeerId` of an Ed25519 key is the identity multihash of the protobuf-encoded public
//! key, so the key (and with it the member id) can be read back out of the peer id without a
//! lookup.

use libp2p::{PeerId, identity};
use tacit_core::MemberId;

/// The multihash code of the identity "hash" (the bytes themselves), used for small keys.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The peer id of a member's device, or `None` if the member id is not a valid Ed25519 public key.
pub fn peer_id_of(member: &MemberId) -> Option<PeerId> {
    let key = identity::ed25519::PublicKey::try_from_bytes(member.as_bytes()).ok()?;
    Some(identity::PublicKey::from(key).to_peer_id())
}

/// The member whose device this peer id is, or `None` if it is not the peer id of an Ed25519 key
/// (a hashed id, or another key type).
pub fn member_of(peer: &PeerId) -> Option<MemberId> {
    let multihash = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    let key = identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let key = key.try_into_ed25519().ok()?;
    Some(MemberId::from_bytes(key.to_bytes()))
}

/// The libp2p identity of a home: the Ed25519 key pair of its device key's secret.
pub(crate) fn keypair(secret: [u8; 32]) -> Result<identity::Keypair, identity::DecodingError> {
    // `ed25519_from_bytes` zeroes the bytes it is given; this is our own copy.
    identity::Keypair::ed25519_from_bytes(secret)
}

#[cfg(test)]
mod tests {
    use tacit_core::DeviceKey;

    use super::*;

    #[test]
    fn a_member_id_and_its_peer_id_convert_both_ways() {
        let key = DeviceKey::generate();
        let member = key.member_id();
        let peer = peer_id_of(&member).expect("a device key's public key is valid");
        assert_eq!(member_of(&peer), Some(member));
        let from_secret = keypair(key.secret())
            .expect("32 bytes")
            .public()
            .to_peer_id();
        assert_eq!(from_secret, peer);
    }

    #[test]
    fn byte_patterns_that_are_keys_round_trip_and_others_give_none() {
        let mut valid = 0;
        for b in 0..=255u8 {
            let member = MemberId::from_bytes([b; 32]);
            if let Some(peer) = peer_id_of(&member) {
                valid += 1;
                assert_eq!(member_of(&peer), Some(member));
            }
        }
        assert!(valid > 0);
    }

    #[test]
    fn a_hashed_peer_id_is_no_member() {
        let hashed =
            libp2p::multihash::Multihash::<64>::wrap(0x12, &[9u8; 32]).expect("32 bytes fit");
        let peer = PeerId::from_multihash(hashed).expect("sha2-256 is a valid peer id");
        assert_eq!(member_of(&peer), None);
    }
}
