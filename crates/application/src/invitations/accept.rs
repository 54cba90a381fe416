use tessera_domain::{
    AuditActor, Invitation, Membership, MembershipId, MembershipStatus, NewAuditEvent, Tenant, User, UserId,
};

use super::{invitation_refused, tenant_of};
use crate::ForbiddenReason;
use crate::identity::{AuthSession, ClientInfo};
use crate::ports::Transaction;
use crate::{AppError, Application, TenantScope};

const UNKNOWN: &str = "this invitation does not exist";

impl Application {
    /// An existing user accepts an invitation: they become an active member of its
    /// tenant with its role, and get a token pair for that tenant (carrying the second
    /// factor their current session proved, if it did).
    #[tracing::instrument(level = "debug", name = "accept_invitation", skip_all)]
    pub async fn accept_invitation(
        &self,
        user_id: UserId,
        second_factor: bool,
        token: &str,
        client: ClientInfo,
    ) -> Result<AuthSession, AppError> {
        let tx = self.global_tx().await?;
        let user = tx
            .users()
            .find_by_id(user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let (tenant, invitation) = self.accept_into(tx.as_ref(), &user, token).await?;
        // `accept_into` entered the invitation's tenant: the event lands in its chain.
        let event = NewAuditEvent::new(
            Some(tenant.id),
            AuditActor::User(user.id),
            "invitation.accepted",
            "invitation",
            Some(invitation.id.to_string()),
            self.ports.clock.now(),
        )
        .change("role_id", None::<String>, Some(invitation.role_id))
        .with_origin(client.clone());
        self.journal(tx.as_ref(), &event).await?;
        let session = self
            .open_session(tx.as_ref(), user, tenant, &client, second_factor)
            .await?;
        tx.commit().await?;
        self.access_changed(session.tenant.id).await;
        Ok(session)
    }

    /// Inside `tx`: checks the token, marks the invitation accepted and makes `user` an
    /// active member. The invitation's tenant is entered here (and stays entered): the
    /// token proves the right to join it, which makes this one of the places allowed to
    /// mint a scope. Returns the tenant joined and the accepted invitation.
    pub(crate) async fn accept_into(
        &self,
        tx: &dyn Transaction,
        user: &User,
        token: &str,
    ) -> Result<(Tenant, Invitation), AppError> {
        let tenant_id = tenant_of(token).ok_or_else(|| AppError::validation("token", UNKNOWN))?;
        let scope = TenantScope::new(tenant_id);
        tx.enter_tenant(&scope).await?;
        let digest = self.ports.secrets.digest(token.trim());
        let mut invitation = tx
            .invitations()
            .find_by_token_digest(&scope, &digest)
            .await?
            .ok_or_else(|| AppError::validation("token", UNKNOWN))?;
        let now = self.ports.clock.now();
        invitation.accept(&user.email, now).map_err(invitation_refused)?;
        let tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if !tenant.is_active() {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::TenantSuspended,
                message: "this tenant is suspended".into(),
            });
        }
        match tx.memberships().find_by_user(&scope, user.id).await? {
            Some(existing) if existing.status == MembershipStatus::Active => {
                return Err(AppError::Conflict {
                    field: "token".into(),
                    message: "you are already a member of this tenant".into(),
                });
            }
            Some(existing) => {
                let mut membership = existing.clone();
                membership.reactivate(invitation.role_id, now);
                tx.memberships()
                    .update(&scope, &existing, &membership)
                    .await
                    .map_err(used_meanwhile)?;
            }
            None => {
                let membership = Membership {
                    id: MembershipId::from_uuid(self.ports.ids.new_id()),
                    tenant_id,
                    user_id: user.id,
                    role_id: invitation.role_id,
                    status: MembershipStatus::Active,
                    created_at: now,
                    updated_at: now,
                };
                tx.memberships().insert(&scope, &membership).await?;
            }
        }
        tx.invitations()
            .update(&scope, &invitation)
            .await
            .map_err(used_meanwhile)?;
        Ok((tenant, invitation))
    }
}

/// The invitation (or the membership it reopens) was changed by a request racing this
/// one, e.g. revoked or accepted twice at once: the token no longer works.
fn used_meanwhile(error: crate::ports::StoreError) -> AppError {
    match error {
        crate::ports::StoreError::Stale => AppError::validation("token", UNKNOWN),
        other => other.into(),
    }
}
