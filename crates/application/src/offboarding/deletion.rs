//! Tenant deletion: an owner (re-authenticated, naming the tenant's slug) or a platform
//! administrator schedules it; members are locked out at once and owners may cancel
//! and export during the grace period; then the purge pass deletes every row of the
//! tenant, table by table in batches, and the tenant itself. The platform's audit
//! chain records the request, the cancellation and the purge with its row counts,
//! never the deleted data. A purge that stops midway is taken up again by the next pass.

use tessera_domain::{
    AuditActor, AuditOrigin, NewAuditEvent, StatusReason, Tenant, TenantId, TenantStatus, TenantStatusError,
};

use crate::platform::PlatformScope;
use crate::ports::PurgeStep;
use crate::{AppError, Application, ForbiddenReason, RequestContext, TenantScope};

/// Tenants purged per pass.
const PURGES_PER_PASS: u32 = 2;

fn status_refusal(refusal: TenantStatusError) -> AppError {
    AppError::Conflict {
        field: "status".into(),
        message: refusal.to_string(),
    }
}

impl Application {
    /// Schedules the deletion of the caller's tenant: owners only, confirming with the
    /// tenant's slug and their password.
    #[tracing::instrument(level = "debug", name = "request_tenant_deletion", skip_all, fields(tenant_id = %ctx.tenant_id()))]
    pub async fn request_tenant_deletion(
        &self,
        ctx: &RequestContext,
        confirm_slug: &str,
        password: &str,
    ) -> Result<Tenant, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        let me = self.require_owner(tx.as_ref(), ctx).await?;
        let tenant = tx
            .tenants()
            .find_by_id(ctx.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if tenant.slug.as_str() != confirm_slug.trim() {
            return Err(AppError::validation(
                "confirmSlug",
                "must be the tenant's slug, exactly",
            ));
        }
        self.reauthenticate(tx.as_ref(), ctx, password).await?;
        drop(tx);
        self.schedule_deletion(ctx.tenant_id(), AuditActor::User(me), ctx.origin().clone())
            .await
    }

    /// Cancels the caller's tenant's scheduled deletion (owners only).
    pub async fn cancel_tenant_deletion(&self, ctx: &RequestContext) -> Result<Tenant, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        let me = self.require_owner(tx.as_ref(), ctx).await?;
        drop(tx);
        self.unschedule_deletion(ctx.tenant_id(), AuditActor::User(me), ctx.origin().clone())
            .await
    }

    /// A platform administrator schedules a tenant's deletion.
    pub async fn schedule_tenant_deletion_as_admin(
        &self,
        scope: &PlatformScope,
        tenant: TenantId,
    ) -> Result<Tenant, AppError> {
        self.schedule_deletion(tenant, AuditActor::PlatformAdmin(scope.admin_id), scope.origin.clone())
            .await
    }

    /// A platform administrator cancels a tenant's scheduled deletion.
    pub async fn cancel_tenant_deletion_as_admin(
        &self,
        scope: &PlatformScope,
        tenant: TenantId,
    ) -> Result<Tenant, AppError> {
        self.unschedule_deletion(tenant, AuditActor::PlatformAdmin(scope.admin_id), scope.origin.clone())
            .await
    }

    async fn schedule_deletion(
        &self,
        id: TenantId,
        actor: AuditActor,
        origin: AuditOrigin,
    ) -> Result<Tenant, AppError> {
        let grace = self.offboarding()?.settings.deletion_grace;
        let tx = self.global_tx().await?;
        let mut tenant = tx.tenants().find_by_id(id).await?.ok_or(AppError::NotFound("tenant"))?;
        let now = self.ports.clock.now();
        let before = tenant.status;
        // Deleting a tenant suspended for abuse would purge the evidence: only a platform
        // administrator may.
        if tenant.status == TenantStatus::Suspended
            && tenant.status_reason == Some(StatusReason::Abuse)
            && matches!(actor, AuditActor::User(_))
        {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::TenantSuspended,
                message: "a tenant suspended for abuse is deleted by the platform's administrators only".into(),
            });
        }
        if !tenant.schedule_deletion(now + grace, now).map_err(status_refusal)? {
            return Ok(tenant);
        }
        tx.tenants().update_status(&tenant, before).await?;
        let due = tenant.deletion.map(|d| d.due_at.to_rfc3339());
        self.record_in_both_chains(tx, &tenant, "tenant.deletion_requested", actor, origin, |event| {
            event
                .change(
                    "status",
                    Some(before.as_str()),
                    Some(TenantStatus::PendingDeletion.as_str()),
                )
                .change("purge_after", None::<String>, due.clone())
        })
        .await?;
        self.access_changed(tenant.id).await;
        Ok(tenant)
    }

    async fn unschedule_deletion(
        &self,
        id: TenantId,
        actor: AuditActor,
        origin: AuditOrigin,
    ) -> Result<Tenant, AppError> {
        let tx = self.global_tx().await?;
        let mut tenant = tx.tenants().find_by_id(id).await?.ok_or(AppError::NotFound("tenant"))?;
        if tenant.status != TenantStatus::PendingDeletion {
            return Err(AppError::Conflict {
                field: "status".into(),
                message: "no deletion is scheduled for this tenant".into(),
            });
        }
        let now = self.ports.clock.now();
        tenant.cancel_deletion(now);
        // Only while still pending: once the purge has started, nothing brings it back.
        tx.tenants()
            .update_status(&tenant, TenantStatus::PendingDeletion)
            .await?;
        let after = tenant.status;
        self.record_in_both_chains(tx, &tenant, "tenant.deletion_cancelled", actor, origin, |event| {
            event.change(
                "status",
                Some(TenantStatus::PendingDeletion.as_str()),
                Some(after.as_str()),
            )
        })
        .await?;
        self.access_changed(tenant.id).await;
        Ok(tenant)
    }

    /// Records `action` in the tenant's chain and in the platform's, and commits.
    async fn record_in_both_chains(
        &self,
        tx: Box<dyn crate::ports::Transaction>,
        tenant: &Tenant,
        action: &'static str,
        actor: AuditActor,
        origin: AuditOrigin,
        details: impl Fn(NewAuditEvent) -> NewAuditEvent,
    ) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let event = |chain: Option<TenantId>| {
            details(NewAuditEvent::new(
                chain,
                actor,
                action,
                "tenant",
                Some(tenant.id.to_string()),
                now,
            ))
            .with_origin(origin.clone())
        };
        // The tenant's chain is entered for it (its owner or a platform administrator acts).
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        tx.audit().append(&event(None)).await?;
        self.commit_with(tx, &event(Some(tenant.id))).await
    }

    /// One purge pass: tenants past their grace period are marked deleted (their row
    /// counts recorded in the platform's chain), then their rows are deleted batch by
    /// batch, then the tenant. Returns how many tenants it finished.
    pub async fn run_purges(&self) -> Result<usize, AppError> {
        let Some(offboarding) = self.offboarding.clone() else {
            return Ok(0);
        };
        let now = self.ports.clock.now();
        let due = {
            let tx = self.global_tx().await?;
            tx.tenants().due_for_purge(now, PURGES_PER_PASS).await?
        };
        let mut finished = 0;
        for tenant in due {
            let id = tenant.id;
            // One tenant's failure (or another replica purging it) does not hold up the rest.
            match self.purge_tenant(&offboarding, tenant).await {
                Ok(true) => finished += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, tenant = %id, "a purge pass failed; the next one carries on"),
            }
        }
        Ok(finished)
    }

    /// Purges one tenant due for it; `false` when it was no longer due (its deletion was
    /// cancelled meanwhile) or another replica finished it.
    async fn purge_tenant(&self, offboarding: &super::Offboarding, tenant: Tenant) -> Result<bool, AppError> {
        {
            // The tenant is due for purge: the purge may enter it.
            let scope = TenantScope::new(tenant.id);
            if tenant.status == TenantStatus::PendingDeletion && !self.start_purge(&scope, tenant).await? {
                return Ok(false);
            }
            let mut deleted: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
            let batch = offboarding.settings.purge_batch;
            while let PurgeStep::Deleted { table, rows } = offboarding.ports.purger.purge_batch(&scope, batch).await? {
                *deleted.entry(table).or_default() += rows;
            }
            offboarding
                .ports
                .storage
                .delete(&format!("{}/", scope.tenant_id()))
                .await?;
            let tx = self.global_tx().await?;
            tx.tenants().delete(scope.tenant_id()).await?;
            let mut event = NewAuditEvent::new(
                None,
                AuditActor::System,
                "tenant.purged",
                "tenant",
                Some(scope.tenant_id().to_string()),
                self.ports.clock.now(),
            );
            for (table, rows) in &deleted {
                event = event.change(table, None::<u64>, Some(*rows));
            }
            tx.audit().append(&event).await?;
            tx.commit().await?;
            self.access_changed(scope.tenant_id()).await;
            tracing::info!(tenant = %scope.tenant_id(), tables = deleted.len(), "a tenant was purged");
            Ok(true)
        }
    }

    /// Marks the tenant deleted (nobody signs in to it again) and records, in the
    /// platform's chain, how many rows each of its tables holds as the purge starts.
    /// `false` when it is no longer pending deletion (cancelled meanwhile).
    async fn start_purge(&self, scope: &TenantScope, mut tenant: Tenant) -> Result<bool, AppError> {
        let offboarding = self.offboarding()?;
        let counts = offboarding.ports.purger.count_rows(scope).await?;
        let tx = self.global_tx().await?;
        tenant.status = TenantStatus::Deleted;
        tenant.updated_at = self.ports.clock.now();
        match tx.tenants().update_status(&tenant, TenantStatus::PendingDeletion).await {
            Ok(()) => {}
            Err(crate::ports::StoreError::Stale | crate::ports::StoreError::NotFound) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        let mut event = NewAuditEvent::new(
            None,
            AuditActor::System,
            "tenant.purge_started",
            "tenant",
            Some(tenant.id.to_string()),
            tenant.updated_at,
        );
        for (table, rows) in counts.iter().filter(|(_, rows)| *rows > 0) {
            event = event.change(table, Some(*rows), None::<u64>);
        }
        tx.audit().append(&event).await?;
        tx.commit().await?;
        self.access_changed(tenant.id).await;
        Ok(true)
    }
}
