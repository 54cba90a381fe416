//! Invitations to the current tenant, and accepting one.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_application::invitations::InviteMember;
use tessera_domain::{Invitation as DomainInvitation, InvitationId, InvitationStatus as DomainStatus, RoleId};

use super::access::{Access, Rule};
use super::context::{application, client_info, member};
use super::cookies;
use super::errors::{GqlResult, parse_id};
use super::identity::AuthPayload;
use super::pagination::{page_cost, relay_connection};
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["invitations"], Access::Permission(Permission::MembersInvite)),
    ("Mutation", &["inviteMember", "revokeInvitation"], Access::Permission(Permission::MembersInvite)),
    ("Mutation", &["acceptInvitation"], Access::Person),
    // Invitation: the invited address; every field listed
    ("Invitation", &["id", "email", "roleId", "invitedBy", "status", "createdAt", "expiresAt", "acceptedAt"], Access::Inherited),
    ("InvitationConnection", &["*"], Access::Inherited),
    ("InvitationEdge", &["*"], Access::Inherited),
];

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    /// Pending but past its expiry.
    Expired,
}

#[derive(SimpleObject, Clone)]
pub struct Invitation {
    pub id: ID,
    pub email: String,
    pub role_id: ID,
    pub invited_by: ID,
    pub status: InvitationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl From<&DomainInvitation> for Invitation {
    fn from(invitation: &DomainInvitation) -> Self {
        let status = match invitation.status {
            DomainStatus::Pending if invitation.is_expired(Utc::now()) => InvitationStatus::Expired,
            DomainStatus::Pending => InvitationStatus::Pending,
            DomainStatus::Accepted => InvitationStatus::Accepted,
            DomainStatus::Revoked => InvitationStatus::Revoked,
        };
        Self {
            id: ID(invitation.id.to_string()),
            email: invitation.email.to_string(),
            role_id: ID(invitation.role_id.to_string()),
            invited_by: ID(invitation.invited_by.to_string()),
            status,
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
            accepted_at: invitation.accepted_at,
        }
    }
}

relay_connection!(
    InvitationConnection,
    InvitationEdge,
    Invitation,
    DomainInvitation,
    (),
    |app, request, _extra| { app.count_invitations(request) }
);

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    pub role_id: ID,
}

#[derive(InputObject)]
pub struct AcceptInvitationInput {
    /// The token from the invitation mail.
    pub token: String,
}

#[derive(Default)]
pub struct InvitationQuery;

#[Object]
impl InvitationQuery {
    /// Invitations of the current tenant, oldest first. Needs `members:invite`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<InvitationConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).list_invitations(request, &page).await.gql()?;
        Ok(InvitationConnection { page, extra: () })
    }
}

#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// Invites an email address with a role and mails it a single-use token. Needs
    /// `members:invite` and every permission of the role.
    async fn invite_member(&self, ctx: &Context<'_>, input: InviteMemberInput) -> Result<Invitation> {
        let request = member(ctx)?;
        let role_id = parse_id("roleId", &input.role_id, RoleId::parse)?;
        let command = InviteMember {
            email: input.email,
            role_id,
        };
        application(ctx)
            .invite_member(request, command)
            .await
            .gql()
            .map(|i| Invitation::from(&i))
    }

    /// Needs `members:invite`.
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<Invitation> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, InvitationId::parse)?;
        application(ctx)
            .revoke_invitation(request, id)
            .await
            .gql()
            .map(|i| Invitation::from(&i))
    }

    /// Joins the inviting tenant (the invitation must be addressed to your email) and
    /// returns a token pair for it.
    async fn accept_invitation(&self, ctx: &Context<'_>, input: AcceptInvitationInput) -> Result<AuthPayload> {
        let request = member(ctx)?;
        application(ctx)
            .accept_invitation(
                request.require_person().gql()?,
                request.has_second_factor(),
                &input.token,
                client_info(ctx),
            )
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }
}
