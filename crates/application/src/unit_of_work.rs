//! The two steps every use case that touches the store starts and ends with: a
//! transaction inside one tenant (row level security and the query lock both need it),
//! and committing a change together with its audit and outbox events. With them a use
//! case reads as its business steps.

use tessera_domain::NewAuditEvent;

use crate::ports::Transaction;
use crate::{AppError, Application, TenantScope};

impl Application {
    /// A transaction outside any tenant: global rows (users, sessions, the tenant list).
    pub(crate) async fn global_tx(&self) -> Result<Box<dyn Transaction>, AppError> {
        Ok(self.ports.store.begin().await?)
    }

    /// A unit of work for one statement's read of global rows (see
    /// [`crate::ports::Store::begin_single_read`]).
    pub(crate) async fn global_read(&self) -> Result<Box<dyn Transaction>, AppError> {
        Ok(self.ports.store.begin_single_read().await?)
    }

    /// A transaction entered in `scope`'s tenant.
    pub(crate) async fn tenant_tx(&self, scope: &TenantScope) -> Result<Box<dyn Transaction>, AppError> {
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        Ok(tx)
    }

    /// A transaction entered in `scope`'s tenant that holds the tenant's quota lock until
    /// it ends: for a creation whose quota [`Application::entitle`] checks.
    pub(crate) async fn quota_tx(&self, scope: &TenantScope) -> Result<Box<dyn Transaction>, AppError> {
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant_exclusively(scope).await?;
        Ok(tx)
    }

    /// [`Application::quota_tx`], with the tenant's row read in the same round trip: for
    /// a creation that counts and inserts in one statement against the tenant's limit.
    pub(crate) async fn quota_tx_reading(
        &self,
        scope: &TenantScope,
    ) -> Result<(Box<dyn Transaction>, tessera_domain::Tenant), AppError> {
        let tx = self.ports.store.begin().await?;
        let tenant = tx.enter_tenant_for_quota(scope).await?;
        Ok((tx, tenant))
    }

    /// Records `event` (its audit event, and its outbox event when it is a domain
    /// event) in `tx` and commits: the change and its events land together or not at
    /// all.
    pub(crate) async fn commit_with(&self, tx: Box<dyn Transaction>, event: &NewAuditEvent) -> Result<(), AppError> {
        self.journal(tx.as_ref(), event).await?;
        tx.commit().await?;
        Ok(())
    }
}
