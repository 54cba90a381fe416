//! Provisioning by a tenant's directory (SCIM 2.0). An owner creates a bearer token for
//! the directory client; the directory then creates, changes, deactivates and deletes
//! the tenant's people and groups. It is a principal of its own, confined to its
//! tenant: it acts on memberships of that tenant only, never on an account's password,
//! address or other tenants, and never makes or removes the last owner. Groups map to
//! roles (an owner sets which); deactivating or deleting a person removes their
//! membership, ends their sessions in the tenant and revokes the API keys they made, in
//! one transaction.

mod directory;
mod groups;
mod users;

pub use groups::{ScimGroupInput, ScimGroupView};
pub use users::{ScimUserInput, ScimUserView};

use tessera_domain::{
    AuditActor, AuditOrigin, Feature, Name, Refusal, ScimToken, ScimTokenId, SystemRole, TenantId, TenantStatus,
};

use crate::api_keys::{parse_secret, same_digest};
use crate::context::Acting;
use crate::rate_limits::Quota;
use crate::{AppError, Application, ForbiddenReason, RequestContext, TenantScope};

const PREFIX: &str = "tscim_";
const REFUSED: &str = "the SCIM token is not valid";
/// Requests one directory token (and one client address) may send per minute.
const PER_MINUTE: u32 = 1_200;
/// Tokens listed (the newest; revoked ones included).
const LISTED: u64 = 50;

/// The tenant's directory, authenticated by one of its tokens: built only by
/// [`Application::authenticate_scim`].
#[derive(Debug, Clone)]
pub struct ScimCaller {
    scope: TenantScope,
    token: ScimTokenId,
    origin: AuditOrigin,
    /// The tenant is past due or suspended: its directory may read, deactivate and
    /// delete (offboarding goes on), not give anyone access.
    restricted: bool,
}

impl ScimCaller {
    /// Whether the directory may give access now (create, reactivate, change groups).
    fn may_grant(&self) -> bool {
        !self.restricted
    }

    fn ensure_may_grant(&self) -> Result<(), AppError> {
        if self.restricted {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::TenantReadOnly,
                message: "the tenant is past due or suspended: its directory may read, deactivate and delete, \
                          nothing more until it is active again"
                    .into(),
            });
        }
        Ok(())
    }

    fn acting(&self) -> Acting<'_> {
        Acting {
            scope: &self.scope,
            actor: AuditActor::Directory(self.token),
            origin: &self.origin,
        }
    }
}

/// A new token and its secret (shown this once).
#[derive(Debug, Clone)]
pub struct CreatedScimToken {
    pub token: ScimToken,
    pub secret: String,
}

/// A write based on a version the record no longer has (`If-Match`, or another
/// request in between): the transport answers it as a failed precondition.
fn version_conflict() -> AppError {
    AppError::Conflict {
        field: "version".into(),
        message: "the resource changed since that version was read".into(),
    }
}

/// `tscim_<tenant, 32 hex>_<token id, 32 hex>_<random>`.
fn parse(secret: &str) -> Option<(TenantId, ScimTokenId)> {
    let (tenant, token) = parse_secret(PREFIX, secret)?;
    Some((TenantId::from_uuid(tenant), ScimTokenId::from_uuid(token)))
}

impl Application {
    /// Creates a token for the tenant's directory (owners, with `scim` in the plan; at
    /// most [`ScimToken::MAX_LIVE`] live at once).
    #[tracing::instrument(level = "debug", name = "create_scim_token", skip_all)]
    pub async fn create_scim_token(&self, ctx: &RequestContext, name: &str) -> Result<CreatedScimToken, AppError> {
        let name = Name::parse(name).map_err(|e| AppError::validation("name", e.to_string()))?;
        let scope = ctx.own_scope().clone();
        let tx = self.quota_tx(&scope).await?;
        let me = self.require_owner(tx.as_ref(), ctx).await?;
        let tenant = tx
            .tenants()
            .find_by_id(scope.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if !self.current_entitlements(&tenant).has(Feature::Scim) {
            return Err(AppError::OverPlan(Refusal::FeatureNotInPlan(Feature::Scim)));
        }
        if tx.scim().count_live_tokens(&scope).await? >= ScimToken::MAX_LIVE {
            return Err(AppError::validation(
                "name",
                format!(
                    "the tenant holds {} live SCIM tokens already; revoke one first",
                    ScimToken::MAX_LIVE
                ),
            ));
        }
        let now = self.ports.clock.now();
        let id = ScimTokenId::from_uuid(self.ports.ids.new_id());
        let secret = format!(
            "{PREFIX}{}_{}_{}",
            scope.tenant_id().as_uuid().simple(),
            id.as_uuid().simple(),
            self.ports.secrets.generate("").plain
        );
        let token = ScimToken {
            id,
            tenant_id: scope.tenant_id(),
            name,
            secret_digest: self.ports.secrets.digest(&secret),
            created_by: me,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        tx.scim().insert_token(&scope, &token).await?;
        let event = ctx.audit("scim_token.created", "scim_token", token.id, now).change(
            "name",
            None::<&str>,
            Some(token.name.as_str()),
        );
        self.commit_with(tx, &event).await?;
        Ok(CreatedScimToken { token, secret })
    }

    /// The tenant's directory tokens, newest first (owners).
    pub async fn scim_tokens(&self, ctx: &RequestContext) -> Result<Vec<ScimToken>, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        Ok(tx.scim().list_tokens(ctx.own_scope(), LISTED).await?)
    }

    /// Revokes a directory token (owners); its next request is refused.
    #[tracing::instrument(level = "debug", name = "revoke_scim_token", skip_all)]
    pub async fn revoke_scim_token(&self, ctx: &RequestContext, id: ScimTokenId) -> Result<ScimToken, AppError> {
        let scope = ctx.own_scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        let mut token = tx
            .scim()
            .find_token(&scope, id)
            .await?
            .ok_or(AppError::NotFound("SCIM token"))?;
        if token.revoked_at.is_some() {
            return Ok(token);
        }
        let now = self.ports.clock.now();
        tx.scim().revoke_token(&scope, id, now).await?;
        token.revoked_at = Some(now);
        let event = ctx.audit("scim_token.revoked", "scim_token", id, now).change(
            "revoked_at",
            None::<String>,
            Some(now.to_rfc3339()),
        );
        self.commit_with(tx, &event).await?;
        Ok(token)
    }

    /// Turns a directory's bearer token into its caller: the token must match its
    /// digest and be live, the owner who created it still an owner, the tenant not
    /// being deleted and with `scim` in its plan. Each client address and each token
    /// has a per-minute budget, the address's spent before any database work.
    #[tracing::instrument(level = "debug", name = "authenticate_scim", skip_all)]
    pub async fn authenticate_scim(&self, secret: &str, origin: AuditOrigin) -> Result<ScimCaller, AppError> {
        if let Some(ip) = origin.ip.as_deref() {
            let key = format!("scim:ip:{}", crate::rate_limits::address_bucket(ip));
            let decision = self
                .ports
                .rate_limiter
                .acquire(&key, Quota::per_minute(PER_MINUTE))
                .await;
            if !decision.allowed {
                return Err(crate::rate_limits::refused(&decision));
            }
        }
        let (tenant_id, token_id) = parse(secret).ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        // The secret names its tenant; the digest check below proves it. This is the
        // directory's authentication path, allowed to mint a scope.
        let scope = TenantScope::new(tenant_id);
        let digest = self.ports.secrets.digest(secret.trim());
        let tx = self.tenant_tx(&scope).await?;
        let token = tx
            .scim()
            .find_token(&scope, token_id)
            .await?
            .filter(|token| same_digest(&token.secret_digest, &digest) && token.is_usable())
            .ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        let tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        let restricted = match tenant.status {
            TenantStatus::Active => false,
            TenantStatus::PastDue | TenantStatus::Suspended => true,
            TenantStatus::PendingDeletion | TenantStatus::Deleted => {
                return Err(AppError::Forbidden {
                    reason: ForbiddenReason::TenantPendingDeletion,
                    message: "this tenant is being deleted".into(),
                });
            }
        };
        // Never beyond the authority that made it: an owner who is no longer one takes
        // the token's power along (like an API key's creator).
        let owner = crate::members::system_role(tx.as_ref(), &scope, SystemRole::Owner).await?;
        let creator_is_owner = tx
            .memberships()
            .find_by_user(&scope, token.created_by)
            .await?
            .is_some_and(|m| m.is_active() && m.role_id == owner.id);
        if !creator_is_owner {
            return Err(AppError::Unauthenticated(
                "the SCIM token's creator is no longer an owner of the tenant".into(),
            ));
        }
        if !self.current_entitlements(&tenant).has(Feature::Scim) {
            return Err(AppError::OverPlan(Refusal::FeatureNotInPlan(Feature::Scim)));
        }
        let decision = self
            .ports
            .rate_limiter
            .acquire(&format!("scim:{token_id}"), Quota::per_minute(PER_MINUTE))
            .await;
        if !decision.allowed {
            return Err(crate::rate_limits::refused(&decision));
        }
        let now = self.ports.clock.now();
        if token.use_worth_recording(now) {
            drop(tx);
            let tx = self.tenant_tx(&scope).await?;
            tx.scim().record_token_use(&scope, token_id, now).await?;
            tx.commit().await?;
        }
        Ok(ScimCaller {
            scope,
            token: token_id,
            origin,
            restricted,
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_token_names_its_tenant_and_id() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let token = ScimTokenId::from_uuid(Uuid::from_u128(2));
        let secret = format!("tscim_{}_{}_abc", tenant.as_uuid().simple(), token.as_uuid().simple());
        assert_eq!(parse(&secret), Some((tenant, token)));
        for bad in [
            "",
            "tscim_",
            "tsk_x_y_z",
            &format!("tscim_{}_{}_", tenant.as_uuid().simple(), token.as_uuid().simple()),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
