//! A log-in session: the refresh-token family a person's token pairs belong to. It
//! lives until it expires or is ended (log-out, a reset password, a replayed refresh
//! token); its access tokens stop working with it.

use chrono::{DateTime, Utc};

use crate::{SessionId, TenantId, UserId};

/// A stored session (its refresh token is kept only as a digest, and not here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub current_tenant_id: TenantId,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the person proved a second factor in this session (a TOTP or recovery code
    /// at log-in, or confirming an authenticator in it); `None`: password only.
    pub second_factor_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Neither ended nor expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_session_lives_until_it_is_ended_or_expires() {
        let now = Utc::now();
        let mut session = Session {
            id: SessionId::from_uuid(Uuid::nil()),
            user_id: UserId::from_uuid(Uuid::nil()),
            current_tenant_id: TenantId::from_uuid(Uuid::nil()),
            user_agent: None,
            ip: None,
            created_at: now,
            last_used_at: None,
            expires_at: now + Duration::days(30),
            revoked_at: None,
            second_factor_at: None,
        };
        assert!(session.is_live(now));
        assert!(!session.is_live(now + Duration::days(31)), "expired");
        session.revoked_at = Some(now);
        assert!(!session.is_live(now + Duration::seconds(1)), "ended");
    }
}
