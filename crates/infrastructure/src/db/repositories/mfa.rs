//! Second factors: TOTP authenticators, recovery codes and log-in challenges (global
//! tables, like users). Every "only once" rule is a conditional update, so two
//! requests racing with the same code or challenge cannot both win.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
use tessera_application::ports::{MfaRepository, StoreError, StoreResult};
use tessera_domain::{MfaChallenge, TenantId, TotpFactor, UserId};

use crate::db::entities::{mfa_challenge, mfa_recovery_code, user_totp};
use crate::db::{SeaTransaction, db_failure, found};

#[async_trait]
impl MfaRepository for SeaTransaction {
    async fn find_totp(&self, user_id: UserId) -> StoreResult<Option<TotpFactor>> {
        Ok(user_totp::Entity::find_by_id(user_id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(|row| TotpFactor {
                user_id: UserId::from_uuid(row.user_id),
                sealed_secret: row.sealed_secret,
                created_at: row.created_at,
                confirmed_at: row.confirmed_at,
                last_used_step: row.last_used_step,
            }))
    }

    async fn put_pending_totp(&self, factor: &TotpFactor) -> StoreResult<()> {
        let user = factor.user_id.as_uuid();
        user_totp::Entity::delete_many()
            .filter(user_totp::Column::UserId.eq(user))
            .filter(user_totp::Column::ConfirmedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        self.insert_row(
            user_totp::Model {
                user_id: user,
                sealed_secret: factor.sealed_secret.clone(),
                created_at: factor.created_at,
                confirmed_at: None,
                last_used_step: None,
            },
            |_| StoreError::Duplicate("totp"),
        )
        .await
    }

    async fn confirm_totp(&self, user_id: UserId, step: i64, at: DateTime<Utc>) -> StoreResult<()> {
        let result = user_totp::Entity::update_many()
            .col_expr(user_totp::Column::ConfirmedAt, Expr::value(Some(at)))
            .col_expr(user_totp::Column::LastUsedStep, Expr::value(Some(step)))
            .filter(user_totp::Column::UserId.eq(user_id.as_uuid()))
            .filter(user_totp::Column::ConfirmedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let result = user_totp::Entity::update_many()
            .col_expr(user_totp::Column::LastUsedStep, Expr::value(Some(step)))
            .filter(user_totp::Column::UserId.eq(user_id.as_uuid()))
            .filter(user_totp::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(user_totp::Column::LastUsedStep.is_null())
                    .add(user_totp::Column::LastUsedStep.lt(step)),
            )
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected == 1)
    }

    async fn remove_factors(&self, user_id: UserId) -> StoreResult<()> {
        mfa_challenge::Entity::delete_many()
            .filter(mfa_challenge::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        mfa_recovery_code::Entity::delete_many()
            .filter(mfa_recovery_code::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        user_totp::Entity::delete_many()
            .filter(user_totp::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn replace_recovery_codes(&self, user_id: UserId, digests: &[String], at: DateTime<Utc>) -> StoreResult<()> {
        mfa_recovery_code::Entity::delete_many()
            .filter(mfa_recovery_code::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        if digests.is_empty() {
            return Ok(());
        }
        let rows = digests.iter().map(|digest| mfa_recovery_code::ActiveModel {
            user_id: sea_orm::Set(user_id.as_uuid()),
            code_digest: sea_orm::Set(digest.clone()),
            created_at: sea_orm::Set(at),
            used_at: sea_orm::Set(None),
        });
        mfa_recovery_code::Entity::insert_many(rows)
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn use_recovery_code(&self, user_id: UserId, digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = mfa_recovery_code::Entity::update_many()
            .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(Some(at)))
            .filter(mfa_recovery_code::Column::UserId.eq(user_id.as_uuid()))
            .filter(mfa_recovery_code::Column::CodeDigest.eq(digest))
            .filter(mfa_recovery_code::Column::UsedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected == 1)
    }

    async fn count_unused_recovery_codes(&self, user_id: UserId) -> StoreResult<u64> {
        mfa_recovery_code::Entity::find()
            .filter(mfa_recovery_code::Column::UserId.eq(user_id.as_uuid()))
            .filter(mfa_recovery_code::Column::UsedAt.is_null())
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn insert_challenge(&self, challenge: &MfaChallenge, now: DateTime<Utc>) -> StoreResult<()> {
        mfa_challenge::Entity::delete_many()
            .filter(mfa_challenge::Column::UserId.eq(challenge.user_id.as_uuid()))
            .filter(
                Condition::any()
                    .add(mfa_challenge::Column::UsedAt.is_not_null())
                    .add(mfa_challenge::Column::ExpiresAt.lte(now))
                    .add(mfa_challenge::Column::Attempts.gte(MfaChallenge::MAX_ATTEMPTS as i32)),
            )
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        self.insert_row(
            mfa_challenge::Model {
                challenge_digest: challenge.digest.clone(),
                user_id: challenge.user_id.as_uuid(),
                log_in_tenant_id: challenge.tenant_id.as_uuid(),
                created_at: challenge.created_at,
                expires_at: challenge.expires_at,
                attempts: challenge.attempts as i32,
                used_at: challenge.used_at,
            },
            db_failure,
        )
        .await
    }

    async fn find_challenge(&self, digest: &str) -> StoreResult<Option<MfaChallenge>> {
        Ok(mfa_challenge::Entity::find_by_id(digest.to_owned())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(|row| MfaChallenge {
                digest: row.challenge_digest,
                user_id: UserId::from_uuid(row.user_id),
                tenant_id: TenantId::from_uuid(row.log_in_tenant_id),
                created_at: row.created_at,
                expires_at: row.expires_at,
                attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                used_at: row.used_at,
            }))
    }

    async fn spend_attempt(&self, digest: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let result = mfa_challenge::Entity::update_many()
            .col_expr(
                mfa_challenge::Column::Attempts,
                Expr::col(mfa_challenge::Column::Attempts).add(1),
            )
            .filter(mfa_challenge::Column::ChallengeDigest.eq(digest))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .filter(mfa_challenge::Column::ExpiresAt.gt(now))
            .filter(mfa_challenge::Column::Attempts.lt(MfaChallenge::MAX_ATTEMPTS as i32))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected == 1)
    }

    async fn use_challenge(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = mfa_challenge::Entity::update_many()
            .col_expr(mfa_challenge::Column::UsedAt, Expr::value(Some(at)))
            .filter(mfa_challenge::Column::ChallengeDigest.eq(digest))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .filter(mfa_challenge::Column::Attempts.lte(MfaChallenge::MAX_ATTEMPTS as i32))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected == 1)
    }
}
