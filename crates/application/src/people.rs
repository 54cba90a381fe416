//! Batch reads behind the API's per-request loaders: the users and roles that rows of
//! the caller's tenant point at, one statement per call however many ids.

use tessera_domain::{Role, RoleId, User, UserId};

use crate::{AppError, Application, RequestContext};

impl Application {
    /// Those of these users who belong to the caller's tenant (any membership status);
    /// anyone else is absent, so ids from another tenant read nothing.
    #[tracing::instrument(name = "users_by_ids", skip_all, fields(users = ids.len()))]
    pub async fn users_by_ids(&self, ctx: &RequestContext, ids: &[UserId]) -> Result<Vec<User>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        Ok(tx.users().find_members_by_ids(scope, ids).await?)
    }

    /// These roles of the caller's tenant with their permissions (one statement: the
    /// permissions are aggregated into the role rows).
    #[tracing::instrument(name = "roles_by_ids", skip_all, fields(roles = ids.len()))]
    pub async fn roles_by_ids(&self, ctx: &RequestContext, ids: &[RoleId]) -> Result<Vec<Role>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        Ok(tx.roles().find_by_ids(scope, ids).await?)
    }
}
