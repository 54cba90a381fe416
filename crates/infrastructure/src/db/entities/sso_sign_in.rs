use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_sign_ins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_digest: String,
    pub sign_in_tenant_id: Uuid,
    pub nonce: String,
    pub sealed_code_verifier: String,
    pub browser_digest: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub callback_at: Option<DateTimeUtc>,
    pub user_id: Option<Uuid>,
    pub handover_digest: Option<String>,
    pub handed_over_at: Option<DateTimeUtc>,
    pub app_state: Option<String>,
}

super::table!();
