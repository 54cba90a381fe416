//! Batch reads behind the API's per-request loaders: the users and roles that rows of
//! the caller's tenant point at, one statement per call however many ids.

use std::collections::HashMap;
use std::hash::Hash;

use tessera_domain::{Role, RoleId, User, UserId};

use crate::ports::Transaction;
use crate::{AppError, Application, Page, RequestContext, TenantScope};

/// Which of the people a page's rows point at to read with the page, in its own
/// transaction (what the API's loaders would otherwise read in one of their own each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct WithPeople {
    pub users: bool,
    pub roles: bool,
}

/// A page and the users and roles its rows point at (empty unless asked for).
#[derive(Debug, Clone)]
pub struct PageWithPeople<T> {
    pub page: Page<T>,
    pub users: Vec<User>,
    pub roles: Vec<Role>,
}

impl<T> PageWithPeople<T> {
    /// Gives each of `pages` the users and roles (of those read for all of them) its own
    /// rows point at.
    pub(crate) fn distribute<K: Eq + Hash>(
        pages: HashMap<K, Page<T>>,
        users: Vec<User>,
        roles: Vec<Role>,
        points_at: impl Fn(&T) -> (UserId, RoleId),
    ) -> HashMap<K, Self> {
        let users: HashMap<UserId, User> = users.into_iter().map(|user| (user.id, user)).collect();
        let roles: HashMap<RoleId, Role> = roles.into_iter().map(|role| (role.id, role)).collect();
        pages
            .into_iter()
            .map(|(key, page)| {
                let (user_ids, role_ids) = distinct(page.items.iter().map(&points_at));
                let own = Self {
                    users: user_ids.iter().filter_map(|id| users.get(id).cloned()).collect(),
                    roles: role_ids.iter().filter_map(|id| roles.get(id).cloned()).collect(),
                    page,
                };
                (key, own)
            })
            .collect()
    }
}

/// The distinct users and roles of these rows, in order.
fn distinct(rows: impl Iterator<Item = (UserId, RoleId)>) -> (Vec<UserId>, Vec<RoleId>) {
    let (mut user_ids, mut role_ids): (Vec<UserId>, Vec<RoleId>) = rows.unzip();
    user_ids.sort_unstable();
    user_ids.dedup();
    role_ids.sort_unstable();
    role_ids.dedup();
    (user_ids, role_ids)
}

impl Application {
    /// `page` and, as `with` asks, the users and roles its rows point at (see
    /// [`Application::read_people`]).
    pub(crate) async fn page_with_people<T>(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        scope: &TenantScope,
        page: Page<T>,
        with: WithPeople,
        points_at: impl Fn(&T) -> (UserId, RoleId),
    ) -> Result<PageWithPeople<T>, AppError> {
        let (users, roles) = self
            .read_people(tx, ctx, scope, page.items.iter().map(points_at), with)
            .await?;
        Ok(PageWithPeople { page, users, roles })
    }

    /// The users and roles (as asked by `with`) these rows point at: one statement for
    /// the users, the roles from the request's cache or one statement; none for what is
    /// not asked or when there are no rows.
    pub(crate) async fn read_people(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        scope: &TenantScope,
        rows: impl Iterator<Item = (UserId, RoleId)>,
        with: WithPeople,
    ) -> Result<(Vec<User>, Vec<Role>), AppError> {
        let (user_ids, role_ids) = distinct(rows);
        let users = match with.users && !user_ids.is_empty() {
            true => tx.users().find_members_by_ids(scope, &user_ids).await?,
            false => Vec::new(),
        };
        let roles = match with.roles && !role_ids.is_empty() {
            true => self.roles_in(tx, ctx, scope, &role_ids).await?,
            false => Vec::new(),
        };
        Ok((users, roles))
    }

    /// These roles of the request's tenant with their permissions: those the access
    /// cache kept under the generation the request's authentication saw, the rest read
    /// in `tx` (one statement, none when the cache held them all) and kept for the
    /// requests after it. Every change to a role invalidates its tenant, so a kept role
    /// is never older than the access the request was authorized with.
    async fn roles_in(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        scope: &TenantScope,
        ids: &[RoleId],
    ) -> Result<Vec<Role>, AppError> {
        let (found, missing) = self.cached_roles(ctx, scope, ids).await;
        self.read_missing_roles(tx, ctx, scope, found, &missing).await
    }

    /// `found` and the `missing` roles read in `tx` (and kept).
    async fn read_missing_roles(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        scope: &TenantScope,
        mut found: Vec<Role>,
        missing: &[RoleId],
    ) -> Result<Vec<Role>, AppError> {
        if !missing.is_empty() {
            let read = tx.roles().find_by_ids(scope, missing).await?;
            self.keep_roles(ctx, scope, &read).await;
            found.extend(read);
        }
        Ok(found)
    }

    /// The roles among `ids` the access cache holds for this request, and the ids it
    /// does not hold (all of them when the request has no generation to read under).
    async fn cached_roles(
        &self,
        ctx: &RequestContext,
        scope: &TenantScope,
        ids: &[RoleId],
    ) -> (Vec<Role>, Vec<RoleId>) {
        let Some(generation) = ctx.access_generation_in(scope) else {
            return (Vec::new(), ids.to_vec());
        };
        let found = self.ports.access_cache.roles(scope.tenant_id(), ids, generation).await;
        let missing = ids
            .iter()
            .filter(|id| !found.iter().any(|role| role.id == **id))
            .copied()
            .collect();
        (found, missing)
    }

    async fn keep_roles(&self, ctx: &RequestContext, scope: &TenantScope, roles: &[Role]) {
        if let Some(generation) = ctx.access_generation_in(scope)
            && !roles.is_empty()
        {
            self.ports
                .access_cache
                .put_roles(scope.tenant_id(), roles, generation)
                .await;
        }
    }

    /// These roles of the caller's tenant, from the cache when it holds them all (no
    /// transaction), else through [`Application::roles_in`].
    async fn roles_of_caller_tenant(&self, ctx: &RequestContext, ids: &[RoleId]) -> Result<Vec<Role>, AppError> {
        let scope = ctx.member_scope()?;
        let (found, missing) = self.cached_roles(ctx, scope, ids).await;
        if missing.is_empty() {
            return Ok(found);
        }
        let tx = self.tenant_tx(scope).await?;
        self.read_missing_roles(tx.as_ref(), ctx, scope, found, &missing).await
    }

    /// Those of these users who belong to the caller's tenant (any membership status);
    /// anyone else is absent, so ids from another tenant read nothing.
    #[tracing::instrument(level = "debug", name = "users_by_ids", skip_all, fields(users = ids.len()))]
    pub async fn users_by_ids(&self, ctx: &RequestContext, ids: &[UserId]) -> Result<Vec<User>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.users().find_members_by_ids(scope, ids).await?)
    }

    /// These roles of the caller's tenant with their permissions (one statement: the
    /// permissions are aggregated into the role rows).
    #[tracing::instrument(level = "debug", name = "roles_by_ids", skip_all, fields(roles = ids.len()))]
    pub async fn roles_by_ids(&self, ctx: &RequestContext, ids: &[RoleId]) -> Result<Vec<Role>, AppError> {
        self.roles_of_caller_tenant(ctx, ids).await
    }

    /// The caller's own role in the tenant, with its permissions (from the cache, or one
    /// statement); `None` for an API key, which holds no role.
    pub async fn my_role(&self, ctx: &RequestContext) -> Result<Option<Role>, AppError> {
        ctx.member_scope()?;
        let Some(role_id) = ctx.role_id() else {
            return Ok(None);
        };
        Ok(self.roles_of_caller_tenant(ctx, &[role_id]).await?.pop())
    }
}
