//! `tessera tenant …`: an operator's commands on one tenant (show, set-plan, suspend,
//! reactivate, export, verify-export), run with the database's credentials.

use clap::Subcommand;

use crate::config::{Config, RuntimeSection};
use crate::{BuildOptions, build_application};

#[derive(Subcommand)]
pub enum TenantAction {
    /// Write the archive of every row the tenant holds (as `requestTenantExport` does) to FILE.
    Export {
        /// The tenant's slug.
        slug: String,
        /// Where to write the `.tar.gz` archive.
        file: std::path::PathBuf,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Check an export archive with nothing but the file: every table file against the
    /// manifest's row count and SHA-256, and the exported audit trail's hash chain.
    /// Exits 1 when anything is wrong.
    VerifyExport { file: std::path::PathBuf },
    /// Print the tenant: status, plan, overrides and what it holds of each limit.
    Show {
        /// The tenant's slug.
        slug: String,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Move the tenant to another plan of the catalogue (as `changePlan`; audited).
    SetPlan {
        slug: String,
        /// A plan key of the catalogue (`tessera config check` shows PLANS_FILE).
        plan: String,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Suspend the tenant (owners may still sign in, see billing and export), or with
    /// `--past-due` make it read-only; audited, and every replica sees it at once.
    Suspend {
        slug: String,
        /// Why: billing, abuse or requested.
        #[arg(long, default_value = "requested")]
        reason: String,
        /// Past due (read-only) rather than suspended.
        #[arg(long)]
        past_due: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Make a suspended or past-due tenant active again.
    Reactivate {
        slug: String,
        #[command(flatten)]
        config: Box<Config>,
    },
}
impl TenantAction {
    /// The runtime settings (for logging) of the commands that take them.
    pub fn runtime(&self) -> Option<&RuntimeSection> {
        match self {
            TenantAction::Export { config, .. }
            | TenantAction::Show { config, .. }
            | TenantAction::SetPlan { config, .. }
            | TenantAction::Suspend { config, .. }
            | TenantAction::Reactivate { config, .. } => Some(&config.runtime),
            TenantAction::VerifyExport { .. } => None,
        }
    }
}

/// Runs the command.
pub async fn run(action: TenantAction) -> anyhow::Result<()> {
    match action {
        TenantAction::Export { slug, file, config } => {
            let (app, _) = build_application(&config, &BuildOptions::default()).await?;
            let export = crate::export_tenant(&app, &slug, &file).await?;
            println!(
                "tenant `{slug}`: {} rows from {} tables written to {} ({} bytes, SHA-256 {})",
                export.rows_written,
                export.tables_total,
                file.display(),
                export.bytes,
                export.sha256.unwrap_or_default()
            );
            Ok(())
        }
        TenantAction::Show { slug, config } => {
            let (app, _) = build_application(&config, &BuildOptions::default()).await?;
            let report = app
                .operator_tenant_report(&slug)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{}", crate::tenant_report_text(&report));
            Ok(())
        }
        TenantAction::SetPlan { slug, plan, config } => {
            let (app, _) = build_application(&config, &BuildOptions::default()).await?;
            let tenant = app
                .operator_change_plan(&slug, &plan)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("tenant `{slug}` is on plan `{}`", tenant.plan);
            Ok(())
        }
        TenantAction::Suspend {
            slug,
            reason,
            past_due,
            config,
        } => {
            let reason = tessera_domain::StatusReason::parse(&reason)
                .ok_or_else(|| anyhow::anyhow!("--reason: `{reason}` is not billing, abuse or requested"))?;
            let status = if past_due {
                tessera_domain::TenantStatus::PastDue
            } else {
                tessera_domain::TenantStatus::Suspended
            };
            let (app, _) = build_application(&config, &BuildOptions::default()).await?;
            let tenant = app
                .operator_set_status(&slug, status, reason)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("tenant `{slug}` is {} ({})", tenant.status.as_str(), reason.as_str());
            Ok(())
        }
        TenantAction::Reactivate { slug, config } => {
            let (app, _) = build_application(&config, &BuildOptions::default()).await?;
            let tenant = app
                .operator_set_status(
                    &slug,
                    tessera_domain::TenantStatus::Active,
                    tessera_domain::StatusReason::Requested,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("tenant `{slug}` is {}", tenant.status.as_str());
            Ok(())
        }
        TenantAction::VerifyExport { file } => {
            let check = tessera_infrastructure::offboarding::verify_export(&file)?;
            println!(
                "tenant {}: {} tables, {} rows, {} audit events",
                check.tenant_id, check.tables, check.rows, check.audit_events
            );
            if check.is_intact() {
                println!("intact: every file matches the manifest and the audit chain holds");
                Ok(())
            } else {
                for problem in &check.problems {
                    println!("  - {problem}");
                }
                std::process::exit(1);
            }
        }
    }
}
