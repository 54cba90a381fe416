use async_trait::async_trait;
use sea_orm::{ActiveModelTrait, IntoActiveModel};
use tessera_application::ports::{NewSession, SessionRepository, StoreResult};

use crate::db::entities::session;
use crate::db::{SeaTransaction, unique_as};

#[async_trait]
impl SessionRepository for SeaTransaction {
    async fn insert(&self, new: &NewSession) -> StoreResult<()> {
        session::Model {
            id: new.id.as_uuid(),
            user_id: new.user_id.as_uuid(),
            current_tenant_id: new.current_tenant_id.as_uuid(),
            refresh_token_hash: new.refresh_token_hash.clone(),
            user_agent: new.user_agent.clone(),
            ip: new.ip.clone(),
            created_at: new.created_at,
            last_used_at: None,
            expires_at: new.expires_at,
            revoked_at: None,
        }
        .into_active_model()
        .reset_all()
        .insert(&self.txn)
        .await
        .map_err(unique_as("refreshToken"))?;
        Ok(())
    }
}
