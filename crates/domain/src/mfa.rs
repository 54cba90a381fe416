//! A second factor for password log-ins: a TOTP authenticator (RFC 6238) a person
//! enrols and confirms, recovery codes for when it is lost (each works once), and the
//! short-lived challenge a correct password leads to when a second factor is needed.

use chrono::{DateTime, Duration, Utc};

use crate::{TenantId, UserId};

/// A person's TOTP authenticator. Its secret is stored sealed (encrypted); until a
/// first code confirms it, it guards nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub user_id: UserId,
    /// The shared secret, encrypted at rest and bound to this person.
    pub sealed_secret: String,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last time step a code was accepted for: a code works once (RFC 6238 §5.2).
    pub last_used_step: Option<i64>,
}

impl TotpFactor {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// Whether a code matching `step` may still be accepted: only a step later than
    /// the last one used, so an overheard code cannot be replayed.
    pub fn accepts_step(&self, step: i64) -> bool {
        self.last_used_step.is_none_or(|last| step > last)
    }
}

/// How many recovery codes a person gets at a time.
pub const RECOVERY_CODES: usize = 10;

/// A recovery code as typed: case, spaces and dashes do not matter.
pub fn normalize_recovery_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a correct password leads to when a second factor is needed: the person and the
/// tenant chosen, valid for a few minutes and a few codes tried, used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub digest: String,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Codes tried so far (each counted before it is checked).
    pub attempts: u32,
    pub used_at: Option<DateTime<Utc>>,
}

impl MfaChallenge {
    /// How long a challenge lives.
    pub const LIFETIME: Duration = Duration::minutes(5);
    /// Codes a challenge takes before it is spent.
    pub const MAX_ATTEMPTS: u32 = 5;

    /// Unused, unexpired and with a code left to try.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && now < self.expires_at && self.attempts < Self::MAX_ATTEMPTS
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_step_is_accepted_once_and_only_after_the_last_one() {
        let mut factor = TotpFactor {
            user_id: UserId::from_uuid(Uuid::nil()),
            sealed_secret: "sealed".into(),
            created_at: Utc::now(),
            confirmed_at: None,
            last_used_step: None,
        };
        assert!(!factor.is_confirmed());
        assert!(factor.accepts_step(100));
        factor.last_used_step = Some(100);
        assert!(!factor.accepts_step(100), "the same step again is a replay");
        assert!(!factor.accepts_step(99), "an earlier step too");
        assert!(factor.accepts_step(101));
    }

    #[test]
    fn a_challenge_ends_when_used_expired_or_worn_out() {
        let now = Utc::now();
        let mut challenge = MfaChallenge {
            digest: "d".into(),
            user_id: UserId::from_uuid(Uuid::nil()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            created_at: now,
            expires_at: now + MfaChallenge::LIFETIME,
            attempts: MfaChallenge::MAX_ATTEMPTS - 1,
            used_at: None,
        };
        assert!(challenge.is_usable(now));
        assert!(!challenge.is_usable(now + MfaChallenge::LIFETIME), "expired");
        challenge.attempts += 1;
        assert!(!challenge.is_usable(now), "too many wrong codes");
        challenge.attempts = 0;
        challenge.used_at = Some(now);
        assert!(!challenge.is_usable(now), "used");
    }

    #[test]
    fn recovery_codes_compare_without_case_spaces_or_dashes() {
        assert_eq!(normalize_recovery_code(" AB3D-EF5G-h7 "), "ab3def5gh7");
    }
}
