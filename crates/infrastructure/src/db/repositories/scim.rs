//! What a tenant's directory provisioned: tokens, people, groups and group members,
//! every statement through the query lock.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use tessera_application::TenantScope;
use tessera_application::ports::{ScimGroupFilter, ScimRepository, ScimSlice, ScimUserFilter, StoreError, StoreResult};
use tessera_domain::{RoleId, ScimGroup, ScimGroupId, ScimToken, ScimTokenId, ScimUser, ScimUserId, UserId};

use crate::db::entities::{scim_group, scim_group_member, scim_token, scim_user};
use crate::db::{SeaTransaction, db_failure, scoped, unchanged};

/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

/// A broken unique rule of `scim_users`: the user linked twice, or the name taken.
fn user_conflict(error: DbErr) -> StoreError {
    match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(message))
            if message.contains("ux_scim_users_user") || message.contains("scim_users.user_id") =>
        {
            StoreError::Duplicate("user")
        }
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StoreError::Duplicate("userName"),
        _ => StoreError::failure(error),
    }
}

fn group_conflict(error: DbErr) -> StoreError {
    match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StoreError::Duplicate("displayName"),
        _ => StoreError::failure(error),
    }
}

#[async_trait]
impl ScimRepository for SeaTransaction {
    async fn insert_token(&self, scope: &TenantScope, token: &ScimToken) -> StoreResult<()> {
        scoped::ensure_owned(scope, token.tenant_id)?;
        self.insert_row(scim_token::Model::from_domain(token), db_failure).await
    }

    async fn find_token(&self, scope: &TenantScope, id: ScimTokenId) -> StoreResult<Option<ScimToken>> {
        scoped::select::<scim_token::Entity>(scope)
            .filter(scim_token::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(scim_token::Model::into_domain)
            .transpose()
    }

    async fn list_tokens(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<ScimToken>> {
        scoped::select::<scim_token::Entity>(scope)
            .order_by_desc(scim_token::Column::CreatedAt)
            .order_by_desc(scim_token::Column::Id)
            .limit(limit)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(scim_token::Model::into_domain)
            .collect()
    }

    async fn count_live_tokens(&self, scope: &TenantScope) -> StoreResult<u64> {
        scoped::select::<scim_token::Entity>(scope)
            .filter(scim_token::Column::RevokedAt.is_null())
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn revoke_token(&self, scope: &TenantScope, id: ScimTokenId, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = scoped::update::<scim_token::Entity>(scope)
            .col_expr(scim_token::Column::RevokedAt, Expr::value(Some(at)))
            .filter(scim_token::Column::Id.eq(id.as_uuid()))
            .filter(scim_token::Column::RevokedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected > 0)
    }

    async fn record_token_use(&self, scope: &TenantScope, id: ScimTokenId, at: DateTime<Utc>) -> StoreResult<()> {
        scoped::update::<scim_token::Entity>(scope)
            .col_expr(scim_token::Column::LastUsedAt, Expr::value(Some(at)))
            .filter(scim_token::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn insert_user(&self, scope: &TenantScope, user: &ScimUser) -> StoreResult<()> {
        scoped::ensure_owned(scope, user.tenant_id)?;
        self.insert_row(scim_user::Model::from_domain(user), user_conflict)
            .await
    }

    async fn find_user(&self, scope: &TenantScope, id: ScimUserId) -> StoreResult<Option<ScimUser>> {
        scoped::select::<scim_user::Entity>(scope)
            .filter(scim_user::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(scim_user::Model::into_domain)
            .transpose()
    }

    async fn find_user_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<ScimUser>> {
        scoped::select::<scim_user::Entity>(scope)
            .filter(scim_user::Column::UserId.eq(user_id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(scim_user::Model::into_domain)
            .transpose()
    }

    async fn find_users(&self, scope: &TenantScope, ids: &[ScimUserId]) -> StoreResult<Vec<ScimUser>> {
        let ids: BTreeSet<_> = ids.iter().map(|id| id.as_uuid()).collect();
        let ids: Vec<_> = ids.into_iter().collect();
        let mut found = Vec::with_capacity(ids.len());
        // A few hundred ids a statement: far below any backend's parameter limit.
        for chunk in ids.chunks(CHUNK) {
            let rows = scoped::select::<scim_user::Entity>(scope)
                .filter(scim_user::Column::Id.is_in(chunk.iter().copied()))
                .all(&self.txn)
                .await
                .map_err(db_failure)?;
            for row in rows {
                found.push(row.into_domain()?);
            }
        }
        Ok(found)
    }

    async fn update_user(&self, scope: &TenantScope, user: &ScimUser, expected_version: i64) -> StoreResult<()> {
        scoped::ensure_owned(scope, user.tenant_id)?;
        let row = scim_user::Model::from_domain(user);
        let result = scoped::update::<scim_user::Entity>(scope)
            .col_expr(scim_user::Column::UserName, Expr::value(row.user_name))
            .col_expr(scim_user::Column::UserNameKey, Expr::value(row.user_name_key))
            .col_expr(scim_user::Column::ExternalId, Expr::value(row.external_id))
            .col_expr(scim_user::Column::Active, Expr::value(row.active))
            .col_expr(scim_user::Column::Attributes, Expr::value(row.attributes))
            .col_expr(scim_user::Column::UserId, Expr::value(row.user_id))
            .col_expr(scim_user::Column::MembershipId, Expr::value(row.membership_id))
            .col_expr(scim_user::Column::Version, Expr::value(row.version))
            .col_expr(scim_user::Column::UpdatedAt, Expr::value(row.updated_at))
            .filter(scim_user::Column::Id.eq(row.id))
            .filter(scim_user::Column::Version.eq(expected_version))
            .exec(&self.txn)
            .await
            .map_err(user_conflict)?;
        unchanged(result.rows_affected)
    }

    async fn delete_user(&self, scope: &TenantScope, id: ScimUserId) -> StoreResult<bool> {
        scoped::delete::<scim_group_member::Entity>(scope)
            .filter(scim_group_member::Column::ScimUserId.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        let result = scoped::delete::<scim_user::Entity>(scope)
            .filter(scim_user::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected > 0)
    }

    async fn list_users(
        &self,
        scope: &TenantScope,
        filter: Option<&ScimUserFilter>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<ScimSlice<ScimUser>> {
        let mut query = scoped::select::<scim_user::Entity>(scope);
        match filter {
            Some(ScimUserFilter::UserName(name)) => {
                query = query.filter(scim_user::Column::UserNameKey.eq(name.to_lowercase()));
            }
            Some(ScimUserFilter::ExternalId(id)) => query = query.filter(scim_user::Column::ExternalId.eq(id.as_str())),
            None => {}
        }
        let (rows, total) = self
            .window(
                query,
                scim_user::Column::CreatedAt,
                scim_user::Column::Id,
                offset,
                limit,
            )
            .await?;
        let items = rows
            .into_iter()
            .map(scim_user::Model::into_domain)
            .collect::<Result<_, _>>()?;
        Ok(ScimSlice { items, total })
    }

    async fn insert_group(&self, scope: &TenantScope, group: &ScimGroup) -> StoreResult<()> {
        scoped::ensure_owned(scope, group.tenant_id)?;
        self.insert_row(scim_group::Model::from_domain(group), group_conflict)
            .await
    }

    async fn find_group(&self, scope: &TenantScope, id: ScimGroupId) -> StoreResult<Option<ScimGroup>> {
        Ok(scoped::select::<scim_group::Entity>(scope)
            .filter(scim_group::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(scim_group::Model::into_domain))
    }

    async fn update_group(&self, scope: &TenantScope, group: &ScimGroup, expected_version: i64) -> StoreResult<()> {
        scoped::ensure_owned(scope, group.tenant_id)?;
        let row = scim_group::Model::from_domain(group);
        let result = scoped::update::<scim_group::Entity>(scope)
            .col_expr(scim_group::Column::DisplayName, Expr::value(row.display_name))
            .col_expr(scim_group::Column::DisplayNameKey, Expr::value(row.display_name_key))
            .col_expr(scim_group::Column::ExternalId, Expr::value(row.external_id))
            .col_expr(scim_group::Column::RoleId, Expr::value(row.role_id))
            .col_expr(scim_group::Column::Version, Expr::value(row.version))
            .col_expr(scim_group::Column::UpdatedAt, Expr::value(row.updated_at))
            .filter(scim_group::Column::Id.eq(row.id))
            .filter(scim_group::Column::Version.eq(expected_version))
            .exec(&self.txn)
            .await
            .map_err(group_conflict)?;
        unchanged(result.rows_affected)
    }

    async fn delete_group(&self, scope: &TenantScope, id: ScimGroupId) -> StoreResult<bool> {
        scoped::delete::<scim_group_member::Entity>(scope)
            .filter(scim_group_member::Column::GroupId.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        let result = scoped::delete::<scim_group::Entity>(scope)
            .filter(scim_group::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected > 0)
    }

    async fn list_groups(
        &self,
        scope: &TenantScope,
        filter: Option<&ScimGroupFilter>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<ScimSlice<ScimGroup>> {
        let mut query = scoped::select::<scim_group::Entity>(scope);
        match filter {
            Some(ScimGroupFilter::DisplayName(name)) => {
                query = query.filter(scim_group::Column::DisplayNameKey.eq(name.to_lowercase()));
            }
            Some(ScimGroupFilter::ExternalId(id)) => {
                query = query.filter(scim_group::Column::ExternalId.eq(id.as_str()));
            }
            None => {}
        }
        let (rows, total) = self
            .window(
                query,
                scim_group::Column::CreatedAt,
                scim_group::Column::Id,
                offset,
                limit,
            )
            .await?;
        let items = rows.into_iter().map(scim_group::Model::into_domain).collect();
        Ok(ScimSlice { items, total })
    }

    async fn role_is_mapped(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<bool> {
        let count = scoped::select::<scim_group::Entity>(scope)
            .filter(scim_group::Column::RoleId.eq(role_id.as_uuid()))
            .count(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(count > 0)
    }

    async fn group_members(
        &self,
        scope: &TenantScope,
        groups: &[ScimGroupId],
    ) -> StoreResult<Vec<(ScimGroupId, ScimUserId)>> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        Ok(scoped::select::<scim_group_member::Entity>(scope)
            .filter(scim_group_member::Column::GroupId.is_in(groups.iter().map(|id| id.as_uuid())))
            .order_by_asc(scim_group_member::Column::GroupId)
            .order_by_asc(scim_group_member::Column::ScimUserId)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(|row| {
                (
                    ScimGroupId::from_uuid(row.group_id),
                    ScimUserId::from_uuid(row.scim_user_id),
                )
            })
            .collect())
    }

    async fn set_group_members(
        &self,
        scope: &TenantScope,
        group: ScimGroupId,
        members: &[ScimUserId],
    ) -> StoreResult<()> {
        scoped::delete::<scim_group_member::Entity>(scope)
            .filter(scim_group_member::Column::GroupId.eq(group.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        // Bounded by the group's member cap; a few hundred rows per statement.
        for chunk in members.chunks(200) {
            let rows = chunk.iter().map(|member| {
                sea_orm::IntoActiveModel::into_active_model(scim_group_member::Model {
                    tenant_id: scope.tenant_id().as_uuid(),
                    group_id: group.as_uuid(),
                    scim_user_id: member.as_uuid(),
                })
            });
            scim_group_member::Entity::insert_many(rows)
                .exec_without_returning(&self.txn)
                .await
                .map_err(db_failure)?;
        }
        Ok(())
    }

    async fn groups_of(&self, scope: &TenantScope, users: &[ScimUserId]) -> StoreResult<Vec<(ScimUserId, ScimGroup)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let links = scoped::select::<scim_group_member::Entity>(scope)
            .filter(scim_group_member::Column::ScimUserId.is_in(users.iter().map(|id| id.as_uuid())))
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let group_ids: BTreeSet<_> = links.iter().map(|link| link.group_id).collect();
        let group_ids: Vec<_> = group_ids.into_iter().collect();
        let mut groups = HashMap::new();
        for chunk in group_ids.chunks(CHUNK) {
            let rows = scoped::select::<scim_group::Entity>(scope)
                .filter(scim_group::Column::Id.is_in(chunk.iter().copied()))
                .all(&self.txn)
                .await
                .map_err(db_failure)?;
            groups.extend(rows.into_iter().map(|row| (row.id, row.into_domain())));
        }
        let mut out: Vec<_> = links
            .into_iter()
            .filter_map(|link| {
                let group = groups.get(&link.group_id)?.clone();
                Some((ScimUserId::from_uuid(link.scim_user_id), group))
            })
            .collect();
        out.sort_by(|a, b| (a.0, &a.1.display_name).cmp(&(b.0, &b.1.display_name)));
        Ok(out)
    }
}

impl SeaTransaction {
    /// One window of `query` in creation order (`offset` rows skipped, at most `limit`
    /// taken) and how many rows it matches: two statements, one when the window starts
    /// past the end.
    async fn window<E>(
        &self,
        query: Select<E>,
        created: E::Column,
        id: E::Column,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<E::Model>, u64)>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
    {
        let total = query.clone().count(&self.txn).await.map_err(db_failure)?;
        if limit == 0 || offset >= total {
            return Ok((Vec::new(), total));
        }
        let rows = query
            .order_by_asc(created)
            .order_by_asc(id)
            .offset(offset)
            .limit(limit)
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok((rows, total))
    }
}
