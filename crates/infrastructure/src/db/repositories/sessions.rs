use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tessera_application::identity::ClientInfo;
use tessera_application::ports::{NewSession, SessionRepository, StoreResult};
use tessera_application::{Page, PageRequest};
use tessera_domain::Session;
use tessera_domain::{SessionId, TenantId, UserId};

use crate::db::entities::{session, used_refresh_token};
use crate::db::{SeaTransaction, db_failure, found, keyset, unique_as};

#[async_trait]
impl SessionRepository for SeaTransaction {
    async fn insert(&self, new: &NewSession) -> StoreResult<()> {
        self.insert_row(
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
                second_factor_at: new.second_factor_at,
            },
            unique_as("refreshToken"),
        )
        .await
    }

    async fn find_by_id(&self, id: SessionId) -> StoreResult<Option<Session>> {
        Ok(session::Entity::find_by_id(id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(session::Model::into_record))
    }

    async fn find_by_refresh_digest(&self, digest: &str) -> StoreResult<Option<Session>> {
        Ok(session::Entity::find()
            .filter(session::Column::RefreshTokenHash.eq(digest))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(session::Model::into_record))
    }

    async fn find_by_used_refresh_digest(&self, digest: &str) -> StoreResult<Option<SessionId>> {
        Ok(used_refresh_token::Entity::find_by_id(digest.to_owned())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(|row| SessionId::from_uuid(row.session_id)))
    }

    async fn rotate(
        &self,
        id: SessionId,
        old_digest: &str,
        new_digest: &str,
        tenant_id: TenantId,
        client: &ClientInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut update = session::Entity::update_many();
        if let Some(user_agent) = &client.user_agent {
            update = update.col_expr(session::Column::UserAgent, Expr::value(Some(user_agent.clone())));
        }
        if let Some(ip) = &client.ip {
            update = update.col_expr(session::Column::Ip, Expr::value(Some(ip.clone())));
        }
        let result = update
            .col_expr(session::Column::RefreshTokenHash, Expr::value(new_digest))
            .col_expr(session::Column::CurrentTenantId, Expr::value(tenant_id.as_uuid()))
            .col_expr(session::Column::LastUsedAt, Expr::value(Some(now)))
            .filter(session::Column::Id.eq(id.as_uuid()))
            .filter(session::Column::RefreshTokenHash.eq(old_digest))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)?;
        self.insert_row(
            used_refresh_token::Model {
                token_digest: old_digest.to_owned(),
                session_id: id.as_uuid(),
                used_at: now,
            },
            db_failure,
        )
        .await
    }

    async fn revoke(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
            .filter(session::Column::Id.eq(id.as_uuid()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn mark_second_factor(&self, id: SessionId, at: DateTime<Utc>) -> StoreResult<()> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::SecondFactorAt, Expr::value(Some(at)))
            .filter(session::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn revoke_all_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionId>> {
        self.revoke_live(user_id, None, now).await
    }

    async fn revoke_for_user_in_tenant(
        &self,
        user_id: UserId,
        scope: &tessera_application::TenantScope,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionId>> {
        self.revoke_live(user_id, Some(scope.tenant_id()), now).await
    }

    async fn count_live_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<u64> {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_uuid()))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn list_live_for_user(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Session>> {
        let query = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_uuid()))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now));
        keyset::fetch(
            &self.txn,
            query,
            session::Column::CreatedAt,
            session::Column::Id,
            page,
            |row| Ok(session::Model::into_record(row)),
        )
        .await
    }
}

impl SeaTransaction {
    /// Revokes the user's live sessions (those whose current tenant is `tenant_id`, when
    /// given); answers their ids.
    async fn revoke_live(
        &self,
        user_id: UserId,
        tenant_id: Option<TenantId>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionId>> {
        let mut live = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_uuid()))
            .filter(session::Column::RevokedAt.is_null());
        if let Some(tenant_id) = tenant_id {
            live = live.filter(session::Column::CurrentTenantId.eq(tenant_id.as_uuid()));
        }
        let ids: Vec<SessionId> = live
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .iter()
            .map(|s| SessionId::from_uuid(s.id))
            .collect();
        if !ids.is_empty() {
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
                .filter(session::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
                .filter(session::Column::RevokedAt.is_null())
                .exec(&self.txn)
                .await
                .map_err(db_failure)?;
        }
        Ok(ids)
    }
}
