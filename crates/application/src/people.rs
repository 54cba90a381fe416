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
    /// Reads, in `tx`, the users and roles (as asked by `with`) that `page` points at:
    /// one statement for each, none for what is not asked.
    pub(crate) async fn read(
        tx: &dyn Transaction,
        scope: &TenantScope,
        page: Page<T>,
        with: WithPeople,
        points_at: impl Fn(&T) -> (UserId, RoleId),
    ) -> Result<Self, AppError> {
        let (users, roles) = read_people(tx, scope, page.items.iter().map(points_at), with).await?;
        Ok(Self { page, users, roles })
    }

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

/// The users and roles (as asked by `with`) these rows point at: one statement each,
/// none for what is not asked or when there are no rows.
pub(crate) async fn read_people(
    tx: &dyn Transaction,
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
        true => tx.roles().find_by_ids(scope, &role_ids).await?,
        false => Vec::new(),
    };
    Ok((users, roles))
}

impl Application {
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
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.roles().find_by_ids(scope, ids).await?)
    }
}
