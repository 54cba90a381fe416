//! Second factors in memory, TOTP codes computed by a stand-in function of the secret
//! and the 30-second step (same contract: one step of drift either way), and a secret
//! box that marks what it sealed with its context.

use std::error::Error as StdError;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{MfaChallenge, TotpFactor, UserId};

use super::store::FakeTransaction;
use crate::ports::{Authenticators, MfaRepository, SecretBox, StoreError, StoreResult};

/// A recovery code: its owner, digest and when it was used.
#[derive(Clone)]
pub struct FakeRecoveryCode {
    pub user_id: UserId,
    pub digest: String,
    pub used_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl MfaRepository for FakeTransaction {
    async fn find_totp(&self, user_id: UserId) -> StoreResult<Option<TotpFactor>> {
        Ok(self.state().totp.iter().find(|f| f.user_id == user_id).cloned())
    }
    async fn put_pending_totp(&self, factor: &TotpFactor) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .totp
            .iter()
            .any(|f| f.user_id == factor.user_id && f.is_confirmed())
        {
            return Err(StoreError::Duplicate("totp"));
        }
        state.totp.retain(|f| f.user_id != factor.user_id);
        state.totp.push(factor.clone());
        Ok(())
    }
    async fn confirm_totp(&self, user_id: UserId, step: i64, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let factor = state
            .totp
            .iter_mut()
            .find(|f| f.user_id == user_id && !f.is_confirmed())
            .ok_or(StoreError::NotFound)?;
        factor.confirmed_at = Some(at);
        factor.last_used_step = Some(step);
        Ok(())
    }
    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(factor) = state.totp.iter_mut().find(|f| f.user_id == user_id && f.is_confirmed()) else {
            return Ok(false);
        };
        if !factor.accepts_step(step) {
            return Ok(false);
        }
        factor.last_used_step = Some(step);
        Ok(true)
    }
    async fn remove_factors(&self, user_id: UserId) -> StoreResult<()> {
        let mut state = self.state();
        state.totp.retain(|f| f.user_id != user_id);
        state.recovery_codes.retain(|c| c.user_id != user_id);
        state.mfa_challenges.retain(|c| c.user_id != user_id);
        Ok(())
    }
    async fn replace_recovery_codes(&self, user_id: UserId, digests: &[String], _at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        state.recovery_codes.retain(|c| c.user_id != user_id);
        state
            .recovery_codes
            .extend(digests.iter().map(|digest| FakeRecoveryCode {
                user_id,
                digest: digest.clone(),
                used_at: None,
            }));
        Ok(())
    }
    async fn use_recovery_code(&self, user_id: UserId, digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        let unused = state
            .recovery_codes
            .iter_mut()
            .find(|c| c.user_id == user_id && c.digest == digest && c.used_at.is_none());
        Ok(unused.map(|code| code.used_at = Some(at)).is_some())
    }
    async fn count_unused_recovery_codes(&self, user_id: UserId) -> StoreResult<u64> {
        let state = self.state();
        Ok(state
            .recovery_codes
            .iter()
            .filter(|c| c.user_id == user_id && c.used_at.is_none())
            .count() as u64)
    }
    async fn insert_challenge(&self, challenge: &MfaChallenge, now: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        state
            .mfa_challenges
            .retain(|c| c.user_id != challenge.user_id || c.is_usable(now));
        state.mfa_challenges.push(challenge.clone());
        Ok(())
    }
    async fn find_challenge(&self, digest: &str) -> StoreResult<Option<MfaChallenge>> {
        Ok(self.state().mfa_challenges.iter().find(|c| c.digest == digest).cloned())
    }
    async fn spend_attempt(&self, digest: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        let open = state
            .mfa_challenges
            .iter_mut()
            .find(|c| c.digest == digest && c.is_usable(now));
        Ok(open.map(|c| c.attempts += 1).is_some())
    }
    async fn use_challenge(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        let open = state
            .mfa_challenges
            .iter_mut()
            .find(|c| c.digest == digest && c.used_at.is_none() && c.attempts <= MfaChallenge::MAX_ATTEMPTS);
        Ok(open.map(|c| c.used_at = Some(at)).is_some())
    }
}

/// Numbered secrets and recovery codes; a code is a function of the secret and step.
#[derive(Default)]
pub struct FakeAuthenticators(Mutex<u64>);

impl FakeAuthenticators {
    fn next(&self) -> u64 {
        let mut counter = self.0.lock().expect("counter");
        *counter += 1;
        *counter
    }

    /// The code for `secret` in `step`.
    pub fn code_for_step(secret: &str, step: i64) -> String {
        let mut hasher = DefaultHasher::new();
        (secret, step).hash(&mut hasher);
        format!("{:06}", hasher.finish() % 1_000_000)
    }

    /// The code for `secret` at `at`.
    pub fn code_at(secret: &str, at: DateTime<Utc>) -> String {
        Self::code_for_step(secret, at.timestamp().div_euclid(30))
    }
}

impl Authenticators for FakeAuthenticators {
    fn new_secret(&self) -> String {
        format!("SECRET{}", self.next())
    }
    fn provisioning_uri(&self, secret: &str, account: &str) -> Result<String, Box<dyn StdError + Send + Sync>> {
        Ok(format!("otpauth://totp/Test:{account}?secret={secret}&issuer=Test"))
    }
    fn matching_step(&self, secret: &str, code: &str, at: DateTime<Utc>) -> Option<i64> {
        let current = at.timestamp().div_euclid(30);
        (current - 1..=current + 1).find(|step| Self::code_for_step(secret, *step) == code.trim())
    }
    fn recovery_code(&self) -> String {
        format!("rc{:02}-test-code", self.next())
    }
}

/// "Seals" as `sealed:<context>:<plain>`; opens only for the same context.
pub struct FakeSecretBox;

impl SecretBox for FakeSecretBox {
    fn seal(&self, plain: &str, context: &str) -> Result<String, Box<dyn StdError + Send + Sync>> {
        Ok(format!("sealed:{context}:{plain}"))
    }
    fn open(&self, sealed: &str, context: &str) -> Result<String, Box<dyn StdError + Send + Sync>> {
        sealed
            .strip_prefix(&format!("sealed:{context}:"))
            .map(str::to_owned)
            .ok_or_else(|| "sealed for another context".into())
    }
}
