//! An invitation to join a tenant with a role: addressed to one email, single use,
//! expiring. Only a digest of its token is ever stored.

use chrono::{DateTime, Utc};

use crate::{Email, InvitationId, RoleId, TenantId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
}

impl InvitationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// Why an invitation cannot be used (or changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("this invitation has already been used")]
    AlreadyAccepted,
    #[error("this invitation has been revoked")]
    Revoked,
    #[error("this invitation has expired")]
    Expired,
    #[error("this invitation is addressed to another email address")]
    WrongRecipient,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub role_id: RoleId,
    pub invited_by: UserId,
    pub token_digest: String,
    pub status: InvitationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl Invitation {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Pending, unexpired, and addressed to `email`: then it becomes accepted.
    pub fn accept(&mut self, email: &Email, now: DateTime<Utc>) -> Result<(), InvitationError> {
        match self.status {
            InvitationStatus::Accepted => return Err(InvitationError::AlreadyAccepted),
            InvitationStatus::Revoked => return Err(InvitationError::Revoked),
            InvitationStatus::Pending => {}
        }
        if self.is_expired(now) {
            return Err(InvitationError::Expired);
        }
        if &self.email != email {
            return Err(InvitationError::WrongRecipient);
        }
        self.status = InvitationStatus::Accepted;
        self.accepted_at = Some(now);
        Ok(())
    }

    /// Only a pending invitation can be revoked.
    pub fn revoke(&mut self) -> Result<(), InvitationError> {
        match self.status {
            InvitationStatus::Pending => {
                self.status = InvitationStatus::Revoked;
                Ok(())
            }
            InvitationStatus::Accepted => Err(InvitationError::AlreadyAccepted),
            InvitationStatus::Revoked => Err(InvitationError::Revoked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    fn invitation(now: DateTime<Utc>) -> Invitation {
        Invitation {
            id: InvitationId::from_uuid(Uuid::nil()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            email: Email::parse("ada@example.com").expect("email"),
            role_id: RoleId::from_uuid(Uuid::nil()),
            invited_by: UserId::from_uuid(Uuid::nil()),
            token_digest: "digest".into(),
            status: InvitationStatus::Pending,
            created_at: now,
            expires_at: now + Duration::days(7),
            accepted_at: None,
        }
    }

    #[test]
    fn an_invitation_is_accepted_once_by_its_recipient_before_it_expires() {
        let now = Utc::now();
        let ada = Email::parse("ADA@example.com").expect("email");
        let grace = Email::parse("grace@example.com").expect("email");

        let mut wrong = invitation(now);
        assert_eq!(wrong.accept(&grace, now), Err(InvitationError::WrongRecipient));
        assert_eq!(wrong.status, InvitationStatus::Pending);

        let mut late = invitation(now);
        assert_eq!(
            late.accept(&ada, now + Duration::days(8)),
            Err(InvitationError::Expired)
        );

        let mut ok = invitation(now);
        assert_eq!(ok.accept(&ada, now), Ok(()));
        assert_eq!(ok.accept(&ada, now), Err(InvitationError::AlreadyAccepted));
        assert_eq!(ok.revoke(), Err(InvitationError::AlreadyAccepted));

        let mut revoked = invitation(now);
        assert_eq!(revoked.revoke(), Ok(()));
        assert_eq!(revoked.accept(&ada, now), Err(InvitationError::Revoked));
    }
}
