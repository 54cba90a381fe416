use tessera_domain::{MembershipStatus, Permission, RoleId, SystemRole, UserId};

use super::{ensure_not_last_owner, system_role};
use crate::{AppError, Application, RequestContext};

impl Application {
    /// Gives a member another role. The caller must hold every permission of both the
    /// member's current role and the new one.
    #[tracing::instrument(name = "update_member_role", skip_all, fields(user_id = %user_id, role_id = %role_id))]
    pub async fn update_member_role(
        &self,
        ctx: &RequestContext,
        user_id: UserId,
        role_id: RoleId,
    ) -> Result<(), AppError> {
        let scope = ctx.authorize(Permission::MembersManage)?.scope().clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let mut membership = tx
            .memberships()
            .find_by_user(&scope, user_id)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        let new_role = tx
            .roles()
            .find_by_id(&scope, role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        let current_role = tx
            .roles()
            .find_by_id(&scope, membership.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ctx.ensure_can_grant(&current_role.permissions).map_err(outranked)?;
        ctx.ensure_can_grant(&new_role.permissions)?;
        if current_role.id == new_role.id {
            return Ok(());
        }
        if !new_role.is_owner() {
            ensure_not_last_owner(tx.as_ref(), &scope, &membership, &current_role).await?;
        }
        let now = self.ports.clock.now();
        membership.role_id = new_role.id;
        membership.updated_at = now;
        tx.memberships().update(&scope, &membership).await?;
        let event = ctx
            .audit("member.role_changed", "user", user_id, now)
            .change("role_id", Some(current_role.id), Some(new_role.id))
            .change("role", Some(current_role.name.as_str()), Some(new_role.name.as_str()));
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }

    /// Removes another member from the tenant (and from all its workspaces).
    #[tracing::instrument(name = "remove_member", skip_all, fields(user_id = %user_id))]
    pub async fn remove_member(&self, ctx: &RequestContext, user_id: UserId) -> Result<(), AppError> {
        let scope = ctx.authorize(Permission::MembersManage)?.scope().clone();
        if user_id == ctx.user_id() {
            return Err(AppError::validation(
                "userId",
                "use leaveTenant to leave a tenant yourself",
            ));
        }
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let mut membership = tx
            .memberships()
            .find_by_user(&scope, user_id)
            .await?
            .filter(|m| m.status != MembershipStatus::Removed)
            .ok_or(AppError::NotFound("member"))?;
        let role = tx
            .roles()
            .find_by_id(&scope, membership.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ctx.ensure_can_grant(&role.permissions).map_err(outranked)?;
        ensure_not_last_owner(tx.as_ref(), &scope, &membership, &role).await?;
        let now = self.ports.clock.now();
        let event = ctx.audit("member.removed", "user", user_id, now).change(
            "status",
            Some(membership.status.as_str()),
            Some(MembershipStatus::Removed.as_str()),
        );
        membership.status = MembershipStatus::Removed;
        membership.updated_at = now;
        tx.memberships().update(&scope, &membership).await?;
        tx.workspaces().remove_member_everywhere(&scope, user_id).await?;
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }

    #[tracing::instrument(name = "leave_tenant", skip_all)]
    pub async fn leave_tenant(&self, ctx: &RequestContext) -> Result<(), AppError> {
        ctx.require_person()?;
        let scope = ctx.member_scope()?.clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let mut membership = tx
            .memberships()
            .find_by_user(&scope, ctx.user_id())
            .await?
            .ok_or(AppError::NotFound("member"))?;
        let role = tx
            .roles()
            .find_by_id(&scope, membership.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ensure_not_last_owner(tx.as_ref(), &scope, &membership, &role).await?;
        let now = self.ports.clock.now();
        let event = ctx.audit("member.left", "user", ctx.user_id(), now).change(
            "status",
            Some(membership.status.as_str()),
            Some(MembershipStatus::Removed.as_str()),
        );
        membership.status = MembershipStatus::Removed;
        membership.updated_at = now;
        tx.memberships().update(&scope, &membership).await?;
        tx.workspaces().remove_member_everywhere(&scope, ctx.user_id()).await?;
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }

    /// An owner hands ownership to another active member and becomes an admin.
    #[tracing::instrument(name = "transfer_ownership", skip_all, fields(user_id = %user_id))]
    pub async fn transfer_ownership(&self, ctx: &RequestContext, user_id: UserId) -> Result<(), AppError> {
        ctx.require_person()?;
        let scope = ctx.member_scope()?.clone();
        if user_id == ctx.user_id() {
            return Err(AppError::validation("userId", "choose another member than yourself"));
        }
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let owner = system_role(tx.as_ref(), &scope, SystemRole::Owner).await?;
        let admin = system_role(tx.as_ref(), &scope, SystemRole::Admin).await?;
        let mut mine = tx
            .memberships()
            .find_by_user(&scope, ctx.user_id())
            .await?
            .ok_or(AppError::NotFound("member"))?;
        if mine.role_id != owner.id {
            return Err(AppError::Forbidden {
                reason: "NOT_OWNER",
                message: "only an owner can transfer ownership".into(),
            });
        }
        let mut theirs = tx
            .memberships()
            .find_by_user(&scope, user_id)
            .await?
            .filter(|m| m.is_active())
            .ok_or(AppError::NotFound("member"))?;
        let now = self.ports.clock.now();
        theirs.role_id = owner.id;
        theirs.updated_at = now;
        mine.role_id = admin.id;
        mine.updated_at = now;
        tx.memberships().update(&scope, &theirs).await?;
        tx.memberships().update(&scope, &mine).await?;
        let event = ctx
            .audit("tenant.ownership_transferred", "tenant", scope.tenant_id(), now)
            .change("owner_user_id", Some(ctx.user_id()), Some(user_id));
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }
}

/// A target whose role exceeds the caller's rights is out of reach.
fn outranked(error: AppError) -> AppError {
    match error {
        AppError::Forbidden { .. } => AppError::Forbidden {
            reason: "TARGET_OUTRANKS",
            message: "this member holds permissions you do not have".into(),
        },
        other => other,
    }
}
