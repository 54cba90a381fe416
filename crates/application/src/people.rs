//! Joining membership rows (tenant or workspace) to the users and roles they point at:
//! one statement for the users and one for the roles, however many rows there are.

use std::collections::HashMap;

use tessera_domain::{Role, RoleId, User, UserId};

use crate::ports::Transaction;
use crate::{AppError, TenantScope};

/// Builds one view per row from the row, its user and its role. A row whose user or
/// role is missing is a storage fault.
pub(crate) async fn with_people<Row, View>(
    tx: &dyn Transaction,
    scope: &TenantScope,
    rows: Vec<Row>,
    keys: impl Fn(&Row) -> (UserId, RoleId),
    view: impl Fn(Row, User, Role) -> View,
) -> Result<Vec<View>, AppError> {
    let (mut user_ids, mut role_ids): (Vec<UserId>, Vec<RoleId>) = rows.iter().map(&keys).unzip();
    user_ids.sort();
    user_ids.dedup();
    role_ids.sort();
    role_ids.dedup();
    let users: HashMap<UserId, User> = tx
        .users()
        .find_by_ids(&user_ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let roles: HashMap<RoleId, Role> = tx
        .roles()
        .find_by_ids(scope, &role_ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    rows.into_iter()
        .map(|row| {
            let (user_id, role_id) = keys(&row);
            match (users.get(&user_id), roles.get(&role_id)) {
                (Some(user), Some(role)) => Ok(view(row, user.clone(), role.clone())),
                _ => Err(AppError::internal("a membership points at a missing user or role")),
            }
        })
        .collect()
}
