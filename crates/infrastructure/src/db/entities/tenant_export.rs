use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreResult;
use tessera_domain::{ExportStatus, TenantExport, TenantExportId, TenantId, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub requested_by: Option<Uuid>,
    pub status: String,
    pub tables_done: i32,
    pub tables_total: i32,
    pub rows_written: i64,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub lease_until: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> StoreResult<TenantExport> {
        let count =
            |column: &str, value: i64| u64::try_from(value).map_err(|_| corrupt("tenant_exports", column, value));
        Ok(TenantExport {
            id: TenantExportId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            requested_by: self.requested_by.map(UserId::from_uuid),
            status: ExportStatus::parse(&self.status)
                .ok_or_else(|| corrupt("tenant_exports", "status", &self.status))?,
            tables_done: u32::try_from(self.tables_done)
                .map_err(|_| corrupt("tenant_exports", "tables_done", self.tables_done))?,
            tables_total: u32::try_from(self.tables_total)
                .map_err(|_| corrupt("tenant_exports", "tables_total", self.tables_total))?,
            rows_written: count("rows_written", self.rows_written)?,
            bytes: count("bytes", self.bytes)?,
            sha256: self.sha256,
            error: self.error,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            expires_at: self.expires_at,
        })
    }

    pub fn from_domain(export: &TenantExport, lease_until: Option<DateTimeUtc>) -> Self {
        let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        Self {
            tenant_id: export.tenant_id.as_uuid(),
            id: export.id.as_uuid(),
            requested_by: export.requested_by.map(|u| u.as_uuid()),
            status: export.status.as_str().to_owned(),
            tables_done: i32::try_from(export.tables_done).unwrap_or(i32::MAX),
            tables_total: i32::try_from(export.tables_total).unwrap_or(i32::MAX),
            rows_written: clamp(export.rows_written),
            bytes: clamp(export.bytes),
            sha256: export.sha256.clone(),
            error: export.error.clone(),
            created_at: export.created_at,
            started_at: export.started_at,
            finished_at: export.finished_at,
            expires_at: export.expires_at,
            lease_until,
        }
    }
}
