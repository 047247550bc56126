//! The device key: an Ed25519 key pair whose public half is the member id.

use ed25519_dalek::{Signer, SigningKey};

use crate::id::MemberId;

/// The device's Ed25519 signing key. The secret never leaves the home; `Debug` does not print it.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// Length of the secret in bytes, as stored in the home.
    pub const SECRET_LEN: usize = 32;

    /// A fresh key from the operating system's generator.
    pub fn generate() -> Self {
        let mut secret = [0u8; Self::SECRET_LEN];
        crate::random::fill(&mut secret);
        Self(SigningKey::from_bytes(&secret))
    }

    /// The key from its 32 secret bytes.
    pub fn from_secret(secret: [u8; Self::SECRET_LEN]) -> Self {
        Self(SigningKey::from_bytes(&secret))
    }

    /// The 32 secret bytes, for storing in the home.
    pub fn secret(&self) -> [u8; Self::SECRET_LEN] {
        self.0.to_bytes()
    }

    /// The member id: the public key.
    pub fn member_id(&self) -> MemberId {
        MemberId::from_bytes(self.0.verifying_key().to_bytes())
    }

    /// The Ed25519 signature of `msg` (deterministic: the same message gives the same signature).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({:?})", self.member_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_restored_from_its_secret_is_the_same_member() {
        let key = DeviceKey::generate();
        let again = DeviceKey::from_secret(key.secret());
        assert_eq!(key.member_id(), again.member_id());
        assert!(!format!("{key:?}").contains(&hex::encode(key.secret())));
    }
}
