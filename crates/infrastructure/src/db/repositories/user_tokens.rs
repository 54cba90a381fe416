use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tessera_application::ports::{StoreResult, UserTokenRepository};
use tessera_domain::UserId;
use tessera_domain::{TokenPurpose, UserToken};

use crate::db::entities::{corrupt, user_token};
use crate::db::{SeaTransaction, db_failure, found};

#[async_trait]
impl UserTokenRepository for SeaTransaction {
    async fn insert(&self, token: &UserToken) -> StoreResult<()> {
        self.insert_row(
            user_token::Model {
                token_digest: token.digest.clone(),
                user_id: token.user_id.as_uuid(),
                purpose: token.purpose.as_str().to_owned(),
                created_at: token.created_at,
                expires_at: token.expires_at,
                used_at: token.used_at,
            },
            db_failure,
        )
        .await
    }

    async fn find_by_digest(&self, digest: &str) -> StoreResult<Option<UserToken>> {
        let Some(row) = user_token::Entity::find_by_id(digest.to_owned())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
        else {
            return Ok(None);
        };
        Ok(Some(UserToken {
            purpose: TokenPurpose::parse(&row.purpose)
                .ok_or_else(|| corrupt("user_tokens", "purpose", &row.purpose))?,
            digest: row.token_digest,
            user_id: UserId::from_uuid(row.user_id),
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
        }))
    }

    async fn mark_used(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let result = user_token::Entity::update_many()
            .col_expr(user_token::Column::UsedAt, Expr::value(Some(at)))
            .filter(user_token::Column::TokenDigest.eq(digest))
            .filter(user_token::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn retire_all(&self, user_id: UserId, purpose: TokenPurpose, at: DateTime<Utc>) -> StoreResult<()> {
        user_token::Entity::update_many()
            .col_expr(user_token::Column::UsedAt, Expr::value(Some(at)))
            .filter(user_token::Column::UserId.eq(user_id.as_uuid()))
            .filter(user_token::Column::Purpose.eq(purpose.as_str()))
            .filter(user_token::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }
}
