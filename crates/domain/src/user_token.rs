//! Single-use tokens mailed to a person: one proves they own their address, one lets
//! them set a new password. Only a digest is stored; a token works once, before it
//! expires.

use chrono::{DateTime, Utc};

use crate::UserId;

/// What a mailed user token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

/// A single-use token mailed to a user; only its digest is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub digest: String,
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl UserToken {
    /// Unused, not expired, and for `purpose`.
    pub fn is_usable_for(&self, purpose: TokenPurpose, now: DateTime<Utc>) -> bool {
        self.purpose == purpose && self.used_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_token_works_once_for_its_purpose_before_it_expires() {
        let now = Utc::now();
        let mut token = UserToken {
            digest: "d".into(),
            user_id: UserId::from_uuid(Uuid::nil()),
            purpose: TokenPurpose::ResetPassword,
            created_at: now,
            expires_at: now + Duration::hours(1),
            used_at: None,
        };
        assert!(token.is_usable_for(TokenPurpose::ResetPassword, now));
        assert!(!token.is_usable_for(TokenPurpose::VerifyEmail, now), "another purpose");
        assert!(
            !token.is_usable_for(TokenPurpose::ResetPassword, now + Duration::hours(2)),
            "expired"
        );
        token.used_at = Some(now);
        assert!(!token.is_usable_for(TokenPurpose::ResetPassword, now), "used");
        for purpose in [TokenPurpose::VerifyEmail, TokenPurpose::ResetPassword] {
            assert_eq!(TokenPurpose::parse(purpose.as_str()), Some(purpose));
        }
    }
}
