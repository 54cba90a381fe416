//! Offboarding adapters: the catalogue of tenant tables, the archive writer and its
//! offline check, local archive storage, the purge, and the signer of download links.

pub mod archive;
pub mod catalogue;
pub mod purge;
pub mod storage;
pub mod verify;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera_application::ports::LinkSigner;

pub use archive::{Manifest, ManifestTable, SeaTenantArchiver};
pub use purge::SeaTenantPurger;
pub use storage::LocalArchiveStorage;
pub use verify::{ExportCheck, verify_export};

/// HMAC-SHA256 over a message with a server key, as lowercase hex.
pub struct HmacLinkSigner {
    key: Vec<u8>,
}

impl HmacLinkSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        mac
    }
}

impl LinkSigner for HmacLinkSigner {
    fn sign(&self, message: &str) -> String {
        format!("{:x}", self.mac(message).finalize().into_bytes())
    }

    fn verify(&self, message: &str, signature: &str) -> bool {
        let Some(bytes) = decode_hex(signature) else {
            return false;
        };
        // `verify_slice` compares in constant time.
        self.mac(message).verify_slice(&bytes).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_message_and_key_only() {
        let signer = HmacLinkSigner::new(b"key one".to_vec());
        let signature = signer.sign("tenant-export:a:b");
        assert!(signer.verify("tenant-export:a:b", &signature));
        assert!(!signer.verify("tenant-export:a:c", &signature));
        assert!(!HmacLinkSigner::new(b"key two".to_vec()).verify("tenant-export:a:b", &signature));
        assert!(!signer.verify("tenant-export:a:b", "zz"));
        assert!(!signer.verify("tenant-export:a:b", &signature[..62]));
    }
}
