//! Custom domains of the current tenant: claim, prove control, remove.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_domain::CustomDomain as DomainCustomDomain;

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::GqlResult;
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["customDomains"], Access::Permission(Permission::TenantUpdate)),
    ("Mutation", &["addCustomDomain", "verifyCustomDomain", "removeCustomDomain"], Access::Permission(Permission::TenantUpdate)),
    ("CustomDomain", &["*"], Access::Inherited),
];

/// A host name that names this tenant once verified.
#[derive(SimpleObject, Clone)]
pub struct CustomDomain {
    pub domain: String,
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Serve this text at `verificationUrl`, then call `verifyCustomDomain`.
    pub verification_token: String,
    pub verification_url: String,
}

impl From<DomainCustomDomain> for CustomDomain {
    fn from(claim: DomainCustomDomain) -> Self {
        Self {
            verification_url: format!("http://{}{}", claim.domain, DomainCustomDomain::VERIFICATION_PATH),
            domain: claim.domain.as_str().to_owned(),
            verified: claim.is_verified(),
            verified_at: claim.verified_at,
            created_at: claim.created_at,
            verification_token: claim.verification_token,
        }
    }
}

#[derive(InputObject)]
pub struct CustomDomainInput {
    /// A full host name such as `app.acme.com`.
    pub domain: String,
}

#[derive(Default)]
pub struct DomainQuery;

#[Object]
impl DomainQuery {
    /// The current tenant's custom domains (at most ten).
    async fn custom_domains(&self, ctx: &Context<'_>) -> Result<Vec<CustomDomain>> {
        let request = member(ctx)?;
        let claims = application(ctx).custom_domains(request).await.gql()?;
        Ok(claims.into_iter().map(CustomDomain::from).collect())
    }
}

#[derive(Default)]
pub struct DomainMutation;

#[Object]
impl DomainMutation {
    /// Claims a host name for the current tenant; it counts once verified.
    async fn add_custom_domain(&self, ctx: &Context<'_>, input: CustomDomainInput) -> Result<CustomDomain> {
        let request = member(ctx)?;
        application(ctx)
            .add_custom_domain(request, &input.domain)
            .await
            .gql()
            .map(CustomDomain::from)
    }

    /// Fetches the verification token from the domain; on success requests to the
    /// domain name this tenant.
    async fn verify_custom_domain(&self, ctx: &Context<'_>, input: CustomDomainInput) -> Result<CustomDomain> {
        let request = member(ctx)?;
        application(ctx)
            .verify_custom_domain(request, &input.domain)
            .await
            .gql()
            .map(CustomDomain::from)
    }

    async fn remove_custom_domain(&self, ctx: &Context<'_>, input: CustomDomainInput) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx)
            .remove_custom_domain(request, &input.domain)
            .await
            .gql()?;
        Ok(true)
    }
}
