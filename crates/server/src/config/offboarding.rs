//! Offboarding settings: where export archives are kept and for how long, how long a
//! download link works, the grace period before a deleted tenant is purged, and the
//! purge's batch size.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tessera_application::offboarding::OffboardingSettings;

use super::ConfigError;
use super::values::{Secret, within};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Exports and deletion")]
pub struct OffboardingSection {
    /// The directory tenant export archives are kept in (one folder per tenant).
    #[arg(long, env = "EXPORT_DIR", default_value = "exports")]
    pub export_dir: PathBuf,

    /// The key that signs export download links (at least 32 bytes, e.g. `openssl rand -hex 32`).
    /// Unset: a random key per process, so a link works only on the replica that made it.
    #[arg(long, env = "EXPORT_LINK_SECRET", hide_env_values = true)]
    pub export_link_secret: Option<Secret>,

    /// How long an export download link works, in seconds.
    #[arg(long, env = "EXPORT_LINK_TTL_SECONDS", default_value_t = 900)]
    pub export_link_ttl_seconds: u32,

    /// How long a finished export archive is kept before housekeeping removes it, in hours.
    #[arg(long, env = "EXPORT_RETENTION_HOURS", default_value_t = 168)]
    pub export_retention_hours: u32,

    /// Days between a tenant's deletion request and its purge (owners may cancel meanwhile).
    #[arg(long, env = "TENANT_DELETION_GRACE_DAYS", default_value_t = 30)]
    pub tenant_deletion_grace_days: u32,

    /// Rows the purge deletes per statement.
    #[arg(long, env = "PURGE_BATCH_ROWS", default_value_t = 1000)]
    pub purge_batch_rows: u32,

    /// How often the export and purge worker looks for work, in milliseconds.
    #[arg(long, env = "OFFBOARDING_POLL_MS", default_value_t = 5000)]
    pub offboarding_poll_ms: u64,
}

impl OffboardingSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        within("EXPORT_LINK_TTL_SECONDS", self.export_link_ttl_seconds, 30..=86_400)?;
        within("EXPORT_RETENTION_HOURS", self.export_retention_hours, 1..=8_760)?;
        within("TENANT_DELETION_GRACE_DAYS", self.tenant_deletion_grace_days, 0..=365)?;
        within("PURGE_BATCH_ROWS", self.purge_batch_rows, 10..=100_000)?;
        within("OFFBOARDING_POLL_MS", self.offboarding_poll_ms, 50..=3_600_000)?;
        match &self.export_link_secret {
            Some(secret) if !secret.is_blank() && secret.expose().len() < 32 => Err(ConfigError::OutOfRange {
                variable: "EXPORT_LINK_SECRET",
                value: format!("{} bytes long", secret.expose().len()),
                min: "32 bytes".into(),
                max: "any length".into(),
            }),
            _ => Ok(()),
        }
    }

    pub fn settings(&self) -> OffboardingSettings {
        OffboardingSettings {
            link_ttl: chrono::Duration::seconds(i64::from(self.export_link_ttl_seconds)),
            export_retention: chrono::Duration::hours(i64::from(self.export_retention_hours)),
            deletion_grace: chrono::Duration::days(i64::from(self.tenant_deletion_grace_days)),
            purge_batch: self.purge_batch_rows,
            ..OffboardingSettings::default()
        }
    }

    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.offboarding_poll_ms)
    }

    /// The link-signing key: the configured one, or a random one for this process.
    pub fn link_key(&self) -> Vec<u8> {
        match self.export_link_secret.as_ref().filter(|s| !s.is_blank()) {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
                .iter()
                .flat_map(|u| u.into_bytes())
                .collect(),
        }
    }
}
