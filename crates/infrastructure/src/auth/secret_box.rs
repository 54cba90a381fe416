//! Secrets the server must read back (TOTP secrets, later identity providers' client
//! secrets), sealed with ChaCha20-Poly1305 under a key from configuration. A sealed
//! value is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, bound to its context
//! (the row it belongs to) as associated data. Earlier keys still open what they
//! sealed, so the key rotates without re-encrypting everything at once.

use std::error::Error as StdError;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use tessera_application::ports::SecretBox;

/// A key of 32 bytes and its id (the first 8 hexadecimal digits of its SHA-256).
struct Key {
    id: String,
    key: LessSafeKey,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let id = format!("{:x}", Sha256::digest(bytes))[..8].to_owned();
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte ChaCha20-Poly1305 key");
        Self {
            id,
            key: LessSafeKey::new(unbound),
        }
    }
}

/// Seals with the current key, opens with it or any earlier one.
pub struct SealingBox {
    current: Key,
    earlier: Vec<Key>,
    random: SystemRandom,
}

impl SealingBox {
    pub fn new(current: &[u8; 32], earlier: &[[u8; 32]]) -> Self {
        Self {
            current: Key::new(current),
            earlier: earlier.iter().map(Key::new).collect(),
            random: SystemRandom::new(),
        }
    }

    fn key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.earlier)
            .find(|key| key.id == id)
    }
}

impl SecretBox for SealingBox {
    fn seal(&self, plain: &str, context: &str) -> Result<String, Box<dyn StdError + Send + Sync>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| "no randomness for a nonce")?;
        let mut data = plain.as_bytes().to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| "sealing failed")?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(format!("v1.{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(sealed)))
    }

    fn open(&self, sealed: &str, context: &str) -> Result<String, Box<dyn StdError + Send + Sync>> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("not a sealed value".into());
        };
        let key = self.key(id).ok_or("sealed with a key this server does not hold")?;
        let data = URL_SAFE_NO_PAD.decode(body).map_err(|_| "not a sealed value")?;
        if data.len() < NONCE_LEN {
            return Err("not a sealed value".into());
        }
        let (nonce, rest) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "not a sealed value")?;
        let mut rest = rest.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut rest)
            .map_err(|_| "the sealed value does not open (altered, or for another context)")?;
        Ok(String::from_utf8(plain.to_vec())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_for_their_context_only_and_across_a_key_rotation() {
        let old = SealingBox::new(&[1; 32], &[]);
        let sealed = old.seal("JBSWY3DPEHPK3PXP", "totp:a").expect("seal");
        assert!(
            sealed.starts_with("v1.") && !sealed.contains("JBSWY3DPEHPK3PXP"),
            "{sealed}"
        );
        assert_ne!(
            sealed,
            old.seal("JBSWY3DPEHPK3PXP", "totp:a").expect("seal"),
            "a fresh nonce each time"
        );
        assert_eq!(old.open(&sealed, "totp:a").expect("open"), "JBSWY3DPEHPK3PXP");
        assert!(
            old.open(&sealed, "totp:b").is_err(),
            "moved to another row, it does not open"
        );

        let mut altered = sealed.clone();
        let last = altered.pop().expect("char");
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(old.open(&altered, "totp:a").is_err(), "altered");
        assert!(old.open("plain text", "totp:a").is_err());

        let rotated = SealingBox::new(&[2; 32], &[[1; 32]]);
        assert_eq!(
            rotated.open(&sealed, "totp:a").expect("an earlier key opens"),
            "JBSWY3DPEHPK3PXP"
        );
        let resealed = rotated.seal("x", "c").expect("seal");
        assert!(old.open(&resealed, "c").is_err(), "the new key is not the old box's");
        let dropped = SealingBox::new(&[2; 32], &[]);
        assert!(dropped.open(&sealed, "totp:a").is_err(), "a dropped key opens nothing");
    }
}
