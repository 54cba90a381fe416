//! A tenant API key: acts in its own tenant only, with at most the permissions it was
//! given. Only a digest of its secret is stored; the secret is shown once.

use chrono::{DateTime, Utc};

use crate::{ApiKeyId, Name, PermissionSet, TenantId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: Name,
    pub permissions: PermissionSet,
    pub secret_digest: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    #[test]
    fn a_key_is_usable_until_revoked_or_expired() {
        let now = Utc::now();
        let mut key = ApiKey {
            id: ApiKeyId::from_uuid(Uuid::nil()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            name: Name::parse("CI").expect("name"),
            permissions: PermissionSet::default(),
            secret_digest: "digest".into(),
            created_by: UserId::from_uuid(Uuid::nil()),
            created_at: now,
            expires_at: Some(now + Duration::days(1)),
            revoked_at: None,
            last_used_at: None,
        };
        assert!(key.is_usable(now));
        assert!(!key.is_usable(now + Duration::days(2)));
        key.expires_at = None;
        assert!(key.is_usable(now + Duration::days(400)));
        key.revoked_at = Some(now);
        assert!(!key.is_usable(now));
    }
}
