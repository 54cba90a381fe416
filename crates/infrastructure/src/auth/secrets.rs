//! Opaque secrets (refresh tokens and the like): 256 random bits, stored as SHA-256;
//! and signing keys (webhooks), 256 random bits shown in standard base64.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tessera_application::ports::{IssuedSecret, SecretGenerator};

#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

impl SecretGenerator for RandomSecrets {
    fn generate(&self, prefix: &str) -> IssuedSecret {
        let plain = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_256_bits()));
        let digest = self.digest(&plain);
        IssuedSecret { plain, digest }
    }

    fn digest(&self, plain: &str) -> String {
        sha256_hex(plain)
    }

    fn signing_key(&self, prefix: &str) -> String {
        format!("{prefix}{}", STANDARD.encode(random_256_bits()))
    }
}

fn random_256_bits() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// SHA-256 of the text, as 64 lowercase hexadecimal digits.
pub(crate) fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_stored_only_as_digest() {
        let secrets = RandomSecrets;
        let a = secrets.generate("rt_");
        let b = secrets.generate("rt_");
        assert!(a.plain.starts_with("rt_"));
        assert_ne!(a.plain, b.plain);
        assert_eq!(a.digest.len(), 64);
        assert_eq!(secrets.digest(&a.plain), a.digest);
        assert!(!a.digest.contains(&a.plain));
    }
}
