use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sea_orm::{QuerySelect, QueryTrait};
use tessera_application::TenantScope;
use tessera_application::ports::{StoreResult, UserRepository};
use tessera_domain::{DisplayName, Email, User, UserId};

use crate::db::entities::{membership, onboarding_progress, session, user, user_token};
use crate::db::{SeaTransaction, db_failure, found, scoped, unique_as};

#[async_trait]
impl UserRepository for SeaTransaction {
    async fn insert(&self, user: &User) -> StoreResult<()> {
        self.insert_row(user::Model::from_domain(user), unique_as("email"))
            .await
    }

    async fn find_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        user::Entity::find_by_id(id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(user::Model::into_domain)
            .transpose()
    }

    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(user::Model::into_domain)
            .transpose()
    }

    async fn mark_email_verified(&self, id: UserId, at: chrono::DateTime<chrono::Utc>) -> StoreResult<()> {
        user::Entity::update_many()
            .col_expr(user::Column::EmailVerifiedAt, sea_orm::sea_query::Expr::value(Some(at)))
            .col_expr(user::Column::UpdatedAt, sea_orm::sea_query::Expr::value(at))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn update_password(
        &self,
        id: UserId,
        hash: &tessera_domain::PasswordHash,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::PasswordHash,
                sea_orm::sea_query::Expr::value(hash.as_str()),
            )
            .col_expr(user::Column::UpdatedAt, sea_orm::sea_query::Expr::value(at))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn set_platform_admin(&self, id: UserId, admin: bool) -> StoreResult<()> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::IsPlatformAdmin, sea_orm::sea_query::Expr::value(admin))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn anonymise(&self, id: UserId, email: &Email, name: &DisplayName, at: DateTime<Utc>) -> StoreResult<()> {
        use sea_orm::sea_query::Expr;
        let result = user::Entity::update_many()
            .col_expr(user::Column::Email, Expr::value(email.as_str()))
            .col_expr(user::Column::DisplayName, Expr::value(name.as_str()))
            .col_expr(user::Column::PasswordHash, Expr::value(""))
            .col_expr(user::Column::EmailVerifiedAt, Expr::value(None::<DateTime<Utc>>))
            .col_expr(user::Column::IsPlatformAdmin, Expr::value(false))
            .col_expr(user::Column::UpdatedAt, Expr::value(at))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)?;
        session::Entity::update_many()
            .col_expr(session::Column::Ip, Expr::value(None::<String>))
            .col_expr(session::Column::UserAgent, Expr::value(None::<String>))
            .filter(session::Column::UserId.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        onboarding_progress::Entity::delete_many()
            .filter(onboarding_progress::Column::UserId.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        user_token::Entity::delete_many()
            .filter(user_token::Column::UserId.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn update_display_name(&self, id: UserId, name: &DisplayName, at: DateTime<Utc>) -> StoreResult<()> {
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::DisplayName,
                sea_orm::sea_query::Expr::value(name.as_str()),
            )
            .col_expr(user::Column::UpdatedAt, sea_orm::sea_query::Expr::value(at))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn find_members_by_ids(&self, scope: &TenantScope, ids: &[UserId]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Users are global rows: the tenant's memberships decide which of them this
        // scope may read.
        let in_tenant = scoped::select::<membership::Entity>(scope)
            .select_only()
            .column(membership::Column::UserId)
            .filter(membership::Column::UserId.is_in(ids.iter().map(|id| id.as_uuid())))
            .into_query();
        user::Entity::find()
            .filter(user::Column::Id.in_subquery(in_tenant))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(user::Model::into_domain)
            .collect()
    }

    async fn exists_any(&self) -> StoreResult<bool> {
        Ok(user::Entity::find().one(&self.txn).await.map_err(db_failure)?.is_some())
    }
}

/// `rows` (a sub-select of `E`'s rows, named `alias`) joined to the users its `user_id`
/// column points at: `E`'s columns come back first (prefixed `m_`), then the user's
/// (`u_`); [`joined_row`] reads one back.
pub(super) fn joined_to_users<E: sea_orm::EntityTrait>(
    rows: sea_orm::sea_query::SelectStatement,
    alias: &sea_orm::sea_query::Alias,
    user_id: E::Column,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
    use sea_orm::{IdenStatic as _, Iterable as _};
    let mut joined = Query::select();
    for column in E::Column::iter() {
        joined.expr_as(
            Expr::col((alias.clone(), column)),
            Alias::new(format!("m_{}", column.as_str())),
        );
    }
    for column in user::Column::iter() {
        joined.expr_as(
            Expr::col((user::Entity, column)),
            Alias::new(format!("u_{}", column.as_str())),
        );
    }
    joined.from_subquery(rows, alias.clone()).inner_join(
        user::Entity,
        Expr::col((user::Entity, user::Column::Id)).equals((alias.clone(), user_id)),
    );
    joined
}

/// One row of [`joined_to_users`]: `E`'s model and its user's, read by position.
pub(super) fn joined_row<M: crate::db::entities::Positional>(
    row: &sea_orm::QueryResult,
) -> Result<(M, user::Model), sea_orm::DbErr> {
    use crate::db::entities::Positional as _;
    Ok((M::at(row, 0)?, user::Model::at(row, M::COLUMNS.len())?))
}
