//! Newtype identifiers. A `UserId` can never be passed where a `TenantId` is expected;
//! conversion to and from `Uuid` happens only at the edges (rows, wire ids).

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The raw text was not a well-formed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid id")]
pub struct InvalidId;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
            /// Parses the canonical hyphenated form (as sent by clients).
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                Uuid::try_parse(raw.trim()).map(Self).map_err(|_| InvalidId)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

typed_id!(/// A tenant's webhook endpoint.
    WebhookEndpointId);
typed_id!(/// One event sent (or to be sent) to one webhook endpoint.
    WebhookDeliveryId);
typed_id!(/// A tenant (organization).
    TenantId);
typed_id!(/// A tenant's SCIM bearer token.
    ScimTokenId);
typed_id!(/// A person as the tenant's directory provisioned them.
    ScimUserId);
typed_id!(/// A group of the tenant's directory.
    ScimGroupId);
typed_id!(/// One export of a tenant's data.
    TenantExportId);
typed_id!(/// A global user identity.
    UserId);
typed_id!(/// A workspace inside one tenant.
    WorkspaceId);
typed_id!(/// A user's membership of one tenant.
    MembershipId);
typed_id!(/// A role inside one tenant.
    RoleId);
typed_id!(/// A user's membership of one workspace.
    WorkspaceMembershipId);
typed_id!(/// A log-in session (refresh-token family).
    SessionId);
typed_id!(/// An invitation to join a tenant.
    InvitationId);
typed_id!(/// A tenant API key.
    ApiKeyId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_canonical_uuid_and_rejects_garbage() {
        let raw = "0190a3c4-6a7b-7cde-8f01-23456789abcd";
        assert_eq!(TenantId::parse(raw).map(|t| t.to_string()), Ok(raw.to_owned()));
        assert_eq!(TenantId::parse("not-an-id"), Err(InvalidId));
        assert_eq!(UserId::parse(""), Err(InvalidId));
    }
}
