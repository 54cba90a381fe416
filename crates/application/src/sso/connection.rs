//! A tenant's connection to its provider: what an owner configures (issuer, client,
//! sealed secret, the role people are provisioned with, the verified domains it speaks
//! for, whether it is required), read back without the secret.

use tessera_domain::{DomainName, Feature, IssuerUrl, Refusal, RoleId, Slug, SsoConnection, SystemRole};

use super::secret_context;
use crate::{AppError, Application, FieldErrors, RequestContext};

/// What an owner sets; the client secret may be left out to keep the stored one.
#[derive(Debug, Clone)]
pub struct SsoConnectionInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub provisioned_role_id: String,
    /// Verified custom domains of the tenant whose people the provider speaks for.
    pub domains: Vec<String>,
    /// People of those domains must sign in through the provider (owners excepted).
    pub required: bool,
}

fn domain_list(domains: &[DomainName]) -> String {
    domains.iter().map(DomainName::as_str).collect::<Vec<_>>().join(",")
}

impl Application {
    /// The callback URL to register with providers, when the server knows its address.
    pub fn sso_redirect_uri(&self) -> Option<&str> {
        self.sso.redirect_uri.as_deref()
    }

    /// The caller's tenant's connection and the tenant's slug (owners only).
    pub async fn sso_connection(&self, ctx: &RequestContext) -> Result<Option<(SsoConnection, Slug)>, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        let Some(connection) = tx.sso().find_connection(ctx.own_scope()).await? else {
            return Ok(None);
        };
        let tenant = tx
            .tenants()
            .find_by_id(ctx.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        Ok(Some((connection, tenant.slug)))
    }

    /// Creates or replaces the caller's tenant's connection (owners, with `sso` in the
    /// plan).
    #[tracing::instrument(level = "debug", name = "configure_sso_connection", skip_all)]
    pub async fn configure_sso_connection(
        &self,
        ctx: &RequestContext,
        input: SsoConnectionInput,
    ) -> Result<(SsoConnection, Slug), AppError> {
        let scope = ctx.own_scope();
        let tx = self.tenant_tx(scope).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        let tenant = tx
            .tenants()
            .find_by_id(ctx.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if !self.current_entitlements(&tenant).has(Feature::Sso) {
            return Err(AppError::OverPlan(Refusal::FeatureNotInPlan(Feature::Sso)));
        }
        let existing = tx.sso().find_connection(scope).await?;
        let mut errors = FieldErrors::new();
        let issuer = errors.check("issuer", IssuerUrl::parse(&input.issuer, self.sso.allow_loopback_http));
        let client_id = input.client_id.trim().to_owned();
        if client_id.is_empty() || client_id.len() > SsoConnection::MAX_CLIENT_ID_LEN {
            errors.add(
                "clientId",
                format!("must be 1 to {} characters", SsoConnection::MAX_CLIENT_ID_LEN),
            );
        }
        let secret = input.client_secret.as_deref().map(str::trim);
        match secret {
            Some(secret) if secret.is_empty() || secret.len() > SsoConnection::MAX_CLIENT_SECRET_LEN => errors.add(
                "clientSecret",
                format!("must be 1 to {} characters", SsoConnection::MAX_CLIENT_SECRET_LEN),
            ),
            None if existing.is_none() => errors.add("clientSecret", "is required for a new connection"),
            _ => {}
        }
        let role = match RoleId::parse(&input.provisioned_role_id) {
            Ok(id) => tx.roles().find_by_id(scope, id).await?,
            Err(_) => None,
        };
        match &role {
            None => errors.add("provisionedRoleId", "no such role in this tenant"),
            Some(role) if role.system == Some(SystemRole::Owner) => errors.add(
                "provisionedRoleId",
                "people provisioned by single sign-on cannot be owners",
            ),
            Some(_) => {}
        }
        let mut domains = Vec::new();
        if input.domains.is_empty() || input.domains.len() > SsoConnection::MAX_DOMAINS {
            errors.add(
                "domains",
                format!("name 1 to {} email domains", SsoConnection::MAX_DOMAINS),
            );
        }
        for raw in input.domains.iter().take(SsoConnection::MAX_DOMAINS) {
            match DomainName::parse(raw) {
                Ok(domain) => match tx.custom_domains().find(scope, &domain).await? {
                    Some(found) if found.is_verified() => domains.push(domain),
                    _ => errors.add(
                        "domains",
                        format!(
                            "{domain} is not a verified domain of this tenant (addCustomDomain, verifyCustomDomain)"
                        ),
                    ),
                },
                Err(e) => errors.add("domains", format!("{raw}: {e}")),
            }
        }
        domains.dedup();
        let (Some(issuer), Some(role)) = (issuer, role) else {
            return Err(AppError::Validation(errors));
        };
        errors.into_result()?;
        let now = self.ports.clock.now();
        let sealed_client_secret = match (secret, &existing) {
            (Some(secret), _) => self
                .ports
                .secret_box
                .seal(secret, &secret_context(tenant.id))
                .map_err(AppError::Internal)?,
            (None, Some(existing)) => existing.sealed_client_secret.clone(),
            (None, None) => return Err(AppError::validation("clientSecret", "is required for a new connection")),
        };
        let connection = SsoConnection {
            tenant_id: tenant.id,
            issuer,
            client_id,
            sealed_client_secret,
            provisioned_role_id: role.id,
            domains,
            required: input.required,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
        };
        tx.sso().put_connection(scope, &connection).await?;
        let event = ctx
            .audit("sso.connection_configured", "sso_connection", tenant.id, now)
            .change(
                "issuer",
                existing.as_ref().map(|c| c.issuer.as_str()),
                Some(connection.issuer.as_str()),
            )
            .change(
                "client_id",
                existing.as_ref().map(|c| c.client_id.as_str()),
                Some(connection.client_id.as_str()),
            )
            .change(
                "provisioned_role_id",
                existing.as_ref().map(|c| c.provisioned_role_id.to_string()),
                Some(connection.provisioned_role_id.to_string()),
            )
            .change(
                "domains",
                existing.as_ref().map(|c| domain_list(&c.domains)),
                Some(domain_list(&connection.domains)),
            )
            .change(
                "required",
                existing.as_ref().map(|c| c.required),
                Some(connection.required),
            )
            .change("client_secret", None::<&str>, secret.map(|_| "(replaced)"));
        self.commit_with(tx, &event).await?;
        Ok((connection, tenant.slug))
    }

    /// Removes the caller's tenant's connection (owners only); `false` when there was none.
    pub async fn delete_sso_connection(&self, ctx: &RequestContext) -> Result<bool, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        if !tx.sso().delete_connection(ctx.own_scope()).await? {
            return Ok(false);
        }
        let now = self.ports.clock.now();
        let event = ctx.audit("sso.connection_deleted", "sso_connection", ctx.tenant_id(), now);
        self.commit_with(tx, &event).await?;
        Ok(true)
    }
}
