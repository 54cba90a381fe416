//! Single sign-on: a tenant's OpenID Connect connection (owners), and the last step of
//! a browser's sign-in (the callback's one-time code for a token pair).

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use tessera_application::sso::SsoConnectionInput;
use tessera_domain::SsoConnection as DomainConnection;

use super::access::{Access, Rule};
use super::context::{application, client_info, member};
use super::cookies;
use super::errors::GqlResult;
use super::identity::AuthPayload;

pub(super) const RULES: &[Rule] = &[
    // Owners only: the use cases check the role.
    ("Query", &["ssoConnection"], Access::Person),
    (
        "Mutation",
        &["configureSsoConnection", "deleteSsoConnection"],
        Access::Person,
    ),
    ("Mutation", &["completeSsoSignIn"], Access::Public),
    // Reached only through the owner's query or mutation; the secret is never among them.
    (
        "SsoConnection",
        &[
            "issuer",
            "clientId",
            "provisionedRoleId",
            "domains",
            "required",
            "callbackUrl",
            "startPath",
            "createdAt",
            "updatedAt",
        ],
        Access::Inherited,
    ),
];

/// The tenant's OpenID Connect connection. The client secret is kept sealed and never
/// shown.
pub struct SsoConnection {
    connection: DomainConnection,
    callback_url: Option<String>,
    slug: String,
}

#[Object]
impl SsoConnection {
    /// The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`).
    async fn issuer(&self) -> &str {
        self.connection.issuer.as_str()
    }
    async fn client_id(&self) -> &str {
        &self.connection.client_id
    }
    /// The role people provisioned by their first sign-in get.
    async fn provisioned_role_id(&self) -> ID {
        ID(self.connection.provisioned_role_id.to_string())
    }
    /// The email domains the provider speaks for (verified custom domains of the
    /// tenant): only people of these domains sign in through it.
    async fn domains(&self) -> Vec<&str> {
        self.connection.domains.iter().map(|d| d.as_str()).collect()
    }
    /// People of these domains must sign in through the provider (their password
    /// log-ins answer `SSO_REQUIRED`), the tenant's owners excepted.
    async fn required(&self) -> bool {
        self.connection.required
    }
    /// The redirect URI to register with the provider; null when the server does not
    /// know its public address (`PUBLIC_URL`).
    async fn callback_url(&self) -> Option<&str> {
        self.callback_url.as_deref()
    }
    /// Where a browser starts signing in to this tenant (on this server).
    async fn start_path(&self) -> String {
        format!("/sso/start?tenant={}", self.slug)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.connection.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.connection.updated_at
    }
}

#[derive(InputObject)]
pub struct ConfigureSsoConnectionInput {
    /// `https://…` (`http://` on a loopback address outside production).
    pub issuer: String,
    pub client_id: String,
    /// Required for a new connection; leave out to keep the stored one.
    pub client_secret: Option<String>,
    /// The role people provisioned by their first sign-in get (not the owner role).
    pub provisioned_role_id: ID,
    /// Email domains the provider speaks for: each a verified custom domain of the
    /// tenant (`addCustomDomain`, `verifyCustomDomain`), at most 20.
    pub domains: Vec<String>,
    /// Require single sign-on of these domains' people (owners keep their password).
    #[graphql(default)]
    pub required: bool,
}

#[derive(InputObject)]
pub struct CompleteSsoSignInInput {
    /// The `sso_code` the callback handed over (valid 2 minutes, once).
    pub code: String,
}

fn shown(ctx: &Context<'_>, (connection, slug): (DomainConnection, tessera_domain::Slug)) -> SsoConnection {
    SsoConnection {
        callback_url: application(ctx).sso_redirect_uri().map(str::to_owned),
        slug: slug.as_str().to_owned(),
        connection,
    }
}

#[derive(Default)]
pub struct SsoQuery;

#[Object]
impl SsoQuery {
    /// The tenant's single sign-on connection, if any (owners).
    async fn sso_connection(&self, ctx: &Context<'_>) -> Result<Option<SsoConnection>> {
        let request = member(ctx)?;
        Ok(application(ctx)
            .sso_connection(request)
            .await
            .gql()?
            .map(|found| shown(ctx, found)))
    }
}

#[derive(Default)]
pub struct SsoMutation;

#[Object]
impl SsoMutation {
    /// Creates or replaces the tenant's connection to its OpenID Connect provider
    /// (owners, with `sso` in the plan).
    async fn configure_sso_connection(
        &self,
        ctx: &Context<'_>,
        input: ConfigureSsoConnectionInput,
    ) -> Result<SsoConnection> {
        let request = member(ctx)?;
        let command = SsoConnectionInput {
            issuer: input.issuer,
            client_id: input.client_id,
            client_secret: input.client_secret,
            provisioned_role_id: input.provisioned_role_id.0,
            domains: input.domains,
            required: input.required,
        };
        let configured = application(ctx)
            .configure_sso_connection(request, command)
            .await
            .gql()?;
        Ok(shown(ctx, configured))
    }

    /// Removes the tenant's connection (owners); false when there was none.
    async fn delete_sso_connection(&self, ctx: &Context<'_>) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx).delete_sso_connection(request).await.gql()
    }

    /// The last step of a single sign-on: the callback's one-time code for a token pair
    /// (or the session cookies in cookie mode).
    async fn complete_sso_sign_in(&self, ctx: &Context<'_>, input: CompleteSsoSignInInput) -> Result<AuthPayload> {
        application(ctx)
            .complete_sso_sign_in(&input.code, client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }
}
