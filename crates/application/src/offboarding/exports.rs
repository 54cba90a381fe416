//! Tenant exports: asked for by an owner (whatever the tenant's standing), written by
//! a background pass, downloaded through a signed link that expires, removed after
//! the retention window. Every step is in the tenant's audit trail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{
    AuditActor, AuditOrigin, ExportStatus, NewAuditEvent, TenantExport, TenantExportId, TenantId, UserId,
};

use super::archive_key_of;
use crate::ports::{ArchiveProgress, ByteStream, ProgressSink, StoreError};
use crate::{AppError, Application, ForbiddenReason, RequestContext, TenantScope};

/// Most exports a tenant's list shows.
pub const MAX_LISTED_EXPORTS: u32 = 50;
/// Exports acted on per background pass.
const EXPORTS_PER_PASS: u32 = 4;

/// A signed link to download one export's archive, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    /// Path and query, relative to the server's address.
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

/// What a download link carries: whose export, which, for whom, until when.
fn link_message(tenant: TenantId, export: TenantExportId, user: UserId, expires: i64) -> String {
    format!("tenant-export:{tenant}:{export}:{user}:{expires}")
}

impl Application {
    /// Starts an export of the caller's tenant (owners only, whatever the tenant's
    /// standing). While one is queued or running, that one is answered instead.
    #[tracing::instrument(level = "debug", name = "request_tenant_export", skip_all, fields(tenant_id = %ctx.tenant_id()))]
    pub async fn request_tenant_export(&self, ctx: &RequestContext) -> Result<TenantExport, AppError> {
        self.offboarding()?;
        let scope = ctx.own_scope();
        let tx = self.tenant_tx(scope).await?;
        let me = self.require_owner(tx.as_ref(), ctx).await?;
        if let Some(running) = tx
            .exports()
            .latest(scope, 1)
            .await?
            .into_iter()
            .find(TenantExport::is_in_progress)
        {
            return Ok(running);
        }
        let now = self.ports.clock.now();
        let export = TenantExport::queued(
            TenantExportId::from_uuid(self.ports.ids.new_id()),
            ctx.tenant_id(),
            Some(me),
            now,
        );
        tx.exports().insert(scope, &export).await?;
        let event = ctx.audit("tenant.export_requested", "tenant_export", export.id, now);
        self.commit_with(tx, &event).await?;
        Ok(export)
    }

    /// The tenant's newest exports (owners only), newest first.
    pub async fn tenant_exports(&self, ctx: &RequestContext, limit: u32) -> Result<Vec<TenantExport>, AppError> {
        if limit == 0 || limit > MAX_LISTED_EXPORTS {
            return Err(AppError::validation(
                "first",
                format!("must be between 1 and {MAX_LISTED_EXPORTS}"),
            ));
        }
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        Ok(tx.exports().latest(ctx.own_scope(), limit).await?)
    }

    /// A link to download `export` (already read by its owner), when it can be downloaded.
    pub fn export_download_link(
        &self,
        ctx: &RequestContext,
        export: &TenantExport,
    ) -> Result<Option<DownloadLink>, AppError> {
        let offboarding = self.offboarding()?;
        let me = ctx.require_person()?;
        let now = self.ports.clock.now();
        if export.tenant_id != ctx.tenant_id() || !export.is_downloadable(now) {
            return Ok(None);
        }
        let expires_at = now + offboarding.settings.link_ttl;
        let expires_at = export.expires_at.map_or(expires_at, |kept| kept.min(expires_at));
        let expires = expires_at.timestamp();
        let signature = offboarding
            .ports
            .signer
            .sign(&link_message(export.tenant_id, export.id, me, expires));
        Ok(Some(DownloadLink {
            path: format!(
                "/exports/{}/{}?user={me}&expires={expires}&signature={signature}",
                export.tenant_id, export.id
            ),
            expires_at,
        }))
    }

    /// Opens the archive a signed link names: the signature must hold and the link must
    /// not have expired, the person must still own the tenant, and the export must still
    /// be kept. The download is recorded in the tenant's audit trail.
    #[tracing::instrument(level = "debug", name = "download_tenant_export", skip_all)]
    pub async fn download_tenant_export(
        &self,
        link: &SignedDownload,
        origin: AuditOrigin,
    ) -> Result<(TenantExport, u64, ByteStream), AppError> {
        let offboarding = self.offboarding()?;
        let refused = || AppError::Forbidden {
            reason: ForbiddenReason::MissingPermission,
            message: "this download link is not valid or has expired; ask for a new one".into(),
        };
        let now = self.ports.clock.now();
        let message = link_message(link.tenant, link.export, link.user, link.expires);
        if !offboarding.ports.signer.verify(&message, &link.signature) {
            return Err(refused());
        }
        if link.expires < now.timestamp() {
            return Err(refused());
        }
        // The signature proves Tessera issued the link to this person for this tenant.
        let scope = TenantScope::new(link.tenant);
        let tx = self.tenant_tx(&scope).await?;
        let membership = tx.memberships().find_by_user(&scope, link.user).await?;
        let owner = match membership.filter(|m| m.is_active()) {
            Some(m) => tx
                .roles()
                .find_by_id(&scope, m.role_id)
                .await?
                .is_some_and(|role| role.system == Some(tessera_domain::SystemRole::Owner)),
            None => false,
        };
        if !owner {
            return Err(refused());
        }
        let export = tx
            .exports()
            .find(&scope, link.export)
            .await?
            .filter(|e| e.is_downloadable(now))
            .ok_or(AppError::NotFound("export"))?;
        let (size, bytes) = offboarding
            .ports
            .storage
            .get(&archive_key_of(export.tenant_id, export.id))
            .await?
            .ok_or(AppError::NotFound("export"))?;
        let event = NewAuditEvent::new(
            Some(link.tenant),
            AuditActor::User(link.user),
            "tenant.export_downloaded",
            "tenant_export",
            Some(export.id.to_string()),
            now,
        )
        .with_origin(origin);
        self.commit_with(tx, &event).await?;
        Ok((export, size, bytes))
    }

    /// One pass over the exports that need work: writes queued (or abandoned) ones and
    /// removes expired archives. Returns how many it acted on.
    pub async fn run_exports(&self) -> Result<usize, AppError> {
        if self.offboarding.is_none() {
            return Ok(0);
        }
        let now = self.ports.clock.now();
        let due = {
            let tx = self.global_tx().await?;
            tx.exports().due(now, EXPORTS_PER_PASS).await?
        };
        let mut acted = 0;
        for (tenant, export) in due {
            // A work queue's entry names its tenant: the worker may enter it.
            let scope = TenantScope::new(tenant);
            match self.work_on_export(&scope, export).await {
                Ok(true) => acted += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, %tenant, %export, "an export pass failed"),
            }
        }
        Ok(acted)
    }

    /// An export's archive, for the operator's command line.
    pub async fn open_export(&self, tenant: TenantId, export: TenantExportId) -> Result<(u64, ByteStream), AppError> {
        self.offboarding()?
            .ports
            .storage
            .get(&archive_key_of(tenant, export))
            .await?
            .ok_or(AppError::NotFound("export"))
    }

    /// Writes the export now, in this task (the command line's `tenant export`).
    pub async fn write_export_now(&self, tenant: TenantId, export: TenantExportId) -> Result<TenantExport, AppError> {
        let scope = TenantScope::new(tenant);
        self.work_on_export(&scope, export).await?;
        let tx = self.tenant_tx(&scope).await?;
        tx.exports()
            .find(&scope, export)
            .await?
            .ok_or(AppError::NotFound("export"))
    }

    /// Queues an export for an operator (no person asks for it; the audit trail says
    /// the system did).
    pub async fn queue_export_for_operator(&self, slug: &str) -> Result<TenantExport, AppError> {
        self.offboarding()?;
        let tenant = self.operator_tenant_id(slug).await?;
        // The operator's command line holds the database's credentials: it may enter any tenant.
        let scope = TenantScope::new(tenant);
        let tx = self.tenant_tx(&scope).await?;
        let now = self.ports.clock.now();
        let export = TenantExport::queued(TenantExportId::from_uuid(self.ports.ids.new_id()), tenant, None, now);
        tx.exports().insert(&scope, &export).await?;
        let event = NewAuditEvent::new(
            Some(tenant),
            AuditActor::System,
            "tenant.export_requested",
            "tenant_export",
            Some(export.id.to_string()),
            now,
        );
        self.commit_with(tx, &event).await?;
        Ok(export)
    }

    async fn work_on_export(&self, scope: &TenantScope, id: TenantExportId) -> Result<bool, AppError> {
        let offboarding = self.offboarding()?;
        let settings = &offboarding.settings;
        let now = self.ports.clock.now();
        let key = archive_key_of(scope.tenant_id(), id);
        let tx = self.tenant_tx(scope).await?;
        let Some(stored) = tx.exports().find(scope, id).await? else {
            return Ok(false);
        };
        if stored.status == ExportStatus::Completed && stored.expires_at.is_some_and(|at| at <= now) {
            offboarding.ports.storage.delete(&key).await?;
            let mut expired = stored;
            expired.status = ExportStatus::Expired;
            tx.exports().save(scope, &expired, None).await?;
            let event = NewAuditEvent::new(
                Some(scope.tenant_id()),
                AuditActor::System,
                "tenant.export_expired",
                "tenant_export",
                Some(id.to_string()),
                now,
            );
            self.commit_with(tx, &event).await?;
            return Ok(true);
        }
        let Some(mut export) = tx.exports().claim(scope, id, now, now + settings.export_lease).await? else {
            return Ok(false);
        };
        tx.commit().await?;
        // A scratch file of this attempt's own: a writer taking over never shares it.
        let attempt = export.started_at.map_or(0, |at| at.timestamp_micros());
        let scratch = offboarding.ports.storage.scratch_path(&format!("{key}.{attempt}"));
        let sink = SaveProgress {
            app: self,
            scope,
            export: export.clone(),
        };
        let written = offboarding.ports.archiver.write(scope, id, &scratch, &sink).await;
        // Still this attempt's (its lease renewed, fenced by its start)? Only then may its
        // archive replace what is stored under the export's key.
        if written.is_ok() {
            let lease = self.ports.clock.now() + settings.export_lease;
            let tx = self.tenant_tx(scope).await?;
            let kept = tx.exports().save(scope, &export, Some(lease)).await;
            tx.commit().await?;
            if let Err(StoreError::Stale | StoreError::NotFound) = kept {
                let _ = std::fs::remove_file(&scratch);
                return Ok(false);
            }
            kept?;
        }
        let stored = match written {
            Ok(summary) => offboarding.ports.storage.put(&key, &scratch).await.map(|()| summary),
            Err(error) => Err(error),
        };
        let _ = std::fs::remove_file(&scratch);
        let finished = self.ports.clock.now();
        export.finished_at = Some(finished);
        let action = match stored {
            Ok(summary) => {
                export.status = ExportStatus::Completed;
                export.tables_done = summary.tables;
                export.tables_total = summary.tables;
                export.rows_written = summary.rows;
                export.bytes = summary.bytes;
                export.sha256 = Some(summary.sha256);
                export.expires_at = Some(finished + settings.export_retention);
                "tenant.export_completed"
            }
            Err(error) => {
                tracing::warn!(%error, tenant = %scope.tenant_id(), export = %id, "writing an export failed");
                export.status = ExportStatus::Failed;
                export.error = Some("the archive could not be written; ask for a new export".into());
                "tenant.export_failed"
            }
        };
        let tx = self.tenant_tx(scope).await?;
        match tx.exports().save(scope, &export, None).await {
            Ok(()) => {}
            // Another writer took it over (its outcome stands), or the tenant was purged
            // meanwhile: nothing of this attempt may outlive it.
            Err(StoreError::NotFound) => {
                offboarding.ports.storage.delete(&key).await?;
                return Ok(false);
            }
            Err(StoreError::Stale) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        let event = NewAuditEvent::new(
            Some(scope.tenant_id()),
            AuditActor::System,
            action,
            "tenant_export",
            Some(id.to_string()),
            finished,
        )
        .change("rows", None::<u64>, Some(export.rows_written))
        .change("sha256", None::<String>, export.sha256.clone());
        self.commit_with(tx, &event).await?;
        Ok(true)
    }
}

/// A download link as presented.
#[derive(Debug, Clone)]
pub struct SignedDownload {
    pub tenant: TenantId,
    pub export: TenantExportId,
    pub user: UserId,
    pub expires: i64,
    pub signature: String,
}

/// Saves an export's progress after each table, renewing the writer's lease.
struct SaveProgress<'a> {
    app: &'a Application,
    scope: &'a TenantScope,
    export: TenantExport,
}

#[async_trait]
impl ProgressSink for SaveProgress<'_> {
    async fn progress(&self, progress: ArchiveProgress) {
        let mut export = self.export.clone();
        export.tables_done = progress.tables_done;
        export.tables_total = progress.tables_total;
        export.rows_written = progress.rows_written;
        let result: Result<(), AppError> = async {
            let lease = self.app.ports.clock.now() + self.app.offboarding()?.settings.export_lease;
            let tx = self.app.tenant_tx(self.scope).await?;
            tx.exports().save(self.scope, &export, Some(lease)).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "saving an export's progress failed");
        }
    }
}
