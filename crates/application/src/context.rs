//! Who is asking, and in which tenant. A `TenantScope` can only be built by the
//! authentication path (sign-up, log-in, token authentication), after the membership
//! was checked; repository methods for tenant data require one.

use tessera_domain::{
    ApiKey, ApiKeyId, AuditActor, AuditOrigin, NewAuditEvent, Permission, PermissionSet, RequestLimits, RoleId,
    SessionId, TenantId, UserId, rate_limit::RateDecision,
};

use crate::AppError;
use crate::ForbiddenReason;

/// Proof that the current operation runs inside one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant_id: TenantId,
}

impl TenantScope {
    pub(crate) fn new(tenant_id: TenantId) -> Self {
        Self { tenant_id }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// For repository contract tests only; never compiled into the server binary
    /// unless a test crate asks for it.
    #[cfg(feature = "test-support")]
    pub fn for_tests(tenant_id: TenantId) -> Self {
        Self { tenant_id }
    }
}

/// The principal behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    /// A tenant API key: a machine principal acting with exactly the permissions
    /// written on it (cut down to what its creator still holds), in its tenant only.
    /// It holds no role, no workspace role and no person's identity.
    ApiKey(ApiKeyId),
}

/// What the caller's tenant's status leaves the caller free to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// An active tenant: everything the caller's rights allow.
    Full,
    /// A past-due tenant: reads, and the caller's own session operations.
    ReadOnly,
    /// A suspended tenant, for one of its owners: the tenant's status and billing,
    /// export, and the owner's own session operations.
    OwnerOnly,
    /// A tenant pending deletion, for one of its owners: its status, export, cancelling
    /// the deletion, and the owner's own session operations.
    PendingDeletion,
    /// A person of a tenant whose plan's API calls for the month are spent: who they
    /// are, the tenant's status, plan and usage (to change the plan), and their own
    /// session operations; the rest is refused as over quota.
    CallsSpent { limit: u64, used: u64 },
}

/// The authenticated caller of one request: built once by [`crate::Application::authenticate`].
#[derive(Debug, Clone)]
pub struct RequestContext {
    actor: Actor,
    /// The person answerable for the request: the user, or the API key's creator.
    /// Attribution only (who sent an invitation); never a source of authority.
    accountable: UserId,
    scope: TenantScope,
    /// The member's tenant role; `None` for an API key, which holds no role.
    role_id: Option<RoleId>,
    permissions: PermissionSet,
    session_id: Option<SessionId>,
    /// The person has not finished onboarding and the deployment gates tenant work on it.
    onboarding_pending: bool,
    /// The session proved a second factor (its access token says so).
    second_factor: bool,
    /// The tenant requires a second factor and this session has none: only enrolling
    /// one (and reading oneself) is open.
    mfa_pending: bool,
    /// What the tenant's plan bounds on every request.
    limits: RequestLimits,
    /// What the tenant's status leaves the caller free to do.
    standing: Standing,
    /// Where the request came from (for the audit trail).
    origin: AuditOrigin,
    /// The tenant's access-cache generation the authentication saw: what the cache kept
    /// under it (the tenant's roles) still holds for this request. `None` when unknown.
    access_generation: Option<u64>,
    /// The request's rate-limit buckets, spent with the authentication's cache lookup.
    spent_ahead: Option<Vec<RateDecision>>,
}

/// A permission check that passed: the only way to get the scope for a guarded write.
#[derive(Debug)]
pub struct Authorized<'a> {
    scope: &'a TenantScope,
    permission: Permission,
}

impl Authorized<'_> {
    pub fn scope(&self) -> &TenantScope {
        self.scope
    }
    pub fn permission(&self) -> Permission {
        self.permission
    }
}

impl RequestContext {
    pub(crate) fn new(user_id: UserId, scope: TenantScope, role_id: RoleId, permissions: PermissionSet) -> Self {
        Self {
            actor: Actor::User(user_id),
            accountable: user_id,
            scope,
            role_id: Some(role_id),
            permissions,
            session_id: None,
            onboarding_pending: false,
            second_factor: false,
            mfa_pending: false,
            limits: RequestLimits::UNBOUNDED,
            standing: Standing::Full,
            origin: AuditOrigin::default(),
            access_generation: None,
            spent_ahead: None,
        }
    }

    /// The context of a request made with an API key: the key's tenant and permissions.
    pub(crate) fn for_api_key(key: &ApiKey) -> Self {
        Self {
            actor: Actor::ApiKey(key.id),
            accountable: key.created_by,
            scope: TenantScope::new(key.tenant_id),
            role_id: None,
            permissions: key.permissions.clone(),
            session_id: None,
            onboarding_pending: false,
            second_factor: false,
            mfa_pending: false,
            limits: RequestLimits::UNBOUNDED,
            standing: Standing::Full,
            origin: AuditOrigin::default(),
            access_generation: None,
            spent_ahead: None,
        }
    }

    /// The signed-in person behind the request; `None` for an API key.
    pub fn person(&self) -> Option<UserId> {
        match self.actor {
            Actor::User(user_id) => Some(user_id),
            Actor::ApiKey(_) => None,
        }
    }

    /// The person, for what only a signed-in person does (their own sessions, tenants,
    /// memberships, onboarding, and minting keys); API keys are refused.
    pub fn require_person(&self) -> Result<UserId, AppError> {
        self.person().ok_or_else(|| AppError::Forbidden {
            reason: ForbiddenReason::ApiKeyNotAllowed,
            message: "this operation needs a signed-in person, not an API key".into(),
        })
    }

    /// Who answers for the request in records that name a person (an invitation's
    /// sender): the user, or the creator of the API key. Grants nothing.
    pub(crate) fn accountable_person(&self) -> UserId {
        self.accountable
    }

    /// Where the request came from; the API layer sets it after authentication.
    pub fn with_origin(mut self, origin: AuditOrigin) -> Self {
        self.origin = origin;
        self
    }

    /// The tenant's access-cache generation the authentication read (`u64::MAX`, the
    /// mark of a cache that could not answer, is no generation).
    pub(crate) fn with_access_generation(mut self, generation: u64) -> Self {
        self.access_generation = (generation != u64::MAX).then_some(generation);
        self
    }

    pub(crate) fn with_spent_ahead(mut self, spent: Option<Vec<RateDecision>>) -> Self {
        self.spent_ahead = spent;
        self
    }

    /// The decisions of the member's buckets when they were spent with the
    /// authentication (see [`crate::ports::AccessCache::lookup_spending`]).
    pub(crate) fn spent_ahead(&self) -> Option<&[RateDecision]> {
        self.spent_ahead.as_deref()
    }

    /// The access-cache generation to read this tenant's cached roles under: `None`
    /// when unknown or when `scope` is not the request's tenant.
    pub(crate) fn access_generation_in(&self, scope: &TenantScope) -> Option<u64> {
        self.access_generation.filter(|_| scope == &self.scope)
    }

    pub fn origin(&self) -> &AuditOrigin {
        &self.origin
    }

    /// Who acts, as the audit trail names it.
    pub fn audit_actor(&self) -> AuditActor {
        match self.actor {
            Actor::User(id) => AuditActor::User(id),
            Actor::ApiKey(id) => AuditActor::ApiKey(id),
        }
    }

    /// Who acts, for the audit trail of a change in the caller's tenant.
    pub(crate) fn acting(&self) -> Acting<'_> {
        Acting {
            scope: &self.scope,
            actor: self.audit_actor(),
            origin: &self.origin,
        }
    }

    /// An audit event in this request's tenant, by this request's actor, from its origin.
    pub(crate) fn audit(
        &self,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
        now: chrono::DateTime<chrono::Utc>,
    ) -> NewAuditEvent {
        self.acting().audit(action, target_type, target_id, now)
    }

    pub(crate) fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// What the tenant's plan (with its overrides) bounds on this request.
    pub fn limits(&self) -> &RequestLimits {
        &self.limits
    }

    pub(crate) fn with_standing(mut self, standing: Standing) -> Self {
        self.standing = standing;
        self
    }

    /// What the tenant's status leaves the caller free to do; the API layer refuses
    /// the rest before it runs.
    pub fn standing(&self) -> Standing {
        self.standing
    }

    /// The same caller, held to what a person may do once the tenant's monthly API
    /// calls are spent (a suspended owner stays held to the narrower rules).
    pub(crate) fn with_calls_spent(mut self, limit: u64, used: u64) -> Self {
        if !matches!(self.standing, Standing::OwnerOnly | Standing::PendingDeletion) {
            self.standing = Standing::CallsSpent { limit, used };
        }
        self
    }

    pub(crate) fn with_onboarding_pending(mut self, pending: bool) -> Self {
        self.onboarding_pending = pending;
        self
    }

    pub(crate) fn with_second_factor(mut self, second_factor: bool, required: bool) -> Self {
        self.second_factor = second_factor;
        self.mfa_pending = required && !second_factor;
        self
    }

    /// Refused (`MFA_REQUIRED`) while the tenant requires a second factor this session
    /// lacks.
    pub fn ensure_second_factor(&self) -> Result<(), AppError> {
        if self.mfa_pending {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::MfaRequired,
                message: "this tenant requires a second factor: enrol an authenticator (enrolTotp, confirmTotp), \
                          or log in again with yours"
                    .into(),
            });
        }
        Ok(())
    }

    /// The tenant requires a second factor and this session has none.
    pub fn mfa_pending(&self) -> bool {
        self.mfa_pending
    }

    /// The session behind the request proved a second factor.
    pub fn has_second_factor(&self) -> bool {
        self.second_factor
    }

    /// Tenant work waits until the session has the second factor the tenant requires,
    /// and until the person has finished onboarding (where gated).
    pub fn ensure_onboarded(&self) -> Result<(), AppError> {
        self.ensure_second_factor()?;
        if self.onboarding_pending {
            Err(AppError::Forbidden {
                reason: ForbiddenReason::OnboardingIncomplete,
                message: "finish onboarding first (see the onboarding query)".into(),
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn with_session(mut self, session_id: SessionId) -> Self {
        self.session_id = Some(session_id);
        self
    }

    /// The log-in session behind the request (none for non-interactive callers).
    pub fn session_id(&self) -> Option<SessionId> {
        self.session_id
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }
    pub fn tenant_id(&self) -> TenantId {
        self.scope.tenant_id()
    }
    pub fn role_id(&self) -> Option<RoleId> {
        self.role_id
    }
    pub fn permissions(&self) -> &PermissionSet {
        &self.permissions
    }

    /// The scope for work any active member may do (once onboarded, where gated).
    pub fn member_scope(&self) -> Result<&TenantScope, AppError> {
        self.ensure_onboarded()?;
        Ok(&self.scope)
    }

    /// The scope without the onboarding gate: reading one's own tenant, and onboarding itself.
    pub(crate) fn own_scope(&self) -> &TenantScope {
        &self.scope
    }

    /// Checks one permission and hands back the scope to act with.
    pub fn authorize(&self, permission: Permission) -> Result<Authorized<'_>, AppError> {
        self.ensure_onboarded()?;
        if self.permissions.contains(permission) {
            Ok(Authorized {
                scope: &self.scope,
                permission,
            })
        } else {
            Err(AppError::Forbidden {
                reason: ForbiddenReason::MissingPermission,
                message: format!("this operation needs the `{permission}` permission"),
            })
        }
    }

    /// Reading what a member holds here (their membership, their workspaces): a person
    /// may read their own; anyone else's, and anything an API key reads, needs
    /// `members:read`.
    pub fn authorize_member_read(&self, user_id: UserId) -> Result<&TenantScope, AppError> {
        if self.person() == Some(user_id) {
            self.member_scope()
        } else {
            Ok(self.authorize(Permission::MembersRead)?.scope)
        }
    }

    /// Nobody hands out rights they do not hold: refuses when `granted` is not a subset
    /// of the caller's own permissions.
    pub fn ensure_can_grant(&self, granted: &PermissionSet) -> Result<(), AppError> {
        let missing = granted.missing_from(&self.permissions);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                reason: ForbiddenReason::PermissionEscalation,
                message: format!("you cannot grant permissions you do not hold: {missing}"),
            })
        }
    }

    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(user_id: UserId, tenant_id: TenantId, role_id: RoleId, permissions: PermissionSet) -> Self {
        Self::new(user_id, TenantScope::new(tenant_id), role_id, permissions)
    }

    /// A test context bounded by `limits` (as if its tenant's plan set them).
    #[cfg(any(test, feature = "test-support"))]
    pub fn limited_for_tests(self, limits: RequestLimits) -> Self {
        self.with_limits(limits)
    }
}

/// Who makes a change in a tenant, as the audit trail names it: a request's caller, or
/// the tenant's directory (SCIM).
pub(crate) struct Acting<'a> {
    pub scope: &'a TenantScope,
    pub actor: AuditActor,
    pub origin: &'a AuditOrigin,
}

impl Acting<'_> {
    /// An audit event in the tenant, by this actor, from its origin.
    pub(crate) fn audit(
        &self,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
        now: chrono::DateTime<chrono::Utc>,
    ) -> NewAuditEvent {
        NewAuditEvent::new(
            Some(self.scope.tenant_id()),
            self.actor,
            action,
            target_type,
            Some(target_id.to_string()),
            now,
        )
        .with_origin(self.origin.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn context(permissions: PermissionSet) -> RequestContext {
        RequestContext::new(
            UserId::from_uuid(Uuid::now_v7()),
            TenantScope::new(TenantId::from_uuid(Uuid::now_v7())),
            RoleId::from_uuid(Uuid::now_v7()),
            permissions,
        )
    }

    #[test]
    fn authorize_hands_back_the_scope_only_when_the_permission_is_held() {
        let ctx = context([Permission::WorkspacesCreate].into_iter().collect());
        let granted = ctx.authorize(Permission::WorkspacesCreate).expect("held");
        assert_eq!(granted.scope().tenant_id(), ctx.tenant_id());
        let refused = ctx.authorize(Permission::WorkspacesManage).expect_err("not held");
        assert!(matches!(
            refused,
            AppError::Forbidden {
                reason: ForbiddenReason::MissingPermission,
                ..
            }
        ));
    }
}
