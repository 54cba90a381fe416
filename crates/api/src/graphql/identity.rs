//! Sign-up, log-in and the current user.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::identity::{AuthSession, LogIn, SignUp};
use tessera_domain::User as DomainUser;

use super::access::{Access, Rule};
use super::context::{Caller, application, client_info, member};
use super::cookies;
use super::errors::GqlResult;
use super::loaders::{MembershipOf, load};
use super::members::Member;
use super::tenants::Tenant;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Mutation", &["signUp", "logIn"], Access::Public),
    ("Query", &["me"], Access::Identity),
    ("Mutation", &["requestEmailVerification"], Access::Person),
    ("Mutation", &["verifyEmail", "requestPasswordReset", "resetPassword"], Access::Public),
    // AuthPayload: credentials, shown once to whoever just proved who they are; every field listed
    ("AuthPayload", &["accessToken", "refreshToken", "expiresAt", "user", "tenant"], Access::Inherited),
    // User: a person: their email, and their membership of the caller's tenant; every field listed
    ("User", &["id", "email", "displayName", "emailVerified", "createdAt", "membership"], Access::Inherited),
];

// Each field is worked out only when a document asks for it (a members page shows a
// person on every row).
#[derive(Clone)]
pub struct User {
    user: Arc<DomainUser>,
    /// The user of a token pair just issued: its session is not this request's caller.
    issued: bool,
}

impl From<DomainUser> for User {
    fn from(user: DomainUser) -> Self {
        Arc::new(user).into()
    }
}

impl From<Arc<DomainUser>> for User {
    fn from(user: Arc<DomainUser>) -> Self {
        Self { user, issued: false }
    }
}

/// A person. One user can belong to several tenants.
#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.user.id.to_string())
    }

    async fn email(&self) -> &str {
        self.user.email.as_str()
    }

    async fn display_name(&self) -> &str {
        self.user.display_name.as_str()
    }

    async fn email_verified(&self) -> bool {
        self.user.email_verified_at.is_some()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.user.created_at
    }

    /// This person's membership of the tenant this request runs in; null when they
    /// hold none, when the request has no tenant or its caller is still onboarding, and
    /// on the user of a token pair just issued (ask again with the new token). A person
    /// may read their own; another person's, or any as an API key, needs `members:read`.
    async fn membership(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        let Some(Caller::Member(request)) = ctx.data_opt::<Caller>() else {
            return Ok(None);
        };
        if self.issued || request.member_scope().is_err() {
            return Ok(None);
        }
        let user_id = self.user.id;
        // Asked per person, so one refusal does not fail the batch of the others.
        request.authorize_member_read(user_id).gql()?;
        Ok(load(ctx, MembershipOf(user_id)).await?.map(Member::from))
    }
}

/// A fresh token pair. The access token is a short-lived JWT sent as
/// `Authorization: Bearer <token>`; the refresh token is opaque and shown only once.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    /// Null in cookie mode: the refresh token is then in an HttpOnly cookie.
    pub refresh_token: Option<String>,
    /// When the access token stops being accepted.
    pub expires_at: DateTime<Utc>,
    pub user: User,
    pub tenant: Tenant,
}

impl From<AuthSession> for AuthPayload {
    fn from(session: AuthSession) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: Some(session.refresh_token),
            expires_at: session.access_token_expires_at,
            user: User {
                user: Arc::new(session.user),
                issued: true,
            },
            tenant: session.tenant.into(),
        }
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    pub display_name: String,
    /// The new tenant (organization) this user will own. Required unless
    /// `invitationToken` is given.
    pub tenant_name: Option<String>,
    /// Optional; derived from `tenantName` when omitted.
    pub tenant_slug: Option<String>,
    /// Join the inviting tenant instead of creating one (the email must match the invitation's).
    pub invitation_token: Option<String>,
}

#[derive(InputObject)]
pub struct LogInInput {
    pub email: String,
    pub password: String,
    /// The tenant to log in to; defaults to the oldest active membership.
    pub tenant_slug: Option<String>,
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The authenticated user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let request = member(ctx)?;
        application(ctx).me(request).await.gql().map(User::from)
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Creates a user, their tenant with its system roles, a default workspace and the
    /// owner membership, all or nothing, and logs the new user in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let command = SignUp {
            email: input.email,
            password: input.password,
            display_name: input.display_name,
            tenant_name: input.tenant_name,
            tenant_slug: input.tenant_slug,
            invitation_token: input.invitation_token,
        };
        application(ctx)
            .sign_up(command, client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }

    /// Logs in with email and password. A wrong email and a wrong password get the same answer.
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        let command = LogIn {
            email: input.email,
            password: input.password,
            tenant_slug: input.tenant_slug,
        };
        application(ctx)
            .log_in(command, client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }
}

#[derive(InputObject)]
pub struct VerifyEmailInput {
    pub token: String,
}

#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    pub email: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    pub token: String,
    /// At least 10 characters.
    pub new_password: String,
}

#[derive(Default)]
pub struct EmailFlowMutation;

#[Object]
impl EmailFlowMutation {
    /// Mails me a token that proves I own my address.
    async fn request_email_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx).request_email_verification(request).await.gql()?;
        Ok(true)
    }

    async fn verify_email(&self, ctx: &Context<'_>, input: VerifyEmailInput) -> Result<bool> {
        application(ctx).verify_email(&input.token).await.gql()?;
        Ok(true)
    }

    /// Always answers true: whether the address has an account is not revealed.
    async fn request_password_reset(&self, ctx: &Context<'_>, input: RequestPasswordResetInput) -> Result<bool> {
        application(ctx).request_password_reset(&input.email).await.gql()?;
        Ok(true)
    }

    /// Sets a new password from a mailed token and ends every session of the account.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> Result<bool> {
        application(ctx)
            .reset_password(&input.token, &input.new_password)
            .await
            .gql()?;
        Ok(true)
    }
}
