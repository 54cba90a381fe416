//! A tenant API key: acts in its own tenant only, with at most the permissions it was
//! given, and never beyond what its creator still holds there. Only a digest of its
//! secret is stored; the secret is shown once.

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
    /// A key's use is written down at most this often (`lastUsedAt` may lag this much).
    pub const USE_RECORD_INTERVAL_SECONDS: i64 = 60;

    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }

    /// The permissions this key keeps when its creator holds only `held`: `None` when
    /// nothing is taken away, else what remains (possibly nothing).
    pub fn confined_to(&self, held: &PermissionSet) -> Option<PermissionSet> {
        let kept: PermissionSet = self.permissions.iter().filter(|p| held.contains(*p)).collect();
        (kept != self.permissions).then_some(kept)
    }

    /// Cuts the key down to what its creator holds; `false` when nothing was taken away.
    pub fn restrict_to(&mut self, held: &PermissionSet) -> bool {
        match self.confined_to(held) {
            Some(kept) => {
                self.permissions = kept;
                true
            }
            None => false,
        }
    }

    /// Whether its use was written down within the last interval.
    pub fn use_recorded_lately(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at
            .is_some_and(|at| (now - at).num_seconds() < Self::USE_RECORD_INTERVAL_SECONDS)
    }

    /// Notes a use at `now` unless one was noted lately; `true` when it is to be written.
    pub fn note_use(&mut self, now: DateTime<Utc>) -> bool {
        if self.use_recorded_lately(now) {
            return false;
        }
        self.last_used_at = Some(now);
        true
    }

    /// Revokes the key; `false` when it was already revoked (nothing changes).
    pub fn revoke(&mut self, now: DateTime<Utc>) -> bool {
        if self.revoked_at.is_some() {
            return false;
        }
        self.revoked_at = Some(now);
        true
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
        assert!(key.revoke(now));
        assert!(!key.is_usable(now));
        assert!(!key.revoke(now + Duration::days(1)), "revoked once");
        assert_eq!(key.revoked_at, Some(now));
    }

    #[test]
    fn a_use_is_noted_at_most_once_a_minute() {
        let now = Utc::now();
        let mut key = ApiKey {
            id: ApiKeyId::from_uuid(Uuid::nil()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            name: Name::parse("CI").expect("name"),
            permissions: PermissionSet::default(),
            secret_digest: "digest".into(),
            created_by: UserId::from_uuid(Uuid::nil()),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        assert!(key.note_use(now));
        assert!(!key.note_use(now + Duration::seconds(59)), "noted lately");
        assert!(key.note_use(now + Duration::seconds(60)));
        assert_eq!(key.last_used_at, Some(now + Duration::seconds(60)));
    }

    #[test]
    fn a_key_is_confined_to_what_its_creator_still_holds() {
        use crate::Permission;
        let key = ApiKey {
            id: ApiKeyId::from_uuid(Uuid::nil()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            name: Name::parse("CI").expect("name"),
            permissions: [Permission::MembersRead, Permission::WorkspacesCreate]
                .into_iter()
                .collect(),
            secret_digest: "digest".into(),
            created_by: UserId::from_uuid(Uuid::nil()),
            created_at: Utc::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        assert_eq!(key.confined_to(&PermissionSet::all()), None, "nothing taken away");
        assert_eq!(
            key.confined_to(&[Permission::MembersRead, Permission::AuditRead].into_iter().collect()),
            Some([Permission::MembersRead].into_iter().collect())
        );
        assert_eq!(
            key.confined_to(&PermissionSet::default()),
            Some(PermissionSet::default()),
            "a creator who holds nothing leaves the key nothing"
        );
        let mut cut = key.clone();
        assert!(!cut.restrict_to(&PermissionSet::all()));
        assert!(cut.restrict_to(&[Permission::MembersRead].into_iter().collect()));
        assert_eq!(cut.permissions, [Permission::MembersRead].into_iter().collect());
    }
}
