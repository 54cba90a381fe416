//! One unit of work over a SeaORM transaction (or, for a single read of global rows,
//! over the pool without one). On Postgres, entering a tenant sets `app.tenant_id` with
//! `set_config(…, true)`: transaction-local, so it ends with the transaction and never
//! reaches the next borrower of the pooled connection.

use async_trait::async_trait;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, ExecResult, IntoActiveModel, QueryResult, Statement,
};
use tessera_application::TenantScope;
use tessera_application::ports::{
    ApiKeyRepository, CustomDomainRepository, InvitationRepository, MembershipRepository, OnboardingRepository,
    OutboxRepository, RoleRepository, SessionRepository, StoreError, StoreResult, TenantRepository,
    TenantSettingsRepository, Transaction, UserRepository, UserTokenRepository, WorkspaceRepository,
};
use tessera_domain::UserId;

use super::db_failure;

/// The advisory-lock class of per-tenant quota checks (the second key is the tenant's
/// hash; tenants that share a hash take turns, which is harmless).
const QUOTA_LOCK_CLASS: i32 = 7_002;

pub struct SeaTransaction {
    pub(crate) txn: Executor,
    pub(crate) backend: DbBackend,
}

/// Where a unit of work's statements go: a transaction, or (for one read outside any
/// tenant) the pool itself, each statement on its own, without `BEGIN` and `ROLLBACK`.
/// Only reads belong on the pool: a write there would commit by itself.
pub enum Executor {
    Transaction(DatabaseTransaction),
    Alone(DatabaseConnection),
}

#[async_trait]
impl ConnectionTrait for Executor {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Executor::Transaction(txn) => txn.get_database_backend(),
            Executor::Alone(db) => db.get_database_backend(),
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Executor::Transaction(txn) => txn.execute_raw(statement).await,
            Executor::Alone(db) => db.execute_raw(statement).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Executor::Transaction(txn) => txn.execute_unprepared(sql).await,
            Executor::Alone(db) => db.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Executor::Transaction(txn) => txn.query_one_raw(statement).await,
            Executor::Alone(db) => db.query_one_raw(statement).await,
        }
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Executor::Transaction(txn) => txn.query_all_raw(statement).await,
            Executor::Alone(db) => db.query_all_raw(statement).await,
        }
    }
}

/// A setting made outside a transaction would end with its own statement: a unit of
/// work without one refuses to enter a tenant or a user (the statements after would
/// run unscoped, which row level security answers with nothing at best).
fn no_transaction() -> StoreError {
    StoreError::failure("a tenant or user setting needs a transaction; this unit of work reads without one")
}

impl SeaTransaction {
    pub(crate) fn new(txn: DatabaseTransaction, backend: DbBackend) -> Self {
        Self {
            txn: Executor::Transaction(txn),
            backend,
        }
    }

    pub(crate) fn alone(db: DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        Self {
            txn: Executor::Alone(db),
            backend,
        }
    }

    fn require_transaction(&self) -> StoreResult<()> {
        match self.txn {
            Executor::Transaction(_) => Ok(()),
            Executor::Alone(_) => Err(no_transaction()),
        }
    }

    /// Inserts one row with every column as given (none left to a database default);
    /// `failed` says what a refused insert means (a duplicate of which field, or a fault).
    pub(crate) async fn insert_row<A>(
        &self,
        row: impl IntoActiveModel<A>,
        failed: impl FnOnce(DbErr) -> StoreError,
    ) -> StoreResult<()>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        row.into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn set_local(&self, name: &str, value: String) -> StoreResult<()> {
        self.require_transaction()?;
        if self.backend != DbBackend::Postgres {
            // SQLite has no row level security; locks 1 and 2 hold there.
            return Ok(());
        }
        self.txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config($1, $2, true)",
                [name.into(), value.into()],
            ))
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    /// The underlying connection, for adapter-level tests that must bypass the
    /// repositories (for example to prove that RLS alone stops an unfiltered query).
    pub fn connection(&self) -> &Executor {
        &self.txn
    }
}

#[async_trait]
impl Transaction for SeaTransaction {
    async fn enter_tenant_exclusively(&self, scope: &TenantScope) -> StoreResult<()> {
        self.require_transaction()?;
        if self.backend != DbBackend::Postgres {
            // SQLite has one writer at a time: its transactions already take turns.
            return self.enter_tenant(scope).await;
        }
        // One round trip: the setting, and the tenant's quota lock (a transaction-level
        // advisory lock: unlike a row lock it writes nothing to the tenant's row and
        // does not wait for inserts that merely reference the tenant). Statements after
        // it start after the lock is held, so they count what the holder before
        // committed (a statement that waited for the lock itself would not).
        let tenant = scope.tenant_id().to_string();
        self.txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true), \
                 (SELECT true FROM pg_advisory_xact_lock($2, hashtext($1))) AS locked",
                [tenant.into(), QUOTA_LOCK_CLASS.into()],
            ))
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn enter_tenant_for_quota(&self, scope: &TenantScope) -> StoreResult<tessera_domain::Tenant> {
        use sea_orm::FromQueryResult as _;
        self.require_transaction()?;
        let tenant = scope.tenant_id();
        if self.backend != DbBackend::Postgres {
            self.enter_tenant(scope).await?;
            return tessera_application::ports::TenantRepository::find_by_id(self, tenant)
                .await?
                .ok_or(StoreError::NotFound);
        }
        // The tenant's row is read from the statement's snapshot, taken before the lock
        // is granted: its plan may be a moment old, which is harmless; the counts that
        // must see the creations committed before are made by later statements.
        let row = self
            .txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true) AS entered, \
                 (SELECT true FROM pg_advisory_xact_lock($2, hashtext($1))) AS locked, t.* \
                 FROM tenants t WHERE t.id = $3",
                [
                    tenant.to_string().into(),
                    QUOTA_LOCK_CLASS.into(),
                    tenant.as_uuid().into(),
                ],
            ))
            .await
            .map_err(db_failure)?
            .ok_or(StoreError::NotFound)?;
        crate::db::entities::tenant::Model::from_query_result(&row, "")
            .map_err(db_failure)?
            .into_domain()
    }

    async fn enter_tenant(&self, scope: &TenantScope) -> StoreResult<()> {
        self.set_local("app.tenant_id", scope.tenant_id().to_string()).await
    }

    async fn enter_user(&self, user_id: UserId) -> StoreResult<()> {
        self.set_local("app.user_id", user_id.to_string()).await
    }

    fn users(&self) -> &dyn UserRepository {
        self
    }
    fn tenants(&self) -> &dyn TenantRepository {
        self
    }
    fn usage(&self) -> &dyn tessera_application::ports::UsageRepository {
        self
    }
    fn billing_events(&self) -> &dyn tessera_application::ports::BillingEventRepository {
        self
    }
    fn memberships(&self) -> &dyn MembershipRepository {
        self
    }
    fn roles(&self) -> &dyn RoleRepository {
        self
    }
    fn workspaces(&self) -> &dyn WorkspaceRepository {
        self
    }
    fn sessions(&self) -> &dyn SessionRepository {
        self
    }
    fn invitations(&self) -> &dyn InvitationRepository {
        self
    }
    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self
    }
    fn user_tokens(&self) -> &dyn UserTokenRepository {
        self
    }
    fn mfa(&self) -> &dyn tessera_application::ports::MfaRepository {
        self
    }
    fn sso(&self) -> &dyn tessera_application::ports::SsoRepository {
        self
    }
    fn scim(&self) -> &dyn tessera_application::ports::ScimRepository {
        self
    }
    fn custom_domains(&self) -> &dyn CustomDomainRepository {
        self
    }
    fn onboarding(&self) -> &dyn OnboardingRepository {
        self
    }
    fn tenant_settings(&self) -> &dyn TenantSettingsRepository {
        self
    }
    fn outbox(&self) -> &dyn OutboxRepository {
        self
    }
    fn webhooks(&self) -> &dyn tessera_application::ports::WebhookRepository {
        self
    }
    fn audit(&self) -> &dyn tessera_application::ports::AuditRepository {
        self
    }
    fn exports(&self) -> &dyn tessera_application::ports::TenantExportRepository {
        self
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        match self.txn {
            Executor::Transaction(txn) => txn.commit().await.map_err(db_failure),
            // Each statement committed as it ran.
            Executor::Alone(_) => Ok(()),
        }
    }
}
