//! Time, identifiers and random secrets.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub trait Clock: Send + Sync {
    /// Now, at microsecond precision (what every store keeps).
    fn now(&self) -> DateTime<Utc>;
}

pub trait IdGenerator: Send + Sync {
    /// A new, time-ordered unique id.
    fn new_id(&self) -> Uuid;
}

/// An opaque secret handed to a client once; only its digest is stored.
#[derive(Clone)]
pub struct IssuedSecret {
    pub plain: String,
    pub digest: String,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedSecret(<redacted>)")
    }
}

pub trait SecretGenerator: Send + Sync {
    /// A new random secret with the given visible prefix (e.g. `rt_`).
    fn generate(&self, prefix: &str) -> IssuedSecret;
    /// The digest stored for a presented secret.
    fn digest(&self, plain: &str) -> String;
    /// A new random signing key shown as `prefix` and the standard base64 of its 256
    /// bits (`whsec_…`, the form Standard Webhooks libraries decode into the key).
    fn signing_key(&self, prefix: &str) -> String;
}
