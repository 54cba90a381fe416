//! Provisioning by a tenant's directory (SCIM 2.0): the tokens its directory client
//! presents, the people it provisions (each linked to a Tessera user and membership)
//! and its groups (each optionally mapped to a role of the tenant).

use chrono::{DateTime, Utc};

use crate::{InvalidValue, MembershipId, Name, RoleId, ScimGroupId, ScimTokenId, ScimUserId, TenantId, UserId};

/// A bearer token for the tenant's directory client: shown once, stored as a digest,
/// usable until revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub tenant_id: TenantId,
    pub name: Name,
    pub secret_digest: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ScimToken {
    /// The most live tokens a tenant holds (one per directory, and one more to rotate).
    pub const MAX_LIVE: u64 = 5;

    pub fn is_usable(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Whether a use at `now` should be written down (at most once a minute).
    pub fn use_worth_recording(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at
            .is_none_or(|at| now.signed_duration_since(at) >= chrono::Duration::minutes(1))
    }
}

/// A directory's user name: what the directory identifies the person by, unique in
/// the tenant without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserName(String);

impl ScimUserName {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_LEN {
            return Err(InvalidValue(format!("must be 1 to {} characters", Self::MAX_LEN)));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidValue("must not contain control characters".into()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A directory's own id for a resource (`externalId`), as it sent it.
pub fn parse_external_id(raw: &str) -> Result<String, InvalidValue> {
    const MAX_LEN: usize = 254;
    let id = raw.trim();
    if id.is_empty() || id.chars().count() > MAX_LEN || id.chars().any(char::is_control) {
        return Err(InvalidValue(format!(
            "must be 1 to {MAX_LEN} characters without control characters"
        )));
    }
    Ok(id.to_owned())
}

/// A person as the tenant's directory knows them: its own attributes (kept as the
/// directory sent them, in `attributes`, a JSON object), and the Tessera user and
/// membership the person is linked to — none while the record is pending (an address
/// outside the tenant's verified domains whose account is not a member: the directory
/// may not create or pull in such an account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    pub id: ScimUserId,
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    pub membership_id: Option<MembershipId>,
    pub user_name: ScimUserName,
    pub external_id: Option<String>,
    pub active: bool,
    /// The rest of the directory's representation (names, emails, …), a JSON object.
    pub attributes: String,
    /// Counts changes: a write based on an older version is refused.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A group of the tenant's directory; its members get the role it is mapped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: ScimGroupId,
    pub tenant_id: TenantId,
    pub display_name: String,
    pub external_id: Option<String>,
    /// The tenant role its members get (an owner sets it in Tessera; never the owner role).
    pub role_id: Option<RoleId>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ScimGroup {
    /// The most members one group holds: every change to a group's members is bounded
    /// by it.
    pub const MAX_MEMBERS: usize = 1_000;
    pub const MAX_NAME_LEN: usize = 200;

    pub fn parse_display_name(raw: &str) -> Result<String, InvalidValue> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(InvalidValue(format!(
                "must be 1 to {} characters without control characters",
                Self::MAX_NAME_LEN
            )));
        }
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_trimmed_and_bounded() {
        assert_eq!(
            ScimUserName::parse("  ada@acme.test ").expect("accepted").as_str(),
            "ada@acme.test"
        );
        assert!(ScimUserName::parse("   ").is_err());
        assert!(ScimUserName::parse(&"a".repeat(255)).is_err());
        assert!(ScimUserName::parse("a\u{0}b").is_err());
        assert!(parse_external_id("").is_err());
        assert_eq!(parse_external_id(" 00u1 ").expect("accepted"), "00u1");
        assert!(ScimGroup::parse_display_name(&"g".repeat(201)).is_err());
    }

    #[test]
    fn a_token_notes_its_use_at_most_once_a_minute() {
        let now = Utc::now();
        let mut token = ScimToken {
            id: ScimTokenId::from_uuid(uuid::Uuid::nil()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            name: Name::parse("directory").expect("accepted"),
            secret_digest: String::new(),
            created_by: UserId::from_uuid(uuid::Uuid::nil()),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        assert!(token.use_worth_recording(now));
        token.last_used_at = Some(now);
        assert!(!token.use_worth_recording(now + chrono::Duration::seconds(30)));
        assert!(token.use_worth_recording(now + chrono::Duration::seconds(60)));
        assert!(token.is_usable());
        token.revoked_at = Some(now);
        assert!(!token.is_usable());
    }
}
