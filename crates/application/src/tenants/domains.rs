//! Custom domains: a tenant claims a host name, proves control of it by serving a
//! token there, and from then on a request to that host names the tenant.

use tessera_domain::{CustomDomain, DomainName, Limit, Permission, TenantId};

use crate::ports::StoreError;
use crate::{AppError, Application, RequestContext};

/// Claims per tenant, verified or not.
pub const MAX_CUSTOM_DOMAINS: usize = 10;

impl Application {
    #[tracing::instrument(level = "debug", name = "custom_domains", skip_all)]
    pub async fn custom_domains(&self, ctx: &RequestContext) -> Result<Vec<CustomDomain>, AppError> {
        // Tokens are shown here, so only those who may change the tenant see them.
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.custom_domains().list(&scope).await?)
    }

    /// Claims a host name for the caller's tenant; it names the tenant once verified.
    #[tracing::instrument(level = "debug", name = "add_custom_domain", skip_all)]
    pub async fn add_custom_domain(&self, ctx: &RequestContext, domain: &str) -> Result<CustomDomain, AppError> {
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let domain = DomainName::parse(domain).map_err(|e| AppError::validation("domain", e.0))?;
        if let Some(base) = self.auth.base_domain.as_deref()
            && domain.is_within(base)
        {
            return Err(AppError::validation(
                "domain",
                format!("must not be within {base}: tenants get <slug>.{base} without a claim"),
            ));
        }
        let now = self.ports.clock.now();
        let claim = CustomDomain {
            tenant_id: scope.tenant_id(),
            domain,
            verification_token: self.ports.secrets.generate("tdv_").plain,
            created_at: now,
            verified_at: None,
        };
        let tx = self.quota_tx(&scope).await?;
        self.entitle(tx.as_ref(), &scope, Limit::CustomDomains).await?;
        if tx.custom_domains().list(&scope).await?.len() >= MAX_CUSTOM_DOMAINS {
            return Err(AppError::validation(
                "domain",
                format!("a tenant may claim at most {MAX_CUSTOM_DOMAINS} domains; remove one first"),
            ));
        }
        tx.custom_domains().insert(&scope, &claim).await.map_err(|e| match e {
            StoreError::Duplicate(_) => AppError::Conflict {
                field: "domain".into(),
                message: "this tenant already claims that domain".into(),
            },
            other => other.into(),
        })?;
        let event = ctx.audit("domain.added", "domain", &claim.domain, now);
        self.commit_with(tx, &event).await?;
        Ok(claim)
    }

    /// Fetches the token from the domain; on success the domain names this tenant.
    #[tracing::instrument(level = "debug", name = "verify_custom_domain", skip_all)]
    pub async fn verify_custom_domain(&self, ctx: &RequestContext, domain: &str) -> Result<CustomDomain, AppError> {
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let domain = DomainName::parse(domain).map_err(|e| AppError::validation("domain", e.0))?;
        let claim = {
            let tx = self.tenant_tx(&scope).await?;
            tx.custom_domains()
                .find(&scope, &domain)
                .await?
                .ok_or(AppError::NotFound("custom domain"))?
        };
        if claim.is_verified() {
            return Ok(claim);
        }
        // No transaction is held while another server is asked.
        self.ports
            .domain_verifier
            .verify(&claim.domain, &claim.verification_token)
            .await
            .map_err(|reason| AppError::validation("domain", format!("could not be verified: {reason}")))?;
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(&scope).await?;
        tx.custom_domains()
            .mark_verified(&scope, &domain, now)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(_) => AppError::Conflict {
                    field: "domain".into(),
                    message: "another tenant has already verified this domain".into(),
                },
                StoreError::NotFound => AppError::NotFound("custom domain"),
                other => other.into(),
            })?;
        let event = ctx.audit("domain.verified", "domain", &domain, now);
        self.commit_with(tx, &event).await?;
        Ok(CustomDomain {
            verified_at: Some(now),
            verification_token: String::new(),
            ..claim
        })
    }

    #[tracing::instrument(level = "debug", name = "remove_custom_domain", skip_all)]
    pub async fn remove_custom_domain(&self, ctx: &RequestContext, domain: &str) -> Result<(), AppError> {
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let domain = DomainName::parse(domain).map_err(|e| AppError::validation("domain", e.0))?;
        let tx = self.tenant_tx(&scope).await?;
        tx.custom_domains().delete(&scope, &domain).await.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("custom domain"),
            other => other.into(),
        })?;
        let event = ctx.audit("domain.removed", "domain", &domain, self.ports.clock.now());
        self.commit_with(tx, &event).await?;
        Ok(())
    }

    /// The tenant a verified custom domain belongs to (`None`: the host names no tenant).
    pub(crate) async fn tenant_of_domain(&self, host: &str) -> Result<Option<TenantId>, AppError> {
        let Ok(domain) = DomainName::parse(host) else {
            return Ok(None);
        };
        let tx = self.global_tx().await?;
        Ok(tx.custom_domains().find_verified_owner(&domain).await?)
    }
}
