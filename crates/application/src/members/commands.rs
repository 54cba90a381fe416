use tessera_domain::{MembershipStatus, Permission, RoleId, SystemRole, UserId};

use super::{ensure_not_last_owner, system_role};
use crate::ForbiddenReason;
use crate::ports::KeyCreators;
use crate::{AppError, Application, RequestContext};

impl Application {
    /// Gives a member another role. The caller must hold every permission of both the
    /// member's current role and the new one. The member's API keys are cut down to
    /// the new role in the same transaction.
    #[tracing::instrument(level = "debug", name = "update_member_role", skip_all, fields(user_id = %user_id, role_id = %role_id))]
    pub async fn update_member_role(
        &self,
        ctx: &RequestContext,
        user_id: UserId,
        role_id: RoleId,
    ) -> Result<(), AppError> {
        let scope = ctx.authorize(Permission::MembersManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        let before = tx
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
            .find_by_id(&scope, before.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ctx.ensure_can_grant(&current_role.permissions).map_err(outranked)?;
        ctx.ensure_can_grant(&new_role.permissions)?;
        if current_role.id == new_role.id {
            return Ok(());
        }
        if !new_role.is_owner() {
            ensure_not_last_owner(tx.as_ref(), &scope, &before, &current_role).await?;
        }
        let now = self.ports.clock.now();
        let mut membership = before.clone();
        membership.change_role(new_role.id, now);
        tx.memberships()
            .update(&scope, &before, &membership)
            .await
            .map_err(changed_meanwhile("userId"))?;
        let event = ctx
            .audit("member.role_changed", "user", user_id, now)
            .change("role_id", Some(current_role.id), Some(new_role.id))
            .change("role", Some(current_role.name.as_str()), Some(new_role.name.as_str()));
        self.journal(tx.as_ref(), &event).await?;
        self.confine_api_keys(
            tx.as_ref(),
            &ctx.acting(),
            KeyCreators::Person(user_id),
            Some(&new_role.permissions),
            "creator_role_changed",
        )
        .await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }

    /// Removes another member from the tenant (and from all its workspaces); the API
    /// keys they created are revoked with them.
    #[tracing::instrument(level = "debug", name = "remove_member", skip_all, fields(user_id = %user_id))]
    pub async fn remove_member(&self, ctx: &RequestContext, user_id: UserId) -> Result<(), AppError> {
        let scope = ctx.authorize(Permission::MembersManage)?.scope().clone();
        if ctx.person() == Some(user_id) {
            return Err(AppError::validation(
                "userId",
                "use leaveTenant to leave a tenant yourself",
            ));
        }
        let tx = self.tenant_tx(&scope).await?;
        let before = tx
            .memberships()
            .find_by_user(&scope, user_id)
            .await?
            .filter(|m| m.status != MembershipStatus::Removed)
            .ok_or(AppError::NotFound("member"))?;
        let role = tx
            .roles()
            .find_by_id(&scope, before.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ctx.ensure_can_grant(&role.permissions).map_err(outranked)?;
        ensure_not_last_owner(tx.as_ref(), &scope, &before, &role).await?;
        let now = self.ports.clock.now();
        let mut membership = before.clone();
        membership.remove(now);
        let event = ctx.audit("member.removed", "user", user_id, now).change(
            "status",
            Some(before.status.as_str()),
            Some(membership.status.as_str()),
        );
        tx.memberships()
            .update(&scope, &before, &membership)
            .await
            .map_err(changed_meanwhile("userId"))?;
        tx.workspaces().remove_member_everywhere(&scope, user_id).await?;
        self.journal(tx.as_ref(), &event).await?;
        self.confine_api_keys(
            tx.as_ref(),
            &ctx.acting(),
            KeyCreators::Person(user_id),
            None,
            "creator_removed",
        )
        .await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }

    /// The caller leaves the tenant; the API keys they created are revoked.
    #[tracing::instrument(level = "debug", name = "leave_tenant", skip_all)]
    pub async fn leave_tenant(&self, ctx: &RequestContext) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        let scope = ctx.member_scope()?.clone();
        let tx = self.tenant_tx(&scope).await?;
        let before = tx
            .memberships()
            .find_by_user(&scope, me)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        let role = tx
            .roles()
            .find_by_id(&scope, before.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ensure_not_last_owner(tx.as_ref(), &scope, &before, &role).await?;
        let now = self.ports.clock.now();
        let mut membership = before.clone();
        membership.remove(now);
        let event = ctx.audit("member.left", "user", me, now).change(
            "status",
            Some(before.status.as_str()),
            Some(membership.status.as_str()),
        );
        tx.memberships()
            .update(&scope, &before, &membership)
            .await
            .map_err(changed_meanwhile("tenant"))?;
        tx.workspaces().remove_member_everywhere(&scope, me).await?;
        self.journal(tx.as_ref(), &event).await?;
        self.confine_api_keys(
            tx.as_ref(),
            &ctx.acting(),
            KeyCreators::Person(me),
            None,
            "creator_left",
        )
        .await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }

    /// An owner hands ownership to another active member and becomes an admin (their
    /// API keys are cut down to the admin role).
    #[tracing::instrument(level = "debug", name = "transfer_ownership", skip_all, fields(user_id = %user_id))]
    pub async fn transfer_ownership(&self, ctx: &RequestContext, user_id: UserId) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        let scope = ctx.member_scope()?.clone();
        if user_id == me {
            return Err(AppError::validation("userId", "choose another member than yourself"));
        }
        let tx = self.tenant_tx(&scope).await?;
        let owner = system_role(tx.as_ref(), &scope, SystemRole::Owner).await?;
        let admin = system_role(tx.as_ref(), &scope, SystemRole::Admin).await?;
        // The owner set is locked first: an owner being demoted by another owner at the
        // same moment waits here and then sees the change.
        let owners = tx.memberships().lock_active_holders(&scope, owner.id).await?;
        let mine = tx
            .memberships()
            .find_by_user(&scope, me)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        if !owners.contains(&me) || mine.role_id != owner.id {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::NotOwner,
                message: "only an owner can transfer ownership".into(),
            });
        }
        let theirs = tx
            .memberships()
            .find_by_user(&scope, user_id)
            .await?
            .filter(|m| m.is_active())
            .ok_or(AppError::NotFound("member"))?;
        let now = self.ports.clock.now();
        let mut new_owner = theirs.clone();
        new_owner.change_role(owner.id, now);
        let mut former_owner = mine.clone();
        former_owner.change_role(admin.id, now);
        tx.memberships()
            .update(&scope, &theirs, &new_owner)
            .await
            .map_err(changed_meanwhile("userId"))?;
        tx.memberships()
            .update(&scope, &mine, &former_owner)
            .await
            .map_err(changed_meanwhile("userId"))?;
        let event = ctx
            .audit("tenant.ownership_transferred", "tenant", scope.tenant_id(), now)
            .change("owner_user_id", Some(me), Some(user_id));
        self.journal(tx.as_ref(), &event).await?;
        self.confine_api_keys(
            tx.as_ref(),
            &ctx.acting(),
            KeyCreators::Person(me),
            Some(&admin.permissions),
            "creator_role_changed",
        )
        .await?;
        tx.commit().await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(())
    }
}

/// A target whose role exceeds the caller's rights is out of reach.
fn outranked(error: AppError) -> AppError {
    match error {
        AppError::Forbidden { .. } => AppError::Forbidden {
            reason: ForbiddenReason::TargetOutranks,
            message: "this member holds permissions you do not have".into(),
        },
        other => other,
    }
}

/// A membership another request changed between our read and our write: `CONFLICT`
/// on `field`, and nothing is written.
fn changed_meanwhile(field: &'static str) -> impl Fn(crate::ports::StoreError) -> AppError {
    move |error| match error {
        crate::ports::StoreError::Stale => AppError::Conflict {
            field: field.into(),
            message: "the membership was changed by another request meanwhile; load it again".into(),
        },
        other => other.into(),
    }
}
