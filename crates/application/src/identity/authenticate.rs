//! Turns a bearer access token into a [`RequestContext`]: the token must verify, the
//! membership must still be active and the tenant not suspended or deleted (a
//! suspended tenant's owners excepted). This is the only place request scopes are
//! minted.

use tessera_domain::{Membership, SystemRole, Tenant, TenantStatus};

use crate::ForbiddenReason;
use crate::ports::{MemberAccess, TokenError, Transaction};
use crate::{AppError, Application, RequestContext, Standing, TenantScope};

/// What `membership`'s holder may do in `tenant` given its status: everything, reads
/// only (past due), the owners' billing and export (suspended), or nothing at all.
/// `tx` must be entered in the tenant (the owner check reads its roles).
pub(crate) async fn standing_in(
    tx: &dyn Transaction,
    tenant: &Tenant,
    membership: &Membership,
) -> Result<Standing, AppError> {
    match tenant.status {
        TenantStatus::Active => Ok(Standing::Full),
        TenantStatus::PastDue => Ok(Standing::ReadOnly),
        TenantStatus::Suspended | TenantStatus::PendingDeletion => {
            let role = tx
                .roles()
                .find_by_id(&TenantScope::new(tenant.id), membership.role_id)
                .await?;
            let owner = role.is_some_and(|role| role.system == Some(SystemRole::Owner));
            match (owner, tenant.status) {
                (true, TenantStatus::Suspended) => Ok(Standing::OwnerOnly),
                (true, _) => Ok(Standing::PendingDeletion),
                (false, TenantStatus::Suspended) => Err(AppError::Forbidden {
                    reason: ForbiddenReason::TenantSuspended,
                    message: "this tenant is suspended".into(),
                }),
                (false, _) => Err(AppError::Forbidden {
                    reason: ForbiddenReason::TenantPendingDeletion,
                    message: "this tenant is being deleted".into(),
                }),
            }
        }
        TenantStatus::Deleted => Err(AppError::Unauthenticated(
            "the access token is no longer valid for this tenant".into(),
        )),
    }
}

impl Application {
    #[tracing::instrument(level = "debug", name = "authenticate", skip_all)]
    pub async fn authenticate(&self, access_token: &str) -> Result<RequestContext, AppError> {
        self.authenticate_with(access_token, false).await
    }

    /// [`Application::authenticate`] for a request that [`Application::admit`] admits
    /// next (not one that logs in): when the member's access is cached, its rate-limit
    /// buckets are spent with the cache lookup, in one round trip where the cache
    /// allows, and `admit` uses those decisions. An ended session spends nothing.
    #[tracing::instrument(level = "debug", name = "authenticate", skip_all)]
    pub async fn authenticate_admitting(&self, access_token: &str) -> Result<RequestContext, AppError> {
        self.authenticate_with(access_token, self.rate_limits.enabled).await
    }

    async fn authenticate_with(&self, access_token: &str, admitting: bool) -> Result<RequestContext, AppError> {
        let claims = self
            .ports
            .token_issuer
            .verify(access_token)
            .map_err(|error| match error {
                TokenError::Expired => AppError::Unauthenticated("the access token has expired".into()),
                TokenError::Invalid => AppError::Unauthenticated("the access token is not valid".into()),
            })?;
        // A cached entry exists only for an active member of an active tenant, and is
        // dropped by every change to the tenant's roles or memberships.
        let (lookup, spent) = match admitting {
            true => {
                let actor = crate::Actor::User(claims.user_id);
                let buckets = |access: &MemberAccess| self.buckets_to_spend(actor, claims.tenant_id, &access.limits);
                let found = self
                    .ports
                    .access_cache
                    .lookup_spending(claims.tenant_id, claims.user_id, claims.session_id, &buckets)
                    .await;
                (found.lookup, found.spent)
            }
            false => {
                let lookup = self
                    .ports
                    .access_cache
                    .lookup(claims.tenant_id, claims.user_id, claims.session_id)
                    .await;
                (lookup, None)
            }
        };
        if lookup.revoked {
            return Err(AppError::Unauthenticated("this session has been ended".into()));
        }
        if let Some(access) = lookup.access {
            let scope = TenantScope::new(claims.tenant_id);
            let context = RequestContext::new(claims.user_id, scope, access.role_id, access.permissions);
            return Ok(context
                .with_session(claims.session_id)
                .with_limits(access.limits)
                .with_onboarding_pending(self.auth.onboarding_gate && !access.onboarded)
                .with_second_factor(claims.second_factor, access.mfa_required)
                .with_access_generation(lookup.generation)
                .with_spent_ahead(spent));
        }
        let tx = self.global_tx().await?;
        let session = tx.sessions().find_by_id(claims.session_id).await?;
        if !session.is_some_and(|s| s.user_id == claims.user_id && s.is_live(self.ports.clock.now())) {
            return Err(AppError::Unauthenticated("this session has been ended".into()));
        }
        tx.enter_user(claims.user_id).await?;
        let membership = tx
            .memberships()
            .list_own(claims.user_id)
            .await?
            .into_iter()
            .find(|m| m.tenant_id == claims.tenant_id && m.is_active())
            .ok_or_else(|| AppError::Unauthenticated("the access token is no longer valid for this tenant".into()))?;
        let tenant =
            tx.tenants().find_by_id(claims.tenant_id).await?.ok_or_else(|| {
                AppError::Unauthenticated("the access token is no longer valid for this tenant".into())
            })?;
        let scope = TenantScope::new(tenant.id);
        tx.enter_tenant(&scope).await?;
        let standing = standing_in(tx.as_ref(), &tenant, &membership).await?;
        let limits = self.current_entitlements(&tenant).request_limits();
        let permissions = tx.roles().permissions_of(&scope, membership.role_id).await?;
        let onboarded = tx.onboarding().is_completed(claims.user_id).await?;
        tx.commit().await?;
        // Only an active tenant's members are cached: a tenant that is past due or
        // suspended is read afresh on every request until it is active again.
        if standing == Standing::Full {
            let access = MemberAccess {
                role_id: membership.role_id,
                permissions: permissions.clone(),
                onboarded,
                limits,
                mfa_required: tenant.mfa_required,
            };
            self.ports
                .access_cache
                .put(claims.tenant_id, claims.user_id, &access, lookup.generation)
                .await;
        }
        Ok(
            RequestContext::new(claims.user_id, scope, membership.role_id, permissions)
                .with_session(claims.session_id)
                .with_limits(limits)
                .with_standing(standing)
                .with_onboarding_pending(self.auth.onboarding_gate && !onboarded)
                .with_second_factor(claims.second_factor, tenant.mfa_required)
                .with_access_generation(lookup.generation),
        )
    }
}
