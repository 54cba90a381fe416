//! The tenant archive writer: each tenant table streamed, row by row, into an NDJSON
//! file (one JSON object per row, credentials left out) while its SHA-256 and row count
//! are taken, then the files and a manifest packed into one `.tar.gz`. Nothing is held
//! in memory but one row and the write buffers. On PostgreSQL every table is read in
//! one repeatable-read, read-only transaction (one consistent snapshot) under the
//! tenant's row level security; on SQLite, whose single connection serves every
//! request, each table is read in a transaction of its own.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt as _;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, IsolationLevel, Statement,
    StreamTrait as _, TransactionTrait as _,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tessera_application::TenantScope;
use tessera_application::ports::{
    ArchiveProgress, ArchiveSummary, ProgressSink, StoreError, StoreResult, TenantArchiver,
};
use tessera_domain::TenantExportId;
use tokio::io::AsyncWriteExt as _;

use super::catalogue::{TenantTable, quoted, tenant_tables};
use crate::db::db_failure;

/// The archive format's name and version, written in every manifest.
pub const ARCHIVE_FORMAT: &str = "tessera-tenant-export";
pub const ARCHIVE_FORMAT_VERSION: u32 = 1;
/// The manifest's name inside the archive.
pub const MANIFEST: &str = "manifest.json";

/// What the archive holds, file by file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub export_id: String,
    pub tenant_id: String,
    /// The last migration applied to the database the rows came from.
    pub schema_version: String,
    pub backend: String,
    pub created_at: String,
    pub tables: Vec<ManifestTable>,
}

/// One table's file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestTable {
    pub table: String,
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub columns: Vec<String>,
    /// Columns left out because they hold credentials.
    pub redacted_columns: Vec<String>,
}

/// Writes tenant archives from the database the server uses.
pub struct SeaTenantArchiver {
    db: DatabaseConnection,
}

impl SeaTenantArchiver {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn io_failure(error: std::io::Error) -> StoreError {
    StoreError::failure(error)
}

/// The statement that reads one table's rows of the tenant as JSON text, key order.
fn rows_statement(backend: DbBackend, table: &TenantTable, scope: &TenantScope) -> Statement {
    let order = if table.primary_key.is_empty() {
        String::new()
    } else {
        let keys: Vec<String> = table.primary_key.iter().map(|c| quoted(c)).collect();
        format!(" ORDER BY {}", keys.join(", "))
    };
    let name = quoted(&table.name);
    let tenant = scope.tenant_id().as_uuid();
    match backend {
        DbBackend::Postgres => {
            let removed: String = table
                .redacted_columns()
                .iter()
                .map(|c| format!(" - '{}'", c.replace('\'', "''")))
                .collect();
            Statement::from_sql_and_values(
                backend,
                format!("SELECT (to_jsonb(t){removed})::text AS line FROM {name} t WHERE t.tenant_id = $1{order}"),
                [tenant.into()],
            )
        }
        _ => {
            let fields: Vec<String> = table
                .exported_columns()
                .iter()
                .map(|c| {
                    let col = quoted(c);
                    let hex = format!("hex({col})");
                    format!(
                        "'{}', CASE WHEN typeof({col}) = 'blob' AND length({col}) = 16 THEN lower(substr({hex}, 1, 8) || '-' || \
                         substr({hex}, 9, 4) || '-' || substr({hex}, 13, 4) || '-' || substr({hex}, 17, 4) || '-' || \
                         substr({hex}, 21, 12)) WHEN typeof({col}) = 'blob' THEN lower({hex}) ELSE {col} END",
                        c.replace('\'', "''")
                    )
                })
                .collect();
            Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT json_object({}) AS line FROM {name} WHERE tenant_id = ?{order}",
                    fields.join(", ")
                ),
                [tenant.into()],
            )
        }
    }
}

/// Streams one table into `path`; its manifest entry.
async fn write_table(
    txn: &DatabaseTransaction,
    table: &TenantTable,
    scope: &TenantScope,
    path: &Path,
) -> StoreResult<ManifestTable> {
    let backend = ConnectionTrait::get_database_backend(txn);
    let file = tokio::fs::File::create(path).await.map_err(io_failure)?;
    let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, file);
    let mut hasher = Sha256::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut stream = txn
        .stream_raw(rows_statement(backend, table, scope))
        .await
        .map_err(db_failure)?;
    while let Some(row) = stream.next().await {
        let mut line: String = row.map_err(db_failure)?.try_get("", "line").map_err(db_failure)?;
        line.push('\n');
        hasher.update(line.as_bytes());
        out.write_all(line.as_bytes()).await.map_err(io_failure)?;
        rows += 1;
        bytes += line.len() as u64;
    }
    drop(stream);
    out.flush().await.map_err(io_failure)?;
    out.into_inner().sync_all().await.map_err(io_failure)?;
    Ok(ManifestTable {
        table: table.name.clone(),
        file: format!("tables/{}.ndjson", table.name),
        rows,
        bytes,
        sha256: format!("{:x}", hasher.finalize()),
        columns: table.exported_columns().iter().map(|c| (*c).to_owned()).collect(),
        redacted_columns: table.redacted_columns().iter().map(|c| (*c).to_owned()).collect(),
    })
}

/// A transaction that sees only `scope`'s tenant (Postgres: the row level security
/// setting; one snapshot, read only).
async fn tenant_reader(
    db: &DatabaseConnection,
    scope: &TenantScope,
    snapshot: bool,
) -> StoreResult<DatabaseTransaction> {
    let backend = db.get_database_backend();
    let txn = if backend == DbBackend::Postgres && snapshot {
        db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
            .await
    } else {
        db.begin().await
    }
    .map_err(db_failure)?;
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT set_config('app.tenant_id', $1, true)",
            [scope.tenant_id().to_string().into()],
        ))
        .await
        .map_err(db_failure)?;
    }
    Ok(txn)
}

async fn schema_version(db: &DatabaseConnection) -> StoreResult<String> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1",
        ))
        .await
        .map_err(db_failure)?;
    match row {
        Some(row) => row.try_get("", "version").map_err(db_failure),
        None => Ok(String::new()),
    }
}

/// Packs the manifest and the table files into `out` (gzip-compressed tar); the
/// archive's size and SHA-256.
fn pack(out: &Path, parts: &Path, manifest: &Manifest) -> std::io::Result<(u64, String)> {
    struct Hashing<W> {
        inner: W,
        hasher: Sha256,
        bytes: u64,
    }
    impl<W: std::io::Write> std::io::Write for Hashing<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let written = self.inner.write(buf)?;
            self.hasher.update(&buf[..written]);
            self.bytes += written as u64;
            Ok(written)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let file = std::fs::File::create(out)?;
    let hashing = Hashing {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let gzip = flate2::write::GzEncoder::new(hashing, flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    let manifest_json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest_json.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest_json.as_slice())?;
    for table in &manifest.tables {
        let mut file = std::fs::File::open(parts.join(format!("{}.ndjson", table.table)))?;
        tar.append_file(&table.file, &mut file)?;
    }
    let gzip = tar.into_inner()?;
    let mut hashing = gzip.finish()?;
    hashing.flush()?;
    let file = hashing.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((hashing.bytes, format!("{:x}", hashing.hasher.finalize())))
}

#[async_trait]
impl TenantArchiver for SeaTenantArchiver {
    async fn write(
        &self,
        scope: &TenantScope,
        export: TenantExportId,
        out: &Path,
        progress: &dyn ProgressSink,
    ) -> StoreResult<ArchiveSummary> {
        let backend = self.db.get_database_backend();
        let tables = tenant_tables(&self.db).await.map_err(db_failure)?;
        let schema_version = schema_version(&self.db).await?;
        let parts = PathBuf::from(format!("{}.parts", out.display()));
        if let Some(parent) = out.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_failure)?;
        }
        let _ = tokio::fs::remove_dir_all(&parts).await;
        tokio::fs::create_dir_all(&parts).await.map_err(io_failure)?;
        let result = async {
            let snapshot = if backend == DbBackend::Postgres {
                Some(tenant_reader(&self.db, scope, true).await?)
            } else {
                None
            };
            let total = u32::try_from(tables.len()).unwrap_or(u32::MAX);
            let mut entries = Vec::with_capacity(tables.len());
            let mut rows_written = 0;
            for (done, table) in tables.iter().enumerate() {
                let path = parts.join(format!("{}.ndjson", table.name));
                let entry = match &snapshot {
                    Some(txn) => write_table(txn, table, scope, &path).await?,
                    None => {
                        let txn = tenant_reader(&self.db, scope, false).await?;
                        let entry = write_table(&txn, table, scope, &path).await?;
                        txn.commit().await.map_err(db_failure)?;
                        entry
                    }
                };
                rows_written += entry.rows;
                entries.push(entry);
                progress
                    .progress(ArchiveProgress {
                        tables_done: u32::try_from(done + 1).unwrap_or(u32::MAX),
                        tables_total: total,
                        rows_written,
                    })
                    .await;
            }
            if let Some(txn) = snapshot {
                txn.commit().await.map_err(db_failure)?;
            }
            let manifest = Manifest {
                format: ARCHIVE_FORMAT.to_owned(),
                format_version: ARCHIVE_FORMAT_VERSION,
                export_id: export.to_string(),
                tenant_id: scope.tenant_id().to_string(),
                schema_version,
                backend: match backend {
                    DbBackend::Postgres => "postgres",
                    _ => "sqlite",
                }
                .to_owned(),
                created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                tables: entries,
            };
            let (out_path, parts_path) = (out.to_path_buf(), parts.clone());
            let (bytes, sha256) =
                tokio::task::spawn_blocking(move || pack(&out_path, &parts_path, &manifest).map(|r| (r, manifest)))
                    .await
                    .map_err(StoreError::failure)?
                    .map_err(io_failure)
                    .map(|((bytes, sha256), _)| (bytes, sha256))?;
            Ok(ArchiveSummary {
                tables: total,
                rows: rows_written,
                bytes,
                sha256,
            })
        }
        .await;
        let _ = tokio::fs::remove_dir_all(&parts).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(out).await;
        }
        result
    }
}
