//! A second factor: the people's TOTP authenticators, recovery codes and log-in
//! challenges (global, like users), the TOTP arithmetic, and the box that seals secrets
//! the server must read back (encrypted at rest).

use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{MfaChallenge, TotpFactor, UserId};

use super::StoreResult;

#[async_trait]
pub trait MfaRepository: Send + Sync {
    async fn find_totp(&self, user_id: UserId) -> StoreResult<Option<TotpFactor>>;
    /// Stores a new, unconfirmed authenticator, replacing an unconfirmed one; a confirmed
    /// one is not replaced (`Duplicate("totp")`).
    async fn put_pending_totp(&self, factor: &TotpFactor) -> StoreResult<()>;
    /// Confirms the authenticator at `step` (the step its first code matched).
    async fn confirm_totp(&self, user_id: UserId, step: i64, at: DateTime<Utc>) -> StoreResult<()>;
    /// Records that a code of `step` was accepted, only if no later or equal step was
    /// (`false`: another request used it first, a replay).
    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool>;
    /// Removes the authenticator, every recovery code and every open log-in challenge.
    async fn remove_factors(&self, user_id: UserId) -> StoreResult<()>;
    /// Replaces every recovery code with these digests.
    async fn replace_recovery_codes(&self, user_id: UserId, digests: &[String], at: DateTime<Utc>) -> StoreResult<()>;
    /// Marks that unused code used (`false`: no such unused code).
    async fn use_recovery_code(&self, user_id: UserId, digest: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn count_unused_recovery_codes(&self, user_id: UserId) -> StoreResult<u64>;
    /// Stores a challenge, dropping the person's spent or expired ones.
    async fn insert_challenge(&self, challenge: &MfaChallenge, now: DateTime<Utc>) -> StoreResult<()>;
    async fn find_challenge(&self, digest: &str) -> StoreResult<Option<MfaChallenge>>;
    /// Takes one of the challenge's attempts before a code is checked, only if it is
    /// unused, unexpired at `now` and has one left (`false` otherwise): parallel
    /// requests cannot try more codes than it allows.
    async fn spend_attempt(&self, digest: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Marks the challenge used, only if it was not yet (`false` otherwise).
    async fn use_challenge(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<bool>;
}

/// The TOTP arithmetic (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock
/// drift either way) and the random material of a second factor.
pub trait Authenticators: Send + Sync {
    /// A new random shared secret, in base32 (what authenticator apps take).
    fn new_secret(&self) -> String;
    /// The `otpauth://totp/…` URI an app scans (as a QR code) to add the secret.
    fn provisioning_uri(&self, secret: &str, account: &str) -> Result<String, Box<dyn StdError + Send + Sync>>;
    /// The time step `code` is right for at `at`, within the drift allowed; `None` for a
    /// wrong or malformed code.
    fn matching_step(&self, secret: &str, code: &str, at: DateTime<Utc>) -> Option<i64>;
    /// A new random recovery code, as shown to the person (`xxxx-xxxx-xxxx-xxxx`).
    fn recovery_code(&self) -> String;
}

/// Encrypts secrets the server must read back later, bound to what they belong to (the
/// `context`, e.g. `totp:<user id>`): a sealed value moved to another row does not open.
pub trait SecretBox: Send + Sync {
    fn seal(&self, plain: &str, context: &str) -> Result<String, Box<dyn StdError + Send + Sync>>;
    /// `Err` when the value was not sealed by a key this box holds, or for another context.
    fn open(&self, sealed: &str, context: &str) -> Result<String, Box<dyn StdError + Send + Sync>>;
}
