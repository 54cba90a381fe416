//! The SeaORM store: one connection pool, transactions that carry the tenant setting
//! on Postgres (lock 3), and the repositories behind the application's ports.

pub mod entities;
mod keyset;
pub mod repositories;
pub mod scoped;
mod transaction;

use std::time::Duration;

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait,
};
use tessera_application::ports::{Store, StoreError, StoreResult, Transaction};

pub use transaction::{Executor, SeaTransaction};

/// How to reach the database at run time.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    /// On Postgres, the role every pooled connection switches to on connect
    /// (`options=-c role=…`): a role that owns nothing and cannot bypass RLS.
    pub postgres_role: Option<String>,
    /// How long a request waits for a connection (or for the database to come back)
    /// before it fails.
    pub acquire_timeout: Duration,
}

impl DatabaseSettings {
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
}

tokio::task_local! {
    /// Set around background work (outbox and delivery workers): its statements are
    /// counted apart, so the per-request statement count stays the requests' own.
    static BACKGROUND: ();
}

/// Runs `work` as background work for the statement counters.
pub async fn as_background<F: std::future::Future>(work: F) -> F::Output {
    BACKGROUND.scope((), work).await
}

/// How long a pooled connection may sit idle before the pool pings it ahead of lending it.
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    /// Transactions the requests have begun so far (background work's not counted).
    transactions: Arc<AtomicU64>,
    /// SQL statements run so far, not counting the transaction-local settings.
    statements: Arc<AtomicU64>,
}

impl SeaStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(settings.url.clone());
        options
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.acquire_timeout)
            .sqlx_logging(false);
        if settings.url.starts_with("sqlite:") {
            // One connection: SQLite has one writer, and a single connection avoids
            // lock-upgrade failures between concurrent transactions.
            options.max_connections(1).min_connections(1);
            options.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .create_if_missing(true)
            });
        } else {
            options.max_connections(settings.max_connections.max(1));
            // A pooled connection is pinged before it is lent only when it sat idle a
            // while: one in steady use proved itself on its last release (the pool pings
            // every connection it takes back), and the ping on every loan was a round
            // trip of each transaction's five or six.
            options.test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE);
            if let Some(role) = settings.postgres_role.clone() {
                options.map_sqlx_postgres_opts(move |opts| opts.options([("role", role.as_str())]));
            }
        }
        let mut db = Database::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        let system = if settings.url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgresql"
        };
        db.set_metric_callback(move |info| {
            if crate::telemetry::enabled() {
                let start = std::time::SystemTime::now()
                    .checked_sub(info.elapsed)
                    .unwrap_or_else(std::time::SystemTime::now);
                crate::telemetry::sql_statement(system, &info.statement.sql, start, info.failed);
            }
            if BACKGROUND.try_with(|_| ()).is_ok() {
                metrics::counter!("tessera_db_background_statements_total").increment(1);
            } else if !info.statement.sql.starts_with("SELECT set_config") {
                counter.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("tessera_db_statements_total").increment(1);
            }
            if info.failed {
                metrics::counter!("tessera_db_statement_failures_total").increment(1);
            }
        });
        Ok(Self {
            db,
            transactions: Arc::new(AtomicU64::new(0)),
            statements,
        })
    }

    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self {
            db,
            transactions: Arc::new(AtomicU64::new(0)),
            statements: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// SQL statements this store has run (transaction-local settings excluded); the
    /// statement-count tests compare it before and after one request.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Transactions the requests have begun (each costs `BEGIN` and its end, two round
    /// trips, beside its statements); the query-cost tests compare it around a request.
    pub fn transactions_begun(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Connections open and idle in the pool, for metrics.
    pub fn pool_usage(&self) -> Option<(u32, usize)> {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                Some((pool.size(), pool.num_idle()))
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                Some((pool.size(), pool.num_idle()))
            }
            _ => None,
        }
    }

    /// Names of the applied migrations, as the migrator records them.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, String> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(Statement::from_string(backend, "SELECT version FROM seaql_migrations"))
            .await
            .map_err(|e| e.to_string())?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "version").map_err(|e| e.to_string()))
            .collect()
    }

    /// A transaction as its concrete type, for adapter-level tests that need the raw
    /// connection (the application always goes through [`Store::begin`]).
    pub async fn begin_transaction(&self) -> Result<SeaTransaction, DbErr> {
        Ok(SeaTransaction::new(self.db.begin().await?, self.backend()))
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// On Postgres, proves the run-time role cannot bypass row level security
    /// (not a superuser, no BYPASSRLS). SQLite has nothing to check.
    pub async fn verify_runtime_role(&self) -> Result<(), String> {
        if self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_user::text AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
            ))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("could not read the current role")?;
        let name: String = row.try_get("", "name").map_err(|e| e.to_string())?;
        let superuser: bool = row.try_get("", "rolsuper").map_err(|e| e.to_string())?;
        let bypass: bool = row.try_get("", "rolbypassrls").map_err(|e| e.to_string())?;
        if superuser || bypass {
            return Err(format!(
                "the database role `{name}` is a superuser or has BYPASSRLS; row level security would not apply"
            ));
        }
        Ok(())
    }
}

pub(crate) fn db_failure(error: DbErr) -> StoreError {
    StoreError::failure(error)
}

/// An update or delete that touched no row found nothing in scope: `NotFound`.
pub(crate) fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A conditional update (on the values the change was based on) that touched no row:
/// the row was changed (or deleted) by another transaction since it was read.
pub(crate) fn unchanged(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::Stale)
    } else {
        Ok(())
    }
}

/// Maps a unique-constraint violation to `Duplicate(field)`, anything else to a failure.
pub(crate) fn unique_as(field: &'static str) -> impl Fn(DbErr) -> StoreError {
    move |error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StoreError::Duplicate(field),
        _ => StoreError::failure(error),
    }
}

#[async_trait]
impl Store for SeaStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        let backend = self.backend();
        let txn = self.db.begin().await.map_err(db_failure)?;
        if BACKGROUND.try_with(|_| ()).is_err() {
            self.transactions.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("tessera_db_transactions_total").increment(1);
        }
        Ok(Box::new(SeaTransaction::new(txn, backend)))
    }

    async fn begin_single_read(&self) -> StoreResult<Box<dyn Transaction>> {
        Ok(Box::new(SeaTransaction::alone(self.db.clone())))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await.map_err(db_failure)
    }
}
