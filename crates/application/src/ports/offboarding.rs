//! Offboarding: exports' records, the archive writer and where archives are kept, the
//! purge of a tenant's rows, and the signatures of download links.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use tessera_domain::{TenantExport, TenantExportId, TenantId};

use super::StoreResult;
use crate::TenantScope;

#[async_trait]
pub trait TenantExportRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, export: &TenantExport) -> StoreResult<()>;
    async fn find(&self, scope: &TenantScope, id: TenantExportId) -> StoreResult<Option<TenantExport>>;
    /// The tenant's newest exports, newest first.
    async fn latest(&self, scope: &TenantScope, limit: u32) -> StoreResult<Vec<TenantExport>>;
    /// Takes the export for writing until `lease_until`: a queued one, or a running one
    /// whose writer's lease ran out (it stopped). `None` when another writer holds it.
    async fn claim(
        &self,
        scope: &TenantScope,
        id: TenantExportId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<TenantExport>>;
    /// Saves the export's progress or outcome, and the writer's lease (`None` once it ends),
    /// only while the stored attempt is the one `export.started_at` names: `Stale` once
    /// another writer has taken it over, `NotFound` once it is gone.
    async fn save(
        &self,
        scope: &TenantScope,
        export: &TenantExport,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// Across tenants: exports to write (queued, or abandoned by a stopped writer) and
    /// completed ones whose archive has expired, oldest first.
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<(TenantId, TenantExportId)>>;
}

/// How far an archive's writing has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArchiveProgress {
    pub tables_done: u32,
    pub tables_total: u32,
    pub rows_written: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    pub tables: u32,
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the archive file, hex.
    pub sha256: String,
}

/// Told after each table is written (the export's progress is saved from it).
#[async_trait]
pub trait ProgressSink: Send + Sync {
    async fn progress(&self, progress: ArchiveProgress);
}

/// Writes a tenant's archive: every row of every table that holds tenant data, as
/// the database's catalogue lists them, one NDJSON file per table plus a manifest
/// (rows and SHA-256 per file, schema version), compressed into one file.
#[async_trait]
pub trait TenantArchiver: Send + Sync {
    async fn write(
        &self,
        scope: &TenantScope,
        export: TenantExportId,
        out: &Path,
        progress: &dyn ProgressSink,
    ) -> StoreResult<ArchiveSummary>;
}

/// An archive's bytes, read in chunks.
pub type ByteStream = BoxStream<'static, std::io::Result<Vec<u8>>>;

/// Where finished archives are kept (a local directory; an object store would plug in here).
#[async_trait]
pub trait ArchiveStorage: Send + Sync {
    /// A local path to write an archive into before it is stored under `key`.
    fn scratch_path(&self, key: &str) -> std::path::PathBuf;
    /// Stores the finished file (moved, or uploaded and removed) under `key`.
    async fn put(&self, key: &str, file: &Path) -> StoreResult<()>;
    /// The archive's size and bytes, `None` when there is none under `key`.
    async fn get(&self, key: &str) -> StoreResult<Option<(u64, ByteStream)>>;
    /// Removes the archive; nothing when there is none.
    async fn delete(&self, key: &str) -> StoreResult<()>;
}

/// One step of a tenant's purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeStep {
    /// `rows` rows of `table` were deleted (more may remain).
    Deleted { table: String, rows: u64 },
    /// No tenant row is left in any tenant table.
    Done,
}

/// Deletes a tenant's rows from every table that holds tenant data (found in the
/// catalogue), children before parents, a batch per call, each in its own transaction.
#[async_trait]
pub trait TenantPurger: Send + Sync {
    /// How many rows of the tenant each tenant table holds.
    async fn count_rows(&self, scope: &TenantScope) -> StoreResult<Vec<(String, u64)>>;
    /// Deletes at most `batch` rows of the first table that still holds some.
    async fn purge_batch(&self, scope: &TenantScope, batch: u32) -> StoreResult<PurgeStep>;
}

/// Signs and checks the messages behind short-lived links (HMAC with a server key).
pub trait LinkSigner: Send + Sync {
    fn sign(&self, message: &str) -> String;
    fn verify(&self, message: &str, signature: &str) -> bool;
}
