use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{ApiKey, ApiKeyId, Name, PermissionSet, TenantId, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// Permission names, comma-separated.
    pub permissions: String,
    pub secret_digest: String,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<ApiKey, StoreError> {
        let permissions = PermissionSet::parse_names(self.permissions.split(',').filter(|p| !p.is_empty()))
            .map_err(|unknown| corrupt("api_keys", "permissions", unknown.join(",")))?;
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            name: Name::parse(&self.name).map_err(|e| corrupt("api_keys", "name", e))?,
            permissions,
            secret_digest: self.secret_digest,
            created_by: UserId::from_uuid(self.created_by),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
        })
    }

    pub fn from_domain(key: &ApiKey) -> Self {
        Self {
            tenant_id: key.tenant_id.as_uuid(),
            id: key.id.as_uuid(),
            name: key.name.as_str().to_owned(),
            permissions: permission_text(&key.permissions),
            secret_digest: key.secret_digest.clone(),
            created_by: key.created_by.as_uuid(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// How a key's permissions are stored: their names, comma-separated, in the catalogue's
/// order (so two equal sets are stored as equal text).
pub fn permission_text(permissions: &PermissionSet) -> String {
    permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}
