use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub current_tenant_id: Uuid,
    pub refresh_token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub second_factor_at: Option<DateTimeUtc>,
}

super::table!();

impl Model {
    pub fn into_record(self) -> tessera_domain::Session {
        tessera_domain::Session {
            id: tessera_domain::SessionId::from_uuid(self.id),
            user_id: tessera_domain::UserId::from_uuid(self.user_id),
            current_tenant_id: tessera_domain::TenantId::from_uuid(self.current_tenant_id),
            user_agent: self.user_agent,
            ip: self.ip,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            second_factor_at: self.second_factor_at,
        }
    }
}
