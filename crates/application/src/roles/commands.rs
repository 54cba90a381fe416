use tessera_domain::{Limit, Name, Permission, Role, RoleId};

use super::{parse_permissions, permission_list, role_rule};
use crate::ports::{KeyCreators, StoreError};
use crate::{AppError, Application, FieldErrors, RequestContext};

#[derive(Debug, Clone)]
pub struct CreateRole {
    pub name: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct UpdateRole {
    pub id: RoleId,
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct DeleteRole {
    pub id: RoleId,
    /// Where the role's holders move; required while anyone holds it.
    pub replacement_role_id: Option<RoleId>,
}

fn name_taken(error: StoreError) -> AppError {
    match error {
        StoreError::Duplicate(_) => AppError::Conflict {
            field: "name".into(),
            message: "a role with this name already exists".into(),
        },
        other => other.into(),
    }
}

impl Application {
    #[tracing::instrument(level = "debug", name = "create_role", skip_all)]
    pub async fn create_role(&self, ctx: &RequestContext, input: CreateRole) -> Result<Role, AppError> {
        let granted = ctx.authorize(Permission::RolesManage)?;
        let mut errors = FieldErrors::new();
        let name = errors.check("name", Name::parse(&input.name));
        let permissions = errors.check("permissions", parse_permissions(&input.permissions));
        let (Some(name), Some(permissions)) = (name, permissions) else {
            return Err(AppError::Validation(errors));
        };
        ctx.ensure_can_grant(&permissions)?;
        let scope = granted.scope();
        let now = self.ports.clock.now();
        let role = Role::custom(
            RoleId::from_uuid(self.ports.ids.new_id()),
            scope.tenant_id(),
            name,
            permissions,
            now,
        );
        let tx = self.quota_tx(scope).await?;
        self.entitle(tx.as_ref(), scope, Limit::CustomRoles).await?;
        tx.roles().insert(scope, &role).await.map_err(name_taken)?;
        let event = ctx
            .audit("role.created", "role", role.id, now)
            .change("name", None::<&str>, Some(role.name.as_str()))
            .change("permissions", None::<String>, Some(permission_list(&role.permissions)));
        self.commit_with(tx, &event).await?;
        Ok(role)
    }

    #[tracing::instrument(level = "debug", name = "update_role", skip_all, fields(role_id = %input.id))]
    pub async fn update_role(&self, ctx: &RequestContext, input: UpdateRole) -> Result<Role, AppError> {
        let granted = ctx.authorize(Permission::RolesManage)?;
        let mut errors = FieldErrors::new();
        let name = match input.name.as_deref() {
            Some(raw) => errors.check("name", Name::parse(raw)).map(Some),
            None => Some(None),
        };
        let permissions = match input.permissions.as_deref() {
            Some(names) => errors.check("permissions", parse_permissions(names)).map(Some),
            None => Some(None),
        };
        let (Some(name), Some(permissions)) = (name, permissions) else {
            return Err(AppError::Validation(errors));
        };
        let scope = granted.scope();
        let tx = self.tenant_tx(scope).await?;
        let mut role = tx
            .roles()
            .find_by_id(scope, input.id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        // A role above the caller is not theirs to reshape, and what it ends up with
        // must be within what the caller holds.
        ctx.ensure_can_grant(&role.permissions)?;
        if let Some(permissions) = &permissions {
            ctx.ensure_can_grant(permissions)?;
        }
        let before = role.clone();
        role.edit(name, permissions).map_err(role_rule)?;
        tx.roles().update(scope, &before, &role).await.map_err(name_taken)?;
        let event = ctx
            .audit("role.updated", "role", role.id, self.ports.clock.now())
            .change("name", Some(before.name.as_str()), Some(role.name.as_str()))
            .change(
                "permissions",
                Some(permission_list(&before.permissions)),
                Some(permission_list(&role.permissions)),
            );
        self.journal(tx.as_ref(), &event).await?;
        if !before.permissions.is_subset(&role.permissions) {
            // Its holders hold less now, and so do the API keys they created.
            self.confine_api_keys(
                tx.as_ref(),
                &ctx.acting(),
                KeyCreators::HoldersOf(role.id),
                Some(&role.permissions),
                "creator_role_changed",
            )
            .await?;
        }
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(role)
    }

    /// Deletes a custom role; its holders move to the replacement role first.
    #[tracing::instrument(level = "debug", name = "delete_role", skip_all, fields(role_id = %input.id))]
    pub async fn delete_role(&self, ctx: &RequestContext, input: DeleteRole) -> Result<RoleId, AppError> {
        let granted = ctx.authorize(Permission::RolesManage)?;
        if input.replacement_role_id == Some(input.id) {
            return Err(AppError::validation("replacementRoleId", "must be a different role"));
        }
        let scope = granted.scope();
        let tx = self.tenant_tx(scope).await?;
        let role = tx
            .roles()
            .find_by_id(scope, input.id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        role.ensure_deletable().map_err(role_rule)?;
        ctx.ensure_can_grant(&role.permissions)?;
        let mut event = ctx
            .audit("role.deleted", "role", role.id, self.ports.clock.now())
            .change("name", Some(role.name.as_str()), None::<&str>)
            .change("permissions", Some(permission_list(&role.permissions)), None::<String>);
        if tx
            .sso()
            .find_connection(scope)
            .await?
            .is_some_and(|connection| connection.provisioned_role_id == role.id)
        {
            return Err(AppError::Conflict {
                field: "id".into(),
                message: "single sign-on gives this role to the people it provisions: choose another role \
                          for the connection first"
                    .into(),
            });
        }
        if tx.scim().role_is_mapped(scope, role.id).await? {
            return Err(AppError::Conflict {
                field: "id".into(),
                message: "a directory group is mapped to this role: map the group to another role first".into(),
            });
        }
        let holders = tx.roles().count_holders(scope, role.id).await?;
        if holders > 0 {
            let Some(replacement_id) = input.replacement_role_id else {
                return Err(AppError::Conflict {
                    field: "replacementRoleId".into(),
                    message: format!("{holders} member(s) hold this role; choose a replacement role for them"),
                });
            };
            let replacement = tx
                .roles()
                .find_by_id(scope, replacement_id)
                .await?
                .ok_or(AppError::NotFound("replacement role"))?;
            // Moving people onto a role grants them its permissions.
            ctx.ensure_can_grant(&replacement.permissions)?;
            // Their API keys keep only what the replacement role grants.
            self.confine_api_keys(
                tx.as_ref(),
                &ctx.acting(),
                KeyCreators::HoldersOf(role.id),
                Some(&replacement.permissions),
                "creator_role_changed",
            )
            .await?;
            tx.roles().reassign_holders(scope, role.id, replacement.id).await?;
            event = event.change("holders_moved_to_role_id", None::<String>, Some(replacement.id));
        }
        tx.roles().delete(scope, role.id).await?;
        self.commit_with(tx, &event).await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(role.id)
    }
}
