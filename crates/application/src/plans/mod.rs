//! Plans and entitlements: the catalogue the tenants choose from, what one tenant may
//! use now, the check every creation under a quota passes, and changing a tenant's
//! plan or its overrides (platform administrators, and the billing integration).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tessera_domain::{
    AuditActor, Entitlements, Limit, NewAuditEvent, OverrideTarget, PlanCatalogue, PlanKey, Tenant, TenantId,
};

use crate::platform::PlatformScope;
use crate::ports::Transaction;
use crate::{AppError, Application, RequestContext, TenantScope};

/// A tenant's entitlements with how much of each quota it holds.
#[derive(Debug, Clone)]
pub struct TenantUsage {
    pub entitlements: Entitlements,
    pub held: BTreeMap<Limit, u64>,
}

impl Application {
    /// Runs with `catalogue` instead of the built-in plans.
    pub fn with_plans(mut self, catalogue: PlanCatalogue) -> Self {
        self.plans = Arc::new(catalogue);
        self
    }

    /// Every plan, in display order (a pricing page's data).
    pub fn plan_catalogue(&self) -> &PlanCatalogue {
        &self.plans
    }

    /// What `tenant` may use at `now`: its plan from the catalogue with its live
    /// overrides. A plan the catalogue no longer holds reads as the default plan, so a
    /// key removed from the file never lifts every limit.
    pub fn entitlements_of(&self, tenant: &Tenant, now: DateTime<Utc>) -> Entitlements {
        let plan = self
            .plans
            .get(&tenant.plan)
            .or_else(|| self.plans.get(self.plans.default_key()))
            .expect("the catalogue holds its default plan");
        Entitlements::resolve(plan, &tenant.plan_overrides, now)
    }

    /// What `tenant` may use now.
    pub fn current_entitlements(&self, tenant: &Tenant) -> Entitlements {
        self.entitlements_of(tenant, self.ports.clock.now())
    }

    /// The quota check of a creation, inside its transaction (opened with
    /// [`Application::quota_tx`], which holds the tenant's quota lock): counts what the
    /// tenant holds and refuses one more when its plan does not allow it. One statement.
    pub(crate) async fn entitle(
        &self,
        tx: &dyn Transaction,
        scope: &TenantScope,
        quota: Limit,
    ) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let (tenant, used) = tx.tenants().quota_use(scope, quota, now).await?;
        self.entitlements_of(&tenant, now)
            .admit_one_more(quota, used)
            .map_err(AppError::OverPlan)
    }

    /// The caller's tenant's plan and how much of every quota it holds (one statement).
    pub async fn tenant_usage(&self, ctx: &RequestContext) -> Result<TenantUsage, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        let now = self.ports.clock.now();
        let (tenant, held) = tx.tenants().usage(scope, now).await?;
        Ok(TenantUsage {
            entitlements: self.entitlements_of(&tenant, now),
            held,
        })
    }

    /// Moves a tenant to another plan of the catalogue (a platform administrator).
    /// Nothing is deleted when the new plan allows less: the tenant is over its quota,
    /// creations are refused, and its usage shows what to remove.
    pub async fn change_plan(
        &self,
        scope: &PlatformScope,
        tenant_id: TenantId,
        plan: &str,
    ) -> Result<Tenant, AppError> {
        let actor = AuditActor::PlatformAdmin(scope.admin_id);
        self.change_plan_as(tenant_id, plan, actor, Some(scope.origin.clone()))
            .await
    }

    /// [`Self::change_plan`] for any actor (an administrator, the command line).
    pub(crate) async fn change_plan_as(
        &self,
        tenant_id: TenantId,
        plan: &str,
        actor: AuditActor,
        origin: Option<tessera_domain::AuditOrigin>,
    ) -> Result<Tenant, AppError> {
        let plan = self.plan_key(plan)?;
        self.change_tenant_plan(tenant_id, actor, origin, |tenant, now| {
            let before = tenant.plan.clone();
            tenant
                .change_plan(plan.clone(), now)
                .then(|| ("plan", Some(before.to_string()), Some(plan.to_string())))
        })
        .await
    }

    /// Moves a tenant to `plan` for the billing provider (its subscription changed).
    pub(crate) async fn change_plan_for_billing(
        &self,
        tenant_id: TenantId,
        plan: &PlanKey,
    ) -> Result<Tenant, AppError> {
        if self.plans.get(plan).is_none() {
            return Err(AppError::validation(
                "plan",
                format!("`{plan}` is not a plan of the catalogue"),
            ));
        }
        self.change_tenant_plan(tenant_id, AuditActor::Billing, None, |tenant, now| {
            let before = tenant.plan.clone();
            tenant
                .change_plan(plan.clone(), now)
                .then(|| ("plan", Some(before.to_string()), Some(plan.to_string())))
        })
        .await
    }

    /// Grants or withholds one limit or feature for one tenant, until `expires_at`.
    pub async fn set_tenant_override(
        &self,
        scope: &PlatformScope,
        tenant_id: TenantId,
        target: OverrideTarget,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Tenant, AppError> {
        if expires_at.is_some_and(|expiry| expiry <= self.ports.clock.now()) {
            return Err(AppError::validation("expiresAt", "is in the past"));
        }
        let actor = AuditActor::PlatformAdmin(scope.admin_id);
        self.change_tenant_plan(tenant_id, actor, Some(scope.origin.clone()), |tenant, now| {
            let slot = target.slot();
            tenant.set_override(target.clone(), expires_at, now);
            Some(("override", None, Some(slot)))
        })
        .await
    }

    /// Removes one override; the plan's own value applies again.
    pub async fn clear_tenant_override(
        &self,
        scope: &PlatformScope,
        tenant_id: TenantId,
        slot: &str,
    ) -> Result<Tenant, AppError> {
        let actor = AuditActor::PlatformAdmin(scope.admin_id);
        self.change_tenant_plan(tenant_id, actor, Some(scope.origin.clone()), |tenant, now| {
            tenant
                .clear_override(slot, now)
                .then(|| ("override", Some(slot.to_owned()), None))
        })
        .await
    }

    fn plan_key(&self, raw: &str) -> Result<PlanKey, AppError> {
        let key = PlanKey::parse(raw).map_err(|message| AppError::validation("plan", message))?;
        if self.plans.get(&key).is_none() {
            return Err(AppError::validation(
                "plan",
                format!("`{key}` is not a plan of the catalogue"),
            ));
        }
        Ok(key)
    }

    /// Reads the tenant, applies `change` (which says what changed, or `None` for
    /// nothing), saves plan and overrides, records `tenant.plan_changed` (audit and
    /// outbox) and drops cached access, whose rate limits follow the plan.
    async fn change_tenant_plan(
        &self,
        tenant_id: TenantId,
        actor: AuditActor,
        origin: Option<tessera_domain::AuditOrigin>,
        change: impl FnOnce(&mut Tenant, DateTime<Utc>) -> Option<(&'static str, Option<String>, Option<String>)>,
    ) -> Result<Tenant, AppError> {
        let tx = self.tenant_tx(&TenantScope::new(tenant_id)).await?;
        let mut tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let now = self.ports.clock.now();
        let Some((field, before, after)) = change(&mut tenant, now) else {
            return Ok(tenant);
        };
        tx.tenants().update_plan(&tenant).await?;
        let mut event = NewAuditEvent::new(
            Some(tenant.id),
            actor,
            "tenant.plan_changed",
            "tenant",
            Some(tenant.id.to_string()),
            now,
        )
        .change(field, before.as_deref(), after.as_deref());
        if let Some(origin) = origin {
            event = event.with_origin(origin);
        }
        self.commit_with(tx, &event).await?;
        self.access_changed(tenant.id).await;
        Ok(tenant)
    }
}

#[cfg(test)]
mod tests;
