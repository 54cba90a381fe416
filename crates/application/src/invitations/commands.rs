use tessera_domain::{Email, Invitation, InvitationId, InvitationStatus, Limit, Permission, RoleId};

use super::{invitation_refused, token_for};
use crate::ports::{MailMessage, OutgoingMail};
use crate::{AppError, Application, Page, PageRequest, RequestContext};

#[derive(Debug, Clone)]
pub struct InviteMember {
    pub email: String,
    pub role_id: RoleId,
}

impl Application {
    /// Invites an email address with a role (replacing any pending invitation to it)
    /// and mails the token. Needs `members:invite` and every permission of the role.
    #[tracing::instrument(level = "debug", name = "invite_member", skip_all, fields(role_id = %input.role_id))]
    pub async fn invite_member(&self, ctx: &RequestContext, input: InviteMember) -> Result<Invitation, AppError> {
        let scope = ctx.authorize(Permission::MembersInvite)?.scope().clone();
        let email = Email::parse(&input.email).map_err(|e| AppError::validation("email", e.to_string()))?;
        let tx = self.quota_tx(&scope).await?;
        let role = tx
            .roles()
            .find_by_id(&scope, input.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ctx.ensure_can_grant(&role.permissions)?;
        if let Some(user) = tx.users().find_by_email(&email).await? {
            let membership = tx.memberships().find_by_user(&scope, user.id).await?;
            if membership.is_some_and(|m| m.is_active()) {
                return Err(AppError::Conflict {
                    field: "email".into(),
                    message: "this person is already a member of the tenant".into(),
                });
            }
        }
        let secret = self.ports.secrets.generate("");
        let token = token_for(scope.tenant_id(), &secret.plain);
        let now = self.ports.clock.now();
        let invitation = Invitation {
            id: InvitationId::from_uuid(self.ports.ids.new_id()),
            tenant_id: scope.tenant_id(),
            email: email.clone(),
            role_id: role.id,
            invited_by: ctx.accountable_person(),
            token_digest: self.ports.secrets.digest(&token),
            status: InvitationStatus::Pending,
            created_at: now,
            expires_at: now + self.auth.invitation_ttl,
            accepted_at: None,
        };
        // A new invitation replaces a pending one to the same address: it takes no
        // second seat.
        tx.invitations().revoke_pending_for(&scope, &email).await?;
        self.entitle(tx.as_ref(), &scope, Limit::Seats).await?;
        tx.invitations().insert(&scope, &invitation).await?;
        let tenant = tx
            .tenants()
            .find_by_id(scope.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let event = ctx
            .audit("invitation.created", "invitation", invitation.id, now)
            .change("email", None::<&str>, Some(email.as_str()))
            .change("role_id", None::<String>, Some(role.id));
        self.commit_with(tx, &event).await?;

        // After commit: a mail is never sent for an invitation that does not exist.
        let mail = OutgoingMail {
            to: email,
            message: MailMessage::Invitation {
                tenant_name: tenant.name.as_str().to_owned(),
                role_name: role.name.as_str().to_owned(),
                token,
                expires_at: invitation.expires_at,
            },
        };
        if let Err(error) = self.ports.mailer.send(&mail).await {
            // The invitation stands; inviting again issues a fresh token and mail.
            tracing::error!(%error, invitation_id = %invitation.id, "sending the invitation mail failed");
        }
        Ok(invitation)
    }

    #[tracing::instrument(level = "debug", name = "list_invitations", skip_all)]
    pub async fn list_invitations(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<Invitation>, AppError> {
        let scope = ctx.authorize(Permission::MembersInvite)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.invitations().list(&scope, page).await?)
    }

    pub async fn count_invitations(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::MembersInvite)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.invitations().count(&scope).await?)
    }

    #[tracing::instrument(level = "debug", name = "revoke_invitation", skip_all, fields(invitation_id = %id))]
    pub async fn revoke_invitation(&self, ctx: &RequestContext, id: InvitationId) -> Result<Invitation, AppError> {
        let scope = ctx.authorize(Permission::MembersInvite)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        let mut invitation = tx
            .invitations()
            .find_by_id(&scope, id)
            .await?
            .ok_or(AppError::NotFound("invitation"))?;
        let before = invitation.status;
        invitation.revoke().map_err(invitation_refused)?;
        tx.invitations().update(&scope, &invitation).await?;
        let event = ctx
            .audit(
                "invitation.revoked",
                "invitation",
                invitation.id,
                self.ports.clock.now(),
            )
            .change("status", Some(before.as_str()), Some(invitation.status.as_str()));
        self.commit_with(tx, &event).await?;
        Ok(invitation)
    }
}
