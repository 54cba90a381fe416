//! The operator's commands that work on the database as its owner: migrations, the
//! audit trail's verification and archive, and platform administration.

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tessera_migration::{Migrator, MigratorTrait};

use crate::config::{Config, DatabaseSection};
use crate::wiring::{BuildOptions, build_application};

/// Applies every pending migration using the migration (owner) connection.
pub async fn migrate_up(database: &DatabaseSection) -> anyhow::Result<()> {
    let db = connect_for_migrations(database).await?;
    Migrator::up(&db, None).await.context("applying migrations")?;
    db.close().await.ok();
    Ok(())
}

pub async fn connect_for_migrations(database: &DatabaseSection) -> anyhow::Result<DatabaseConnection> {
    database.validate()?;
    let url = database.migration_url();
    let mut options = sea_orm::ConnectOptions::new(url.expose());
    options
        .acquire_timeout(std::time::Duration::from_secs(database.acquire_timeout_seconds))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .with_context(|| format!("connecting to the migration database {url}"))?;
    // SQLite enforces foreign keys per connection; migrations must see them too.
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// `tessera audit verify [--tenant <id>]`: recomputes every audit chain (or one
/// tenant's) over the migration (owner) connection, which reads every tenant.
pub async fn verify_audit(
    database: &DatabaseSection,
    tenant: Option<&str>,
) -> anyhow::Result<Vec<tessera_infrastructure::ChainReport>> {
    let tenant = match tenant {
        Some(raw) => {
            Some(tessera_domain::TenantId::parse(raw).map_err(|_| anyhow::anyhow!("`{raw}` is not a tenant id"))?)
        }
        None => None,
    };
    let db = connect_for_migrations(database).await?;
    tessera_infrastructure::verify_audit_chains(&db, tenant)
        .await
        .map_err(|e| anyhow::anyhow!("reading the audit trail: {e}"))
}

/// `tessera audit archive`: events older than `days` go to `out` (JSON lines, appended
/// and `fsync`ed first), then out of the database.
pub async fn archive_audit(
    database: &DatabaseSection,
    days: u32,
    out: &std::path::Path,
) -> anyhow::Result<tessera_infrastructure::ArchiveReport> {
    let db = connect_for_migrations(database).await?;
    let mut file = open_archive(out)?;
    archive_audit_into(&db, days, &mut file).await
}

/// Archives into any sink (the command's file, or a test's).
pub async fn archive_audit_into(
    db: &DatabaseConnection,
    days: u32,
    sink: &mut dyn tessera_infrastructure::ArchiveSink,
) -> anyhow::Result<tessera_infrastructure::ArchiveReport> {
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    tessera_infrastructure::archive_audit_events(db, before, sink)
        .await
        .map_err(|e| anyhow::anyhow!("archiving the audit trail: {e}"))
}

/// Opens (or creates) the archive for appending; a new file's directory entry is made
/// durable at once, so the file a later `fsync` persists cannot vanish in a crash.
fn open_archive(out: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let existed = out.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .with_context(|| format!("opening {}", out.display()))?;
    if !existed {
        let directory = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::File::open(directory)
            .and_then(|dir| dir.sync_all())
            .with_context(|| format!("making {} durable", out.display()))?;
    }
    Ok(file)
}

/// `tessera admin grant|revoke <email>`: the only way to make a platform administrator.
pub async fn set_platform_admin(config: &Config, email: &str, grant: bool) -> anyhow::Result<()> {
    let options = BuildOptions::default();
    let mut config = config.clone();
    // An administrative command must not fail for want of a production JWT secret.
    if config.auth.jwt_secret.is_none() && config.is_production() {
        config.auth.jwt_secret = Some("x".repeat(32).into());
    }
    let (app, _) = build_application(&config, &options).await?;
    app.set_platform_admin(email, grant)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `tessera tenant export <slug> <file>`: queues an export of the tenant, writes it now
/// (or waits for a running server's worker that took it first), and copies the
/// archive to `file`.
pub async fn export_tenant(
    app: &tessera_application::Application,
    slug: &str,
    file: &std::path::Path,
) -> anyhow::Result<tessera_domain::TenantExport> {
    use futures_util::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;

    let queued = app
        .queue_export_for_operator(slug)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut export = app
        .write_export_now(queued.tenant_id, queued.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3_600);
    while export.is_in_progress() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        export = app
            .write_export_now(queued.tenant_id, queued.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if export.status != tessera_domain::ExportStatus::Completed {
        anyhow::bail!(
            "the export did not complete: {}",
            export.error.as_deref().unwrap_or(export.status.as_str())
        );
    }
    let (_, mut bytes) = app
        .open_export(export.tenant_id, export.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = tokio::fs::File::create(file)
        .await
        .with_context(|| format!("creating {}", file.display()))?;
    while let Some(chunk) = bytes.next().await {
        out.write_all(&chunk?).await?;
    }
    out.sync_all().await?;
    Ok(export)
}

/// `tessera tenant show`: the tenant as an operator reads it.
pub fn tenant_report_text(report: &tessera_application::platform::TenantReport) -> String {
    use std::fmt::Write as _;
    use tessera_domain::{Allowance, Limit, OverrideTarget};

    let tenant = &report.tenant;
    let entitlements = &report.usage.entitlements;
    let shown = |allowance: Allowance| match allowance {
        Allowance::AtMost(n) => n.to_string(),
        Allowance::Unlimited => "unlimited".to_owned(),
    };
    let mut text = String::new();
    let _ = writeln!(text, "tenant   {} ({})", tenant.slug, tenant.name.as_str());
    let _ = writeln!(text, "id       {}", tenant.id);
    let reason = tenant
        .status_reason
        .map(|r| format!(" ({})", r.as_str()))
        .unwrap_or_default();
    let _ = writeln!(text, "status   {}{reason}", tenant.status.as_str());
    if let Some(deletion) = &tenant.deletion {
        let _ = writeln!(text, "deletion due {}", deletion.due_at.to_rfc3339());
    }
    let _ = writeln!(text, "plan     {} ({})", entitlements.plan.key, entitlements.plan.name);
    let _ = writeln!(text, "created  {}", tenant.created_at.to_rfc3339());
    let features: Vec<String> = entitlements.features().map(|f| f.to_string()).collect();
    let _ = writeln!(
        text,
        "features {}",
        if features.is_empty() {
            "none".into()
        } else {
            features.join(", ")
        }
    );
    for entry in &tenant.plan_overrides {
        let what = match &entry.target {
            OverrideTarget::Limit(limit, allowance) => format!("{limit} = {}", shown(*allowance)),
            OverrideTarget::Feature(feature, on) => format!("{feature} {}", if *on { "on" } else { "off" }),
        };
        let until = entry
            .expires_at
            .map_or_else(|| "until cleared".to_owned(), |at| format!("until {}", at.to_rfc3339()));
        let _ = writeln!(text, "override {what}, {until}");
    }
    let _ = writeln!(text, "limits");
    for limit in Limit::ALL {
        let allowance = shown(entitlements.allowance(*limit));
        match report.usage.held.get(limit) {
            Some(used) => {
                let _ = writeln!(text, "  {:<22} {used} of {allowance}", limit.as_str());
            }
            None => {
                let _ = writeln!(text, "  {:<22} {allowance}", limit.as_str());
            }
        }
    }
    text
}
