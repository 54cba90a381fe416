//! A tenant's data leaving Tessera: exports (an archive of every row the tenant owns,
//! written in the background and downloaded through a short-lived link).

use chrono::{DateTime, Utc};

use crate::{TenantExportId, TenantId, UserId};

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    /// Asked for; a worker has not picked it up yet.
    Queued,
    /// Being written.
    Running,
    /// The archive is ready to download until the export expires.
    Completed,
    /// Writing failed; the reason is kept.
    Failed,
    /// The archive was removed after its retention window.
    Expired,
}

impl ExportStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// One export of a tenant's data and its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantExport {
    pub id: TenantExportId,
    pub tenant_id: TenantId,
    /// Who asked for it (`None` when an operator ran it from the command line).
    pub requested_by: Option<UserId>,
    pub status: ExportStatus,
    /// Tables written so far, of how many.
    pub tables_done: u32,
    pub tables_total: u32,
    pub rows_written: u64,
    /// The archive's size and SHA-256 (hex), once completed.
    pub bytes: u64,
    pub sha256: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a completed archive is removed.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TenantExport {
    pub fn queued(id: TenantExportId, tenant_id: TenantId, requested_by: Option<UserId>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant_id,
            requested_by,
            status: ExportStatus::Queued,
            tables_done: 0,
            tables_total: 0,
            rows_written: 0,
            bytes: 0,
            sha256: None,
            error: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            expires_at: None,
        }
    }

    /// The share of tables written, from 0 to 1 (1 once completed).
    pub fn progress(&self) -> f64 {
        match self.status {
            ExportStatus::Completed | ExportStatus::Expired => 1.0,
            _ if self.tables_total == 0 => 0.0,
            _ => f64::from(self.tables_done) / f64::from(self.tables_total),
        }
    }

    /// Whether its archive may be downloaded at `now`.
    pub fn is_downloadable(&self, now: DateTime<Utc>) -> bool {
        self.status == ExportStatus::Completed && self.expires_at.is_some_and(|at| at > now)
    }

    /// Whether an export is still being worked on (a new one is not started meanwhile).
    pub fn is_in_progress(&self) -> bool {
        matches!(self.status, ExportStatus::Queued | ExportStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_progress_follows_the_tables() {
        for status in [
            ExportStatus::Queued,
            ExportStatus::Running,
            ExportStatus::Completed,
            ExportStatus::Failed,
            ExportStatus::Expired,
        ] {
            assert_eq!(ExportStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ExportStatus::parse("done"), None);
        let now = Utc::now();
        let mut export = TenantExport::queued(
            TenantExportId::from_uuid(uuid::Uuid::nil()),
            TenantId::from_uuid(uuid::Uuid::nil()),
            None,
            now,
        );
        assert_eq!(export.progress(), 0.0);
        assert!(export.is_in_progress());
        export.status = ExportStatus::Running;
        export.tables_total = 4;
        export.tables_done = 1;
        assert_eq!(export.progress(), 0.25);
        assert!(!export.is_downloadable(now));
        export.status = ExportStatus::Completed;
        export.expires_at = Some(now + chrono::Duration::hours(1));
        assert_eq!(export.progress(), 1.0);
        assert!(export.is_downloadable(now));
        assert!(!export.is_downloadable(now + chrono::Duration::hours(2)), "expired");
        assert!(!export.is_in_progress());
    }
}
